//! The sink task: reads the stages the job's sinks write, step by step,
//! writes, and completes checkpoints.
//!
//! The sink task is the last task every barrier reaches, so it is where a
//! checkpoint completes: when barrier `e` has arrived (from every input,
//! aligned as every stage's inputs are: see `graph::align`), it pre-commits
//! the outputs (stages epoch `e`'s records durably), has the coordinator
//! commit the checkpoint, then publishes. Those steps block (an fsync, a
//! Kafka transaction's commit: a network round trip to the broker), so they
//! run on the pool's blocking threads, and the sink's worker goes on with
//! other tasks meanwhile.
//!
//! A job has one sink (`[sink]`) and, as a graph, any number of named ones
//! (`[[sinks]]`), each writing one stage; they all commit together, at the
//! same barriers.

use super::graph::{Aligner, Read};
use super::side::SideOutputs;
use super::{Message, Metrics, RunError};
use crate::checkpoint::Coordinator;
use crate::connector::Sink;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// One sink: the key of its position in a checkpoint (`sink`,
/// `sinks.<name>`), and the sink.
pub(super) type Named = (String, Sink);

struct Writer<'a> {
    /// The job (for errors).
    job: String,
    /// Taken for a moment by each commit.
    sinks: Option<Vec<Named>>,
    side: Arc<SideOutputs>,
    metrics: &'a Metrics,
    coordinator: Option<Arc<Coordinator>>,
    /// The epoch the records being written belong to.
    epoch: u64,
}

impl Writer<'_> {
    fn sinks(&mut self) -> &mut Vec<Named> {
        self.sinks.as_mut().expect("put back after every commit")
    }

    /// Write a batch's rows to sink `k`: rows that come only as columns
    /// are written as JSON lines, or only counted by a discard sink.
    fn write(&mut self, k: usize, batch: super::graph::Batch) -> Result<(), RunError> {
        let epoch = self.epoch;
        let rows = batch.len();
        let (name, sink) = &mut self.sinks.as_mut().expect("put back after every commit")[k];
        if !sink.discards() {
            let at = super::graph::At {
                job: &self.job,
                stage: name,
            };
            for r in &batch.into_events(at)? {
                sink.write_event(epoch, r)?;
            }
        }
        self.metrics
            .records_out
            .fetch_add(rows as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Barrier `epoch` arrived from every input: complete the checkpoint.
    async fn barrier(&mut self, epoch: u64) -> Result<(), RunError> {
        if epoch < self.epoch {
            return Ok(());
        }
        self.commit(epoch, false).await?;
        self.epoch = epoch + 1;
        Ok(())
    }

    /// Complete checkpoint `epoch` (and flush the sinks, at the end) on a
    /// blocking thread.
    async fn commit(&mut self, epoch: u64, last: bool) -> Result<(), RunError> {
        let Some(c) = self.coordinator.clone() else {
            if last {
                for (_, sink) in self.sinks() {
                    sink.flush()?;
                }
            }
            return Ok(());
        };
        let mut sinks = self.sinks.take().expect("put back after every commit");
        let side = self.side.clone();
        let (sinks, done) = super::pool::Pool::global()
            .blocking(move || {
                let done = commit(&mut sinks, &side, &c, epoch).and_then(|()| {
                    if last {
                        for (_, sink) in sinks.iter_mut() {
                            sink.flush()?;
                        }
                    }
                    Ok(())
                });
                (sinks, done)
            })
            .await;
        self.sinks = Some(sinks);
        done?;
        self.metrics.checkpoints.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// End of input: the final checkpoint commits the rest.
    async fn finish(&mut self) -> Result<(), RunError> {
        self.commit(self.epoch, true).await
    }
}

/// The two phases of checkpoint `epoch` at the sinks: stage the outputs,
/// have the coordinator record the checkpoint, publish.
fn commit(
    sinks: &mut [Named],
    side: &SideOutputs,
    c: &Coordinator,
    epoch: u64,
) -> Result<(), RunError> {
    let mut positions = BTreeMap::new();
    let staged = (|| {
        for (key, sink) in sinks.iter_mut() {
            if let Some(p) = sink.pre_commit(epoch)? {
                positions.insert(key.clone(), p);
            }
        }
        side.pre_commit(epoch, &mut positions)
    })();
    staged.inspect_err(|e| c.fail(epoch, "sinks", e))?;
    c.complete(epoch, positions)?;
    crate::fault::point("after-checkpoint-before-commit");
    for (_, sink) in sinks.iter_mut() {
        sink.publish(epoch)?;
    }
    side.publish(epoch)
}

/// Everything the sink task is started with.
pub(super) struct SinkTask<'a> {
    /// The job (for errors).
    pub job: String,
    /// `[sink]` first, then the named sinks, in the order of the inputs.
    pub sinks: Vec<Named>,
    pub side: Arc<SideOutputs>,
    pub metrics: &'a Metrics,
    pub coordinator: Option<Arc<Coordinator>>,
    /// The epoch of the first records (see `graph::Env::first_epoch`).
    pub first_epoch: u64,
}

/// Write what `inputs` (input `k` for sink `k`) bring until all have
/// ended.
pub(super) async fn run(t: SinkTask<'_>, mut inputs: Aligner) -> Result<(), RunError> {
    let mut w = Writer {
        job: t.job,
        sinks: Some(t.sinks),
        side: t.side,
        metrics: t.metrics,
        epoch: t.first_epoch,
        coordinator: t.coordinator,
    };
    loop {
        match inputs.next().await? {
            Read::End => break,
            Read::Control(Message::Barrier { epoch }) => w.barrier(epoch).await?,
            Read::Control(_) => {}
            Read::Batch {
                parts,
                processing_time,
                ..
            } => {
                let since = (processing_time > i64::MIN)
                    .then(|| crate::time::now_ms().saturating_sub(processing_time).max(0) as u64);
                for (k, batch) in parts {
                    if let Some(ms) = since {
                        let rows = batch.len() as u64;
                        w.metrics
                            .latency
                            .record(std::time::Duration::from_millis(ms), rows);
                    }
                    w.write(k, batch)?;
                }
                super::pool::yield_if_long().await;
            }
        }
    }
    w.finish().await
}
