//! `weir:dataflow/timers`: per-key timers kept by the host.

use super::WeirView;
use crate::state::timers::Domain;
use crate::wasm::bindings::timers::Host;

impl WeirView<'_> {
    fn timer(&mut self, domain: Domain, at: i64, add: bool) -> wasmtime::Result<()> {
        let keyed = self.keyed()?;
        let key = super::state::current_key(keyed)?.to_vec();
        let backend = keyed.backend.as_mut();
        if add {
            keyed.timers.register(backend, domain, at, &key)?;
        } else {
            keyed.timers.delete(backend, domain, at, &key)?;
        }
        Ok(())
    }
}

impl Host for WeirView<'_> {
    fn register_event_time(&mut self, at: i64) -> wasmtime::Result<()> {
        self.timer(Domain::EventTime, at, true)
    }
    fn register_processing_time(&mut self, at: i64) -> wasmtime::Result<()> {
        self.timer(Domain::ProcessingTime, at, true)
    }
    fn delete_event_time(&mut self, at: i64) -> wasmtime::Result<()> {
        self.timer(Domain::EventTime, at, false)
    }
    fn delete_processing_time(&mut self, at: i64) -> wasmtime::Result<()> {
        self.timer(Domain::ProcessingTime, at, false)
    }
    fn current_watermark(&mut self) -> wasmtime::Result<i64> {
        Ok(self.keyed()?.watermark)
    }
    fn current_processing_time(&mut self) -> wasmtime::Result<i64> {
        Ok(self.keyed()?.processing_time)
    }
}
