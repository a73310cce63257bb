//! The one loop every subtask of a graph stage runs: read a step from
//! each input, hand it to the operator, send one step on every output.

use super::edges::{Input, Outputs, Step};
use super::operator::{Cx, Operator};
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
    /// The epoch of the first records (see `KeyedTask::first_epoch`).
    pub first_epoch: u64,
}

/// Run a subtask until the end of input, or until it or a neighbour fails.
pub(super) fn run(t: StageTask) -> Result<(), RunError> {
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
    loop {
        let mut steps = Vec::with_capacity(inputs.len());
        for input in &mut inputs {
            steps.push(input.next()?);
        }
        let mut cx = Cx {
            epoch,
            side,
            out: Vec::new(),
        };
        let controls = steps
            .iter()
            .filter(|s| matches!(s, Step::Control(_)))
            .count();
        if controls > 0 {
            let (Some(Step::Control(m)), true) =
                (steps.into_iter().next(), controls == inputs.len())
            else {
                return Err(RunError::OutOfStep {
                    job: plan.job.spec.name.clone(),
                    stage: stage.to_string(),
                });
            };
            match m {
                Message::Barrier { epoch: e } => {
                    if e >= epoch {
                        if let Some(c) = coordinator {
                            op.on_barrier(&c.task_dir(e, &format!("{stage}-{subtask}")))?;
                        }
                        epoch = e + 1;
                    }
                    outputs.control(|| Message::Barrier { epoch: e })?;
                }
                Message::Swap(swap) => {
                    if last_swap != Some(swap.id) {
                        last_swap = Some(swap.id);
                        op.on_swap(plan, subtask, &swap)?;
                    }
                    outputs.control(|| Message::Swap(swap.clone()))?;
                }
                Message::EndOfData => {
                    let now = crate::time::now_ms();
                    op.on_end(now, &mut cx)?;
                    outputs.batch(cx.out, MAX_WATERMARK, now, side, epoch)?;
                    outputs.end();
                    return Ok(());
                }
                Message::Batch { .. } => unreachable!("a batch is not a control step"),
            }
            continue;
        }
        let (mut watermark, mut processing_time) = (i64::MAX, i64::MIN);
        for (i, step) in steps.into_iter().enumerate() {
            let Step::Batch {
                records,
                watermark: w,
                processing_time: p,
            } = step
            else {
                return Err(RunError::OutOfStep {
                    job: plan.job.spec.name.clone(),
                    stage: stage.to_string(),
                });
            };
            watermark = watermark.min(w);
            processing_time = processing_time.max(p);
            if !records.is_empty() {
                op.process_batch(i, records, p, &mut cx)?;
            }
        }
        op.on_watermark(watermark, processing_time, &mut cx)?;
        outputs.batch(cx.out, watermark, processing_time, side, epoch)?;
    }
}
