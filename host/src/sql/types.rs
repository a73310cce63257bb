//! Flink's SQL types as Arrow types, and as the types a job file's
//! `[source.schema]` names.
//!
//! | Flink | Arrow | `[source.schema]` |
//! |---|---|---|
//! | `BIGINT` | Int64 | `bigint` |
//! | `INT`, `INTEGER`, `SMALLINT`, `TINYINT` | Int32 | `int32` |
//! | `DOUBLE` | Float64 | `double` |
//! | `FLOAT`, `REAL` | Float32 | `float32` |
//! | `STRING`, `VARCHAR(n)`, `CHAR(n)` | Utf8 | `string` |
//! | `BOOLEAN` | Boolean | `bool` |
//! | `TIMESTAMP(3)`, `TIMESTAMP` | Timestamp(ms) | `timestamp` |
//! | `DECIMAL(p, s)`, `NUMERIC`, `DEC` (`DECIMAL` is `DECIMAL(10, 0)`) | Decimal128(p, s) | `decimal(p,s)` |
//! | `ARRAY<T>` (T: one of the above but TIMESTAMP and DECIMAL) | List(T), items never null | `list<t>` |
//!
//! Others (`TIMESTAMP_LTZ`, `ROW`, `MAP`, `BYTES`, …)
//! are refused where the column is declared, until weir reads them.

use arrow_schema::{DataType, Field, TimeUnit};
use datafusion_sql::sqlparser::ast::{ArrayElemTypeDef, DataType as SqlType};
use std::borrow::Cow;
use std::sync::Arc;

/// A Flink type weir reads: its Arrow type and its `[source.schema]` name.
pub(super) fn flink_type(ty: &SqlType) -> Option<(DataType, Cow<'static, str>)> {
    if let SqlType::Array(
        ArrayElemTypeDef::AngleBracket(item)
        | ArrayElemTypeDef::SquareBracket(item, None)
        | ArrayElemTypeDef::Parenthesis(item),
    ) = ty
    {
        // A list of items that are never null (a record with a null item
        // goes to the dead letters), of the scalar types the decoder reads
        // into lists.
        let (item, name) = flink_type(item)?;
        if matches!(
            item,
            DataType::List(_) | DataType::Timestamp(..) | DataType::Decimal128(..)
        ) {
            return None;
        }
        return Some((
            DataType::List(Arc::new(Field::new_list_field(item, false))),
            Cow::Owned(format!("list<{name}>")),
        ));
    }
    let text = ty.to_string().to_ascii_uppercase();
    let base = text.split(['(', '<', ' ']).next().unwrap_or_default();
    // The numbers in the parentheses, if any: `(3)`, `(10, 2)`.
    let args: Option<Vec<u32>> = text.split_once('(').map(|(_, rest)| {
        rest.trim_end_matches(')')
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .collect()
    });
    let precision = args.as_ref().and_then(|a| a.first().copied());
    if matches!(base, "DECIMAL" | "NUMERIC" | "DEC") {
        // Flink's defaults: DECIMAL is DECIMAL(10, 0), DECIMAL(p) DECIMAL(p, 0).
        let (p, s) = match args.as_deref() {
            None => (10, 0),
            Some([p]) => (*p, 0),
            Some([p, s]) => (*p, *s),
            Some(_) => return None,
        };
        if !(1..=38).contains(&p) || s > p {
            return None;
        }
        return Some((
            DataType::Decimal128(p as u8, s as i8),
            Cow::Owned(format!("decimal({p},{s})")),
        ));
    }
    let (ty, name) = match base {
        "BIGINT" => (DataType::Int64, "bigint"),
        "INT" | "INTEGER" | "SMALLINT" | "TINYINT" => (DataType::Int32, "int32"),
        "DOUBLE" => (DataType::Float64, "double"),
        "FLOAT" | "REAL" => (DataType::Float32, "float32"),
        "STRING" | "VARCHAR" | "CHAR" | "TEXT" => (DataType::Utf8, "string"),
        "BOOLEAN" | "BOOL" => (DataType::Boolean, "bool"),
        // Millisecond precision is what weir's event time has.
        "TIMESTAMP" if precision.is_none_or(|p| p == 3) && !text.contains("ZONE") => (
            DataType::Timestamp(TimeUnit::Millisecond, None),
            "timestamp",
        ),
        _ => return None,
    };
    Some((ty, Cow::Borrowed(name)))
}

/// The SQL type to `CAST` a query's column to for a sink column of type
/// `to`, when Flink casts the query's type `from` to it implicitly on
/// `INSERT`: a number to a wider one, an exact number (an integer, a
/// `DECIMAL`) to a `DECIMAL` (rounded half up to its scale) or to a
/// `FLOAT`/`DOUBLE`; `Some(None)`: the same type, no cast.
pub(super) fn widen(from: &DataType, to: &DataType) -> Option<Option<String>> {
    use DataType::*;
    if from == to || from == &Null {
        return Some(None);
    }
    let name = match to {
        Int64 => "BIGINT".to_string(),
        Float64 => "DOUBLE".to_string(),
        Float32 => "FLOAT".to_string(),
        Decimal128(p, s) => format!("DECIMAL({p}, {s})"),
        _ => return None,
    };
    let ok = matches!(
        (from, to),
        (Int8 | Int16 | Int32 | UInt8 | UInt16 | UInt32, Int64)
            | (
                Int8 | Int16 | Int32 | Int64 | Float32 | UInt8 | UInt16 | UInt32 | Decimal128(..),
                Float64
            )
            | (Int8 | Int16 | UInt8 | Decimal128(..), Float32)
            | (
                Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | Decimal128(..),
                Decimal128(..)
            )
    );
    ok.then_some(Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion_sql::sqlparser::parser::Parser;

    fn ty(text: &str) -> Option<DataType> {
        let d = super::super::parse::FlinkDialect;
        let t = Parser::new(&d)
            .try_with_sql(text)
            .unwrap()
            .parse_data_type()
            .unwrap();
        flink_type(&t).map(|(t, _)| t)
    }

    #[test]
    fn flink_types_map_to_arrow() {
        assert_eq!(ty("BIGINT"), Some(DataType::Int64));
        assert_eq!(ty("INT"), Some(DataType::Int32));
        assert_eq!(ty("STRING"), Some(DataType::Utf8));
        assert_eq!(ty("VARCHAR(20)"), Some(DataType::Utf8));
        assert_eq!(ty("DOUBLE"), Some(DataType::Float64));
        assert_eq!(
            ty("TIMESTAMP(3)"),
            Some(DataType::Timestamp(TimeUnit::Millisecond, None))
        );
        assert_eq!(ty("TIMESTAMP(6)"), None);
        assert_eq!(ty("DECIMAL(10, 2)"), Some(DataType::Decimal128(10, 2)));
        assert_eq!(ty("DECIMAL"), Some(DataType::Decimal128(10, 0)));
        assert_eq!(ty("NUMERIC(5)"), Some(DataType::Decimal128(5, 0)));
        assert_eq!(ty("DECIMAL(39, 2)"), None);
        assert_eq!(ty("DECIMAL(4, 5)"), None);
        assert_eq!(
            ty("ARRAY<STRING>"),
            Some(DataType::List(Arc::new(Field::new_list_field(
                DataType::Utf8,
                false
            ))))
        );
        assert_eq!(ty("ARRAY<TIMESTAMP(3)>"), None);
    }

    #[test]
    fn only_lossless_widening_is_implicit() {
        assert_eq!(
            widen(&DataType::Int32, &DataType::Int64),
            Some(Some("BIGINT".to_string()))
        );
        assert_eq!(widen(&DataType::Int64, &DataType::Int64), Some(None));
        assert_eq!(widen(&DataType::Float64, &DataType::Int64), None);
        assert_eq!(widen(&DataType::Utf8, &DataType::Int64), None);
    }
}
