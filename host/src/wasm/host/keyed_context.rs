//! `weir:dataflow/keyed-context`: which key state and timers refer to.

use super::WeirView;
use crate::wasm::bindings::keyed_context::Host;

impl Host for WeirView<'_> {
    fn select(&mut self, index: u32) -> wasmtime::Result<Result<(), String>> {
        let keyed = self.keyed()?;
        let n = keyed.batch_keys.len();
        if (index as usize) < n {
            keyed.current = Some(index as usize);
            Ok(Ok(()))
        } else {
            Ok(Err(format!("select({index}): the batch has {n} elements")))
        }
    }
}
