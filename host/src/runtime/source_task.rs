//! The source task: read, decode event time, assign watermarks, and deal
//! batches round-robin to the chain subtasks.

use super::side::{SideOutputs, Stage};
use super::{Message, Metrics, RunError, send};
use crate::connector::{Poll, Source};
use crate::event::event;
use crate::plan::Plan;
use crate::time::{WatermarkTracker, now_ms};
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;

/// While the source is idle, send time forward this often.
const IDLE_TICK_MS: i64 = 100;

pub(super) fn run(
    plan: &Plan,
    mut source: Box<dyn Source>,
    outputs: Vec<SyncSender<Message>>,
    side: &SideOutputs,
    metrics: &Metrics,
) -> Result<(), RunError> {
    let spec = &plan.job.spec;
    let time_field = spec.event_time.as_ref().map(|e| e.field.as_str());
    let mut tracker = WatermarkTracker::new(1, plan.out_of_orderness_ms, plan.idle_timeout_ms);
    let mut step = 0usize;
    let mut last_idle_tick = i64::MIN;
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
                send(
                    &outputs[step % outputs.len()],
                    Message::Batch {
                        records,
                        watermark,
                        processing_time: now,
                    },
                )?;
                step += 1;
            }
            Poll::Idle => {
                let now = now_ms();
                if now - last_idle_tick >= IDLE_TICK_MS {
                    last_idle_tick = now;
                    let watermark = tracker.current(now);
                    send(
                        &outputs[step % outputs.len()],
                        Message::Batch {
                            records: Vec::new(),
                            watermark,
                            processing_time: now,
                        },
                    )?;
                    step += 1;
                }
            }
            Poll::End => break,
        }
    }
    // Everyone stops; the subtask whose turn it is delivers it in order.
    for i in 0..outputs.len() {
        send(&outputs[(step + i) % outputs.len()], Message::EndOfData)?;
    }
    Ok(())
}

/// A cheap structural check: the full parse happens where fields are read.
fn looks_like_object(payload: &[u8]) -> bool {
    let trimmed = payload.trim_ascii();
    trimmed.first() == Some(&b'{') && trimmed.last() == Some(&b'}')
}
