//! A chain subtask: the job's stateless Wasm operators, fused, then key-by.

use super::side::{SideOutputs, Stage};
use super::{Message, RunError, recv, send};
use crate::plan::Plan;
use crate::state::KeyGroups;
use crate::wasm::instance::TransformInstance;
use std::sync::mpsc::{Receiver, SyncSender};

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
    let key_field = plan.job.spec.key_by.as_ref().map(|k| k.field.as_str());
    loop {
        match recv(&input)? {
            Message::Batch {
                mut records,
                watermark,
                processing_time,
            } => {
                for (name, inst) in &mut ops {
                    if records.is_empty() {
                        break;
                    }
                    let out = inst.process(&records)?;
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
                        Message::Batch {
                            records,
                            watermark,
                            processing_time,
                        },
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
                                Message::Batch {
                                    records,
                                    watermark,
                                    processing_time,
                                },
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
                if let Some((_, inst)) = ops.iter_mut().find(|(n, _)| *n == swap.operator) {
                    let started = std::time::Instant::now();
                    *inst = TransformInstance::new(&plan.instance_spec(&swap.op, subtask))?;
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
