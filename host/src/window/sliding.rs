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
    windows(ts, size, slide).collect()
}

/// [`assign`] without collecting: the windows one by one.
pub fn windows(ts: i64, size: i64, slide: i64) -> impl Iterator<Item = TimeWindow> {
    let first = ts - ts.rem_euclid(slide);
    std::iter::successors(Some(first), move |s| s.checked_sub(slide))
        .take_while(move |s| *s > ts - size)
        .map(move |start| TimeWindow {
            start,
            end: start + size,
        })
}
