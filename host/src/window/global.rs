//! The global window: one window per key over all time, which never fires.
//! Instead, after each batch, every key whose results the batch changed is
//! emitted as an update — the changelog that SQL's `GROUP BY` without a
//! window makes:
//!
//! - a key seen for the first time: `+I` and its results;
//! - a key seen before: `-U` with the results it had, then `+U` with the
//!   new ones — nothing when they did not change, as in Flink (which
//!   compares results, not accumulators: an average that stays the same
//!   is no update).
//!
//! Built-in aggregates update it, and a Wasm aggregate over columns (SQL's
//! aggregate function), beside them or alone: after each batch the keys it
//! touched are flushed to the guest in one call, and their results before
//! and after made in one call each.
//!
//! Each row carries its change in the column [`OP`] (`+I`, `-U`, `+U`,
//! `-D`: Flink's row kinds as Flink's `print` connector writes them). A key
//! that many records of one batch update is updated once, as Flink's
//! mini-batch aggregation does; the table the changelog leaves is the same.
//! The window's state grows with its keys (charged to the job's state
//! budget, or kept in RocksDB), unless it has a time to live (`ttl`,
//! Flink's `table.exec.state.ttl`): a key not updated for that long is
//! forgotten — no change is emitted for it, as in Flink, and its next
//! record starts it again with `+I`. Each key's last update is kept beside
//! its accumulators (so it survives a restore), and the keys are swept at
//! most once per quarter of the TTL, after a batch.
//!
//! ```
//! use weir::budget::Budgets;
//! use weir::window::aggregate::Aggregation;
//! use weir::window::global::OP;
//! use weir::window::operator::{WindowOperator, WindowOutput};
//! use weir::window::{TimeMode, WindowKind};
//! use weir::job::AggregateSpec;
//! use arrow_array::{Array, StringArray};
//!
//! let count = AggregateSpec { function: "count".into(), field: None, output: Some("n".into()) };
//! let mut w = WindowOperator::new(WindowKind::Global { ttl: None }, TimeMode::Processing, 0,
//!     Aggregation::native(&[count]), Budgets::unbounded());
//! w.results_as_columns();
//! let ev = |k: &str| weir::event::Event { key: Some(k.into()), value: b"{}".to_vec(),
//!     timestamp: 0, headers: Vec::new() };
//! let mut out = WindowOutput::default();
//! w.process_batch(vec![ev("a"), ev("a")], 0, &mut out).unwrap();
//! w.process_batch(vec![ev("a")], 0, &mut out).unwrap();
//! let ops: Vec<String> = out.result_columns.iter().flat_map(|(b, _)| {
//!     let c = b.column_by_name(OP).unwrap().as_any().downcast_ref::<StringArray>().unwrap();
//!     c.iter().map(|o| o.unwrap().to_string()).collect::<Vec<_>>()
//! }).collect();
//! assert_eq!(ops, ["+I", "-U", "+U"]);
//! ```

use super::aggregate::{Aggregation, Input, Slot};
use super::operator::{WindowOperator, WindowOutput};
use super::store::{WindowStore, entry_bytes, pane_key};
use super::{TimeWindow, WindowError, WindowKind};
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{ArrowError, DataType, Field, Schema};
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// The column an update's kind is in.
pub const OP: &str = "_op";

/// The one window of every key.
pub const GLOBAL: TimeWindow = TimeWindow {
    start: i64::MIN,
    end: i64::MAX,
};

/// The keys the current batch updated.
#[derive(Debug, Default)]
pub(super) struct Updates {
    /// In the order first updated: the key, its accumulator before the
    /// batch (`None`: the key is new), and its latest record's time.
    keys: Vec<(Vec<u8>, Option<Slot>, i64)>,
    /// Where each key is in `keys`.
    index: FxHashMap<Vec<u8>, usize>,
    /// The latest time of a record so far.
    latest: i64,
    /// When the keys were last swept for ones past their time to live.
    swept: Option<i64>,
}

impl Updates {
    /// The keys the current batch updated.
    pub(super) fn updated(&self) -> impl Iterator<Item = &[u8]> {
        self.keys.iter().map(|(k, _, _)| k.as_slice())
    }
}

/// The time of a key's last update, kept after its `len` accumulators
/// (with a time to live).
fn last_update(slot: &Slot, len: usize) -> Option<i64> {
    slot.numbers().get(len).map(|&t| t as i64)
}

impl WindowOperator {
    /// Add one record of `key` at time `t`.
    pub(super) fn add_to_global(
        &mut self,
        t: i64,
        key: &[u8],
        input: Input<'_>,
        values: &[f64],
    ) -> Result<bool, WindowError> {
        match self.updates.index.get(key) {
            Some(&i) => {
                let entry = &mut self.updates.keys[i];
                entry.2 = entry.2.max(t);
            }
            None => {
                // What its results before the batch need (not a MIN's or
                // MAX's values over a changelog, which may be many).
                let before = self.store.pane_ref(GLOBAL, key)?.map(|s| s.results_part());
                self.updates
                    .index
                    .insert(key.to_vec(), self.updates.keys.len());
                self.updates.keys.push((key.to_vec(), before, t));
            }
        }
        self.updates.latest = self.updates.latest.max(t);
        let agg = &self.agg;
        let len = self.accumulators();
        let ttl = matches!(self.kind, WindowKind::Global { ttl: Some(_) });
        let new = || {
            let mut slot = agg.new_slot();
            if ttl {
                slot.numbers_mut().push(t as f64);
            }
            slot
        };
        let slot = self.store.pane_slot(GLOBAL, key, 0, new)?;
        // A MIN's or MAX's values over a changelog grow and shrink in
        // place: charged as they do.
        let before = matches!(slot, Slot::Retract(_)).then(|| slot.heap_bytes());
        agg.add(slot, input, values);
        let resized = before.map(|b| (b, slot.heap_bytes()));
        if ttl {
            let v = slot.numbers_mut();
            if v.len() > len {
                v[len] = t as f64;
            } else {
                // Restored from a job without a time to live.
                v.push(t as f64);
                self.store.heap_resize(0, 8)?;
            }
        }
        if let Some((old, new)) = resized {
            self.store.heap_resize(old, new)?;
        }
        Ok(true)
    }

    /// How many numbers the aggregates keep per key.
    fn accumulators(&self) -> usize {
        self.agg.accumulators()
    }

    /// Forget the keys not updated for `ttl`, at most once per quarter of
    /// it (and once a second).
    pub(super) fn expire_keys(&mut self, ttl: Option<i64>) -> Result<(), WindowError> {
        let Some(ttl) = ttl else {
            return Ok(());
        };
        let now = self.updates.latest;
        let every = (ttl / 4).max(1000);
        match self.updates.swept {
            None => {
                self.updates.swept = Some(now);
                return Ok(());
            }
            Some(at) if now.saturating_sub(at) < every => return Ok(()),
            Some(_) => self.updates.swept = Some(now),
        }
        let len = self.accumulators();
        let before = now.saturating_sub(ttl);
        let expired = |s: &Slot| last_update(s, len).is_some_and(|t| t <= before);
        match &mut self.store {
            WindowStore::Heap(h) => {
                let mut freed = 0;
                if let Some(pane) = h.panes.get_mut(&GLOBAL) {
                    pane.retain(|k, s| {
                        let gone = expired(s);
                        if gone {
                            freed += entry_bytes(k, s);
                        }
                        !gone
                    });
                }
                h.release(freed);
            }
            WindowStore::Backend(_) => {
                let gone: Vec<_> = self
                    .store
                    .pane_contents(GLOBAL)?
                    .into_iter()
                    .filter(|(_, s)| expired(s))
                    .collect();
                if let WindowStore::Backend(b) = &mut self.store {
                    for (key, _) in gone {
                        b.backend.delete(&pane_key(GLOBAL, key.as_slice()))?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The batch's updates: each updated key's old results (`-U`) and new
    /// ones (`+U`), or its first (`+I`); nothing for a key whose results
    /// did not change (Flink compares a group's results, not its
    /// accumulators: an average that stays the same is no update).
    pub(super) fn emit_updates(&mut self, out: &mut WindowOutput) -> Result<(), WindowError> {
        let updated = std::mem::take(&mut self.updates.keys);
        self.updates.index.clear();
        // Each updated key's accumulators after the batch, and before it
        // if it was seen before.
        let mut keys: Vec<Updated> = Vec::with_capacity(updated.len());
        for (key, before, t) in updated {
            if let Some(after) = self.store.pane_ref(GLOBAL, &key)? {
                keys.push((key, before, after, t));
            }
        }
        let (results, rows) = if self.agg.is_guest() {
            guest_updates(&mut self.agg, &keys)?
        } else {
            native_updates(&mut self.agg, &keys)?
        };
        // The keys' times and keys, owned (the store lent their slots).
        let keys: Vec<(Vec<u8>, i64)> = keys.into_iter().map(|(k, _, _, t)| (k, t)).collect();
        if rows.is_empty() {
            return Ok(());
        }
        let mut fields: Vec<Field> = results
            .schema()
            .fields()
            .iter()
            .map(|f| (**f).clone())
            .collect();
        fields.push(Field::new(OP, DataType::Utf8, false));
        let mut columns = results.columns().to_vec();
        let ops: StringArray = rows.iter().map(|r| Some(r.1)).collect();
        columns.push(Arc::new(ops) as ArrayRef);
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
            .map_err(WindowError::ResultColumns)?;
        if self.columns_out {
            out.result_columns
                .push((batch, rows.iter().map(|r| keys[r.0].1).collect()));
            return Ok(());
        }
        let lines = crate::batch::json_lines(&batch)?;
        out.results.extend(
            rows.iter()
                .zip(lines)
                .map(|(r, value)| crate::event::Event {
                    key: Some(keys[r.0].0.clone()),
                    value,
                    timestamp: keys[r.0].1,
                    headers: Vec::new(),
                }),
        );
        Ok(())
    }
}

/// Built-ins' updates: a key's results are compared number by number,
/// and made once, for the rows that go out.
fn native_updates(
    agg: &mut Aggregation,
    keys: &[Updated],
) -> Result<(RecordBatch, Vec<Row>), WindowError> {
    let mut rows: Vec<Row> = Vec::with_capacity(keys.len());
    let mut fired: Vec<(&[u8], TimeWindow, &Slot)> = Vec::with_capacity(keys.len());
    for (i, (key, before, after, _)) in keys.iter().enumerate() {
        match before {
            None => rows.push((i, "+I")),
            Some(b) if agg.same_results(b, after) => continue,
            Some(b) => {
                fired.push((key, GLOBAL, b));
                rows.push((i, "-U"));
                rows.push((i, "+U"));
            }
        }
        fired.push((key, GLOBAL, &**after));
    }
    Ok((results(agg, &fired)?, rows))
}

/// A guest's updates: every key's results are made before and after
/// the batch (one call each), compared as rows, and those that changed
/// picked out.
fn guest_updates(
    agg: &mut Aggregation,
    keys: &[Updated],
) -> Result<(RecordBatch, Vec<Row>), WindowError> {
    let after: Vec<_> = keys
        .iter()
        .map(|(k, _, s, _)| (k.as_slice(), GLOBAL, &**s))
        .collect();
    let new = results(agg, &after)?;
    let seen: Vec<usize> = (0..keys.len()).filter(|&i| keys[i].1.is_some()).collect();
    let before: Vec<_> = seen
        .iter()
        .filter_map(|&i| Some((keys[i].0.as_slice(), GLOBAL, keys[i].1.as_ref()?)))
        .collect();
    let old = results(agg, &before)?;
    let changed = changed_rows(&old, &new, &seen)?;
    // (batch, row) per row out: batch 0 is `new`, 1 `old`.
    let mut picks = Vec::with_capacity(keys.len());
    let mut rows: Vec<Row> = Vec::with_capacity(keys.len());
    let mut seen = seen.iter().zip(changed).enumerate().peekable();
    for i in 0..keys.len() {
        match seen.peek() {
            Some(&(j, (&at, changed))) if at == i => {
                if changed {
                    picks.extend([(1, j), (0, i)]);
                    rows.extend([(i, "-U"), (i, "+U")]);
                }
                seen.next();
            }
            _ => {
                picks.push((0, i));
                rows.push((i, "+I"));
            }
        }
    }
    let results = arrow_select::interleave::interleave_record_batch(&[&new, &old], &picks)
        .map_err(WindowError::ResultColumns)?;
    Ok((results, rows))
}

/// The results of these accumulators, as columns.
fn results(
    agg: &mut Aggregation,
    fired: &[(&[u8], TimeWindow, &Slot)],
) -> Result<RecordBatch, WindowError> {
    agg.finish_columns(fired)?.ok_or_else(|| {
        WindowError::ResultColumns(ArrowError::NotYetImplemented(
            "updates of a global window of a Wasm aggregate over events".into(),
        ))
    })
}
/// A key a batch updated: its accumulators before the batch (`None`: it
/// is new) and after, and its latest record's time.
type Updated<'a> = (Vec<u8>, Option<Slot>, std::borrow::Cow<'a, Slot>, i64);

/// A row of updates: its key's place among those updated, and its change.
type Row = (usize, &'static str);

/// Whether each key seen before (`seen`: its row in `new`; its place in
/// `seen` is its row in `old`) has other results now. Compared as rows
/// of arrow's row format, the aggregates' columns only (a key's own
/// columns and its one window's are the same before and after).
fn changed_rows(
    old: &RecordBatch,
    new: &RecordBatch,
    seen: &[usize],
) -> Result<Vec<bool>, WindowError> {
    if seen.is_empty() {
        return Ok(Vec::new());
    }
    let aggregates = super::results::WINDOW_COLUMNS..old.num_columns();
    let fields = old.schema().fields()[aggregates.clone()]
        .iter()
        .map(|f| arrow_row::SortField::new(f.data_type().clone()))
        .collect();
    let converter = arrow_row::RowConverter::new(fields).map_err(WindowError::ResultColumns)?;
    let old_rows = converter
        .convert_columns(&old.columns()[aggregates.clone()])
        .map_err(WindowError::ResultColumns)?;
    let new_rows = converter
        .convert_columns(&new.columns()[aggregates])
        .map_err(WindowError::ResultColumns)?;
    Ok(seen
        .iter()
        .enumerate()
        .map(|(j, &i)| old_rows.row(j) != new_rows.row(i))
        .collect())
}
