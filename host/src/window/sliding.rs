//! Sliding (hopping) windows: length `size`, a new one every `slide`, so a
//! record belongs to `size / slide` windows.

use super::TimeWindow;

/// Every window containing `ts`, latest start first (as Flink lists them).
///
/// ```
/// use weir::window::{TimeWindow, sliding::assign};
/// let w = assign(12_000, 10_000, 5_000);
/// assert_eq!(w, vec![
///     TimeWindow { start: 10_000, end: 20_000 },
///     TimeWindow { start: 5_000, end: 15_000 },
/// ]);
/// ```
pub fn assign(ts: i64, size: i64, slide: i64) -> Vec<TimeWindow> {
    let mut out = Vec::with_capacity((size / slide) as usize);
    let mut start = ts - ts.rem_euclid(slide);
    while start > ts - size {
        out.push(TimeWindow {
            start,
            end: start + size,
        });
        start -= slide;
    }
    out
}
