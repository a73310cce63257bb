//! The in-memory backend: an ordered map, for small jobs and tests.

use super::{Entries, KeyedStateBackend, StateError};
use std::collections::BTreeMap;
use std::ops::Bound;

/// Keyed state in a `BTreeMap` (ordered, so prefix scans are range scans).
#[derive(Debug, Default)]
pub struct MemoryBackend {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl MemoryBackend {
    /// An empty backend.
    pub fn new() -> Self {
        Self::default()
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
    /// Read back a snapshot written by `snapshot_into`.
    pub fn restore(dir: &std::path::Path) -> Result<MemoryBackend, StateError> {
        let path = dir.join(SNAPSHOT_FILE);
        let bad = |message: String| StateError::Backend {
            backend: "memory",
            message: format!("{}: {message}", path.display()),
        };
        let bytes = std::fs::read(&path).map_err(|e| bad(e.to_string()))?;
        let mut map = BTreeMap::new();
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
        while !rest.is_empty() {
            let k = take(&mut rest)?;
            let v = take(&mut rest)?;
            map.insert(k, v);
        }
        Ok(MemoryBackend { map })
    }
}

impl KeyedStateBackend for MemoryBackend {
    fn snapshot_into(&mut self, dir: &std::path::Path) -> Result<(), StateError> {
        let io = |e: std::io::Error| StateError::Backend {
            backend: "memory",
            message: format!("snapshot into {}: {e}", dir.display()),
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut out = Vec::new();
        for (k, v) in &self.map {
            for item in [k, v] {
                out.extend_from_slice(&(item.len() as u32).to_be_bytes());
                out.extend_from_slice(item);
            }
        }
        std::fs::write(dir.join(SNAPSHOT_FILE), out).map_err(io)
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.map.get(key).cloned())
    }
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<(), StateError> {
        self.map.insert(key, value);
        Ok(())
    }
    fn delete(&mut self, key: &[u8]) -> Result<(), StateError> {
        self.map.remove(key);
        Ok(())
    }
    fn scan_prefix(&self, prefix: &[u8]) -> Result<Entries, StateError> {
        Ok(self
            .range(prefix)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
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
            self.map.remove(&k);
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
