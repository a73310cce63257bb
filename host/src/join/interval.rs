//! The interval join: pairs with equal keys whose times are close.
//!
//! Flink's `IntervalJoinOperator`, step by step: a record below the
//! watermark is late; otherwise it is buffered under (key, time) and joined
//! with every buffered record of the other side in its interval (for a left
//! record at `t`: right records in `[t + lower, t + upper]`; for a right
//! record at `t`: left records in `[t − upper, t − lower]`). A buffered
//! record is dropped once the watermark reaches the last time a partner of
//! it could have: `t + upper` for the left side (when `upper > 0`, else
//! `t`), `t − lower` for the right (when `lower < 0`, else `t`).
//!
//! A regular join ([`IntervalJoin::regular`], Flink's join of two tables
//! without time bounds) is the same with an unbounded interval: every pair
//! with equal keys, nothing late, every record kept — or, with a time to
//! live (Flink's `table.exec.state.ttl`), kept for that long in processing
//! time after it arrived, as Flink's join state is.
//!
//! Cleanup runs per second of event time: a record stays buffered until
//! the watermark passes the whole second its last partner time falls in.
//! Keeping a record longer than needed is harmless: a partner that could
//! still find it would be below the watermark, and late.
//!
//! ```
//! use weir::join::{IntervalJoin, JoinOutput, JoinState, Side};
//! use weir::budget::Budgets;
//! let mut j = IntervalJoin::new(-5, 5, JoinState::in_memory(Budgets::unbounded()));
//! let ev = |ts: i64, v: &str| weir::Event {
//!     key: Some(b"k".to_vec()), value: v.as_bytes().to_vec(), timestamp: ts, headers: vec![],
//! };
//! let mut out = JoinOutput::default();
//! j.process(Side::Left, vec![ev(100, r#"{"l":1}"#)], &mut out).unwrap();
//! j.process(Side::Right, vec![ev(104, r#"{"r":1}"#), ev(106, r#"{"r":2}"#)], &mut out).unwrap();
//! assert_eq!(out.results.len(), 1);
//! assert_eq!(out.results[0].timestamp, 104);
//! ```

use super::state::{JoinState, push_key, tagged, time_at};
use super::{JoinError, JoinOutput, Side, event};
use crate::event::{Event, MIN_WATERMARK, Timestamp};
use crate::state::{key_group_of, prefix_end, time_bytes};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::Path;

/// Buffered records: `[kg][ROWS][side][key len][key][time][seq]` → payload.
pub(super) const ROWS: u8 = 0x20;
/// When to drop them: `[kg][DUE][cleanup time][side][key len][key][time][seq]`.
pub(super) const DUE: u8 = 0x21;
/// Cleanup times are gathered per this many milliseconds of event time.
pub(super) const DUE_GRAIN: i64 = 1000;

/// Which pairs a join makes, and how long it keeps a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bounds {
    /// Right records in `[left.ts + lower, left.ts + upper]` (ms); a
    /// record below the watermark is late, and a buffered one is dropped
    /// once the watermark passes its last partner's time.
    Interval { lower: i64, upper: i64 },
    /// A regular join: every pair with equal keys, whatever their times;
    /// nothing late, every record kept for ever.
    Regular,
    /// A regular join whose records are dropped `ttl` ms of processing
    /// time after they came.
    RegularFor { ttl: i64 },
}

/// The interval join of one subtask.
pub struct IntervalJoin {
    bounds: Bounds,
    state: JoinState,
    /// The ends of the grains that hold cleanup times, so the backend is
    /// searched for what to drop only when one of them is due.
    due: BTreeSet<Timestamp>,
    watermark: Timestamp,
    /// Everything due up to here is gone: the next search starts here,
    /// not at the deleted entries before it.
    cleaned: Timestamp,
}

/// The heap side, in a checkpoint's `join.bin`.
#[derive(Serialize, Deserialize)]
pub(super) struct Saved {
    pub watermark: Timestamp,
    pub seq: u64,
    pub due: Vec<Timestamp>,
}

/// `[kg][ROWS][side][key len][key]`: one side's records of one key.
pub(super) fn rows_of(side: Side, key: &[u8]) -> Vec<u8> {
    let mut k = tagged(key_group_of(key), ROWS, 1 + 4 + key.len() + 16);
    k.push(side.byte());
    push_key(&mut k, key);
    k
}

/// The end of the rows under `prefix`: a scan from `prefix` to it reads
/// them all.
fn all_of(prefix: &[u8]) -> Result<Vec<u8>, JoinError> {
    prefix_end(prefix).ok_or(JoinError::Malformed(prefix.len()))
}

/// The end of the grain `t` falls in.
pub(super) fn grain_end(t: Timestamp) -> Timestamp {
    t.div_euclid(DUE_GRAIN)
        .saturating_add(1)
        .saturating_mul(DUE_GRAIN)
        .saturating_sub(1)
}

impl IntervalJoin {
    /// A join of right records in `[left.ts + lower, left.ts + upper]` (ms),
    /// its buffers in `state`.
    pub fn new(lower: i64, upper: i64, state: JoinState) -> Self {
        Self {
            bounds: Bounds::Interval { lower, upper },
            state,
            due: BTreeSet::new(),
            watermark: MIN_WATERMARK,
            cleaned: MIN_WATERMARK,
        }
    }

    /// A regular join: every pair with equal keys, whatever their times;
    /// each record kept for ever, or (`ttl`, ms) that long in processing
    /// time after it came.
    pub fn regular(ttl: Option<i64>, state: JoinState) -> Self {
        Self {
            bounds: match ttl {
                Some(ttl) => Bounds::RegularFor { ttl },
                None => Bounds::Regular,
            },
            ..Self::new(-i64::MAX, i64::MAX, state)
        }
    }

    /// Records buffered, both sides (reads the whole buffer).
    pub fn buffered(&self) -> Result<usize, JoinError> {
        let mut n = 0;
        for &kg in &self.state.groups {
            n += self.state.backend.scan_prefix(&tagged(kg, ROWS, 0))?.len();
        }
        Ok(n)
    }

    /// Add records of one side (keyed), joining each with the other side.
    pub fn process(
        &mut self,
        side: Side,
        records: Vec<Event>,
        out: &mut JoinOutput,
    ) -> Result<(), JoinError> {
        self.process_at(side, records, crate::time::now_ms(), out)
    }

    /// [`Self::process`] at processing time `now` (ms), which a regular
    /// join's time to live counts in.
    pub fn process_at(
        &mut self,
        side: Side,
        records: Vec<Event>,
        now: Timestamp,
        out: &mut JoinOutput,
    ) -> Result<(), JoinError> {
        if let Bounds::RegularFor { .. } = self.bounds {
            // What lived its time is gone before the new records look.
            self.drop_due(now)?;
        }
        for e in records {
            if matches!(self.bounds, Bounds::Interval { .. }) && e.timestamp < self.watermark {
                out.late.push(e);
                continue;
            }
            let key = e.key.as_deref().ok_or(JoinError::NoKey)?;
            self.insert(side, key, e.timestamp, &e.value, now, out)?;
        }
        Ok(())
    }

    fn insert(
        &mut self,
        side: Side,
        key: &[u8],
        ts: Timestamp,
        value: &[u8],
        now: Timestamp,
        out: &mut JoinOutput,
    ) -> Result<(), JoinError> {
        let other = match side {
            Side::Left => Side::Right,
            Side::Right => Side::Left,
        };
        let theirs = rows_of(other, key);
        // The other side's rows to pair with, and when this one is due.
        let (lo, hi, cleanup_at) = match self.bounds {
            Bounds::Interval { lower, upper } => {
                let (relative_lower, relative_upper) = match side {
                    Side::Left => (lower, upper),
                    Side::Right => (-upper, -lower),
                };
                let from = ts.saturating_add(relative_lower);
                let to = ts.saturating_add(relative_upper);
                let lo = [theirs.as_slice(), &time_bytes(from)].concat();
                let hi = match to.checked_add(1) {
                    Some(after) => [theirs.as_slice(), &time_bytes(after)].concat(),
                    None => all_of(&theirs)?,
                };
                (lo, hi, Some(if relative_upper > 0 { to } else { ts }))
            }
            // A regular join: all of the key's rows.
            Bounds::Regular => (theirs.clone(), all_of(&theirs)?, None),
            Bounds::RegularFor { ttl } => (
                theirs.clone(),
                all_of(&theirs)?,
                Some(now.saturating_add(ttl)),
            ),
        };
        for (k, v) in self.state.backend.scan_range(&lo, &hi)? {
            let o = (time_at(&k, theirs.len())?, v.as_slice());
            let (l, r) = match side {
                Side::Left => ((ts, value), o),
                Side::Right => (o, (ts, value)),
            };
            out.results.push(event(key, None, l, r, l.0.max(r.0)));
        }
        let Some(cleanup_at) = cleanup_at else {
            // Kept for ever: no cleanup entry.
            let mut row = rows_of(side, key);
            row.extend_from_slice(&time_bytes(ts));
            row.extend_from_slice(&self.state.seq());
            self.state.backend.put(row, value.to_vec())?;
            return Ok(());
        };
        let mut row = rows_of(side, key);
        row.extend_from_slice(&time_bytes(ts));
        row.extend_from_slice(&self.state.seq());
        let mut due = tagged(key_group_of(key), DUE, 8 + row.len());
        due.extend_from_slice(&time_bytes(cleanup_at));
        due.extend_from_slice(&row[3..]);
        self.state.backend.put(row, value.to_vec())?;
        self.state.backend.put(due, Vec::new())?;
        if self.due.insert(grain_end(cleanup_at)) {
            self.state.index_added()?;
        }
        Ok(())
    }

    /// The watermark moved to `watermark`: drop what can no longer join
    /// (a regular join keeps its records whatever the watermark).
    pub fn advance(&mut self, watermark: Timestamp) -> Result<(), JoinError> {
        if watermark <= self.watermark {
            return Ok(());
        }
        self.watermark = watermark;
        match self.bounds {
            Bounds::Interval { .. } => self.drop_due(watermark),
            Bounds::Regular | Bounds::RegularFor { .. } => Ok(()),
        }
    }

    /// Drop the records due at `until` or before (event time for an
    /// interval join, processing time for a regular join's time to live).
    fn drop_due(&mut self, until: Timestamp) -> Result<(), JoinError> {
        let mut any = false;
        while self.due.first().is_some_and(|&t| t <= until) {
            self.due.pop_first();
            self.state.index_removed();
            any = true;
        }
        if !any {
            return Ok(());
        }
        for &kg in &self.state.groups {
            let due = tagged(kg, DUE, 8);
            // A record at the watermark may be due at it: from `cleaned` on.
            let from = [due.as_slice(), &time_bytes(self.cleaned)].concat();
            let to = match until.checked_add(1) {
                Some(after) => [due.as_slice(), &time_bytes(after)].concat(),
                None => prefix_end(&due).ok_or(JoinError::Malformed(due.len()))?,
            };
            for (k, _) in self.state.backend.scan_range(&from, &to)? {
                let mut row = tagged(kg, ROWS, k.len());
                row.extend_from_slice(k.get(3 + 8..).ok_or(JoinError::Malformed(k.len()))?);
                self.state.backend.delete(&row)?;
                self.state.backend.delete(&k)?;
            }
        }
        self.cleaned = until;
        Ok(())
    }

    /// Write the buffers into `dir` for a checkpoint (`dir/state`); returns
    /// the heap side for `join.bin`.
    pub fn snapshot_into(&mut self, dir: &Path) -> Result<Vec<u8>, JoinError> {
        self.state.snapshot_into(dir)?;
        Ok(postcard::to_allocvec(&Saved {
            watermark: self.watermark,
            seq: self.state.saved_seq(),
            due: self.due.iter().copied().collect(),
        })?)
    }

    /// Add the heap side of a checkpoint's subtask (one of several when
    /// rescaling); the buffers come with the state backend.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), JoinError> {
        let saved: Saved = postcard::from_bytes(bytes)?;
        self.watermark = self.watermark.max(saved.watermark);
        self.state.restore_seq(saved.seq);
        for t in saved.due {
            if self.due.insert(t) {
                self.state.index_added()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::Budgets;
    use crate::join::testing::{ev, pairs};

    #[test]
    fn pairs_within_the_bounds_inclusive_and_per_key() {
        let mut j = IntervalJoin::new(-2, 3, JoinState::in_memory(Budgets::unbounded()));
        let mut out = JoinOutput::default();
        j.process(Side::Left, vec![ev("a", 10, 1), ev("b", 10, 2)], &mut out)
            .unwrap();
        let right = vec![
            ev("a", 7, 10),  // 10 - 3: out
            ev("a", 8, 11),  // 10 - 2: in
            ev("a", 13, 12), // 10 + 3: in
            ev("a", 14, 13), // out
            ev("c", 10, 14), // other key
        ];
        j.process(Side::Right, right, &mut out).unwrap();
        assert_eq!(pairs(&out), vec![(1, 11), (1, 12)]);
        // A later left record finds the buffered right ones in [9, 14].
        let mut out = JoinOutput::default();
        j.process(Side::Left, vec![ev("a", 11, 3)], &mut out)
            .unwrap();
        assert_eq!(pairs(&out), vec![(3, 12), (3, 13)]);
    }

    #[test]
    fn late_records_are_set_aside_and_buffers_cleaned_by_the_watermark() {
        let mut j = IntervalJoin::new(0, 5, JoinState::in_memory(Budgets::unbounded()));
        let mut out = JoinOutput::default();
        j.process(Side::Left, vec![ev("a", 10, 1)], &mut out)
            .unwrap();
        j.advance(14).unwrap();
        j.process(Side::Right, vec![ev("a", 13, 2)], &mut out)
            .unwrap(); // late
        j.process(Side::Right, vec![ev("a", 15, 3)], &mut out)
            .unwrap();
        assert_eq!(out.late.len(), 1);
        assert_eq!(pairs(&out), vec![(1, 3)]);
        j.advance(998).unwrap();
        assert_eq!(j.buffered().unwrap(), 2, "kept until the second has passed");
        j.advance(999).unwrap();
        assert_eq!(j.buffered().unwrap(), 0);
    }

    #[test]
    fn a_restored_join_keeps_joining_and_rescaling_keeps_the_owned_keys() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = IntervalJoin::new(-5, 5, JoinState::in_memory(Budgets::unbounded()));
        let mut out = JoinOutput::default();
        let keys: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
        let lefts = keys.iter().map(|k| ev(k, 10, 1)).collect();
        j.process(Side::Left, lefts, &mut out).unwrap();
        let saved = j.snapshot_into(dir.path()).unwrap();
        // Two subtasks now: each gets the keys of its key groups.
        let mut found = Vec::new();
        for subtask in 0..2 {
            let budgets = Budgets::unbounded();
            let backend =
                crate::state::MemoryBackend::restore(&dir.path().join("state"), budgets.clone())
                    .unwrap();
            let state = JoinState::new(Box::new(backend), subtask, 2, budgets);
            let mut k = IntervalJoin::new(-5, 5, state);
            k.restore(&saved).unwrap();
            let mut out = JoinOutput::default();
            let kg = crate::state::KeyGroups { parallelism: 2 };
            let mine = keys
                .iter()
                .filter(|k| kg.subtask_of_key(k.as_bytes()) == subtask)
                .map(|k| ev(k, 12, 5))
                .collect();
            k.process(Side::Right, mine, &mut out).unwrap();
            assert!(out.results.len() > 5, "subtask {subtask} owns a few keys");
            found.extend(out.results.into_iter().map(|e| e.key.unwrap()));
            // A record late for the restored watermark is still late.
            k.advance(20).unwrap();
            let mut out = JoinOutput::default();
            k.process(Side::Right, vec![ev("k1", 19, 9)], &mut out)
                .unwrap();
            assert_eq!(out.late.len(), 1);
        }
        found.sort();
        let mut all: Vec<Vec<u8>> = keys.iter().map(|k| k.as_bytes().to_vec()).collect();
        all.sort();
        assert_eq!(
            found, all,
            "every key joined once, on the subtask that owns it"
        );
    }

    #[test]
    fn records_with_equal_keys_and_times_all_join() {
        let mut j = IntervalJoin::new(0, 0, JoinState::in_memory(Budgets::unbounded()));
        let mut out = JoinOutput::default();
        j.process(Side::Left, vec![ev("a", 5, 1), ev("a", 5, 2)], &mut out)
            .unwrap();
        j.process(Side::Right, vec![ev("a", 5, 3), ev("a", 4, 4)], &mut out)
            .unwrap();
        assert_eq!(pairs(&out), vec![(1, 3), (2, 3)]);
    }

    #[test]
    fn a_regular_join_pairs_every_record_of_a_key_whatever_the_watermark() {
        let mut j = IntervalJoin::regular(None, JoinState::in_memory(Budgets::unbounded()));
        let mut out = JoinOutput::default();
        j.process(
            Side::Left,
            vec![ev("a", 1_000_000, 1), ev("b", 5, 2)],
            &mut out,
        )
        .unwrap();
        j.advance(2_000_000).unwrap();
        // Far behind the watermark, and far from the left record: joins.
        j.process(
            Side::Right,
            vec![ev("a", 3, 10), ev("a", 5_000_000, 11), ev("c", 3, 12)],
            &mut out,
        )
        .unwrap();
        j.process(Side::Left, vec![ev("a", i64::MIN + 1, 3)], &mut out)
            .unwrap();
        j.advance(i64::MAX).unwrap();
        j.process(Side::Right, vec![ev("b", i64::MAX, 13)], &mut out)
            .unwrap();
        assert!(out.late.is_empty());
        assert_eq!(
            pairs(&out),
            vec![(1, 10), (1, 11), (2, 13), (3, 10), (3, 11)]
        );
        assert_eq!(j.buffered().unwrap(), 7, "every record kept, nothing due");
    }

    #[test]
    fn a_regular_joins_records_live_their_time_to_live_in_processing_time() {
        let mut j = IntervalJoin::regular(Some(100), JoinState::in_memory(Budgets::unbounded()));
        let mut out = JoinOutput::default();
        j.process_at(Side::Left, vec![ev("a", 0, 1)], 1_000, &mut out)
            .unwrap();
        j.process_at(Side::Left, vec![ev("a", 0, 2)], 1_050, &mut out)
            .unwrap();
        // At 1,100 the first has lived its 100 ms (the grain is a second,
        // so it may stay a little longer, never less).
        j.process_at(Side::Right, vec![ev("a", 0, 10)], 1_099, &mut out)
            .unwrap();
        assert_eq!(pairs(&out), vec![(1, 10), (2, 10)]);
        let mut out = JoinOutput::default();
        j.process_at(Side::Right, vec![ev("a", 0, 11)], 2_200, &mut out)
            .unwrap();
        assert_eq!(pairs(&out), vec![], "both left records are gone");
        assert_eq!(
            j.buffered().unwrap(),
            1,
            "only the last right record is left"
        );
    }
}
