//! The sink task: merges the last stage's subtasks in source order and writes.

use super::{Message, Metrics, RunError, recv};
use crate::connector::Sink;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;

/// How the sink's inputs are interleaved.
pub(super) enum Order {
    /// Chain subtasks took turns: read them in turn.
    RoundRobin,
    /// Keyed subtasks all see every step: read step t from each, in order.
    Lockstep,
}

pub(super) fn run(
    mut sink: Sink,
    inputs: Vec<Receiver<Message>>,
    order: Order,
    metrics: &Metrics,
) -> Result<(), RunError> {
    let mut write = |records: Vec<crate::Event>| -> Result<(), RunError> {
        for r in &records {
            sink.write(&r.value)?;
        }
        metrics
            .records_out
            .fetch_add(records.len() as u64, Ordering::Relaxed);
        Ok(())
    };
    match order {
        Order::RoundRobin => {
            for step in 0.. {
                match recv(&inputs[step % inputs.len()])? {
                    Message::Batch { records, .. } => write(records)?,
                    Message::EndOfData => break,
                }
            }
        }
        Order::Lockstep => 'steps: loop {
            for rx in &inputs {
                match recv(rx)? {
                    Message::Batch { records, .. } => write(records)?,
                    Message::EndOfData => break 'steps,
                }
            }
        },
    }
    sink.flush()?;
    Ok(())
}
