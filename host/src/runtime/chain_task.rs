//! A chain subtask: the job's stateless Wasm operators, fused, then key-by.

use super::side::{SideOutputs, Stage};
use super::swap::Ready;
use super::swap::Swap;
use super::{Message, RunError, recv, send};
use crate::event::Event;
use crate::plan::Plan;
use crate::state::KeyGroups;
use crate::wasm::instance::TransformInstance;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender};

/// Hand a canary's shadow the batch the operator just processed, and compare.
fn run_shadow(slot: &mut Option<(Arc<Swap>, TransformInstance)>, input: &[Event], old: &[Event]) {
    let Some((swap, shadow)) = slot else { return };
    let Some(canary) = &swap.canary else { return };
    if canary.stopped() {
        *slot = None;
        return;
    }
    match shadow.process(input) {
        Ok(new) => canary.observe(input.len(), old, &new.events, new.rejected.len()),
        Err(e) => {
            canary.trap(e.to_string());
            *slot = None;
        }
    }
}

/// Where a chain subtask's output goes.
pub(super) enum Output {
    /// To the keyed stage, by key group: one channel per keyed subtask.
    Partitioned(Vec<SyncSender<Message>>),
    /// Straight to the sink.
    Forward(SyncSender<Message>),
}

pub(super) fn run(
    plan: &Plan,
    subtask: usize,
    input: Receiver<Message>,
    output: Output,
    side: &SideOutputs,
    mut epoch: u64,
) -> Result<(), RunError> {
    let mut ops = plan
        .chain
        .iter()
        .map(|op| {
            TransformInstance::new(&plan.instance_spec(op, subtask))
                .map(|inst| (op.spec.name.as_str(), inst))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Canaries running beside an operator: index in `ops` → (swap, shadow).
    let mut shadows: Vec<Option<(Arc<Swap>, TransformInstance)>> =
        ops.iter().map(|_| None).collect();
    let key_field = plan.job.spec.key_by.as_ref().map(|k| k.field.as_str());
    loop {
        match recv(&input)? {
            Message::Batch {
                mut records,
                watermark,
                processing_time,
                ..
            } => {
                for (j, (name, inst)) in ops.iter_mut().enumerate() {
                    if records.is_empty() {
                        break;
                    }
                    let out = inst.process(&records)?;
                    run_shadow(&mut shadows[j], &records, &out.events);
                    for r in &out.rejected {
                        side.dead_letter(
                            epoch,
                            Stage::Operator,
                            Some(name),
                            None,
                            &r.reason,
                            &records[r.index as usize].value,
                        )?;
                    }
                    records = out.events;
                }
                match &output {
                    Output::Forward(tx) => send(
                        tx,
                        Message::batch(&plan.budgets, records, watermark, processing_time)?,
                    )?,
                    Output::Partitioned(txs) => {
                        let groups = KeyGroups {
                            parallelism: txs.len(),
                        };
                        let mut parts: Vec<Vec<_>> = (0..txs.len()).map(|_| Vec::new()).collect();
                        let field = key_field.unwrap_or_default();
                        for mut e in records {
                            match crate::json::key(&e.value, field) {
                                Some(key) => {
                                    let j = groups.subtask_of_key(&key);
                                    e.key = Some(key);
                                    parts[j].push(e);
                                }
                                None => side.dead_letter(
                                    epoch,
                                    Stage::KeyBy,
                                    None,
                                    None,
                                    &format!("key field `{field}` is missing"),
                                    &e.value,
                                )?,
                            }
                        }
                        for (tx, records) in txs.iter().zip(parts) {
                            send(
                                tx,
                                Message::batch(&plan.budgets, records, watermark, processing_time)?,
                            )?;
                        }
                    }
                }
            }
            Message::Barrier { epoch: e } => {
                // Stateless: nothing to save. Forward it on every output.
                epoch = e + 1;
                match &output {
                    Output::Forward(tx) => send(tx, Message::Barrier { epoch: e })?,
                    Output::Partitioned(txs) => {
                        for tx in txs {
                            send(tx, Message::Barrier { epoch: e })?;
                        }
                    }
                }
            }
            Message::Swap(swap) => {
                let at = ops.iter().position(|(n, _)| *n == swap.operator);
                if let (Some(j), Some(canary)) = (at, &swap.canary) {
                    // The shadow failing to start is the canary's verdict,
                    // not the job's failure.
                    let made = match swap.take_ready(subtask) {
                        Some(Ready::Transform(i)) => Ok(*i),
                        _ => TransformInstance::new(&plan.instance_spec(&swap.op, subtask)),
                    };
                    match made {
                        Ok(shadow) => shadows[j] = Some((swap.clone(), shadow)),
                        Err(e) => canary.trap(e.to_string()),
                    }
                } else if let Some(j) = at {
                    let started = std::time::Instant::now();
                    ops[j].1 = match swap.take_ready(subtask) {
                        Some(Ready::Transform(i)) => *i,
                        _ => TransformInstance::new(&plan.instance_spec(&swap.op, subtask))?,
                    };
                    shadows[j] = None;
                    swap.switched(started.elapsed());
                    tracing::debug!(operator = %swap.operator, subtask, digest = %swap.op.component.digest, "swapped");
                }
                match &output {
                    Output::Forward(tx) => send(tx, Message::Swap(swap))?,
                    Output::Partitioned(txs) => {
                        for tx in txs {
                            send(tx, Message::Swap(swap.clone()))?;
                        }
                    }
                }
            }
            Message::EndOfData => {
                match &output {
                    Output::Forward(tx) => send(tx, Message::EndOfData)?,
                    Output::Partitioned(txs) => {
                        for tx in txs {
                            // A keyed subtask that already finished has closed its end.
                            let _ = tx.send(Message::EndOfData);
                        }
                    }
                }
                return Ok(());
            }
        }
    }
}
