//! The one loop every subtask of a graph stage runs: read a step (from
//! its inputs in step, or from one group of them: see [`super::align`]),
//! hand it to the operator, send one step on every output.

use super::align::{Aligner, Read};
use super::edges::Outputs;
use super::operator::{Cx, Operator};
use crate::checkpoint::Coordinator;
use crate::event::MAX_WATERMARK;
use crate::plan::Plan;
use crate::runtime::metrics::StageMetrics;
use crate::runtime::side::SideOutputs;
use crate::runtime::{Message, RunError};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

/// A subtask of a stage, with its channels.
pub(super) struct StageTask<'a> {
    pub plan: &'a Plan,
    /// The stage's name (its checkpoint directories are `<name>-<subtask>`).
    pub stage: &'a str,
    pub subtask: usize,
    pub op: Box<dyn Operator>,
    pub inputs: Aligner,
    pub outputs: Outputs,
    pub side: &'a SideOutputs,
    pub coordinator: Option<&'a Coordinator>,
    /// The epoch of the first records (see `graph::Env::first_epoch`).
    pub first_epoch: u64,
    /// The stage's counters (none for a source's fan).
    pub metrics: Option<Arc<StageMetrics>>,
}

/// Run a subtask until the end of input, or until it or a neighbour fails.
pub(super) async fn run(t: StageTask<'_>) -> Result<(), RunError> {
    let StageTask {
        plan,
        stage,
        subtask,
        mut op,
        mut inputs,
        outputs,
        side,
        coordinator,
        first_epoch,
        metrics,
    } = t;
    let mut epoch = first_epoch;
    let mut last_swap = None;
    loop {
        let mut cx = Cx {
            plan,
            stage,
            epoch,
            watermark: MAX_WATERMARK,
            processing_time: i64::MIN,
            side,
            out: Default::default(),
        };
        let waited = Instant::now();
        let read = inputs.next().await?;
        let started = Instant::now();
        if let Some(m) = &metrics {
            StageMetrics::add(&m.idle_ns, started - waited);
        }
        match read {
            Read::End => {
                let now = crate::time::now_ms();
                cx.processing_time = now;
                op.on_end(&mut cx)?;
                outputs
                    .batch(cx.out, MAX_WATERMARK, now, side, epoch)
                    .await?;
                outputs.end().await;
                return Ok(());
            }
            Read::Control(Message::Barrier { epoch: e }) => {
                if let (Some(m), Some(d)) = (&metrics, inputs.take_alignment()) {
                    StageMetrics::add(&m.alignment_ns, d);
                    m.barriers.fetch_add(1, Relaxed);
                }
                if e >= epoch {
                    if let Some(c) = coordinator {
                        let task = format!("{stage}-{subtask}");
                        op.on_barrier(&c.task_dir(e, &task))
                            .inspect_err(|err| c.fail(e, &task, err))?;
                    }
                    epoch = e + 1;
                }
                outputs.control(|| Message::Barrier { epoch: e }).await?;
                continue;
            }
            Read::Control(Message::Swap(swap)) => {
                if last_swap != Some(swap.id) {
                    last_swap = Some(swap.id);
                    op.on_swap(plan, subtask, &swap)?;
                }
                outputs.control(|| Message::Swap(swap.clone())).await?;
                continue;
            }
            Read::Control(_) => {
                return Err(RunError::OutOfStep {
                    job: plan.job.spec.name.clone(),
                    stage: stage.to_string(),
                });
            }
            Read::Batch {
                parts,
                watermark,
                processing_time,
            } => {
                cx.watermark = watermark;
                cx.processing_time = if processing_time == i64::MIN {
                    crate::time::now_ms()
                } else {
                    processing_time
                };
                for (i, batch) in parts {
                    if !batch.is_empty() {
                        if let Some(m) = &metrics {
                            m.records_in.fetch_add(batch.len() as u64, Relaxed);
                        }
                        op.process_batch(i, batch, &mut cx)?;
                    }
                }
            }
        }
        op.on_watermark(&mut cx)?;
        let (watermark, processing_time) = (cx.watermark, cx.processing_time);
        let sending = Instant::now();
        if let Some(m) = &metrics {
            m.records_out.fetch_add(cx.out.len() as u64, Relaxed);
            m.set_watermark(subtask, watermark);
            StageMetrics::add(&m.busy_ns, sending - started);
        }
        outputs
            .batch(cx.out, watermark, processing_time, side, epoch)
            .await?;
        if let Some(m) = &metrics {
            StageMetrics::add(&m.backpressure_ns, sending.elapsed());
        }
        // Offer the worker back between steps: the pool picks who runs next.
        crate::runtime::pool::yield_if_long().await;
    }
}
