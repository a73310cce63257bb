//! A chain of stateless Wasm operators in one stage, fused: a one-chain
//! job's `[[operators]]`, or a graph stage's `operators`.
//!
//! Operators over columns take the columnar batches the source decoded,
//! and pass on columns (a filter's selection keeps the records' own
//! bytes). Where the next stage takes events — an operator over events,
//! the keyed stage, a sink that writes — the rows a map made are written as
//! JSON once, keeping their input record's key and headers; a discard sink
//! takes the columns as they are.
//!
//! An operator over columns may also follow one over events, or run in a
//! stage that reads another stage (window results, a join's pairs): it then
//! decodes the events it is given into columns itself, with a schema
//! inferred from the first batch it sees (as a source without a declared
//! schema does), and a record that does not fit goes to the dead-letter
//! output with the reason.

use super::operator::{Batch, Cx, Operator};
use crate::batch::{JsonDecoder, infer_schema, json_lines};
use crate::event::Event;
use crate::plan::{Plan, PlannedOperator};
use crate::runtime::RunError;
use crate::runtime::message::Columns;
use crate::runtime::side::{SideOutputs, Stage};
use crate::runtime::swap::{Ready, Swap};
use crate::wasm::World;
use crate::wasm::columnar::ColumnTransformInstance;
use crate::wasm::instance::TransformInstance;
use std::path::Path;
use std::sync::Arc;

/// A canary's shadow: the new version, given every batch the running
/// one processes, its output compared with the running one's.
enum Shadow {
    /// Of an operator over events.
    Events(TransformInstance),
    /// Of an operator over columns: made at its first batch, told that
    /// batch's schema.
    Columns(Option<Box<ColumnTransformInstance>>),
}

/// Hand a canary's shadow over columns the batch the operator just
/// processed (`cols`), and compare with what it made (`old`).
fn run_column_shadow(
    plan: &Plan,
    subtask: usize,
    slot: &mut Option<(Arc<Swap>, Shadow)>,
    cols: &Columns,
    old: &crate::wasm::columnar::ColumnOutput,
) {
    let Some((swap, Shadow::Columns(shadow))) = slot else {
        return;
    };
    let Some(canary) = &swap.canary else { return };
    if canary.stopped() {
        *slot = None;
        return;
    }
    let made = match shadow.take() {
        Some(i) => Ok(i),
        None => ColumnTransformInstance::new(
            &plan.instance_spec(&swap.op, subtask),
            &cols.batch.schema(),
        )
        .map(Box::new),
    };
    match made.and_then(|mut i| i.process(&cols.batch, &cols.time).map(|out| (i, out))) {
        Ok((i, new)) => {
            let same = new.rows.batch == old.rows.batch
                && new.rows.time == old.rows.time
                && new.rejected == old.rejected;
            canary.observe_outcome(cols.len(), same, new.rejected.len());
            *shadow = Some(i);
        }
        Err(e) => {
            canary.trap(e.to_string());
            *slot = None;
        }
    }
}

/// Hand a canary's shadow the batch the operator just processed, and compare.
fn run_shadow(slot: &mut Option<(Arc<Swap>, Shadow)>, input: &[Event], old: &[Event]) {
    let Some((swap, Shadow::Events(shadow))) = slot else {
        return;
    };
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

/// One operator of the chain.
enum Op {
    /// Over JSON events (`weir:dataflow@0.1`).
    Events(TransformInstance),
    /// Over columns (`weir:dataflow@0.2`): instantiated at the first batch,
    /// whose schema it is told at `init`.
    Columns {
        planned: PlannedOperator,
        inst: Option<Box<ColumnTransformInstance>>,
        /// Batches since the instance was made (see [`RECYCLE_AT`]).
        batches: u64,
        /// For input that comes as events: the decoder into columns, its
        /// schema inferred from the first batch.
        decoder: Option<Box<JsonDecoder>>,
    },
}

/// Events inferred from, at most: the first batch's first records.
const INFER_FROM: usize = 1000;

/// `events` as columns for operator `name`, decoded with `decoder` (made
/// from the first batch's records); those that do not fit go to the
/// dead-letter output. The rows keep their records (key, headers, bytes).
fn decode_events(
    job: &str,
    name: &str,
    decoder: &mut Option<Box<JsonDecoder>>,
    events: Vec<Event>,
    side: &SideOutputs,
    epoch: u64,
) -> Result<Rows, RunError> {
    let (cols, kept) = events_as_columns(job, name, decoder, events, side, epoch)?;
    Ok(Rows::Columns {
        cols,
        origin: Some(kept),
        exact: true,
        made_by: None,
    })
}

/// `events` as columns for `name` (an operator or stage that takes
/// columns but was given records), decoded with `decoder`, made from the
/// first batch's records; those that do not fit go to the dead-letter
/// output. Returns the columns and the events that made them.
pub(super) fn events_as_columns(
    job: &str,
    name: &str,
    decoder: &mut Option<Box<JsonDecoder>>,
    events: Vec<Event>,
    side: &SideOutputs,
    epoch: u64,
) -> Result<(Columns, Vec<Event>), RunError> {
    let schema_error = |source| RunError::Schema {
        job: job.into(),
        source,
    };
    let lines: Vec<&[u8]> = events.iter().map(|e| e.value.as_slice()).collect();
    if decoder.is_none() {
        let schema = infer_schema(lines.iter().take(INFER_FROM).copied()).map_err(schema_error)?;
        tracing::info!(job, operator = name, schema = %crate::batch::describe(&schema),
            "inferred the schema of the operator's input from its first records");
        *decoder = Some(Box::new(
            JsonDecoder::new(Arc::new(schema)).map_err(schema_error)?,
        ));
    }
    let decoded = decoder
        .as_mut()
        .expect("made above")
        .decode(&lines)
        .map_err(schema_error)?;
    drop(lines);
    let mut bad = decoded.bad.into_iter().peekable();
    let mut kept = Vec::with_capacity(events.len());
    for (i, e) in events.into_iter().enumerate() {
        match bad.next_if(|b| b.line == i) {
            Some(b) => side.dead_letter(
                epoch,
                Stage::Decode,
                Some(name),
                None,
                &format!(
                    "does not fit the schema inferred for operator `{name}`'s input from its first records: {}",
                    b.reason
                ),
                &e.value,
            )?,
            None => kept.push(e),
        }
    }
    let cols = Columns {
        batch: decoded.batch,
        time: kept.iter().map(|e| e.timestamp).collect(),
    };
    Ok((cols, kept))
}

/// A stateless instance whose linear memory has grown past this share of
/// its limit is replaced by a fresh one between two batches — at most once
/// every [`RECYCLE_EVERY`] batches — so a guest whose memory creeps up
/// (componentize-py's runtime does, by a few bytes a row: BENCHMARKS.md)
/// runs on instead of failing its job. Nothing is lost: a transform keeps
/// no state (weir keeps state in the host), and the new instance is `init`ed
/// with the same config and schema.
pub(super) const RECYCLE_AT: f64 = 0.75;
/// Batches an instance runs at least before it is recycled: one that needs
/// most of its memory for every batch fails on its limit as before rather
/// than being remade over and over.
pub(super) const RECYCLE_EVERY: u64 = 64;

/// A batch between two operators of the chain.
enum Rows {
    /// As events.
    Events(Vec<Event>),
    /// As columns, with one event per row: the input record the row came
    /// from (its key and headers travel on with it). `None` when no stage
    /// after the source needs the records themselves (see
    /// [`Plan::keeps_records`]).
    Columns {
        cols: Columns,
        origin: Option<Vec<Event>>,
        /// The rows are the input records unchanged (so far only filtered):
        /// `origin` holds their exact bytes.
        exact: bool,
        /// The operator that made them, if one did.
        made_by: Option<String>,
    },
}

impl Rows {
    fn is_empty(&self) -> bool {
        match self {
            Rows::Events(e) => e.is_empty(),
            Rows::Columns { cols, .. } => cols.is_empty(),
        }
    }

    /// The columns' schema, if they are columns.
    fn schema(&self) -> Option<&arrow_schema::SchemaRef> {
        match self {
            Rows::Events(_) => None,
            Rows::Columns { cols, .. } => Some(cols.batch.schema_ref()),
        }
    }

    /// As events: the records themselves if the rows are unchanged, else
    /// each row written as JSON.
    fn into_events(self, job: &str) -> Result<Vec<Event>, RunError> {
        match self {
            Rows::Events(e) => Ok(e),
            Rows::Columns {
                origin: Some(origin),
                exact: true,
                ..
            } => Ok(origin),
            Rows::Columns {
                cols,
                origin,
                made_by,
                ..
            } => {
                let lines = json_lines(&cols.batch).map_err(|source| RunError::Encode {
                    job: job.into(),
                    operator: made_by.unwrap_or_default(),
                    source,
                })?;
                let mut origin = origin.unwrap_or_default().into_iter();
                Ok(lines
                    .into_iter()
                    .zip(cols.time)
                    .map(|(value, timestamp)| {
                        let (key, headers) = origin
                            .next()
                            .map(|o| (o.key, o.headers))
                            .unwrap_or_default();
                        Event {
                            key,
                            value,
                            timestamp,
                            headers,
                        }
                    })
                    .collect())
            }
        }
    }
}

/// `origin[p]` for each of `parents` (non-decreasing, in range), moving
/// each record out and cloning only those with more than one child.
fn pick(origin: Vec<Event>, parents: &[u32]) -> Vec<Event> {
    let mut out = Vec::with_capacity(parents.len());
    let mut src = origin.into_iter().enumerate();
    let mut held: Option<(u32, Event)> = None;
    for (j, &p) in parents.iter().enumerate() {
        if held.as_ref().is_none_or(|(i, _)| *i != p) {
            held = src
                .by_ref()
                .find(|(i, _)| *i as u32 == p)
                .map(|(i, e)| (i as u32, e));
        }
        let e = if parents.get(j + 1) == Some(&p) {
            held.as_ref().map(|(_, e)| e.clone())
        } else {
            held.take().map(|(_, e)| e)
        };
        match e {
            Some(e) => out.push(e),
            None => break,
        }
    }
    out
}

/// Run batch `rows` through operator `op` (over columns), its rejected rows
/// to the dead-letter output.
fn process_columns(
    plan: &Plan,
    subtask: usize,
    op: &mut Op,
    rows: Rows,
    side: &SideOutputs,
    epoch: u64,
    shadow: &mut Option<(Arc<Swap>, Shadow)>,
) -> Result<Rows, RunError> {
    let Op::Columns {
        planned,
        inst,
        batches,
        decoder,
    } = op
    else {
        unreachable!("called for operators over columns")
    };
    let name = planned.spec.name.clone();
    let job = plan.job.spec.name.as_str();
    // Columns of another schema than the instance was told (a stage that
    // reads two stages): read by field name, through JSON, into its own.
    let rows = match (rows, inst.as_ref()) {
        (rows @ Rows::Columns { .. }, Some(i)) if rows.schema() != Some(i.input_schema()) => {
            if decoder.is_none() {
                let schema = i.input_schema().clone();
                let made = JsonDecoder::new(schema).map_err(|source| RunError::Schema {
                    job: job.into(),
                    source,
                })?;
                *decoder = Some(Box::new(made));
            }
            let events = rows.into_events(job)?;
            decode_events(job, &name, decoder, events, side, epoch)?
        }
        (Rows::Events(events), _) => decode_events(job, &name, decoder, events, side, epoch)?,
        (rows, _) => rows,
    };
    let Rows::Columns {
        cols,
        origin,
        exact,
        ..
    } = rows
    else {
        unreachable!("decoded above")
    };
    if cols.is_empty() {
        return Ok(Rows::Columns {
            cols,
            origin,
            exact,
            made_by: None,
        });
    }
    let recycle = inst
        .as_ref()
        .is_some_and(|i| *batches >= RECYCLE_EVERY && i.memory_share() > RECYCLE_AT);
    if recycle {
        tracing::warn!(operator = %name, subtask, batches = *batches,
            "the operator's memory passed {:.0}% of its limit: continuing with a fresh instance", RECYCLE_AT * 100.0);
    }
    if inst.is_none() || recycle {
        let spec = plan.instance_spec(planned, subtask);
        *inst = Some(Box::new(ColumnTransformInstance::new(
            &spec,
            &cols.batch.schema(),
        )?));
        *batches = 0;
    }
    *batches += 1;
    let out = inst
        .as_mut()
        .expect("made above")
        .process(&cols.batch, &cols.time)?;
    run_column_shadow(plan, subtask, shadow, &cols, &out);
    for (index, reason) in &out.rejected {
        let i = *index as usize;
        let payload = if let (true, Some(origin)) = (exact, &origin) {
            origin[i].value.clone()
        } else {
            json_lines(&cols.batch.slice(i, 1))
                .ok()
                .and_then(|mut l| l.pop())
                .unwrap_or_default()
        };
        side.dead_letter(epoch, Stage::Operator, Some(&name), None, reason, &payload)?;
    }
    let r = out.rows;
    let origin = match (&r.parents, origin) {
        (Some(p), Some(origin)) => Some(pick(origin, p)),
        (_, origin) => origin,
    };
    Ok(Rows::Columns {
        cols: Columns {
            batch: r.batch,
            time: r.time,
        },
        origin,
        exact: exact && r.selected,
        made_by: if r.selected { None } else { Some(name) },
    })
}

/// The fused operators of one subtask.
pub(super) struct Chain {
    ops: Vec<(String, Op)>,
    /// Canaries running beside an operator: index in `ops` → (swap, shadow).
    shadows: Vec<Option<(Arc<Swap>, Shadow)>>,
    /// Later stages take the records themselves, not only their columns.
    keeps_records: bool,
    /// Every reader of the stage takes columns: rows over columns go on as
    /// they are (see [`super::columns_out`]).
    columns_out: bool,
    subtask: usize,
}

impl Chain {
    /// The operators `ops` of `plan` for `subtask`. `columns_out`: every
    /// reader of this stage takes columns.
    pub(super) fn new(
        plan: &Plan,
        ops: &[PlannedOperator],
        subtask: usize,
        columns_out: bool,
    ) -> Result<Self, RunError> {
        let ops = ops
            .iter()
            .map(|op| {
                let inst = match op.component.world {
                    World::Columns => Op::Columns {
                        planned: op.clone(),
                        inst: None,
                        batches: 0,
                        decoder: None,
                    },
                    _ => Op::Events(TransformInstance::new(&plan.instance_spec(op, subtask))?),
                };
                Ok((op.spec.name.clone(), inst))
            })
            .collect::<Result<Vec<_>, RunError>>()?;
        Ok(Self {
            shadows: ops.iter().map(|_| None).collect(),
            ops,
            keeps_records: plan.keeps_records,
            columns_out,
            subtask,
        })
    }
}

impl Operator for Chain {
    fn process_batch(&mut self, _: usize, batch: Batch, cx: &mut Cx) -> Result<(), RunError> {
        let plan = cx.plan;
        let job = plan.job.spec.name.as_str();
        let kept = !batch.records.is_empty() && batch.has_records();
        let mut rows = match batch.columns {
            Some(cols) => Rows::Columns {
                cols,
                origin: (self.keeps_records && kept).then_some(batch.records),
                exact: true,
                made_by: None,
            },
            None => Rows::Events(batch.records),
        };
        for (j, (name, op)) in self.ops.iter_mut().enumerate() {
            if rows.is_empty() {
                break;
            }
            if matches!(op, Op::Columns { .. }) {
                let shadow = &mut self.shadows[j];
                rows = process_columns(plan, self.subtask, op, rows, cx.side, cx.epoch, shadow)?;
                continue;
            }
            let Op::Events(inst) = op else {
                unreachable!("an operator is over columns or over events")
            };
            let records = rows.into_events(job)?;
            let out = inst.process(&records)?;
            run_shadow(&mut self.shadows[j], &records, &out.events);
            for r in &out.rejected {
                cx.side.dead_letter(
                    cx.epoch,
                    Stage::Operator,
                    Some(name),
                    None,
                    &r.reason,
                    &records[r.index as usize].value,
                )?;
            }
            rows = Rows::Events(out.events);
        }
        // Columns go on as columns when every reader takes them, with the
        // input's records beside them if the rows are those records.
        // Rows made from records with a key or headers, which travel on
        // with them, become records.
        let bare = |o: &[Event]| o.iter().all(|e| e.key.is_none() && e.headers.is_empty());
        match rows {
            Rows::Columns {
                cols,
                origin,
                exact,
                ..
            } if self.columns_out && (exact || origin.as_deref().is_none_or(bare)) => {
                let records = match origin {
                    Some(origin) if exact => origin,
                    _ => Vec::new(),
                };
                cx.emit_batch(Batch {
                    records,
                    columns: Some(cols),
                })
            }
            rows => cx.emit(rows.into_events(job)?),
        }
    }

    fn on_watermark(&mut self, _: &mut Cx) -> Result<(), RunError> {
        Ok(())
    }

    fn on_barrier(&mut self, _: &Path) -> Result<(), RunError> {
        // Stateless: nothing to save.
        Ok(())
    }

    fn on_swap(&mut self, plan: &Plan, subtask: usize, swap: &Arc<Swap>) -> Result<(), RunError> {
        let at = self.ops.iter().position(|(n, _)| *n == swap.operator);
        if let Some(j) = at
            && let Op::Columns {
                planned,
                inst,
                batches,
                ..
            } = &mut self.ops[j].1
        {
            let started = std::time::Instant::now();
            if swap.canary.is_some() {
                // The shadow starts at the next batch, told its schema.
                self.shadows[j] = Some((swap.clone(), Shadow::Columns(None)));
            } else {
                // The new version is told the schema the old one was.
                if let Some(old) = inst.take() {
                    let schema = old.input_schema().clone();
                    let spec = plan.instance_spec(&swap.op, subtask);
                    *inst = Some(Box::new(ColumnTransformInstance::new(&spec, &schema)?));
                    *batches = 0;
                }
                *planned = swap.op.clone();
                self.shadows[j] = None;
                swap.switched(started.elapsed());
                tracing::debug!(operator = %swap.operator, subtask, digest = %swap.op.component.digest, "swapped");
            }
        } else if let (Some(j), Some(canary)) = (at, &swap.canary) {
            // The shadow failing to start is the canary's verdict, not the
            // job's failure.
            let made = match swap.take_ready(subtask) {
                Some(Ready::Transform(i)) => Ok(*i),
                _ => TransformInstance::new(&plan.instance_spec(&swap.op, subtask)),
            };
            match made {
                Ok(shadow) => self.shadows[j] = Some((swap.clone(), Shadow::Events(shadow))),
                Err(e) => canary.trap(e.to_string()),
            }
        } else if let Some(j) = at {
            let started = std::time::Instant::now();
            self.ops[j].1 = Op::Events(match swap.take_ready(subtask) {
                Some(Ready::Transform(i)) => *i,
                _ => TransformInstance::new(&plan.instance_spec(&swap.op, subtask))?,
            });
            self.shadows[j] = None;
            swap.switched(started.elapsed());
            tracing::debug!(operator = %swap.operator, subtask, digest = %swap.op.component.digest, "swapped");
        }
        Ok(())
    }
}
