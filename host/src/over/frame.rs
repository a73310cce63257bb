//! One key's frame: what its next rows' aggregates are computed from.
//!
//! Sums and counts run, adding each row as it comes in and taking back
//! each row that leaves a bounded frame (as Flink's retracting
//! accumulators do); MIN and MAX of a bounded frame are found among the
//! frame's rows, which it keeps (their times and numbers) until they leave.

use super::{Frame, OverFunc};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// A key's frame.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct KeyFrame {
    /// The last time that went out for the key.
    pub last: Option<i64>,
    /// Rows in the frame.
    rows: u64,
    /// Per aggregate: numbers in the frame, and their sum, least and
    /// greatest (the last two kept running only by an unbounded frame).
    acc: Vec<Acc>,
    /// A bounded frame's rows, oldest first: time and numbers.
    kept: VecDeque<(i64, Vec<Option<f64>>)>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Acc {
    n: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Default for Acc {
    fn default() -> Self {
        Self {
            n: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

/// One aggregate's value for a row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Value {
    Count(i64),
    Number(Option<f64>),
}

impl KeyFrame {
    /// Bytes it holds, roughly (for the memory budget).
    pub fn bytes(&self, aggs: usize) -> u64 {
        (64 + aggs * 32 + self.kept.len() * (48 + aggs * 16)) as u64
    }

    /// Row numbers `values` (one per aggregate) at `time` enter the frame.
    pub fn add(&mut self, frame: Frame, time: i64, values: &[Option<f64>]) {
        if self.acc.len() < values.len() {
            self.acc.resize(values.len(), Acc::default());
        }
        self.rows += 1;
        for (a, v) in self.acc.iter_mut().zip(values) {
            if let Some(v) = *v {
                a.n += 1;
                a.sum += v;
                a.min = a.min.min(v);
                a.max = a.max.max(v);
            }
        }
        if !frame.unbounded() {
            self.kept.push_back((time, values.to_vec()));
        }
    }

    /// Rows that no longer belong to the frame of a row at `time` leave:
    /// for `ROWS n`, all but the last `n + 1`; for `RANGE ms`, those more
    /// than `ms` before `time`.
    pub fn trim(&mut self, frame: Frame, time: i64) {
        loop {
            let leaves = match (frame, self.kept.front()) {
                (_, None) => false,
                (Frame::Rows(Some(n)), Some(_)) => self.kept.len() as u64 > n + 1,
                (Frame::Range(Some(ms)), Some((t, _))) => time - *t > ms,
                _ => false,
            };
            if !leaves {
                return;
            }
            let (_, values) = self.kept.pop_front().expect("checked");
            self.rows -= 1;
            for (a, v) in self.acc.iter_mut().zip(&values) {
                if let Some(v) = *v {
                    a.n -= 1;
                    // No rounding left over once the frame is empty.
                    a.sum = if a.n == 0 { 0.0 } else { a.sum - v };
                }
            }
        }
    }

    /// The aggregates' values over the frame now.
    pub fn values(&self, frame: Frame, funcs: &[(OverFunc, bool)], out: &mut Vec<Value>) {
        out.clear();
        for (i, &(func, counts_rows)) in funcs.iter().enumerate() {
            let a = self.acc.get(i).copied().unwrap_or_default();
            let extreme = |max: bool| {
                if frame.unbounded() {
                    return if max { a.max } else { a.min };
                }
                let numbers = self.kept.iter().filter_map(|(_, v)| v[i]);
                if max {
                    numbers.fold(f64::NEG_INFINITY, f64::max)
                } else {
                    numbers.fold(f64::INFINITY, f64::min)
                }
            };
            out.push(match func {
                OverFunc::Count if counts_rows => Value::Count(self.rows as i64),
                OverFunc::Count => Value::Count(a.n as i64),
                _ if a.n == 0 => Value::Number(None),
                OverFunc::Sum => Value::Number(Some(a.sum)),
                OverFunc::Avg => Value::Number(Some(a.sum / a.n as f64)),
                OverFunc::Min => Value::Number(Some(extreme(false))),
                OverFunc::Max => Value::Number(Some(extreme(true))),
            });
        }
    }
}
