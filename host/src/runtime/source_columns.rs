//! Where records become columns: a job whose chain starts with operators
//! over columns has its source decode each batch of JSON records **once**
//! into a typed columnar batch ([`crate::batch::JsonDecoder`]), with event
//! time read from its column, not re-scanned from the bytes.
//!
//! The schema is the one the source declares (`[source.schema]`) or, by
//! default, the one inferred from the first batch of records (so job files
//! without one run unchanged); the event-time field is always an integer
//! column. A record that does not fit goes to the dead-letter output with
//! its position in the input and the decoder's reason, like any record
//! that cannot be read. The records' own bytes travel beside the columns,
//! so an operator that only filters passes them on exactly as they came.
//!
//! A raw Kafka source (`format = "raw"`) has no fields to decode: its
//! batches have two binary columns, `key` (null where a record has none)
//! and `value`, the record's bytes as they came, with the Kafka timestamp
//! as event time ([`raw_schema`]).

use super::RunError;
use super::message::Columns;
use super::side::{SideOutputs, Stage};
use crate::batch::{JsonDecoder, SchemaError, describe, infer_schema};
use crate::connector::{RawRecord, Source, SourceBatch};
use crate::event::Event;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampMillisecondType};
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use std::sync::Arc;

/// Records inferred from when no schema is declared: the first batch's,
/// at most this many.
const INFER_FROM: usize = 1000;

/// Where a record came from: its input, its offset in that input, and the
/// source's own timestamp for it.
type Origin = (usize, u64, Option<i64>);

/// The source's decoder into columns.
pub(super) struct ColumnDecoder {
    decoder: Option<JsonDecoder>,
    declared: Option<SchemaRef>,
    time_field: Option<String>,
    /// Types forced on an inferred schema (see [`with_types`]).
    types: Vec<(String, DataType)>,
    job: String,
    /// Keep each record's bytes, key and headers beside the columns.
    keep_records: bool,
    /// Raw records: `key` and `value` columns, nothing decoded.
    raw: bool,
}

/// The columns of a raw source's batches: `key` (binary, null where a
/// record has none) and `value` (binary).
pub fn raw_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("key", DataType::Binary, true),
        Field::new("value", DataType::Binary, false),
    ]))
}

/// A decoded batch: the records that fit, as events and as columns.
pub(super) struct DecodedBatch {
    /// Empty unless the decoder keeps records.
    pub records: Vec<Event>,
    pub columns: Columns,
    /// Each record's input (for the watermark tracker).
    pub inputs: Vec<usize>,
}

impl ColumnDecoder {
    pub fn new(
        job: &str,
        declared: Option<SchemaRef>,
        time_field: Option<&str>,
        types: &[(String, DataType)],
        keep_records: bool,
        raw: bool,
    ) -> Self {
        let mut types = types.to_vec();
        if let Some(t) = time_field {
            types.push((t.to_string(), DataType::Int64));
        }
        Self {
            decoder: None,
            declared,
            time_field: time_field.map(String::from),
            types,
            job: job.into(),
            keep_records,
            raw,
        }
    }

    /// A raw batch as `key` and `value` columns; event time is the
    /// source's timestamp (or `now`).
    fn raw_batch(&self, batch: SourceBatch, now: i64) -> Result<DecodedBatch, RunError> {
        let records = batch.into_records();
        let keys: arrow_array::BinaryArray = records.iter().map(|r| r.key.as_deref()).collect();
        let values = arrow_array::BinaryArray::from_iter_values(
            records.iter().map(|r| r.payload.as_slice()),
        );
        let rows = arrow_array::RecordBatch::try_new(
            raw_schema(),
            vec![Arc::new(keys) as ArrayRef, Arc::new(values)],
        )
        .map_err(|e| {
            self.schema_error(SchemaError::Inference {
                lines: records.len(),
                message: e.to_string(),
            })
        })?;
        let time: Vec<i64> = records.iter().map(|r| r.timestamp.unwrap_or(now)).collect();
        let inputs = records.iter().map(|r| r.input).collect();
        let records = if self.keep_records {
            records
                .into_iter()
                .zip(&time)
                .map(|(r, &ts)| event_of(r, ts))
                .collect()
        } else {
            Vec::new()
        };
        Ok(DecodedBatch {
            records,
            columns: Columns { batch: rows, time },
            inputs,
        })
    }

    fn decoder(&mut self, lines: &[&[u8]]) -> Result<&mut JsonDecoder, RunError> {
        if self.decoder.is_none() {
            let schema = match &self.declared {
                Some(s) => s.clone(),
                None => {
                    let sample = lines.iter().take(INFER_FROM).copied();
                    let inferred = infer_schema(sample).map_err(|e| self.schema_error(e))?;
                    let schema = with_types(inferred, &self.types);
                    tracing::info!(job = %self.job, schema = %describe(&schema), "inferred the input schema from the first records");
                    Arc::new(schema)
                }
            };
            self.decoder = Some(JsonDecoder::new(schema).map_err(|e| self.schema_error(e))?);
        }
        Ok(self.decoder.as_mut().expect("made above"))
    }

    fn schema_error(&self, e: SchemaError) -> RunError {
        schema_error(&self.job, e)
    }

    /// Decode `batch`; records that do not fit (or have no event time)
    /// go to the dead-letter output. `now` stands in for event time when
    /// the job names no event-time field and the source gives none.
    pub fn decode(
        &mut self,
        batch: SourceBatch,
        now: i64,
        epoch: u64,
        side: &SideOutputs,
        source: &dyn Source,
    ) -> Result<DecodedBatch, RunError> {
        if self.raw {
            return self.raw_batch(batch, now);
        }
        let job = self.job.clone();
        let (lines, origin): (Vec<&[u8]>, Vec<Origin>) = match &batch {
            SourceBatch::Records(r) => r
                .iter()
                .map(|r| (r.payload.as_slice(), (r.input, r.offset, r.timestamp)))
                .unzip(),
            SourceBatch::Lines(l) => l
                .iter()
                .enumerate()
                .map(|(i, line)| (line, (0, l.number(i), None)))
                .unzip(),
        };
        let decoded = {
            let decoder = self.decoder(&lines)?;
            decoder.decode(&lines).map_err(|e| schema_error(&job, e))?
        };
        let dead = |i: usize, reason: String| {
            let (input, offset, _) = origin[i];
            side.dead_letter(
                epoch,
                Stage::Decode,
                None,
                Some(source.location(input, offset)),
                &reason,
                lines[i],
            )
        };
        let mut bad = decoded.bad.into_iter().peekable();
        let mut kept: Vec<usize> = Vec::with_capacity(lines.len());
        for i in 0..lines.len() {
            if bad.peek().is_some_and(|b| b.line == i) {
                let b = bad.next().expect("peeked");
                dead(i, format!("does not fit the job's schema: {}", b.reason))?;
            } else {
                kept.push(i);
            }
        }
        let mut rows = decoded.batch;
        let time: Vec<Option<i64>> = match &self.time_field {
            Some(field) => match crate::batch::rows::column(&rows, field) {
                Some(c) => times(&c),
                None => vec![None; rows.num_rows()],
            },
            None => kept
                .iter()
                .map(|&i| Some(origin[i].2.unwrap_or(now)))
                .collect(),
        };
        if time.iter().any(Option::is_none) {
            let field = self.time_field.as_deref().unwrap_or_default();
            let keep: Vec<bool> = time.iter().map(Option::is_some).collect();
            for (&i, ok) in kept.iter().zip(&keep) {
                if !ok {
                    dead(
                        i,
                        format!(
                            "event-time field `{field}` is missing or not an integer (ms since the epoch)"
                        ),
                    )?;
                }
            }
            let mask = arrow_array::BooleanArray::from(keep.clone());
            rows = arrow_select::filter::filter_record_batch(&rows, &mask).map_err(|e| {
                self.schema_error(SchemaError::Inference {
                    lines: 0,
                    message: e.to_string(),
                })
            })?;
            let mut k = keep.iter();
            kept.retain(|_| *k.next().expect("one flag per record"));
        }
        let inputs = kept.iter().map(|&i| origin[i].0).collect();
        let time: Vec<i64> = time.into_iter().flatten().collect();
        drop(lines);
        let records = if self.keep_records {
            let mut all: Vec<Option<RawRecord>> =
                batch.into_records().into_iter().map(Some).collect();
            kept.iter()
                .zip(&time)
                .filter_map(|(&i, &ts)| all[i].take().map(|r| event_of(r, ts)))
                .collect()
        } else {
            Vec::new()
        };
        Ok(DecodedBatch {
            records,
            columns: Columns { batch: rows, time },
            inputs,
        })
    }
}

/// A source's record as an event at `timestamp`.
fn event_of(r: RawRecord, timestamp: i64) -> Event {
    Event {
        key: r.key,
        value: r.payload,
        timestamp,
        headers: r.headers,
    }
}

fn schema_error(job: &str, e: SchemaError) -> RunError {
    RunError::Schema {
        job: job.into(),
        source: e,
    }
}

/// The inferred schema with the types the job needs for some top-level
/// fields, whatever the first records held: the event-time field an
/// integer, a window's key text and its aggregated fields numbers (so a
/// later `12.5` is not refused because the first records had `12`).
fn with_types(inferred: Schema, types: &[(String, DataType)]) -> Schema {
    let mut fields: Vec<Field> = inferred
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    for (name, ty) in types.iter().filter(|(n, _)| !n.contains('.')) {
        let field = Field::new(name, ty.clone(), true);
        match fields.iter_mut().find(|f| f.name() == name) {
            Some(f) => *f = field,
            None => fields.push(field),
        }
    }
    Schema::new(fields)
}

/// Event times from an integer or timestamp column; `None` where null or
/// of another type.
fn times(c: &ArrayRef) -> Vec<Option<i64>> {
    match c.data_type() {
        DataType::Int64 => c.as_primitive::<Int64Type>().iter().collect(),
        DataType::Timestamp(arrow_schema::TimeUnit::Millisecond, _) => c
            .as_primitive::<TimestampMillisecondType>()
            .iter()
            .collect(),
        _ => vec![None; c.len()],
    }
}
