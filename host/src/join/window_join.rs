//! The window join: pairs with equal keys in the same window.
//!
//! Flink runs `a.join(b).where(…).equalTo(…).window(…)` as a co-group of
//! both sides in one window operator; so does this: records are kept per
//! (window, key) and side, and when the watermark reaches a window's last
//! timestamp every left record of a key is paired with every right one, in
//! arrival order, stamped with that last timestamp. A record is late for a
//! window that has already fired; it is added to the windows that have not
//! and set aside when there are none.
//!
//! ```
//! use weir::join::{JoinOutput, JoinState, Side, WindowJoin};
//! use weir::window::WindowKind;
//! let state = JoinState::in_memory(weir::budget::Budgets::unbounded());
//! let mut j = WindowJoin::new(WindowKind::Tumbling { size: 10 }, state);
//! let ev = |ts: i64| weir::Event {
//!     key: Some(b"k".to_vec()), value: b"{}".to_vec(), timestamp: ts, headers: vec![],
//! };
//! let mut out = JoinOutput::default();
//! j.process(Side::Left, vec![ev(1), ev(2)], &mut out).unwrap();
//! j.process(Side::Right, vec![ev(9), ev(12)], &mut out).unwrap();
//! j.advance(9, &mut out).unwrap();
//! assert_eq!(out.results.len(), 2); // both lefts with the right at 9
//! assert_eq!(out.results[0].timestamp, 9);
//! ```

use super::state::{JoinState, key_at, push_key, tagged, time_at};
use super::{JoinError, JoinOutput, Side, event};
use crate::event::{Event, MIN_WATERMARK, Timestamp};
use crate::state::{key_group_of, time_bytes};
use crate::window::{TimeWindow, WindowKind, cumulate, sliding, tumbling};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::Path;

/// `[kg][PANES][end][start][key len][key][side][seq]` → `[time][payload]`.
const PANES: u8 = 0x22;

/// The window join of one subtask.
pub struct WindowJoin {
    kind: WindowKind,
    state: JoinState,
    /// Windows holding records (their records are in the backend).
    windows: BTreeSet<TimeWindow>,
    watermark: Timestamp,
}

/// The heap side, in a checkpoint's `join.bin`.
#[derive(Serialize, Deserialize)]
struct Saved {
    watermark: Timestamp,
    seq: u64,
    /// `(start, end)` of each open window.
    windows: Vec<(i64, i64)>,
}

/// `[kg][PANES][end][start]`: one window's records in key group `kg`.
fn pane(kg: u16, w: TimeWindow) -> Vec<u8> {
    let mut k = tagged(kg, PANES, 16);
    k.extend_from_slice(&time_bytes(w.end));
    k.extend_from_slice(&time_bytes(w.start));
    k
}

impl WindowJoin {
    /// A join over tumbling or sliding windows (not sessions), its buffers
    /// in `state`.
    pub fn new(kind: WindowKind, state: JoinState) -> Self {
        Self {
            kind,
            state,
            windows: BTreeSet::new(),
            watermark: MIN_WATERMARK,
        }
    }

    fn windows_of(&self, ts: Timestamp) -> Vec<TimeWindow> {
        match self.kind {
            WindowKind::Tumbling { size } => vec![tumbling::assign(ts, size)],
            WindowKind::Sliding { size, slide } => sliding::assign(ts, size, slide),
            WindowKind::Cumulate { size, step } => cumulate::windows(ts, size, step).collect(),
            // Refused by validation.
            WindowKind::Session { .. } | WindowKind::Global { .. } => Vec::new(),
        }
    }

    /// Open windows.
    pub fn open_windows(&self) -> usize {
        self.windows.len()
    }

    /// Add records of one side (keyed) to their windows.
    pub fn process(
        &mut self,
        side: Side,
        records: Vec<Event>,
        out: &mut JoinOutput,
    ) -> Result<(), JoinError> {
        for e in records {
            let open: Vec<TimeWindow> = self
                .windows_of(e.timestamp)
                .into_iter()
                .filter(|w| w.max_timestamp() > self.watermark)
                .collect();
            if open.is_empty() {
                out.late.push(e);
                continue;
            }
            let key = e.key.as_deref().ok_or(JoinError::NoKey)?;
            let mut value = Vec::with_capacity(8 + e.value.len());
            value.extend_from_slice(&time_bytes(e.timestamp));
            value.extend_from_slice(&e.value);
            for w in open {
                let mut k = pane(key_group_of(key), w);
                push_key(&mut k, key);
                k.push(side.byte());
                k.extend_from_slice(&self.state.seq());
                self.state.backend.put(k, value.clone())?;
                if self.windows.insert(w) {
                    self.state.index_added()?;
                }
            }
        }
        Ok(())
    }

    /// The watermark moved to `watermark`: fire every window whose last
    /// timestamp it reached, in order of their ends.
    pub fn advance(&mut self, watermark: Timestamp, out: &mut JoinOutput) -> Result<(), JoinError> {
        if watermark <= self.watermark {
            return Ok(());
        }
        self.watermark = watermark;
        while let Some(&w) = self.windows.first() {
            if w.max_timestamp() > watermark {
                break;
            }
            for &kg in &self.state.groups {
                let prefix = pane(kg, w);
                let entries = self.state.backend.scan_prefix(&prefix)?;
                if entries.is_empty() {
                    continue;
                }
                fire(&entries, prefix.len(), w, out)?;
                self.state.backend.delete_prefix(&prefix)?;
            }
            self.windows.pop_first();
            self.state.index_removed();
        }
        Ok(())
    }

    /// Write the buffers into `dir` for a checkpoint (`dir/state`); returns
    /// the heap side for `join.bin`.
    pub fn snapshot_into(&mut self, dir: &Path) -> Result<Vec<u8>, JoinError> {
        self.state.snapshot_into(dir)?;
        Ok(postcard::to_allocvec(&Saved {
            watermark: self.watermark,
            seq: self.state.saved_seq(),
            windows: self.windows.iter().map(|w| (w.start, w.end)).collect(),
        })?)
    }

    /// Add the heap side of a checkpoint's subtask (one of several when
    /// rescaling); the buffers come with the state backend.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), JoinError> {
        let saved: Saved = postcard::from_bytes(bytes)?;
        self.watermark = self.watermark.max(saved.watermark);
        self.state.restore_seq(saved.seq);
        for (start, end) in saved.windows {
            if self.windows.insert(TimeWindow { start, end }) {
                self.state.index_added()?;
            }
        }
        Ok(())
    }
}

/// Pair every left record of each key in one window's `entries` (sorted:
/// by key, then side, then arrival) with every right one.
fn fire(
    entries: &[(Vec<u8>, Vec<u8>)],
    after_window: usize,
    w: TimeWindow,
    out: &mut JoinOutput,
) -> Result<(), JoinError> {
    let mut i = 0;
    while i < entries.len() {
        let (key, at) = key_at(&entries[i].0, after_window)?;
        let mut lefts = Vec::new();
        let mut rights = Vec::new();
        while let Some((k, v)) = entries.get(i) {
            if key_at(k, after_window)?.0 != key {
                break;
            }
            let row = (time_at(v, 0)?, &v[8..]);
            match k.get(at) {
                Some(0) => lefts.push(row),
                _ => rights.push(row),
            }
            i += 1;
        }
        for &l in &lefts {
            for &r in &rights {
                let window = Some((w.start, w.end));
                out.results
                    .push(event(key, window, l, r, w.max_timestamp()));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::Budgets;
    use crate::join::testing::ev;

    fn fired(out: &JoinOutput) -> Vec<(i64, i64, i64)> {
        out.results
            .iter()
            .map(|e| {
                let v: serde_json::Value = serde_json::from_slice(&e.value).unwrap();
                (
                    v["window_start"].as_i64().unwrap(),
                    v["left"]["v"].as_i64().unwrap(),
                    v["right"]["v"].as_i64().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn sliding_windows_pair_records_in_each_window_they_share() {
        let kind = WindowKind::Sliding { size: 10, slide: 5 };
        let mut j = WindowJoin::new(kind, JoinState::in_memory(Budgets::unbounded()));
        let mut out = JoinOutput::default();
        j.process(Side::Left, vec![ev("a", 7, 1)], &mut out)
            .unwrap(); // [0,10) [5,15)
        j.process(Side::Right, vec![ev("a", 12, 2), ev("b", 7, 3)], &mut out)
            .unwrap(); // a: [5,15) [10,20)
        j.advance(100, &mut out).unwrap();
        assert_eq!(fired(&out), vec![(5, 1, 2)]);
        assert_eq!(j.open_windows(), 0);
    }

    #[test]
    fn late_records_join_only_windows_still_open() {
        let kind = WindowKind::Sliding { size: 10, slide: 5 };
        let mut j = WindowJoin::new(kind, JoinState::in_memory(Budgets::unbounded()));
        let mut out = JoinOutput::default();
        j.process(Side::Left, vec![ev("a", 12, 1)], &mut out)
            .unwrap();
        j.advance(9, &mut out).unwrap(); // [0,10) fired
        // At 8: [0,10) fired, [5,15) open.
        j.process(Side::Right, vec![ev("a", 8, 2), ev("a", 3, 3)], &mut out)
            .unwrap();
        assert_eq!(out.late.len(), 1);
        assert_eq!(out.late[0].timestamp, 3);
        j.advance(100, &mut out).unwrap();
        assert_eq!(fired(&out), vec![(5, 1, 2)]);
    }

    #[test]
    fn a_restored_join_fires_what_was_saved() {
        let dir = tempfile::tempdir().unwrap();
        let tumbling = WindowKind::Tumbling { size: 10 };
        let mut j = WindowJoin::new(tumbling, JoinState::in_memory(Budgets::unbounded()));
        let mut out = JoinOutput::default();
        j.process(Side::Left, vec![ev("a", 1, 1), ev("b", 1, 2)], &mut out)
            .unwrap();
        let saved = j.snapshot_into(dir.path()).unwrap();
        let budgets = Budgets::unbounded();
        let backend =
            crate::state::MemoryBackend::restore(&dir.path().join("state"), budgets.clone())
                .unwrap();
        let mut k = WindowJoin::new(tumbling, JoinState::new(Box::new(backend), 0, 1, budgets));
        k.restore(&saved).unwrap();
        assert_eq!(k.open_windows(), 1);
        k.process(Side::Right, vec![ev("a", 2, 5), ev("a", 3, 6)], &mut out)
            .unwrap();
        k.advance(9, &mut out).unwrap();
        assert_eq!(fired(&out), vec![(0, 1, 5), (0, 1, 6)]);
        assert_eq!(k.open_windows(), 0);
    }
}
