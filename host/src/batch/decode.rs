//! JSON lines into a columnar batch, once.
//!
//! [`JsonDecoder::decode`] hands a batch of lines to arrow-json's decoder
//! in one go — the fast path, a tape of the bytes and one pass per column —
//! and checks it found exactly one record per line. A line that is not
//! JSON, holds no record or two, or has a value that does not fit its
//! field's type fails arrow-json's whole batch without saying which line;
//! then (rarely) the lines are decoded one by one to find the ones that do
//! not fit, each reported with its position and arrow-json's reason, and
//! the rest are decoded as a batch again. Nothing is dropped silently.
//!
//! A `decimal(p,s)` field is read as its text and then cast, so that a
//! number with more decimals than the scale is rounded half up — as
//! Flink's `json` format reads a DECIMAL — where arrow-json's own
//! decimal reader cuts the digits off. A value that is not a decimal
//! number (an exponent, text) or has more digits than the precision does
//! not fit, with its reason.
//!
//! ```
//! use std::sync::Arc;
//! use arrow_schema::{DataType, Field, Schema};
//! let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true)]));
//! let mut d = weir::batch::JsonDecoder::new(schema).unwrap();
//! let lines: Vec<&[u8]> = vec![br#"{"n":1}"#, br#"{"n":"two"}"#, br#"{"n":3}"#];
//! let out = d.decode(&lines).unwrap();
//! assert_eq!(out.batch.num_rows(), 2);
//! assert_eq!(out.bad[0].line, 1);
//! ```

use super::schema::SchemaError;
use arrow_array::cast::AsArray;
use arrow_array::{Array, BooleanArray, RecordBatch};
use arrow_json::ReaderBuilder;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use std::sync::Arc;

/// Most lines decoded in one call.
pub const MAX_LINES: usize = 1 << 20;

/// A line that does not fit the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    /// Its index in the lines given.
    pub line: usize,
    /// Why, in arrow-json's words (`whilst decoding field 'amount': failed
    /// to parse "abc" as Float64`).
    pub reason: String,
}

/// Why a line does not decode to one record of the schema (a [`BadRow`]'s
/// reason).
#[derive(Debug, thiserror::Error)]
enum LineUnfit {
    #[error("the line is empty")]
    Empty,
    #[error("the line ends inside a record (truncated JSON)")]
    Truncated,
    #[error("the line holds {0} records; one per line")]
    Several(usize),
    #[error("field `{0}` is missing or null, and the schema requires it")]
    Required(String),
    #[error("not a JSON object")]
    NotAnObject,
    #[error("field `{0}` holds a null inside its list; list items cannot be null")]
    NullItem(String),
    #[error(transparent)]
    Arrow(#[from] arrow_schema::ArrowError),
}

/// Why a decimal field's text is not a value of its type.
#[derive(Debug, thiserror::Error)]
#[error(
    "field `{field}`: {text:?} is not a {ty} (a decimal number, no exponent, at most {digits} digits before the point)"
)]
struct NotADecimal {
    field: String,
    text: String,
    ty: String,
    digits: u8,
}

/// What a call decoded.
#[derive(Debug)]
pub struct Decoded {
    /// The lines that fit, in order.
    pub batch: RecordBatch,
    /// The lines that did not, in order.
    pub bad: Vec<BadRow>,
}

/// A decoder of JSON lines into batches of one schema.
pub struct JsonDecoder {
    decoder: arrow_json::reader::Decoder,
    schema: SchemaRef,
    /// The schema arrow-json reads: `schema` with its decimal fields as
    /// text.
    read: SchemaRef,
    /// The decimal fields' indices.
    decimals: Vec<usize>,
}

/// Is `line` one JSON object? (Asked only of a line that failed, to say
/// why in plain words.)
fn is_object(line: &[u8]) -> bool {
    matches!(
        serde_json::from_slice::<serde_json::Value>(line),
        Ok(serde_json::Value::Object(_))
    )
}

fn arrow_err(e: arrow_schema::ArrowError) -> SchemaError {
    SchemaError::Inference {
        lines: 0,
        message: e.to_string(),
    }
}

impl JsonDecoder {
    /// A decoder for `schema`. Fields of a record not in the schema are
    /// ignored; numbers and booleans read into a `string` field as their
    /// text.
    pub fn new(schema: SchemaRef) -> Result<Self, SchemaError> {
        let decimals: Vec<usize> = (0..schema.fields().len())
            .filter(|&i| matches!(schema.field(i).data_type(), DataType::Decimal128(..)))
            .collect();
        let read = if decimals.is_empty() {
            schema.clone()
        } else {
            let fields: Vec<Field> = schema
                .fields()
                .iter()
                .map(|f| match f.data_type() {
                    DataType::Decimal128(..) => f.as_ref().clone().with_data_type(DataType::Utf8),
                    _ => f.as_ref().clone(),
                })
                .collect();
            Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
        };
        let decoder = Self::builder(&read).build_decoder().map_err(arrow_err)?;
        Ok(Self {
            decoder,
            schema,
            read,
            decimals,
        })
    }

    /// The schema batches have.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// How decoders for `schema` are made.
    fn builder(schema: &SchemaRef) -> ReaderBuilder {
        ReaderBuilder::new(schema.clone())
            .with_batch_size(MAX_LINES)
            .with_coerce_primitive(true)
    }

    /// A fresh decoder: arrow-json's cannot be used again after an error.
    fn reset(&mut self) {
        if let Ok(d) = Self::builder(&self.read).build_decoder() {
            self.decoder = d;
        }
    }

    /// Decode `lines` (at most [`MAX_LINES`]), one record each.
    pub fn decode(&mut self, lines: &[&[u8]]) -> Result<Decoded, SchemaError> {
        assert!(lines.len() <= MAX_LINES, "at most MAX_LINES lines a call");
        let decoded = match self.fast(lines) {
            Some(batch) => Decoded {
                batch,
                bad: Vec::new(),
            },
            None => self.slow(lines)?,
        };
        if self.decimals.is_empty() {
            return Ok(decoded);
        }
        self.cast_decimals(lines, decoded)
    }

    /// The decimal fields' text cast to their types (rounded half up to
    /// the scale); a row whose text is not a decimal of its type is taken
    /// out and reported.
    fn cast_decimals(&self, lines: &[&[u8]], decoded: Decoded) -> Result<Decoded, SchemaError> {
        let Decoded { batch, mut bad } = decoded;
        let mut columns = batch.columns().to_vec();
        let mut unfit: Vec<(usize, NotADecimal)> = Vec::new();
        for &i in &self.decimals {
            let field = self.schema.field(i);
            let to = field.data_type();
            let text = columns[i].as_string::<i32>().clone();
            let cast = arrow_cast::cast(&text, to).map_err(arrow_err)?;
            if cast.null_count() != text.null_count() {
                let DataType::Decimal128(p, s) = to else {
                    unreachable!("only decimal fields are cast")
                };
                for row in (0..text.len()).filter(|&r| cast.is_null(r) && text.is_valid(r)) {
                    if !unfit.iter().any(|(r, _)| *r == row) {
                        unfit.push((
                            row,
                            NotADecimal {
                                field: field.name().clone(),
                                text: text.value(row).to_string(),
                                ty: format!("DECIMAL({p}, {s})"),
                                digits: (*p as i8 - *s) as u8,
                            },
                        ));
                    }
                }
            }
            columns[i] = cast;
        }
        let batch = RecordBatch::try_new(self.schema.clone(), columns).map_err(arrow_err)?;
        if unfit.is_empty() {
            return Ok(Decoded { batch, bad });
        }
        // The batch's rows are the lines that were not bad, in order.
        let taken: std::collections::HashSet<usize> = bad.iter().map(|b| b.line).collect();
        let line_of: Vec<usize> = (0..lines.len()).filter(|l| !taken.contains(l)).collect();
        let keep = BooleanArray::from(
            (0..batch.num_rows())
                .map(|r| !unfit.iter().any(|(u, _)| *u == r))
                .collect::<Vec<bool>>(),
        );
        let batch = arrow_select::filter::filter_record_batch(&batch, &keep).map_err(arrow_err)?;
        bad.extend(unfit.into_iter().map(|(row, why)| BadRow {
            line: line_of[row],
            reason: why.to_string(),
        }));
        bad.sort_by_key(|b| b.line);
        Ok(Decoded { batch, bad })
    }

    /// All lines at once; `None` if any does not fit (the decoder is reset).
    fn fast(&mut self, lines: &[&[u8]]) -> Option<RecordBatch> {
        for line in lines {
            let before = self.decoder.len();
            let fits = matches!(self.decoder.decode(line), Ok(n) if n == line.len())
                && !self.decoder.has_partial_record()
                && self.decoder.len() == before + 1;
            if !fits {
                self.reset();
                return None;
            }
        }
        match self.decoder.flush() {
            Ok(Some(batch)) => Some(batch),
            Ok(None) => Some(RecordBatch::new_empty(self.read.clone())),
            Err(_) => {
                self.reset();
                None
            }
        }
    }

    /// Line by line, to tell the bad ones from the good; the good ones are
    /// then decoded together.
    fn slow(&mut self, lines: &[&[u8]]) -> Result<Decoded, SchemaError> {
        let mut good = Vec::with_capacity(lines.len());
        let mut bad = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            match self.one(line) {
                Ok(()) => good.push(*line),
                Err(reason) => {
                    self.reset();
                    bad.push(BadRow {
                        line: i,
                        reason: reason.to_string(),
                    });
                }
            }
        }
        let batch = match self.fast(&good) {
            Some(b) => b,
            // Each fitted alone; together they must too.
            None => {
                return Err(arrow_err(arrow_schema::ArrowError::JsonError(
                    "lines that decode one by one failed together".into(),
                )));
            }
        };
        Ok(Decoded { batch, bad })
    }

    /// Does `line` alone decode to one record? (Leaves the decoder empty.)
    fn one(&mut self, line: &[u8]) -> Result<(), LineUnfit> {
        if line.trim_ascii().is_empty() {
            return Err(LineUnfit::Empty);
        }
        let consumed = match self.decoder.decode(line) {
            Ok(n) => n,
            Err(_) if !is_object(line) => return Err(LineUnfit::NotAnObject),
            Err(e) => return Err(e.into()),
        };
        if consumed != line.len() || self.decoder.has_partial_record() {
            return Err(LineUnfit::Truncated);
        }
        match self.decoder.len() {
            1 => {}
            // Something was read, but no record ended: it was cut short.
            0 => return Err(LineUnfit::Truncated),
            n => return Err(LineUnfit::Several(n)),
        }
        match self.decoder.flush() {
            Ok(_) => Ok(()),
            Err(e) => Err(match (self.missing_required(line), self.null_item(line)) {
                (Some(field), _) => LineUnfit::Required(field),
                (None, Some(field)) => LineUnfit::NullItem(field),
                (None, None) => LineUnfit::Arrow(e),
            }),
        }
    }

    /// The first field the schema requires (not nullable) that `line`
    /// lacks or holds null: arrow-json says only that a struct had nulls.
    fn missing_required(&self, line: &[u8]) -> Option<String> {
        let v: serde_json::Value = serde_json::from_slice(line).ok()?;
        let o = v.as_object()?;
        self.schema
            .fields()
            .iter()
            .find(|f| !f.is_nullable() && o.get(f.name()).is_none_or(|x| x.is_null()))
            .map(|f| f.name().clone())
    }

    /// The first list field whose items cannot be null that holds one in
    /// `line`: arrow-json says only that a list had nulls, not which.
    fn null_item(&self, line: &[u8]) -> Option<String> {
        let v: serde_json::Value = serde_json::from_slice(line).ok()?;
        let o = v.as_object()?;
        self.schema
            .fields()
            .iter()
            .find(|f| {
                matches!(f.data_type(), arrow_schema::DataType::List(item) if !item.is_nullable())
                    && o.get(f.name())
                        .and_then(serde_json::Value::as_array)
                        .is_some_and(|a| a.iter().any(serde_json::Value::is_null))
            })
            .map(|f| f.name().clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::types::{Float64Type, TimestampMillisecondType};
    use arrow_schema::TimeUnit;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                false,
            ),
            Field::new("user", DataType::Utf8, true),
            Field::new("amount", DataType::Float64, true),
        ]))
    }

    #[test]
    fn good_lines_decode_in_one_pass_into_typed_columns() {
        let mut d = JsonDecoder::new(schema()).unwrap();
        let lines: Vec<&[u8]> = vec![
            br#"{"ts":1000,"user":"ann","amount":12.5,"other":[1,2]}"#,
            br#"{"ts":"1970-01-01T00:00:02Z","user":7,"amount":3}"#,
        ];
        let out = d.decode(&lines).unwrap();
        assert!(out.bad.is_empty());
        let b = &out.batch;
        assert_eq!(
            b.column(0)
                .as_primitive::<TimestampMillisecondType>()
                .values(),
            &[1000, 2000]
        );
        assert_eq!(
            b.column(1).as_string::<i32>().value(1),
            "7",
            "a number read as text"
        );
        assert_eq!(
            b.column(2).as_primitive::<Float64Type>().values(),
            &[12.5, 3.0]
        );
    }

    #[test]
    fn every_line_that_does_not_fit_is_reported_with_its_reason_and_the_rest_kept() {
        let mut d = JsonDecoder::new(schema()).unwrap();
        let lines: Vec<&[u8]> = vec![
            br#"{"ts":1,"amount":1}"#,
            br#"{"ts":2,"amount":"lots"}"#,
            br#"not json"#,
            br#"{"ts":4,"amount":4"#,
            br#""#,
            br#"{"ts":6}{"ts":7}"#,
            br#"{"amount":8}"#,
            br#"{"ts":9,"amount":9}"#,
        ];
        let out = d.decode(&lines).unwrap();
        let bad: Vec<usize> = out.bad.iter().map(|b| b.line).collect();
        assert_eq!(bad, vec![1, 2, 3, 4, 5, 6], "{:#?}", out.bad);
        assert!(
            out.bad[0].reason.contains("amount"),
            "{}",
            out.bad[0].reason
        );
        assert_eq!(out.bad[1].reason, "not a JSON object");
        assert!(
            out.bad[2].reason.contains("truncated"),
            "{}",
            out.bad[2].reason
        );
        assert!(
            out.bad[4].reason.contains("2 records"),
            "{}",
            out.bad[4].reason
        );
        assert_eq!(
            out.bad[5].reason,
            "field `ts` is missing or null, and the schema requires it"
        );
        assert_eq!(out.batch.num_rows(), 2);
        assert_eq!(
            out.batch
                .column(0)
                .as_primitive::<TimestampMillisecondType>()
                .values(),
            &[1, 9]
        );
        // And it goes on: the decoder is fresh after the errors.
        let again = d.decode(&[br#"{"ts":10}"#]).unwrap();
        assert_eq!(again.batch.num_rows(), 1);
    }

    #[test]
    fn decimals_round_half_up_and_a_value_that_is_not_one_does_not_fit() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, true),
            Field::new("d", DataType::Decimal128(5, 2), true),
        ]));
        let mut d = JsonDecoder::new(schema).unwrap();
        let lines: Vec<&[u8]> = vec![
            br#"{"n":1,"d":109.895}"#,
            br#"{"n":2,"d":"-0.125"}"#,
            br#"{"n":3,"d":"lots"}"#,
            br#"{"n":4,"d":1234.5}"#,
            br#"{"n":5,"d":"x"#,
            br#"{"n":6}"#,
        ];
        let out = d.decode(&lines).unwrap();
        let bad: Vec<usize> = out.bad.iter().map(|b| b.line).collect();
        assert_eq!(bad, vec![2, 3, 4], "{:#?}", out.bad);
        assert!(
            out.bad[0]
                .reason
                .contains("field `d`: \"lots\" is not a DECIMAL(5, 2)"),
            "{}",
            out.bad[0].reason
        );
        assert!(
            out.bad[1].reason.contains("1234.5"),
            "{}",
            out.bad[1].reason
        );
        let b = &out.batch;
        assert_eq!(
            b.column(0)
                .as_primitive::<arrow_array::types::Int64Type>()
                .values(),
            &[1, 2, 6]
        );
        let dec = b
            .column(1)
            .as_primitive::<arrow_array::types::Decimal128Type>();
        assert_eq!(dec.data_type(), &DataType::Decimal128(5, 2));
        // 109.895 → 109.90 and -0.125 → -0.13: half up, away from zero.
        assert_eq!(dec.value(0), 10990);
        assert_eq!(dec.value(1), -13);
        assert!(dec.is_null(2));
    }

    #[test]
    fn a_null_item_of_a_list_whose_items_cannot_be_null_does_not_fit() {
        let item = Arc::new(Field::new_list_field(DataType::Utf8, false));
        let schema = Arc::new(Schema::new(vec![Field::new(
            "pages",
            DataType::List(item),
            false,
        )]));
        let mut d = JsonDecoder::new(schema).unwrap();
        let lines: Vec<&[u8]> = vec![
            br#"{"pages":["/a","/b"]}"#,
            br#"{"pages":["/c",null]}"#,
            br#"{"pages":[]}"#,
        ];
        let out = d.decode(&lines).unwrap();
        assert_eq!(out.batch.num_rows(), 2);
        assert_eq!(out.bad.len(), 1, "{:?}", out.bad);
        assert_eq!(out.bad[0].line, 1);
        assert!(
            out.bad[0]
                .reason
                .contains("field `pages` holds a null inside its list"),
            "{}",
            out.bad[0].reason
        );
        let pages = out.batch.column(0).as_list::<i32>();
        assert_eq!(pages.value(0).len(), 2);
        assert_eq!(pages.values().null_count(), 0);
    }
}
