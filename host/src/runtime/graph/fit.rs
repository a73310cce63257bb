//! Fitting a keyed stage's input to the columns a Wasm guest over columns
//! reads (an aggregate, or a keyed operator): the guest names those columns
//! at `init`; a batch that has them all with their types (or an integer
//! that widens to a double) hands them over as they are, and otherwise its
//! records are decoded once into exactly those columns — a record that
//! does not fit goes to the dead-letter output with the reason.

use super::operator::keyed_events;
use super::operator::{Batch, Cx};
use crate::batch::JsonDecoder;
use crate::batch::rows::{KeyColumn, row_json};
use crate::event::Event;
use crate::runtime::RunError;
use crate::runtime::message::Columns;
use crate::runtime::side::Stage;
use arrow_array::{ArrayRef, BinaryArray, RecordBatch};
use arrow_schema::{DataType, SchemaRef, TimeUnit};
use std::sync::Arc;

/// What a guest over columns reads, and the decoder of records into it.
pub(super) struct GuestColumns {
    pub(super) schema: SchemaRef,
    decoder: Box<JsonDecoder>,
    /// Columns with NULLs the guest cannot take are handed over as they
    /// are, their rows marked [`Fitted::unadded`] (else such a batch is
    /// decoded, and those records are dead letters).
    skip_nulls: bool,
}

/// A batch fitted to a guest's columns.
pub(super) struct Fitted {
    /// Exactly the columns the guest reads.
    pub(super) input: RecordBatch,
    /// Each row's event time.
    pub(super) time: Vec<i64>,
    /// Each row's key.
    pub(super) keys: KeyColumn,
    /// Rows with a NULL in a column the guest declared not nullable
    /// (only when [`GuestColumns::skipping_nulls`]; `None`: no such row).
    pub(super) unadded: Option<Vec<bool>>,
    /// The rows as they came.
    source: Source,
}

/// The rows of a [`Fitted`] as they came.
enum Source {
    /// As columns (and their records, if the source kept them).
    Columns { records: Vec<Event>, cols: Columns },
    /// As records: those that fit.
    Events(Vec<Event>),
}

impl GuestColumns {
    /// For a guest that reads `schema`.
    pub(super) fn new(schema: SchemaRef, job: &str) -> Result<Self, RunError> {
        let decoder = JsonDecoder::new(schema.clone()).map_err(|source| RunError::Schema {
            job: job.into(),
            source,
        })?;
        Ok(Self {
            schema,
            decoder: Box::new(decoder),
            skip_nulls: false,
        })
    }

    /// Whether a NULL in a column the guest cannot take marks its row
    /// rather than failing the batch's fit.
    pub(super) fn skipping_nulls(mut self, skip: bool) -> Self {
        self.skip_nulls = skip;
        self
    }

    /// `batch` as the columns the guest reads — from its columns when they
    /// are all there, else decoded from its records (keyed by `key_field`
    /// where they have no key), those that do not fit sent to the
    /// dead-letter output at `stage` as "does not fit the columns {kind}
    /// `{name}` reads".
    pub(super) fn fit(
        &mut self,
        batch: Batch,
        key_field: Option<&str>,
        (kind, name): (&str, &str),
        stage: Stage,
        cx: &mut Cx,
    ) -> Result<Fitted, RunError> {
        let direct = match (&batch.columns, key_field) {
            (Some(cols), Some(field)) => match KeyColumn::of(&cols.batch, field) {
                Ok(KeyColumn::Missing) | Err(_) => None,
                Ok(keys) => {
                    project(&cols.batch, &self.schema, self.skip_nulls).map(|input| (input, keys))
                }
            },
            _ => None,
        };
        if let Some(((input, unadded), keys)) = direct {
            let cols = batch.columns.expect("matched above");
            return Ok(Fitted {
                input,
                time: cols.time.clone(),
                keys,
                unadded,
                source: Source::Columns {
                    records: batch.records,
                    cols,
                },
            });
        }
        let events = keyed_events(batch, key_field, cx)?;
        let lines: Vec<&[u8]> = events.iter().map(|e| e.value.as_slice()).collect();
        let decoded = self
            .decoder
            .decode(&lines)
            .map_err(|source| RunError::Schema {
                job: cx.plan.job.spec.name.clone(),
                source,
            })?;
        drop(lines);
        let mut bad = decoded.bad.into_iter().peekable();
        let mut kept = Vec::with_capacity(events.len());
        for (i, e) in events.into_iter().enumerate() {
            match bad.next_if(|b| b.line == i) {
                Some(b) => cx.side.dead_letter(
                    cx.epoch,
                    stage,
                    Some(name),
                    None,
                    &format!(
                        "does not fit the columns {kind} `{name}` reads ({}): {}",
                        crate::batch::describe(&self.schema),
                        b.reason
                    ),
                    &e.value,
                )?,
                None => kept.push(e),
            }
        }
        let keys = KeyColumn::Bytes(BinaryArray::from_iter(
            kept.iter()
                .map(|e| Some(e.key.as_deref().unwrap_or_default())),
        ));
        Ok(Fitted {
            input: decoded.batch,
            time: kept.iter().map(|e| e.timestamp).collect(),
            keys,
            unadded: None,
            source: Source::Events(kept),
        })
    }
}

impl Fitted {
    /// The schema of the rows as they came, when they came as columns.
    pub(super) fn came_as(&self) -> Option<SchemaRef> {
        match &self.source {
            Source::Columns { cols, .. } => Some(cols.batch.schema()),
            Source::Events(_) => None,
        }
    }

    /// The numbers of field `field` (a built-in aggregate's beside the
    /// guest's), one per row: `None` where a row has none.
    pub(super) fn numbers(&self, field: &str) -> Vec<Option<f64>> {
        match &self.source {
            Source::Columns { cols, .. } => crate::batch::rows::numbers(&cols.batch, field)
                .unwrap_or_else(|| vec![None; cols.len()]),
            Source::Events(kept) => kept
                .iter()
                .map(|e| crate::json::number(&e.value, field))
                .collect(),
        }
    }

    /// Row `row`'s key (empty when it has none).
    pub(super) fn key(&self, row: usize) -> Vec<u8> {
        let mut buf = itoa::Buffer::new();
        self.keys
            .key(row, &mut buf)
            .map(<[u8]>::to_vec)
            .unwrap_or_default()
    }

    /// Row `row` as a record again (set aside: late, or a dead letter):
    /// its own bytes when the source kept them, else the row as read.
    pub(super) fn event(&self, row: usize) -> Event {
        match &self.source {
            Source::Columns { records, cols } => row_event(records, cols, &self.keys, row),
            Source::Events(kept) => kept[row].clone(),
        }
    }

    /// Rows `rows` (all of them: `None`) as they came, to pass on.
    pub(super) fn select(self, rows: Option<&[u32]>, cx: &Cx) -> Result<Batch, RunError> {
        let Some(rows) = rows else {
            return Ok(match self.source {
                Source::Columns { records, cols } => Batch {
                    records,
                    columns: Some(cols),
                },
                Source::Events(records) => Batch {
                    records,
                    columns: None,
                },
            });
        };
        let pick = |v: &[Event]| -> Vec<Event> {
            rows.iter()
                .filter_map(|&r| v.get(r as usize).cloned())
                .collect()
        };
        Ok(match self.source {
            Source::Columns { records, cols } => {
                let idx = arrow_array::UInt32Array::from(rows.to_vec());
                let batch =
                    arrow_select::take::take_record_batch(&cols.batch, &idx).map_err(|e| {
                        RunError::Exchange {
                            job: cx.plan.job.spec.name.clone(),
                            stage: cx.stage.into(),
                            what: "selected",
                            message: e.to_string(),
                        }
                    })?;
                Batch {
                    records: pick(&records),
                    columns: Some(Columns {
                        batch,
                        time: rows.iter().map(|&r| cols.time[r as usize]).collect(),
                    }),
                }
            }
            Source::Events(records) => Batch {
                records: pick(&records),
                columns: None,
            },
        })
    }
}

/// Row `row` of `cols` as a record again: its own bytes when the source
/// kept them (`records`), else the row as read.
pub(super) fn row_event(records: &[Event], cols: &Columns, keys: &KeyColumn, row: usize) -> Event {
    let mut buf = itoa::Buffer::new();
    Event {
        key: keys.key(row, &mut buf).map(<[u8]>::to_vec),
        value: match records.get(row) {
            Some(e) => e.value.clone(),
            None => row_json(&cols.batch, row),
        },
        timestamp: cols.time[row],
        headers: Vec::new(),
    }
}

/// The columns of `cols` that `schema` names, if every one is there with
/// its type or one that widens to it exactly as JSON would decode (an
/// integer read as a double), and without nulls where it allows none.
fn project(
    cols: &RecordBatch,
    schema: &SchemaRef,
    skip_nulls: bool,
) -> Option<(RecordBatch, Option<Vec<bool>>)> {
    let mut unadded: Option<Vec<bool>> = None;
    let columns = schema
        .fields()
        .iter()
        .map(|f| {
            let c = cols.column_by_name(f.name())?;
            if !f.is_nullable() && c.null_count() > 0 {
                if !skip_nulls {
                    return None;
                }
                let marks = unadded.get_or_insert_with(|| vec![false; cols.num_rows()]);
                for (row, m) in marks.iter_mut().enumerate() {
                    *m |= c.is_null(row);
                }
            }
            widen(c, f.data_type())
        })
        .collect::<Option<Vec<_>>>()?;
    let batch = match unadded {
        // Its NULLs are handed over (in a schema that allows them), never
        // read: their rows are in no group.
        Some(_) => {
            let fields: Vec<_> = schema
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_nullable(true))
                .collect();
            RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), columns)
        }
        None => RecordBatch::try_new(schema.clone(), columns),
    };
    Some((batch.ok()?, unadded))
}

/// Column `c` as type `to`, where that loses nothing a JSON decode into
/// `to` would keep.
fn widen(c: &ArrayRef, to: &DataType) -> Option<ArrayRef> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{
        Float32Type, Float64Type, Int32Type, Int64Type, TimestampMillisecondType,
    };
    if c.data_type() == to {
        return Some(c.clone());
    }
    let ms = DataType::Timestamp(TimeUnit::Millisecond, None);
    Some(match (c.data_type(), to) {
        (DataType::Int64, DataType::Float64) => Arc::new(
            c.as_primitive::<Int64Type>()
                .unary::<_, Float64Type>(|x| x as f64),
        ),
        (DataType::Int32, DataType::Float64) => Arc::new(
            c.as_primitive::<Int32Type>()
                .unary::<_, Float64Type>(f64::from),
        ),
        (DataType::Float32, DataType::Float64) => Arc::new(
            c.as_primitive::<Float32Type>()
                .unary::<_, Float64Type>(f64::from),
        ),
        (DataType::Int32, DataType::Int64) => Arc::new(
            c.as_primitive::<Int32Type>()
                .unary::<_, Int64Type>(i64::from),
        ),
        (t, DataType::Int64) if *t == ms => Arc::new(
            c.as_primitive::<TimestampMillisecondType>()
                .reinterpret_cast::<Int64Type>(),
        ),
        (DataType::Int64, t) if *t == ms => Arc::new(
            c.as_primitive::<Int64Type>()
                .reinterpret_cast::<TimestampMillisecondType>(),
        ),
        // A list read with items that may be null, to a guest's list whose
        // items are never null: the same buffers when none is.
        (DataType::List(from), DataType::List(item)) if from.data_type() == item.data_type() => {
            let l = c.as_list::<i32>();
            Arc::new(
                arrow_array::ListArray::try_new(
                    item.clone(),
                    l.offsets().clone(),
                    l.values().clone(),
                    arrow_array::Array::nulls(l).cloned(),
                )
                .ok()?,
            )
        }
        _ => return None,
    })
}
