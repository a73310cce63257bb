//! `weir:dataflow/keyed-context`: which key state and timers refer to.

use super::WeirView;
use crate::wasm::bindings::keyed_context::Host;

impl Host for WeirView<'_> {
    fn select(&mut self, index: u32) -> wasmtime::Result<Result<(), String>> {
        let keyed = self.keyed()?;
        let n = keyed.batch_keys.len();
        if (index as usize) < n {
            keyed.current = Some(index as usize);
            keyed.refused_select = None;
            Ok(Ok(()))
        } else {
            // No key is current after a refused select: state used next
            // fails the call, saying why.
            let refusal = format!("select({index}): the batch has {n} elements");
            keyed.current = None;
            keyed.refused_select = Some(refusal.clone());
            Ok(Err(refusal))
        }
    }
}
