//! The sink task: merges the last stage's subtasks in source order, writes,
//! and completes checkpoints.
//!
//! The sink is the last task every barrier reaches, so it is where a
//! checkpoint completes: when barrier `e` has arrived (from every input, in
//! lockstep), it pre-commits the outputs (stages epoch `e`'s records
//! durably), has the coordinator commit the checkpoint, then publishes.
//! Those steps block (an fsync, a Kafka transaction's commit: a network
//! round trip to the broker), so they run on the pool's blocking threads,
//! and the sink's worker goes on with other tasks meanwhile.

use super::side::SideOutputs;
use super::{Message, Metrics, RunError, Rx, recv};
use crate::checkpoint::Coordinator;
use crate::connector::Sink;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// How the sink's inputs are interleaved.
pub(super) enum Order {
    /// Chain subtasks took turns: read them in turn.
    RoundRobin,
    /// Keyed subtasks all see every step: read step t from each, in order.
    Lockstep,
}

struct Writer<'a> {
    /// Taken for a moment by each commit.
    sink: Option<Sink>,
    side: Arc<SideOutputs>,
    metrics: &'a Metrics,
    coordinator: Option<Arc<Coordinator>>,
    /// The epoch the records being written belong to.
    epoch: u64,
}

impl Writer<'_> {
    fn sink(&mut self) -> &mut Sink {
        self.sink.as_mut().expect("put back after every commit")
    }

    /// Write a batch's records; rows that come only as columns (to a
    /// discard sink, see `graph::chain`) are counted.
    fn write(
        &mut self,
        records: Vec<crate::Event>,
        columns: Option<super::message::Columns>,
    ) -> Result<(), RunError> {
        let epoch = self.epoch;
        let sink = self.sink();
        for r in &records {
            sink.write_event(epoch, r)?;
        }
        let rows = match columns {
            Some(c) if records.is_empty() => c.len(),
            _ => records.len(),
        };
        self.metrics
            .records_out
            .fetch_add(rows as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Barrier `epoch` arrived from every input: complete the checkpoint.
    /// (Later copies of the same barrier are ignored.)
    async fn barrier(&mut self, epoch: u64) -> Result<(), RunError> {
        if epoch < self.epoch {
            return Ok(());
        }
        self.commit(epoch, false).await?;
        self.epoch = epoch + 1;
        Ok(())
    }

    /// Complete checkpoint `epoch` (and flush the sink, at the end) on a
    /// blocking thread.
    async fn commit(&mut self, epoch: u64, last: bool) -> Result<(), RunError> {
        let Some(c) = self.coordinator.clone() else {
            return if last {
                Ok(self.sink().flush()?)
            } else {
                Ok(())
            };
        };
        let mut sink = self.sink.take().expect("put back after every commit");
        let side = self.side.clone();
        let (sink, done) = super::pool::Pool::global()
            .blocking(move || {
                let done = commit(&mut sink, &side, &c, epoch)
                    .and_then(|()| if last { Ok(sink.flush()?) } else { Ok(()) });
                (sink, done)
            })
            .await;
        self.sink = Some(sink);
        done?;
        self.metrics.checkpoints.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// End of input: the final checkpoint commits the rest.
    async fn finish(&mut self) -> Result<(), RunError> {
        self.commit(self.epoch, true).await
    }
}

/// The two phases of checkpoint `epoch` at the sink: stage the outputs,
/// have the coordinator record the checkpoint, publish.
fn commit(
    sink: &mut Sink,
    side: &SideOutputs,
    c: &Coordinator,
    epoch: u64,
) -> Result<(), RunError> {
    let mut positions = BTreeMap::new();
    if let Some(p) = sink.pre_commit(epoch)? {
        positions.insert("sink".to_string(), p);
    }
    side.pre_commit(epoch, &mut positions)?;
    c.complete(epoch, positions)?;
    crate::fault::point("after-checkpoint-before-commit");
    sink.publish(epoch)?;
    side.publish(epoch)
}

/// Everything the sink task is started with.
pub(super) struct SinkTask<'a> {
    pub sink: Sink,
    pub order: Order,
    pub side: Arc<SideOutputs>,
    pub metrics: &'a Metrics,
    pub coordinator: Option<Arc<Coordinator>>,
    /// The epoch of the first records (see `graph::Env::first_epoch`).
    pub first_epoch: u64,
}

pub(super) async fn run(t: SinkTask<'_>, mut inputs: Vec<Rx>) -> Result<(), RunError> {
    let mut w = Writer {
        sink: Some(t.sink),
        side: t.side,
        metrics: t.metrics,
        epoch: t.first_epoch,
        coordinator: t.coordinator,
    };
    match t.order {
        Order::RoundRobin => {
            let n = inputs.len();
            for step in 0.. {
                match recv(&mut inputs[step % n]).await? {
                    Message::Batch {
                        records, columns, ..
                    } => w.write(records, columns)?,
                    Message::Barrier { epoch } => w.barrier(epoch).await?,
                    Message::Swap(_) => {}
                    Message::EndOfData => break,
                }
                super::pool::yield_if_long().await;
            }
        }
        Order::Lockstep => 'steps: loop {
            let mut barrier = None;
            for rx in inputs.iter_mut() {
                match recv(rx).await? {
                    Message::Batch {
                        records, columns, ..
                    } => w.write(records, columns)?,
                    Message::Barrier { epoch } => barrier = Some(epoch),
                    Message::Swap(_) => {}
                    Message::EndOfData => break 'steps,
                }
            }
            if let Some(epoch) = barrier {
                w.barrier(epoch).await?;
            }
            super::pool::yield_if_long().await;
        },
    }
    w.finish().await
}
