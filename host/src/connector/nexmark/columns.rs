//! Nexmark's rows made straight into typed columns, for a job that reads
//! the generator's columns and nothing else: no JSON text is written and
//! none is parsed again (the two took about 40% of Nexmark q5's time).
//!
//! The values are the ones [`super::write_row`] writes as JSON, drawn in
//! the same order: `extra`, which pads a row to a size, is told the length
//! the row has as JSON text, counted here instead of written.
//!
//! ```
//! use weir::connector::nexmark::{Table, columns::generate};
//! let batch = generate(Table::Bid, 0..4, 7, 1_700_000_000_000, &["auction", "dateTime"]).unwrap();
//! assert_eq!(batch.num_rows(), 4);
//! assert_eq!(batch.schema().field(1).name(), "dateTime");
//! ```

use super::{RowOut, Table};
use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use arrow_buffer::{OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType, Field, Schema, TimeUnit};
use std::ops::Range;
use std::sync::Arc;

/// One column being made.
enum Column {
    /// Not wanted: its values are drawn (the draws after it depend on
    /// them) but not kept.
    Skipped,
    Int(Vec<i64>),
    Timestamp(Vec<i64>),
    Text {
        data: Vec<u8>,
        offsets: Vec<i32>,
    },
}

/// A row's values into columns, and the length the row would have as JSON.
struct Columns {
    columns: Vec<Column>,
    names: &'static [(&'static str, &'static str)],
    next: usize,
    json_len: usize,
    scratch: Vec<u8>,
}

/// Digits of `v` in decimal.
fn digits(v: u64) -> usize {
    v.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// Length of `ms` as JSON text: a quoted `YYYY-MM-DD HH:MM:SS.mmm`.
fn timestamp_len(ms: i64) -> usize {
    // Years 1000 to 9999 have four digits, as `write_sql_seconds` pads
    // them; others are rare enough to be written out and measured.
    const YEAR_1000: i64 = -30_610_224_000_000;
    const YEAR_10000: i64 = 253_402_300_800_000;
    let seconds = if (YEAR_1000..YEAR_10000).contains(&ms) {
        19
    } else {
        let mut b = Vec::new();
        crate::time::write_sql_seconds(&mut b, ms);
        b.len()
    };
    seconds + 6
}

impl Columns {
    /// The next column: counts its key in the JSON length.
    fn column(&mut self) -> &mut Column {
        // `{` or `,`, then `"name":`.
        self.json_len += 1 + self.names[self.next].0.len() + 3;
        self.next += 1;
        &mut self.columns[self.next - 1]
    }
}

impl RowOut for Columns {
    fn int(&mut self, v: u64) {
        if let Column::Int(values) = self.column() {
            values.push(v as i64);
        }
        self.json_len += digits(v);
    }
    fn timestamp(&mut self, ms: i64) {
        if let Column::Timestamp(values) = self.column() {
            values.push(ms);
        }
        self.json_len += timestamp_len(ms);
    }
    fn text(&mut self, f: impl FnOnce(&mut Vec<u8>, usize)) {
        let mut scratch = std::mem::take(&mut self.scratch);
        let used = self.json_len + 1 + self.names[self.next].0.len() + 3 + 1;
        let len = match self.column() {
            Column::Text { data, offsets } => {
                let before = data.len();
                f(data, used);
                offsets.push(data.len() as i32);
                data.len() - before
            }
            _ => {
                scratch.clear();
                f(&mut scratch, used);
                scratch.len()
            }
        };
        self.scratch = scratch;
        self.json_len += 2 + len;
    }
}

/// `table`'s rows `rows` of the stream of `seed` (first event at
/// `start_ms`) as a batch of the columns named in `wanted`, in that order:
/// integers as `Int64`, timestamps as `Timestamp(ms)`, text as `Utf8`.
/// A name that is not one of the table's columns is an error.
pub fn generate(
    table: Table,
    rows: Range<u64>,
    seed: u64,
    start_ms: i64,
    wanted: &[&str],
) -> Result<RecordBatch, ArrowError> {
    let names = table.columns();
    let n = (rows.end - rows.start) as usize;
    let columns = names
        .iter()
        .map(|(name, ty)| match (wanted.contains(name), *ty) {
            (false, _) => Column::Skipped,
            (true, "int") => Column::Int(Vec::with_capacity(n)),
            (true, "timestamp") => Column::Timestamp(Vec::with_capacity(n)),
            (true, _) => Column::Text {
                data: Vec::with_capacity(n * 16),
                offsets: {
                    let mut o = Vec::with_capacity(n + 1);
                    o.push(0);
                    o
                },
            },
        })
        .collect();
    let mut out = Columns {
        columns,
        names,
        next: 0,
        json_len: 0,
        scratch: Vec::new(),
    };
    for row in rows {
        out.next = 0;
        out.json_len = 0;
        super::generate(table, row, seed, start_ms, &mut out);
    }
    let mut made: Vec<(&str, ArrayRef)> = Vec::with_capacity(wanted.len());
    for ((name, _), column) in names.iter().zip(out.columns) {
        let array: ArrayRef = match column {
            Column::Skipped => continue,
            Column::Int(v) => Arc::new(Int64Array::from(v)),
            Column::Timestamp(v) => Arc::new(TimestampMillisecondArray::from(v)),
            Column::Text { data, offsets } => {
                let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
                Arc::new(StringArray::try_new(offsets, data.into(), None)?)
            }
        };
        made.push((name, array));
    }
    let mut fields = Vec::with_capacity(wanted.len());
    let mut arrays = Vec::with_capacity(wanted.len());
    for w in wanted {
        let Some((name, array)) = made.iter().find(|(name, _)| name == w) else {
            let known: Vec<&str> = names.iter().map(|(k, _)| *k).collect();
            return Err(ArrowError::SchemaError(format!(
                "column `{w}` is not one of {table:?}'s ({})",
                known.join(", ")
            )));
        };
        let ty = match array.data_type() {
            DataType::Timestamp(..) => DataType::Timestamp(TimeUnit::Millisecond, None),
            other => other.clone(),
        };
        fields.push(Field::new(*name, ty, true));
        arrays.push(array.clone());
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::nexmark::write_row;

    /// Row `i` of the batch as a JSON object, timestamps as SQL text.
    fn row_of(batch: &RecordBatch, i: usize) -> serde_json::Map<String, serde_json::Value> {
        use arrow_array::cast::AsArray;
        use arrow_array::types::{Int64Type, TimestampMillisecondType};
        let mut row = serde_json::Map::new();
        for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
            let value = match column.data_type() {
                DataType::Int64 => column.as_primitive::<Int64Type>().value(i).into(),
                DataType::Utf8 => column.as_string::<i32>().value(i).into(),
                _ => {
                    let ms = column.as_primitive::<TimestampMillisecondType>().value(i);
                    let mut b = Vec::new();
                    let frac = crate::time::write_sql_seconds(&mut b, ms);
                    format!("{}.{frac:03}", String::from_utf8(b).unwrap()).into()
                }
            };
            row.insert(field.name().clone(), value);
        }
        row
    }

    #[test]
    fn the_columns_hold_the_json_rows_values() {
        for table in [Table::Person, Table::Auction, Table::Bid] {
            let names: Vec<&str> = table.columns().iter().map(|(n, _)| *n).collect();
            let rows = 3000..5000;
            let batch = generate(table, rows.clone(), 9, 1_700_000_000_000, &names).unwrap();
            for (i, row) in rows.enumerate() {
                let mut line = Vec::new();
                write_row(table, row, 9, 1_700_000_000_000, &mut line);
                let want: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_slice(&line).unwrap();
                assert_eq!(row_of(&batch, i), want, "{table:?} row {row}");
            }
        }
    }

    #[test]
    fn only_the_wanted_columns_in_their_order() {
        let some = generate(Table::Auction, 0..50, 1, 0, &["seller", "id", "extra"]).unwrap();
        let all_names: Vec<&str> = Table::Auction.columns().iter().map(|(n, _)| *n).collect();
        let all = generate(Table::Auction, 0..50, 1, 0, &all_names).unwrap();
        let schema = some.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["seller", "id", "extra"]);
        for name in names {
            assert_eq!(
                some.column_by_name(name),
                all.column_by_name(name),
                "{name}"
            );
        }
        let err = generate(Table::Bid, 0..1, 1, 0, &["nope"]).unwrap_err();
        assert!(err.to_string().contains("`nope`"), "{err}");
    }

    #[test]
    fn json_lengths_are_counted_as_written() {
        for ms in [
            0,
            1_700_000_000_000,
            -1,
            -30_610_224_000_001,
            253_402_300_800_000,
        ] {
            let mut b = Vec::new();
            crate::time::write_sql_seconds(&mut b, ms);
            assert_eq!(timestamp_len(ms), b.len() + 6, "{ms}");
        }
        for v in [0, 9, 10, 99, 100, 12345, u64::MAX] {
            assert_eq!(digits(v), v.to_string().len());
        }
    }
}
