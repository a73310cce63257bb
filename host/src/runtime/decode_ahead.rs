//! Decoding ahead: a source's JSON batches are decoded into columns on the
//! pool's workers while the source reads the next ones.
//!
//! Decoding is most of a source's work (arrow-json's tape and column
//! decoders: about three quarters of a file source's time). Done inline, it
//! made the source the bottleneck of a stateless job at parallelism 1 while
//! the other core idled. So the source reads a batch, hands its decode to
//! the pool — a task of the same job, charged to it and scheduled fairly
//! with everyone else's — and reads on:
//!
//! ```text
//! source task:  read 1 ─ read 2 ─ read 3 ─ finish 1, send ─ read 4 ─ finish 2, send …
//! pool worker:           decode 1 ───────── decode 3 ─────────
//! pool worker:                    decode 2 ───────── decode 4 …
//! ```
//!
//! At most [`DEPTH`] batches are in flight, and they are finished (dead
//! letters, event times, the watermark) and sent strictly in the order they
//! were read, so what a job computes is exactly what decoding inline
//! computes. Before a checkpoint barrier, at the end of the input and
//! whenever the source has nothing to read, everything in flight is
//! finished first: a checkpoint's source position and watermark cover
//! exactly the batches sent before its barrier, and a quiet source does not
//! sit on records. A small batch with nothing ahead of it (a trickle from
//! Kafka) is decoded inline: handing it over would only add latency.
//!
//! A batch in flight is charged to the job's memory budget twice its
//! size — its records, and the columns decoded from them (arrow-json's
//! columns of a JSON batch take at most about its text: numbers shrink,
//! text is copied once) — until it is sent, when the message carrying it
//! is charged instead.

use super::RunError;
use super::pool::{JobAccount, JoinHandle, Panicked, Pool};
use super::side::SideOutputs;
use super::source_columns::{Begun, ColumnDecoder, Decoded, DecodedBatch};
use crate::budget::{Budgets, Held};
use crate::connector::{Source, SourceBatch};
use std::collections::VecDeque;
use std::sync::Arc;

/// Most batches read but not yet sent.
pub const DEPTH: usize = 3;

/// A batch smaller than this, with nothing ahead of it, is decoded inline.
const INLINE_BELOW: usize = 256;

/// A batch on its way.
enum Flight {
    /// Raw records: nothing to decode.
    Ready(DecodedBatch),
    /// Decoded inline.
    Decoded(Box<Decoded>),
    /// Being decoded on the pool.
    Running(JoinHandle<Decoded>),
}

/// A source's decoder into columns, decoding ahead of what it sends.
pub(super) struct DecodeAhead {
    columns: ColumnDecoder,
    /// The job's account, for the decode tasks; `None` decodes inline.
    account: Option<Arc<JobAccount>>,
    /// Oldest first, each with its read time and epoch, and the memory it
    /// holds.
    flights: VecDeque<(Flight, i64, u64, Held)>,
    budgets: Arc<Budgets>,
    job: String,
}

impl DecodeAhead {
    /// Decode with `columns`, on the pool under `account` when the pool
    /// has more than one worker (with one, decoding ahead only reorders
    /// the same work on the same core).
    pub fn new(
        columns: ColumnDecoder,
        account: Option<Arc<JobAccount>>,
        budgets: &Arc<Budgets>,
        job: &str,
    ) -> Self {
        let account = account.filter(|_| Pool::global().workers() > 1);
        Self {
            columns,
            account,
            flights: VecDeque::new(),
            budgets: budgets.clone(),
            job: job.into(),
        }
    }

    /// Start decoding `batch`, read at `now` in `epoch`.
    pub fn push(&mut self, batch: SourceBatch, now: i64, epoch: u64) -> Result<(), RunError> {
        let held = Held::memory(&self.budgets, "batches being decoded", 2 * batch.bytes())?;
        let flight = match self.columns.begin(batch, now)? {
            Begun::Ready(d) => Flight::Ready(d),
            Begun::Json(d) => match &self.account {
                Some(account) if !(self.flights.is_empty() && d.len() < INLINE_BELOW) => {
                    Flight::Running(Pool::global().spawn(account, async move { d.run() }))
                }
                _ => Flight::Decoded(Box::new(d.run())),
            },
        };
        self.flights.push_back((flight, now, epoch, held));
        Ok(())
    }

    /// Whether the oldest batch should be finished and sent now: too many
    /// are in flight, or it is decoded already (sent as soon as it can be,
    /// so decoding ahead adds no latency of its own).
    pub fn due(&self) -> bool {
        self.flights.len() >= DEPTH
            || match self.flights.front() {
                Some((Flight::Running(handle), ..)) => handle.is_finished(),
                Some(_) => true,
                None => false,
            }
    }

    /// The oldest batch, finished, with the time it was read; `None` when
    /// nothing is in flight.
    pub async fn pop(
        &mut self,
        side: &SideOutputs,
        // `&mut`: a `&dyn Source` held across the wait would make the
        // source task's future not `Send` (sources are `Send`, not `Sync`).
        source: &mut dyn Source,
    ) -> Result<Option<(DecodedBatch, i64)>, RunError> {
        // `_held` is released when the batch has been finished.
        let Some((flight, now, epoch, _held)) = self.flights.pop_front() else {
            return Ok(None);
        };
        let decoded = match flight {
            Flight::Ready(b) => return Ok(Some((b, now))),
            Flight::Decoded(d) => *d,
            Flight::Running(handle) => {
                handle
                    .await
                    .map_err(|Panicked(message)| RunError::TaskPanicked {
                        job: self.job.clone(),
                        task: "decode".into(),
                        message,
                    })?
            }
        };
        let batch = self.columns.finish(decoded, now, epoch, side, &*source)?;
        Ok(Some((batch, now)))
    }
}
