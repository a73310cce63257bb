//! Keyed state, owned by the host.
//!
//! Operators never keep state of their own: a keyed Wasm operator reads and
//! writes through the contract's `state` interface, which lands here. The
//! [`KeyedStateBackend`] trait is what the in-memory backend implements
//! today and what the RocksDB backend and checkpoints build on: an ordered
//! byte-key/byte-value store, because that maps one-to-one onto RocksDB and
//! makes snapshots and key-group range scans trivial.
//!
//! Keys are laid out as
//! `[key group: u16 BE][kind: u8][name len: u8][name][key len: u32 BE][key][user key]`,
//! so all state of one key group is contiguous (rescaling moves whole key
//! groups, as in Flink) and all state of one key is a prefix.

mod key_layout;
mod memory;

pub use key_layout::{KeyGroups, StateKind, key_group_of, state_key};
pub use memory::MemoryBackend;

/// Why a state operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The backend's storage failed (I/O for disk-backed backends).
    #[error("state backend `{backend}` failed: {message}")]
    Backend {
        /// Which backend.
        backend: &'static str,
        /// What happened.
        message: String,
    },
}

/// Entries of a prefix scan, in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// An ordered key-value store for one subtask's keyed state.
pub trait KeyedStateBackend: Send {
    /// The value under `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;
    /// Insert or replace.
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<(), StateError>;
    /// Remove one key.
    fn delete(&mut self, key: &[u8]) -> Result<(), StateError>;
    /// Every entry whose key starts with `prefix`, in key order.
    fn scan_prefix(&self, prefix: &[u8]) -> Result<Entries, StateError>;
    /// Remove every entry whose key starts with `prefix`.
    fn delete_prefix(&mut self, prefix: &[u8]) -> Result<(), StateError>;
    /// Number of entries (for metrics and tests).
    fn len(&self) -> usize;
    /// True when there is no state.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
