//! Event time: durations as users write them, and watermarks.

pub mod duration;
pub mod watermark;

pub use duration::{DurationError, parse_duration_ms};
pub use watermark::WatermarkTracker;

/// Processing time: the host's wall clock in ms since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
