//! A keyed subtask: merges its inputs back into source order, runs the
//! window operator or the keyed Wasm operator over its key groups, and sends
//! one message per step to the sink. At a barrier it writes its state into
//! the pending checkpoint before forwarding the barrier.

use super::keyed_operator::KeyedOperator;
use super::side::{SideOutputs, Stage};
use super::{Message, RunError, recv, send};
use crate::checkpoint::{CheckpointError, Coordinator, RestorePoint};
use crate::event::MAX_WATERMARK;
use crate::plan::{Plan, PlannedStage, WindowAgg};
use crate::state::{KeyGroups, StateStore};
use crate::wasm::instance::AggregateInstance;
use crate::window::TimeMode;
use crate::window::aggregate::Aggregation;
use crate::window::operator::{WindowOperator, WindowOutput};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender};

use crate::window::snapshot::WINDOW_FILE;

enum Stateful {
    Window(Box<WindowOperator>, TimeMode),
    Keyed(Box<KeyedOperator>),
}

/// Where a subtask's state comes from.
struct Restore<'a> {
    job: &'a str,
    point: &'a RestorePoint,
    subtask: usize,
    parallelism: usize,
}

impl Restore<'_> {
    /// The old subtasks whose state may hold keys this subtask now owns
    /// (all of them when rescaling), with the filter for those keys.
    fn sources(&self) -> Vec<usize> {
        if self.point.data.parallelism == self.parallelism {
            vec![self.subtask]
        } else {
            (0..self.point.data.parallelism).collect()
        }
    }

    fn keeps(&self, key: &[u8]) -> bool {
        KeyGroups {
            parallelism: self.parallelism,
        }
        .subtask_of_key(key)
            == self.subtask
    }

    fn read(&self, old: usize, file: &str) -> Result<Vec<u8>, RunError> {
        let path = self.point.info.path.join(format!("keyed-{old}")).join(file);
        std::fs::read(&path).map_err(|e| self.error(format!("{}: {e}", path.display())))
    }

    fn error(&self, message: String) -> RunError {
        RunError::Checkpoint(CheckpointError::TaskState {
            job: self.job.to_string(),
            epoch: self.point.epoch(),
            task: format!("keyed-{}", self.subtask),
            message,
        })
    }
}

fn open(
    plan: &Plan,
    subtask: usize,
    store: &StateStore,
    restore: Option<&Restore>,
) -> Result<Stateful, RunError> {
    let stage = plan
        .stage
        .as_ref()
        .expect("keyed tasks exist only for a keyed stage");
    let backend = || match restore {
        Some(r) => store.restore_backend(
            subtask,
            r.parallelism,
            &r.point.info.path,
            r.point.data.parallelism,
            &r.point.data.state_backend,
        ),
        None => store.backend(subtask),
    };
    Ok(match stage {
        PlannedStage::Keyed(op) => {
            let backend = backend()?;
            Stateful::Keyed(Box::new(KeyedOperator::new(plan, op, subtask, backend)?))
        }
        PlannedStage::Window {
            kind,
            mode,
            lateness_ms,
            aggregate,
        } => {
            let agg = match aggregate {
                WindowAgg::Native(specs) => Aggregation::native(specs),
                WindowAgg::Wasm(op) => Aggregation::Wasm(Box::new(AggregateInstance::new(
                    &plan.instance_spec(op, subtask),
                )?)),
            };
            let mut w = match store {
                // Window contents in RocksDB: larger than memory is fine.
                StateStore::Rocks { .. } => WindowOperator::in_backend(
                    *kind,
                    *mode,
                    *lateness_ms,
                    agg,
                    backend()?,
                    subtask,
                    plan.job.spec.parallelism,
                ),
                StateStore::Memory { budgets } => {
                    WindowOperator::new(*kind, *mode, *lateness_ms, agg, budgets.clone())
                }
            };
            if let Some(r) = restore {
                for old in r.sources() {
                    let bytes = r.read(old, WINDOW_FILE)?;
                    w.restore(&bytes, &|key| r.keeps(key))
                        .map_err(|e| r.error(format!("windows of keyed-{old}: {e}")))?;
                }
            }
            Stateful::Window(Box::new(w), *mode)
        }
    })
}

impl Stateful {
    /// Write this subtask's state for a checkpoint into `dir`.
    fn snapshot(&mut self, dir: &Path) -> Result<(), RunError> {
        let io = |e: std::io::Error| {
            RunError::State(crate::state::StateError::Backend {
                backend: "checkpoint",
                message: format!("{}: {e}", dir.display()),
            })
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        match self {
            Stateful::Window(w, _) => Ok(w.snapshot_into(dir)?),
            // State and timers: both in the backend.
            Stateful::Keyed(k) => Ok(k.backend().snapshot_into(&dir.join("state"))?),
        }
    }
}

/// Everything a keyed subtask is started with.
pub(super) struct KeyedTask<'a> {
    pub plan: &'a Plan,
    pub subtask: usize,
    pub side: &'a SideOutputs,
    pub store: &'a StateStore,
    pub coordinator: Option<&'a Coordinator>,
    pub restore: Option<&'a RestorePoint>,
    /// The epoch of the first records (read once, before any task starts:
    /// a task that read it itself could start after the source triggered
    /// the first checkpoint, and miss that barrier).
    pub first_epoch: u64,
}

pub(super) fn run(
    t: KeyedTask,
    inputs: Vec<Receiver<Message>>,
    output: SyncSender<Message>,
) -> Result<(), RunError> {
    let (plan, subtask, side) = (t.plan, t.subtask, t.side);
    let restore = t
        .restore
        .filter(|r| !r.drop_stage_state)
        .map(|point| Restore {
            job: &plan.job.spec.name,
            point,
            subtask,
            parallelism: plan.job.spec.parallelism,
        });
    let mut op = open(plan, subtask, t.store, restore.as_ref())?;
    let mut epoch = t.first_epoch;
    let mut last_swap = None;
    let agg_name = plan
        .job
        .spec
        .window
        .as_ref()
        .and_then(|w| w.aggregate.as_ref())
        .map(|a| a.name.as_str());
    for step in 0.. {
        // The input batch stays charged to the job's memory until it has
        // been processed.
        let (records, watermark, processing_time, end, _held) =
            match recv(&inputs[step % inputs.len()])? {
                // The chain hands a keyed stage events, never columns alone.
                Message::Batch {
                    records,
                    watermark,
                    processing_time,
                    held,
                    ..
                } => (records, watermark, processing_time, false, Some(held)),
                Message::Barrier { epoch: e } => {
                    // The barrier comes once from each input, consecutively: the
                    // first copy is the point where everything before it is in.
                    if e >= epoch {
                        if let Some(c) = t.coordinator {
                            op.snapshot(&c.task_dir(e, &format!("keyed-{subtask}")))?;
                        }
                        epoch = e + 1;
                    }
                    send(&output, Message::Barrier { epoch: e })?;
                    continue;
                }
                Message::Swap(swap) => {
                    // Like a barrier: once from each input, acted on at the first.
                    if last_swap != Some(swap.id) {
                        last_swap = Some(swap.id);
                        op = match op {
                            Stateful::Keyed(k)
                                if k.name() == swap.operator && swap.canary.is_none() =>
                            {
                                let started = std::time::Instant::now();
                                let k = Box::new((*k).swap(plan, &swap.op, subtask)?);
                                swap.switched(started.elapsed());
                                Stateful::Keyed(k)
                            }
                            Stateful::Window(mut w, mode)
                                if agg_name == Some(swap.operator.as_str())
                                    && swap.canary.is_none() =>
                            {
                                let started = std::time::Instant::now();
                                let new = match swap.take_ready(subtask) {
                                    Some(super::swap::Ready::Aggregate(i)) => *i,
                                    _ => AggregateInstance::new(
                                        &plan.instance_spec(&swap.op, subtask),
                                    )?,
                                };
                                w.swap_aggregate(new)?;
                                swap.switched(started.elapsed());
                                Stateful::Window(w, mode)
                            }
                            other => other,
                        };
                    }
                    send(&output, Message::Swap(swap))?;
                    continue;
                }
                Message::EndOfData => {
                    (Vec::new(), MAX_WATERMARK, crate::time::now_ms(), true, None)
                }
            };
        let mut results = Vec::new();
        match &mut op {
            Stateful::Window(w, mode) => {
                let mut out = WindowOutput::default();
                w.process_batch(records, processing_time, &mut out)?;
                let time = match (*mode, end) {
                    (_, true) => MAX_WATERMARK,
                    (TimeMode::Event, false) => watermark,
                    (TimeMode::Processing, false) => processing_time,
                };
                w.advance(time, &mut out)?;
                side.late(epoch, &out.late)?;
                for (e, reason) in &out.rejected {
                    side.dead_letter(epoch, Stage::Aggregate, agg_name, None, reason, &e.value)?;
                }
                results = out.results;
            }
            Stateful::Keyed(k) => {
                if !records.is_empty() {
                    let out = k.process(&records, watermark, processing_time)?;
                    for r in &out.rejected {
                        let name = plan.job.spec.keyed.as_ref().map(|k| k.name.as_str());
                        side.dead_letter(
                            epoch,
                            Stage::Operator,
                            name,
                            None,
                            &r.reason,
                            &records[r.index as usize].value,
                        )?;
                    }
                    results = out.events;
                }
                k.advance(watermark, processing_time, &mut results)?;
            }
        }
        send(
            &output,
            Message::batch(&plan.budgets, results, watermark, processing_time)?,
        )?;
        if end {
            send(&output, Message::EndOfData)?;
            return Ok(());
        }
    }
    Ok(())
}
