//! The sink task: merges the last stage's subtasks in source order, writes,
//! and completes checkpoints.
//!
//! The sink is the last task every barrier reaches, so it is where a
//! checkpoint completes: when barrier `e` has arrived (from every input, in
//! lockstep), it pre-commits the outputs (stages epoch `e`'s records
//! durably), has the coordinator commit the checkpoint, then publishes.

use super::side::SideOutputs;
use super::{Message, Metrics, RunError, Rx, recv};
use crate::checkpoint::Coordinator;
use crate::connector::Sink;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

/// How the sink's inputs are interleaved.
pub(super) enum Order {
    /// Chain subtasks took turns: read them in turn.
    RoundRobin,
    /// Keyed subtasks all see every step: read step t from each, in order.
    Lockstep,
}

struct Writer<'a> {
    sink: Sink,
    side: &'a SideOutputs,
    metrics: &'a Metrics,
    coordinator: Option<&'a Coordinator>,
    /// The epoch the records being written belong to.
    epoch: u64,
}

impl Writer<'_> {
    /// Write a batch's records; rows that come only as columns (to a
    /// discard sink, see `graph::chain`) are counted.
    fn write(
        &mut self,
        records: Vec<crate::Event>,
        columns: Option<super::message::Columns>,
    ) -> Result<(), RunError> {
        for r in &records {
            self.sink.write_event(self.epoch, r)?;
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
    fn barrier(&mut self, epoch: u64) -> Result<(), RunError> {
        if epoch < self.epoch {
            return Ok(());
        }
        self.commit(epoch)?;
        self.epoch = epoch + 1;
        Ok(())
    }

    fn commit(&mut self, epoch: u64) -> Result<(), RunError> {
        let Some(c) = self.coordinator else {
            return Ok(());
        };
        let mut positions = BTreeMap::new();
        if let Some(p) = self.sink.pre_commit(epoch)? {
            positions.insert("sink".to_string(), p);
        }
        self.side.pre_commit(epoch, &mut positions)?;
        c.complete(epoch, positions)?;
        crate::fault::point("after-checkpoint-before-commit");
        self.metrics.checkpoints.fetch_add(1, Ordering::Relaxed);
        self.sink.publish(epoch)?;
        self.side.publish(epoch)
    }

    /// End of input: the final checkpoint commits the rest.
    fn finish(&mut self) -> Result<(), RunError> {
        let epoch = self.epoch;
        self.commit(epoch)?;
        self.sink.flush()?;
        Ok(())
    }
}

/// Everything the sink task is started with.
pub(super) struct SinkTask<'a> {
    pub sink: Sink,
    pub order: Order,
    pub side: &'a SideOutputs,
    pub metrics: &'a Metrics,
    pub coordinator: Option<&'a Coordinator>,
    /// The epoch of the first records (see `graph::Env::first_epoch`).
    pub first_epoch: u64,
}

pub(super) async fn run(t: SinkTask<'_>, mut inputs: Vec<Rx>) -> Result<(), RunError> {
    let mut w = Writer {
        sink: t.sink,
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
                    Message::Barrier { epoch } => w.barrier(epoch)?,
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
                w.barrier(epoch)?;
            }
            super::pool::yield_if_long().await;
        },
    }
    w.finish()
}
