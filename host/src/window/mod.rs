//! Windows over keyed streams, with Flink's DataStream semantics so results
//! can be checked against Flink's own:
//!
//! - a window `[start, end)` fires when the watermark reaches `end - 1`;
//! - a record is *late* when every window it belongs to has
//!   `end - 1 + allowed_lateness <= watermark`; late records go to the job's
//!   late output, never silently away;
//! - a record that is behind the watermark but within the allowed lateness
//!   updates its window, which fires again with the new result;
//! - session windows `[ts, ts + gap)` merge when they overlap or touch.
//!
//! One file per kind of window ([`tumbling`], [`sliding`], [`cumulate`],
//! [`session`], [`global`]);
//! the [`operator`] keeps per-key accumulators and fires them; [`slices`]
//! keeps sliding windows' built-in aggregates once per slide (the
//! operator's side of it is `sliced.rs`); [`aggregate`] computes built-in
//! aggregates natively or calls a Wasm aggregate function once per batch.

pub mod aggregate;
pub mod cumulate;
pub mod global;
pub mod operator;
mod results;
pub mod session;
mod sliced;
pub mod slices;
pub mod sliding;
pub mod snapshot;
mod store;
pub mod tumbling;

use std::cmp::Ordering;

/// Why a window operator failed: its aggregate function, or the state it
/// keeps its accumulators in.
#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    /// The Wasm aggregate function failed.
    #[error(transparent)]
    Wasm(#[from] crate::wasm::WasmError),
    /// The accumulators' state (or the job's budget for them) failed.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// Results could not be written as JSON lines.
    #[error("cannot write the window's results as JSON: {0}")]
    Encode(#[from] crate::batch::EncodeError),
    /// An aggregate's result columns do not make one batch with the
    /// window's own (`key`, `window_start`, `window_end`).
    #[error("the aggregate's result columns do not fit the window's: {0}")]
    ResultColumns(arrow_schema::ArrowError),
}

/// A window `[start, end)` in ms. Ordered by end, then start: the order in
/// which windows fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeWindow {
    /// Inclusive start.
    pub start: i64,
    /// Exclusive end.
    pub end: i64,
}

impl TimeWindow {
    /// The last timestamp inside the window; it fires when the watermark gets here.
    pub fn max_timestamp(&self) -> i64 {
        self.end - 1
    }
}

impl Ord for TimeWindow {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.end, self.start).cmp(&(other.end, other.start))
    }
}

impl PartialOrd for TimeWindow {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Which windows a record goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// Fixed, non-overlapping windows of `size` ms.
    Tumbling {
        /// Length.
        size: i64,
    },
    /// Windows of `size` ms starting every `slide` ms.
    Sliding {
        /// Length.
        size: i64,
        /// Hop.
        slide: i64,
    },
    /// Windows growing by `step` ms within each period of `size` ms (see
    /// [`cumulate`]).
    Cumulate {
        /// The period, and the longest window.
        size: i64,
        /// How much each window of a period is longer than the one before.
        step: i64,
    },
    /// Per-key activity sessions closed by `gap` ms of inactivity.
    Session {
        /// Inactivity gap.
        gap: i64,
    },
    /// One window per key over all time, which never fires: its results
    /// are updated after every batch that changes them (see [`global`]).
    Global {
        /// Forget a key not updated for this long (ms, in the window's
        /// time); `None`: keep every key.
        ttl: Option<i64>,
    },
}

/// Event time or processing time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeMode {
    /// Windows follow record timestamps and the watermark.
    Event,
    /// Windows follow the host's clock when records arrive.
    Processing,
}
