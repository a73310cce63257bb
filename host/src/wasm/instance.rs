//! Instances: one per subtask, each in its own `Store`, with typed
//! batch-at-a-time calls bounded in time and memory.

use super::bindings::{self, Accumulate, Event, FinishInput, FiredTimer, Output};
use super::cpu::CpuDeadline;
use super::host::{HostCtx, KeyedCtx, OperatorId};
use super::limits::MemoryLimiter;
use super::{LoadedComponent, StoreData, WasmEngine, WasmError, sandbox};
use crate::wasm::engine::EPOCH_TICK;
use std::sync::Arc;
use wasmtime::Store;
use wasmtime::component::{InstancePre, ResourceTable};

/// Limits applied to every call of an instance.
#[derive(Debug, Clone, Copy)]
pub struct CallLimits {
    /// Linear memory, bytes.
    pub memory_bytes: usize,
    /// CPU time one call may take on its thread, ms.
    pub timeout_ms: u64,
    /// Most records a call may emit per record (or fired timer) it got.
    pub max_output_per_record: usize,
    /// Most bytes one call may hand the host: what lifting its result (or
    /// one host call's arguments) may copy.
    pub max_output_bytes: usize,
}

/// Everything needed to create one instance of an operator.
pub struct InstanceSpec<'a> {
    /// The engine.
    pub engine: &'a WasmEngine,
    /// The checked component.
    pub component: &'a LoadedComponent,
    /// Job, operator and subtask, for logs and errors.
    pub id: OperatorId,
    /// WASI capabilities granted.
    pub grants: &'a [String],
    /// Memory and time limits.
    pub limits: CallLimits,
    /// The operator's config (JSON) for `init`.
    pub config: &'a str,
    /// The job's budgets (guest logs are held to its log rate).
    pub budgets: std::sync::Arc<crate::budget::Budgets>,
}

/// A guest's error for a whole call, in either contract version.
pub(super) trait GuestError {
    /// Its message.
    fn into_message(self) -> String;
}

impl GuestError for bindings::OperatorError {
    fn into_message(self) -> String {
        self.message
    }
}

impl GuestError for bindings::v2::weir::dataflow::types::OperatorError {
    fn into_message(self) -> String {
        self.message
    }
}

/// The store plus what errors need to say where they happened.
pub(super) struct Guarded {
    pub(super) store: Store<StoreData>,
    pub(super) limits: CallLimits,
    /// The engine's running calls (its epoch ticks only while one runs).
    calls: Arc<crate::activity::Activity>,
}

impl Guarded {
    /// The share of its memory limit the instance's linear memory has
    /// grown to (memory never shrinks), 0.0–1.0.
    pub(super) fn memory_share(&self) -> f64 {
        let l = &self.store.data().limiter;
        l.high_water as f64 / l.max_memory.max(1) as f64
    }

    /// The state context of a keyed instance.
    pub(super) fn keyed_ctx(&mut self) -> &mut KeyedCtx {
        self.store
            .data_mut()
            .host
            .keyed
            .as_mut()
            .expect("a keyed instance always has a keyed context")
    }

    /// Give up a keyed instance, keeping its state context.
    pub(super) fn into_keyed_ctx(self) -> KeyedCtx {
        self.store
            .into_data()
            .host
            .keyed
            .expect("a keyed instance always has a keyed context")
    }

    /// The keys a call's `select(i)` chooses from; none chosen yet.
    pub(super) fn begin_keys(&mut self, keys: Vec<Vec<u8>>) {
        let ctx = self.keyed_ctx();
        ctx.batch_keys = keys;
        ctx.current = None;
        ctx.refused_select = None;
    }

    fn new(spec: &InstanceSpec<'_>, keyed: Option<KeyedCtx>) -> Guarded {
        let limits = spec.limits;
        let data = StoreData {
            wasi: sandbox::wasi_ctx(spec.grants),
            table: ResourceTable::new(),
            host: HostCtx {
                id: spec.id.clone(),
                keyed,
                last_error: None,
                budgets: spec.budgets.clone(),
                log_flood: None,
                memory_limit: limits.memory_bytes,
            },
            limiter: MemoryLimiter::new(limits.memory_bytes),
            cpu: CpuDeadline::default(),
        };
        let mut store = Store::new(spec.engine.engine(), data);
        store.limiter(|d| &mut d.limiter);
        // Everything a guest hands the host in one call — its result, or
        // one host call's arguments — is copied within this many bytes, so
        // a list whose elements alias one buffer a million times cannot
        // make the host allocate without end.
        store.set_hostcall_fuel(limits.max_output_bytes);
        // The deadline is CPU time: at each epoch deadline, compare the
        // thread's CPU time since the call began with the limit, and give
        // the guest the ticks it has left (time waiting for a core does
        // not count against it).
        let limit = std::time::Duration::from_millis(limits.timeout_ms);
        store.epoch_deadline_callback(move |mut ctx| {
            let cpu = &mut ctx.data_mut().cpu;
            let used = cpu.used();
            if used >= limit {
                cpu.exhausted = Some(used);
                return Ok(wasmtime::UpdateDeadline::Interrupt);
            }
            Ok(wasmtime::UpdateDeadline::Continue(ticks(limit - used)))
        });
        Guarded {
            store,
            limits,
            calls: spec.engine.calls.clone(),
        }
    }

    /// A store for `spec` with the component instantiated by `make` (the
    /// world's typed `…Pre::new(pre)?.instantiate(store)`).
    pub(super) fn instantiate<B>(
        spec: &InstanceSpec<'_>,
        keyed: Option<KeyedCtx>,
        make: impl FnOnce(InstancePre<StoreData>, &mut Store<StoreData>) -> wasmtime::Result<B>,
    ) -> Result<(Guarded, B), WasmError> {
        let mut g = Guarded::new(spec, keyed);
        // Start functions run during instantiation: they get a deadline too.
        let _running = g.calls.enter();
        g.arm_deadline();
        let bindings =
            make(spec.component.pre.clone(), &mut g.store).map_err(|e| g.instantiate_err(e))?;
        Ok((g, bindings))
    }

    fn arm_deadline(&mut self) {
        self.store.data_mut().cpu.start();
        self.store
            .set_epoch_deadline(ticks(std::time::Duration::from_millis(
                self.limits.timeout_ms,
            )));
    }

    fn id(&self) -> &OperatorId {
        &self.store.data().host.id
    }

    /// Run `f` with a fresh deadline, turning traps into precise errors.
    pub(super) fn call<R, E: GuestError>(
        &mut self,
        call: &'static str,
        f: impl FnOnce(&mut Store<StoreData>) -> wasmtime::Result<Result<R, E>>,
    ) -> Result<R, WasmError> {
        let running = self.calls.enter();
        self.arm_deadline();
        self.store.data_mut().host.last_error = None;
        let started = std::time::Instant::now();
        let result = f(&mut self.store);
        drop(running);
        self.id().busy_ns.fetch_add(
            started.elapsed().as_nanos() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        let exhausted = self.store.data_mut().cpu.exhausted.take();
        // What an error says (made only for one).
        let result = match result {
            Ok(Ok(r)) => return Ok(r),
            failed => failed,
        };
        let id = self.id().clone();
        let (job, operator, subtask) = (id.job.to_string(), id.operator.to_string(), id.subtask);
        match result {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(WasmError::Operator {
                job,
                operator,
                subtask,
                call,
                message: e.into_message(),
            }),
            Err(e) => {
                if let Some(requested) = self.store.data_mut().limiter.refused.take() {
                    return Err(WasmError::Memory {
                        job,
                        operator,
                        subtask,
                        call,
                        limit_bytes: self.limits.memory_bytes,
                        requested_bytes: requested,
                    });
                }
                if let Some(wasmtime::Trap::Interrupt) = e.downcast_ref::<wasmtime::Trap>() {
                    return Err(WasmError::Timeout {
                        job,
                        operator,
                        subtask,
                        call,
                        timeout_ms: self.limits.timeout_ms,
                        cpu_ms: exhausted.map_or(0, |d| d.as_millis() as u64),
                    });
                }
                if let Some(flood) = self.store.data_mut().host.log_flood.take() {
                    return Err(WasmError::LogFlood(flood));
                }
                if let Some(crate::state::StateError::OverBudget(over)) =
                    e.downcast_ref::<crate::state::StateError>()
                {
                    return Err(WasmError::OverBudget(over.clone()));
                }
                if format!("{e:#}").contains(HOSTCALL_FUEL_EXHAUSTED) {
                    return Err(WasmError::OutputTooLarge {
                        job,
                        operator,
                        subtask,
                        call,
                        limit_bytes: self.limits.max_output_bytes,
                    });
                }
                let mut message = match self.store.data_mut().host.last_error.take() {
                    Some(said) => format!("{said}\n{e:#}"),
                    None => format!("{e:#}"),
                };
                // Say what the usual cause is: a guest compiled from Rust or
                // C keeps its stack in linear memory, so unbounded recursion
                // ends as an out-of-bounds access below address 0 rather
                // than as wasm's own stack overflow.
                match e.downcast_ref::<wasmtime::Trap>() {
                    Some(wasmtime::Trap::StackOverflow) => message.push_str(
                        "\n  (the operator exhausted the call stack: unbounded or too deep recursion)",
                    ),
                    Some(wasmtime::Trap::MemoryOutOfBounds) => message.push_str(
                        "\n  (an access outside the operator's memory; unbounded or too deep recursion that overflows the guest's stack ends this way)",
                    ),
                    _ => {}
                }
                Err(WasmError::Trap {
                    job,
                    operator,
                    subtask,
                    call,
                    message,
                })
            }
        }
    }

    pub(super) fn contract(&self, call: &'static str, message: String) -> WasmError {
        WasmError::Contract {
            job: self.id().job.to_string(),
            operator: self.id().operator.to_string(),
            call,
            message,
        }
    }

    fn instantiate_err(&self, e: wasmtime::Error) -> WasmError {
        let message = format!("{e:#}");
        match stale_contract(&message) {
            Some(message) => self.contract("instantiate", message),
            None => WasmError::Trap {
                job: self.id().job.to_string(),
                operator: self.id().operator.to_string(),
                subtask: self.id().subtask,
                call: "instantiate",
                message,
            },
        }
    }
}

/// What to tell the user when instantiating failed on wasmtime's `message`
/// because the component's contract types are not this host's — a
/// component built against an earlier draft of a contract version, whose
/// records or variants have since changed — or `None` for other failures.
fn stale_contract(message: &str) -> Option<String> {
    message.contains("type mismatch").then(|| {
        format!(
            "its `weir:dataflow` types do not match this host's: it was built against an earlier \
             draft of its contract version; rebuild it from source with `weir build` (wasmtime: {message})"
        )
    })
}

/// What wasmtime says when lifting a guest's data used up the store's
/// hostcall fuel (`Store::set_hostcall_fuel`): its error type is private,
/// so it is recognised by its words.
const HOSTCALL_FUEL_EXHAUSTED: &str = "fuel allocated for hostcalls has been exhausted";

/// Epoch ticks for `d` of CPU time: at least one.
fn ticks(d: std::time::Duration) -> u64 {
    (d.as_millis() as u64)
        .div_ceil(EPOCH_TICK.as_millis() as u64)
        .max(1)
}

/// Stop an output flood: more records out of one call than the limit allows
/// for the records (or timers) that went in.
fn check_flood(
    g: &Guarded,
    call: &'static str,
    out: &Output,
    inputs: usize,
) -> Result<(), WasmError> {
    let limit = inputs.max(1).saturating_mul(g.limits.max_output_per_record);
    if out.events.len() > limit {
        let id = g.id();
        return Err(WasmError::OutputFlood {
            job: id.job.to_string(),
            operator: id.operator.to_string(),
            subtask: id.subtask,
            call,
            emitted: out.events.len(),
            inputs,
            per_record: g.limits.max_output_per_record,
        });
    }
    Ok(())
}

/// Check an output's rejections point into the batch.
fn check_rejections(
    g: &Guarded,
    call: &'static str,
    out: &Output,
    batch_len: usize,
) -> Result<(), WasmError> {
    match out.rejected.iter().find(|r| r.index as usize >= batch_len) {
        Some(r) => Err(g.contract(
            call,
            format!("rejected record {} of a batch of {batch_len}", r.index),
        )),
        None => Ok(()),
    }
}

/// A map / filter / flat-map instance.
pub struct TransformInstance {
    g: Guarded,
    bindings: bindings::transform::Transform,
}

impl TransformInstance {
    /// Instantiate and `init` with the operator's config.
    pub fn new(spec: &InstanceSpec<'_>) -> Result<Self, WasmError> {
        let (mut g, bindings) = Guarded::instantiate(spec, None, |pre, store| {
            bindings::transform::TransformPre::new(pre)?.instantiate(store)
        })?;
        g.call("init", |s| {
            bindings
                .weir_dataflow_transformer()
                .call_init(s, spec.config)
        })?;
        Ok(Self { g, bindings })
    }

    /// Process one batch.
    pub fn process(&mut self, batch: &[Event]) -> Result<Output, WasmError> {
        let b = &self.bindings;
        let out = self.g.call("process", |s| {
            b.weir_dataflow_transformer().call_process(s, batch)
        })?;
        check_rejections(&self.g, "process", &out, batch.len())?;
        check_flood(&self.g, "process", &out, batch.len())?;
        Ok(out)
    }
}

/// A keyed operator instance, with its state and timers in the store.
pub struct KeyedInstance {
    g: Guarded,
    bindings: bindings::keyed::Keyed,
}

impl KeyedInstance {
    /// Instantiate over a state context and `init`.
    pub fn new(spec: &InstanceSpec<'_>, keyed: KeyedCtx) -> Result<Self, WasmError> {
        let (mut g, bindings) = Guarded::instantiate(spec, Some(keyed), |pre, store| {
            bindings::keyed::KeyedPre::new(pre)?.instantiate(store)
        })?;
        g.call("init", |s| {
            bindings
                .weir_dataflow_keyed_processor()
                .call_init(s, spec.config)
        })?;
        Ok(Self { g, bindings })
    }

    /// Give up the instance, keeping its state context (for a new version
    /// of the operator over the same state).
    pub fn into_ctx(self) -> KeyedCtx {
        self.g.into_keyed_ctx()
    }

    /// The state, timers and clocks of this instance.
    pub fn ctx(&mut self) -> &mut KeyedCtx {
        self.g.keyed_ctx()
    }

    fn begin(&mut self, keys: Vec<Vec<u8>>) {
        self.g.begin_keys(keys);
    }

    /// Process one batch; every event must have a key.
    pub fn process(&mut self, batch: &[Event]) -> Result<Output, WasmError> {
        self.begin(
            batch
                .iter()
                .map(|e| e.key.clone().unwrap_or_default())
                .collect(),
        );
        let b = &self.bindings;
        let out = self.g.call("process", |s| {
            b.weir_dataflow_keyed_processor().call_process(s, batch)
        })?;
        check_rejections(&self.g, "process", &out, batch.len())?;
        check_flood(&self.g, "process", &out, batch.len())?;
        Ok(out)
    }

    /// Deliver fired timers.
    pub fn on_timer(&mut self, fired: &[FiredTimer]) -> Result<Output, WasmError> {
        self.begin(fired.iter().map(|t| t.key.clone()).collect());
        let b = &self.bindings;
        let out = self.g.call("on-timer", |s| {
            b.weir_dataflow_keyed_processor().call_on_timer(s, fired)
        })?;
        check_flood(&self.g, "on-timer", &out, fired.len())?;
        if !out.rejected.is_empty() {
            return Err(self.g.contract(
                "on-timer",
                "rejected a timer; only records can be rejected".into(),
            ));
        }
        Ok(out)
    }
}

/// A window aggregate function instance.
pub struct AggregateInstance {
    g: Guarded,
    bindings: bindings::aggregate::Aggregate,
}

impl AggregateInstance {
    /// Instantiate and `init`.
    pub fn new(spec: &InstanceSpec<'_>) -> Result<Self, WasmError> {
        let (mut g, bindings) = Guarded::instantiate(spec, None, |pre, store| {
            bindings::aggregate::AggregatePre::new(pre)?.instantiate(store)
        })?;
        g.call("init", |s| {
            bindings
                .weir_dataflow_aggregator()
                .call_init(s, spec.config)
        })?;
        Ok(Self { g, bindings })
    }

    fn expect_len(&self, call: &'static str, got: usize, want: usize) -> Result<(), WasmError> {
        if got == want {
            Ok(())
        } else {
            Err(self
                .g
                .contract(call, format!("returned {got} results for {want} inputs")))
        }
    }

    /// New accumulators, one per input.
    pub fn add(&mut self, inputs: &[Accumulate]) -> Result<Vec<Vec<u8>>, WasmError> {
        let b = &self.bindings;
        let out = self
            .g
            .call("add", |s| b.weir_dataflow_aggregator().call_add(s, inputs))?;
        self.expect_len("add", out.len(), inputs.len())?;
        Ok(out)
    }

    /// Merged accumulators, one per pair.
    pub fn merge(&mut self, pairs: &[(Vec<u8>, Vec<u8>)]) -> Result<Vec<Vec<u8>>, WasmError> {
        let b = &self.bindings;
        let out = self.g.call("merge", |s| {
            b.weir_dataflow_aggregator().call_merge(s, pairs)
        })?;
        self.expect_len("merge", out.len(), pairs.len())?;
        Ok(out)
    }

    /// Result payloads, one per input.
    pub fn finish(&mut self, inputs: &[FinishInput]) -> Result<Vec<Vec<u8>>, WasmError> {
        let b = &self.bindings;
        let out = self.g.call("finish", |s| {
            b.weir_dataflow_aggregator().call_finish(s, inputs)
        })?;
        self.expect_len("finish", out.len(), inputs.len())?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_component_built_against_other_contract_types_is_told_to_rebuild() {
        let wasmtime = "failed to convert function to given type: type mismatch with parameters: \
                        type mismatch for field data-type: expected enum of 14 names, found 8 names";
        let said = super::stale_contract(wasmtime).expect("recognised");
        assert!(
            said.contains("rebuild it from source with `weir build`"),
            "{said}"
        );
        assert!(said.contains("expected enum of 14 names"), "{said}");
        assert!(super::stale_contract("wasm trap: unreachable").is_none());
    }
}
