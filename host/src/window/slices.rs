//! Window slicing: a sliding window's built-in accumulators kept once per
//! slide, not once per window.
//!
//! A sliding window of `size` ms starting every `slide` ms puts each record
//! in `size / slide` windows. Kept per window, a record updates that many
//! accumulators, each in its own window's hash table — with many keys,
//! that many cache misses per record. When `size` is a multiple of
//! `slide`, every window is the union of `size / slide` consecutive
//! *slices* of `slide` ms, and each record belongs to exactly one slice: it
//! updates one accumulator, in a table a fraction the size of a window's.
//! When a window fires, its slices' accumulators are merged per key (the
//! way Flink SQL's hopping windows and Arroyo's sliding windows work).
//!
//! Semantics stay those of Flink's DataStream windows: a record is late
//! only when every window it belongs to is past its allowed lateness; a
//! record that updates a window that has already fired (within the
//! lateness) makes that window fire again. One thing differs in the last
//! bit: a floating-point sum is added up per slice and then across slices,
//! so it may round differently from adding each record to each window in
//! arrival order (191.45 vs 191.45000000000005). Counts, integer sums,
//! `min` and `max` are exact either way.
//!
//! Only built-in aggregates are sliced: a Wasm aggregate's merge is a call
//! into the guest, so its windows keep one accumulator each.
//!
//! ```
//! use weir::window::{TimeWindow, slices::Slicing};
//! let s = Slicing::new(10_000, 2_000).unwrap();
//! assert_eq!(s.slice_of(12_345), TimeWindow { start: 12_000, end: 14_000 });
//! // The five slices of window [10 000, 20 000):
//! let w = TimeWindow { start: 10_000, end: 20_000 };
//! assert_eq!(s.slices_of(w).count(), 5);
//! ```

use super::TimeWindow;
use super::WindowError;
use super::aggregate::{Aggregation, Input, Slot};
use super::operator::WindowOperator;
use super::store::{Key, WindowStore};
use crate::state::StateError;
use std::collections::BTreeSet;

/// Sliding windows of `size` ms every `slide` ms, kept as slices of `slide`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slicing {
    size: i64,
    slide: i64,
}

impl Slicing {
    /// Slicing for windows of `size` every `slide`, when it pays and is
    /// exact in its window bounds: `slide` divides `size`, and is shorter.
    pub fn new(size: i64, slide: i64) -> Option<Slicing> {
        (slide > 0 && slide < size && size % slide == 0).then_some(Slicing { size, slide })
    }

    /// The length of a slice: the slide.
    pub fn slide(&self) -> i64 {
        self.slide
    }

    /// The slice holding `ts`.
    pub fn slice_of(&self, ts: i64) -> TimeWindow {
        super::tumbling::assign(ts, self.slide)
    }

    /// The slices window `w` is made of, earliest first.
    pub fn slices_of(&self, w: TimeWindow) -> impl Iterator<Item = TimeWindow> + use<> {
        let slide = self.slide;
        (0..self.size / slide).map(move |i| TimeWindow {
            start: w.start + i * slide,
            end: w.start + (i + 1) * slide,
        })
    }

    /// The last window to end that holds slice `s`: it starts where `s` does.
    pub fn last_window_of(&self, s: TimeWindow) -> TimeWindow {
        TimeWindow {
            start: s.start,
            end: s.start + self.size,
        }
    }

    /// The first window to end that holds slice `s`: it ends where `s` does.
    pub fn first_window_of(&self, s: TimeWindow) -> TimeWindow {
        TimeWindow {
            start: s.end - self.size,
            end: s.end,
        }
    }

    /// Every window holding slice `s`, earliest end first.
    pub fn windows_of(&self, s: TimeWindow) -> impl Iterator<Item = TimeWindow> + use<> {
        let (slide, first) = (self.slide, self.first_window_of(s));
        (0..self.size / slide).map(move |i| TimeWindow {
            start: first.start + i * slide,
            end: first.end + i * slide,
        })
    }

    /// How much longer a slice is kept than its own last timestamp: until
    /// the last window holding it has passed.
    pub fn retention(&self) -> i64 {
        self.size - self.slide
    }

    /// Windows holding any of the open `slices` whose last timestamp is in
    /// `(after, upto]`, in firing order.
    pub fn due(
        &self,
        slices: impl IntoIterator<Item = TimeWindow>,
        after: i64,
        upto: i64,
    ) -> Vec<TimeWindow> {
        let mut due = BTreeSet::new();
        for s in slices {
            for w in self.windows_of(s) {
                let t = w.max_timestamp();
                if t > after && t <= upto {
                    due.insert(w);
                }
            }
        }
        due.into_iter().collect()
    }
}

/// Buffers for [`merge`], kept between windows: a window's entries are
/// many, and fresh buffers that big would be fresh pages each time.
#[derive(Default)]
pub(super) struct Scratch {
    /// A window's slices' entries, earliest slice first.
    pub(super) entries: Vec<Option<(Key, Slot)>>,
    order: Vec<(u64, u32)>,
}

/// Merge the entries of a window's slices (in `scratch.entries`, earliest
/// slice first) per key, handing each key's merged accumulator to `out` in
/// the order results fire (by a hash of the key, then the key: see the
/// store's `in_firing_order`). A key's slices are merged earliest first, so
/// the result does not depend on how keys are hashed or stored.
pub(super) fn merge(agg: &Aggregation, scratch: &mut Scratch, mut out: impl FnMut(Key, Slot)) {
    use std::hash::Hasher as _;
    let Scratch { entries, order } = scratch;
    let key = |i: u32| &entries[i as usize].as_ref().expect("not taken yet").0;
    // Sort small (hash, index) pairs, then move each entry once.
    order.clear();
    order.extend((0..entries.len() as u32).map(|i| {
        let mut h = rustc_hash::FxHasher::default();
        h.write(key(i));
        (h.finish(), i)
    }));
    order.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| key(a.1).cmp(key(b.1)))
            .then(a.1.cmp(&b.1))
    });
    let mut last: Option<(Key, Slot)> = None;
    for &(_, i) in order.iter() {
        let (key, slot) = entries[i as usize].take().expect("each entry once");
        match &mut last {
            Some((k, into)) if *k == key => agg.merge(into, slot),
            _ => {
                if let Some((k, s)) = last.replace((key, slot)) {
                    out(k, s);
                }
            }
        }
    }
    if let Some((k, s)) = last {
        out(k, s);
    }
    entries.clear();
}

impl WindowOperator {
    /// Add a record to its slice (see the module docs); `false` if every window
    /// holding it is past its allowed lateness.
    pub(super) fn add_to_slice(
        &mut self,
        t: i64,
        key: &[u8],
        input: Input<'_>,
        values: &[f64],
    ) -> Result<bool, WindowError> {
        let s = self.slicing.expect("sliced");
        let slice = s.slice_of(t);
        if self.is_late(&s.last_window_of(slice)) {
            return Ok(false);
        }
        let agg = &self.agg;
        let slot = self
            .store
            .pane_slot(slice, key, self.pane_capacity, || agg.new_slot())?;
        agg.add(slot, input, values);
        if s.first_window_of(slice).max_timestamp() <= self.current {
            // Windows that fired already, and are within their lateness,
            // fire again with this record.
            for w in s.windows_of(slice) {
                if w.max_timestamp() > self.current {
                    break;
                }
                if !self.is_late(&w) {
                    self.refire.insert((w, key.to_vec()));
                }
            }
        }
        Ok(true)
    }

    /// The accumulator of window `w` for `key`, merged from its slices.
    pub(super) fn sliced_slot(
        &self,
        s: Slicing,
        w: TimeWindow,
        key: &[u8],
    ) -> Result<Option<Slot>, WindowError> {
        let mut merged: Option<Slot> = None;
        for slice in s.slices_of(w) {
            if let Some(slot) = self.store.pane_get(slice, key)? {
                match &mut merged {
                    Some(into) => self.agg.merge(into, slot),
                    None => merged = Some(slot),
                }
            }
        }
        Ok(merged)
    }

    /// Fire the windows whose last timestamp is in `(before, time]`,
    /// each merged from its slices, into `due`.
    pub(super) fn fire_sliced(
        &mut self,
        before: i64,
        time: i64,
        due: &mut Vec<(TimeWindow, Key, Slot)>,
    ) -> Result<(), WindowError> {
        let s = self.slicing.expect("sliced");
        for w in s.due(self.store.open_panes(), before, time) {
            for slice in s.slices_of(w) {
                let n = self
                    .store
                    .extend_with_pane(slice, &mut self.scratch.entries)?;
                self.pane_capacity = self.pane_capacity.max(n);
            }
            merge(&self.agg, &mut self.scratch, |k, s| due.push((w, k, s)));
        }
        Ok(())
    }
}

impl WindowStore {
    /// Append the accumulators of pane `w` to `into` (in no particular
    /// order); returns how many.
    pub(super) fn extend_with_pane(
        &self,
        w: TimeWindow,
        into: &mut Vec<Option<(Key, Slot)>>,
    ) -> Result<usize, StateError> {
        Ok(match self {
            WindowStore::Heap(h) => h.panes.get(&w).map_or(0, |m| {
                into.extend(m.iter().map(|(k, s)| Some((k.clone(), s.clone()))));
                m.len()
            }),
            WindowStore::Backend(_) => {
                let v = self.pane_contents(w)?;
                let n = v.len();
                into.extend(v.into_iter().map(Some));
                n
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::Budgets;
    use crate::event::Event;
    use crate::job::AggregateSpec;
    use crate::window::operator::{WindowOperator, WindowOutput};
    use crate::window::{TimeMode, WindowKind, sliding};

    fn operator(size: i64, slide: i64, lateness: i64, sliced: bool) -> WindowOperator {
        let agg = |f: &str, field: Option<&str>| AggregateSpec {
            function: f.into(),
            field: field.map(Into::into),
            output: None,
        };
        let specs = [
            agg("count", None),
            agg("sum", Some("x")),
            agg("min", Some("x")),
            agg("max", Some("x")),
            agg("avg", Some("x")),
        ];
        let mut op = WindowOperator::new(
            WindowKind::Sliding { size, slide },
            TimeMode::Event,
            lateness,
            Aggregation::native(&specs),
            Budgets::unbounded(),
        );
        assert!(op.slicing.is_some());
        if !sliced {
            op.slicing = None;
        }
        op
    }

    /// Results and late records of `op` over `records` (key, ts, x) in
    /// batches of 7, the watermark trailing the highest time by `ooo`.
    fn run(mut op: WindowOperator, records: &[(u8, i64, i64)], ooo: i64) -> Vec<String> {
        let mut out = WindowOutput::default();
        let mut max = i64::MIN;
        for batch in records.chunks(7) {
            let events = batch
                .iter()
                .map(|&(k, ts, x)| {
                    max = max.max(ts);
                    Event {
                        key: Some(vec![b'a' + k]),
                        value: format!(r#"{{"x":{x}}}"#).into_bytes(),
                        timestamp: ts,
                        headers: vec![],
                    }
                })
                .collect();
            op.process_batch(events, 0, &mut out).unwrap();
            op.advance(max - ooo - 1, &mut out).unwrap();
        }
        op.advance(i64::MAX, &mut out).unwrap();
        let text = |v: &[u8]| String::from_utf8(v.to_vec()).unwrap();
        let mut lines: Vec<String> = out.results.iter().map(|e| text(&e.value)).collect();
        lines.extend(out.late.iter().map(|e| format!("late {}", text(&e.value))));
        lines
    }

    /// A sliced operator gives what one accumulator per window gives, result
    /// for result and in the same order, late records and windows that fire
    /// again within the allowed lateness included (whole numbers, so sums
    /// are exact either way).
    #[test]
    fn slices_give_what_whole_windows_give() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for (size, slide, lateness, ooo) in
            [(10, 2, 0, 3), (12, 4, 5, 2), (6, 3, 2, 8), (20, 5, 0, 0)]
        {
            let records: Vec<(u8, i64, i64)> = (0..400)
                .map(|i| {
                    let ts = i as i64 / 2 - next(25) as i64 + if next(10) == 0 { -30 } else { 0 };
                    (next(4) as u8, ts, next(100) as i64 - 20)
                })
                .collect();
            let whole = run(operator(size, slide, lateness, false), &records, ooo);
            let sliced = run(operator(size, slide, lateness, true), &records, ooo);
            assert!(
                whole.iter().any(|l| l.starts_with("late")),
                "no late record"
            );
            assert_eq!(
                sliced, whole,
                "size {size}, slide {slide}, lateness {lateness}"
            );
        }
    }

    #[test]
    fn a_windows_slices_are_the_slices_its_records_fall_in() {
        let s = Slicing::new(10, 5).unwrap();
        for ts in -30..30 {
            for w in sliding::windows(ts, 10, 5) {
                assert!(s.slices_of(w).any(|x| x == s.slice_of(ts)), "{ts} {w:?}");
                assert!(s.windows_of(s.slice_of(ts)).any(|x| x == w), "{ts} {w:?}");
            }
            assert_eq!(
                s.windows_of(s.slice_of(ts)).count(),
                sliding::windows(ts, 10, 5).count()
            );
        }
    }

    /// A checkpoint from a version that kept each sliding window whole is
    /// restored as it was saved: the operator keeps whole windows, and
    /// continues as if it had not stopped.
    #[test]
    fn whole_windows_restore_as_whole_windows() {
        let records: Vec<(u8, i64, i64)> =
            (0..120).map(|i| ((i % 3) as u8, i / 2, i % 7)).collect();
        let (first, second) = records.split_at(60);
        let expected = run(operator(10, 2, 3, false), &records, 2);

        let mut op = operator(10, 2, 3, false);
        let mut out = WindowOutput::default();
        let text = |e: &Event| String::from_utf8(e.value.clone()).unwrap();
        let events = |rs: &[(u8, i64, i64)]| -> Vec<Event> {
            rs.iter()
                .map(|&(k, ts, x)| Event {
                    key: Some(vec![b'a' + k]),
                    value: format!(r#"{{"x":{x}}}"#).into_bytes(),
                    timestamp: ts,
                    headers: vec![],
                })
                .collect()
        };
        op.process_batch(events(first), 0, &mut out).unwrap();
        op.advance(first.last().unwrap().1 - 3, &mut out).unwrap();
        let dir = tempfile::tempdir().unwrap();
        op.snapshot_into(dir.path()).unwrap();
        let bytes = std::fs::read(dir.path().join(crate::window::snapshot::WINDOW_FILE)).unwrap();

        let mut restored = operator(10, 2, 3, true);
        restored.restore(&bytes, &|_| true).unwrap();
        assert!(restored.slicing.is_none(), "whole windows kept whole");
        restored.process_batch(events(second), 0, &mut out).unwrap();
        restored.advance(i64::MAX, &mut out).unwrap();
        let got: Vec<String> = out.results.iter().map(text).collect();
        let mut want = expected.clone();
        want.sort();
        let mut got_sorted = got.clone();
        got_sorted.sort();
        assert_eq!(got_sorted, want);
    }

    #[test]
    fn slicing_only_where_slides_divide_windows() {
        assert!(Slicing::new(10, 3).is_none());
        assert!(Slicing::new(10, 10).is_none());
        assert!(Slicing::new(10, 0).is_none());
        assert!(Slicing::new(10, 2).is_some());
    }

    #[test]
    fn due_windows_come_in_firing_order() {
        let s = Slicing::new(10, 5).unwrap();
        let slices = [s.slice_of(0), s.slice_of(7)];
        let due = s.due(slices, i64::MIN, 100);
        let bounds: Vec<(i64, i64)> = due.iter().map(|w| (w.start, w.end)).collect();
        assert_eq!(bounds, vec![(-5, 5), (0, 10), (5, 15)]);
        assert!(s.due(slices, 9, 13).is_empty());
    }
}
