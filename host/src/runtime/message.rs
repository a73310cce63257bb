//! What flows between tasks.

use crate::event::{Event, Timestamp};

/// A message on a channel between two tasks.
///
/// Every task sends exactly one message per input message on each of its
/// outputs (an empty batch when it has nothing), so the receiver can merge
/// its inputs back into the source's order: round-robin from a parallel
/// chain, in lockstep from a keyed stage. That is how results are the same
/// for any parallelism — including per-key order through a parallel chain,
/// which Flink's rebalance does not keep. Checkpoint barriers (next version)
/// join this enum as a variant, aligned by the same discipline.
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
    /// The input is exhausted: fire everything, flush, stop.
    EndOfData,
}
