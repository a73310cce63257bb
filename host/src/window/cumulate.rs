//! Cumulating windows (Flink's `CUMULATE`): within each period of `size`
//! ms, windows that all start at the period's start and end every `step`
//! ms, so the last is the whole period. A record belongs to every window
//! of its period that ends after it: `[p, p + step)`, `[p, p + 2 step)`, …
//! up to `[p, p + size)` — a running total that restarts each period.

use super::TimeWindow;

/// Every window containing `ts`, earliest end first.
///
/// ```
/// use weir::window::{TimeWindow, cumulate::windows};
/// let w: Vec<_> = windows(17_345, 10_000, 5_000).collect();
/// assert_eq!(w, vec![TimeWindow { start: 10_000, end: 20_000 }]);
/// let w: Vec<_> = windows(11_000, 10_000, 5_000).collect();
/// assert_eq!(w, vec![
///     TimeWindow { start: 10_000, end: 15_000 },
///     TimeWindow { start: 10_000, end: 20_000 },
/// ]);
/// ```
pub fn windows(ts: i64, size: i64, step: i64) -> impl Iterator<Item = TimeWindow> {
    let start = ts - ts.rem_euclid(size);
    // The first window to end after `ts`.
    let first = ts - ts.rem_euclid(step) + step;
    (first..=start + size)
        .step_by(step.max(1) as usize)
        .map(move |end| TimeWindow { start, end })
}
