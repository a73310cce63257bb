//! `weir:dataflow/state`: value, map and list state for the current key.
//!
//! Every length a guest supplies is bounded: names, map keys and values;
//! every write is charged to the job's budget by the backend. What a guest
//! reads back whole (`map-state.entries`, `list-state.get`) is bounded by
//! the instance's memory before the host copies it: more could not be
//! handed to the guest anyway.
//!
//! A list is stored one element per entry (`[list key][ELEMENT][index]`)
//! with its length beside it (`[list key][LENGTH]`), so `add` writes one
//! element instead of rewriting the list. Lists written by earlier
//! versions as one value are read as such and converted at their next
//! `add`.

use super::handle::StateHandle;
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

/// The selected key, or a trap explaining the guest's mistake.
pub(crate) fn current_key(keyed: &KeyedCtx) -> wasmtime::Result<&[u8]> {
    keyed
        .current
        .and_then(|i| keyed.batch_keys.get(i))
        .map(Vec::as_slice)
        .ok_or_else(|| match &keyed.refused_select {
            Some(refusal) => wasmtime::format_err!(
                "state or timer used with no key selected: the operator ignored that its last keyed-context.select was refused ({refusal})"
            ),
            None => wasmtime::format_err!(
                "state or timer used before keyed-context.select chose a key"
            ),
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

    /// Every entry under `prefix`, unless together they are more than the
    /// instance's memory could take.
    fn read_whole(&mut self, call: &str, prefix: &[u8]) -> wasmtime::Result<crate::state::Entries> {
        let limit = self.ctx.memory_limit;
        match self.keyed()?.backend.scan_prefix_bounded(prefix, limit)? {
            Some(entries) => Ok(entries),
            None => wasmtime::bail!(
                "{call}: the state is larger than the operator's memory (limits.memory = {limit} bytes) and cannot be handed to it whole; read it by key"
            ),
        }
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
        let entries = self.read_whole("map-state.entries", &prefix)?;
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

/// The entry holding a list's length, after the list's key.
const LENGTH: u8 = 0;
/// Entries holding a list's elements: `[ELEMENT][index: u32 BE]` after the
/// list's key, so a prefix scan reads them in order.
const ELEMENT: u8 = 1;
/// Longest list, in elements.
const MAX_LIST: u32 = u32::MAX;

fn suffixed(key: &[u8], tag: u8, index: Option<u32>) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 5);
    k.extend_from_slice(key);
    k.push(tag);
    if let Some(i) = index {
        k.extend_from_slice(&i.to_be_bytes());
    }
    k
}

/// Lists written as one value by earlier versions: `[len: u32 BE][bytes]`
/// per element.
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

impl WeirView<'_> {
    /// The list's length, converting a list in the old one-value layout.
    fn list_len(&mut self, key: &[u8]) -> wasmtime::Result<u32> {
        if let Some(old) = self.get_at(key)? {
            let elements = decode_list(&old);
            let backend = &mut self.keyed()?.backend;
            backend.delete(key)?;
            for (i, e) in elements.iter().enumerate() {
                backend.put(suffixed(key, ELEMENT, Some(i as u32)), e.clone())?;
            }
            let n = elements.len() as u32;
            backend.put(suffixed(key, LENGTH, None), n.to_be_bytes().to_vec())?;
            return Ok(n);
        }
        Ok(self
            .get_at(&suffixed(key, LENGTH, None))?
            .and_then(|b| <[u8; 4]>::try_from(b.as_slice()).ok())
            .map_or(0, u32::from_be_bytes))
    }
}

impl HostListState for WeirView<'_> {
    fn new(&mut self, name: String) -> wasmtime::Result<Resource<StateHandle>> {
        self.open(name, StateKind::List)
    }
    fn get(&mut self, h: Resource<StateHandle>) -> wasmtime::Result<Vec<Vec<u8>>> {
        let k = self.key_of(&h)?;
        if let Some(old) = self.get_at(&k)? {
            return Ok(decode_list(&old));
        }
        let entries = self.read_whole("list-state.get", &suffixed(&k, ELEMENT, None))?;
        Ok(entries.into_iter().map(|(_, v)| v).collect())
    }
    fn add(&mut self, h: Resource<StateHandle>, value: Vec<u8>) -> wasmtime::Result<()> {
        check_len("state value", value.len(), MAX_VALUE)?;
        let k = self.key_of(&h)?;
        let n = self.list_len(&k)?;
        if n == MAX_LIST {
            wasmtime::bail!("list-state.add: the list has {n} elements, the most a list may hold");
        }
        let backend = &mut self.keyed()?.backend;
        backend.put(suffixed(&k, ELEMENT, Some(n)), value)?;
        backend.put(suffixed(&k, LENGTH, None), (n + 1).to_be_bytes().to_vec())?;
        Ok(())
    }
    fn clear(&mut self, h: Resource<StateHandle>) -> wasmtime::Result<()> {
        let k = self.key_of(&h)?;
        // The old one-value layout, the length and the elements all start
        // with the list's key.
        Ok(self.keyed()?.backend.delete_prefix(&k)?)
    }
    fn drop(&mut self, h: Resource<StateHandle>) -> wasmtime::Result<()> {
        self.close(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::Budgets;
    use crate::state::{Entries, KeyedStateBackend, MemoryBackend, StateError};
    use crate::wasm::host::{HostCtx, KeyedCtx, OperatorId};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use wasmtime::component::ResourceTable;

    #[test]
    fn old_lists_decode() {
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

    /// A memory backend that counts the bytes written to it.
    struct Counting(MemoryBackend, Arc<AtomicU64>);

    impl KeyedStateBackend for Counting {
        fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
            self.0.get(key)
        }
        fn put(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<(), StateError> {
            self.1
                .fetch_add((key.len() + value.len()) as u64, Ordering::Relaxed);
            self.0.put(key, value)
        }
        fn delete(&mut self, key: &[u8]) -> Result<(), StateError> {
            self.0.delete(key)
        }
        fn scan_prefix(&self, prefix: &[u8]) -> Result<Entries, StateError> {
            self.0.scan_prefix(prefix)
        }
        fn scan_prefix_bounded(
            &self,
            prefix: &[u8],
            max: usize,
        ) -> Result<Option<Entries>, StateError> {
            self.0.scan_prefix_bounded(prefix, max)
        }
        fn scan_range(&self, from: &[u8], to: &[u8]) -> Result<Entries, StateError> {
            self.0.scan_range(from, to)
        }
        fn delete_prefix(&mut self, prefix: &[u8]) -> Result<(), StateError> {
            self.0.delete_prefix(prefix)
        }
        fn snapshot_into(&mut self, dir: &std::path::Path) -> Result<(), StateError> {
            self.0.snapshot_into(dir)
        }
        fn len(&self) -> usize {
            self.0.len()
        }
    }

    fn host(backend: Box<dyn KeyedStateBackend>, memory_limit: usize) -> HostCtx {
        let mut keyed = KeyedCtx::new(backend, 0, 1);
        keyed.batch_keys = vec![b"k".to_vec()];
        keyed.current = Some(0);
        HostCtx {
            id: OperatorId {
                job: "j".into(),
                operator: "op".into(),
                subtask: 0,
                busy_ns: Default::default(),
            },
            keyed: Some(keyed),
            last_error: None,
            budgets: Budgets::unbounded(),
            log_flood: None,
            memory_limit,
        }
    }

    #[test]
    fn list_add_writes_one_element_not_the_whole_list() {
        let written = Arc::new(AtomicU64::new(0));
        let backend = Counting(MemoryBackend::new(), written.clone());
        let (mut ctx, mut table) = (host(Box::new(backend), 1 << 30), ResourceTable::new());
        let mut view = WeirView {
            ctx: &mut ctx,
            table: &mut table,
        };
        let list = HostListState::new(&mut view, "l".into()).unwrap();
        let rep = list.rep();
        let n = 2000u64;
        for i in 0..n {
            let h = Resource::new_borrow(rep);
            HostListState::add(&mut view, h, vec![i as u8; 1000]).unwrap();
        }
        let all = HostListState::get(&mut view, Resource::new_borrow(rep)).unwrap();
        assert_eq!(all.len(), n as usize);
        assert!(
            all.iter().enumerate().all(|(i, v)| v[0] == i as u8),
            "in order"
        );
        // Rewriting the list on every add would write n²/2 KB (2 GB here).
        let bytes = written.load(Ordering::Relaxed);
        assert!(
            bytes < n * 1200,
            "{bytes} bytes written for {n} adds of 1000 bytes"
        );
    }

    #[test]
    fn reading_more_than_the_guests_memory_whole_is_refused() {
        let (mut ctx, mut table) = (
            host(Box::new(MemoryBackend::new()), 10_000),
            ResourceTable::new(),
        );
        let mut view = WeirView {
            ctx: &mut ctx,
            table: &mut table,
        };
        let map = HostMapState::new(&mut view, "m".into()).unwrap();
        for i in 0..20u32 {
            HostMapState::put(
                &mut view,
                Resource::new_borrow(map.rep()),
                i.to_be_bytes().to_vec(),
                vec![0; 1000],
            )
            .unwrap();
        }
        let e = HostMapState::entries(&mut view, Resource::new_borrow(map.rep())).unwrap_err();
        assert!(e.to_string().contains("limits.memory = 10000"), "{e}");
    }

    #[test]
    fn a_list_in_the_old_layout_is_read_and_converted_at_its_next_add() {
        let (mut ctx, mut table) = (
            host(Box::new(MemoryBackend::new()), 1 << 30),
            ResourceTable::new(),
        );
        let mut view = WeirView {
            ctx: &mut ctx,
            table: &mut table,
        };
        let list = HostListState::new(&mut view, "l".into()).unwrap();
        let key = view.key_of(&Resource::new_borrow(list.rep())).unwrap();
        let mut old = Vec::new();
        for v in [&b"a"[..], b"bc"] {
            old.extend_from_slice(&(v.len() as u32).to_be_bytes());
            old.extend_from_slice(v);
        }
        view.put_at(key, old).unwrap();
        let get = |view: &mut WeirView<'_>| {
            HostListState::get(view, Resource::new_borrow(list.rep())).unwrap()
        };
        assert_eq!(get(&mut view), vec![b"a".to_vec(), b"bc".to_vec()]);
        HostListState::add(&mut view, Resource::new_borrow(list.rep()), b"d".to_vec()).unwrap();
        assert_eq!(
            get(&mut view),
            vec![b"a".to_vec(), b"bc".to_vec(), b"d".to_vec()]
        );
    }
}
