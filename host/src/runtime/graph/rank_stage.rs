//! The rank stage: a [`RankOperator`] per keyed subtask, over its input's
//! typed columns; after each batch, the changes to its keys' first rows.

use super::operator::{Batch, Cx, Operator};
use crate::plan::Plan;
use crate::rank::{RankError, RankOperator};
use crate::runtime::RunError;
use crate::runtime::swap::Swap;
use std::path::Path;
use std::sync::Arc;

/// Per key, the first rows of an order.
pub(super) struct Rank {
    pub(super) r: RankOperator,
    /// The job and stage, for errors.
    pub(super) job: String,
    pub(super) stage: String,
}

impl Rank {
    fn error(&self, source: RankError) -> RunError {
        match source {
            RankError::OverBudget(o) => RunError::OverBudget(o),
            source => RunError::Rank {
                job: self.job.clone(),
                stage: self.stage.clone(),
                source,
            },
        }
    }
}

impl Rank {
    /// A Window Top-N's places of the keys the watermark passed.
    fn emit(&mut self, watermark: i64, cx: &mut Cx) -> Result<(), RunError> {
        let rows = self.r.advance(watermark).map_err(|e| self.error(e))?;
        cx.emit_columns(rows)
    }
}

impl Operator for Rank {
    fn process_batch(&mut self, _: usize, batch: Batch, cx: &mut Cx) -> Result<(), RunError> {
        let Some(cols) = batch.columns else {
            if batch.records.is_empty() {
                return Ok(());
            }
            return Err(self.error(RankError::NotColumns));
        };
        let rows = self
            .r
            .process(&cols.batch, &cols.time)
            .map_err(|e| self.error(e))?;
        cx.emit_columns(rows)
    }
    fn on_watermark(&mut self, cx: &mut Cx) -> Result<(), RunError> {
        self.emit(cx.watermark, cx)
    }
    fn on_end(&mut self, cx: &mut Cx) -> Result<(), RunError> {
        self.emit(crate::event::MAX_WATERMARK, cx)
    }
    fn on_barrier(&mut self, dir: &Path) -> Result<(), RunError> {
        self.r.snapshot_into(dir).map_err(|e| self.error(e))
    }
    fn on_swap(&mut self, _: &Plan, _: usize, _: &Arc<Swap>) -> Result<(), RunError> {
        Ok(())
    }
}
