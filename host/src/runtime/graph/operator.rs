//! One trait for what a stage does, driven by [`super::driver`].
//!
//! The driver calls, per step: [`Operator::process_batch`] for each
//! input's records, then [`Operator::on_watermark`] with the step's
//! watermark; at a barrier [`Operator::on_barrier`] (write state into the
//! checkpoint); at a live swap [`Operator::on_swap`]; at the end of input
//! [`Operator::on_end`] (fire everything). Records an operator emits go
//! into [`Cx::out`]; records it sets aside go to the side outputs.

use crate::event::{Event, Timestamp};
use crate::plan::Plan;
use crate::runtime::RunError;
use crate::runtime::message::Columns;
use crate::runtime::side::SideOutputs;
use crate::runtime::swap::Swap;
use std::path::Path;
use std::sync::Arc;

/// What an operator sees of the step it is in.
pub(super) struct Cx<'a> {
    /// The job.
    pub plan: &'a Plan,
    /// The epoch the step belongs to (for side outputs).
    pub epoch: u64,
    /// The event-time watermark after the step (the lowest of the
    /// inputs'); at the end of input, the end of time.
    pub watermark: Timestamp,
    /// When the source read the step's records.
    pub processing_time: i64,
    /// Late records and dead letters.
    pub side: &'a SideOutputs,
    /// Records emitted in this step, in order.
    pub out: Vec<Event>,
    /// Or the rows emitted only as columns, for a sink that counts them
    /// (see [`super::chain`]).
    pub columns: Option<Columns>,
}

impl Cx<'_> {
    /// Emit `records` after what was emitted so far (taking the vector
    /// itself when it is the first: no copy of a whole batch).
    pub fn emit(&mut self, mut records: Vec<Event>) {
        if self.out.is_empty() {
            self.out = records;
        } else {
            self.out.append(&mut records);
        }
    }
}

/// One input's part of a step.
pub(in crate::runtime) struct Batch {
    /// The records.
    pub records: Vec<Event>,
    /// The same rows as columns, when the source decoded them for
    /// operators over columns (then `records` may be empty: see
    /// [`crate::plan::Plan::keeps_records`]).
    pub columns: Option<Columns>,
}

/// A stage's work, one instance per subtask.
pub(super) trait Operator: Send {
    /// Records of input `input` (in the order the stage lists them).
    fn process_batch(&mut self, input: usize, batch: Batch, cx: &mut Cx) -> Result<(), RunError>;

    /// Time moved to `cx.watermark` (and `cx.processing_time`) after the
    /// step's records.
    fn on_watermark(&mut self, cx: &mut Cx) -> Result<(), RunError>;

    /// Write the state into `dir` for the checkpoint at this barrier.
    fn on_barrier(&mut self, dir: &Path) -> Result<(), RunError>;

    /// A live swap reached this subtask: switch if it names one of this
    /// stage's operators.
    fn on_swap(&mut self, plan: &Plan, subtask: usize, swap: &Arc<Swap>) -> Result<(), RunError>;

    /// The input is exhausted (`cx.watermark` is the end of time): emit
    /// everything still held.
    fn on_end(&mut self, cx: &mut Cx) -> Result<(), RunError> {
        self.on_watermark(cx)
    }
}

/// Passes records on: a union, or a key-by.
pub(super) struct Pass;

impl Operator for Pass {
    fn process_batch(&mut self, _: usize, batch: Batch, cx: &mut Cx) -> Result<(), RunError> {
        cx.emit(batch.records);
        // A union of inputs with columns is never planned: only the one
        // input of a key-by before a window over columns has them.
        if batch.columns.is_some() {
            cx.columns = batch.columns;
        }
        Ok(())
    }
    fn on_watermark(&mut self, _: &mut Cx) -> Result<(), RunError> {
        Ok(())
    }
    fn on_barrier(&mut self, _: &Path) -> Result<(), RunError> {
        Ok(())
    }
    fn on_swap(&mut self, _: &Plan, _: usize, _: &Arc<Swap>) -> Result<(), RunError> {
        Ok(())
    }
}

/// Make a subtask's directory `dir` in a pending checkpoint.
pub(super) fn state_dir(dir: &Path) -> Result<(), RunError> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))
}

/// Write `bytes` as `dir/file` for a checkpoint.
pub(super) fn write_state(dir: &Path, file: &str, bytes: &[u8]) -> Result<(), RunError> {
    state_dir(dir)?;
    std::fs::write(dir.join(file), bytes).map_err(|e| io(dir, e))
}

fn io(dir: &Path, e: std::io::Error) -> RunError {
    RunError::State(crate::state::StateError::Backend {
        backend: "checkpoint",
        message: format!("{}: {e}", dir.display()),
    })
}
