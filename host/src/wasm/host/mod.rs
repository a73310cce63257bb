//! Host implementations of the contract's imports, one file per interface.
//!
//! They work on a [`WeirView`] borrowed from the store's data: the host
//! context of this instance plus its resource table (as in wasmtime's
//! `wasi-config`).

pub mod handle;
pub mod keyed_context;
pub mod keyed_v2;
pub mod log;
pub mod state;
pub mod timers;

use super::StoreData;
use crate::state::KeyedStateBackend;
use crate::state::timers::Timers;
use std::sync::Arc;
use wasmtime::component::{HasData, ResourceTable};

/// Who an instance runs for, for log lines and errors.
#[derive(Debug, Clone)]
pub struct OperatorId {
    /// The job's name.
    pub job: Arc<str>,
    /// The operator's name in the job.
    pub operator: Arc<str>,
    /// The subtask index.
    pub subtask: usize,
    /// Nanoseconds spent in calls of this operator, summed over its
    /// subtasks (shared by them): its busy time, for metrics.
    pub busy_ns: Arc<std::sync::atomic::AtomicU64>,
}

/// Keyed-only host context: state, timers and the current key.
pub struct KeyedCtx {
    /// This subtask's state partition.
    pub backend: Box<dyn KeyedStateBackend>,
    /// Where this subtask's timers are (they live in `backend`).
    pub timers: Timers,
    /// Keys of the batch (or fired timers) being processed, by index.
    pub batch_keys: Vec<Vec<u8>>,
    /// The selected key, once `select` was called in this call.
    pub current: Option<usize>,
    /// The last `select` the host refused (an index past the batch).
    pub refused_select: Option<String>,
    /// Watermark visible to the guest.
    pub watermark: i64,
    /// Processing time visible to the guest.
    pub processing_time: i64,
}

impl KeyedCtx {
    /// A fresh context over the state backend of keyed subtask `subtask`
    /// of `parallelism`.
    pub fn new(backend: Box<dyn KeyedStateBackend>, subtask: usize, parallelism: usize) -> Self {
        Self {
            backend,
            timers: Timers::new(subtask, parallelism),
            batch_keys: Vec::new(),
            current: None,
            refused_select: None,
            watermark: crate::event::MIN_WATERMARK,
            processing_time: 0,
        }
    }
}

/// Host data of one instance for weir's own interfaces.
pub struct HostCtx {
    /// Who this instance is.
    pub id: OperatorId,
    /// Present for instances of the `keyed` world.
    pub keyed: Option<KeyedCtx>,
    /// The guest's last error-level log line (a panic message, typically),
    /// attached to the error if the call then traps.
    pub last_error: Option<String>,
    /// The job's budgets: guest logs are held to its log rate.
    pub budgets: Arc<crate::budget::Budgets>,
    /// Set when a `log` call broke the log rate (the call then traps).
    pub log_flood: Option<crate::budget::LogFlood>,
    /// The instance's linear memory limit: the most the host hands it at once.
    pub memory_limit: usize,
}

/// A borrowed view of what the host imports need.
pub struct WeirView<'a> {
    pub(crate) ctx: &'a mut HostCtx,
    pub(crate) table: &'a mut ResourceTable,
}

/// Marker for `add_to_linker`: the imports see a [`WeirView`].
pub struct WeirHost;

impl HasData for WeirHost {
    type Data<'a> = WeirView<'a>;
}

/// The getter handed to `add_to_linker`.
pub(crate) fn view(data: &mut StoreData) -> WeirView<'_> {
    WeirView {
        ctx: &mut data.host,
        table: &mut data.table,
    }
}

impl WeirView<'_> {
    /// The keyed context, or a trap if this is not a keyed instance (a
    /// component can only import state through the keyed world, so this
    /// cannot happen to a well-formed one).
    pub(crate) fn keyed(&mut self) -> wasmtime::Result<&mut KeyedCtx> {
        self.ctx.keyed.as_mut().ok_or_else(|| {
            wasmtime::format_err!("state and timers are only available to keyed operators")
        })
    }
}
