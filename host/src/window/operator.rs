//! The window operator of one keyed subtask.
//!
//! Accumulators live per (window, key) in a [`WindowStore`]: on the heap, or
//! in the subtask's state backend (RocksDB) for window contents larger than
//! memory. Tumbling and sliding windows are panes ordered by window end, so
//! firing walks from the front; sessions are kept per key (they merge per
//! key) with an index by end.
//!
//! A window has fired exactly when time has passed its last timestamp
//! (`max_timestamp <= current`): [`WindowOperator::advance`] fires every
//! window in `(previous time, new time]`, and a record that updates a window
//! that already fired makes it fire again at the end of the batch.

use super::WindowError;
use super::aggregate::{Aggregation, Input, Slot};
use super::session::merge_into;
use super::slices::{self, Slicing};
use super::store::{HeapStore, Key, SESSION_BYTES, WindowStore};
use super::{TimeMode, TimeWindow, WindowKind, cumulate, sliding, tumbling};
use crate::budget::Budgets;
use crate::event::{Event, MIN_WATERMARK};
use crate::state::KeyedStateBackend;
use rustc_hash::FxHashSet;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Where the records of a batch went, besides window state.
#[derive(Debug, Default)]
pub struct WindowOutput {
    /// Window results, in firing order.
    pub results: Vec<Event>,
    /// Records that arrived after all their windows closed.
    pub late: Vec<Event>,
    /// Records that could not be aggregated, with the reason.
    pub rejected: Vec<(Event, String)>,
    /// Of rows read from columns ([`WindowOperator::process_rows`]): those
    /// that arrived after all their windows closed.
    pub late_rows: Vec<usize>,
    /// Of rows read from columns: those that could not be aggregated,
    /// with the reason.
    pub rejected_rows: Vec<(usize, String)>,
    /// Window results as columns (see
    /// [`WindowOperator::results_as_columns`]), with each row's time.
    pub result_columns: Vec<(arrow_array::RecordBatch, Vec<i64>)>,
}

/// A batch's rows as a window reads them from columns: no record's bytes
/// are scanned.
pub struct Rows<'a> {
    /// Event time of each row.
    pub time: &'a [i64],
    /// Key of each row.
    pub keys: &'a crate::batch::rows::KeyColumn,
    /// Per aggregate (in the job's order): the numbers of its field, one
    /// per row (`None`: the row has none), or `None` for `count`.
    pub values: &'a [Option<Vec<Option<f64>>>],
    /// For a Wasm aggregate over columns: the rows as the columns it reads
    /// (its input schema), handed to it at the end of the batch.
    pub guest: Option<&'a arrow_array::RecordBatch>,
    /// Rows assigned to their windows but not added to the Wasm aggregate
    /// (`true`: a NULL it cannot take; see
    /// [`crate::job::WindowSpec::skip_nulls`]).
    pub unadded: Option<&'a [bool]>,
}

/// Windows, accumulators and firing for one subtask.
pub struct WindowOperator {
    pub(super) kind: WindowKind,
    mode: TimeMode,
    lateness: i64,
    pub(super) agg: Aggregation,
    pub(super) store: WindowStore,
    /// The watermark (event time) or processing time reached so far.
    pub(super) current: i64,
    /// (window, key) updated after it fired: fire again at the end of the batch.
    pub(super) refire: BTreeSet<(TimeWindow, Vec<u8>)>,
    touched_panes: BTreeSet<TimeWindow>,
    touched_keys: FxHashSet<Vec<u8>>,
    /// Reused per record: the aggregates' numeric inputs.
    values: Vec<f64>,
    /// Keys in the last pane that fired: new panes start this big, instead
    /// of rehashing their way up.
    pub(super) pane_capacity: usize,
    /// Built-in results go out as columns, not JSON lines.
    pub(super) columns_out: bool,
    /// Sliding windows kept as slices (built-in aggregates, a slide that
    /// divides the size): the store's panes are then slices.
    pub(super) slicing: Option<Slicing>,
    /// Kept between windows merged from slices.
    pub(super) scratch: slices::Scratch,
    /// Of a global window: the keys the batch updated.
    pub(super) updates: super::global::Updates,
}

impl WindowOperator {
    /// A window operator keeping its accumulators on the heap, charged to
    /// the job's host-memory budget.
    pub fn new(
        kind: WindowKind,
        mode: TimeMode,
        allowed_lateness: i64,
        agg: Aggregation,
        budgets: Arc<Budgets>,
    ) -> Self {
        Self::with_store(
            kind,
            mode,
            allowed_lateness,
            agg,
            WindowStore::Heap(HeapStore::new(budgets)),
        )
    }

    /// A window operator keeping its accumulators in `backend`, for keyed
    /// subtask `subtask` of `parallelism`.
    pub fn in_backend(
        kind: WindowKind,
        mode: TimeMode,
        allowed_lateness: i64,
        agg: Aggregation,
        backend: Box<dyn KeyedStateBackend>,
        subtask: usize,
        parallelism: usize,
    ) -> Self {
        let store = WindowStore::backend(backend, subtask, parallelism);
        Self::with_store(kind, mode, allowed_lateness, agg, store)
    }

    fn with_store(
        kind: WindowKind,
        mode: TimeMode,
        allowed_lateness: i64,
        agg: Aggregation,
        store: WindowStore,
    ) -> Self {
        Self {
            kind,
            mode,
            lateness: if mode == TimeMode::Event {
                allowed_lateness
            } else {
                0
            },
            store,
            current: MIN_WATERMARK,
            refire: BTreeSet::new(),
            touched_panes: BTreeSet::new(),
            touched_keys: FxHashSet::default(),
            values: Vec::new(),
            pane_capacity: 0,
            columns_out: false,
            scratch: slices::Scratch::default(),
            updates: Default::default(),
            slicing: match kind {
                WindowKind::Sliding { size, slide } if !agg.is_guest() => Slicing::new(size, slide),
                _ => None,
            },
            agg,
        }
    }

    /// Results go out as columns (`key`, `window_start`, `window_end`,
    /// then the aggregates'), for readers that take columns: no JSON line
    /// is written. A Wasm aggregate over events keeps its results the
    /// guest's bytes.
    pub fn results_as_columns(&mut self) {
        self.columns_out = !matches!(self.agg, Aggregation::Wasm(_));
    }

    /// Of a Wasm aggregate over columns: the share of its memory limit its
    /// linear memory has grown to.
    pub fn guest_memory_share(&self) -> Option<f64> {
        match &self.agg {
            Aggregation::Columns(i, _) => Some(i.memory_share()),
            _ => None,
        }
    }

    /// Open (key, window) accumulators, for metrics and tests (in a state
    /// backend: open windows).
    pub fn open_windows(&self) -> usize {
        self.store.open_windows()
    }

    pub(super) fn is_late(&self, w: &TimeWindow) -> bool {
        self.mode == TimeMode::Event
            && w.max_timestamp().saturating_add(self.lateness) <= self.current
    }

    /// Add a batch of keyed records; `processing_time` is the batch's arrival time.
    pub fn process_batch(
        &mut self,
        records: Vec<Event>,
        processing_time: i64,
        out: &mut WindowOutput,
    ) -> Result<(), WindowError> {
        let mut values = std::mem::take(&mut self.values);
        for event in records {
            if let Err(reason) = self.agg.extract(&event, &mut values) {
                out.rejected.push((event, reason.to_string()));
                continue;
            }
            if let Some(reason) = self.agg.bad_sign(&values) {
                out.rejected.push((event, reason));
                continue;
            }
            let t = match self.mode {
                TimeMode::Event => event.timestamp,
                TimeMode::Processing => processing_time,
            };
            let key = event.key.as_deref().unwrap_or_default();
            if !self.add(t, key, Input::Event(&event), &values)? {
                out.late.push(event);
            }
        }
        self.values = values;
        self.end_batch(None, out)
    }

    /// Add a batch of rows read from columns (built-in aggregates, or a
    /// Wasm aggregate over columns given `rows.guest`); late and rejected
    /// rows are reported by index.
    pub fn process_rows(
        &mut self,
        rows: &Rows,
        processing_time: i64,
        out: &mut WindowOutput,
    ) -> Result<(), WindowError> {
        let mut values = std::mem::take(&mut self.values);
        let mut buf = itoa::Buffer::new();
        'rows: for (row, &ts) in rows.time.iter().enumerate() {
            values.clear();
            for (i, column) in rows.values.iter().enumerate() {
                match column {
                    None => values.push(0.0),
                    Some(v) => match v.get(row).copied().flatten() {
                        Some(x) => values.push(x),
                        None => {
                            out.rejected_rows.push((row, self.agg.missing(i)));
                            continue 'rows;
                        }
                    },
                }
            }
            if let Some(reason) = self.agg.bad_sign(&values) {
                out.rejected_rows.push((row, reason));
                continue;
            }
            let t = match self.mode {
                TimeMode::Event => ts,
                TimeMode::Processing => processing_time,
            };
            let key = rows.keys.key(row, &mut buf).unwrap_or_default();
            let input = match rows.guest {
                Some(_) if rows.unadded.is_some_and(|u| u[row]) => Input::Numbers,
                Some(_) => Input::Row(row as u32),
                None => Input::Numbers,
            };
            if !self.add(t, key, input, &values)? {
                out.late_rows.push(row);
            }
        }
        self.values = values;
        self.end_batch(rows.guest.map(|b| (b, rows.time)), out)
    }

    /// Add one record (`input`: what a Wasm aggregate keeps of it) at
    /// time `t` to its windows; `false` if it is late for all of them.
    fn add(
        &mut self,
        t: i64,
        key: &[u8],
        input: Input<'_>,
        values: &[f64],
    ) -> Result<bool, WindowError> {
        Ok(match self.kind {
            WindowKind::Tumbling { size } => {
                self.add_to_pane(tumbling::assign(t, size), key, input, values)?
            }
            WindowKind::Sliding { .. } if self.slicing.is_some() => {
                self.add_to_slice(t, key, input, values)?
            }
            WindowKind::Sliding { size, slide } => {
                let mut any = false;
                for w in sliding::windows(t, size, slide) {
                    any |= self.add_to_pane(w, key, input, values)?;
                }
                any
            }
            WindowKind::Cumulate { size, step } => {
                let mut any = false;
                for w in cumulate::windows(t, size, step) {
                    any |= self.add_to_pane(w, key, input, values)?;
                }
                any
            }
            WindowKind::Session { gap } => self.add_to_session(t, gap, key, input, values)?,
            WindowKind::Global { .. } => self.add_to_global(t, key, input, values)?,
        })
    }

    /// After a batch's records: hand pending work to a Wasm aggregate
    /// (with `batch`, the columns its pending rows are in), write cached
    /// state back, fire again what late records updated.
    fn end_batch(
        &mut self,
        batch: Option<(&arrow_array::RecordBatch, &[i64])>,
        out: &mut WindowOutput,
    ) -> Result<(), WindowError> {
        self.flush(batch)?;
        self.store.end_batch()?;
        let refire = std::mem::take(&mut self.refire);
        if !refire.is_empty() {
            let mut due = Vec::with_capacity(refire.len());
            for (w, key) in refire {
                let slot = match (self.kind, self.slicing) {
                    (WindowKind::Session { .. }, _) => self.store.session_slot(w, &key)?,
                    (_, Some(s)) => self.sliced_slot(s, w, &key)?,
                    _ => self.store.pane_get(w, &key)?,
                };
                if let Some(slot) = slot {
                    due.push((w, Key::from_vec(key), slot));
                }
            }
            self.emit(due, out)?;
        }
        if let WindowKind::Global { ttl } = self.kind {
            self.emit_updates(out)?;
            self.expire_keys(ttl)?;
        }
        Ok(())
    }

    fn add_to_pane(
        &mut self,
        w: TimeWindow,
        key: &[u8],
        input: Input<'_>,
        values: &[f64],
    ) -> Result<bool, WindowError> {
        if self.is_late(&w) {
            return Ok(false);
        }
        let fired = w.max_timestamp() <= self.current;
        let agg = &self.agg;
        let slot = self
            .store
            .pane_slot(w, key, self.pane_capacity, || agg.new_slot())?;
        agg.add(slot, input, values);
        if self.agg.is_guest() {
            self.touched_panes.insert(w);
        }
        if fired {
            self.refire.insert((w, key.to_vec()));
        }
        Ok(true)
    }

    fn add_to_session(
        &mut self,
        t: i64,
        gap: i64,
        key: &[u8],
        input: Input<'_>,
        values: &[f64],
    ) -> Result<bool, WindowError> {
        let new = TimeWindow {
            start: t,
            end: t.saturating_add(gap),
        };
        let (mode, lateness, current) = (self.mode, self.lateness, self.current);
        let agg = &self.agg;
        let sessions = self.store.sessions(key)?;
        let windows: smallvec::SmallVec<[TimeWindow; 4]> = sessions.iter().map(|s| s.0).collect();
        let (merged, absorbed) = merge_into(&windows, new);
        if mode == TimeMode::Event && merged.max_timestamp().saturating_add(lateness) <= current {
            return Ok(false);
        }
        let mut slot = agg.new_slot();
        let mut gone: smallvec::SmallVec<[TimeWindow; 4]> = smallvec::SmallVec::new();
        let mut absorbed_bytes = 0;
        for i in absorbed.into_iter().rev() {
            let (w, s) = sessions.remove(i);
            absorbed_bytes += SESSION_BYTES + s.heap_bytes();
            gone.push(w);
            agg.merge(&mut slot, s);
        }
        agg.add(&mut slot, input, values);
        let merged_bytes = SESSION_BYTES + slot.heap_bytes();
        sessions.push((merged, slot));
        self.store.heap_resize(absorbed_bytes, merged_bytes)?;
        for w in gone {
            self.store.index_remove(w, key)?;
        }
        self.store.index_insert(merged, key)?;
        if merged.max_timestamp() <= current {
            self.refire.insert((merged, key.to_vec()));
        }
        if self.agg.is_guest() {
            self.touched_keys.insert(key.to_vec());
        }
        Ok(true)
    }

    /// Put a new version of the Wasm aggregate in place (a live swap).
    /// Pending records are handed to the old version first, so every record
    /// before the switch is accumulated by it; the accumulators themselves
    /// are host-owned bytes and carry over to the new one as they are,
    /// as do the built-in aggregates beside it.
    pub fn swap_aggregate(&mut self, new: Aggregation) -> Result<(), WindowError> {
        self.flush(None)?;
        match (&mut self.agg, new) {
            (Aggregation::Columns(old, _), Aggregation::Columns(new, _)) => *old = new,
            (agg, new) if agg.is_guest() && new.is_guest() => *agg = new,
            _ => {}
        }
        Ok(())
    }

    /// Send pending work of the touched windows to a Wasm aggregate
    /// (`batch`: the columns rows pending for an aggregate over columns
    /// are in, and their event times).
    pub(super) fn flush(
        &mut self,
        batch: Option<(&arrow_array::RecordBatch, &[i64])>,
    ) -> Result<(), WindowError> {
        if !self.agg.is_guest() {
            return Ok(());
        }
        let (before, after) = if matches!(self.kind, WindowKind::Global { .. }) {
            let agg = &mut self.agg;
            let keys = self.updates.updated();
            self.store
                .with_slots(super::global::GLOBAL, keys, |slots| agg.flush(slots, batch))?
        } else {
            let panes = std::mem::take(&mut self.touched_panes);
            let keys = std::mem::take(&mut self.touched_keys);
            self.agg
                .flush(self.store.touched_slots(&panes, &keys), batch)?
        };
        self.store.heap_resize(before, after)?;
        Ok(())
    }

    /// Advance event time (or processing time) to `time`: fire every window
    /// that closes, and drop those past their allowed lateness.
    pub fn advance(&mut self, time: i64, out: &mut WindowOutput) -> Result<(), WindowError> {
        if time <= self.current {
            return Ok(());
        }
        if matches!(self.kind, WindowKind::Global { .. }) {
            // It never fires: its results are updated batch by batch.
            self.current = time;
            return Ok(());
        }
        let before = std::mem::replace(&mut self.current, time);
        let mut due: Vec<(TimeWindow, Key, Slot)> = Vec::new();
        match self.kind {
            WindowKind::Session { .. } => {
                for (w, key) in self.store.due_sessions(before, time)? {
                    if let Some(slot) = self.store.session_slot(w, &key)? {
                        due.push((w, Key::from_vec(key), slot));
                    }
                }
            }
            _ if self.slicing.is_some() => self.fire_sliced(before, time, &mut due)?,
            _ => {
                let expires = time.saturating_sub(self.lateness);
                for w in self.store.due_panes(before, time) {
                    let entries = if w.max_timestamp() <= expires {
                        self.store.take_pane(w)?
                    } else {
                        self.store.pane_entries(w)?
                    };
                    self.pane_capacity = self.pane_capacity.max(entries.len());
                    due.extend(entries.into_iter().map(|(k, s)| (w, k, s)));
                }
            }
        }
        if !due.is_empty() {
            self.emit(due, out)?;
        }
        // Drop windows whose allowed lateness has passed (a slice: once
        // the last window holding it has).
        let retention = self.slicing.map_or(0, |s| s.retention());
        self.store.expire(
            self.current
                .saturating_sub(self.lateness)
                .saturating_sub(retention),
        )?;
        Ok(())
    }

    /// Produce results for (window, key, accumulator)s in the given order.
    fn emit(
        &mut self,
        due: Vec<(TimeWindow, Key, Slot)>,
        out: &mut WindowOutput,
    ) -> Result<(), WindowError> {
        let fired: Vec<(&[u8], TimeWindow, &Slot)> = due
            .iter()
            .map(|(w, key, slot)| (key.as_slice(), *w, slot))
            .collect();
        if self.columns_out
            && let Some(batch) = self.agg.finish_columns(&fired)?
        {
            let time = due.iter().map(|(w, _, _)| w.max_timestamp()).collect();
            out.result_columns.push((batch, time));
            return Ok(());
        }
        let payloads = self.agg.finish(&fired)?;
        out.results.extend(
            due.into_iter()
                .zip(payloads)
                .map(|((w, key, _), value)| Event {
                    key: Some(key.into_vec()),
                    value,
                    timestamp: w.max_timestamp(),
                    headers: Vec::new(),
                }),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests;
