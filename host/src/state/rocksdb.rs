//! The RocksDB backend: keyed state larger than memory.
//!
//! One database per job, shared by the job's keyed subtasks (keys start with
//! their key group, and a subtask owns disjoint key groups, so they never
//! touch each other's keys). Memory is bounded across *all* databases of the
//! process: one LRU block cache, with the write buffers (memtables) charged
//! to it through a write-buffer manager, and index and filter blocks kept in
//! the cache too. The write-ahead log is off: durability comes from
//! checkpoints (as in Flink), not from RocksDB's own log.

use super::{Entries, KeyedStateBackend, StateError};
use rocksdb::{
    BlockBasedOptions, Cache, DB, DBCompressionType, Direction, IteratorMode, Options, ReadOptions,
    WriteBatch, WriteBufferManager, WriteOptions,
};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

fn err(e: rocksdb::Error) -> StateError {
    StateError::Backend {
        backend: "rocksdb",
        message: e.into_string(),
    }
}

/// The process-wide memory budget of RocksDB state.
pub struct RocksMemory {
    cache: Cache,
    write_buffers: WriteBufferManager,
    /// Block cache bytes (write buffers included).
    pub cache_bytes: usize,
}

impl RocksMemory {
    /// A budget: `cache_bytes` for the block cache, of which up to
    /// `write_buffer_bytes` may be memtables.
    pub fn new(cache_bytes: usize, write_buffer_bytes: usize) -> Self {
        let cache = Cache::new_lru_cache(cache_bytes);
        // No write stalls: with several databases on one manager, a stalled
        // writer can wait for a flush that only another database could do
        // (seen as a deadlock with four keyed subtasks). Over budget, the
        // manager still makes the databases flush.
        let write_buffers = WriteBufferManager::new_write_buffer_manager_with_cache(
            write_buffer_bytes,
            false,
            cache.clone(),
        );
        Self {
            cache,
            write_buffers,
            cache_bytes,
        }
    }

    /// The process's budget, created by the first job that asks (later jobs
    /// share it, whatever sizes they ask for).
    pub fn shared(cache_bytes: usize, write_buffer_bytes: usize) -> &'static RocksMemory {
        static MEMORY: OnceLock<RocksMemory> = OnceLock::new();
        MEMORY.get_or_init(|| RocksMemory::new(cache_bytes, write_buffer_bytes))
    }
}

/// A job's RocksDB database.
pub struct RocksStore {
    db: Arc<DB>,
    path: PathBuf,
}

impl RocksStore {
    /// Open a database at `path`, empty: until checkpoints can restore it,
    /// state from an earlier run would be wrong, so it is cleared.
    pub fn open_fresh(path: &Path, memory: &RocksMemory) -> Result<Self, StateError> {
        if path.exists() {
            std::fs::remove_dir_all(path).map_err(|e| StateError::Backend {
                backend: "rocksdb",
                message: format!("cannot clear {}: {e}", path.display()),
            })?;
        }
        Self::open(path, memory)
    }

    fn open(path: &Path, memory: &RocksMemory) -> Result<Self, StateError> {
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&memory.cache);
        table.set_cache_index_and_filter_blocks(true);
        table.set_bloom_filter(10.0, false);
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.set_block_based_table_factory(&table);
        opts.set_write_buffer_manager(&memory.write_buffers);
        opts.set_compression_type(DBCompressionType::Lz4);
        opts.set_max_open_files(512);
        let db = DB::open(&opts, path).map_err(|e| StateError::Backend {
            backend: "rocksdb",
            message: format!("cannot open {}: {}", path.display(), e.into_string()),
        })?;
        Ok(Self {
            db: Arc::new(db),
            path: path.to_path_buf(),
        })
    }

    /// Open a database restored from a snapshot in `snapshot` (written by
    /// `snapshot_into`) at `path`, which is cleared first. SST files are
    /// immutable, so they are hard-linked; everything else is copied, so the
    /// snapshot is never modified and can be restored again.
    pub fn restore(snapshot: &Path, path: &Path, memory: &RocksMemory) -> Result<Self, StateError> {
        let io = |e: std::io::Error| StateError::Backend {
            backend: "rocksdb",
            message: format!(
                "restore {} from {}: {e}",
                path.display(),
                snapshot.display()
            ),
        };
        if path.exists() {
            std::fs::remove_dir_all(path).map_err(io)?;
        }
        std::fs::create_dir_all(path).map_err(io)?;
        for entry in std::fs::read_dir(snapshot).map_err(io)? {
            let entry = entry.map_err(io)?;
            let (from, to) = (entry.path(), path.join(entry.file_name()));
            if from.extension().is_some_and(|e| e == "sst") {
                std::fs::hard_link(&from, &to).map_err(io)?;
            } else {
                std::fs::copy(&from, &to).map_err(io)?;
            }
        }
        Self::open(path, memory)
    }

    /// Compact the whole database into its bottom level and wait for it.
    /// Checkpoints share SST files only until compaction rewrites them, so
    /// this is what to call before a savepoint meant to be kept, and what
    /// makes incremental-size measurements repeatable.
    pub fn compact(&self) {
        self.db.compact_range(None::<&[u8]>, None::<&[u8]>);
    }

    /// Where it lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Write a RocksDB checkpoint into `dir` (which must not exist): memtables
    /// are flushed, then every SST file is hard-linked, so checkpoints share
    /// the files that did not change since the last one.
    pub fn checkpoint_into(&self, dir: &Path) -> Result<(), StateError> {
        self.backend().snapshot_into(dir)
    }

    /// A backend handle for one subtask.
    pub fn backend(&self) -> RocksBackend {
        let mut write = WriteOptions::default();
        write.disable_wal(true);
        RocksBackend {
            db: self.db.clone(),
            write,
            meter: None,
        }
    }
}

/// One subtask's view of the job's database.
pub struct RocksBackend {
    db: Arc<DB>,
    write: WriteOptions,
    meter: Option<DiskMeter>,
}

/// Bytes written between two looks at a database's size on disk.
const METER_EVERY: u64 = 4 << 20;

/// The database's size on disk, charged to the job's disk budget as it
/// grows: looked at after every [`METER_EVERY`] bytes written (and at
/// start), so a guest that writes without end fails its job within a few
/// megabytes (and one memtable) of its budget.
struct DiskMeter {
    budgets: Arc<crate::budget::Budgets>,
    charged: u64,
    unmetered: u64,
}

const WHAT: &str = "RocksDB state";

impl RocksBackend {
    /// This handle with its database's size on disk charged to `budgets`.
    pub fn metered(mut self, budgets: Arc<crate::budget::Budgets>) -> Result<Self, StateError> {
        self.meter = Some(DiskMeter {
            budgets,
            charged: 0,
            unmetered: 0,
        });
        self.meter_now()?;
        Ok(self)
    }

    /// The database's files and memtables, bytes.
    pub fn disk_size(&self) -> u64 {
        let prop = |name: &str| self.db.property_int_value(name).ok().flatten().unwrap_or(0);
        prop("rocksdb.total-sst-files-size") + prop("rocksdb.cur-size-all-mem-tables")
    }

    fn meter_now(&mut self) -> Result<(), StateError> {
        let size = self.disk_size();
        if let Some(m) = &mut self.meter {
            m.unmetered = 0;
            m.budgets.disk.resize(WHAT, m.charged, size)?;
            m.charged = size;
        }
        Ok(())
    }

    fn wrote(&mut self, bytes: usize) -> Result<(), StateError> {
        let Some(m) = &mut self.meter else {
            return Ok(());
        };
        m.unmetered += bytes as u64;
        if m.unmetered >= METER_EVERY {
            self.meter_now()?;
        }
        Ok(())
    }
}

impl Drop for RocksBackend {
    fn drop(&mut self) {
        if let Some(m) = &self.meter {
            m.budgets.disk.release(m.charged);
        }
    }
}

/// The smallest key greater than every key starting with `prefix`, if any.
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

impl KeyedStateBackend for RocksBackend {
    fn snapshot_into(&mut self, dir: &Path) -> Result<(), StateError> {
        rocksdb::checkpoint::Checkpoint::new(&self.db)
            .and_then(|c| c.create_checkpoint(dir))
            .map_err(|e| StateError::Backend {
                backend: "rocksdb",
                message: format!("snapshot into {}: {}", dir.display(), e.into_string()),
            })
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.db.get(key).map_err(err)
    }

    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<(), StateError> {
        let bytes = key.len() + value.len();
        self.db.put_opt(key, value, &self.write).map_err(err)?;
        self.wrote(bytes)
    }

    fn delete(&mut self, key: &[u8]) -> Result<(), StateError> {
        self.db.delete_opt(key, &self.write).map_err(err)
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Result<Entries, StateError> {
        let mut read = ReadOptions::default();
        if let Some(end) = prefix_end(prefix) {
            read.set_iterate_upper_bound(end);
        }
        self.db
            .iterator_opt(IteratorMode::From(prefix, Direction::Forward), read)
            .map(|item| item.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(err))
            .collect()
    }

    fn scan_prefix_bounded(
        &self,
        prefix: &[u8],
        max_bytes: usize,
    ) -> Result<Option<Entries>, StateError> {
        let mut read = ReadOptions::default();
        if let Some(end) = prefix_end(prefix) {
            read.set_iterate_upper_bound(end);
        }
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for item in self
            .db
            .iterator_opt(IteratorMode::From(prefix, Direction::Forward), read)
        {
            let (k, v) = item.map_err(err)?;
            bytes += k.len() + v.len();
            if bytes > max_bytes {
                return Ok(None);
            }
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(Some(out))
    }

    fn scan_range(&self, from: &[u8], to: &[u8]) -> Result<Entries, StateError> {
        let mut read = ReadOptions::default();
        read.set_iterate_upper_bound(to.to_vec());
        self.db
            .iterator_opt(IteratorMode::From(from, Direction::Forward), read)
            .map(|item| item.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(err))
            .collect()
    }

    fn delete_prefix(&mut self, prefix: &[u8]) -> Result<(), StateError> {
        // Point deletes, not a range tombstone: every iterator made while a
        // range tombstone is in the memtable fragments all of them again,
        // and windows and joins clear thousands of small prefixes (a join
        // firing windows ran 30x slower with `delete_range`).
        let mut batch = WriteBatch::default();
        for (k, _) in self.scan_prefix(prefix)? {
            batch.delete(k);
        }
        self.db.write_opt(batch, &self.write).map_err(err)
    }

    fn len(&self) -> usize {
        self.db
            .property_int_value("rocksdb.estimate-num-keys")
            .ok()
            .flatten()
            .unwrap_or(0) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_next_prefix() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 255]), Some(vec![2]));
        assert_eq!(prefix_end(&[255, 255]), None);
    }
}
