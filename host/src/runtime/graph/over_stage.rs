//! The OVER stage: an [`OverOperator`] per keyed subtask, over its
//! input's typed columns.

use super::operator::{At, Batch, Cx, Operator};
use crate::over::{OverError, OverOperator};
use crate::plan::Plan;
use crate::runtime::RunError;
use crate::runtime::message::Columns;
use crate::runtime::swap::Swap;
use std::path::Path;
use std::sync::Arc;

/// Rows with aggregates over their key's frame.
pub(super) struct Over {
    pub(super) o: OverOperator,
    /// Ordered by processing time: each batch's rows take the time it is
    /// read at and go out at once, in the order they came.
    pub(super) processing: bool,
    /// The job and stage, for errors.
    pub(super) job: String,
    pub(super) stage: String,
}

impl Over {
    fn error(&self, source: OverError) -> RunError {
        match source {
            OverError::OverBudget(o) => RunError::OverBudget(o),
            source => RunError::Over {
                job: self.job.clone(),
                stage: self.stage.clone(),
                source,
            },
        }
    }

    fn emit(&mut self, watermark: i64, cx: &mut Cx) -> Result<(), RunError> {
        let rows = self.o.advance(watermark).map_err(|e| self.error(e))?;
        cx.emit_columns(rows)
    }
}

impl Operator for Over {
    fn process_batch(&mut self, _: usize, batch: Batch, cx: &mut Cx) -> Result<(), RunError> {
        let Some(cols) = batch.columns else {
            if batch.records.is_empty() {
                return Ok(());
            }
            return Err(self.error(OverError::NotColumns));
        };
        if self.processing {
            // The clock never goes back: no row is late.
            let now = cx.processing_time;
            let time = vec![now; cols.batch.num_rows()];
            self.o
                .process(&cols.batch, &time)
                .map_err(|e| self.error(e))?;
            return self.emit(now, cx);
        }
        let late = self
            .o
            .process(&cols.batch, &cols.time)
            .map_err(|e| self.error(e))?;
        if !late.is_empty() {
            let idx = arrow_array::UInt32Array::from_iter_values(late.iter().map(|&r| r as u32));
            let rows = arrow_select::take::take_record_batch(&cols.batch, &idx)
                .map_err(|e| self.error(e.into()))?;
            let time = late.iter().map(|&r| cols.time[r]).collect();
            let at = At {
                job: &cx.plan.job.spec.name,
                stage: cx.stage,
            };
            let late = Batch {
                records: Vec::new(),
                columns: Some(Columns { batch: rows, time }),
            }
            .into_events(at)?;
            cx.side.late(cx.epoch, &late)?;
        }
        Ok(())
    }
    fn on_watermark(&mut self, cx: &mut Cx) -> Result<(), RunError> {
        if self.processing {
            return Ok(());
        }
        self.emit(cx.watermark, cx)
    }
    fn on_end(&mut self, cx: &mut Cx) -> Result<(), RunError> {
        self.emit(crate::event::MAX_WATERMARK, cx)
    }
    fn on_barrier(&mut self, dir: &Path) -> Result<(), RunError> {
        self.o.snapshot_into(dir).map_err(|e| self.error(e))
    }
    fn on_swap(&mut self, _: &Plan, _: usize, _: &Arc<Swap>) -> Result<(), RunError> {
        Ok(())
    }
}
