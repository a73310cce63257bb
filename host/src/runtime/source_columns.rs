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
use arrow_array::{Array, ArrayRef, RecordBatch};
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
    /// Set by the first batch.
    schema: Option<SchemaRef>,
    declared: Option<SchemaRef>,
    time_field: Option<String>,
    /// Types forced on an inferred schema (see [`with_types`]).
    types: Vec<(String, DataType)>,
    job: String,
    /// Keep each record's bytes, key and headers beside the columns.
    keep_records: bool,
    /// Raw records: `key` and `value` columns, nothing decoded.
    raw: bool,
    /// Decoders of the schema not decoding anything now.
    spare: Vec<JsonDecoder>,
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

/// A batch [`ColumnDecoder::begin`] started.
pub(super) enum Begun {
    /// Nothing to decode (raw records).
    Ready(DecodedBatch),
    /// JSON lines to decode.
    Json(Decoding),
}

/// JSON lines and a decoder of their schema, to be run on any worker.
pub(super) struct Decoding {
    decoder: JsonDecoder,
    batch: SourceBatch,
}

/// What [`Decoding::run`] made, for [`ColumnDecoder::finish`].
pub(super) struct Decoded {
    decoder: JsonDecoder,
    batch: SourceBatch,
    result: Result<crate::batch::Decoded, SchemaError>,
}

impl Decoding {
    /// Decode the lines into columns: the costly part, and pure.
    pub fn run(mut self) -> Decoded {
        let result = self.decoder.decode(&lines_of(&self.batch));
        Decoded {
            decoder: self.decoder,
            batch: self.batch,
            result,
        }
    }

    /// Records or lines in the batch.
    pub fn len(&self) -> usize {
        self.batch.len()
    }
}

/// A batch's records as lines of JSON.
fn lines_of(batch: &SourceBatch) -> Vec<&[u8]> {
    match batch {
        SourceBatch::Records(r) => r.iter().map(|r| r.payload.as_slice()).collect(),
        SourceBatch::Lines(l) => l.iter().collect(),
        // Begun as ready columns, never decoded.
        SourceBatch::Columns(_) => Vec::new(),
    }
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
            schema: None,
            declared,
            time_field: time_field.map(String::from),
            types,
            job: job.into(),
            keep_records,
            raw,
            spare: Vec::new(),
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

    /// Columns the source made itself, as the job's schema: each field
    /// taken by name and cast to its type. Event time comes from its
    /// column (a generator's is never null) or is `now`.
    fn made(&mut self, columns: RecordBatch, now: i64) -> Result<DecodedBatch, RunError> {
        let fail = |message: String| schema_error(&self.job, SchemaError::Columns { message });
        let schema = match &self.schema {
            Some(s) => s.clone(),
            None => {
                let s = match &self.declared {
                    Some(s) => s.clone(),
                    None => Arc::new(with_types(columns.schema().as_ref().clone(), &self.types)),
                };
                self.schema = Some(s.clone());
                s
            }
        };
        let arrays = schema
            .fields()
            .iter()
            .map(|f| {
                let c = columns
                    .column_by_name(f.name())
                    .ok_or_else(|| fail(format!("no column `{}`", f.name())))?;
                arrow_cast::cast(c, f.data_type())
                    .map_err(|e| fail(format!("column `{}`: {e}", f.name())))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let n = columns.num_rows();
        let rows = RecordBatch::try_new_with_options(
            schema,
            arrays,
            &arrow_array::RecordBatchOptions::new().with_row_count(Some(n)),
        )
        .map_err(|e| fail(e.to_string()))?;
        let time: Vec<i64> = match &self.time_field {
            Some(field) => {
                let c = crate::batch::rows::column(&rows, field)
                    .ok_or_else(|| fail(format!("no event-time column `{field}`")))?;
                times(&c)
                    .into_iter()
                    .collect::<Option<_>>()
                    .ok_or_else(|| fail(format!("event-time column `{field}` has nulls")))?
            }
            None => vec![now; n],
        };
        Ok(DecodedBatch {
            records: Vec::new(),
            columns: Columns { batch: rows, time },
            inputs: vec![0; n],
        })
    }

    /// The batches' schema: the declared one, or the one inferred from
    /// `lines`, the first batch's.
    fn schema(&mut self, lines: &[&[u8]]) -> Result<SchemaRef, RunError> {
        if self.schema.is_none() {
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
            self.schema = Some(schema);
        }
        Ok(self.schema.clone().expect("set above"))
    }

    fn schema_error(&self, e: SchemaError) -> RunError {
        schema_error(&self.job, e)
    }

    /// Start decoding `batch`: a raw batch is ready at once; JSON lines
    /// get a decoder of the job's schema (inferred from this batch if it is
    /// the first), to run with [`Decoding::run`] anywhere, then
    /// [`ColumnDecoder::finish`] here, in order.
    pub fn begin(&mut self, batch: SourceBatch, now: i64) -> Result<Begun, RunError> {
        if self.raw {
            return self.raw_batch(batch, now).map(Begun::Ready);
        }
        if let SourceBatch::Columns(columns) = batch {
            return self.made(columns, now).map(Begun::Ready);
        }
        let decoder = match self.spare.pop() {
            Some(d) => d,
            None => {
                let schema = self.schema(&lines_of(&batch))?;
                JsonDecoder::new(schema).map_err(|e| self.schema_error(e))?
            }
        };
        Ok(Begun::Json(Decoding { decoder, batch }))
    }

    /// The rest of a batch's decoding, in the source's order: dead letters
    /// for what did not fit, event times, the records kept beside the
    /// columns. The decoder goes back to be used again.
    pub fn finish(
        &mut self,
        done: Decoded,
        now: i64,
        epoch: u64,
        side: &SideOutputs,
        source: &dyn Source,
    ) -> Result<DecodedBatch, RunError> {
        let Decoded {
            decoder,
            batch,
            result,
        } = done;
        self.spare.push(decoder);
        let decoded = result.map_err(|e| self.schema_error(e))?;
        let lines = lines_of(&batch);
        let origin: Vec<Origin> = match &batch {
            SourceBatch::Records(r) => r.iter().map(|r| (r.input, r.offset, r.timestamp)).collect(),
            SourceBatch::Lines(l) => (0..l.len()).map(|i| (0, l.number(i), None)).collect(),
            SourceBatch::Columns(_) => Vec::new(),
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
