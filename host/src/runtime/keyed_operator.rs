//! A keyed Wasm operator in a keyed subtask: records in one call per batch,
//! then due timers in one call per round. Its state and its timers live in
//! the subtask's state backend, so one snapshot of the backend holds both.
//!
//! The guest reads JSON events (`weir:dataflow@0.1`) or typed columns
//! (`0.2`); both keep their state and timers in the same host context, so
//! a live swap from one contract to the other keeps them.

use super::RunError;
use crate::event::Event;
use crate::state::KeyedStateBackend;
use crate::state::timers::Domain;
use crate::wasm::World;
use crate::wasm::bindings::{FiredTimer, Output, TimeDomain};
use crate::wasm::column_keyed::{ColumnKeyedInstance, Fired};
use crate::wasm::columnar::ColumnOutput;
use crate::wasm::columns::Rows;
use crate::wasm::host::KeyedCtx;
use crate::wasm::instance::{InstanceSpec, KeyedInstance};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

/// Rounds of timers at one time before the job is failed: a handler that
/// registers timers already due would otherwise spin forever.
const MAX_TIMER_ROUNDS: usize = 10_000;

/// The keyed operator of one subtask.
pub(super) struct KeyedOperator {
    instance: Guest,
    job: String,
    operator: String,
    /// The version running, and the subtask it runs for (to remake it).
    planned: crate::plan::PlannedOperator,
    subtask: usize,
}

/// The guest, by contract.
enum Guest {
    /// Over JSON events.
    Events(KeyedInstance),
    /// Over typed columns.
    Columns(Box<ColumnKeyedInstance>),
}

impl Guest {
    fn new(spec: &InstanceSpec<'_>, world: World, ctx: KeyedCtx) -> Result<Self, RunError> {
        Ok(match world {
            World::ColumnKeyed => Guest::Columns(Box::new(ColumnKeyedInstance::new(spec, ctx)?)),
            _ => Guest::Events(KeyedInstance::new(spec, ctx)?),
        })
    }
    fn ctx(&mut self) -> &mut KeyedCtx {
        match self {
            Guest::Events(i) => i.ctx(),
            Guest::Columns(i) => i.ctx(),
        }
    }
    fn into_ctx(self) -> KeyedCtx {
        match self {
            Guest::Events(i) => i.into_ctx(),
            Guest::Columns(i) => i.into_ctx(),
        }
    }
}

/// What timers made: events, or rows of the operator's output columns
/// with each row's key.
pub(super) enum TimerOutput {
    /// From an operator over events.
    Events(Vec<Event>),
    /// From an operator over columns.
    Columns {
        /// The rows.
        rows: Rows,
        /// Row i's key.
        keys: Vec<Vec<u8>>,
    },
}

impl KeyedOperator {
    pub(super) fn new(
        plan: &crate::plan::Plan,
        op: &crate::plan::PlannedOperator,
        subtask: usize,
        backend: Box<dyn KeyedStateBackend>,
    ) -> Result<Self, RunError> {
        let ctx = KeyedCtx::new(backend, subtask, plan.job.spec.parallelism);
        let spec = plan.instance_spec(op, subtask);
        let instance = Guest::new(&spec, op.component.world, ctx)?;
        Ok(Self {
            instance,
            job: plan.job.spec.name.clone(),
            operator: op.spec.name.clone(),
            planned: op.clone(),
            subtask,
        })
    }

    /// The operator's name in the job.
    pub(super) fn name(&self) -> &str {
        &self.operator
    }

    /// The same operator as a new version `op`: a new instance over the
    /// same state backend and timers (host-owned, so nothing is copied).
    pub(super) fn swap(
        self,
        plan: &crate::plan::Plan,
        op: &crate::plan::PlannedOperator,
        subtask: usize,
    ) -> Result<Self, RunError> {
        let ctx = self.instance.into_ctx();
        let spec = plan.instance_spec(op, subtask);
        let instance = Guest::new(&spec, op.component.world, ctx)?;
        tracing::debug!(operator = %self.operator, subtask, digest = %op.component.digest, "swapped");
        Ok(Self {
            instance,
            planned: op.clone(),
            ..self
        })
    }

    /// A fresh instance of the same version over the same state (one
    /// whose memory crept up is remade so).
    pub(super) fn renew(self, plan: &crate::plan::Plan) -> Result<Self, RunError> {
        let (op, subtask) = (self.planned.clone(), self.subtask);
        self.swap(plan, &op, subtask)
    }

    /// The subtask it runs for.
    pub(super) fn subtask(&self) -> usize {
        self.subtask
    }

    /// The state backend.
    pub(super) fn backend(&mut self) -> &mut dyn crate::state::KeyedStateBackend {
        self.instance.ctx().backend.as_mut()
    }

    /// The columns it reads, if it reads columns.
    pub(super) fn reads_columns(&self) -> Option<&SchemaRef> {
        match &self.instance {
            Guest::Columns(i) => Some(i.input_schema()),
            Guest::Events(_) => None,
        }
    }

    /// The share of its memory limit the guest's memory has grown to.
    pub(super) fn memory_share(&self) -> f64 {
        match &self.instance {
            Guest::Columns(i) => i.memory_share(),
            Guest::Events(_) => 0.0,
        }
    }

    fn clocks(&mut self, watermark: i64, processing_time: i64) {
        let ctx = self.instance.ctx();
        ctx.watermark = watermark;
        ctx.processing_time = processing_time;
    }

    /// Process records; returns the output (rejections index into
    /// `records`). Only for an operator over events.
    pub(super) fn process(
        &mut self,
        records: &[Event],
        watermark: i64,
        processing_time: i64,
    ) -> Result<Output, RunError> {
        self.clocks(watermark, processing_time);
        match &mut self.instance {
            Guest::Events(i) => Ok(i.process(records)?),
            Guest::Columns(_) => unreachable!("an operator over columns is given columns"),
        }
    }

    /// Process rows of [`Self::reads_columns`] with their event times and
    /// keys. Only for an operator over columns.
    pub(super) fn process_columns(
        &mut self,
        batch: &RecordBatch,
        time: &[i64],
        keys: Vec<Vec<u8>>,
        (watermark, processing_time): (i64, i64),
    ) -> Result<ColumnOutput, RunError> {
        self.clocks(watermark, processing_time);
        match &mut self.instance {
            Guest::Columns(i) => Ok(i.process(batch, time, keys)?),
            Guest::Events(_) => unreachable!("an operator over events is given events"),
        }
    }

    /// Fire every timer due at `watermark` / `processing_time`, handing
    /// what each round made to `out`.
    pub(super) fn advance(
        &mut self,
        watermark: i64,
        processing_time: i64,
        mut out: impl FnMut(TimerOutput) -> Result<(), RunError>,
    ) -> Result<(), RunError> {
        for round in 0.. {
            if round == MAX_TIMER_ROUNDS {
                return Err(RunError::TimerStorm {
                    job: self.job.clone(),
                    operator: self.operator.clone(),
                    rounds: round,
                });
            }
            self.clocks(watermark, processing_time);
            let ctx = self.instance.ctx();
            let backend = ctx.backend.as_mut();
            let mut fired: Vec<Fired> = ctx
                .timers
                .take_due(backend, Domain::EventTime, watermark)?
                .into_iter()
                .map(|(at, key)| Fired {
                    key,
                    at,
                    domain: Domain::EventTime,
                })
                .collect();
            fired.extend(
                ctx.timers
                    .take_due(backend, Domain::ProcessingTime, processing_time)?
                    .into_iter()
                    .map(|(at, key)| Fired {
                        key,
                        at,
                        domain: Domain::ProcessingTime,
                    }),
            );
            if fired.is_empty() {
                return Ok(());
            }
            out(match &mut self.instance {
                Guest::Events(i) => {
                    let fired: Vec<FiredTimer> = fired
                        .into_iter()
                        .map(|f| FiredTimer {
                            key: f.key,
                            at: f.at,
                            domain: match f.domain {
                                Domain::EventTime => TimeDomain::EventTime,
                                Domain::ProcessingTime => TimeDomain::ProcessingTime,
                            },
                        })
                        .collect();
                    TimerOutput::Events(i.on_timer(&fired)?.events)
                }
                Guest::Columns(i) => {
                    let rows = i.on_timer(&fired)?;
                    let keys = (0..rows.batch.num_rows())
                        .map(|r| {
                            let parent = rows.parents.as_ref().map_or(r, |p| p[r] as usize);
                            fired[parent].key.clone()
                        })
                        .collect();
                    TimerOutput::Columns { rows, keys }
                }
            })?;
        }
        Ok(())
    }
}
