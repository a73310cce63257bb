//! The in-memory backend: an ordered map, for small jobs and tests.

use super::{Entries, KeyedStateBackend, StateError};
use crate::budget::{Budgets, ENTRY_OVERHEAD};
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::io::Write;
use std::ops::Bound;
use std::sync::Arc;

/// Keyed state in a `BTreeMap` (ordered, so prefix scans are range scans),
/// every entry charged to the job's host-memory budget as it is written:
/// a write that would take the job past its budget is refused, and the
/// map is left as it was.
#[derive(Debug)]
pub struct MemoryBackend {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    budgets: Arc<Budgets>,
}

impl Default for MemoryBackend {
    fn default() -> Self {
        Self::new()
    }
}

/// What the memory backend holds, in a budget refusal.
const WHAT: &str = "keyed state (values, timers, windows)";

fn cost(key: usize, value: usize) -> u64 {
    (key + value) as u64 + ENTRY_OVERHEAD
}

impl MemoryBackend {
    /// An empty backend, unbounded (tests and tools).
    pub fn new() -> Self {
        Self::with_budget(Budgets::unbounded())
    }

    /// An empty backend charging the host memory it holds to `budgets`.
    pub fn with_budget(budgets: Arc<Budgets>) -> Self {
        Self {
            map: BTreeMap::new(),
            budgets,
        }
    }

    fn range<'a>(
        &'a self,
        prefix: &'a [u8],
    ) -> impl Iterator<Item = (&'a Vec<u8>, &'a Vec<u8>)> + 'a {
        self.map
            .range::<[u8], _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(move |(k, _)| k.starts_with(prefix))
    }
}

/// The file a snapshot of a memory backend is written to.
const SNAPSHOT_FILE: &str = "entries.bin";

impl MemoryBackend {
    /// Read back a snapshot written by `snapshot_into`, charging it to
    /// `budgets`.
    pub fn restore(
        dir: &std::path::Path,
        budgets: Arc<Budgets>,
    ) -> Result<MemoryBackend, StateError> {
        let path = dir.join(SNAPSHOT_FILE);
        let bad = |message: String| StateError::Backend {
            backend: "memory",
            message: format!("{}: {message}", path.display()),
        };
        let bytes = std::fs::read(&path).map_err(|e| bad(e.to_string()))?;
        let mut rest = bytes.as_slice();
        let take = |rest: &mut &[u8]| -> Result<Vec<u8>, StateError> {
            if rest.len() < 4 {
                return Err(bad("truncated".into()));
            }
            let n = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            if rest.len() < 4 + n {
                return Err(bad("truncated".into()));
            }
            let item = rest[4..4 + n].to_vec();
            *rest = &rest[4 + n..];
            Ok(item)
        };
        let mut backend = MemoryBackend::with_budget(budgets);
        while !rest.is_empty() {
            let k = take(&mut rest)?;
            let v = take(&mut rest)?;
            backend.put(k, v)?;
        }
        Ok(backend)
    }
}

/// Write `entries` into `dir` as a memory backend's snapshot, which
/// [`MemoryBackend::restore`] reads (and a restore into RocksDB too): for
/// state kept in another shape on the heap (a regular join's hash map)
/// that is written in the backend's layout only at checkpoints. The
/// entries may come in any order.
pub fn write_snapshot<K: AsRef<[u8]>, V: AsRef<[u8]>>(
    dir: &std::path::Path,
    entries: impl IntoIterator<Item = (K, V)>,
) -> Result<(), StateError> {
    let io = |e: std::io::Error| StateError::Backend {
        backend: "memory",
        message: format!("snapshot into {}: {e}", dir.display()),
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    // Streamed: a snapshot never holds a second copy of the state.
    let file = std::fs::File::create(dir.join(SNAPSHOT_FILE)).map_err(io)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    for (k, v) in entries {
        for item in [k.as_ref(), v.as_ref()] {
            out.write_all(&(item.len() as u32).to_be_bytes())
                .map_err(io)?;
            out.write_all(item).map_err(io)?;
        }
    }
    out.into_inner()
        .map_err(|e| io(e.into_error()))?
        .sync_all()
        .map_err(io)
}

impl KeyedStateBackend for MemoryBackend {
    fn snapshot_into(&mut self, dir: &std::path::Path) -> Result<(), StateError> {
        write_snapshot(dir, &self.map)
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.map.get(key).cloned())
    }
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<(), StateError> {
        let memory = &self.budgets.memory;
        match self.map.entry(key) {
            Entry::Occupied(mut e) => {
                let (old, new) = (e.get().len() as u64, value.len() as u64);
                memory.resize(WHAT, old, new)?;
                e.insert(value);
            }
            Entry::Vacant(e) => {
                memory.charge(WHAT, cost(e.key().len(), value.len()))?;
                e.insert(value);
            }
        }
        Ok(())
    }
    fn delete(&mut self, key: &[u8]) -> Result<(), StateError> {
        if let Some(v) = self.map.remove(key) {
            self.budgets.memory.release(cost(key.len(), v.len()));
        }
        Ok(())
    }
    fn scan_prefix(&self, prefix: &[u8]) -> Result<Entries, StateError> {
        Ok(self
            .range(prefix)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
    fn scan_prefix_bounded(
        &self,
        prefix: &[u8],
        max_bytes: usize,
    ) -> Result<Option<Entries>, StateError> {
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for (k, v) in self.range(prefix) {
            bytes += k.len() + v.len();
            if bytes > max_bytes {
                return Ok(None);
            }
            out.push((k.clone(), v.clone()));
        }
        Ok(Some(out))
    }
    fn scan_range(&self, from: &[u8], to: &[u8]) -> Result<Entries, StateError> {
        if from >= to {
            return Ok(Vec::new());
        }
        Ok(self
            .map
            .range::<[u8], _>((Bound::Included(from), Bound::Excluded(to)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
    fn delete_prefix(&mut self, prefix: &[u8]) -> Result<(), StateError> {
        let keys: Vec<Vec<u8>> = self.range(prefix).map(|(k, _)| k.clone()).collect();
        for k in keys {
            self.delete(&k)?;
        }
        Ok(())
    }
    fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_write_is_charged_and_a_refused_one_changes_nothing() {
        let budgets = Budgets::new("j", Some(1000), None, None);
        let mut b = MemoryBackend::with_budget(budgets.clone());
        b.put(b"k".to_vec(), vec![0; 100]).unwrap();
        assert_eq!(budgets.memory.used(), cost(1, 100));
        b.put(b"k".to_vec(), vec![0; 300]).unwrap();
        assert_eq!(budgets.memory.used(), cost(1, 300));
        let e = b.put(b"k".to_vec(), vec![0; 2000]).unwrap_err();
        assert!(e.to_string().contains("limits.host_memory"), "{e}");
        assert_eq!(b.get(b"k").unwrap().unwrap().len(), 300, "unchanged");
        assert!(b.put(b"other".to_vec(), vec![0; 900]).is_err());
        assert_eq!(b.get(b"other").unwrap(), None);
        b.delete_prefix(b"k").unwrap();
        assert_eq!(budgets.memory.used(), 0);
    }

    #[test]
    fn prefix_scans_see_only_their_prefix() {
        let mut b = MemoryBackend::new();
        for k in [&b"a1"[..], b"a2", b"b1", b"a"] {
            b.put(k.to_vec(), k.to_vec()).unwrap();
        }
        let keys: Vec<_> = b
            .scan_prefix(b"a")
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, vec![b"a".to_vec(), b"a1".to_vec(), b"a2".to_vec()]);
        b.delete_prefix(b"a").unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!(b.get(b"b1").unwrap(), Some(b"b1".to_vec()));
    }
}
