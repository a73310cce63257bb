//! A keyed subtask: merges its inputs back into source order, runs the
//! window operator or the keyed Wasm operator over its key groups, and sends
//! one message per step to the sink.

use super::keyed_operator::KeyedOperator;
use super::side::{SideOutputs, Stage};
use super::{Message, RunError, recv, send};
use crate::event::MAX_WATERMARK;
use crate::plan::{Plan, PlannedStage, WindowAgg};
use crate::state::StateStore;
use crate::wasm::instance::AggregateInstance;
use crate::window::TimeMode;
use crate::window::aggregate::Aggregation;
use crate::window::operator::{WindowOperator, WindowOutput};
use std::sync::mpsc::{Receiver, SyncSender};

enum Stateful {
    Window(Box<WindowOperator>, TimeMode),
    Keyed(Box<KeyedOperator>),
}

fn open(plan: &Plan, subtask: usize, store: &StateStore) -> Result<Stateful, RunError> {
    Ok(
        match plan
            .stage
            .as_ref()
            .expect("keyed tasks exist only for a keyed stage")
        {
            PlannedStage::Keyed(op) => Stateful::Keyed(Box::new(KeyedOperator::new(
                plan,
                op,
                subtask,
                store.backend(subtask)?,
            )?)),
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
                Stateful::Window(
                    Box::new(WindowOperator::new(*kind, *mode, *lateness_ms, agg)),
                    *mode,
                )
            }
        },
    )
}

pub(super) fn run(
    plan: &Plan,
    subtask: usize,
    inputs: Vec<Receiver<Message>>,
    output: SyncSender<Message>,
    side: &SideOutputs,
    store: &StateStore,
) -> Result<(), RunError> {
    let mut op = open(plan, subtask, store)?;
    let agg_name = plan
        .job
        .spec
        .window
        .as_ref()
        .and_then(|w| w.aggregate.as_ref())
        .map(|a| a.name.as_str());
    for step in 0.. {
        let (records, watermark, processing_time, end) = match recv(&inputs[step % inputs.len()])? {
            Message::Batch {
                records,
                watermark,
                processing_time,
            } => (records, watermark, processing_time, false),
            Message::EndOfData => (Vec::new(), MAX_WATERMARK, crate::time::now_ms(), true),
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
                side.late(&out.late)?;
                for (e, reason) in &out.rejected {
                    side.dead_letter(Stage::Aggregate, agg_name, None, reason, &e.value)?;
                }
                results = out.results;
            }
            Stateful::Keyed(k) => {
                if !records.is_empty() {
                    let out = k.process(&records, watermark, processing_time)?;
                    for r in &out.rejected {
                        let name = plan.job.spec.keyed.as_ref().map(|k| k.name.as_str());
                        side.dead_letter(
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
            Message::Batch {
                records: results,
                watermark,
                processing_time,
            },
        )?;
        if end {
            send(&output, Message::EndOfData)?;
            return Ok(());
        }
    }
    Ok(())
}
