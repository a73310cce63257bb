//! Tumbling windows: fixed length, no overlap, aligned to the epoch.

use super::TimeWindow;

/// The window of `size` ms containing `ts` (Flink's
/// `TimeWindow.getWindowStartWithOffset` with offset 0; correct for
/// negative timestamps too).
///
/// ```
/// use weir::window::{TimeWindow, tumbling::assign};
/// assert_eq!(assign(12_345, 10_000), TimeWindow { start: 10_000, end: 20_000 });
/// assert_eq!(assign(-1, 10_000), TimeWindow { start: -10_000, end: 0 });
/// ```
pub fn assign(ts: i64, size: i64) -> TimeWindow {
    let start = ts - ts.rem_euclid(size);
    TimeWindow {
        start,
        end: start + size,
    }
}
