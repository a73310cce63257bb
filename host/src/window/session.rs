//! Session windows: each record opens `[ts, ts + gap)`; windows of one key
//! that overlap or touch merge into one session.

use super::TimeWindow;

/// Do two windows overlap or touch (Flink's `TimeWindow.intersects`)?
pub fn intersects(a: &TimeWindow, b: &TimeWindow) -> bool {
    a.start <= b.end && a.end >= b.start
}

/// The smallest window covering both.
pub fn cover(a: &TimeWindow, b: &TimeWindow) -> TimeWindow {
    TimeWindow {
        start: a.start.min(b.start),
        end: a.end.max(b.end),
    }
}

/// Indexes of the sessions a new window absorbs: inline, as a record
/// absorbs one or two at most but for a window that bridges many.
pub type Absorbed = smallvec::SmallVec<[usize; 4]>;

/// Add `new` to a key's sessions: returns the resulting session and the
/// indexes of the existing sessions that merge into it (ascending).
///
/// ```
/// use weir::window::{TimeWindow, session::merge_into};
/// let w = |s, e| TimeWindow { start: s, end: e };
/// let sessions = vec![w(0, 10), w(20, 30), w(50, 60)];
/// let (merged, absorbed) = merge_into(&sessions, w(10, 20));
/// assert_eq!(merged, w(0, 30));
/// assert_eq!(absorbed.as_slice(), &[0, 1]);
/// ```
pub fn merge_into(sessions: &[TimeWindow], new: TimeWindow) -> (TimeWindow, Absorbed) {
    let mut merged = new;
    let mut absorbed = Absorbed::new();
    // Merging can chain (a new window bridging two sessions), so repeat
    // until nothing more joins.
    loop {
        let before = absorbed.len();
        for (i, s) in sessions.iter().enumerate() {
            if !absorbed.contains(&i) && intersects(s, &merged) {
                merged = cover(s, &merged);
                absorbed.push(i);
            }
        }
        if absorbed.len() == before {
            break;
        }
    }
    absorbed.sort_unstable();
    (merged, absorbed)
}
