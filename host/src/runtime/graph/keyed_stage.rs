//! The keyed stage: a keyed Wasm operator per keyed subtask, its state and
//! timers in the subtask's backend.
//!
//! An operator over events (`weir:dataflow@0.1`) gets the batch as keyed
//! records. One over columns (`0.2`) gets exactly the columns it named at
//! `init` — taken from the batch's columns when they are all there, else
//! decoded from its records (see [`super::fit`]) — and each row's key.
//! The rows it selects pass on as they came; the rows it emits, from
//! records or from timers, keep their parent's key and event time, and go
//! on as columns where every reader takes columns, else as JSON records
//! with their key.

use super::chain::{RECYCLE_AT, RECYCLE_EVERY};
use super::fit::GuestColumns;
use super::operator::keyed_events;
use super::operator::{Batch, Cx, Operator, state_dir};
use crate::event::Event;
use crate::plan::Plan;
use crate::runtime::RunError;
use crate::runtime::keyed_operator::{KeyedOperator, TimerOutput};
use crate::runtime::message::Columns;
use crate::runtime::side::Stage;
use crate::runtime::swap::Swap;
use arrow_array::RecordBatch;
use std::path::Path;
use std::sync::Arc;

/// A keyed Wasm operator.
pub(super) struct Keyed {
    /// Taken for a moment by a swap.
    op: Option<KeyedOperator>,
    /// The key's field.
    key_field: Option<String>,
    /// Of an operator over columns: the columns it reads.
    columns: Option<GuestColumns>,
    /// Every reader of the stage takes columns.
    columns_out: bool,
    /// Batches since the instance was made (see [`RECYCLE_AT`]).
    batches: u64,
    /// Said in the log that it reads columns.
    said: bool,
}

impl Keyed {
    /// The stage over `op`, keyed by `key_field`.
    pub(super) fn new(
        op: KeyedOperator,
        key_field: Option<String>,
        columns_out: bool,
        job: &str,
    ) -> Result<Self, RunError> {
        let columns = op
            .reads_columns()
            .map(|schema| GuestColumns::new(schema.clone(), job))
            .transpose()?;
        Ok(Self {
            op: Some(op),
            key_field,
            columns,
            columns_out,
            batches: 0,
            said: false,
        })
    }

    fn op(&mut self) -> &mut KeyedOperator {
        self.op.as_mut().expect("put back after every swap")
    }

    fn process_events(&mut self, batch: Batch, cx: &mut Cx) -> Result<(), RunError> {
        let records = keyed_events(batch, self.key_field.as_deref(), cx)?;
        let op = self.op.as_mut().expect("put back after every swap");
        let out = op.process(&records, cx.watermark, cx.processing_time)?;
        for r in &out.rejected {
            cx.side.dead_letter(
                cx.epoch,
                Stage::Operator,
                Some(op.name()),
                None,
                &r.reason,
                &records[r.index as usize].value,
            )?;
        }
        cx.emit(out.events)
    }

    fn process_columns(&mut self, batch: Batch, cx: &mut Cx) -> Result<(), RunError> {
        let op = self.op.as_mut().expect("put back after every swap");
        let name = op.name().to_string();
        let guest = self.columns.as_mut().expect("an operator over columns");
        let fitted = guest.fit(
            batch,
            self.key_field.as_deref(),
            ("keyed operator", &name),
            Stage::Operator,
            cx,
        )?;
        if let Some(schema) = fitted.came_as()
            && !self.said
        {
            self.said = true;
            tracing::info!(job = %cx.plan.job.spec.name, stage = cx.stage, operator = %name,
                schema = %crate::batch::describe(&schema),
                "the keyed operator over columns reads its input's typed columns");
        }
        let keys: Vec<Vec<u8>> = (0..fitted.time.len()).map(|r| fitted.key(r)).collect();
        let out = op.process_columns(
            &fitted.input,
            &fitted.time,
            keys.clone(),
            (cx.watermark, cx.processing_time),
        )?;
        for (row, reason) in &out.rejected {
            let e = fitted.event(*row as usize);
            cx.side.dead_letter(
                cx.epoch,
                Stage::Operator,
                Some(&name),
                None,
                reason,
                &e.value,
            )?;
        }
        let rows = out.rows;
        if rows.selected {
            let batch = fitted.select(rows.parents.as_deref(), cx)?;
            cx.emit_batch(batch)?;
        } else {
            let parent = |r: usize| rows.parents.as_ref().map_or(r, |p| p[r] as usize);
            let keys: Vec<Vec<u8>> = (0..rows.batch.num_rows())
                .map(|r| keys[parent(r)].clone())
                .collect();
            emit_rows(rows.batch, rows.time, keys, self.columns_out, &name, cx)?;
        }
        self.recycle(cx)
    }

    /// An operator over columns whose linear memory crept past
    /// [`RECYCLE_AT`] of its limit (CPython's does) is remade between two
    /// batches — at most once every [`RECYCLE_EVERY`] — over the same
    /// state: it keeps none itself.
    fn recycle(&mut self, cx: &Cx) -> Result<(), RunError> {
        self.batches += 1;
        let share = self.op().memory_share();
        if self.batches < RECYCLE_EVERY || share <= RECYCLE_AT {
            return Ok(());
        }
        let old = self.op.take().expect("put back after every swap");
        tracing::warn!(job = %cx.plan.job.spec.name, operator = %old.name(),
            subtask = old.subtask(), batches = self.batches,
            "the keyed operator's memory passed {:.0}% of its limit: continuing with a fresh instance over the same state",
            RECYCLE_AT * 100.0);
        self.op = Some(old.renew(cx.plan)?);
        self.batches = 0;
        Ok(())
    }
}

/// Rows a keyed operator over columns emitted, row i with key `keys[i]`:
/// as columns where every reader takes columns, else as JSON records.
fn emit_rows(
    batch: RecordBatch,
    time: Vec<i64>,
    keys: Vec<Vec<u8>>,
    columns_out: bool,
    operator: &str,
    cx: &mut Cx,
) -> Result<(), RunError> {
    if batch.num_rows() == 0 {
        return Ok(());
    }
    if columns_out {
        return cx.emit_batch(Batch {
            records: Vec::new(),
            columns: Some(Columns { batch, time }),
        });
    }
    let lines = crate::batch::json_lines(&batch).map_err(|source| RunError::Encode {
        job: cx.plan.job.spec.name.clone(),
        operator: operator.into(),
        source,
    })?;
    let events = lines
        .into_iter()
        .zip(time)
        .zip(keys)
        .map(|((value, timestamp), key)| Event {
            key: Some(key),
            value,
            timestamp,
            headers: Vec::new(),
        })
        .collect();
    cx.emit(events)
}

impl Operator for Keyed {
    fn process_batch(&mut self, _: usize, batch: Batch, cx: &mut Cx) -> Result<(), RunError> {
        if self.columns.is_some() {
            self.process_columns(batch, cx)
        } else {
            self.process_events(batch, cx)
        }
    }
    fn on_watermark(&mut self, cx: &mut Cx) -> Result<(), RunError> {
        let (watermark, processing_time) = (cx.watermark, cx.processing_time);
        let columns_out = self.columns_out;
        let op = self.op.as_mut().expect("put back after every swap");
        let name = op.name().to_string();
        op.advance(watermark, processing_time, |made| match made {
            TimerOutput::Events(events) => {
                cx.out_events()?.extend(events);
                Ok(())
            }
            TimerOutput::Columns { rows, keys } => {
                emit_rows(rows.batch, rows.time, keys, columns_out, &name, cx)
            }
        })
    }
    fn on_barrier(&mut self, dir: &Path) -> Result<(), RunError> {
        // State and timers: both in the backend.
        state_dir(dir)?;
        Ok(self.op().backend().snapshot_into(&dir.join("state"))?)
    }
    fn on_swap(&mut self, plan: &Plan, subtask: usize, swap: &Arc<Swap>) -> Result<(), RunError> {
        if self.op().name() != swap.operator || swap.canary.is_some() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let old = self.op.take().expect("put back after every swap");
        let new = old.swap(plan, &swap.op, subtask)?;
        // The new version may read other columns, or events.
        self.columns = new
            .reads_columns()
            .map(|schema| GuestColumns::new(schema.clone(), &plan.job.spec.name))
            .transpose()?;
        self.op = Some(new);
        self.batches = 0;
        swap.switched(started.elapsed());
        Ok(())
    }
}
