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

use super::operator::Batch;
use crate::batch::rows::{KeyColumn, row_json};
use crate::budget::Budgets;
use crate::event::{Event, Timestamp};
use crate::runtime::message::Columns;
use crate::runtime::side::{SideOutputs, Stage};
use crate::runtime::{Message, RunError, Rx, Tx, recv, send};
use crate::state::KeyGroups;
use std::sync::Arc;

/// One input edge of a subtask.
pub(in crate::runtime) enum Input {
    /// One channel: the same subtask of a stage that takes turns, or any
    /// forward edge.
    One(Rx),
    /// From every subtask of a stage that takes turns, partitioned by key:
    /// the sender whose turn it is has the batch; control messages come
    /// from all of them at once.
    Turns {
        /// One channel per sender subtask.
        lanes: Vec<Rx>,
        /// Batches read so far.
        turn: usize,
    },
    /// From every subtask of a stage that sees every step, partitioned by
    /// key: one message from each per step.
    All(Vec<Rx>),
}

/// One step read from an input edge.
pub(in crate::runtime) enum Step {
    /// Records (several senders' concatenated in sender order).
    Batch {
        rows: Batch,
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
            rows: Batch { records, columns },
            watermark,
            processing_time,
        },
        other => Step::Control(other),
    }
}

impl Input {
    /// Read the next step (`at`: the job and stage reading, for errors).
    pub(in crate::runtime) async fn next(&mut self, at: At<'_>) -> Result<Step, RunError> {
        match self {
            Input::One(rx) => Ok(batch(recv(rx).await?)),
            Input::Turns { lanes, turn } => {
                let n = lanes.len();
                let first = *turn % n;
                match batch(recv(&mut lanes[first]).await?) {
                    b @ Step::Batch { .. } => {
                        *turn += 1;
                        Ok(b)
                    }
                    Step::Control(m) => {
                        for k in 1..n {
                            // The other senders' copies of it.
                            recv(&mut lanes[(first + k) % n]).await?;
                        }
                        Ok(Step::Control(m))
                    }
                }
            }
            Input::All(rxs) => {
                let mut all = Batch::default();
                let (mut watermark, mut processing_time) = (Timestamp::MAX, i64::MIN);
                let mut control = None;
                for rx in rxs.iter_mut() {
                    match batch(recv(rx).await?) {
                        Step::Batch {
                            rows,
                            watermark: w,
                            processing_time: p,
                        } => {
                            all.append(rows, at)?;
                            watermark = watermark.min(w);
                            processing_time = processing_time.max(p);
                        }
                        Step::Control(m) => control = Some(m),
                    }
                }
                Ok(match control {
                    Some(m) => Step::Control(m),
                    None => Step::Batch {
                        rows: all,
                        watermark,
                        processing_time,
                    },
                })
            }
        }
    }
}

/// The job and stage of an edge's reader or writer, for its errors.
#[derive(Clone, Copy)]
pub(in crate::runtime) struct At<'a> {
    pub job: &'a str,
    pub stage: &'a str,
}

impl At<'_> {
    /// Arrow's error `e` while the columns of a step were `what`.
    pub(in crate::runtime) fn error(
        self,
        what: &'static str,
        e: arrow_schema::ArrowError,
    ) -> RunError {
        RunError::Exchange {
            job: self.job.into(),
            stage: self.stage.into(),
            what,
            message: e.to_string(),
        }
    }
}

/// One output edge of a subtask.
pub(super) enum Output {
    /// To one subtask of the next stage.
    Forward(Tx),
    /// To every subtask of the next stage, each record to the one that
    /// owns its key (read from the JSON field `field`).
    ByKey { txs: Vec<Tx>, field: String },
}

/// A subtask's outputs.
pub(super) struct Outputs {
    pub edges: Vec<Output>,
    pub budgets: Arc<Budgets>,
    /// The job (for errors).
    pub job: String,
    /// The stage writing (for errors).
    pub stage: String,
}

impl Outputs {
    /// Send a step's rows on every edge (partitioned where by key: by the
    /// key's column when there are columns); rows without the key field
    /// go to the dead-letter output.
    pub(super) async fn batch(
        &self,
        rows: Batch,
        watermark: Timestamp,
        processing_time: i64,
        side: &SideOutputs,
        epoch: u64,
    ) -> Result<(), RunError> {
        let n = self.edges.len();
        let mut rows = Some(rows);
        for (i, edge) in self.edges.iter().enumerate() {
            let Batch { records, columns } = if i + 1 == n {
                rows.take().unwrap_or_default()
            } else {
                let r = rows.as_ref().expect("taken at the last edge");
                Batch {
                    records: r.records.clone(),
                    columns: r.columns.clone(),
                }
            };
            match edge {
                Output::Forward(tx) => {
                    send(
                        tx,
                        Message::with_columns(
                            &self.budgets,
                            records,
                            columns,
                            watermark,
                            processing_time,
                        )?,
                    )
                    .await?
                }
                Output::ByKey { txs, field } => {
                    let time = (watermark, processing_time);
                    // Columns whose key field is of a type that cannot be a
                    // key (a float, a struct): key the rows' records, written
                    // as JSON if the rows came only as columns. Without the
                    // field the rows lack the key, unless records have it.
                    let keyable =
                        columns
                            .as_ref()
                            .is_some_and(|c| match KeyColumn::of(&c.batch, field) {
                                Ok(KeyColumn::Missing) => records.is_empty(),
                                Ok(_) => true,
                                Err(_) => false,
                            });
                    match columns {
                        Some(cols) if keyable => {
                            self.by_key_columns(txs, field, records, cols, time, side, epoch)
                                .await?
                        }
                        columns => {
                            let at = At {
                                job: &self.job,
                                stage: &self.stage,
                            };
                            let records = Batch { records, columns }.into_events(at)?;
                            self.by_key(txs, field, records, time, side, epoch).await?
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Records to the subtask that owns each one's key, read from its JSON.
    async fn by_key(
        &self,
        txs: &[Tx],
        field: &str,
        records: Vec<Event>,
        (watermark, processing_time): (Timestamp, i64),
        side: &SideOutputs,
        epoch: u64,
    ) -> Result<(), RunError> {
        let groups = KeyGroups {
            parallelism: txs.len(),
        };
        let mut parts: Vec<Vec<Event>> = (0..txs.len()).map(|_| Vec::new()).collect();
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
        for (tx, part) in txs.iter().zip(parts) {
            send(
                tx,
                Message::batch(&self.budgets, part, watermark, processing_time)?,
            )
            .await?;
        }
        Ok(())
    }

    /// Rows to the subtask that owns each one's key, read from its column
    /// (the records, when kept beside the columns, go with their rows).
    #[allow(clippy::too_many_arguments)]
    async fn by_key_columns(
        &self,
        txs: &[Tx],
        field: &str,
        mut records: Vec<Event>,
        cols: Columns,
        (watermark, processing_time): (Timestamp, i64),
        side: &SideOutputs,
        epoch: u64,
    ) -> Result<(), RunError> {
        let at = At {
            job: &self.job,
            stage: &self.stage,
        };
        let keys = KeyColumn::of(&cols.batch, field).map_err(|e| RunError::Schema {
            job: self.job.clone(),
            source: e,
        })?;
        let part = |records: Vec<Event>, part: Columns| {
            Message::with_columns(
                &self.budgets,
                records,
                Some(part),
                watermark,
                processing_time,
            )
        };
        let mut buf = itoa::Buffer::new();
        // The records are keyed as a key-by over events keys them.
        for (row, e) in records.iter_mut().enumerate() {
            e.key = keys.key(row, &mut buf).map(<[u8]>::to_vec);
        }
        if txs.len() == 1 && keys.all_valid() {
            return send(&txs[0], part(records, cols)?).await;
        }
        let groups = KeyGroups {
            parallelism: txs.len(),
        };
        let mut rows: Vec<Vec<u32>> = vec![Vec::new(); txs.len()];
        for row in 0..cols.len() {
            match keys.key(row, &mut buf) {
                Some(key) => rows[groups.subtask_of_key(key)].push(row as u32),
                None => {
                    let payload = match records.get(row) {
                        Some(e) => e.value.clone(),
                        None => row_json(&cols.batch, row),
                    };
                    side.dead_letter(
                        epoch,
                        Stage::KeyBy,
                        None,
                        None,
                        &format!("key field `{field}` is missing"),
                        &payload,
                    )?;
                }
            }
        }
        let mut records: Vec<Option<Event>> = records.into_iter().map(Some).collect();
        for (tx, rows) in txs.iter().zip(rows) {
            let mine: Vec<Event> = rows
                .iter()
                .filter_map(|&r| records.get_mut(r as usize).and_then(Option::take))
                .collect();
            let time = rows.iter().map(|&r| cols.time[r as usize]).collect();
            let indices = arrow_array::UInt32Array::from(rows);
            let batch = arrow_select::take::take_record_batch(&cols.batch, &indices)
                .map_err(|e| at.error("split by key", e))?;
            send(tx, part(mine, Columns { batch, time })?).await?;
        }
        Ok(())
    }

    /// Send a control message on every channel.
    pub(super) async fn control(&self, make: impl Fn() -> Message) -> Result<(), RunError> {
        for tx in self.channels() {
            send(tx, make()).await?;
        }
        Ok(())
    }

    fn channels(&self) -> impl Iterator<Item = &Tx> {
        self.edges.iter().flat_map(|edge| match edge {
            Output::Forward(tx) => std::slice::from_ref(tx),
            Output::ByKey { txs, .. } => txs.as_slice(),
        })
    }

    /// Send the end on every channel; a receiver that already stopped is
    /// no error.
    pub(super) async fn end(&self) {
        for tx in self.channels() {
            let _ = tx.send(Message::EndOfData).await;
        }
    }
}
