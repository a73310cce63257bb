//! Window contents in a checkpoint.
//!
//! A keyed subtask's windows are written at the barrier as one compact
//! binary file (postcard), `window.bin`: the time reached and, for windows
//! on the heap, every open (window, key) accumulator (for sliced windows,
//! every (slice, key)'s: see [`super::slices`]). Windows kept in a
//! state backend are in that backend's snapshot (`state/`), and `window.bin`
//! lists only the open windows. Restoring merges one or more such files
//! and keeps only the keys a subtask owns, which is how a job is rescaled:
//! key groups move between subtasks, the accumulators with them. Whether a
//! window already fired is not stored: a window has fired exactly when time
//! has passed its last timestamp.

use super::TimeWindow;
use super::WindowError;
use super::aggregate::{SavedSlot, Slot};
use super::operator::WindowOperator;
use super::store::{HeapStore, Key, SESSION_BYTES, WindowStore, entry_bytes, index_bytes};
use crate::budget::ENTRY_OVERHEAD;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Why a window's checkpointed state cannot be put back.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The file is not a window's state.
    #[error("undecodable window state: {0}")]
    Decode(#[from] postcard::Error),
    /// Saved from a RocksDB state backend, restored onto the heap.
    #[error(
        "the windows were kept in a RocksDB state backend; run with state.backend = \"rocksdb\""
    )]
    KeptInRocksDb,
    /// Saved from the heap, restored into RocksDB.
    #[error("the windows were kept on the heap; run with state.backend = \"memory\"")]
    KeptOnHeap,
    /// Putting the contents back passed the job's memory budget.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
}

/// `(start, end)` of a window.
type Bounds = (i64, i64);
/// A pane: its window and `(key, accumulator)`s, keys sorted.
type SavedPane = (Bounds, Vec<(Vec<u8>, SavedSlot)>);
/// A key's sessions.
type SavedSessions = (Vec<u8>, Vec<(Bounds, SavedSlot)>);

/// The file in a keyed subtask's checkpoint directory.
pub const WINDOW_FILE: &str = "window.bin";

#[derive(Deserialize)]
struct Saved {
    /// The accumulators are in the backend snapshot, not here.
    in_backend: bool,
    current: i64,
    pane_capacity: u64,
    /// Open tumbling/sliding windows (in-backend stores).
    windows: Vec<Bounds>,
    panes: Vec<SavedPane>,
    sessions: Vec<SavedSessions>,
}

/// [`Saved`] as it is written: the same fields in the same order (postcard
/// is not self-describing), the heap's panes and sessions serialized from
/// where they are.
#[derive(Serialize)]
struct SavedRef<'a> {
    in_backend: bool,
    current: i64,
    pane_capacity: u64,
    windows: Vec<Bounds>,
    panes: PanesRef<'a>,
    sessions: SessionsRef<'a>,
}

struct PanesRef<'a>(Option<&'a HeapStore>);
struct SessionsRef<'a>(Option<&'a HeapStore>);

impl Serialize for PanesRef<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some(h) = self.0 else {
            return s.collect_seq(std::iter::empty::<()>());
        };
        s.collect_seq(h.panes.iter().map(|(w, pane)| {
            // Keys sorted, so the same windows give the same file.
            let mut slots: Vec<(&[u8], &Slot)> =
                pane.iter().map(|(k, s)| (k.as_slice(), s)).collect();
            slots.sort_unstable_by(|a, b| a.0.cmp(b.0));
            let slots: Vec<(&[u8], SavedSlot)> =
                slots.into_iter().map(|(k, s)| (k, s.save())).collect();
            ((w.start, w.end), slots)
        }))
    }
}

impl Serialize for SessionsRef<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some(h) = self.0 else {
            return s.collect_seq(std::iter::empty::<()>());
        };
        s.collect_seq(h.sessions.iter().map(|(k, v)| {
            let v: Vec<(Bounds, SavedSlot)> = v
                .iter()
                .map(|(w, s)| ((w.start, w.end), s.save()))
                .collect();
            (k, v)
        }))
    }
}

fn window((start, end): Bounds) -> TimeWindow {
    TimeWindow { start, end }
}

fn io(dir: &Path) -> impl Fn(std::io::Error) -> WindowError + '_ {
    move |e| {
        WindowError::State(crate::state::StateError::Backend {
            backend: "checkpoint",
            message: format!("{}: {e}", dir.display()),
        })
    }
}

impl WindowOperator {
    /// Write the operator's state for a checkpoint into `dir`. Pending work
    /// is sent to a Wasm aggregate first, so what is saved is complete.
    pub fn snapshot_into(&mut self, dir: &Path) -> Result<(), WindowError> {
        self.flush(None)?;
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let (in_backend, windows, heap) = match &mut self.store {
            WindowStore::Heap(h) => (false, Vec::new(), Some(&*h)),
            WindowStore::Backend(b) => {
                b.backend.snapshot_into(&dir.join("state"))?;
                (
                    true,
                    b.windows.iter().map(|w| (w.start, w.end)).collect(),
                    None,
                )
            }
        };
        // Streamed straight from the heap store into the file: a checkpoint
        // never holds a second copy of the windows.
        let saved = SavedRef {
            in_backend,
            current: self.current,
            pane_capacity: self.pane_capacity as u64,
            windows,
            panes: PanesRef(heap),
            sessions: SessionsRef(heap),
        };
        let file = std::fs::File::create(dir.join(WINDOW_FILE)).map_err(io(dir))?;
        let out = postcard::to_io(&saved, std::io::BufWriter::with_capacity(1 << 20, file))
            .map_err(|e| io(dir)(std::io::Error::other(e)))?;
        out.into_inner()
            .map_err(|e| io(dir)(e.into_error()))?
            .sync_all()
            .map_err(io(dir))
    }

    /// Add the state in `bytes` (a `window.bin`) for the keys `keep`
    /// accepts. Called once per saved subtask when rescaling. An in-backend
    /// store gets its accumulators from the backend's own restore; this
    /// adds the list of open windows and the time reached.
    pub fn restore(
        &mut self,
        bytes: &[u8],
        keep: &dyn Fn(&[u8]) -> bool,
    ) -> Result<(), RestoreError> {
        let saved: Saved = postcard::from_bytes(bytes)?;
        if let Some(s) = self.slicing {
            // Saved by a version that kept each sliding window whole: its
            // panes are windows, not slices, so this operator keeps them
            // that way.
            let slide = s.slide();
            let whole = |(start, end): &Bounds| end - start != slide;
            if saved.panes.iter().any(|(b, _)| whole(b)) || saved.windows.iter().any(whole) {
                self.slicing = None;
            }
        }
        self.current = self.current.max(saved.current);
        self.pane_capacity = self.pane_capacity.max(saved.pane_capacity as usize);
        match &mut self.store {
            WindowStore::Heap(_) if saved.in_backend => return Err(RestoreError::KeptInRocksDb),
            WindowStore::Backend(_) if !saved.in_backend => return Err(RestoreError::KeptOnHeap),
            WindowStore::Backend(b) => b.windows.extend(saved.windows.into_iter().map(window)),
            WindowStore::Heap(h) => {
                // Restored contents are charged to the job's memory as
                // they are put back, like contents that grow.
                for (w, slots) in saved.panes {
                    let w = window(w);
                    let mut pane = h.panes.remove(&w).unwrap_or_default();
                    for (key, slot) in slots.into_iter().filter(|(k, _)| keep(k)) {
                        let slot = Slot::load(slot);
                        h.charge(entry_bytes(&key, &slot))?;
                        pane.insert(super::store::Key::from_vec(key), slot);
                    }
                    if !pane.is_empty() {
                        h.panes.insert(w, pane);
                    }
                }
                for (key, sessions) in saved.sessions.into_iter().filter(|(k, _)| keep(k)) {
                    h.charge(key.len() as u64 + ENTRY_OVERHEAD)?;
                    let mut v = h.sessions.remove(&key).unwrap_or_default();
                    for (w, slot) in sessions {
                        let w = window(w);
                        let slot = Slot::load(slot);
                        h.charge(SESSION_BYTES + slot.heap_bytes() + index_bytes(&key))?;
                        h.index.insert((w, Key::from_slice(&key)));
                        v.push((w, slot));
                    }
                    h.sessions.insert(key, v);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::job::AggregateSpec;
    use crate::window::aggregate::Aggregation;
    use crate::window::operator::WindowOutput;
    use crate::window::{TimeMode, WindowKind};

    fn op(kind: WindowKind) -> WindowOperator {
        let sum = AggregateSpec {
            function: "sum".into(),
            field: Some("n".into()),
            output: None,
        };
        WindowOperator::new(
            kind,
            TimeMode::Event,
            0,
            Aggregation::native(&[sum]),
            crate::budget::Budgets::unbounded(),
        )
    }

    fn rec(key: &str, ts: i64, n: i64) -> Event {
        Event {
            key: Some(key.as_bytes().to_vec()),
            value: format!(r#"{{"n":{n}}}"#).into_bytes(),
            timestamp: ts,
            headers: vec![],
        }
    }

    /// Run the first half, snapshot, restore into fresh operators split by
    /// key, run the second half: the union of results equals one run.
    #[test]
    fn restored_and_split_operators_continue_exactly() {
        for kind in [
            WindowKind::Tumbling { size: 10 },
            WindowKind::Session { gap: 5 },
            WindowKind::Sliding { size: 10, slide: 5 },
            WindowKind::Cumulate { size: 10, step: 2 },
            WindowKind::Global { ttl: None },
            WindowKind::Global { ttl: Some(20) },
        ] {
            let first: Vec<Event> = (0..40)
                .map(|i| rec(["a", "b", "c"][i % 3], i as i64, 1))
                .collect();
            let second: Vec<Event> = (40..80)
                .map(|i| rec(["a", "b", "c"][i % 3], i as i64, 2))
                .collect();
            let mut whole = op(kind);
            let mut expected = WindowOutput::default();
            whole
                .process_batch(first.clone(), 0, &mut expected)
                .unwrap();
            whole.advance(30, &mut expected).unwrap();
            let dir = tempfile::tempdir().unwrap();
            whole.snapshot_into(dir.path()).unwrap();
            let bytes = std::fs::read(dir.path().join(WINDOW_FILE)).unwrap();
            whole
                .process_batch(second.clone(), 0, &mut expected)
                .unwrap();
            whole.advance(i64::MAX, &mut expected).unwrap();

            let mut before = op(kind);
            let mut got = WindowOutput::default();
            before.process_batch(first, 0, &mut got).unwrap();
            before.advance(30, &mut got).unwrap();
            for part in [&["a"][..], &["b", "c"][..]] {
                let mut restored = op(kind);
                restored
                    .restore(&bytes, &|k| part.contains(&std::str::from_utf8(k).unwrap()))
                    .unwrap();
                let mine: Vec<Event> = second
                    .iter()
                    .filter(|e| {
                        part.contains(&std::str::from_utf8(e.key.as_deref().unwrap()).unwrap())
                    })
                    .cloned()
                    .collect();
                restored.process_batch(mine, 0, &mut got).unwrap();
                restored.advance(i64::MAX, &mut got).unwrap();
            }
            let lines = |o: &WindowOutput| {
                let mut v: Vec<Vec<u8>> = o.results.iter().map(|e| e.value.clone()).collect();
                v.sort();
                v
            };
            assert_eq!(lines(&got), lines(&expected), "{kind:?}");
        }
    }
}
