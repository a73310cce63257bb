//! The channels between the stages of a job graph, and how a subtask
//! reads one step from them and sends one step into them.
//!
//! The lockstep rule of [`crate::runtime::Message`] holds on every edge:
//! a subtask sends exactly one message per step it sees on each of its
//! output channels. A stage that reads the source (or stages that do)
//! without a key takes turns: its subtask `i` sees the source's batches
//! `i, i + N, …` and every control message (barrier, swap, end). A stage
//! whose input is partitioned by key sees every step, each one from all
//! the senders of that step. So every subtask meets every barrier after
//! the same records, from all inputs: barriers align for free, and a step
//! of a stage with two inputs holds the same source batch from both.

use crate::budget::Budgets;
use crate::event::{Event, Timestamp};
use crate::runtime::message::Columns;
use crate::runtime::side::{SideOutputs, Stage};
use crate::runtime::{Message, RunError, recv, send};
use crate::state::KeyGroups;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender};

/// One input edge of a subtask.
pub(super) enum Input {
    /// One channel: the same subtask of a stage that takes turns, or any
    /// forward edge.
    One(Receiver<Message>),
    /// From every subtask of a stage that takes turns, partitioned by key:
    /// the sender whose turn it is has the batch; control messages come
    /// from all of them at once.
    Turns {
        /// One channel per sender subtask.
        lanes: Vec<Receiver<Message>>,
        /// Batches read so far.
        turn: usize,
    },
    /// From every subtask of a stage that sees every step, partitioned by
    /// key: one message from each per step.
    All(Vec<Receiver<Message>>),
}

/// One step read from an input edge.
pub(super) enum Step {
    /// Records (several senders' concatenated in sender order).
    Batch {
        records: Vec<Event>,
        /// The rows as columns, as the source decoded them (only on a
        /// forward edge from the source).
        columns: Option<Columns>,
        watermark: Timestamp,
        processing_time: i64,
    },
    /// A barrier, a swap or the end (the same from every sender).
    Control(Message),
}

fn batch(m: Message) -> Step {
    match m {
        Message::Batch {
            records,
            columns,
            watermark,
            processing_time,
            ..
        } => Step::Batch {
            records,
            columns,
            watermark,
            processing_time,
        },
        other => Step::Control(other),
    }
}

impl Input {
    /// Read the next step.
    pub(super) fn next(&mut self) -> Result<Step, RunError> {
        match self {
            Input::One(rx) => Ok(batch(recv(rx)?)),
            Input::Turns { lanes, turn } => {
                let n = lanes.len();
                let first = *turn % n;
                match batch(recv(&lanes[first])?) {
                    b @ Step::Batch { .. } => {
                        *turn += 1;
                        Ok(b)
                    }
                    Step::Control(m) => {
                        for k in 1..n {
                            // The other senders' copies of it.
                            recv(&lanes[(first + k) % n])?;
                        }
                        Ok(Step::Control(m))
                    }
                }
            }
            Input::All(rxs) => {
                let mut all = Vec::new();
                let (mut watermark, mut processing_time) = (Timestamp::MAX, i64::MIN);
                let mut control = None;
                for rx in rxs.iter() {
                    match batch(recv(rx)?) {
                        // Columns travel on forward edges only.
                        Step::Batch {
                            mut records,
                            watermark: w,
                            processing_time: p,
                            ..
                        } => {
                            all.append(&mut records);
                            watermark = watermark.min(w);
                            processing_time = processing_time.max(p);
                        }
                        Step::Control(m) => control = Some(m),
                    }
                }
                Ok(match control {
                    Some(m) => Step::Control(m),
                    None => Step::Batch {
                        records: all,
                        columns: None,
                        watermark,
                        processing_time,
                    },
                })
            }
        }
    }
}

/// One output edge of a subtask.
pub(super) enum Output {
    /// To one subtask of the next stage.
    Forward(SyncSender<Message>),
    /// To every subtask of the next stage, each record to the one that
    /// owns its key (read from the JSON field `field`).
    ByKey {
        txs: Vec<SyncSender<Message>>,
        field: String,
    },
}

/// A subtask's outputs.
pub(super) struct Outputs {
    pub edges: Vec<Output>,
    pub budgets: Arc<Budgets>,
}

impl Outputs {
    /// Send a step's records on every edge (partitioned where by key);
    /// records without the key field go to the dead-letter output. Rows
    /// that exist only as `columns` (for a sink that only counts them)
    /// go on a forward edge as they are.
    pub(super) fn batch(
        &self,
        records: Vec<Event>,
        mut columns: Option<Columns>,
        watermark: Timestamp,
        processing_time: i64,
        side: &SideOutputs,
        epoch: u64,
    ) -> Result<(), RunError> {
        let n = self.edges.len();
        let mut records = Some(records);
        for (i, edge) in self.edges.iter().enumerate() {
            let mine = if i + 1 == n {
                records.take().unwrap_or_default()
            } else {
                records.clone().unwrap_or_default()
            };
            match edge {
                Output::Forward(tx) => send(
                    tx,
                    Message::with_columns(
                        &self.budgets,
                        mine,
                        columns.take(),
                        watermark,
                        processing_time,
                    )?,
                )?,
                Output::ByKey { txs, field } => {
                    let groups = KeyGroups {
                        parallelism: txs.len(),
                    };
                    let mut parts: Vec<Vec<Event>> = (0..txs.len()).map(|_| Vec::new()).collect();
                    for mut e in mine {
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
                    for (tx, part) in txs.iter().zip(parts) {
                        send(
                            tx,
                            Message::batch(&self.budgets, part, watermark, processing_time)?,
                        )?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Send a control message on every channel.
    pub(super) fn control(&self, make: impl Fn() -> Message) -> Result<(), RunError> {
        for edge in &self.edges {
            match edge {
                Output::Forward(tx) => send(tx, make())?,
                Output::ByKey { txs, .. } => {
                    for tx in txs {
                        send(tx, make())?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Send the end on every channel; a receiver that already stopped is
    /// no error.
    pub(super) fn end(&self) {
        for edge in &self.edges {
            match edge {
                Output::Forward(tx) => {
                    let _ = tx.send(Message::EndOfData);
                }
                Output::ByKey { txs, .. } => {
                    for tx in txs {
                        let _ = tx.send(Message::EndOfData);
                    }
                }
            }
        }
    }
}
