//! The values of a MIN or MAX over a changelog: a row taken back (`-U`,
//! `-D`) takes its value out again, so the extreme of what is left needs
//! every value kept — each once, with how many rows have it (Flink's
//! `MaxWithRetractAggFunction` keeps the same map).
//!
//! ```
//! use weir::window::aggregate::Multiset;
//! let mut m = Multiset::default();
//! m.add(3.0, 1.0);
//! m.add(5.0, 1.0);
//! m.add(5.0, -1.0);
//! assert_eq!(m.max(), Some(3.0));
//! ```

use std::collections::BTreeMap;

/// Values with their counts, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Multiset(BTreeMap<Ordered, i64>);

/// A value ordered as IEEE 754's total order (a NaN a row brings has a
/// place, and two equal bit patterns are one value).
#[derive(Debug, Clone, Copy)]
struct Ordered(f64);

impl PartialEq for Ordered {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(&other.0).is_eq()
    }
}
impl Eq for Ordered {}
impl PartialOrd for Ordered {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ordered {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Host memory one value costs: the value and its count, and the B-tree's
/// share of a node around them.
const ENTRY_BYTES: u64 = 32;

impl Multiset {
    /// Add `x` `times` times (negative: take it back). A value taken back
    /// more often than it was added (a changelog that starts after its
    /// `+I`) is kept as owed, and never wins.
    pub fn add(&mut self, x: f64, times: f64) {
        use std::collections::btree_map::Entry;
        match self.0.entry(Ordered(x)) {
            Entry::Vacant(e) => {
                e.insert(times as i64);
            }
            Entry::Occupied(mut e) => {
                *e.get_mut() += times as i64;
                if *e.get() == 0 {
                    e.remove();
                }
            }
        }
    }

    /// The least value that rows have.
    pub fn min(&self) -> Option<f64> {
        self.0.iter().find(|(_, n)| **n > 0).map(|(x, _)| x.0)
    }

    /// The greatest value that rows have.
    pub fn max(&self) -> Option<f64> {
        self.0.iter().rev().find(|(_, n)| **n > 0).map(|(x, _)| x.0)
    }

    /// Add all of `other`'s values.
    pub fn merge(&mut self, other: &Multiset) {
        for (x, &n) in &other.0 {
            self.add(x.0, n as f64);
        }
    }

    /// Host memory it holds.
    pub fn heap_bytes(&self) -> u64 {
        ENTRY_BYTES * self.0.len() as u64
    }

    /// Its values and counts, as a checkpoint keeps them.
    pub fn save(&self) -> Vec<(f64, i64)> {
        self.0.iter().map(|(x, &n)| (x.0, n)).collect()
    }

    /// A multiset from [`Multiset::save`]'s.
    pub fn load(saved: Vec<(f64, i64)>) -> Multiset {
        Multiset(saved.into_iter().map(|(x, n)| (Ordered(x), n)).collect())
    }
}
