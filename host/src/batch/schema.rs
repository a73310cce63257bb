//! The schema of a job's records.
//!
//! A job names its fields and their types in `[source.schema]`:
//!
//! ```toml
//! [source.schema]
//! ts = "timestamp"        # ms since the epoch, or an RFC 3339 string
//! user = "string"
//! amount = "double"
//! "meta.device" = "string"   # a nested field: {"meta": {"device": ...}}
//! ```
//!
//! Types: `bool`, `int` (64-bit; also `int64`, `long`), `int32`, `double`
//! (also `float64`), `float32`, `decimal(p,s)` (exact, precision up to 38),
//! `string`, `timestamp` (milliseconds), and
//! `list<T>` of any of these but `timestamp` (items never null).
//! Without a schema, weir infers one from the first records
//! ([`infer_schema`]): numbers are `int` or `double`, text `string`,
//! objects nested fields.
//!
//! ```
//! use std::collections::BTreeMap;
//! let spec: BTreeMap<String, String> =
//!     [("ts", "timestamp"), ("user", "string"), ("meta.n", "int")]
//!         .into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
//! let schema = weir::batch::schema_of(&spec).unwrap();
//! assert_eq!(schema.fields().len(), 3); // meta, ts, user
//! ```

use arrow_schema::{DataType, Field, Fields, Schema, TimeUnit};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Why a schema could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// A type name weir does not know.
    #[error(
        "field `{field}`: unknown type `{ty}`; use bool, int, int32, double, float32, decimal(p,s), string, timestamp or list<one of these>"
    )]
    UnknownType {
        /// The field.
        field: String,
        /// The type as written.
        ty: String,
    },
    /// A path that is both a field and an object of fields, or empty.
    #[error("field `{field}`: {message}")]
    BadPath {
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A key field of a type that cannot be a key.
    #[error("key field `{field}` has type {ty}; a key is a string, an integer or a boolean")]
    NotAKey {
        /// The field.
        field: String,
        /// Its type.
        ty: String,
    },
    /// A source's own typed columns could not be made into the job's
    /// schema.
    #[error("the source's columns do not fit the job's schema: {message}")]
    Columns {
        /// What did not fit.
        message: String,
    },
    /// The sample to infer a schema from could not be read.
    #[error("inferring the schema from the first {lines} records: {message}")]
    Inference {
        /// Records looked at.
        lines: usize,
        /// What failed (a record that is not a JSON object, say).
        message: String,
    },
}

/// The Arrow type of a type name of the job file.
///
/// `list<T>` (or `array<T>`) is a list of items of type `T`, none of them
/// null: a record with a null item does not fit (its reason says so).
pub fn data_type(field: &str, ty: &str) -> Result<DataType, SchemaError> {
    let ty = ty.trim();
    let list = ["list<", "array<"]
        .iter()
        .find_map(|p| ty.strip_prefix(p))
        .and_then(|rest| rest.strip_suffix('>'));
    if let Some(item) = list {
        let item = data_type(field, item)?;
        if matches!(item, DataType::List(_) | DataType::Timestamp(..)) {
            return Err(SchemaError::UnknownType {
                field: field.into(),
                ty: format!("{ty} (a list of lists or timestamps)"),
            });
        }
        return Ok(DataType::List(Arc::new(Field::new_list_field(item, false))));
    }
    if let Some(d) = decimal(ty) {
        return Ok(d);
    }
    Ok(match ty {
        "bool" | "boolean" => DataType::Boolean,
        "int" | "int64" | "long" | "bigint" => DataType::Int64,
        "int32" | "integer" => DataType::Int32,
        "double" | "float64" => DataType::Float64,
        "float32" | "float" => DataType::Float32,
        "string" | "text" => DataType::Utf8,
        "timestamp" | "timestamp(ms)" => DataType::Timestamp(TimeUnit::Millisecond, None),
        other => {
            return Err(SchemaError::UnknownType {
                field: field.into(),
                ty: other.into(),
            });
        }
    })
}

/// `decimal(p,s)` (or `decimal(p)`, scale 0): a Decimal128 of precision
/// 1 to 38 and scale 0 to `p`. A JSON number (or a string of one) with
/// more decimals than `s` is rounded half up, as Flink's `json` format
/// reads a DECIMAL.
fn decimal(ty: &str) -> Option<DataType> {
    let args = ty.strip_prefix("decimal(")?.strip_suffix(')')?;
    let mut n = args.split(',').map(|a| a.trim().parse::<u8>().ok());
    let p = n.next()??;
    let s = n.next().unwrap_or(Some(0))?;
    ((1..=38).contains(&p) && s <= p && n.next().is_none())
        .then_some(DataType::Decimal128(p, s as i8))
}

/// A tree of fields under construction.
#[derive(Default)]
struct Node {
    leaf: Option<DataType>,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn into_fields(self) -> Fields {
        self.children
            .into_iter()
            .map(|(name, node)| {
                let ty = match node.leaf {
                    Some(t) => t,
                    None => DataType::Struct(node.into_fields()),
                };
                Field::new(name, ty, true)
            })
            .collect()
    }
}

/// The schema a `[source.schema]` table declares: every field nullable (a
/// stage that needs one, such as event time, says so itself); dotted paths
/// become nested structs.
pub fn schema_of(spec: &BTreeMap<String, String>) -> Result<Schema, SchemaError> {
    let mut root = Node::default();
    for (path, ty) in spec {
        let bad = |message: &str| SchemaError::BadPath {
            field: path.clone(),
            message: message.into(),
        };
        if path.split('.').any(str::is_empty) {
            return Err(bad("every part of a dotted path needs a name"));
        }
        let mut node = &mut root;
        for part in path.split('.') {
            if node.leaf.is_some() {
                return Err(bad("a part of it is declared as a field of its own"));
            }
            node = node.children.entry(part.to_string()).or_default();
        }
        if !node.children.is_empty() {
            return Err(bad("it is declared as an object with fields, too"));
        }
        node.leaf = Some(data_type(path, ty)?);
    }
    Ok(Schema::new(root.into_fields()))
}

/// A schema in one line, for logs: `a: Int64, b: Utf8`.
pub fn describe(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| format!("{}: {}", f.name(), f.data_type()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Infer a schema from `records` (JSON objects): numbers become `int` or
/// `double` (both seen: `double`), text `string`, booleans `bool`, objects
/// nested fields, arrays lists.
pub fn infer_schema<'a>(records: impl Iterator<Item = &'a [u8]>) -> Result<Schema, SchemaError> {
    let mut lines = 0;
    let values: Vec<serde_json::Value> = records
        .map(|r| {
            lines += 1;
            serde_json::from_slice(r)
        })
        .filter_map(Result::ok)
        .filter(serde_json::Value::is_object)
        .collect();
    arrow_json::reader::infer_json_schema_from_iterator(values.iter().map(Ok)).map_err(|e| {
        SchemaError::Inference {
            lines,
            message: e.to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn nested_paths_become_structs_and_bad_ones_are_refused() {
        let s = schema_of(&spec(&[
            ("a.b", "int"),
            ("a.c", "string"),
            ("t", "timestamp"),
        ]))
        .unwrap();
        let a = s.field_with_name("a").unwrap();
        assert!(matches!(a.data_type(), DataType::Struct(f) if f.len() == 2));
        assert!(matches!(
            schema_of(&spec(&[("a", "int"), ("a.b", "int")])),
            Err(SchemaError::BadPath { .. })
        ));
        assert!(matches!(
            schema_of(&spec(&[("a..b", "int")])),
            Err(SchemaError::BadPath { .. })
        ));
        let e = schema_of(&spec(&[("x", "varchar")])).unwrap_err();
        assert!(e.to_string().contains("unknown type `varchar`"), "{e}");
        let s = schema_of(&spec(&[("pages", "list<string>")])).unwrap();
        let DataType::List(item) = s.field(0).data_type() else {
            panic!("not a list: {s:?}")
        };
        assert_eq!(item.data_type(), &DataType::Utf8);
        assert!(!item.is_nullable());
        for bad in ["list<list<int>>", "list<varchar>", "list<int"] {
            assert!(schema_of(&spec(&[("x", bad)])).is_err(), "{bad}");
        }
    }

    #[test]
    fn decimals_have_a_precision_up_to_38_and_a_scale_up_to_it() {
        assert_eq!(
            data_type("d", "decimal(10,2)"),
            Ok(DataType::Decimal128(10, 2))
        );
        assert_eq!(data_type("d", "decimal(5)"), Ok(DataType::Decimal128(5, 0)));
        for bad in [
            "decimal(39,2)",
            "decimal(4,5)",
            "decimal(0)",
            "decimal(1,2,3)",
        ] {
            assert!(data_type("d", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn inference_widens_ints_to_doubles_and_skips_what_is_not_an_object() {
        let lines: Vec<&[u8]> = vec![
            br#"{"n":1,"s":"x","o":{"k":true}}"#,
            br#"{"n":2.5}"#,
            b"not json",
            br#"[1]"#,
        ];
        let s = infer_schema(lines.into_iter()).unwrap();
        assert_eq!(
            s.field_with_name("n").unwrap().data_type(),
            &DataType::Float64
        );
        assert_eq!(s.field_with_name("s").unwrap().data_type(), &DataType::Utf8);
        assert!(matches!(
            s.field_with_name("o").unwrap().data_type(),
            DataType::Struct(_)
        ));
    }
}
