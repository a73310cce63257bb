//! A keyed Wasm operator in a keyed subtask: records in one call per batch,
//! then due timers in one call per round. Its state and its timers live in
//! the subtask's state backend, so one snapshot of the backend holds both.

use super::RunError;
use crate::event::Event;
use crate::state::KeyedStateBackend;
use crate::state::timers::Domain;
use crate::wasm::bindings::{FiredTimer, Output, TimeDomain};
use crate::wasm::host::KeyedCtx;
use crate::wasm::instance::KeyedInstance;

/// Rounds of timers at one time before the job is failed: a handler that
/// registers timers already due would otherwise spin forever.
const MAX_TIMER_ROUNDS: usize = 10_000;

/// The keyed operator of one subtask.
pub(super) struct KeyedOperator {
    instance: KeyedInstance,
    job: String,
    operator: String,
}

impl KeyedOperator {
    pub(super) fn new(
        plan: &crate::plan::Plan,
        op: &crate::plan::PlannedOperator,
        subtask: usize,
        backend: Box<dyn KeyedStateBackend>,
    ) -> Result<Self, RunError> {
        let ctx = KeyedCtx::new(backend, subtask, plan.job.spec.parallelism);
        let instance = KeyedInstance::new(&plan.instance_spec(op, subtask), ctx)?;
        Ok(Self {
            instance,
            job: plan.job.spec.name.clone(),
            operator: op.spec.name.clone(),
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
        let instance = KeyedInstance::new(&plan.instance_spec(op, subtask), ctx)?;
        tracing::debug!(operator = %self.operator, subtask, digest = %op.component.digest, "swapped");
        Ok(Self { instance, ..self })
    }

    /// The state backend.
    pub(super) fn backend(&mut self) -> &mut dyn crate::state::KeyedStateBackend {
        self.instance.ctx().backend.as_mut()
    }

    /// Process records; returns the output (rejections index into `records`).
    pub(super) fn process(
        &mut self,
        records: &[Event],
        watermark: i64,
        processing_time: i64,
    ) -> Result<Output, RunError> {
        let ctx = self.instance.ctx();
        ctx.watermark = watermark;
        ctx.processing_time = processing_time;
        Ok(self.instance.process(records)?)
    }

    /// Fire every timer due at `watermark` / `processing_time`.
    pub(super) fn advance(
        &mut self,
        watermark: i64,
        processing_time: i64,
        out: &mut Vec<Event>,
    ) -> Result<(), RunError> {
        for round in 0.. {
            if round == MAX_TIMER_ROUNDS {
                return Err(RunError::TimerStorm {
                    job: self.job.clone(),
                    operator: self.operator.clone(),
                    rounds: round,
                });
            }
            let ctx = self.instance.ctx();
            ctx.watermark = watermark;
            ctx.processing_time = processing_time;
            let backend = ctx.backend.as_mut();
            let mut fired: Vec<FiredTimer> = ctx
                .timers
                .take_due(backend, Domain::EventTime, watermark)?
                .into_iter()
                .map(|(at, key)| FiredTimer {
                    key,
                    at,
                    domain: TimeDomain::EventTime,
                })
                .collect();
            fired.extend(
                ctx.timers
                    .take_due(backend, Domain::ProcessingTime, processing_time)?
                    .into_iter()
                    .map(|(at, key)| FiredTimer {
                        key,
                        at,
                        domain: TimeDomain::ProcessingTime,
                    }),
            );
            if fired.is_empty() {
                return Ok(());
            }
            out.extend(self.instance.on_timer(&fired)?.events);
        }
        Ok(())
    }
}
