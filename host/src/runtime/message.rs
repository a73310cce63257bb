//! What flows between tasks.

use crate::event::{Event, Timestamp};

/// A message on a channel between two tasks.
///
/// Every task sends exactly one message per input message on each of its
/// outputs (an empty batch when it has nothing), so the receiver can merge
/// its inputs back into the source's order: round-robin from a parallel
/// chain, in lockstep from a keyed stage. That is how results are the same
/// for any parallelism — including per-key order through a parallel chain,
/// which Flink's rebalance does not keep. Checkpoint barriers follow the
/// same discipline, which aligns them for free (see
/// [`crate::checkpoint::coordinator`]).
#[derive(Debug)]
pub enum Message {
    /// One step of the source: records, then the time after them.
    Batch {
        /// Records, in source order.
        records: Vec<Event>,
        /// The event-time watermark after these records.
        watermark: Timestamp,
        /// Processing time when the source read them.
        processing_time: i64,
    },
    /// Checkpoint `epoch`: everything before belongs to it, everything
    /// after to the next. The source sends it on every channel as one step.
    Barrier {
        /// The checkpoint.
        epoch: u64,
    },
    /// From here on, operator `swap.operator` is the new version (sent
    /// right behind a barrier; see [`super::swap`]).
    Swap(std::sync::Arc<super::swap::Swap>),
    /// The input is exhausted: fire everything, flush, stop.
    EndOfData,
}
