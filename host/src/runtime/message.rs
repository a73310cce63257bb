//! What flows between tasks.

use crate::budget::{Budgets, Held, OverBudget};
use crate::event::{Event, Timestamp};
use std::sync::Arc;

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
        /// Records, in source order. With `columns`, either the same rows
        /// as events (the input's own bytes, kept for who needs them) or
        /// empty (the rows exist only as columns; the chain sends such
        /// batches only to a sink that does not write them).
        records: Vec<Event>,
        /// The rows as typed columns, when the job runs operators over
        /// columns (decoded once by the source).
        columns: Option<Columns>,
        /// The event-time watermark after these records.
        watermark: Timestamp,
        /// Processing time when the source read them.
        processing_time: i64,
        /// The host memory the records take, charged to the job's budget
        /// while the batch exists (see [`Message::batch`]).
        held: Held,
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

/// A batch's rows as typed columns, with their event times.
#[derive(Debug, Clone)]
pub struct Columns {
    /// The rows.
    pub batch: arrow_array::RecordBatch,
    /// Event time of each row.
    pub time: Vec<Timestamp>,
}

impl Columns {
    /// Rows.
    pub fn len(&self) -> usize {
        self.batch.num_rows()
    }
    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Bytes an event costs beyond its payload, key and headers: the struct
/// and its vectors' headers.
const EVENT_OVERHEAD: u64 = 96;

/// The host memory `records` take.
pub fn batch_bytes(records: &[Event]) -> u64 {
    records
        .iter()
        .map(|e| {
            EVENT_OVERHEAD
                + e.value.len() as u64
                + e.key.as_ref().map_or(0, |k| k.len() as u64)
                + e.headers
                    .iter()
                    .map(|(k, v)| (k.len() + v.len()) as u64 + 48)
                    .sum::<u64>()
        })
        .sum()
}

impl Message {
    /// A batch, its records charged to the job's host-memory budget as
    /// "batches in flight" until the message is dropped: a stage whose
    /// output piles up in channels fails its job, not the host.
    pub fn batch(
        budgets: &Arc<Budgets>,
        records: Vec<Event>,
        watermark: Timestamp,
        processing_time: i64,
    ) -> Result<Message, OverBudget> {
        Message::with_columns(budgets, records, None, watermark, processing_time)
    }

    /// A batch with its rows as columns too (see [`Message::Batch`]),
    /// both charged to the job's budget.
    pub fn with_columns(
        budgets: &Arc<Budgets>,
        records: Vec<Event>,
        columns: Option<Columns>,
        watermark: Timestamp,
        processing_time: i64,
    ) -> Result<Message, OverBudget> {
        let bytes = batch_bytes(&records)
            + columns.as_ref().map_or(0, |c| {
                c.batch.get_array_memory_size() as u64 + 8 * c.time.len() as u64
            });
        let held = Held::memory(budgets, "batches in flight", bytes)?;
        Ok(Message::Batch {
            records,
            columns,
            watermark,
            processing_time,
            held,
        })
    }
}
