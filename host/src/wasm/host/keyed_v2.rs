//! The 0.2 contract's `state`, `timers` and `keyed-context`: the same
//! interfaces as 0.1's, so each call is the 0.1 implementation's (state,
//! bounds and budgets are one code path for both contracts).

use super::WeirView;
use super::handle::StateHandle;
use crate::wasm::bindings::v2::weir::dataflow as v2;
use crate::wasm::bindings::{keyed_context, state, timers};
use wasmtime::component::Resource;

type Handle = Resource<StateHandle>;
type Bytes = Vec<u8>;

impl v2::state::Host for WeirView<'_> {}

impl v2::state::HostValueState for WeirView<'_> {
    fn new(&mut self, name: String) -> wasmtime::Result<Handle> {
        state::HostValueState::new(self, name)
    }
    fn get(&mut self, h: Handle) -> wasmtime::Result<Option<Bytes>> {
        state::HostValueState::get(self, h)
    }
    fn set(&mut self, h: Handle, value: Bytes) -> wasmtime::Result<()> {
        state::HostValueState::set(self, h, value)
    }
    fn clear(&mut self, h: Handle) -> wasmtime::Result<()> {
        state::HostValueState::clear(self, h)
    }
    fn drop(&mut self, h: Handle) -> wasmtime::Result<()> {
        state::HostValueState::drop(self, h)
    }
}

impl v2::state::HostMapState for WeirView<'_> {
    fn new(&mut self, name: String) -> wasmtime::Result<Handle> {
        state::HostMapState::new(self, name)
    }
    fn get(&mut self, h: Handle, map_key: Bytes) -> wasmtime::Result<Option<Bytes>> {
        state::HostMapState::get(self, h, map_key)
    }
    fn put(&mut self, h: Handle, map_key: Bytes, value: Bytes) -> wasmtime::Result<()> {
        state::HostMapState::put(self, h, map_key, value)
    }
    fn remove(&mut self, h: Handle, map_key: Bytes) -> wasmtime::Result<()> {
        state::HostMapState::remove(self, h, map_key)
    }
    fn entries(&mut self, h: Handle) -> wasmtime::Result<Vec<(Bytes, Bytes)>> {
        state::HostMapState::entries(self, h)
    }
    fn clear(&mut self, h: Handle) -> wasmtime::Result<()> {
        state::HostMapState::clear(self, h)
    }
    fn drop(&mut self, h: Handle) -> wasmtime::Result<()> {
        state::HostMapState::drop(self, h)
    }
}

impl v2::state::HostListState for WeirView<'_> {
    fn new(&mut self, name: String) -> wasmtime::Result<Handle> {
        state::HostListState::new(self, name)
    }
    fn get(&mut self, h: Handle) -> wasmtime::Result<Vec<Bytes>> {
        state::HostListState::get(self, h)
    }
    fn add(&mut self, h: Handle, value: Bytes) -> wasmtime::Result<()> {
        state::HostListState::add(self, h, value)
    }
    fn clear(&mut self, h: Handle) -> wasmtime::Result<()> {
        state::HostListState::clear(self, h)
    }
    fn drop(&mut self, h: Handle) -> wasmtime::Result<()> {
        state::HostListState::drop(self, h)
    }
}

impl v2::timers::Host for WeirView<'_> {
    fn register_event_time(&mut self, at: i64) -> wasmtime::Result<()> {
        timers::Host::register_event_time(self, at)
    }
    fn register_processing_time(&mut self, at: i64) -> wasmtime::Result<()> {
        timers::Host::register_processing_time(self, at)
    }
    fn delete_event_time(&mut self, at: i64) -> wasmtime::Result<()> {
        timers::Host::delete_event_time(self, at)
    }
    fn delete_processing_time(&mut self, at: i64) -> wasmtime::Result<()> {
        timers::Host::delete_processing_time(self, at)
    }
    fn current_watermark(&mut self) -> wasmtime::Result<i64> {
        timers::Host::current_watermark(self)
    }
    fn current_processing_time(&mut self) -> wasmtime::Result<i64> {
        timers::Host::current_processing_time(self)
    }
}

impl v2::keyed_context::Host for WeirView<'_> {
    fn select(&mut self, index: u32) -> wasmtime::Result<Result<(), String>> {
        keyed_context::Host::select(self, index)
    }
}
