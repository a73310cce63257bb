//! A columnar batch back into JSON lines, for what still takes records as
//! JSON events: keyed operators and windows over events, file, stdout and
//! Kafka sinks.
//!
//! It uses arrow-json's encoder (one pass per column, no intermediate
//! values) with one change: a `timestamp` column is written as the number
//! of ms since the epoch it was read from, so a record that went through a
//! columnar operator keeps the shape it came in with.
//!
//! ```
//! use std::sync::Arc;
//! use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
//! let batch = RecordBatch::try_from_iter([
//!     ("n", Arc::new(Int64Array::from(vec![Some(1), None])) as ArrayRef),
//!     ("s", Arc::new(StringArray::from(vec!["a\"b", "c"])) as ArrayRef),
//! ]).unwrap();
//! let lines = weir::batch::encode::json_lines(&batch).unwrap();
//! assert_eq!(lines[0], br#"{"n":1,"s":"a\"b"}"#);
//! assert_eq!(lines[1], br#"{"s":"c"}"#, "a null field is left out");
//! ```

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMillisecondType;
use arrow_array::{Array, RecordBatch, StructArray};
use arrow_buffer::ScalarBuffer;
use arrow_json::writer::{Encoder, EncoderFactory, EncoderOptions, NullableEncoder, make_encoder};
use arrow_schema::{ArrowError, DataType, Field, FieldRef, TimeUnit};
use std::sync::Arc;

/// A batch that cannot be written as JSON.
#[derive(Debug, thiserror::Error)]
#[error("writing a batch of {rows} rows with columns [{columns}] as JSON: {message}")]
pub struct EncodeError {
    /// Rows in the batch.
    pub rows: usize,
    /// Its columns and their types.
    pub columns: String,
    /// arrow-json's reason.
    pub message: String,
}

/// Writes `timestamp(ms)` columns as their number of ms, or (`sql`) as
/// Flink's `json` format writes a `TIMESTAMP(3)`
/// (`json.timestamp-format.standard` `SQL`): `yyyy-MM-dd HH:mm:ss`, then
/// the fraction of a second in as few digits as it takes (none when 0).
#[derive(Debug)]
struct Timestamps {
    sql: bool,
}

struct Millis(ScalarBuffer<i64>);

impl Encoder for Millis {
    fn encode(&mut self, idx: usize, out: &mut Vec<u8>) {
        use std::io::Write;
        let _ = write!(out, "{}", self.0[idx]);
    }
}

struct SqlTimestamp(ScalarBuffer<i64>);

impl Encoder for SqlTimestamp {
    fn encode(&mut self, idx: usize, out: &mut Vec<u8>) {
        out.push(b'"');
        write_sql_timestamp(out, self.0[idx]);
        out.push(b'"');
    }
}

/// `ms` since the epoch as `yyyy-MM-dd HH:mm:ss[.fff]` (UTC).
///
/// ```
/// let mut out = Vec::new();
/// weir::batch::encode::write_sql_timestamp(&mut out, 1_700_000_010_500);
/// assert_eq!(out, b"2023-11-14 22:13:30.5");
/// ```
pub fn write_sql_timestamp(out: &mut Vec<u8>, ms: i64) {
    use std::io::Write;
    let frac = crate::time::write_sql_seconds(out, ms);
    if frac != 0 {
        let text = format!("{frac:03}");
        let _ = write!(out, ".{}", text.trim_end_matches('0'));
    }
}

impl EncoderFactory for Timestamps {
    fn make_default_encoder<'a>(
        &self,
        _field: &'a FieldRef,
        array: &'a dyn Array,
        _options: &'a EncoderOptions,
    ) -> Result<Option<NullableEncoder<'a>>, ArrowError> {
        let DataType::Timestamp(TimeUnit::Millisecond, zone) = array.data_type() else {
            return Ok(None);
        };
        let a = array.as_primitive::<TimestampMillisecondType>();
        let values = a.values().clone();
        let encoder: Box<dyn Encoder> = match (self.sql, zone) {
            (true, None) => Box::new(SqlTimestamp(values)),
            (true, Some(_)) => return Ok(None),
            (false, _) => Box::new(Millis(values)),
        };
        Ok(Some(NullableEncoder::new(encoder, a.nulls().cloned())))
    }
}

/// Each row of `batch` as one JSON object (null fields left out).
pub fn json_lines(batch: &RecordBatch) -> Result<Vec<Vec<u8>>, EncodeError> {
    encode_lines(batch, false)
}

/// Each row of `batch` as one JSON object with every field, a null one as
/// `null`, a timestamp in SQL's text form: what Flink's `json` format
/// writes for a SQL table's row.
pub fn json_lines_with_nulls(batch: &RecordBatch) -> Result<Vec<Vec<u8>>, EncodeError> {
    encode_lines(batch, true)
}

fn encode_lines(batch: &RecordBatch, explicit_nulls: bool) -> Result<Vec<Vec<u8>>, EncodeError> {
    let rows = batch.num_rows();
    let err = |e: ArrowError| EncodeError {
        rows,
        columns: batch
            .schema()
            .fields()
            .iter()
            .map(|f| format!("{}: {}", f.name(), f.data_type()))
            .collect::<Vec<_>>()
            .join(", "),
        message: e.to_string(),
    };
    let array = StructArray::from(batch.clone());
    let field: FieldRef = Arc::new(Field::new_struct(
        "",
        batch.schema().fields().clone(),
        false,
    ));
    let options = EncoderOptions::default()
        .with_encoder_factory(Arc::new(Timestamps {
            sql: explicit_nulls,
        }))
        .with_explicit_nulls(explicit_nulls);
    let mut encoder = make_encoder(&field, &array, &options).map_err(err)?;
    let mut buf = Vec::with_capacity(128);
    let mut lines = Vec::with_capacity(rows);
    for i in 0..rows {
        buf.clear();
        encoder.encode(i, &mut buf);
        lines.push(buf.as_slice().to_vec());
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::JsonDecoder;
    use arrow_schema::Schema;

    #[test]
    fn decoded_lines_encode_back_to_the_same_json() {
        let schema = Arc::new(Schema::new(vec![
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                false,
            ),
            Field::new("user", DataType::Utf8, true),
            Field::new("amount", DataType::Float64, true),
            Field::new_struct("geo", vec![Field::new("city", DataType::Utf8, true)], true),
        ]));
        let lines: Vec<&[u8]> = vec![
            br#"{"ts":1000,"user":"ann \u00e9\n","amount":12.5,"geo":{"city":"Oslo"}}"#,
            br#"{"ts":2000,"amount":-3.25}"#,
        ];
        let batch = JsonDecoder::new(schema)
            .unwrap()
            .decode(&lines)
            .unwrap()
            .batch;
        let back = json_lines(&batch).unwrap();
        for (a, b) in lines.iter().zip(&back) {
            let a: serde_json::Value = serde_json::from_slice(a).unwrap();
            let b: serde_json::Value = serde_json::from_slice(b).unwrap();
            assert_eq!(a, b);
        }
    }
}
