//! The window stage: a [`WindowOperator`] per keyed subtask, reading its
//! input as typed columns when it can — built-in aggregates read the key,
//! time and numbers straight from the columns; a Wasm aggregate over
//! columns is handed the columns it named at `init` — and as keyed records
//! otherwise.

use super::chain::{RECYCLE_AT, RECYCLE_EVERY};
use super::fit::{GuestColumns, row_event};
use super::operator::keyed_events;
use super::operator::{Batch, Cx, Operator};
use crate::batch::rows::{KeyColumn, numbers};
use crate::event::Event;
use crate::plan::{Plan, PlannedOperator};
use crate::runtime::RunError;
use crate::runtime::message::Columns;
use crate::runtime::side::Stage;
use crate::runtime::swap::{Ready, Swap};
use crate::wasm::column_aggregate::ColumnAggregateInstance;
use crate::wasm::instance::AggregateInstance;
use crate::window::TimeMode;
use crate::window::aggregate::Aggregation;
use crate::window::operator::{Rows, WindowOperator, WindowOutput};
use arrow_schema::SchemaRef;
use std::path::Path;
use std::sync::Arc;

/// A window per key.
pub(super) struct Window {
    pub(super) w: Box<WindowOperator>,
    pub(super) mode: TimeMode,
    pub(super) agg_name: Option<String>,
    /// The key's field, read from columns when the input has them.
    pub(super) key_field: String,
    /// Built-in aggregates' fields (`None` for `count`), read from
    /// columns when the input has them (also beside a Wasm aggregate over
    /// columns); `None` for a Wasm aggregate over events.
    pub(super) fields: Option<Vec<Option<String>>>,
    /// Of a Wasm aggregate over columns: the columns it reads, and the
    /// decoder of records into them.
    pub(super) guest: Option<GuestInput>,
    /// Said in the log that it reads columns.
    pub(super) said: bool,
}

/// What a Wasm aggregate over columns reads, and what remakes it.
pub(super) struct GuestInput {
    columns: GuestColumns,
    /// The aggregate (the version running).
    op: PlannedOperator,
    /// The subtask it runs for.
    subtask: usize,
    /// Batches since its instance was made (see [`RECYCLE_AT`]).
    batches: u64,
    /// Rows with a NULL it cannot take are assigned, not added
    /// ([`crate::job::WindowSpec::skip_nulls`]).
    skip_nulls: bool,
}

impl GuestInput {
    /// For aggregate `op` of subtask `subtask`, which reads `schema`.
    pub(super) fn new(
        schema: SchemaRef,
        job: &str,
        op: PlannedOperator,
        subtask: usize,
        skip_nulls: bool,
    ) -> Result<Self, RunError> {
        Ok(Self {
            columns: GuestColumns::new(schema, job)?.skipping_nulls(skip_nulls),
            op,
            subtask,
            batches: 0,
            skip_nulls,
        })
    }
}

impl Window {
    fn emit(&mut self, out: WindowOutput, cx: &mut Cx) -> Result<(), RunError> {
        cx.side.late(cx.epoch, &out.late)?;
        for (e, reason) in &out.rejected {
            cx.side.dead_letter(
                cx.epoch,
                Stage::Aggregate,
                self.agg_name.as_deref(),
                None,
                reason,
                &e.value,
            )?;
        }
        cx.emit(out.results)?;
        for (batch, time) in out.result_columns {
            cx.emit_batch(Batch {
                records: Vec::new(),
                columns: Some(Columns { batch, time }),
            })?;
        }
        Ok(())
    }

    /// A batch for a Wasm aggregate over columns: its rows as the columns
    /// the aggregate reads — taken from the batch's columns when they are
    /// all there with their types, else decoded from the records (a record
    /// that does not fit goes to the dead-letter output).
    fn process_for_guest(&mut self, batch: Batch, cx: &mut Cx) -> Result<(), RunError> {
        self.read_for_guest(batch, cx)?;
        self.recycle(cx)
    }

    /// A guest whose linear memory crept past [`RECYCLE_AT`] of its limit
    /// (CPython's, say) is remade between two batches — at most once every
    /// [`RECYCLE_EVERY`] — instead of failing the job: it keeps no state
    /// (the host keeps the accumulators), and the new one is `init`ed with
    /// the same config.
    fn recycle(&mut self, cx: &Cx) -> Result<(), RunError> {
        let Some(guest) = &mut self.guest else {
            return Ok(());
        };
        guest.batches += 1;
        let share = self.w.guest_memory_share().unwrap_or_default();
        if guest.batches < RECYCLE_EVERY || share <= RECYCLE_AT {
            return Ok(());
        }
        tracing::warn!(job = %cx.plan.job.spec.name, aggregate = %guest.op.spec.name,
            subtask = guest.subtask, batches = guest.batches,
            "the aggregate's memory passed {:.0}% of its limit: continuing with a fresh instance",
            RECYCLE_AT * 100.0);
        let spec = cx.plan.instance_spec(&guest.op, guest.subtask);
        let fresh = ColumnAggregateInstance::new(&spec)?;
        guest.batches = 0;
        self.w.swap_aggregate(Aggregation::guest(Box::new(fresh)))?;
        Ok(())
    }

    fn read_for_guest(&mut self, batch: Batch, cx: &mut Cx) -> Result<(), RunError> {
        let guest = self
            .guest
            .as_mut()
            .expect("called for a guest over columns");
        let name = self.agg_name.as_deref().unwrap_or_default();
        let fitted = guest.columns.fit(
            batch,
            Some(&self.key_field),
            ("aggregate", name),
            Stage::Aggregate,
            cx,
        )?;
        if let Some(schema) = fitted.came_as()
            && !self.said
        {
            self.said = true;
            tracing::info!(job = %cx.plan.job.spec.name, stage = cx.stage, aggregate = name,
                schema = %crate::batch::describe(&schema),
                "the aggregate over columns reads its input's typed columns");
        }
        // The numbers of the built-in aggregates beside the guest's.
        let values: Vec<Option<Vec<Option<f64>>>> = self
            .fields
            .iter()
            .flatten()
            .map(|f| f.as_ref().map(|f| fitted.numbers(f)))
            .collect();
        let rows = Rows {
            time: &fitted.time,
            keys: &fitted.keys,
            values: &values,
            guest: Some(&fitted.input),
            unadded: fitted.unadded.as_deref(),
        };
        let mut out = WindowOutput::default();
        self.w.process_rows(&rows, cx.processing_time, &mut out)?;
        out.late = std::mem::take(&mut out.late_rows)
            .into_iter()
            .map(|row| fitted.event(row))
            .collect();
        out.rejected = std::mem::take(&mut out.rejected_rows)
            .into_iter()
            .map(|(row, reason)| (fitted.event(row), reason))
            .collect();
        self.emit(out, cx)
    }

    /// Whether to read `batch`'s columns `cols` as columns: built-in
    /// aggregates, a key column that can be a key, and aggregated fields
    /// that are numbers (or absent: every row lacks them). Otherwise the
    /// rows are read as records, as a window over events would.
    fn reads(&self, batch: &Batch, cols: &Columns, fields: &[Option<String>]) -> bool {
        use crate::batch::rows::{column, is_number_type};
        // No key column: every row lacks the key, unless its record has it.
        let key = match KeyColumn::of(&cols.batch, &self.key_field) {
            Ok(KeyColumn::Missing) => batch.records.is_empty(),
            Ok(_) => true,
            Err(_) => false,
        };
        key && fields
            .iter()
            .flatten()
            .all(|f| column(&cols.batch, f).is_none_or(|c| is_number_type(c.data_type())))
    }
}

impl Operator for Window {
    fn process_batch(&mut self, _: usize, batch: Batch, cx: &mut Cx) -> Result<(), RunError> {
        if self.guest.is_some() {
            return self.process_for_guest(batch, cx);
        }
        // (A guest over events reads records: no numbers of its own.)
        let mut out = WindowOutput::default();
        let columnar = match (&batch.columns, &self.fields) {
            // Columns beside records are the same rows: read the columns.
            (Some(cols), Some(fields)) => self.reads(&batch, cols, fields),
            _ => false,
        };
        match (batch.columns, &self.fields) {
            (Some(cols), Some(fields)) if columnar => {
                if !self.said {
                    self.said = true;
                    tracing::info!(job = %cx.plan.job.spec.name, stage = cx.stage,
                        schema = %crate::batch::describe(&cols.batch.schema()),
                        "the window reads its input as typed columns");
                }
                let keys =
                    KeyColumn::of(&cols.batch, &self.key_field).map_err(|e| RunError::Schema {
                        job: cx.plan.job.spec.name.clone(),
                        source: e,
                    })?;
                let values: Vec<Option<Vec<Option<f64>>>> = fields
                    .iter()
                    .map(|f| {
                        f.as_ref().map(|f| {
                            numbers(&cols.batch, f).unwrap_or_else(|| vec![None; cols.len()])
                        })
                    })
                    .collect();
                let rows = Rows {
                    time: &cols.time,
                    keys: &keys,
                    values: &values,
                    guest: None,
                    unadded: None,
                };
                self.w.process_rows(&rows, cx.processing_time, &mut out)?;
                let event = |row: usize| row_event(&batch.records, &cols, &keys, row);
                let late: Vec<Event> = out.late_rows.iter().map(|&r| event(r)).collect();
                let rejected: Vec<(Event, String)> = std::mem::take(&mut out.rejected_rows)
                    .into_iter()
                    .map(|(r, reason)| (event(r), reason))
                    .collect();
                out.late.extend(late);
                out.rejected.extend(rejected);
            }
            (columns, _) => {
                let batch = Batch {
                    records: batch.records,
                    columns,
                };
                let records = keyed_events(batch, Some(&self.key_field), cx)?;
                self.w
                    .process_batch(records, cx.processing_time, &mut out)?;
            }
        }
        self.emit(out, cx)
    }
    fn on_watermark(&mut self, cx: &mut Cx) -> Result<(), RunError> {
        let time = match self.mode {
            TimeMode::Event => cx.watermark,
            TimeMode::Processing => cx.processing_time,
        };
        let mut out = WindowOutput::default();
        self.w.advance(time, &mut out)?;
        self.emit(out, cx)
    }
    fn on_end(&mut self, cx: &mut Cx) -> Result<(), RunError> {
        let mut out = WindowOutput::default();
        self.w.advance(crate::event::MAX_WATERMARK, &mut out)?;
        self.emit(out, cx)
    }
    fn on_barrier(&mut self, dir: &Path) -> Result<(), RunError> {
        Ok(self.w.snapshot_into(dir)?)
    }
    fn on_swap(&mut self, plan: &Plan, subtask: usize, swap: &Arc<Swap>) -> Result<(), RunError> {
        if self.agg_name.as_deref() != Some(swap.operator.as_str()) || swap.canary.is_some() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let spec = plan.instance_spec(&swap.op, subtask);
        let new = match swap.take_ready(subtask) {
            Some(Ready::Aggregate(i)) => Aggregation::Wasm(i),
            Some(Ready::ColumnAggregate(i)) => Aggregation::guest(i),
            _ if swap.op.component.world == crate::wasm::World::ColumnAggregate => {
                Aggregation::guest(Box::new(ColumnAggregateInstance::new(&spec)?))
            }
            _ => Aggregation::Wasm(Box::new(AggregateInstance::new(&spec)?)),
        };
        if let Aggregation::Columns(i, _) = &new
            && let Some(guest) = &mut self.guest
        {
            *guest = GuestInput::new(
                i.input_schema().clone(),
                &plan.job.spec.name,
                swap.op.clone(),
                subtask,
                guest.skip_nulls,
            )?;
        }
        self.w.swap_aggregate(new)?;
        swap.switched(started.elapsed());
        Ok(())
    }
}
