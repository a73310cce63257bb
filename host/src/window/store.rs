//! Where a window operator keeps its accumulators.
//!
//! - [`WindowStore::Heap`] (state backend `memory`): maps on the heap, the
//!   fast path.
//! - [`WindowStore::Backend`] (state backend `rocksdb`): every (window, key)
//!   accumulator and every session lives in the subtask's keyed-state
//!   backend, so window contents may be far larger than memory. Only the
//!   list of open tumbling/sliding windows (not their keys) stays on the
//!   heap. Slots touched by a batch are cached and written back once at the
//!   end of the batch, so a record costs at most one read and one write.
//!
//! Its layout in the backend: [`layout`].

use super::TimeWindow;
use super::aggregate::Slot;
use crate::budget::{Budgets, ENTRY_OVERHEAD};
use crate::state::{KeyGroups, KeyedStateBackend, StateError, prefix_end, time_bytes};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

mod layout;
use layout::{
    SESSION_INDEX, decode, encode, index_key, load_sessions, pane_prefix, save_sessions,
    sessions_key, tagged, window_from,
};
pub(super) use layout::{index_bytes, pane_key};

/// A key's sessions: window and accumulator.
pub(super) type Sessions = Vec<(TimeWindow, Slot)>;

/// A window's keys in the order their results fire: by a hash of the key
/// (then the key), so the order depends on the keys alone — not on the
/// order they arrived in, the state backend, or a restore — and costs an
/// integer comparison rather than comparing keys byte by byte.
fn in_firing_order(entries: Vec<(Key, Slot)>) -> Vec<(Key, Slot)> {
    use std::hash::Hasher as _;
    // Sort small (hash, index) pairs, then move the entries once.
    let mut order: Vec<(u64, u32)> = entries
        .iter()
        .enumerate()
        .map(|(i, (k, _))| {
            let mut h = rustc_hash::FxHasher::default();
            h.write(k);
            (h.finish(), i as u32)
        })
        .collect();
    order.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| entries[a.1 as usize].0.cmp(&entries[b.1 as usize].0))
    });
    let mut entries: Vec<Option<(Key, Slot)>> = entries.into_iter().map(Some).collect();
    order
        .into_iter()
        .filter_map(|(_, i)| entries[i as usize].take())
        .collect()
}

/// A key in a window's accumulators: short keys (most are) live inline,
/// so opening a window for a key allocates nothing.
pub(super) type Key = smallvec::SmallVec<[u8; 24]>;

/// One window's accumulators by key.
pub(super) type Pane = hashbrown::HashMap<Key, Slot, rustc_hash::FxBuildHasher>;

pub(super) struct HeapStore {
    pub(super) panes: BTreeMap<TimeWindow, Pane>,
    pub(super) sessions: FxHashMap<Vec<u8>, Sessions>,
    /// Sessions by end, then key: keys inline (no allocation to look one
    /// up, insert or remove it for a key up to 24 bytes).
    pub(super) index: BTreeSet<(TimeWindow, Key)>,
    budgets: Arc<Budgets>,
}

/// What window contents are called in a budget refusal.
const WHAT: &str = "window contents";

/// Bytes a session costs beyond its accumulator: its window and its place
/// in the key's list.
pub(super) const SESSION_BYTES: u64 = 48;

/// Bytes of a map entry under `key` holding `slot`.
pub(super) fn entry_bytes(key: &[u8], slot: &Slot) -> u64 {
    key.len() as u64 + ENTRY_OVERHEAD + slot.heap_bytes()
}

impl HeapStore {
    /// An empty store charging `budgets`.
    pub(super) fn new(budgets: Arc<Budgets>) -> Self {
        Self {
            panes: BTreeMap::new(),
            sessions: FxHashMap::default(),
            index: BTreeSet::new(),
            budgets,
        }
    }

    /// Charge `bytes` of window contents to the job's memory budget.
    pub(super) fn charge(&self, bytes: u64) -> Result<(), StateError> {
        Ok(self.budgets.memory.charge(WHAT, bytes)?)
    }

    /// Give `bytes` of window contents back.
    pub(super) fn release(&self, bytes: u64) {
        self.budgets.memory.release(bytes);
    }
}

/// Accumulators in a keyed-state backend.
pub(super) struct BackendStore {
    pub(super) backend: Box<dyn KeyedStateBackend>,
    /// The key groups this subtask owns.
    groups: Vec<u16>,
    /// Open tumbling/sliding windows (the keys are in the backend).
    pub(super) windows: BTreeSet<TimeWindow>,
    /// Pane slots read or written by the current batch.
    panes: FxHashMap<(TimeWindow, Vec<u8>), Slot>,
    /// Sessions read or written by the current batch.
    sessions: FxHashMap<Vec<u8>, Sessions>,
}

/// Where a window operator's accumulators live.
pub(super) enum WindowStore {
    /// On the heap.
    Heap(HeapStore),
    /// In the subtask's state backend.
    Backend(BackendStore),
}

impl WindowStore {
    /// A store in `backend` for keyed subtask `subtask` of `parallelism`.
    pub(super) fn backend(
        backend: Box<dyn KeyedStateBackend>,
        subtask: usize,
        parallelism: usize,
    ) -> Self {
        let kg = KeyGroups { parallelism };
        WindowStore::Backend(BackendStore {
            backend,
            groups: (0..crate::state::MAX_PARALLELISM)
                .filter(|g| kg.subtask_of(*g) == subtask)
                .collect(),
            windows: BTreeSet::new(),
            panes: FxHashMap::default(),
            sessions: FxHashMap::default(),
        })
    }

    /// Window contents on the heap changed from `old` to `new` bytes
    /// (sessions merged, a Wasm aggregate's accumulators grew): charge or
    /// release the difference. Contents in a state backend are charged by
    /// the backend.
    pub(super) fn heap_resize(&self, old: u64, new: u64) -> Result<(), StateError> {
        if let WindowStore::Heap(h) = self {
            h.budgets.memory.resize(WHAT, old, new)?;
        }
        Ok(())
    }

    /// The accumulator of (`w`, `key`), created by `new` if there is none.
    pub(super) fn pane_slot(
        &mut self,
        w: TimeWindow,
        key: &[u8],
        capacity: usize,
        new: impl FnOnce() -> Slot,
    ) -> Result<&mut Slot, StateError> {
        Ok(match self {
            WindowStore::Heap(h) => {
                let budgets = &h.budgets;
                let pane = h.panes.entry(w).or_insert_with(|| {
                    Pane::with_capacity_and_hasher(capacity, Default::default())
                });
                match pane.entry_ref(key) {
                    hashbrown::hash_map::EntryRef::Occupied(e) => e.into_mut(),
                    hashbrown::hash_map::EntryRef::Vacant(e) => {
                        let slot = new();
                        budgets.memory.charge(WHAT, entry_bytes(key, &slot))?;
                        e.insert(slot)
                    }
                }
            }
            WindowStore::Backend(b) => {
                let id = (w, key.to_vec());
                if !b.panes.contains_key(&id) {
                    let slot = match b.backend.get(&pane_key(w, key))? {
                        Some(bytes) => Slot::load(decode(&bytes)?),
                        None => new(),
                    };
                    b.windows.insert(w);
                    b.panes.insert(id.clone(), slot);
                }
                b.panes.get_mut(&id).expect("just inserted")
            }
        })
    }

    /// The sessions of `key` (empty if none), for reading and changing.
    pub(super) fn sessions(&mut self, key: &[u8]) -> Result<&mut Sessions, StateError> {
        Ok(match self {
            WindowStore::Heap(h) => {
                // The key is copied only when it is new.
                if !h.sessions.contains_key(key) {
                    h.charge(key.len() as u64 + ENTRY_OVERHEAD)?;
                    h.sessions.insert(key.to_vec(), Vec::new());
                }
                h.sessions.get_mut(key).expect("inserted above")
            }
            WindowStore::Backend(b) => {
                if !b.sessions.contains_key(key) {
                    let v = match b.backend.get(&sessions_key(key))? {
                        Some(bytes) => load_sessions(&bytes)?,
                        None => Vec::new(),
                    };
                    b.sessions.insert(key.to_vec(), v);
                }
                b.sessions.get_mut(key).expect("just inserted")
            }
        })
    }

    /// Record that `key` has a session `w` (to fire it in order).
    pub(super) fn index_insert(&mut self, w: TimeWindow, key: &[u8]) -> Result<(), StateError> {
        match self {
            WindowStore::Heap(h) => {
                if h.index.insert((w, Key::from_slice(key))) {
                    h.charge(index_bytes(key))?;
                }
                Ok(())
            }
            WindowStore::Backend(b) => b.backend.put(index_key(w, key), Vec::new()),
        }
    }

    /// Forget session `w` of `key` in the index.
    pub(super) fn index_remove(&mut self, w: TimeWindow, key: &[u8]) -> Result<(), StateError> {
        match self {
            WindowStore::Heap(h) => {
                if h.index.remove(&(w, Key::from_slice(key))) {
                    h.release(index_bytes(key));
                }
                Ok(())
            }
            WindowStore::Backend(b) => b.backend.delete(&index_key(w, key)),
        }
    }

    /// Slots that may hold work for a Wasm aggregate: those of the panes and
    /// keys touched by this batch.
    pub(super) fn touched_slots<'a>(
        &'a mut self,
        panes: &'a BTreeSet<TimeWindow>,
        keys: &'a FxHashSet<Vec<u8>>,
    ) -> Box<dyn Iterator<Item = &'a mut Slot> + 'a> {
        match self {
            WindowStore::Heap(h) => Box::new(
                h.panes
                    .iter_mut()
                    .filter(move |(w, _)| panes.contains(w))
                    .flat_map(|(_, m)| m.values_mut())
                    .chain(
                        h.sessions
                            .iter_mut()
                            .filter(move |(k, _)| keys.contains(*k))
                            .flat_map(|(_, v)| v.iter_mut().map(|s| &mut s.1)),
                    ),
            ),
            WindowStore::Backend(b) => Box::new(
                b.panes.values_mut().chain(
                    b.sessions
                        .values_mut()
                        .flat_map(|v| v.iter_mut().map(|s| &mut s.1)),
                ),
            ),
        }
    }

    /// Lend `f` the slots of `keys` in window `w` (the keys a batch of a
    /// global window updated): a heap store lends just those, not every
    /// key of its one window, taking them out and putting them back (the
    /// window's memory charge is unchanged: `f` says what it grew by); a
    /// backend lends the slots it cached for the batch, which are those.
    pub(super) fn with_slots<'k, R>(
        &mut self,
        w: TimeWindow,
        keys: impl Iterator<Item = &'k [u8]>,
        f: impl FnOnce(&mut dyn Iterator<Item = &mut Slot>) -> R,
    ) -> R {
        match self {
            WindowStore::Heap(h) => {
                let Some(pane) = h.panes.get_mut(&w) else {
                    return f(&mut std::iter::empty());
                };
                let mut lent: Vec<_> = keys.filter_map(|k| pane.remove_entry(k)).collect();
                let r = f(&mut lent.iter_mut().map(|(_, s)| s));
                pane.extend(lent);
                r
            }
            WindowStore::Backend(b) => f(&mut b.panes.values_mut()),
        }
    }

    /// End of a batch: write cached slots back (after the aggregate flushed).
    pub(super) fn end_batch(&mut self) -> Result<(), StateError> {
        match self {
            WindowStore::Heap(h) => {
                let mut freed = 0;
                h.sessions.retain(|k, v| {
                    if v.is_empty() {
                        freed += k.len() as u64 + ENTRY_OVERHEAD;
                    }
                    !v.is_empty()
                });
                h.release(freed);
                Ok(())
            }
            WindowStore::Backend(b) => {
                for ((w, key), slot) in b.panes.drain() {
                    b.backend.put(pane_key(w, &key), encode(&slot.save()))?;
                }
                for (key, v) in b.sessions.drain() {
                    if v.is_empty() {
                        b.backend.delete(&sessions_key(&key))?;
                    } else {
                        b.backend.put(sessions_key(&key), save_sessions(&v))?;
                    }
                }
                Ok(())
            }
        }
    }

    /// Open tumbling/sliding windows whose last timestamp is in `(after, upto]`.
    pub(super) fn due_panes(&self, after: i64, upto: i64) -> Vec<TimeWindow> {
        let due = |w: &&TimeWindow| w.max_timestamp() > after && w.max_timestamp() <= upto;
        match self {
            WindowStore::Heap(h) => h.panes.keys().filter(due).copied().collect(),
            WindowStore::Backend(b) => b.windows.iter().filter(due).copied().collect(),
        }
    }

    /// Every open tumbling/sliding pane (slice, when sliced).
    pub(super) fn open_panes(&self) -> Vec<TimeWindow> {
        match self {
            WindowStore::Heap(h) => h.panes.keys().copied().collect(),
            WindowStore::Backend(b) => b.windows.iter().copied().collect(),
        }
    }

    /// The accumulators of window `w`, by key.
    pub(super) fn pane_entries(&self, w: TimeWindow) -> Result<Vec<(Key, Slot)>, StateError> {
        Ok(in_firing_order(self.pane_contents(w)?))
    }

    /// The accumulators of pane `w`, by key, in no particular order.
    pub(super) fn pane_contents(&self, w: TimeWindow) -> Result<Vec<(Key, Slot)>, StateError> {
        Ok(match self {
            WindowStore::Heap(h) => h
                .panes
                .get(&w)
                .map(|m| m.iter().map(|(k, s)| (k.clone(), s.clone())).collect())
                .unwrap_or_default(),
            WindowStore::Backend(b) => {
                let mut v = Vec::new();
                for &kg in &b.groups {
                    let prefix = pane_prefix(kg, w);
                    for (k, bytes) in b.backend.scan_prefix(&prefix)? {
                        v.push((
                            Key::from_slice(&k[prefix.len()..]),
                            Slot::load(decode(&bytes)?),
                        ));
                    }
                }
                v
            }
        })
    }

    /// The accumulators of window `w`, by key, for the last time: the
    /// window expires now, so on the heap they are moved out rather than
    /// copied (and their memory given back).
    pub(super) fn take_pane(&mut self, w: TimeWindow) -> Result<Vec<(Key, Slot)>, StateError> {
        let WindowStore::Heap(h) = self else {
            return self.pane_entries(w);
        };
        let Some(pane) = h.panes.remove(&w) else {
            return Ok(Vec::new());
        };
        let freed = pane.iter().map(|(k, s)| entry_bytes(k, s)).sum::<u64>();
        h.release(freed);
        Ok(in_firing_order(pane.into_iter().collect()))
    }

    /// Sessions whose last timestamp is in `(after, upto]`, in firing order.
    pub(super) fn due_sessions(
        &self,
        after: i64,
        upto: i64,
    ) -> Result<Vec<(TimeWindow, Vec<u8>)>, StateError> {
        let due = |w: &TimeWindow| w.max_timestamp() > after && w.max_timestamp() <= upto;
        match self {
            WindowStore::Heap(h) => Ok(h
                .index
                .iter()
                .take_while(|(w, _)| w.max_timestamp() <= upto)
                .filter(|(w, _)| due(w))
                .map(|(w, k)| (*w, k.to_vec()))
                .collect()),
            WindowStore::Backend(b) => {
                let mut out = Vec::new();
                for &kg in &b.groups {
                    let prefix = tagged(kg, SESSION_INDEX);
                    let mut from = prefix.clone();
                    from.extend_from_slice(&time_bytes(after.saturating_add(2)));
                    let to = match upto.checked_add(2) {
                        Some(end) => {
                            let mut to = prefix.clone();
                            to.extend_from_slice(&time_bytes(end));
                            to
                        }
                        None => prefix_end(&prefix).expect("tag is not 0xff"),
                    };
                    for (k, _) in b.backend.scan_range(&from, &to)? {
                        let w = window_from(&k[prefix.len()..]);
                        if due(&w) {
                            out.push((w, k[prefix.len() + 16..].to_vec()));
                        }
                    }
                }
                out.sort_unstable();
                Ok(out)
            }
        }
    }

    /// The accumulator of session `w` of `key`.
    pub(super) fn session_slot(
        &mut self,
        w: TimeWindow,
        key: &[u8],
    ) -> Result<Option<Slot>, StateError> {
        Ok(self
            .sessions(key)?
            .iter()
            .find(|s| s.0 == w)
            .map(|s| s.1.clone()))
    }

    /// The accumulator of pane (`w`, `key`), if it exists.
    pub(super) fn pane_get(&self, w: TimeWindow, key: &[u8]) -> Result<Option<Slot>, StateError> {
        match self {
            WindowStore::Heap(h) => Ok(h.panes.get(&w).and_then(|p| p.get(key)).cloned()),
            WindowStore::Backend(b) => match b.panes.get(&(w, key.to_vec())) {
                Some(s) => Ok(Some(s.clone())),
                None => b
                    .backend
                    .get(&pane_key(w, key))?
                    .map(|bytes| decode(&bytes).map(Slot::load))
                    .transpose(),
            },
        }
    }

    /// [`WindowStore::pane_get`] lent: a heap store's slot as it is.
    pub(super) fn pane_ref(
        &self,
        w: TimeWindow,
        key: &[u8],
    ) -> Result<Option<std::borrow::Cow<'_, Slot>>, StateError> {
        match self {
            WindowStore::Heap(h) => Ok(h
                .panes
                .get(&w)
                .and_then(|p| p.get(key))
                .map(std::borrow::Cow::Borrowed)),
            WindowStore::Backend(_) => Ok(self.pane_get(w, key)?.map(std::borrow::Cow::Owned)),
        }
    }

    /// Drop every window whose last timestamp is at or before `upto`.
    pub(super) fn expire(&mut self, upto: i64) -> Result<(), StateError> {
        let expired = |w: &TimeWindow| w.max_timestamp() <= upto;
        match self {
            WindowStore::Heap(h) => {
                let mut freed = 0;
                while h.panes.first_key_value().is_some_and(|(w, _)| expired(w)) {
                    let (_, pane) = h.panes.pop_first().expect("first exists");
                    freed += pane.iter().map(|(k, s)| entry_bytes(k, s)).sum::<u64>();
                }
                while h.index.first().is_some_and(|(w, _)| expired(w)) {
                    let (w, key) = h.index.pop_first().expect("first exists");
                    freed += index_bytes(&key);
                    if let Some(v) = h.sessions.get_mut(key.as_slice()) {
                        v.retain(|s| {
                            if s.0 == w {
                                freed += SESSION_BYTES + s.1.heap_bytes();
                            }
                            s.0 != w
                        });
                        if v.is_empty() {
                            h.sessions.remove(key.as_slice());
                            freed += key.len() as u64 + ENTRY_OVERHEAD;
                        }
                    }
                }
                h.release(freed);
                Ok(())
            }
            WindowStore::Backend(b) => {
                while b.windows.first().is_some_and(expired) {
                    let w = b.windows.pop_first().expect("first exists");
                    for &kg in &b.groups {
                        b.backend.delete_prefix(&pane_prefix(kg, w))?;
                    }
                }
                let gone = self.due_sessions(i64::MIN, upto)?;
                for (w, key) in gone {
                    self.index_remove(w, &key)?;
                    self.sessions(&key)?.retain(|s| s.0 != w);
                }
                self.end_batch()
            }
        }
    }

    /// Open (window, key) accumulators: exact on the heap; in a backend,
    /// open windows (their keys are not counted).
    pub(super) fn open_windows(&self) -> usize {
        match self {
            WindowStore::Heap(h) => {
                h.panes.values().map(|m| m.len()).sum::<usize>() + h.index.len()
            }
            WindowStore::Backend(b) => b.windows.len(),
        }
    }
}
