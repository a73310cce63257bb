//! Bounded-out-of-orderness watermarks with idle-input detection.
//!
//! Follows Flink's `BoundedOutOfOrdernessWatermarks`: the watermark of an
//! input is the highest timestamp seen minus the allowed out-of-orderness
//! minus 1 ms, so a window `[start, end)` fires once a record with timestamp
//! `end + out_of_orderness` has been seen. A source with several inputs
//! (partitions) emits the minimum over its inputs; an input that has produced
//! nothing for `idle_timeout` is left out of that minimum (it would otherwise
//! hold event time back forever), and rejoins when it produces again.

use crate::event::{MIN_WATERMARK, Timestamp};

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Input {
    max_ts: Option<Timestamp>,
    last_active_ms: i64,
    idle: bool,
}

/// Tracks the watermark of a source over its inputs.
///
/// ```
/// use weir::time::WatermarkTracker;
/// let mut wm = WatermarkTracker::new(1, 5_000, None);
/// wm.observe(0, 10_000, 0);
/// assert_eq!(wm.current(0), 10_000 - 5_000 - 1);
/// wm.observe(0, 8_000, 0); // out of order: the watermark never goes back
/// assert_eq!(wm.current(0), 4_999);
/// ```
///
/// It is part of a source's checkpoint, so a restored job's watermarks
/// continue exactly where they were.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct WatermarkTracker {
    inputs: Vec<Input>,
    out_of_orderness: i64,
    idle_timeout_ms: Option<i64>,
    emitted: Timestamp,
}

impl WatermarkTracker {
    /// A tracker over `inputs` inputs.
    pub fn new(inputs: usize, out_of_orderness_ms: i64, idle_timeout_ms: Option<i64>) -> Self {
        Self {
            inputs: vec![
                Input {
                    max_ts: None,
                    last_active_ms: 0,
                    idle: false,
                };
                inputs.max(1)
            ],
            out_of_orderness: out_of_orderness_ms,
            idle_timeout_ms,
            emitted: MIN_WATERMARK,
        }
    }

    /// Grow to `n` inputs (a Kafka topic got partitions since the
    /// checkpoint this tracker was saved in). A new input holds the
    /// watermark back until it produces or goes idle, like any input.
    pub fn ensure_inputs(&mut self, n: usize) {
        while self.inputs.len() < n {
            self.inputs.push(Input {
                max_ts: None,
                last_active_ms: 0,
                idle: false,
            });
        }
    }

    /// Record a timestamp seen on `input` at processing time `now_ms`.
    pub fn observe(&mut self, input: usize, ts: Timestamp, now_ms: i64) {
        let i = &mut self.inputs[input];
        i.max_ts = Some(i.max_ts.map_or(ts, |m| m.max(ts)));
        i.last_active_ms = now_ms;
        i.idle = false;
    }

    /// Mark inputs idle that have been quiet for longer than the timeout.
    fn update_idleness(&mut self, now_ms: i64) {
        if let Some(timeout) = self.idle_timeout_ms {
            for i in &mut self.inputs {
                if now_ms - i.last_active_ms >= timeout {
                    i.idle = true;
                }
            }
        }
    }

    /// The watermark at processing time `now_ms`; never decreases.
    pub fn current(&mut self, now_ms: i64) -> Timestamp {
        self.update_idleness(now_ms);
        let mut active = self.inputs.iter().filter(|i| !i.idle).peekable();
        if active.peek().is_none() {
            // All inputs idle: hold the watermark where it is.
            return self.emitted;
        }
        let min = active
            .map(|i| match i.max_ts {
                Some(ts) => ts.saturating_sub(self.out_of_orderness).saturating_sub(1),
                None => MIN_WATERMARK,
            })
            .min()
            .unwrap_or(MIN_WATERMARK);
        self.emitted = self.emitted.max(min);
        self.emitted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_over_inputs_and_idle_inputs_are_skipped() {
        let mut wm = WatermarkTracker::new(2, 0, Some(1_000));
        wm.observe(0, 5_000, 0);
        // Input 1 has seen nothing: it holds the watermark back.
        assert_eq!(wm.current(10), MIN_WATERMARK);
        wm.observe(1, 3_000, 10);
        assert_eq!(wm.current(20), 2_999);
        // Input 1 goes quiet; after the idle timeout only input 0 counts.
        wm.observe(0, 9_000, 1_500);
        assert_eq!(wm.current(1_500), 8_999);
        // It comes back with older data: the watermark does not go back.
        wm.observe(1, 4_000, 1_600);
        assert_eq!(wm.current(1_600), 8_999);
    }

    #[test]
    fn a_partition_added_after_a_checkpoint_holds_the_watermark_until_it_produces() {
        let mut wm = WatermarkTracker::new(1, 0, None);
        wm.observe(0, 5_000, 0);
        assert_eq!(wm.current(0), 4_999);
        wm.ensure_inputs(2);
        wm.observe(0, 6_000, 0);
        assert_eq!(wm.current(0), 4_999, "the new input has seen nothing yet");
        wm.observe(1, 7_000, 0);
        assert_eq!(wm.current(0), 5_999);
    }

    #[test]
    fn no_idle_timeout_means_never_idle() {
        let mut wm = WatermarkTracker::new(2, 0, None);
        wm.observe(0, 5_000, 0);
        assert_eq!(wm.current(1_000_000), MIN_WATERMARK);
    }
}
