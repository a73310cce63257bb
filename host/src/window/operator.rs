//! The window operator of one keyed subtask.
//!
//! Accumulators live per (window, key). Tumbling and sliding windows are
//! kept in a map ordered by window end, so firing is a walk from the front;
//! sessions are kept per key (they merge per key) with an index by end.

use super::aggregate::{Aggregation, Slot};
use super::session::merge_into;
use super::{TimeMode, TimeWindow, WindowKind, sliding, tumbling};
use crate::event::{Event, MIN_WATERMARK};
use crate::wasm::WasmError;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::{BTreeMap, BTreeSet};

/// Where the records of a batch went, besides window state.
#[derive(Debug, Default)]
pub struct WindowOutput {
    /// Window results, in firing order.
    pub results: Vec<Event>,
    /// Records that arrived after all their windows closed.
    pub late: Vec<Event>,
    /// Records that could not be aggregated, with the reason.
    pub rejected: Vec<(Event, String)>,
}

pub(super) struct Session {
    pub(super) window: TimeWindow,
    pub(super) slot: Slot,
    pub(super) fired: bool,
}

/// Windows, accumulators and firing for one subtask.
pub struct WindowOperator {
    pub(super) kind: WindowKind,
    pub(super) mode: TimeMode,
    pub(super) lateness: i64,
    pub(super) agg: Aggregation,
    pub(super) panes: BTreeMap<TimeWindow, FxHashMap<Vec<u8>, Slot>>,
    pub(super) fired_panes: BTreeSet<TimeWindow>,
    pub(super) sessions: FxHashMap<Vec<u8>, Vec<Session>>,
    pub(super) session_index: BTreeSet<(TimeWindow, Vec<u8>)>,
    /// The watermark (event time) or processing time reached so far.
    pub(super) current: i64,
    /// (window, key) updated after it fired: fire again at the end of the batch.
    pub(super) refire: BTreeSet<(TimeWindow, Vec<u8>)>,
    pub(super) touched_panes: BTreeSet<TimeWindow>,
    pub(super) touched_keys: FxHashSet<Vec<u8>>,
    /// Reused per record: the aggregates' numeric inputs.
    pub(super) values: Vec<f64>,
    /// Keys in the last pane that fired: new panes start this big, instead
    /// of rehashing their way up.
    pub(super) pane_capacity: usize,
}

impl WindowOperator {
    /// A window operator.
    pub fn new(kind: WindowKind, mode: TimeMode, allowed_lateness: i64, agg: Aggregation) -> Self {
        Self {
            kind,
            mode,
            lateness: if mode == TimeMode::Event {
                allowed_lateness
            } else {
                0
            },
            agg,
            panes: BTreeMap::new(),
            fired_panes: BTreeSet::new(),
            sessions: FxHashMap::default(),
            session_index: BTreeSet::new(),
            current: MIN_WATERMARK,
            refire: BTreeSet::new(),
            touched_panes: BTreeSet::new(),
            touched_keys: FxHashSet::default(),
            values: Vec::new(),
            pane_capacity: 0,
        }
    }

    /// Open (key, window) accumulators, for metrics and tests.
    pub fn open_windows(&self) -> usize {
        self.panes.values().map(|m| m.len()).sum::<usize>() + self.session_index.len()
    }

    fn is_late(&self, w: &TimeWindow) -> bool {
        self.mode == TimeMode::Event
            && w.max_timestamp().saturating_add(self.lateness) <= self.current
    }

    fn has_fired(&self, w: &TimeWindow) -> bool {
        w.max_timestamp() <= self.current
    }

    /// Add a batch of keyed records; `processing_time` is the batch's arrival time.
    pub fn process_batch(
        &mut self,
        records: Vec<Event>,
        processing_time: i64,
        out: &mut WindowOutput,
    ) -> Result<(), WasmError> {
        let mut values = std::mem::take(&mut self.values);
        for event in records {
            if let Err(reason) = self.agg.extract(&event, &mut values) {
                out.rejected.push((event, reason));
                continue;
            }
            let t = match self.mode {
                TimeMode::Event => event.timestamp,
                TimeMode::Processing => processing_time,
            };
            let key = event.key.as_deref().unwrap_or_default();
            let accepted = match self.kind {
                WindowKind::Tumbling { size } => {
                    self.add_to_pane(tumbling::assign(t, size), key, &event, &values)
                }
                WindowKind::Sliding { size, slide } => {
                    let mut any = false;
                    for w in sliding::assign(t, size, slide) {
                        any |= self.add_to_pane(w, key, &event, &values);
                    }
                    any
                }
                WindowKind::Session { gap } => self.add_to_session(t, gap, key, &event, &values),
            };
            if !accepted {
                out.late.push(event);
            }
        }
        self.values = values;
        self.flush()?;
        let refire = std::mem::take(&mut self.refire);
        if !refire.is_empty() {
            self.emit(refire.into_iter().collect(), out)?;
        }
        Ok(())
    }

    fn add_to_pane(&mut self, w: TimeWindow, key: &[u8], event: &Event, values: &[f64]) -> bool {
        if self.is_late(&w) {
            return false;
        }
        let fired = self.has_fired(&w);
        let hint = self.pane_capacity;
        let pane = self
            .panes
            .entry(w)
            .or_insert_with(|| FxHashMap::with_capacity_and_hasher(hint, Default::default()));
        let slot = match pane.get_mut(key) {
            Some(s) => s,
            None => pane
                .entry(key.to_vec())
                .or_insert_with(|| self.agg.new_slot()),
        };
        self.agg.add(slot, event, values);
        if matches!(self.agg, Aggregation::Wasm(_)) {
            self.touched_panes.insert(w);
        }
        if fired {
            self.refire.insert((w, key.to_vec()));
        }
        true
    }

    fn add_to_session(
        &mut self,
        t: i64,
        gap: i64,
        key: &[u8],
        event: &Event,
        values: &[f64],
    ) -> bool {
        let key = key.to_vec();
        let new = TimeWindow {
            start: t,
            end: t.saturating_add(gap),
        };
        let sessions = self.sessions.entry(key.clone()).or_default();
        let windows: Vec<TimeWindow> = sessions.iter().map(|s| s.window).collect();
        let (merged, absorbed) = merge_into(&windows, new);
        if self.mode == TimeMode::Event
            && merged.max_timestamp().saturating_add(self.lateness) <= self.current
        {
            if sessions.is_empty() {
                self.sessions.remove(&key);
            }
            return false;
        }
        let mut slot = self.agg.new_slot();
        for i in absorbed.into_iter().rev() {
            let s = sessions.remove(i);
            self.session_index.remove(&(s.window, key.clone()));
            self.agg.merge(&mut slot, s.slot);
        }
        self.agg.add(&mut slot, event, values);
        let fired = merged.max_timestamp() <= self.current;
        sessions.push(Session {
            window: merged,
            slot,
            fired,
        });
        self.session_index.insert((merged, key.clone()));
        if fired {
            self.refire.insert((merged, key.clone()));
        }
        if matches!(self.agg, Aggregation::Wasm(_)) {
            self.touched_keys.insert(key);
        }
        true
    }

    /// Send pending work of the touched windows to a Wasm aggregate.
    pub(super) fn flush(&mut self) -> Result<(), WasmError> {
        if self.touched_panes.is_empty() && self.touched_keys.is_empty() {
            return Ok(());
        }
        let panes = std::mem::take(&mut self.touched_panes);
        let keys = std::mem::take(&mut self.touched_keys);
        let pane_slots = self
            .panes
            .iter_mut()
            .filter(|(w, _)| panes.contains(w))
            .flat_map(|(_, m)| m.values_mut());
        let session_slots = self
            .sessions
            .iter_mut()
            .filter(|(k, _)| keys.contains(*k))
            .flat_map(|(_, v)| v.iter_mut().map(|s| &mut s.slot));
        self.agg.flush(pane_slots.chain(session_slots))
    }

    /// Advance event time (or processing time) to `time`: fire every window
    /// that closes, and drop those past their allowed lateness.
    pub fn advance(&mut self, time: i64, out: &mut WindowOutput) -> Result<(), WasmError> {
        if time <= self.current {
            return Ok(());
        }
        self.current = time;
        let mut due: Vec<(TimeWindow, Vec<u8>)> = Vec::new();
        match self.kind {
            WindowKind::Session { .. } => {
                for (w, key) in self.session_index.iter() {
                    if w.max_timestamp() > time {
                        break;
                    }
                    let s = self
                        .sessions
                        .get_mut(key)
                        .and_then(|v| v.iter_mut().find(|s| s.window == *w));
                    if let Some(s) = s
                        && !s.fired
                    {
                        s.fired = true;
                        due.push((*w, key.clone()));
                    }
                }
            }
            _ => {
                for (w, pane) in self.panes.iter() {
                    if w.max_timestamp() > time {
                        break;
                    }
                    if self.fired_panes.insert(*w) {
                        self.pane_capacity = self.pane_capacity.max(pane.len());
                        let mut keys: Vec<&Vec<u8>> = pane.keys().collect();
                        keys.sort_unstable();
                        due.extend(keys.into_iter().map(|k| (*w, k.clone())));
                    }
                }
            }
        }
        if !due.is_empty() {
            self.emit(due, out)?;
        }
        self.cleanup();
        Ok(())
    }

    /// Drop windows whose allowed lateness has passed.
    fn cleanup(&mut self) {
        let expired = |w: &TimeWindow, current: i64, lateness: i64| {
            w.max_timestamp().saturating_add(lateness) <= current
        };
        let (current, lateness) = (self.current, self.lateness);
        while let Some((w, _)) = self.panes.first_key_value() {
            if !expired(w, current, lateness) {
                break;
            }
            let w = *w;
            self.panes.remove(&w);
            self.fired_panes.remove(&w);
        }
        while let Some((w, key)) = self.session_index.first() {
            if !expired(w, current, lateness) {
                break;
            }
            let (w, key) = (*w, key.clone());
            self.session_index.pop_first();
            if let Some(v) = self.sessions.get_mut(&key) {
                v.retain(|s| s.window != w);
                if v.is_empty() {
                    self.sessions.remove(&key);
                }
            }
        }
    }

    /// Produce results for (window, key)s in the given order.
    fn emit(
        &mut self,
        due: Vec<(TimeWindow, Vec<u8>)>,
        out: &mut WindowOutput,
    ) -> Result<(), WasmError> {
        let mut fired: Vec<(&[u8], TimeWindow, &Slot)> = Vec::with_capacity(due.len());
        for (w, key) in &due {
            let slot = match self.kind {
                WindowKind::Session { .. } => self
                    .sessions
                    .get(key)
                    .and_then(|v| v.iter().find(|s| s.window == *w))
                    .map(|s| &s.slot),
                _ => self.panes.get(w).and_then(|p| p.get(key)),
            };
            if let Some(slot) = slot {
                fired.push((key, *w, slot));
            }
        }
        let payloads = self.agg.finish(&fired)?;
        out.results.extend(
            fired
                .iter()
                .zip(payloads)
                .map(|((key, w, _), value)| Event {
                    key: Some(key.to_vec()),
                    value,
                    timestamp: w.max_timestamp(),
                    headers: Vec::new(),
                }),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::AggregateSpec;

    fn op(kind: WindowKind, lateness: i64) -> WindowOperator {
        let count = AggregateSpec {
            function: "count".into(),
            field: None,
            output: None,
        };
        WindowOperator::new(
            kind,
            TimeMode::Event,
            lateness,
            Aggregation::native(&[count]),
        )
    }

    fn rec(key: &str, ts: i64) -> Event {
        Event {
            key: Some(key.as_bytes().to_vec()),
            value: b"{}".to_vec(),
            timestamp: ts,
            headers: vec![],
        }
    }

    fn lines(out: &WindowOutput) -> Vec<String> {
        out.results
            .iter()
            .map(|e| String::from_utf8(e.value.clone()).unwrap())
            .collect()
    }

    #[test]
    fn tumbling_fires_at_end_minus_one_and_sends_late_records_aside() {
        let mut w = op(WindowKind::Tumbling { size: 10 }, 0);
        let mut out = WindowOutput::default();
        w.process_batch(vec![rec("a", 1), rec("a", 9), rec("b", 10)], 0, &mut out)
            .unwrap();
        w.advance(8, &mut out).unwrap();
        assert!(out.results.is_empty());
        w.advance(9, &mut out).unwrap();
        assert_eq!(
            lines(&out),
            vec![r#"{"key":"a","window_start":0,"window_end":10,"count":2}"#]
        );
        w.process_batch(vec![rec("a", 5)], 0, &mut out).unwrap();
        assert_eq!(out.late.len(), 1);
    }

    #[test]
    fn allowed_lateness_fires_again_with_the_update() {
        let mut w = op(WindowKind::Tumbling { size: 10 }, 5);
        let mut out = WindowOutput::default();
        w.process_batch(vec![rec("a", 1)], 0, &mut out).unwrap();
        w.advance(12, &mut out).unwrap();
        w.process_batch(vec![rec("a", 2)], 0, &mut out).unwrap();
        assert_eq!(out.late.len(), 0);
        assert_eq!(
            lines(&out)[1],
            r#"{"key":"a","window_start":0,"window_end":10,"count":2}"#
        );
        w.advance(14, &mut out).unwrap(); // 9 + 5 <= 14: window dropped
        w.process_batch(vec![rec("a", 3)], 0, &mut out).unwrap();
        assert_eq!(out.late.len(), 1);
        assert_eq!(w.open_windows(), 0);
    }

    #[test]
    fn sessions_merge_when_they_touch() {
        let mut w = op(WindowKind::Session { gap: 10 }, 0);
        let mut out = WindowOutput::default();
        w.process_batch(
            vec![rec("a", 0), rec("a", 20), rec("a", 10), rec("b", 5)],
            0,
            &mut out,
        )
        .unwrap();
        w.advance(i64::MAX, &mut out).unwrap();
        assert_eq!(
            lines(&out),
            vec![
                r#"{"key":"b","window_start":5,"window_end":15,"count":1}"#,
                r#"{"key":"a","window_start":0,"window_end":30,"count":3}"#,
            ]
        );
    }

    #[test]
    fn sliding_counts_a_record_in_every_window() {
        let mut w = op(WindowKind::Sliding { size: 10, slide: 5 }, 0);
        let mut out = WindowOutput::default();
        w.process_batch(vec![rec("a", 7)], 0, &mut out).unwrap();
        w.advance(i64::MAX, &mut out).unwrap();
        assert_eq!(out.results.len(), 2);
    }
}
