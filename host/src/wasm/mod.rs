//! Running operators as WebAssembly components.
//!
//! - [`engine`]: one wasmtime `Engine` per process, with epoch interruption
//!   (every call has a deadline), an on-disk cache of compiled code keyed by
//!   the component's digest, and no async machinery on the sync call path.
//! - [`component`]: loading a component and checking it implements the
//!   world an operator needs, *before* the job starts.
//! - [`instance`]: one instance per subtask with typed, batch-at-a-time calls,
//!   each bounded in time and memory, failures turned into [`WasmError`]s
//!   that name the job, operator and limit.
//! - [`host`]: the host side of the contract's imports.
//! - [`sandbox`]: the WASI context: no capability unless granted.

pub mod bindings;
pub mod column_aggregate;
pub mod column_keyed;
pub mod columnar;
pub mod columns;
pub mod component;
pub mod cpu;
pub mod engine;
mod error;
pub mod host;
pub mod instance;
pub mod limits;
pub mod sandbox;

pub use component::{LoadedComponent, World, compatible};
pub use engine::WasmEngine;
pub use error::WasmError;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Everything a store holds for one instance.
pub struct StoreData {
    /// The (mostly empty) WASI context.
    pub wasi: WasiCtx,
    /// Resources handed to the guest.
    pub table: ResourceTable,
    /// weir's own host context.
    pub host: host::HostCtx,
    /// Memory accounting.
    pub limiter: limits::MemoryLimiter,
    /// CPU time of the call in progress.
    pub cpu: cpu::CpuDeadline,
}

impl WasiView for StoreData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
