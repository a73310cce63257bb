//! The regular join in memory: each key's rows in a hash map.
//!
//! A regular join (Flink's join of two tables without time bounds) pairs
//! every two rows with equal keys, whatever their times, so it looks rows
//! up by key only, never by a range of times: a hash map from each key to
//! its two sides' rows, in arrival order, serves it with one lookup per
//! row and no copy of the rows it pairs with. (Kept in the state backend's
//! ordered layout instead, as [`super::IntervalJoin::regular`] keeps them
//! in RocksDB, every row cost a B-tree insert and every pair a copy of its
//! partner: the larger part of Nexmark q4's time.)
//!
//! The map is written in the backend's layout only at checkpoints, into
//! the memory backend's snapshot ([`crate::state::write_snapshot`]): the
//! same entries an interval join's regular join writes, so a checkpoint
//! restores at another parallelism (whole key groups move) and into
//! RocksDB, where [`super::IntervalJoin::regular`] goes on with it. A
//! restored join reads the entries back into its map.
//!
//! With a time to live (`table.exec.state.ttl`), a row is dropped that
//! long in processing time after it came, as in Flink: rows come in order
//! of their drop times, so a queue in arrival order says which go first.
//!
//! An outer join ([`Outer`]) is Flink's too: a row of a side kept whole
//! that finds no partner is emitted at once padded with `null` (`+I`);
//! when its first partner comes, that row is retracted (`-D`) before the
//! pairs are emitted (`+I`). Each row remembers whether it was ever
//! matched, so a row whose partners lived out their time to live is not
//! padded again (Flink keeps a count of partners, which is never lowered
//! when they expire either); checkpoints keep that mark.
//!
//! ```
//! use weir::join::{JoinOutput, JoinState, RegularJoin, Side};
//! use weir::budget::Budgets;
//! let mut j = RegularJoin::new(None, JoinState::in_memory(Budgets::unbounded())).unwrap();
//! let ev = |ts: i64, v: &str| weir::Event {
//!     key: Some(b"k".to_vec()), value: v.as_bytes().to_vec(), timestamp: ts, headers: vec![],
//! };
//! let mut out = JoinOutput::default();
//! j.process(Side::Left, vec![ev(100, r#"{"l":1}"#)], &mut out).unwrap();
//! j.process(Side::Right, vec![ev(5, r#"{"r":1}"#), ev(900, r#"{"r":2}"#)], &mut out).unwrap();
//! assert_eq!(out.results.len(), 2);
//! assert_eq!(out.results[1].timestamp, 900);
//! ```

use super::interval::{DUE, ROWS, Saved, grain_end, rows_of};
use super::state::{JoinState, key_at, tagged, time_at};
use super::{JoinError, JoinOutput, Outer, Side, change, event};
use crate::event::{Event, MIN_WATERMARK, Timestamp};
use crate::state::{key_group_of, time_bytes};
use rustc_hash::FxHashMap;
use std::collections::{BTreeSet, VecDeque};
use std::path::Path;

/// What the map's own bookkeeping costs per row and per key, besides
/// the bytes of the rows and keys.
const ROW_OVERHEAD: u64 = 48;
const KEY_OVERHEAD: u64 = 64;

/// Marks the rows of an outer join's whole sides that had a partner, in a
/// checkpoint: `[kg][MATCHED][side][key len][key][time][seq]`, no value.
/// (Only memory state runs outer joins, so the ordered layout of
/// [`super::IntervalJoin::regular`] never reads these.)
const MATCHED: u8 = 0x23;

/// What the rows are called in a budget refusal.
const WHAT: &str = "regular join rows";

/// A buffered row.
struct Row {
    ts: Timestamp,
    /// When it is dropped (processing time), with a time to live.
    due: Timestamp,
    value: Vec<u8>,
    /// Of a side kept whole: has it had a partner (its padded row was
    /// retracted, or never emitted)?
    matched: bool,
}

impl Row {
    fn cost(&self) -> u64 {
        self.value.capacity() as u64 + ROW_OVERHEAD
    }
}

/// One key's rows: the left side's and the right side's, each in arrival
/// order.
#[derive(Default)]
struct Rows {
    sides: [VecDeque<Row>; 2],
}

/// Append `row`: most keys have one row or a few on a side, so a side's
/// first row gets room for one, not the four a deque starts with.
fn push(rows: &mut VecDeque<Row>, row: Row) {
    if rows.capacity() == 0 {
        rows.reserve_exact(1);
    }
    rows.push_back(row);
}

/// What `row`, new on `side` under `key`, changes in an outer join's
/// result, given the other side's rows `theirs`: with none, the row
/// padded with `null` (if its side is kept whole); else the padded rows
/// of the other side's rows never matched before retracted, then every
/// pair.
fn changes(
    outer: Outer,
    side: Side,
    key: &[u8],
    row: &mut Row,
    theirs: &mut VecDeque<Row>,
    out: &mut JoinOutput,
) {
    let me = Some(row.value.as_slice());
    if theirs.is_empty() {
        if outer.keeps(side) {
            let (l, r) = arrange(side, me, None);
            out.results.push(change(key, l, r, "+I", row.ts));
        }
        return;
    }
    let other = match side {
        Side::Left => Side::Right,
        Side::Right => Side::Left,
    };
    if outer.keeps(other) {
        for o in theirs.iter_mut().filter(|o| !o.matched) {
            o.matched = true;
            let (l, r) = arrange(other, Some(o.value.as_slice()), None);
            out.results.push(change(key, l, r, "-D", o.ts));
        }
    }
    for o in theirs.iter() {
        let (l, r) = arrange(side, me, Some(o.value.as_slice()));
        out.results.push(change(key, l, r, "+I", row.ts.max(o.ts)));
    }
    row.matched = true;
}

/// `(left, right)` of a row `mine` of `side` and a row `theirs` of the
/// other side.
fn arrange<'a>(
    side: Side,
    mine: Option<&'a [u8]>,
    theirs: Option<&'a [u8]>,
) -> (Option<&'a [u8]>, Option<&'a [u8]>) {
    match side {
        Side::Left => (mine, theirs),
        Side::Right => (theirs, mine),
    }
}

/// A row to drop, with a time to live: its key and side (it is the first
/// row of them, since rows come in order of their drop times).
struct Due {
    at: Timestamp,
    side: Side,
    key: Box<[u8]>,
}

fn index(side: Side) -> usize {
    match side {
        Side::Left => 0,
        Side::Right => 1,
    }
}

fn side_of(byte: u8) -> Result<Side, JoinError> {
    match byte {
        0 => Ok(Side::Left),
        1 => Ok(Side::Right),
        _ => Err(JoinError::Malformed(1)),
    }
}

/// A row read back from a checkpoint.
struct Loaded {
    /// Its sequence number's bytes (arrival order).
    seq: Vec<u8>,
    side: Side,
    key: Vec<u8>,
    row: Row,
}

/// The regular join of one subtask, its rows in memory.
pub struct RegularJoin {
    ttl: Option<i64>,
    /// The sides kept whole, in an outer join.
    outer: Outer,
    keys: FxHashMap<Vec<u8>, Rows>,
    /// With a time to live: every row, in arrival order.
    due: VecDeque<Due>,
    /// The latest processing time seen (drop times never go back).
    now: Timestamp,
    /// Where checkpoints are written and restored entries come from.
    state: JoinState,
    /// Bytes charged to the memory budget.
    charged: u64,
    /// The watermark, kept for a restore into an interval join's regular
    /// join (which keeps it, though it drops nothing by it).
    watermark: Timestamp,
}

impl RegularJoin {
    /// A regular join whose rows live for ever, or (`ttl`, ms) that long
    /// in processing time after they came; it reads the rows `state`'s
    /// backend holds (a restored checkpoint's) into its map.
    pub fn new(ttl: Option<i64>, state: JoinState) -> Result<Self, JoinError> {
        Self::outer(ttl, Outer::default(), state)
    }

    /// [`Self::new`], an outer join keeping the sides `outer` says whole;
    /// its records are a changelog.
    pub fn outer(ttl: Option<i64>, outer: Outer, state: JoinState) -> Result<Self, JoinError> {
        let mut j = Self {
            ttl,
            outer,
            keys: FxHashMap::default(),
            due: VecDeque::new(),
            now: MIN_WATERMARK,
            state,
            charged: 0,
            watermark: MIN_WATERMARK,
        };
        j.load()?;
        Ok(j)
    }

    /// Rows buffered, both sides.
    pub fn buffered(&self) -> usize {
        self.keys
            .values()
            .map(|r| r.sides[0].len() + r.sides[1].len())
            .sum()
    }

    /// Add rows of one side (keyed), pairing each with the other side's.
    pub fn process(
        &mut self,
        side: Side,
        records: Vec<Event>,
        out: &mut JoinOutput,
    ) -> Result<(), JoinError> {
        self.process_at(side, records, crate::time::now_ms(), out)
    }

    /// [`Self::process`] at processing time `now` (ms), which the time to
    /// live counts in.
    pub fn process_at(
        &mut self,
        side: Side,
        records: Vec<Event>,
        now: Timestamp,
        out: &mut JoinOutput,
    ) -> Result<(), JoinError> {
        self.now = self.now.max(now);
        if self.ttl.is_some() {
            // What lived its time is gone before the new rows look.
            self.drop_due(self.now);
        }
        let (mine, theirs) = (index(side), 1 - index(side));
        let due = self.ttl.map_or(i64::MAX, |t| self.now.saturating_add(t));
        for e in records {
            let key = e.key.ok_or(JoinError::NoKey)?;
            let mut row = Row {
                ts: e.timestamp,
                due,
                value: e.value,
                matched: false,
            };
            let mut cost = row.cost();
            let rows = match self.keys.get_mut(key.as_slice()) {
                Some(rows) => rows,
                None => {
                    cost += key.len() as u64 + KEY_OVERHEAD;
                    self.keys.entry(key.clone()).or_default()
                }
            };
            if self.outer.any() {
                changes(
                    self.outer,
                    side,
                    &key,
                    &mut row,
                    &mut rows.sides[theirs],
                    out,
                );
            } else {
                for o in &rows.sides[theirs] {
                    let o = (o.ts, o.value.as_slice());
                    let me = (row.ts, row.value.as_slice());
                    let (l, r) = if mine == 0 { (me, o) } else { (o, me) };
                    out.results.push(event(&key, None, l, r, l.0.max(r.0)));
                }
            }
            push(&mut rows.sides[mine], row);
            self.kept(side, key, due, cost)?;
        }
        Ok(())
    }

    /// A row of `side` under `key`, due at `due`, was kept at `cost`:
    /// charge it, and queue its drop with a time to live.
    fn kept(
        &mut self,
        side: Side,
        key: Vec<u8>,
        due: Timestamp,
        cost: u64,
    ) -> Result<(), JoinError> {
        self.state.budgets().memory.charge(WHAT, cost)?;
        self.charged += cost;
        if self.ttl.is_some() {
            self.due.push_back(Due {
                at: due,
                side,
                key: key.into_boxed_slice(),
            });
        }
        Ok(())
    }

    /// The watermark moved: a regular join drops nothing by it.
    pub fn advance(&mut self, watermark: Timestamp) {
        self.watermark = self.watermark.max(watermark);
    }

    /// Drop the rows whose time to live ended at `now` or before.
    fn drop_due(&mut self, now: Timestamp) {
        let mut freed = 0;
        while self.due.front().is_some_and(|d| d.at <= now) {
            let d = self.due.pop_front().expect("looked at above");
            let Some(rows) = self.keys.get_mut(&*d.key) else {
                continue;
            };
            if let Some(row) = rows.sides[index(d.side)].pop_front() {
                freed += row.cost();
            }
            if rows.sides.iter().all(VecDeque::is_empty) {
                self.keys.remove(&*d.key);
                freed += d.key.len() as u64 + KEY_OVERHEAD;
            }
        }
        self.release(freed);
    }

    fn release(&mut self, bytes: u64) {
        let bytes = bytes.min(self.charged);
        self.charged -= bytes;
        self.state.budgets().memory.release(bytes);
    }

    /// Write the rows into `dir` for a checkpoint, in the backend's
    /// layout (`dir/state`, a memory backend's snapshot); returns the heap
    /// side for `join.bin`.
    pub fn snapshot_into(&mut self, dir: &Path) -> Result<Vec<u8>, JoinError> {
        let mut seq = 0u64;
        let mut grains = BTreeSet::new();
        let ttl = self.ttl.is_some();
        let outer = self.outer;
        // Streamed: each row's entries are made as they are written.
        let rows = self.keys.iter().flat_map(|(key, rows)| {
            [Side::Left, Side::Right].into_iter().flat_map(move |side| {
                rows.sides[index(side)]
                    .iter()
                    .map(move |row| (key, side, row))
            })
        });
        let entries = rows.flat_map(|(key, side, row)| {
            seq += 1;
            let mut k = rows_of(side, key);
            k.extend_from_slice(&time_bytes(row.ts));
            k.extend_from_slice(&seq.to_be_bytes());
            let due = ttl.then(|| {
                grains.insert(grain_end(row.due));
                let mut due = tagged(key_group_of(key), DUE, 8 + k.len());
                due.extend_from_slice(&time_bytes(row.due));
                due.extend_from_slice(&k[3..]);
                (due, &[][..])
            });
            let matched = (outer.keeps(side) && row.matched).then(|| {
                let mut m = tagged(key_group_of(key), MATCHED, k.len());
                m.extend_from_slice(&k[3..]);
                (m, &[][..])
            });
            std::iter::once((k, row.value.as_slice()))
                .chain(due)
                .chain(matched)
        });
        crate::state::write_snapshot(&dir.join("state"), entries)?;
        Ok(postcard::to_allocvec(&Saved {
            watermark: self.watermark,
            seq,
            due: grains.into_iter().collect(),
        })?)
    }

    /// Add the heap side of a checkpoint's subtask (one of several when
    /// rescaling); the rows came with the state backend, read at
    /// [`Self::new`].
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), JoinError> {
        let saved: Saved = postcard::from_bytes(bytes)?;
        self.watermark = self.watermark.max(saved.watermark);
        Ok(())
    }

    /// Read the rows the backend holds into the map, and empty it.
    fn load(&mut self) -> Result<(), JoinError> {
        if self.state.backend.is_empty() {
            return Ok(());
        }
        let groups = self.state.groups.clone();
        // Each key's rows go back in order of their drop times, then of
        // their arrival (their sequence numbers).
        let mut loaded: Vec<Loaded> = Vec::new();
        for kg in groups {
            let mut due_of = rustc_hash::FxHashMap::default();
            // The rows of an outer join's whole sides that had a partner.
            let mut matched = rustc_hash::FxHashSet::default();
            for (k, _) in self.state.backend.scan_prefix(&tagged(kg, MATCHED, 0))? {
                matched.insert([&tagged(kg, ROWS, 0)[..], k.get(3..).unwrap_or_default()].concat());
            }
            if self.ttl.is_some() {
                for (k, _) in self.state.backend.scan_prefix(&tagged(kg, DUE, 0))? {
                    let at = time_at(&k, 3)?;
                    let row =
                        [&tagged(kg, ROWS, 0)[..], k.get(3 + 8..).unwrap_or_default()].concat();
                    due_of.insert(row, at);
                }
            }
            for (k, value) in self.state.backend.scan_prefix(&tagged(kg, ROWS, 0))? {
                let side = side_of(*k.get(3).ok_or(JoinError::Malformed(k.len()))?)?;
                let (key, at) = key_at(&k, 4)?;
                let ts = time_at(&k, at)?;
                let seq = k.get(at + 8..).unwrap_or_default().to_vec();
                let due = due_of.get(&k).copied().unwrap_or(i64::MAX);
                let matched = matched.contains(&k);
                let key = key.to_vec();
                loaded.push(Loaded {
                    seq,
                    side,
                    key,
                    row: Row {
                        ts,
                        due,
                        value,
                        matched,
                    },
                });
            }
            for tag in [ROWS, DUE, MATCHED] {
                self.state.backend.delete_prefix(&tagged(kg, tag, 0))?;
            }
        }
        loaded.sort_by(|a, b| (a.row.due, &a.seq).cmp(&(b.row.due, &b.seq)));
        for Loaded { side, key, row, .. } in loaded {
            let mut cost = row.cost();
            if !self.keys.contains_key(&key) {
                cost += key.len() as u64 + KEY_OVERHEAD;
            }
            let due = row.due;
            push(
                &mut self.keys.entry(key.clone()).or_default().sides[index(side)],
                row,
            );
            self.kept(side, key, due, cost)?;
        }
        Ok(())
    }
}

impl Drop for RegularJoin {
    fn drop(&mut self) {
        self.state.budgets().memory.release(self.charged);
    }
}

#[cfg(test)]
mod tests;
