//! OVER aggregations: every row goes out once, with aggregates over the
//! rows of its key up to it in event time — Flink's
//!
//! ```sql
//! SELECT ts, `user`, amount,
//!        SUM(amount) OVER (PARTITION BY `user` ORDER BY ts
//!                          ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS last3
//! FROM tx
//! ```
//!
//! A row waits until the watermark passes its time; then the rows of each
//! key go out in time order (rows of one time in the order they came),
//! each with its frame's aggregates:
//!
//! - `ROWS BETWEEN n PRECEDING AND CURRENT ROW` ([`Frame::Rows`]): the row
//!   and the `n` rows before it;
//! - `RANGE BETWEEN INTERVAL … PRECEDING AND CURRENT ROW`
//!   ([`Frame::Range`]): every row whose time is at most that much before
//!   the row's — so rows of the same time (peers) share one result;
//! - `UNBOUNDED PRECEDING`: every row before it (`ROWS`), or before it and
//!   its peers (`RANGE`).
//!
//! Lateness follows Flink's operators: with an unbounded frame a row at or
//! behind the watermark when it comes is late; with a bounded frame, a row
//! at or behind the last time its key already went out. A late row goes to
//! the job's late output (Flink drops it).
//!
//! Ordered by processing time instead
//! ([`OverOperator::in_arrival_order`], Flink's `ORDER BY` a `PROCTIME()`),
//! a row takes the time its batch is read at and goes out at once, in the
//! order it came; nothing is late.
//!
//! The operator keeps, per key, what its frame needs — running
//! accumulators (unbounded), or the frame's rows' times and numbers
//! (bounded) — and the rows still waiting for the watermark, all on the
//! heap, charged to the job's memory budget. At a checkpoint both are
//! written ([`OverOperator::snapshot_into`]) and a restore keeps the keys
//! a subtask owns, so a job rescales.

mod frame;
mod operator;
#[cfg(test)]
mod tests;

pub use operator::OverOperator;

/// Which rows before a row its aggregates cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// The row and up to this many rows before it; `None`: all of them.
    Rows(Option<u64>),
    /// The rows at most this many ms before the row (and its peers);
    /// `None`: all of them.
    Range(Option<i64>),
}

impl Frame {
    /// It covers every row before (`UNBOUNDED PRECEDING`).
    pub fn unbounded(self) -> bool {
        matches!(self, Frame::Rows(None) | Frame::Range(None))
    }
}

/// A built-in aggregate over a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverFunc {
    /// Rows in the frame (no field), or the rows with a number in the
    /// field.
    Count,
    /// The sum of the field's numbers; NULL when the frame has none.
    Sum,
    /// The least; NULL when the frame has none.
    Min,
    /// The greatest; NULL when the frame has none.
    Max,
    /// The mean; NULL when the frame has none.
    Avg,
}

impl OverFunc {
    /// The function a job file names (`count`, `sum`, `min`, `max`, `avg`).
    pub fn named(name: &str) -> Option<OverFunc> {
        Some(match name {
            "count" => OverFunc::Count,
            "sum" => OverFunc::Sum,
            "min" => OverFunc::Min,
            "max" => OverFunc::Max,
            "avg" => OverFunc::Avg,
            _ => return None,
        })
    }
}

/// One aggregate of an OVER stage, and the column it adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverAggregate {
    /// What it computes.
    pub func: OverFunc,
    /// The numeric column it reads; `None`: `count` of rows.
    pub field: Option<String>,
    /// The column it adds to each row: BIGINT for `count`, DOUBLE else.
    pub output: String,
}

/// Why an OVER stage could not go on.
#[derive(Debug, thiserror::Error)]
pub enum OverError {
    /// Rows waiting for the watermark, or the frames, passed the job's
    /// memory budget.
    #[error(transparent)]
    OverBudget(#[from] crate::budget::OverBudget),
    /// Batches could not be put together or taken apart.
    #[error("OVER rows: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// The key column cannot be a key.
    #[error(transparent)]
    Key(#[from] crate::batch::SchemaError),
    /// Its input came as records, not typed columns.
    #[error(
        "an over aggregation reads typed columns, and its input came as records; read a source or a `sql` stage"
    )]
    NotColumns,
    /// A checkpoint's OVER state cannot be read or written.
    #[error("OVER state in the checkpoint: {0}")]
    State(String),
}
