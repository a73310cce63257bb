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
//! use weir::join::{JoinOutput, Side, WindowJoin};
//! use weir::window::WindowKind;
//! let mut j = WindowJoin::new(WindowKind::Tumbling { size: 10 }, weir::budget::Budgets::unbounded());
//! let ev = |ts: i64| weir::Event {
//!     key: Some(b"k".to_vec()), value: b"{}".to_vec(), timestamp: ts, headers: vec![],
//! };
//! let mut out = JoinOutput::default();
//! j.process(Side::Left, vec![ev(1), ev(2)], &mut out).unwrap();
//! j.process(Side::Right, vec![ev(9), ev(12)], &mut out).unwrap();
//! j.advance(9, &mut out);
//! assert_eq!(out.results.len(), 2); // both lefts with the right at 9
//! assert_eq!(out.results[0].timestamp, 9);
//! ```

use super::{Charged, JoinError, JoinOutput, KeepKey, Row, Side, event};
use crate::budget::Budgets;
use crate::event::{Event, MIN_WATERMARK, Timestamp};
use crate::window::{TimeWindow, WindowKind, sliding, tumbling};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A window's records per key: (left, right).
type Pane = BTreeMap<Vec<u8>, (Vec<Row>, Vec<Row>)>;

/// The window join of one subtask.
pub struct WindowJoin {
    kind: WindowKind,
    panes: BTreeMap<TimeWindow, Pane>,
    watermark: Timestamp,
    charged: Charged,
}

/// A saved record: (window start, window end, key, side, time, payload).
type SavedRow = (i64, i64, Vec<u8>, u8, Timestamp, Vec<u8>);

#[derive(Serialize, Deserialize)]
struct Saved {
    watermark: Timestamp,
    /// In pane order.
    rows: Vec<SavedRow>,
}

impl WindowJoin {
    /// A join over tumbling or sliding windows (not sessions).
    pub fn new(kind: WindowKind, budgets: Arc<Budgets>) -> Self {
        Self {
            kind,
            panes: BTreeMap::new(),
            watermark: MIN_WATERMARK,
            charged: Charged::new(budgets),
        }
    }

    fn windows(&self, ts: Timestamp) -> Vec<TimeWindow> {
        match self.kind {
            WindowKind::Tumbling { size } => vec![tumbling::assign(ts, size)],
            WindowKind::Sliding { size, slide } => sliding::assign(ts, size, slide),
            // Refused by validation.
            WindowKind::Session { .. } => Vec::new(),
        }
    }

    /// Open windows.
    pub fn open_windows(&self) -> usize {
        self.panes.len()
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
                .windows(e.timestamp)
                .into_iter()
                .filter(|w| w.max_timestamp() > self.watermark)
                .collect();
            if open.is_empty() {
                out.late.push(e);
                continue;
            }
            let key = e.key.ok_or(JoinError::NoKey)?;
            for w in open {
                self.add(w, side, &key, e.timestamp, &e.value)?;
            }
        }
        Ok(())
    }

    fn add(
        &mut self,
        w: TimeWindow,
        side: Side,
        key: &[u8],
        ts: Timestamp,
        value: &[u8],
    ) -> Result<(), JoinError> {
        self.charged.add(key, value)?;
        let pane = self.panes.entry(w).or_default();
        let sides = match pane.get_mut(key) {
            Some(s) => s,
            None => pane.entry(key.to_vec()).or_default(),
        };
        let row = Row {
            ts,
            value: value.to_vec(),
        };
        match side {
            Side::Left => sides.0.push(row),
            Side::Right => sides.1.push(row),
        }
        Ok(())
    }

    /// The watermark moved to `watermark`: fire every window whose last
    /// timestamp it reached, in order of their ends.
    pub fn advance(&mut self, watermark: Timestamp, out: &mut JoinOutput) {
        if watermark <= self.watermark {
            return;
        }
        self.watermark = watermark;
        while let Some(entry) = self.panes.first_entry() {
            let w = *entry.key();
            if w.max_timestamp() > watermark {
                break;
            }
            let pane = entry.remove();
            for (key, (lefts, rights)) in pane {
                for l in &lefts {
                    for r in &rights {
                        out.results.push(event(
                            &key,
                            Some((w.start, w.end)),
                            l,
                            r,
                            w.max_timestamp(),
                        ));
                    }
                }
                for row in lefts.iter().chain(&rights) {
                    self.charged.remove(&key, &row.value);
                }
            }
        }
    }

    /// The open windows, for a checkpoint.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut rows = Vec::new();
        for (w, pane) in &self.panes {
            for (key, (lefts, rights)) in pane {
                for (side, list) in [(0u8, lefts), (1, rights)] {
                    for r in list {
                        rows.push((w.start, w.end, key.clone(), side, r.ts, r.value.clone()));
                    }
                }
            }
        }
        postcard::to_allocvec(&Saved {
            watermark: self.watermark,
            rows,
        })
        .unwrap_or_default()
    }

    /// Add the open windows of a checkpoint (one or more old subtasks'),
    /// keeping the keys `keep` says this subtask owns.
    pub fn restore(&mut self, bytes: &[u8], keep: KeepKey) -> Result<(), JoinError> {
        let saved: Saved =
            postcard::from_bytes(bytes).map_err(|e| JoinError::Restore(e.to_string()))?;
        self.watermark = self.watermark.max(saved.watermark);
        for (start, end, key, side, ts, value) in saved.rows {
            if keep(&key) {
                let side = if side == 0 { Side::Left } else { Side::Right };
                self.add(TimeWindow { start, end }, side, &key, ts, &value)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(key: &str, ts: i64, v: i64) -> Event {
        Event {
            key: Some(key.as_bytes().to_vec()),
            value: format!("{{\"v\":{v}}}").into_bytes(),
            timestamp: ts,
            headers: vec![],
        }
    }

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
        let mut j = WindowJoin::new(kind, Budgets::unbounded());
        let mut out = JoinOutput::default();
        j.process(Side::Left, vec![ev("a", 7, 1)], &mut out)
            .unwrap(); // [0,10) [5,15)
        j.process(Side::Right, vec![ev("a", 12, 2), ev("b", 7, 3)], &mut out)
            .unwrap(); // a: [5,15) [10,20)
        j.advance(100, &mut out);
        assert_eq!(fired(&out), vec![(5, 1, 2)]);
        assert_eq!(j.open_windows(), 0);
    }

    #[test]
    fn late_records_join_only_windows_still_open() {
        let kind = WindowKind::Sliding { size: 10, slide: 5 };
        let mut j = WindowJoin::new(kind, Budgets::unbounded());
        let mut out = JoinOutput::default();
        j.process(Side::Left, vec![ev("a", 12, 1)], &mut out)
            .unwrap();
        j.advance(9, &mut out); // [0,10) fired
        // At 8: [0,10) fired, [5,15) open.
        j.process(Side::Right, vec![ev("a", 8, 2), ev("a", 3, 3)], &mut out)
            .unwrap();
        assert_eq!(out.late.len(), 1);
        assert_eq!(out.late[0].timestamp, 3);
        j.advance(100, &mut out);
        assert_eq!(fired(&out), vec![(5, 1, 2)]);
    }

    #[test]
    fn a_restored_join_fires_what_was_saved() {
        let mut j = WindowJoin::new(WindowKind::Tumbling { size: 10 }, Budgets::unbounded());
        let mut out = JoinOutput::default();
        j.process(Side::Left, vec![ev("a", 1, 1), ev("b", 1, 2)], &mut out)
            .unwrap();
        let saved = j.snapshot();
        let mut k = WindowJoin::new(WindowKind::Tumbling { size: 10 }, Budgets::unbounded());
        k.restore(&saved, &|key| key == b"a").unwrap();
        k.process(Side::Right, vec![ev("a", 2, 5), ev("b", 2, 6)], &mut out)
            .unwrap();
        k.advance(9, &mut out);
        assert_eq!(fired(&out), vec![(0, 1, 5)]);
    }
}
