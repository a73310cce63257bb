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
//! ```
//! use weir::join::{IntervalJoin, JoinOutput, Side};
//! use weir::budget::Budgets;
//! let mut j = IntervalJoin::new(-5, 5, Budgets::unbounded());
//! let ev = |ts: i64, v: &str| weir::Event {
//!     key: Some(b"k".to_vec()), value: v.as_bytes().to_vec(), timestamp: ts, headers: vec![],
//! };
//! let mut out = JoinOutput::default();
//! j.process(Side::Left, vec![ev(100, r#"{"l":1}"#)], &mut out).unwrap();
//! j.process(Side::Right, vec![ev(104, r#"{"r":1}"#), ev(106, r#"{"r":2}"#)], &mut out).unwrap();
//! assert_eq!(out.results.len(), 1);
//! assert_eq!(out.results[0].timestamp, 104);
//! ```

use super::{Charged, JoinError, JoinOutput, KeepKey, Row, Side, event};
use crate::budget::Budgets;
use crate::event::{Event, MIN_WATERMARK, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Buffered records of one side: key → time → records in arrival order.
type Buffer = BTreeMap<Vec<u8>, BTreeMap<Timestamp, Vec<Row>>>;

/// The interval join of one subtask.
pub struct IntervalJoin {
    lower: i64,
    upper: i64,
    left: Buffer,
    right: Buffer,
    /// (cleanup time, side, key, record time): when to drop a bucket.
    cleanup: BTreeSet<(Timestamp, u8, Vec<u8>, Timestamp)>,
    watermark: Timestamp,
    charged: Charged,
}

#[derive(Serialize, Deserialize)]
struct Saved {
    watermark: Timestamp,
    /// (side, key, time, payload), in buffer order.
    rows: Vec<(u8, Vec<u8>, Timestamp, Vec<u8>)>,
}

fn side_byte(s: Side) -> u8 {
    match s {
        Side::Left => 0,
        Side::Right => 1,
    }
}

impl IntervalJoin {
    /// A join of right records in `[left.ts + lower, left.ts + upper]` (ms).
    pub fn new(lower: i64, upper: i64, budgets: Arc<Budgets>) -> Self {
        Self {
            lower,
            upper,
            left: Buffer::new(),
            right: Buffer::new(),
            cleanup: BTreeSet::new(),
            watermark: MIN_WATERMARK,
            charged: Charged::new(budgets),
        }
    }

    /// Records buffered, both sides.
    pub fn buffered(&self) -> usize {
        [&self.left, &self.right]
            .iter()
            .flat_map(|b| b.values())
            .flat_map(|t| t.values())
            .map(Vec::len)
            .sum()
    }

    /// Add records of one side (keyed), joining each with the other side.
    pub fn process(
        &mut self,
        side: Side,
        records: Vec<Event>,
        out: &mut JoinOutput,
    ) -> Result<(), JoinError> {
        for e in records {
            if e.timestamp < self.watermark {
                out.late.push(e);
                continue;
            }
            let key = e.key.ok_or(JoinError::NoKey)?;
            let row = Row {
                ts: e.timestamp,
                value: e.value,
            };
            self.insert(side, key, row, out)?;
        }
        Ok(())
    }

    fn insert(
        &mut self,
        side: Side,
        key: Vec<u8>,
        row: Row,
        out: &mut JoinOutput,
    ) -> Result<(), JoinError> {
        let ts = row.ts;
        let (relative_lower, relative_upper) = match side {
            Side::Left => (self.lower, self.upper),
            Side::Right => (-self.upper, -self.lower),
        };
        let other = match side {
            Side::Left => &self.right,
            Side::Right => &self.left,
        };
        if let Some(times) = other.get(&key) {
            let from = ts.saturating_add(relative_lower);
            let to = ts.saturating_add(relative_upper);
            for rows in times.range(from..=to).map(|(_, r)| r) {
                for o in rows {
                    let (l, r) = match side {
                        Side::Left => (&row, o),
                        Side::Right => (o, &row),
                    };
                    out.results.push(event(&key, None, l, r, l.ts.max(r.ts)));
                }
            }
        }
        let cleanup_at = if relative_upper > 0 {
            ts.saturating_add(relative_upper)
        } else {
            ts
        };
        self.charged.add(&key, &row.value)?;
        self.cleanup
            .insert((cleanup_at, side_byte(side), key.clone(), ts));
        let mine = match side {
            Side::Left => &mut self.left,
            Side::Right => &mut self.right,
        };
        mine.entry(key)
            .or_default()
            .entry(ts)
            .or_default()
            .push(row);
        Ok(())
    }

    /// The watermark moved to `watermark`: drop what can no longer join.
    pub fn advance(&mut self, watermark: Timestamp) {
        if watermark <= self.watermark {
            return;
        }
        self.watermark = watermark;
        while let Some(first) = self.cleanup.first() {
            if first.0 > watermark {
                break;
            }
            let (_, side, key, ts) = self.cleanup.pop_first().expect("not empty");
            let buffer = if side == 0 {
                &mut self.left
            } else {
                &mut self.right
            };
            if let Some(times) = buffer.get_mut(&key) {
                for row in times.remove(&ts).unwrap_or_default() {
                    self.charged.remove(&key, &row.value);
                }
                if times.is_empty() {
                    buffer.remove(&key);
                }
            }
        }
    }

    /// The buffers, for a checkpoint.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut rows = Vec::new();
        for (side, buffer) in [(0u8, &self.left), (1, &self.right)] {
            for (key, times) in buffer {
                for (ts, rs) in times {
                    for r in rs {
                        rows.push((side, key.clone(), *ts, r.value.clone()));
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

    /// Add the buffers of a checkpoint (one or more old subtasks'),
    /// keeping the keys `keep` says this subtask owns.
    pub fn restore(&mut self, bytes: &[u8], keep: KeepKey) -> Result<(), JoinError> {
        let saved: Saved =
            postcard::from_bytes(bytes).map_err(|e| JoinError::Restore(e.to_string()))?;
        self.watermark = self.watermark.max(saved.watermark);
        for (side, key, ts, value) in saved.rows {
            if !keep(&key) {
                continue;
            }
            let side = if side == 0 { Side::Left } else { Side::Right };
            // Re-inserting finds no pairs: the other side's partners were
            // joined before the checkpoint. Insert without joining.
            let (relative_upper, buffer) = match side {
                Side::Left => (self.upper, &mut self.left),
                Side::Right => (-self.lower, &mut self.right),
            };
            self.charged.add(&key, &value)?;
            let cleanup_at = if relative_upper > 0 {
                ts.saturating_add(relative_upper)
            } else {
                ts
            };
            self.cleanup
                .insert((cleanup_at, side_byte(side), key.clone(), ts));
            buffer
                .entry(key)
                .or_default()
                .entry(ts)
                .or_default()
                .push(Row { ts, value });
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

    fn pairs(out: &JoinOutput) -> Vec<(i64, i64)> {
        let mut p: Vec<(i64, i64)> = out
            .results
            .iter()
            .map(|e| {
                let v: serde_json::Value = serde_json::from_slice(&e.value).unwrap();
                (
                    v["left"]["v"].as_i64().unwrap(),
                    v["right"]["v"].as_i64().unwrap(),
                )
            })
            .collect();
        p.sort();
        p
    }

    #[test]
    fn pairs_within_the_bounds_inclusive_and_per_key() {
        let mut j = IntervalJoin::new(-2, 3, Budgets::unbounded());
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
        let mut j = IntervalJoin::new(0, 5, Budgets::unbounded());
        let mut out = JoinOutput::default();
        j.process(Side::Left, vec![ev("a", 10, 1)], &mut out)
            .unwrap();
        j.advance(14);
        j.process(Side::Right, vec![ev("a", 13, 2)], &mut out)
            .unwrap(); // late
        j.process(Side::Right, vec![ev("a", 15, 3)], &mut out)
            .unwrap();
        assert_eq!(out.late.len(), 1);
        assert_eq!(pairs(&out), vec![(1, 3)]);
        j.advance(100);
        assert_eq!(j.buffered(), 0);
    }

    #[test]
    fn a_restored_join_keeps_joining() {
        let mut j = IntervalJoin::new(-5, 5, Budgets::unbounded());
        let mut out = JoinOutput::default();
        j.process(Side::Left, vec![ev("a", 10, 1), ev("b", 10, 2)], &mut out)
            .unwrap();
        let saved = j.snapshot();
        let mut k = IntervalJoin::new(-5, 5, Budgets::unbounded());
        k.restore(&saved, &|key| key == b"a").unwrap();
        assert_eq!(k.buffered(), 1);
        let mut out = JoinOutput::default();
        k.process(Side::Right, vec![ev("a", 12, 5)], &mut out)
            .unwrap();
        assert_eq!(pairs(&out), vec![(1, 5)]);
    }
}
