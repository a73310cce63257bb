//! A source task: read, decode event time, assign watermarks, deal
//! batches round-robin to the subtasks that read it, and inject checkpoint
//! barriers between batches. A job runs one per source (`[source]` and
//! each of `[[sources]]`); they share a [`SourceSet`].

use super::decode_ahead::DecodeAhead;
use super::pool::JobAccount;
use super::side::{SideOutputs, Stage};
use super::source_columns::DecodedBatch;
use super::source_set::{Next, SourceSet};
use super::{Message, Metrics, RunError, Tx, send};
use crate::checkpoint::{Coordinator, SourceState};
use crate::connector::{Poll, Source, SourceBatch, SourcePosition};
use crate::event::Event;
use crate::job::{KafkaFormat, SOURCE, SourceSpec};
use crate::plan::Plan;
use crate::time::{WatermarkTracker, now_ms};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// While the source is idle, send time forward this often (in jobs whose
/// stages need it: see [`ticks`]).
const IDLE_TICK_MS: i64 = 100;

/// How time must go forward through a job while a source is idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ticks {
    /// Not at all: stateless stages and the sink need no time of their
    /// own, so an idle stateless job costs no wake-ups.
    Never,
    /// Until every lane has the source's watermark: windows and joins on
    /// event time fire on it (the last batch reached one lane only).
    Watermark,
    /// Always: a processing-time window, or a keyed operator whose
    /// processing-time timers fire as the clock moves.
    Always,
}

/// The ticks `stages` need.
pub(super) fn ticks(stages: &[crate::plan::PlannedGraphStage]) -> Ticks {
    use crate::plan::{PlannedStage, StageWork};
    let clock = stages.iter().any(|s| {
        matches!(
            &s.work,
            StageWork::Keyed(PlannedStage::Keyed(_))
                | StageWork::Keyed(PlannedStage::Window {
                    mode: crate::window::TimeMode::Processing,
                    ..
                })
        )
    });
    if clock {
        Ticks::Always
    } else if stages.iter().any(|s| s.keyed) {
        Ticks::Watermark
    } else {
        Ticks::Never
    }
}

/// Whether an idle source sends time forward now (`watermark`: its
/// watermark now).
fn tick_due(ticks: Ticks, out: &Outputs, watermark: crate::event::Timestamp) -> bool {
    match ticks {
        Ticks::Never => false,
        Ticks::Watermark => out.behind(watermark),
        Ticks::Always => true,
    }
}

/// Round-robin over the chain subtasks.
struct Outputs {
    txs: Vec<Tx>,
    step: usize,
    /// The watermark each lane was sent last.
    sent: Vec<crate::event::Timestamp>,
}

impl Outputs {
    async fn next(&mut self, m: Message) -> Result<(), RunError> {
        let lane = self.step % self.txs.len();
        if let Message::Batch { watermark, .. } = &m {
            self.sent[lane] = *watermark;
        }
        self.step += 1;
        send(&self.txs[lane], m).await
    }

    /// Whether a lane was not sent `watermark` yet.
    fn behind(&self, watermark: crate::event::Timestamp) -> bool {
        self.sent.iter().any(|w| *w < watermark)
    }

    /// One message per channel, in turn, so every subtask meets it at the
    /// same point of the merged order.
    async fn every(&mut self, m: impl Fn() -> Message) -> Result<(), RunError> {
        for _ in 0..self.txs.len() {
            self.next(m()).await?;
        }
        Ok(())
    }
}

/// Where a source that reached its end waits for the final checkpoint.
pub(super) type Finished = std::sync::Mutex<Option<Box<dyn Source>>>;

/// Everything the source task is started with.
pub(super) struct SourceTask<'a> {
    /// Checked before every poll.
    pub stop: Option<&'a super::StopSignal>,
    pub plan: &'a Plan,
    /// Its name: `source` for `[source]`, or a `[[sources]]` name.
    pub name: &'a str,
    /// Its settings.
    pub spec: &'a SourceSpec,
    /// What the job's sources share.
    pub set: &'a SourceSet,
    /// Positioned already when the job resumes.
    pub source: Box<dyn Source>,
    /// The watermark state saved in the checkpoint, when resuming.
    pub tracker: Option<WatermarkTracker>,
    pub side: &'a SideOutputs,
    pub metrics: &'a Metrics,
    pub coordinator: Option<&'a Coordinator>,
    /// Live swaps to send behind the barriers.
    pub swaps: &'a super::swap::Swaps,
    /// Where the source is left at the end of input, so the runtime can
    /// tell it that the final checkpoint completed.
    pub done: &'a Finished,
    /// The epoch of the first records.
    pub first_epoch: u64,
    /// Send time forward while idle ([`ticks`]).
    pub ticks: Ticks,
    /// The job's account on the pool, for decoding ahead.
    pub account: Option<Arc<JobAccount>>,
}

/// Run the source.
pub(super) async fn run(t: SourceTask<'_>, outputs: Vec<Tx>) -> Result<(), RunError> {
    let SourceTask {
        stop,
        plan,
        name,
        spec: source_spec,
        set,
        mut source,
        tracker,
        side,
        metrics,
        coordinator,
        swaps,
        done,
        first_epoch,
        ticks,
        account,
    } = t;
    let spec = &plan.job.spec;
    // A named source may have its own event time (a SQL table's watermark).
    let event_time = spec.event_time_of(name);
    let time_field = event_time.and_then(|e| e.field.as_deref());
    let (out_of_orderness_ms, idle_timeout_ms) = crate::plan::watermark_ms(event_time);
    // Raw Kafka values are opaque bytes: not checked for JSON.
    let raw = matches!(source_spec, SourceSpec::Kafka(k) if k.format == KafkaFormat::Raw);
    // `[source]` (the one whose watermark and lag the metrics show).
    let main = name == SOURCE;
    let mut tracker = tracker.unwrap_or_else(|| {
        WatermarkTracker::new(source.inputs(), out_of_orderness_ms, idle_timeout_ms)
    });
    tracker.ensure_inputs(source.inputs());
    // Positions of triggered checkpoints, committed to the source (Kafka:
    // the consumer group) once their checkpoint completes.
    let mut triggered: std::collections::BTreeMap<u64, SourcePosition> = Default::default();
    // Idle inputs move the watermark as time passes: keep ticking.
    let ticks = match ticks {
        Ticks::Watermark if idle_timeout_ms.is_some() => Ticks::Always,
        other => other,
    };
    let mut out = Outputs {
        sent: vec![crate::event::Timestamp::MIN; outputs.len()],
        txs: outputs,
        step: 0,
    };
    let keeps_records = if main {
        plan.keeps_records
    } else {
        plan.source_columns.get(name).is_none_or(|c| c.keep_records)
    };
    let columns = if main {
        plan.columns.then(|| {
            super::source_columns::ColumnDecoder::new(
                &spec.name,
                plan.schema.clone(),
                time_field,
                &plan.column_types,
                plan.keeps_records,
                raw,
            )
        })
    } else {
        // Stages may read a named source's records too: they are kept
        // unless only windows over its columns read it.
        plan.source_columns.get(name).map(|c| {
            super::source_columns::ColumnDecoder::new(
                &spec.name,
                c.schema.clone(),
                time_field,
                &c.types,
                c.keep_records,
                raw,
            )
        })
    };
    // A source that can make typed columns itself makes them when only
    // columns are read: no JSON text between (Nexmark's generator).
    let declared = if main {
        plan.schema.as_ref()
    } else {
        plan.source_columns
            .get(name)
            .and_then(|c| c.schema.as_ref())
    };
    if let Some(schema) = declared.filter(|_| columns.is_some() && !keeps_records && !raw)
        && source.read_columns(schema)
    {
        tracing::debug!(job = %spec.name, source = name, "the source makes typed columns");
    }
    let mut columns = columns.map(|c| DecodeAhead::new(c, account, &plan.budgets, &spec.name));
    // Finish and send every batch decoding ahead.
    macro_rules! drain_ahead {
        () => {
            drain(
                &mut columns,
                &mut out,
                &mut tracker,
                plan,
                side,
                source.as_mut(),
            )
            .await?
        };
    }
    // Not i64::MIN: `now - last_idle_tick` must not overflow (it wrapped
    // to a negative number, so no idle tick was ever sent).
    let mut last_idle_tick = 0;
    let mut last_partition_lag = 0;
    let mut epoch = first_epoch;
    let state = |source: &dyn Source, tracker: &WatermarkTracker| SourceState {
        position: source
            .position()
            .expect("validation refuses checkpoints for sources without positions"),
        watermark: tracker.clone(),
    };
    loop {
        if let Some(reason) = stop.and_then(|s| s.requested()) {
            return Err(RunError::Stopped {
                job: spec.name.clone(),
                reason,
            });
        }
        let polled = if source.blocks() {
            let max = spec.batch_size;
            let (back, polled) = super::pool::Pool::global()
                .blocking(move || {
                    let polled = source.poll(max);
                    (source, polled)
                })
                .await;
            source = back;
            polled?
        } else {
            source.poll(spec.batch_size)?
        };
        let mut wait = None;
        let polled = match polled {
            Poll::Records(r) => Poll::Records(r),
            // Lines stay in their buffer only for a decoder that keeps no
            // record of its own.
            Poll::Lines(l) if columns.is_some() && !keeps_records => Poll::Lines(l),
            Poll::Lines(l) => Poll::Records(l.into_records()),
            other => other,
        };
        let batch = match polled {
            Poll::Records(r) => Some(SourceBatch::Records(r)),
            Poll::Lines(l) => Some(SourceBatch::Lines(l)),
            Poll::Columns(c) => Some(SourceBatch::Columns(c)),
            Poll::Idle => None,
            Poll::Wait(due) => {
                wait = Some(due);
                None
            }
            Poll::End => break,
        };
        match batch {
            Some(batch) => {
                let now = now_ms();
                metrics
                    .records_in
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                if let Some(ahead) = &mut columns {
                    ahead.push(batch, now, epoch)?;
                    while ahead.due() {
                        let (d, read) = ahead.pop(side, source.as_mut()).await?.expect("due");
                        send_columns(&mut out, &mut tracker, plan, d, read).await?;
                    }
                } else {
                    let records = events(
                        batch.into_records(),
                        time_field,
                        raw,
                        now,
                        epoch,
                        side,
                        &*source,
                        &mut tracker,
                    )?;
                    let watermark = tracker.current(now);
                    if main {
                        metrics.watermark.store(watermark, Ordering::Relaxed);
                    }
                    out.next(Message::batch(&plan.budgets, records, watermark, now)?)
                        .await?;
                }
            }
            None => {
                // Nothing to read: what is in flight goes out now.
                drain_ahead!();
                let now = now_ms();
                let watermark = tracker.current(now);
                if main {
                    metrics.watermark.store(watermark, Ordering::Relaxed);
                }
                if tick_due(ticks, &out, watermark) && now - last_idle_tick >= IDLE_TICK_MS {
                    last_idle_tick = now;
                    out.next(Message::batch(&plan.budgets, Vec::new(), watermark, now)?)
                        .await?;
                }
            }
        }
        if let Some(lag) = source.lag().filter(|_| main) {
            metrics.source_lag.store(lag as i64, Ordering::Relaxed);
            // Each partition's, for status pages: once a second.
            let now = crate::time::now_ms();
            if now - last_partition_lag >= 1000 {
                last_partition_lag = now;
                *metrics
                    .partition_lag
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = source.partition_lag();
            }
        }
        if let Some(c) = coordinator
            && let Next::Barrier(e, swap) = set.next(c, swaps, epoch)?
        {
            // The barrier's position and watermark cover every batch read.
            drain_ahead!();
            inject(
                c,
                (e, swap),
                name,
                state(source.as_ref(), &tracker),
                &mut triggered,
                source.as_mut(),
                &mut out,
            )
            .await?;
            epoch = e + 1;
        }
        match wait {
            Some(due) => {
                let mut until = due;
                if tick_due(ticks, &out, tracker.current(now_ms())) {
                    let tick = Duration::from_millis(
                        (last_idle_tick + IDLE_TICK_MS - now_ms()).max(0) as u64,
                    );
                    until = until.min(Instant::now() + tick);
                }
                if let Some(c) = coordinator {
                    until = until.min(c.due_at());
                }
                let ready = source.ready();
                idle_until(
                    super::pool::on_grid(until),
                    stop,
                    coordinator.map(|c| (c, set, epoch)),
                    ready.as_deref(),
                )
                .await;
            }
            None => super::pool::yield_if_long().await,
        }
    }
    drain_ahead!();
    // Counted out of the set, after any barrier triggered meanwhile (the
    // last source to end triggers the final checkpoint).
    while let Some(Next::Barrier(e, swap)) = set.end(coordinator, name, epoch, || {
        state(source.as_ref(), &tracker)
    })? {
        let c = coordinator.expect("barriers come with a coordinator");
        inject(
            c,
            (e, swap),
            name,
            state(source.as_ref(), &tracker),
            &mut triggered,
            source.as_mut(),
            &mut out,
        )
        .await?;
        epoch = e + 1;
    }
    // Everyone stops; the subtask whose turn it is delivers it in order.
    out.every(|| Message::EndOfData).await?;
    // The final checkpoint completes in the sink after this; the runtime
    // tells the source then (see `runtime::run`).
    *done.lock().unwrap_or_else(|p| p.into_inner()) = Some(source);
    Ok(())
}

/// Send a decoded batch, with the watermark after it (`read`: when the
/// source read it).
async fn send_columns(
    out: &mut Outputs,
    tracker: &mut WatermarkTracker,
    plan: &Plan,
    d: DecodedBatch,
    read: i64,
) -> Result<(), RunError> {
    for (input, ts) in d.inputs.iter().zip(&d.columns.time) {
        tracker.observe(*input, *ts, read);
    }
    let watermark = tracker.current(read);
    out.next(Message::with_columns(
        &plan.budgets,
        d.records,
        Some(d.columns),
        watermark,
        read,
    )?)
    .await
}

/// Finish and send every batch decoding ahead.
async fn drain(
    columns: &mut Option<DecodeAhead>,
    out: &mut Outputs,
    tracker: &mut WatermarkTracker,
    plan: &Plan,
    side: &SideOutputs,
    source: &mut dyn Source,
) -> Result<(), RunError> {
    if let Some(ahead) = columns {
        while let Some((d, read)) = ahead.pop(side, &mut *source).await? {
            send_columns(out, tracker, plan, d, read).await?;
        }
    }
    Ok(())
}

/// Record the source's position for barrier `e`, commit the position of
/// the last completed checkpoint to the source (Kafka: the consumer
/// group), and send the barrier and the swap behind it.
async fn inject(
    c: &Coordinator,
    (e, swap): (u64, Option<std::sync::Arc<super::swap::Swap>>),
    name: &str,
    st: SourceState,
    triggered: &mut std::collections::BTreeMap<u64, SourcePosition>,
    source: &mut dyn Source,
    out: &mut Outputs,
) -> Result<(), RunError> {
    if let Some(done) = c.last_completed() {
        let rest = triggered.split_off(&(done.epoch + 1));
        if let Some((_, position)) = triggered.pop_last() {
            source.checkpoint_complete(&position, false);
        }
        *triggered = rest;
    }
    triggered.insert(e, st.position.clone());
    c.record_source(e, name, st);
    out.every(|| Message::Barrier { epoch: e }).await?;
    if let Some(swap) = swap {
        out.every(|| Message::Swap(swap.clone())).await?;
    }
    Ok(())
}

/// Wait, without a worker, until `until`, a stop, or a barrier that may
/// be due sooner (or that another source triggered).
async fn idle_until(
    until: Instant,
    stop: Option<&super::StopSignal>,
    barriers: Option<(&Coordinator, &SourceSet, u64)>,
    ready: Option<&tokio::sync::Notify>,
) {
    let input = async {
        match ready {
            Some(r) => r.notified().await,
            None => std::future::pending().await,
        }
    };
    let stopped = async {
        match stop {
            Some(s) => s.stopped().await,
            None => std::future::pending().await,
        }
    };
    let woken = async {
        match barriers {
            Some((c, set, epoch)) => tokio::select! {
                _ = c.woken() => {}
                _ = set.triggered(epoch) => {}
            },
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        biased;
        _ = stopped => {}
        _ = woken => {}
        _ = input => {}
        _ = tokio::time::sleep_until(until.into()) => {}
    }
}

/// The records of a job over events: each checked to be a JSON object
/// (unless raw) and its event time read; those that fail go to the
/// dead-letter output.
#[allow(clippy::too_many_arguments)]
fn events(
    batch: Vec<crate::connector::RawRecord>,
    time_field: Option<&str>,
    raw: bool,
    now: i64,
    epoch: u64,
    side: &SideOutputs,
    source: &dyn Source,
    tracker: &mut WatermarkTracker,
) -> Result<Vec<Event>, RunError> {
    let mut records = Vec::with_capacity(batch.len());
    for r in batch {
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
                        Some(source.location(r.input, r.offset)),
                        &reason,
                        &r.payload,
                    )?;
                    continue;
                }
            },
            None if raw || looks_like_object(&r.payload) => r.timestamp.unwrap_or(now),
            None => {
                side.dead_letter(
                    epoch,
                    Stage::Decode,
                    None,
                    Some(source.location(r.input, r.offset)),
                    "not a JSON object",
                    &r.payload,
                )?;
                continue;
            }
        };
        tracker.observe(r.input, ts, now);
        records.push(Event {
            key: r.key,
            value: r.payload,
            timestamp: ts,
            headers: r.headers,
        });
    }
    Ok(records)
}

/// A cheap structural check: the full parse happens where fields are read.
fn looks_like_object(payload: &[u8]) -> bool {
    let trimmed = payload.trim_ascii();
    trimmed.first() == Some(&b'{') && trimmed.last() == Some(&b'}')
}
