//! The source task: read, decode event time, assign watermarks, deal
//! batches round-robin to the chain subtasks, and inject checkpoint
//! barriers between batches.

use super::side::{SideOutputs, Stage};
use super::{Message, Metrics, RunError, send};
use crate::checkpoint::{Coordinator, SourceState};
use crate::connector::{Poll, Source};
use crate::event::event;
use crate::plan::Plan;
use crate::time::{WatermarkTracker, now_ms};
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;

/// While the source is idle, send time forward this often.
const IDLE_TICK_MS: i64 = 100;

/// Round-robin over the chain subtasks.
struct Outputs {
    txs: Vec<SyncSender<Message>>,
    step: usize,
}

impl Outputs {
    fn next(&mut self, m: Message) -> Result<(), RunError> {
        let tx = &self.txs[self.step % self.txs.len()];
        self.step += 1;
        send(tx, m)
    }

    /// One message per channel, in turn, so every subtask meets it at the
    /// same point of the merged order.
    fn every(&mut self, m: impl Fn() -> Message) -> Result<(), RunError> {
        for _ in 0..self.txs.len() {
            self.next(m())?;
        }
        Ok(())
    }
}

/// Run the source. A resumed job passes the source already positioned and
/// its watermark tracker as saved.
pub(super) fn run(
    plan: &Plan,
    mut source: Box<dyn Source>,
    tracker: Option<WatermarkTracker>,
    outputs: Vec<SyncSender<Message>>,
    side: &SideOutputs,
    metrics: &Metrics,
    coordinator: Option<&Coordinator>,
) -> Result<(), RunError> {
    let spec = &plan.job.spec;
    let time_field = spec.event_time.as_ref().map(|e| e.field.as_str());
    let mut tracker = tracker.unwrap_or_else(|| {
        WatermarkTracker::new(1, plan.out_of_orderness_ms, plan.idle_timeout_ms)
    });
    let mut out = Outputs {
        txs: outputs,
        step: 0,
    };
    let mut last_idle_tick = i64::MIN;
    let mut epoch = coordinator.map_or(0, Coordinator::next_epoch);
    let state = |source: &dyn Source, tracker: &WatermarkTracker| SourceState {
        position: source
            .position()
            .expect("validation refuses checkpoints for sources without positions"),
        watermark: tracker.clone(),
    };
    loop {
        match source.poll(spec.batch_size)? {
            Poll::Records(raw) => {
                let now = now_ms();
                metrics
                    .records_in
                    .fetch_add(raw.len() as u64, Ordering::Relaxed);
                let mut records = Vec::with_capacity(raw.len());
                for r in raw {
                    let ts = match time_field {
                        Some(field) => match crate::json::integer(&r.payload, field) {
                            Some(ts) => ts,
                            None => {
                                let reason = if looks_like_object(&r.payload) {
                                    format!(
                                        "event-time field `{field}` is missing or not an integer (ms since the epoch)"
                                    )
                                } else {
                                    "not a JSON object".to_string()
                                };
                                side.dead_letter(
                                    epoch,
                                    Stage::Decode,
                                    None,
                                    Some(source.location(r.offset)),
                                    &reason,
                                    &r.payload,
                                )?;
                                continue;
                            }
                        },
                        None if looks_like_object(&r.payload) => now,
                        None => {
                            side.dead_letter(
                                epoch,
                                Stage::Decode,
                                None,
                                Some(source.location(r.offset)),
                                "not a JSON object",
                                &r.payload,
                            )?;
                            continue;
                        }
                    };
                    tracker.observe(0, ts, now);
                    records.push(event(r.payload, ts));
                }
                let watermark = tracker.current(now);
                metrics.watermark.store(watermark, Ordering::Relaxed);
                out.next(Message::Batch {
                    records,
                    watermark,
                    processing_time: now,
                })?;
            }
            Poll::Idle => {
                let now = now_ms();
                if now - last_idle_tick >= IDLE_TICK_MS {
                    last_idle_tick = now;
                    let watermark = tracker.current(now);
                    out.next(Message::Batch {
                        records: Vec::new(),
                        watermark,
                        processing_time: now,
                    })?;
                }
            }
            Poll::End => break,
        }
        if let Some(c) = coordinator
            && c.due()
        {
            let e = c.trigger(state(source.as_ref(), &tracker), false)?;
            out.every(|| Message::Barrier { epoch: e })?;
            epoch = e + 1;
        }
    }
    if let Some(c) = coordinator {
        // The final checkpoint: the sink commits the rest of the output with it.
        c.trigger(state(source.as_ref(), &tracker), true)?;
    }
    // Everyone stops; the subtask whose turn it is delivers it in order.
    out.every(|| Message::EndOfData)
}

/// A cheap structural check: the full parse happens where fields are read.
fn looks_like_object(payload: &[u8]) -> bool {
    let trimmed = payload.trim_ascii();
    trimmed.first() == Some(&b'{') && trimmed.last() == Some(&b'}')
}
