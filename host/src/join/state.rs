//! Where a join keeps its buffered records: the subtask's keyed-state
//! backend, the same one keyed operators and windows use.
//!
//! Every entry starts with its key's key group, like all keyed state, so a
//! checkpoint taken at one parallelism restores at another (whole key groups
//! move between subtasks) and from one backend into the other. What a join
//! keeps on the heap besides is small and bounded by time, not by keys: the
//! open windows of a window join, the cleanup times of an interval join
//! (charged to the job's memory budget all the same), the watermark, and a
//! sequence number that keeps records with equal keys and times in arrival
//! order.
//!
//! Key layout (times big-endian with the sign bit flipped, so byte order is
//! time order):
//!
//! ```text
//! interval join  [kg][ROWS][side][key len: u32][key][time][seq]            → payload
//!                [kg][DUE][cleanup time][side][key len][key][time][seq]     → ()
//! window join    [kg][PANES][end][start][key len][key][side][seq]          → [time][payload]
//! ```

use super::JoinError;
use crate::budget::Budgets;
use crate::state::{KeyGroups, KeyedStateBackend, MAX_PARALLELISM, MemoryBackend};
use std::path::Path;
use std::sync::Arc;

/// What a heap-side entry (an open window, a cleanup time) costs.
const INDEX_ENTRY: u64 = 64;

/// What the heap side is called in a budget refusal.
const WHAT: &str = "join index";

/// One join subtask's buffers.
pub struct JoinState {
    pub(super) backend: Box<dyn KeyedStateBackend>,
    /// The key groups this subtask owns.
    pub(super) groups: Vec<u16>,
    /// The next record's sequence number.
    next_seq: u64,
    budgets: Arc<Budgets>,
    /// Heap-side entries charged to the memory budget.
    indexed: u64,
}

impl JoinState {
    /// Buffers in `backend`, for subtask `subtask` of `parallelism`; the
    /// heap side charged to `budgets`.
    pub fn new(
        backend: Box<dyn KeyedStateBackend>,
        subtask: usize,
        parallelism: usize,
        budgets: Arc<Budgets>,
    ) -> Self {
        let kg = KeyGroups { parallelism };
        Self {
            backend,
            groups: (0..MAX_PARALLELISM)
                .filter(|g| kg.subtask_of(*g) == subtask)
                .collect(),
            next_seq: 0,
            budgets,
            indexed: 0,
        }
    }

    /// Buffers in memory, for a join of one subtask.
    pub fn in_memory(budgets: Arc<Budgets>) -> Self {
        let backend = Box::new(MemoryBackend::with_budget(budgets.clone()));
        Self::new(backend, 0, 1, budgets)
    }

    /// The budgets the join's state is charged to.
    pub(super) fn budgets(&self) -> &Arc<Budgets> {
        &self.budgets
    }

    /// A fresh sequence number, as key bytes.
    pub(super) fn seq(&mut self) -> [u8; 8] {
        self.next_seq += 1;
        self.next_seq.to_be_bytes()
    }

    /// The heap side grew by one entry.
    pub(super) fn index_added(&mut self) -> Result<(), JoinError> {
        self.budgets.memory.charge(WHAT, INDEX_ENTRY)?;
        self.indexed += 1;
        Ok(())
    }

    /// The heap side lost one entry.
    pub(super) fn index_removed(&mut self) {
        if self.indexed > 0 {
            self.indexed -= 1;
            self.budgets.memory.release(INDEX_ENTRY);
        }
    }

    /// Write the backend's consistent copy into `dir/state` for a
    /// checkpoint; the caller writes the heap side (`join.bin`).
    pub(super) fn snapshot_into(&mut self, dir: &Path) -> Result<(), JoinError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            JoinError::State(crate::state::StateError::Backend {
                backend: "checkpoint",
                message: format!("{}: {e}", dir.display()),
            })
        })?;
        Ok(self.backend.snapshot_into(&dir.join("state"))?)
    }

    /// The sequence a checkpoint saved (the highest of all restored).
    pub(super) fn saved_seq(&self) -> u64 {
        self.next_seq
    }

    /// Go on after `seq`: restored entries keep their numbers.
    pub(super) fn restore_seq(&mut self, seq: u64) {
        self.next_seq = self.next_seq.max(seq);
    }
}

impl Drop for JoinState {
    fn drop(&mut self) {
        self.budgets.memory.release(self.indexed * INDEX_ENTRY);
    }
}

/// `[kg][tag]`.
pub(super) fn tagged(kg: u16, tag: u8, capacity: usize) -> Vec<u8> {
    let mut k = Vec::with_capacity(3 + capacity);
    k.extend_from_slice(&kg.to_be_bytes());
    k.push(tag);
    k
}

/// Append `[key len: u32][key]`.
pub(super) fn push_key(k: &mut Vec<u8>, key: &[u8]) {
    k.extend_from_slice(&(key.len() as u32).to_be_bytes());
    k.extend_from_slice(key);
}

/// The `[key len][key]` at `at` in `k` and the offset after it.
pub(super) fn key_at(k: &[u8], at: usize) -> Result<(&[u8], usize), JoinError> {
    let len = k
        .get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or(JoinError::Malformed(k.len()))?;
    let key = k
        .get(at + 4..at + 4 + len)
        .ok_or(JoinError::Malformed(k.len()))?;
    Ok((key, at + 4 + len))
}

/// The time written by [`crate::state::time_bytes`] at `at` in `k`.
pub(super) fn time_at(k: &[u8], at: usize) -> Result<i64, JoinError> {
    let b: [u8; 8] = k
        .get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .ok_or(JoinError::Malformed(k.len()))?;
    Ok((u64::from_be_bytes(b) ^ (1 << 63)) as i64)
}
