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

use super::aggregate::{Input, Slot};
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
                let before = self.store.pane_get(GLOBAL, key)?;
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
        agg.add(slot, input, values);
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
        Ok(true)
    }

    /// How many numbers the aggregates keep per key.
    fn accumulators(&self) -> usize {
        self.agg.new_slot().numbers().len()
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
        // Each updated key's results after the batch, then the results
        // before it of those seen before.
        let mut after: Vec<(Vec<u8>, Slot, i64)> = Vec::with_capacity(updated.len());
        let mut before: Vec<(usize, Slot)> = Vec::new();
        for (key, was, t) in updated {
            let Some(now) = self.store.pane_get(GLOBAL, &key)? else {
                continue;
            };
            if let Some(was) = was {
                before.push((after.len(), was));
            }
            after.push((key, now, t));
        }
        if after.is_empty() {
            return Ok(());
        }
        let new = self.results(after.iter().map(|(k, s, _)| (k.as_slice(), s)))?;
        let old = self.results(before.iter().map(|(i, s)| (after[*i].0.as_slice(), s)))?;
        // (batch, row, op, key's index) per row out: 0 is `new`, 1 `old`.
        let mut rows: Vec<(usize, usize, &'static str, usize)> = Vec::with_capacity(after.len());
        let changed = changed_rows(&old, &new, &before)?;
        let mut seen = before.iter().map(|(i, _)| *i).zip(changed).peekable();
        for i in 0..after.len() {
            match seen.peek() {
                Some(&(at, (j, changed))) if at == i => {
                    if changed {
                        rows.push((1, j, "-U", i));
                        rows.push((0, i, "+U", i));
                    }
                    seen.next();
                }
                _ => rows.push((0, i, "+I", i)),
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        let picks: Vec<(usize, usize)> = rows.iter().map(|r| (r.0, r.1)).collect();
        let results = arrow_select::interleave::interleave_record_batch(&[&new, &old], &picks)
            .map_err(WindowError::ResultColumns)?;
        let mut fields: Vec<Field> = results
            .schema()
            .fields()
            .iter()
            .map(|f| (**f).clone())
            .collect();
        fields.push(Field::new(OP, DataType::Utf8, false));
        let mut columns = results.columns().to_vec();
        let ops: StringArray = rows.iter().map(|r| Some(r.2)).collect();
        columns.push(Arc::new(ops) as ArrayRef);
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
            .map_err(WindowError::ResultColumns)?;
        if self.columns_out {
            out.result_columns
                .push((batch, rows.iter().map(|r| after[r.3].2).collect()));
            return Ok(());
        }
        let lines = crate::batch::json_lines(&batch)?;
        out.results.extend(
            rows.iter()
                .zip(lines)
                .map(|(r, value)| crate::event::Event {
                    key: Some(after[r.3].0.clone()),
                    value,
                    timestamp: after[r.3].2,
                    headers: Vec::new(),
                }),
        );
        Ok(())
    }

    /// The results of these keys' accumulators, as columns.
    fn results<'a>(
        &mut self,
        slots: impl Iterator<Item = (&'a [u8], &'a Slot)>,
    ) -> Result<RecordBatch, WindowError> {
        let fired: Vec<(&[u8], TimeWindow, &Slot)> = slots.map(|(k, s)| (k, GLOBAL, s)).collect();
        self.agg.finish_columns(&fired)?.ok_or_else(|| {
            WindowError::ResultColumns(ArrowError::NotYetImplemented(
                "updates of a global window of a Wasm aggregate over events".into(),
            ))
        })
    }
}

/// For each key seen before (`before`: its place among the keys updated,
/// in order), its row in `old` and whether its results (`new`'s row of the
/// same place) changed. Compared as rows of arrow's row format: whole
/// results at once, NULLs and floats' bits included.
fn changed_rows(
    old: &RecordBatch,
    new: &RecordBatch,
    before: &[(usize, Slot)],
) -> Result<Vec<(usize, bool)>, WindowError> {
    if before.is_empty() {
        return Ok(Vec::new());
    }
    let fields = old
        .schema()
        .fields()
        .iter()
        .map(|f| arrow_row::SortField::new(f.data_type().clone()))
        .collect();
    let converter = arrow_row::RowConverter::new(fields).map_err(WindowError::ResultColumns)?;
    let old_rows = converter
        .convert_columns(old.columns())
        .map_err(WindowError::ResultColumns)?;
    let new_rows = converter
        .convert_columns(new.columns())
        .map_err(WindowError::ResultColumns)?;
    Ok(before
        .iter()
        .enumerate()
        .map(|(j, (i, _))| (j, old_rows.row(j) != new_rows.row(*i)))
        .collect())
}
