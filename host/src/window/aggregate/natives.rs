//! Built-in aggregates (`count`, `sum`, `min`, `max`, `avg`): their
//! accumulators — one or two `f64`s each, inline in a window's slot — and
//! how a record is added, two windows merged and a result made.
//!
//! Over a changelog (a window with a [`SIGN`] column), a row whose sign
//! is -1 takes back what an earlier one added: counts and sums subtract,
//! and a MIN or MAX keeps each of its values with their counts
//! ([`Multiset`]), its accumulator the extreme of those left.

use super::super::TimeWindow;
use super::super::results::{write_json_string, write_number};
use super::multiset::Multiset;
use crate::job::AggregateSpec;

/// The function of the entry a plan adds after a window's aggregates when
/// its rows are a changelog: not an aggregate, but each row's sign (its
/// field: 1 adds the row, -1 takes it back) — read with the aggregates'
/// fields, from the same columns or records.
pub const SIGN: &str = "sign";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Func {
    Count,
    Sum,
    Min,
    Max,
    Avg,
}

#[derive(Debug, Clone)]
pub(super) struct Native {
    pub(super) func: Func,
    pub(super) field: Option<String>,
    pub(super) output: String,
    /// First accumulator slot (avg uses two: sum, count).
    pub(super) slot: usize,
    /// Of a MIN or MAX over a changelog: its values' multiset.
    set: Option<usize>,
}

impl Native {
    /// Its result from the accumulators `v` (an average of nothing: 0).
    pub(super) fn value(&self, v: &[f64]) -> f64 {
        match self.func {
            Func::Avg if v[self.slot + 1] > 0.0 => v[self.slot] / v[self.slot + 1],
            Func::Avg => 0.0,
            _ => v[self.slot],
        }
    }
}

/// Built-in accumulators: inline up to this many `f64`s (two aggregates
/// with an average among them), so a window's accumulator for a key costs
/// no allocation of its own.
pub type NativeAcc = smallvec::SmallVec<[f64; 4]>;

/// Built-in aggregates.
#[derive(Debug, Clone, Default)]
pub struct Natives {
    /// The aggregates in output order.
    pub(super) aggs: Vec<NativeSpec>,
    /// Accumulator slots per window.
    pub(super) slots: usize,
    /// Over a changelog: the field of each record's sign (read after its
    /// aggregates' values).
    sign: Option<String>,
    /// Multisets per window (MIN and MAX over a changelog).
    pub(super) sets: usize,
}

/// One built-in aggregate, resolved.
#[derive(Debug, Clone)]
pub struct NativeSpec(pub(super) Native);

impl Natives {
    /// Built-in aggregates from the job's `aggregates` list (validated),
    /// and a [`SIGN`] entry last if the window's rows are a changelog.
    pub fn new(specs: &[AggregateSpec]) -> Natives {
        let (specs, sign) = match specs.split_last() {
            Some((last, aggs)) if last.function == SIGN => (aggs, last.field.clone()),
            _ => (specs, None),
        };
        let signed = sign.is_some();
        let mut slot = 0;
        let mut sets = 0;
        let aggs = specs
            .iter()
            .map(|a| {
                let func = match a.function.as_str() {
                    "count" => Func::Count,
                    "sum" => Func::Sum,
                    "min" => Func::Min,
                    "max" => Func::Max,
                    _ => Func::Avg,
                };
                let n = Native {
                    func,
                    field: a.field.clone(),
                    output: a.output_name(),
                    slot,
                    set: (signed && matches!(func, Func::Min | Func::Max)).then(|| {
                        sets += 1;
                        sets - 1
                    }),
                };
                slot += if func == Func::Avg { 2 } else { 1 };
                NativeSpec(n)
            })
            .collect();
        Natives {
            aggs,
            slots: slot,
            sign,
            sets,
        }
    }

    /// Empty accumulators.
    pub(super) fn new_acc(&self) -> NativeAcc {
        let mut v: NativeAcc = smallvec::smallvec![0.0; self.slots];
        for NativeSpec(a) in &self.aggs {
            match a.func {
                Func::Min => v[a.slot] = f64::INFINITY,
                Func::Max => v[a.slot] = f64::NEG_INFINITY,
                _ => {}
            }
        }
        v
    }

    /// Add a record's `values` (one per aggregate, then its sign over a
    /// changelog) to `v` and, over a changelog, `sets`.
    pub(super) fn add(&self, v: &mut NativeAcc, sets: &mut [Multiset], values: &[f64]) {
        let sign = if self.sign.is_some() {
            values[self.aggs.len()]
        } else {
            1.0
        };
        for (NativeSpec(a), &x) in self.aggs.iter().zip(values) {
            let s = a.slot;
            match (a.func, a.set) {
                (Func::Count, _) => v[s] += sign,
                (Func::Sum, _) => v[s] += sign * x,
                (Func::Min | Func::Max, Some(i)) => {
                    sets[i].add(x, sign);
                    v[s] = extreme(a.func, &sets[i]);
                }
                (Func::Min, None) => v[s] = v[s].min(x),
                (Func::Max, None) => v[s] = v[s].max(x),
                (Func::Avg, _) => {
                    v[s] += sign * x;
                    v[s + 1] += sign;
                }
            }
        }
    }

    /// Merge `b` (and its `b_sets`) into `a` (and `a_sets`): session
    /// windows.
    pub(super) fn merge(
        &self,
        (a, a_sets): (&mut NativeAcc, &mut [Multiset]),
        (b, b_sets): (&NativeAcc, &[Multiset]),
    ) {
        for NativeSpec(n) in &self.aggs {
            let s = n.slot;
            match (n.func, n.set) {
                (Func::Count | Func::Sum, _) => a[s] += b[s],
                (Func::Min | Func::Max, Some(i)) => {
                    a_sets[i].merge(&b_sets[i]);
                    a[s] = extreme(n.func, &a_sets[i]);
                }
                (Func::Min, None) => a[s] = a[s].min(b[s]),
                (Func::Max, None) => a[s] = a[s].max(b[s]),
                (Func::Avg, _) => {
                    a[s] += b[s];
                    a[s + 1] += b[s + 1];
                }
            }
        }
    }

    /// The fields read of each record, with what each is read for: the
    /// aggregates' (`None` for `count`), then the sign's over a changelog.
    pub(super) fn fields(&self) -> impl Iterator<Item = (Option<&str>, &str)> {
        let sign = self.sign.as_deref().map(|f| (Some(f), "the row's sign"));
        self.aggs
            .iter()
            .map(|NativeSpec(a)| (a.field.as_deref(), a.output.as_str()))
            .chain(sign)
    }

    /// Why a row of a changelog cannot be added: its sign (the last of
    /// `values`) is neither 1 nor -1; `None` when it is, or when the rows
    /// have no sign.
    pub(super) fn bad_sign(&self, values: &[f64]) -> Option<String> {
        let field = self.sign.as_deref()?;
        let s = *values.get(self.aggs.len())?;
        (s != 1.0 && s != -1.0).then(|| {
            format!(
                "field `{field}` (the row's sign) is {s}: a changelog's rows are added (1) or taken back (-1)"
            )
        })
    }

    /// Their output columns' names.
    pub fn outputs(&self) -> impl Iterator<Item = &str> {
        self.aggs.iter().map(|NativeSpec(a)| a.output.as_str())
    }
}

/// A MIN's or MAX's accumulator over a changelog: the extreme of the
/// values left, or what an empty one holds.
fn extreme(func: Func, set: &Multiset) -> f64 {
    match func {
        Func::Min => set.min().unwrap_or(f64::INFINITY),
        _ => set.max().unwrap_or(f64::NEG_INFINITY),
    }
}

/// `{"key":..,"window_start":..,"window_end":..,<aggregates>}`. Whole
/// numbers print without a fraction, so counts and sums of integers read as
/// integers. Written straight into the line's bytes (one allocation per
/// result: a window may write about as many results as it reads records).
pub(super) fn native_result(aggs: &[NativeSpec], key: &[u8], w: TimeWindow, v: &[f64]) -> Vec<u8> {
    let mut s = Vec::with_capacity(48 + key.len() + 32 * aggs.len());
    let mut int = itoa::Buffer::new();
    s.extend_from_slice(b"{\"key\":");
    write_json_string(&mut s, key);
    s.extend_from_slice(b",\"window_start\":");
    s.extend_from_slice(int.format(w.start).as_bytes());
    s.extend_from_slice(b",\"window_end\":");
    s.extend_from_slice(int.format(w.end).as_bytes());
    for NativeSpec(a) in aggs {
        let x = a.value(v);
        s.push(b',');
        write_json_string(&mut s, a.output.as_bytes());
        s.push(b':');
        write_number(&mut s, x);
    }
    s.push(b'}');
    s
}
