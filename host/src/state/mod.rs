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
pub mod rocksdb;
pub mod timers;

pub use key_layout::{KeyGroups, MAX_PARALLELISM, StateKind, key_group_of, state_key, time_bytes};
pub use memory::{MemoryBackend, write_snapshot};
pub use rocksdb::prefix_end;
pub use rocksdb::{RocksBackend, RocksMemory, RocksStore};

use crate::budget::Budgets;
use crate::job::{LoadedJob, parse_bytes};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a state operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The write would take the job past its memory or disk budget.
    #[error(transparent)]
    OverBudget(#[from] crate::budget::OverBudget),
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
    /// Like [`KeyedStateBackend::scan_prefix`], but stops with `None` as
    /// soon as keys and values passed `max_bytes`: a guest asking for a
    /// whole map or list never makes the host copy more than it could take.
    fn scan_prefix_bounded(
        &self,
        prefix: &[u8],
        max_bytes: usize,
    ) -> Result<Option<Entries>, StateError>;
    /// Every entry with `from <= key < to`, in key order (windows and timers
    /// read what is due this way, without touching what is not).
    fn scan_range(&self, from: &[u8], to: &[u8]) -> Result<Entries, StateError>;
    /// Remove every entry whose key starts with `prefix`.
    fn delete_prefix(&mut self, prefix: &[u8]) -> Result<(), StateError>;
    /// Write a consistent copy of this state into `dir` (which must not
    /// exist yet), for a checkpoint; [`MemoryBackend::restore`] and
    /// [`RocksStore::restore`] read it back.
    fn snapshot_into(&mut self, dir: &Path) -> Result<(), StateError>;
    /// Number of entries (for metrics): exact in memory, an estimate in RocksDB.
    fn len(&self) -> usize;
    /// True when there is no state.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A job's keyed state: how each keyed subtask gets its backend.
pub enum StateStore {
    /// Each subtask gets its own in-memory map, charged to the job's
    /// host-memory budget.
    Memory {
        /// The job's budgets.
        budgets: Arc<Budgets>,
    },
    /// Each subtask gets its own RocksDB under `root` (`subtask-<n>`), so a
    /// subtask can snapshot its state at a barrier while the others go on
    /// writing theirs. All share the process's memory budget; their size on
    /// disk is charged to the job's disk budget.
    Rocks {
        /// The job's state directory.
        root: PathBuf,
        /// The shared block cache and write-buffer manager.
        memory: &'static RocksMemory,
        /// The job's budgets.
        budgets: Arc<Budgets>,
    },
}

impl StateStore {
    /// Prepare the backend the job asks for (validated). The RocksDB
    /// directory is a working copy: it is cleared, and a resumed job fills
    /// it from its checkpoint.
    pub fn open(job: &LoadedJob, budgets: Arc<Budgets>) -> Result<StateStore, StateError> {
        let spec = &job.spec.state;
        if spec.backend != "rocksdb" {
            return Ok(StateStore::Memory { budgets });
        }
        let root = match &spec.path {
            Some(p) => job.resolve(p),
            None => crate::dirs::cache_dir()
                .join("state")
                .join(crate::job::file_safe(&job.spec.name)),
        };
        if root.exists() {
            std::fs::remove_dir_all(&root).map_err(|e| StateError::Backend {
                backend: "rocksdb",
                message: format!("cannot clear {}: {e}", root.display()),
            })?;
        }
        let size = |s: &str| parse_bytes(s).unwrap_or(64 << 20);
        let memory = RocksMemory::shared(size(&spec.block_cache), size(&spec.write_buffer));
        Ok(StateStore::Rocks {
            root,
            memory,
            budgets,
        })
    }

    /// The job's budgets.
    pub fn budgets(&self) -> &Arc<Budgets> {
        match self {
            StateStore::Memory { budgets } | StateStore::Rocks { budgets, .. } => budgets,
        }
    }

    /// The backend of subtask `subtask` of a job-graph stage, its RocksDB
    /// working copy `<path>/<working>-<subtask>` (`working`: the stage's
    /// name; `subtask` for a one-chain job's keyed stage, as always).
    pub fn stage_backend(
        &self,
        working: &str,
        subtask: usize,
    ) -> Result<Box<dyn KeyedStateBackend>, StateError> {
        self.backend_in(&format!("{working}-{subtask}"))
    }

    fn backend_in(&self, working: &str) -> Result<Box<dyn KeyedStateBackend>, StateError> {
        Ok(match self {
            StateStore::Memory { budgets } => Box::new(MemoryBackend::with_budget(budgets.clone())),
            StateStore::Rocks {
                root,
                memory,
                budgets,
            } => {
                let path = root.join(working);
                Box::new(
                    RocksStore::open_fresh(&path, memory)?
                        .backend()
                        .metered(budgets.clone())?,
                )
            }
        })
    }
}

impl StateStore {
    /// The backend of keyed subtask `subtask` of `parallelism`, filled from
    /// the `keyed-<i>/state` snapshots in `checkpoint`, written by
    /// `old_parallelism` subtasks of an `old_backend` backend.
    ///
    /// With the same parallelism and backend this is a plain restore (for
    /// RocksDB, hard links to the checkpoint's SST files). Otherwise every
    /// old snapshot is read and the entries of the key groups this subtask
    /// now owns are copied in: state keys start with their key group, so
    /// this is how rescaling and a change of backend work.
    ///
    /// This is subtask `subtask` of stage `stage` (its state in the
    /// checkpoint is `<stage>-<n>/state`), its working copy `<working>-<n>`
    /// (see [`StateStore::stage_backend`]).
    #[allow(clippy::too_many_arguments)]
    pub fn restore_stage_backend(
        &self,
        stage: &str,
        working: &str,
        subtask: usize,
        parallelism: usize,
        checkpoint: &Path,
        old_parallelism: usize,
        old_backend: &str,
    ) -> Result<Box<dyn KeyedStateBackend>, StateError> {
        let old = Restoring {
            checkpoint,
            task: stage,
            parallelism: old_parallelism,
            backend: old_backend,
        };
        self.restore_in(subtask, parallelism, working, &old)
    }

    /// Restore subtask `subtask`'s backend (working copy `<working>-<n>`)
    /// from the state `old` saved.
    fn restore_in(
        &self,
        subtask: usize,
        parallelism: usize,
        working: &str,
        old: &Restoring,
    ) -> Result<Box<dyn KeyedStateBackend>, StateError> {
        let (checkpoint, old_parallelism, old_backend) =
            (old.checkpoint, old.parallelism, old.backend);
        let snapshot = |i: usize| checkpoint.join(format!("{}-{i}", old.task)).join("state");
        let same_backend = matches!(
            (self, old_backend),
            (StateStore::Memory { .. }, "memory") | (StateStore::Rocks { .. }, "rocksdb")
        );
        if same_backend && parallelism == old_parallelism {
            return Ok(match self {
                StateStore::Memory { budgets } => {
                    Box::new(MemoryBackend::restore(&snapshot(subtask), budgets.clone())?)
                }
                StateStore::Rocks {
                    root,
                    memory,
                    budgets,
                } => Box::new(
                    RocksStore::restore(
                        &snapshot(subtask),
                        &root.join(format!("{working}-{subtask}")),
                        memory,
                    )?
                    .backend()
                    .metered(budgets.clone())?,
                ),
            });
        }
        let mut backend = self.backend_in(&format!("{working}-{subtask}"))?;
        let groups = KeyGroups { parallelism };
        for i in 0..old_parallelism {
            let entries = match old_backend {
                "rocksdb" => {
                    let scratch = match self {
                        StateStore::Rocks { root, .. } => {
                            root.join(format!("rescale-{working}-{subtask}-{i}"))
                        }
                        StateStore::Memory { .. } => crate::dirs::cache_dir().join("state").join(
                            format!("rescale-{}-{working}-{subtask}-{i}", std::process::id()),
                        ),
                    };
                    let memory = match self {
                        StateStore::Rocks { memory, .. } => *memory,
                        StateStore::Memory { .. } => RocksMemory::shared(64 << 20, 16 << 20),
                    };
                    let old = RocksStore::restore(&snapshot(i), &scratch, memory)?;
                    let entries = old.backend().scan_prefix(&[])?;
                    drop(old);
                    let _ = std::fs::remove_dir_all(&scratch);
                    entries
                }
                _ => MemoryBackend::restore(&snapshot(i), Budgets::unbounded())?.scan_prefix(&[])?,
            };
            for (k, v) in entries {
                if k.len() >= 2 && groups.subtask_of(u16::from_be_bytes([k[0], k[1]])) == subtask {
                    backend.put(k, v)?;
                }
            }
        }
        Ok(backend)
    }
}

/// Where a restored backend's state comes from.
struct Restoring<'a> {
    /// The checkpoint's directory.
    checkpoint: &'a Path,
    /// The subtasks' directories in it: `<task>-<n>`.
    task: &'a str,
    /// Subtasks that wrote it.
    parallelism: usize,
    /// `memory` or `rocksdb`.
    backend: &'a str,
}

#[cfg(test)]
mod conformance {
    //! Both backends must behave the same.
    use super::*;

    fn exercise(b: &mut dyn KeyedStateBackend) {
        let k = |s: &str| s.as_bytes().to_vec();
        assert_eq!(b.get(b"a").unwrap(), None);
        for key in ["a", "a1", "a2", "b", "ab"] {
            b.put(k(key), k(&format!("v-{key}"))).unwrap();
        }
        b.put(k("a1"), k("v-a1-new")).unwrap();
        assert_eq!(b.get(b"a1").unwrap(), Some(k("v-a1-new")));
        let ranged: Vec<_> = b
            .scan_range(b"a1", b"ab")
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            ranged,
            vec![k("a1"), k("a2")],
            "from inclusive, to exclusive"
        );
        let scanned: Vec<_> = b
            .scan_prefix(b"a")
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(scanned, vec![k("a"), k("a1"), k("a2"), k("ab")]);
        b.delete(b"a2").unwrap();
        assert_eq!(b.get(b"a2").unwrap(), None);
        b.delete_prefix(b"a").unwrap();
        assert!(b.scan_prefix(b"a").unwrap().is_empty());
        assert_eq!(b.get(b"b").unwrap(), Some(k("v-b")));
        // Prefixes ending in 0xff have no simple upper bound.
        b.put(vec![7, 255, 1], k("x")).unwrap();
        b.put(vec![8], k("y")).unwrap();
        assert_eq!(b.scan_prefix(&[7, 255]).unwrap().len(), 1);
        b.delete_prefix(&[7, 255]).unwrap();
        assert_eq!(b.get(&[8]).unwrap(), Some(k("y")));
    }

    #[test]
    fn memory_backend() {
        exercise(&mut MemoryBackend::new());
    }

    #[test]
    fn rocksdb_backend() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            RocksStore::open_fresh(&dir.path().join("db"), &RocksMemory::new(8 << 20, 4 << 20))
                .unwrap();
        exercise(&mut store.backend());
    }
}
