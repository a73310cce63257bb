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
//!
//! Others (`DECIMAL`, `TIMESTAMP_LTZ`, `ARRAY`, `ROW`, `MAP`, `BYTES`, …)
//! are refused where the column is declared, until weir reads them.

use arrow_schema::{DataType, TimeUnit};
use datafusion_sql::sqlparser::ast::DataType as SqlType;

/// A Flink type weir reads: its Arrow type and its `[source.schema]` name.
pub(super) fn flink_type(ty: &SqlType) -> Option<(DataType, &'static str)> {
    let text = ty.to_string().to_ascii_uppercase();
    let base = text.split(['(', '<', ' ']).next().unwrap_or_default();
    let precision = text
        .split_once('(')
        .and_then(|(_, rest)| rest.trim_end_matches(')').trim().parse::<u32>().ok());
    Some(match base {
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
    })
}

/// The SQL type to `CAST` a query's column to for a sink column of type
/// `to`, when the query's type `from` widens to it without loss (Flink's
/// implicit casts on `INSERT`); `Some(None)`: the same type, no cast.
pub(super) fn widen(from: &DataType, to: &DataType) -> Option<Option<&'static str>> {
    use DataType::*;
    if from == to || from == &Null {
        return Some(None);
    }
    let name = match to {
        Int64 => "BIGINT",
        Float64 => "DOUBLE",
        Float32 => "FLOAT",
        _ => return None,
    };
    let ok = matches!(
        (from, to),
        (Int8 | Int16 | Int32 | UInt8 | UInt16 | UInt32, Int64)
            | (
                Int8 | Int16 | Int32 | Int64 | Float32 | UInt8 | UInt16 | UInt32,
                Float64
            )
            | (Int8 | Int16 | UInt8, Float32)
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
        assert_eq!(ty("DECIMAL(10, 2)"), None);
    }

    #[test]
    fn only_lossless_widening_is_implicit() {
        assert_eq!(
            widen(&DataType::Int32, &DataType::Int64),
            Some(Some("BIGINT"))
        );
        assert_eq!(widen(&DataType::Int64, &DataType::Int64), Some(None));
        assert_eq!(widen(&DataType::Float64, &DataType::Int64), None);
        assert_eq!(widen(&DataType::Utf8, &DataType::Int64), None);
    }
}
