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
use super::aggregate::{Aggregation, Slot};
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
    use crate::window::sliding;

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
