//! The OVER operator of one keyed subtask: rows wait in one batch until
//! the watermark passes them, then go out in time order with their
//! frames' aggregates as new columns.

use super::frame::{KeyFrame, Value};
use super::{Frame, OverAggregate, OverError, OverFunc};
use crate::batch::rows::{KeyColumn, numbers};
use crate::budget::Budgets;
use crate::event::MIN_WATERMARK;
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Field, Schema};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

/// The file of a subtask's checkpoint holding its frames.
pub const OVER_FILE: &str = "over.bin";
/// The file holding the rows still waiting for the watermark (Arrow IPC,
/// their times in a last column, [`TIME`]).
pub const OVER_ROWS_FILE: &str = "over-rows.arrow";
const TIME: &str = "__weir_time";

/// What the memory budget calls what it holds.
const WHAT: &str = "OVER rows and frames";

/// The OVER aggregation of one subtask (see the [module docs](super)).
pub struct OverOperator {
    frame: Frame,
    aggs: Vec<OverAggregate>,
    /// Per aggregate: its function, and whether it counts rows.
    funcs: Vec<(OverFunc, bool)>,
    key_field: String,
    /// The watermark reached.
    watermark: i64,
    /// Rows waiting for the watermark, with their times.
    pending: Option<(RecordBatch, Vec<i64>)>,
    /// The earliest time waiting.
    earliest: i64,
    keys: FxHashMap<Vec<u8>, KeyFrame>,
    /// Bytes the frames hold, roughly.
    frame_bytes: u64,
    budgets: Arc<Budgets>,
    charged: u64,
    /// Rows are in the order they come (processing time): none is late,
    /// even at a time a row of its key already went out at.
    arrival: bool,
}

#[derive(Serialize, Deserialize)]
struct Saved {
    watermark: i64,
    keys: Vec<(Vec<u8>, KeyFrame)>,
}

impl OverOperator {
    /// An OVER aggregation of rows keyed by column `key_field`.
    pub fn new(
        frame: Frame,
        aggs: Vec<OverAggregate>,
        key_field: &str,
        budgets: Arc<Budgets>,
    ) -> Self {
        let funcs = aggs.iter().map(|a| (a.func, a.field.is_none())).collect();
        Self {
            frame,
            aggs,
            funcs,
            key_field: key_field.into(),
            watermark: MIN_WATERMARK,
            pending: None,
            earliest: i64::MAX,
            keys: FxHashMap::default(),
            frame_bytes: 0,
            budgets,
            charged: 0,
            arrival: false,
        }
    }

    /// Rows ordered as they come, their times the processing time they
    /// were read at (Flink's `ORDER BY` a `PROCTIME()`): none is late. A
    /// row read in the same millisecond as rows of its key that went out
    /// already comes after them (in a `RANGE` frame, Flink would make
    /// them peers).
    pub fn in_arrival_order(mut self) -> Self {
        self.arrival = true;
        self
    }

    /// Rows waiting for the watermark.
    pub fn waiting(&self) -> usize {
        self.pending.as_ref().map_or(0, |(_, t)| t.len())
    }

    /// Rows of `batch` (at times `time`) come in to wait for the
    /// watermark; returns those that are late (see the module docs).
    pub fn process(&mut self, batch: &RecordBatch, time: &[i64]) -> Result<Vec<usize>, OverError> {
        let keys = KeyColumn::of(batch, &self.key_field)?;
        let mut buf = itoa::Buffer::new();
        let mut late = Vec::new();
        let mut kept = Vec::with_capacity(time.len());
        for (row, &t) in time.iter().enumerate() {
            let is_late = if self.arrival {
                false
            } else if self.frame.unbounded() {
                t <= self.watermark
            } else {
                let key = keys.key(row, &mut buf).unwrap_or_default();
                self.keys
                    .get(key)
                    .and_then(|f| f.last)
                    .is_some_and(|last| t <= last)
            };
            if is_late {
                late.push(row);
            } else {
                kept.push(row as u32);
                self.earliest = self.earliest.min(t);
            }
        }
        if kept.is_empty() {
            return Ok(late);
        }
        let (rows, times) = if late.is_empty() {
            (batch.clone(), time.to_vec())
        } else {
            let idx = UInt32Array::from(kept);
            let rows = arrow_select::take::take_record_batch(batch, &idx)?;
            (
                rows,
                idx.values().iter().map(|&i| time[i as usize]).collect(),
            )
        };
        self.pending = Some(match self.pending.take() {
            None => (rows, times),
            Some((before, mut t)) => {
                let rows =
                    arrow_select::concat::concat_batches(&before.schema(), [&before, &rows])?;
                t.extend(times);
                (rows, t)
            }
        });
        self.charge()?;
        Ok(late)
    }

    /// The watermark is `watermark`: every row waiting at or before it
    /// goes out, in time order per key, with its aggregates; returns them
    /// and their times.
    pub fn advance(
        &mut self,
        watermark: i64,
    ) -> Result<Option<(RecordBatch, Vec<i64>)>, OverError> {
        self.watermark = self.watermark.max(watermark);
        if self.earliest > self.watermark {
            return Ok(None);
        }
        let Some((batch, time)) = self.pending.take() else {
            return Ok(None);
        };
        let keys = KeyColumn::of(&batch, &self.key_field)?;
        let mut buf = itoa::Buffer::new();
        // Ready rows by (time, key), in the order they came within one.
        let mut ids: FxHashMap<Vec<u8>, u32> = FxHashMap::default();
        let mut names: Vec<Vec<u8>> = Vec::new();
        let mut ready: Vec<(i64, u32, u32)> = Vec::new();
        let mut waiting: Vec<u32> = Vec::new();
        for (row, &t) in time.iter().enumerate() {
            if t > self.watermark {
                waiting.push(row as u32);
                continue;
            }
            let key = keys.key(row, &mut buf).unwrap_or_default();
            let id = match ids.get(key) {
                Some(&id) => id,
                None => {
                    let id = names.len() as u32;
                    ids.insert(key.to_vec(), id);
                    names.push(key.to_vec());
                    id
                }
            };
            ready.push((t, id, row as u32));
        }
        ready.sort_by_key(|&(t, id, _)| (t, id));
        let values: Vec<Option<Vec<Option<f64>>>> = self
            .aggs
            .iter()
            .map(|a| {
                a.field
                    .as_ref()
                    .map(|f| numbers(&batch, f).unwrap_or_else(|| vec![None; batch.num_rows()]))
            })
            .collect();
        let mut results: Vec<Vec<Value>> = vec![Vec::with_capacity(ready.len()); self.aggs.len()];
        let mut row_values: Vec<Option<f64>> = vec![None; self.aggs.len()];
        let mut now = Vec::new();
        let mut start = 0;
        while start < ready.len() {
            let (t, id, _) = ready[start];
            let end = start
                + ready[start..]
                    .iter()
                    .take_while(|&&(t2, id2, _)| (t2, id2) == (t, id))
                    .count();
            let kf = self.keys.entry(names[id as usize].clone()).or_default();
            self.frame_bytes = self.frame_bytes.saturating_sub(kf.bytes(self.aggs.len()));
            let peers = matches!(self.frame, Frame::Range(_));
            for &(_, _, row) in &ready[start..end] {
                for (v, col) in row_values.iter_mut().zip(&values) {
                    *v = col.as_ref().and_then(|c| c[row as usize]);
                }
                kf.add(self.frame, t, &row_values);
                kf.trim(self.frame, t);
                if !peers {
                    kf.values(self.frame, &self.funcs, &mut now);
                    for (r, v) in results.iter_mut().zip(&now) {
                        r.push(*v);
                    }
                }
            }
            if peers {
                kf.values(self.frame, &self.funcs, &mut now);
                for _ in start..end {
                    for (r, v) in results.iter_mut().zip(&now) {
                        r.push(*v);
                    }
                }
            }
            kf.last = Some(t);
            self.frame_bytes += kf.bytes(self.aggs.len());
            start = end;
        }
        // What still waits.
        self.earliest = waiting
            .iter()
            .map(|&r| time[r as usize])
            .min()
            .unwrap_or(i64::MAX);
        if !waiting.is_empty() {
            let idx = UInt32Array::from(waiting);
            let rows = arrow_select::take::take_record_batch(&batch, &idx)?;
            let t = idx.values().iter().map(|&r| time[r as usize]).collect();
            self.pending = Some((rows, t));
        }
        self.charge()?;
        if ready.is_empty() {
            return Ok(None);
        }
        let idx = UInt32Array::from_iter_values(ready.iter().map(|&(_, _, r)| r));
        let out = arrow_select::take::take_record_batch(&batch, &idx)?;
        let times = ready.iter().map(|&(t, _, _)| t).collect();
        Ok(Some((self.with_results(out, results)?, times)))
    }

    /// `rows` with each aggregate's column after theirs.
    fn with_results(
        &self,
        rows: RecordBatch,
        results: Vec<Vec<Value>>,
    ) -> Result<RecordBatch, OverError> {
        let mut fields: Vec<Arc<Field>> = rows.schema().fields().iter().cloned().collect();
        let mut columns: Vec<ArrayRef> = rows.columns().to_vec();
        for (a, values) in self.aggs.iter().zip(results) {
            let column: ArrayRef = if a.func == OverFunc::Count {
                fields.push(Arc::new(Field::new(&a.output, DataType::Int64, false)));
                Arc::new(Int64Array::from_iter_values(values.into_iter().map(
                    |v| match v {
                        Value::Count(n) => n,
                        Value::Number(_) => 0,
                    },
                )))
            } else {
                fields.push(Arc::new(Field::new(&a.output, DataType::Float64, true)));
                Arc::new(Float64Array::from_iter(values.into_iter().map(
                    |v| match v {
                        Value::Number(x) => x,
                        Value::Count(n) => Some(n as f64),
                    },
                )))
            };
            columns.push(column);
        }
        Ok(RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns,
        )?)
    }

    fn charge(&mut self) -> Result<(), OverError> {
        let rows = self
            .pending
            .as_ref()
            .map_or(0, |(b, t)| b.get_array_memory_size() + t.len() * 8) as u64;
        let now = rows + self.frame_bytes;
        self.budgets.memory.resize(WHAT, self.charged, now)?;
        self.charged = now;
        Ok(())
    }

    /// Write the frames and the waiting rows into checkpoint directory `dir`.
    pub fn snapshot_into(&self, dir: &Path) -> Result<(), OverError> {
        let io = |e: std::io::Error| OverError::State(format!("{}: {e}", dir.display()));
        std::fs::create_dir_all(dir).map_err(io)?;
        let saved = Saved {
            watermark: self.watermark,
            keys: self
                .keys
                .iter()
                .map(|(k, f)| (k.clone(), f.clone()))
                .collect(),
        };
        let bytes = postcard::to_allocvec(&saved).map_err(|e| OverError::State(e.to_string()))?;
        std::fs::write(dir.join(OVER_FILE), bytes).map_err(io)?;
        if let Some((batch, time)) = &self.pending {
            let mut fields: Vec<Arc<Field>> = batch.schema().fields().iter().cloned().collect();
            fields.push(Arc::new(Field::new(TIME, DataType::Int64, false)));
            let mut columns = batch.columns().to_vec();
            columns.push(Arc::new(Int64Array::from(time.clone())));
            let with_time = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
            let file = std::fs::File::create(dir.join(OVER_ROWS_FILE)).map_err(io)?;
            let mut w = arrow_ipc::writer::FileWriter::try_new(file, &with_time.schema())?;
            w.write(&with_time)?;
            w.finish()?;
        }
        Ok(())
    }

    /// Put back what [`Self::snapshot_into`] wrote into `dir`, keeping the
    /// keys `keeps` says this subtask owns (several directories: a job
    /// rescaled).
    pub fn restore_from(
        &mut self,
        dir: &Path,
        keeps: &dyn Fn(&[u8]) -> bool,
    ) -> Result<(), OverError> {
        let io = |e: std::io::Error| OverError::State(format!("{}: {e}", dir.display()));
        let bytes = std::fs::read(dir.join(OVER_FILE)).map_err(io)?;
        let saved: Saved =
            postcard::from_bytes(&bytes).map_err(|e| OverError::State(e.to_string()))?;
        self.watermark = self.watermark.max(saved.watermark);
        for (key, f) in saved.keys.into_iter().filter(|(k, _)| keeps(k)) {
            self.frame_bytes += f.bytes(self.aggs.len());
            self.keys.insert(key, f);
        }
        let path = dir.join(OVER_ROWS_FILE);
        if path.exists() {
            let file = std::fs::File::open(&path).map_err(io)?;
            let reader = arrow_ipc::reader::FileReader::try_new(file, None)?;
            for batch in reader {
                let batch = batch?;
                let t = batch.num_columns() - 1;
                let time: Vec<i64> = batch
                    .column(t)
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .ok_or_else(|| OverError::State(format!("{}: no times", path.display())))?
                    .values()
                    .to_vec();
                let mut rows = batch;
                rows.remove_column(t);
                let keys = KeyColumn::of(&rows, &self.key_field)?;
                let mut buf = itoa::Buffer::new();
                let mine: Vec<u32> = (0..rows.num_rows())
                    .filter(|&r| keeps(keys.key(r, &mut buf).unwrap_or_default()))
                    .map(|r| r as u32)
                    .collect();
                let idx = UInt32Array::from(mine);
                let rows = arrow_select::take::take_record_batch(&rows, &idx)?;
                let time: Vec<i64> = idx.values().iter().map(|&r| time[r as usize]).collect();
                // Late-checks do not apply: these rows were on time.
                self.earliest = time.iter().copied().fold(self.earliest, i64::min);
                self.pending = Some(match self.pending.take() {
                    None => (rows, time),
                    Some((before, mut t)) => {
                        let rows = arrow_select::concat::concat_batches(
                            &before.schema(),
                            [&before, &rows],
                        )?;
                        t.extend(time);
                        (rows, t)
                    }
                });
            }
        }
        self.charge()
    }
}
