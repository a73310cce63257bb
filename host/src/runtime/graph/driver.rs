//! The one loop every subtask of a graph stage runs: read a step from
//! each input, hand it to the operator, send one step on every output.

use super::edges::{Input, Outputs, Step};
use super::operator::{Batch, Cx, Operator};
use crate::checkpoint::Coordinator;
use crate::event::MAX_WATERMARK;
use crate::plan::Plan;
use crate::runtime::side::SideOutputs;
use crate::runtime::{Message, RunError};

/// A subtask of a stage, with its channels.
pub(super) struct StageTask<'a> {
    pub plan: &'a Plan,
    /// The stage's name (its checkpoint directories are `<name>-<subtask>`).
    pub stage: &'a str,
    pub subtask: usize,
    pub op: Box<dyn Operator>,
    pub inputs: Vec<Input>,
    pub outputs: Outputs,
    pub side: &'a SideOutputs,
    pub coordinator: Option<&'a Coordinator>,
    /// The epoch of the first records (see `graph::Env::first_epoch`).
    pub first_epoch: u64,
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
    } = t;
    let mut epoch = first_epoch;
    let mut last_swap = None;
    // Inputs that reached their end. Every stage flushes what it holds as
    // one more batch before its end, so an input through more stages ends
    // a step later: inputs end one by one (nothing but batches can follow
    // an end: the last barrier comes before it).
    let mut ended = vec![false; inputs.len()];
    loop {
        let mut steps = Vec::with_capacity(inputs.len());
        for (input, done) in inputs.iter_mut().zip(&ended) {
            let at = super::edges::At {
                job: &plan.job.spec.name,
                stage,
            };
            steps.push(if *done {
                None
            } else {
                Some(input.next(at).await?)
            });
        }
        let mut cx = Cx {
            plan,
            epoch,
            watermark: MAX_WATERMARK,
            processing_time: i64::MIN,
            side,
            out: Vec::new(),
            columns: None,
        };
        let out_of_step = || RunError::OutOfStep {
            job: plan.job.spec.name.clone(),
            stage: stage.to_string(),
        };
        for (step, done) in steps.iter_mut().zip(ended.iter_mut()) {
            if matches!(step, Some(Step::Control(Message::EndOfData))) {
                *done = true;
                *step = None;
            }
        }
        let live = steps.iter().filter(|s| s.is_some()).count();
        if live == 0 {
            let now = crate::time::now_ms();
            cx.processing_time = now;
            op.on_end(&mut cx)?;
            outputs
                .batch(cx.out, cx.columns, MAX_WATERMARK, now, side, epoch)
                .await?;
            outputs.end().await;
            return Ok(());
        }
        let controls = steps
            .iter()
            .filter(|s| matches!(s, Some(Step::Control(_))))
            .count();
        if controls > 0 {
            if controls != inputs.len() {
                return Err(out_of_step());
            }
            let Some(Some(Step::Control(m))) = steps.into_iter().next() else {
                return Err(out_of_step());
            };
            match m {
                Message::Barrier { epoch: e } => {
                    if e >= epoch {
                        if let Some(c) = coordinator {
                            op.on_barrier(&c.task_dir(e, &format!("{stage}-{subtask}")))?;
                        }
                        epoch = e + 1;
                    }
                    outputs.control(|| Message::Barrier { epoch: e }).await?;
                }
                Message::Swap(swap) => {
                    if last_swap != Some(swap.id) {
                        last_swap = Some(swap.id);
                        op.on_swap(plan, subtask, &swap)?;
                    }
                    outputs.control(|| Message::Swap(swap.clone())).await?;
                }
                Message::EndOfData => unreachable!("taken out above"),
                Message::Batch { .. } => unreachable!("a batch is not a control step"),
            }
            continue;
        }
        let mut batches = Vec::with_capacity(steps.len());
        for step in steps {
            match step {
                Some(Step::Batch {
                    records,
                    columns,
                    watermark,
                    processing_time,
                }) => {
                    cx.watermark = cx.watermark.min(watermark);
                    cx.processing_time = cx.processing_time.max(processing_time);
                    batches.push(Batch { records, columns });
                }
                // An input that ended: its records are all in.
                None => batches.push(Batch {
                    records: Vec::new(),
                    columns: None,
                }),
                Some(Step::Control(_)) => return Err(out_of_step()),
            }
        }
        if cx.processing_time == i64::MIN {
            cx.processing_time = crate::time::now_ms();
        }
        for (i, batch) in batches.into_iter().enumerate() {
            let empty =
                batch.records.is_empty() && batch.columns.as_ref().is_none_or(|c| c.is_empty());
            if !empty {
                op.process_batch(i, batch, &mut cx)?;
            }
        }
        op.on_watermark(&mut cx)?;
        let (watermark, processing_time) = (cx.watermark, cx.processing_time);
        outputs
            .batch(cx.out, cx.columns, watermark, processing_time, side, epoch)
            .await?;
        // Offer the worker back between steps: the pool picks who runs next.
        crate::runtime::pool::yield_if_long().await;
    }
}
