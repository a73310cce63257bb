//! `weir:dataflow/state`: value, map and list state for the current key.
//!
//! Every length a guest supplies is bounded: names, map keys and values.

use super::{KeyedCtx, WeirView};
use crate::state::{StateKind, state_key};
use crate::wasm::bindings::state::{Host, HostListState, HostMapState, HostValueState};
use wasmtime::component::Resource;

/// Longest state name, in bytes.
pub const MAX_NAME: usize = 128;
/// Longest map key, in bytes.
pub const MAX_MAP_KEY: usize = 64 << 10;
/// Largest value (or whole list), in bytes.
pub const MAX_VALUE: usize = 16 << 20;

/// What a state resource handle stands for.
#[derive(Debug, Clone)]
pub struct StateHandle {
    name: String,
    kind: StateKind,
}

/// The selected key, or a trap explaining the guest's mistake.
pub(crate) fn current_key(keyed: &KeyedCtx) -> wasmtime::Result<&[u8]> {
    keyed
        .current
        .and_then(|i| keyed.batch_keys.get(i))
        .map(Vec::as_slice)
        .ok_or_else(|| {
            wasmtime::format_err!("state or timer used before keyed-context.select chose a key")
        })
}

fn check_len(what: &str, len: usize, max: usize) -> wasmtime::Result<()> {
    if len > max {
        wasmtime::bail!("{what} is {len} bytes; the limit is {max}");
    }
    Ok(())
}

impl WeirView<'_> {
    fn open(&mut self, name: String, kind: StateKind) -> wasmtime::Result<Resource<StateHandle>> {
        check_len("state name", name.len(), MAX_NAME)?;
        self.keyed()?;
        Ok(self.table.push(StateHandle { name, kind })?)
    }

    /// The storage key of `handle` for the current key.
    fn key_of(&mut self, handle: &Resource<StateHandle>) -> wasmtime::Result<Vec<u8>> {
        let h = self.table.get(handle)?.clone();
        let keyed = self.keyed()?;
        Ok(state_key(h.kind, &h.name, current_key(keyed)?))
    }

    fn get_at(&mut self, key: &[u8]) -> wasmtime::Result<Option<Vec<u8>>> {
        Ok(self.keyed()?.backend.get(key)?)
    }

    fn put_at(&mut self, key: Vec<u8>, value: Vec<u8>) -> wasmtime::Result<()> {
        check_len("state value", value.len(), MAX_VALUE)?;
        Ok(self.keyed()?.backend.put(key, value)?)
    }

    fn close(&mut self, handle: Resource<StateHandle>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

impl Host for WeirView<'_> {}

impl HostValueState for WeirView<'_> {
    fn new(&mut self, name: String) -> wasmtime::Result<Resource<StateHandle>> {
        self.open(name, StateKind::Value)
    }
    fn get(&mut self, h: Resource<StateHandle>) -> wasmtime::Result<Option<Vec<u8>>> {
        let k = self.key_of(&h)?;
        self.get_at(&k)
    }
    fn set(&mut self, h: Resource<StateHandle>, value: Vec<u8>) -> wasmtime::Result<()> {
        let k = self.key_of(&h)?;
        self.put_at(k, value)
    }
    fn clear(&mut self, h: Resource<StateHandle>) -> wasmtime::Result<()> {
        let k = self.key_of(&h)?;
        Ok(self.keyed()?.backend.delete(&k)?)
    }
    fn drop(&mut self, h: Resource<StateHandle>) -> wasmtime::Result<()> {
        self.close(h)
    }
}

impl HostMapState for WeirView<'_> {
    fn new(&mut self, name: String) -> wasmtime::Result<Resource<StateHandle>> {
        self.open(name, StateKind::Map)
    }
    fn get(
        &mut self,
        h: Resource<StateHandle>,
        map_key: Vec<u8>,
    ) -> wasmtime::Result<Option<Vec<u8>>> {
        check_len("map key", map_key.len(), MAX_MAP_KEY)?;
        let mut k = self.key_of(&h)?;
        k.extend_from_slice(&map_key);
        self.get_at(&k)
    }
    fn put(
        &mut self,
        h: Resource<StateHandle>,
        map_key: Vec<u8>,
        value: Vec<u8>,
    ) -> wasmtime::Result<()> {
        check_len("map key", map_key.len(), MAX_MAP_KEY)?;
        let mut k = self.key_of(&h)?;
        k.extend_from_slice(&map_key);
        self.put_at(k, value)
    }
    fn remove(&mut self, h: Resource<StateHandle>, map_key: Vec<u8>) -> wasmtime::Result<()> {
        check_len("map key", map_key.len(), MAX_MAP_KEY)?;
        let mut k = self.key_of(&h)?;
        k.extend_from_slice(&map_key);
        Ok(self.keyed()?.backend.delete(&k)?)
    }
    fn entries(&mut self, h: Resource<StateHandle>) -> wasmtime::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let prefix = self.key_of(&h)?;
        let entries = self.keyed()?.backend.scan_prefix(&prefix)?;
        Ok(entries
            .into_iter()
            .map(|(k, v)| (k[prefix.len()..].to_vec(), v))
            .collect())
    }
    fn clear(&mut self, h: Resource<StateHandle>) -> wasmtime::Result<()> {
        let prefix = self.key_of(&h)?;
        Ok(self.keyed()?.backend.delete_prefix(&prefix)?)
    }
    fn drop(&mut self, h: Resource<StateHandle>) -> wasmtime::Result<()> {
        self.close(h)
    }
}

/// Lists are stored as one value: `[len: u32 BE][bytes]` per element.
fn decode_list(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 4 <= bytes.len() {
        let n = u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]) as usize;
        i += 4;
        let end = (i + n).min(bytes.len());
        out.push(bytes[i..end].to_vec());
        i = end;
    }
    out
}

impl HostListState for WeirView<'_> {
    fn new(&mut self, name: String) -> wasmtime::Result<Resource<StateHandle>> {
        self.open(name, StateKind::List)
    }
    fn get(&mut self, h: Resource<StateHandle>) -> wasmtime::Result<Vec<Vec<u8>>> {
        let k = self.key_of(&h)?;
        Ok(self
            .get_at(&k)?
            .as_deref()
            .map(decode_list)
            .unwrap_or_default())
    }
    fn add(&mut self, h: Resource<StateHandle>, value: Vec<u8>) -> wasmtime::Result<()> {
        let k = self.key_of(&h)?;
        let mut list = self.get_at(&k)?.unwrap_or_default();
        list.extend_from_slice(&(value.len() as u32).to_be_bytes());
        list.extend_from_slice(&value);
        self.put_at(k, list)
    }
    fn clear(&mut self, h: Resource<StateHandle>) -> wasmtime::Result<()> {
        let k = self.key_of(&h)?;
        Ok(self.keyed()?.backend.delete(&k)?)
    }
    fn drop(&mut self, h: Resource<StateHandle>) -> wasmtime::Result<()> {
        self.close(h)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lists_round_trip() {
        let mut bytes = Vec::new();
        for v in [&b"a"[..], b"", b"xyz"] {
            bytes.extend_from_slice(&(v.len() as u32).to_be_bytes());
            bytes.extend_from_slice(v);
        }
        assert_eq!(
            super::decode_list(&bytes),
            vec![b"a".to_vec(), vec![], b"xyz".to_vec()]
        );
    }
}
