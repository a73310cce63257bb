//! Reading the fields a stage needs from a columnar batch, row by row,
//! without touching the records' bytes: the key of each row (for a
//! key-by and a window's accumulators) and the numbers an aggregate adds.
//!
//! A key is the bytes a key-by over JSON would take: a string's text, an
//! integer's or boolean's JSON text. So records keep their key group, and
//! results their key, whether a stage reads them as columns or as events.
//!
//! ```
//! use std::sync::Arc;
//! use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
//! use weir::batch::rows::{KeyColumn, numbers};
//! let batch = RecordBatch::try_from_iter([
//!     ("user", Arc::new(StringArray::from(vec![Some("ann"), None])) as ArrayRef),
//!     ("n", Arc::new(Int64Array::from(vec![7, 8])) as ArrayRef),
//! ]).unwrap();
//! let keys = KeyColumn::of(&batch, "user").unwrap();
//! let mut buf = itoa::Buffer::new();
//! assert_eq!(keys.key(0, &mut buf), Some(&b"ann"[..]));
//! assert_eq!(keys.key(1, &mut buf), None, "a null key");
//! let ints = KeyColumn::of(&batch, "n").unwrap();
//! assert_eq!(ints.key(1, &mut buf), Some(&b"8"[..]));
//! assert_eq!(numbers(&batch, "n").unwrap(), vec![Some(7.0), Some(8.0)]);
//! ```

use super::schema::SchemaError;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int32Type, Int64Type, TimestampMillisecondType,
};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Int32Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::DataType;

/// The column at dotted `path` (`meta.device`: field `device` of struct
/// column `meta`), if the batch has one.
pub fn column(batch: &RecordBatch, path: &str) -> Option<ArrayRef> {
    let mut parts = path.split('.');
    let mut cur = batch.column_by_name(parts.next()?)?.clone();
    for part in parts {
        let s = cur.as_struct_opt()?;
        cur = s.column_by_name(part)?.clone();
    }
    Some(cur)
}

/// Whether a column of type `ty` can hold keys (see [`KeyColumn`]).
pub fn is_key_type(ty: &DataType) -> bool {
    matches!(
        ty,
        DataType::Utf8 | DataType::Int64 | DataType::Int32 | DataType::Boolean
    )
}

/// Whether a column of type `ty` holds numbers an aggregate can add.
pub fn is_number_type(ty: &DataType) -> bool {
    matches!(
        ty,
        DataType::Int64
            | DataType::Int32
            | DataType::Float64
            | DataType::Float32
            | DataType::Timestamp(arrow_schema::TimeUnit::Millisecond, _)
    )
}

/// A key field's column.
pub enum KeyColumn {
    /// Text: the key is its bytes.
    Text(StringArray),
    /// Integers: the key is their decimal text.
    Int(Int64Array),
    /// 32-bit integers.
    Int32(Int32Array),
    /// `true` / `false`.
    Bool(BooleanArray),
    /// Keys as they are, one per row (records keyed before they were
    /// read as columns).
    Bytes(BinaryArray),
    /// The batch has no such field: every row lacks the key.
    Missing,
}

impl KeyColumn {
    /// The key column at `path` of `batch`.
    pub fn of(batch: &RecordBatch, path: &str) -> Result<KeyColumn, SchemaError> {
        let Some(c) = column(batch, path) else {
            return Ok(KeyColumn::Missing);
        };
        Ok(match c.data_type() {
            DataType::Utf8 => KeyColumn::Text(c.as_string::<i32>().clone()),
            DataType::Int64 => KeyColumn::Int(c.as_primitive::<Int64Type>().clone()),
            DataType::Int32 => KeyColumn::Int32(c.as_primitive::<Int32Type>().clone()),
            DataType::Boolean => KeyColumn::Bool(c.as_boolean().clone()),
            other => {
                return Err(SchemaError::NotAKey {
                    field: path.into(),
                    ty: other.to_string(),
                });
            }
        })
    }

    /// The key of row `row`, `None` where it is null or missing; `buf`
    /// holds the text of an integer key.
    #[inline]
    pub fn key<'a>(&'a self, row: usize, buf: &'a mut itoa::Buffer) -> Option<&'a [u8]> {
        match self {
            KeyColumn::Text(a) => a.is_valid(row).then(|| a.value(row).as_bytes()),
            KeyColumn::Int(a) => a.is_valid(row).then(|| buf.format(a.value(row)).as_bytes()),
            KeyColumn::Int32(a) => a.is_valid(row).then(|| buf.format(a.value(row)).as_bytes()),
            KeyColumn::Bool(a) => a.is_valid(row).then(|| {
                if a.value(row) {
                    &b"true"[..]
                } else {
                    &b"false"[..]
                }
            }),
            KeyColumn::Bytes(a) => a.is_valid(row).then(|| a.value(row)),
            KeyColumn::Missing => None,
        }
    }

    /// Whether no row lacks a key.
    pub fn all_valid(&self) -> bool {
        match self {
            KeyColumn::Text(a) => a.null_count() == 0,
            KeyColumn::Int(a) => a.null_count() == 0,
            KeyColumn::Int32(a) => a.null_count() == 0,
            KeyColumn::Bool(a) => a.null_count() == 0,
            KeyColumn::Bytes(a) => a.null_count() == 0,
            KeyColumn::Missing => false,
        }
    }
}

/// The numbers of the field at `path`, `None` where a row has none; the
/// whole result is `None` when the batch has no such field or it does not
/// hold numbers.
pub fn numbers(batch: &RecordBatch, path: &str) -> Option<Vec<Option<f64>>> {
    let c = column(batch, path)?;
    Some(match c.data_type() {
        DataType::Float64 => c.as_primitive::<Float64Type>().iter().collect(),
        DataType::Float32 => c
            .as_primitive::<Float32Type>()
            .iter()
            .map(|x| x.map(f64::from))
            .collect(),
        DataType::Int64 => c
            .as_primitive::<Int64Type>()
            .iter()
            .map(|x| x.map(|x| x as f64))
            .collect(),
        DataType::Int32 => c
            .as_primitive::<Int32Type>()
            .iter()
            .map(|x| x.map(f64::from))
            .collect(),
        DataType::Timestamp(arrow_schema::TimeUnit::Millisecond, _) => c
            .as_primitive::<TimestampMillisecondType>()
            .iter()
            .map(|x| x.map(|x| x as f64))
            .collect(),
        _ => return None,
    })
}

/// The type of the field at dotted `path` of `schema`, if it has one.
pub fn field_type(schema: &arrow_schema::Schema, path: &str) -> Option<DataType> {
    let mut parts = path.split('.');
    let mut ty = schema
        .field_with_name(parts.next()?)
        .ok()?
        .data_type()
        .clone();
    for part in parts {
        let DataType::Struct(fields) = &ty else {
            return None;
        };
        ty = fields
            .iter()
            .find(|f| f.name() == part)?
            .data_type()
            .clone();
    }
    Some(ty)
}

/// Row `row` of `batch` as a JSON line (a record that exists only as
/// columns, for a dead-letter or late output).
pub fn row_json(batch: &RecordBatch, row: usize) -> Vec<u8> {
    match super::json_lines(&batch.slice(row, 1)) {
        Ok(mut lines) if !lines.is_empty() => lines.swap_remove(0),
        Ok(_) => b"{}".to_vec(),
        Err(e) => serde_json::to_vec(&format!("(row {row}: {e})")).unwrap_or_default(),
    }
}
