//! Built-in aggregates (`count`, `sum`, `min`, `max`, `avg`): their
//! accumulators — one or two `f64`s each, inline in a window's slot — and
//! how a record is added, two windows merged and a result made.

use super::super::TimeWindow;
use super::super::results::{write_json_string, write_number};
use crate::job::AggregateSpec;

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
}

/// One built-in aggregate, resolved.
#[derive(Debug, Clone)]
pub struct NativeSpec(pub(super) Native);

impl Natives {
    /// Built-in aggregates from the job's `aggregates` list (validated).
    pub fn new(specs: &[AggregateSpec]) -> Natives {
        let mut slot = 0;
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
                };
                slot += if func == Func::Avg { 2 } else { 1 };
                NativeSpec(n)
            })
            .collect();
        Natives { aggs, slots: slot }
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

    /// Add a record's `values` (one per aggregate) to `v`.
    pub(super) fn add(&self, v: &mut NativeAcc, values: &[f64]) {
        for (NativeSpec(a), &x) in self.aggs.iter().zip(values) {
            let s = a.slot;
            match a.func {
                Func::Count => v[s] += 1.0,
                Func::Sum => v[s] += x,
                Func::Min => v[s] = v[s].min(x),
                Func::Max => v[s] = v[s].max(x),
                Func::Avg => {
                    v[s] += x;
                    v[s + 1] += 1.0;
                }
            }
        }
    }

    /// Merge `b` into `a` (session windows).
    pub(super) fn merge(&self, a: &mut NativeAcc, b: &NativeAcc) {
        for NativeSpec(n) in &self.aggs {
            let s = n.slot;
            match n.func {
                Func::Count | Func::Sum => a[s] += b[s],
                Func::Min => a[s] = a[s].min(b[s]),
                Func::Max => a[s] = a[s].max(b[s]),
                Func::Avg => {
                    a[s] += b[s];
                    a[s + 1] += b[s + 1];
                }
            }
        }
    }

    /// Their output columns' names.
    pub fn outputs(&self) -> impl Iterator<Item = &str> {
        self.aggs.iter().map(|NativeSpec(a)| a.output.as_str())
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
