//! Running a plan: threads connected by bounded channels.
//!
//! ```text
//! source ──round-robin──▶ stage[0..N] ──forward or by key──▶ … ──▶ sink
//! ```
//!
//! Every job runs as a graph of stages ([`graph`]): a job graph's
//! `[[stages]]`, or a one-chain job's `chain` (its Wasm transforms, fused)
//! and `keyed` (its window or keyed operator). One driver runs every
//! subtask of every stage, over one operator trait.
//!
//! Each task is a future on the host's worker pool ([`pool`]): a few
//! threads, one per core, shared by every job and picked fairly across
//! tenants, so a waiting task costs no thread. Channels hold a few batches
//! each, so a slow stage backpressures the source. Each subtask owns its
//! Wasm instances (a `Store` is never shared) and its state partition.
//!
//! When a task fails, it records the error and exits; its channels close, so
//! every other task stops at its next send or receive and the first error is
//! what the run returns.

mod decode_ahead;
mod graph;
pub use graph::{Shape, ShapeInput, ShapeSink, ShapeStage, shape};
mod keyed_operator;
pub mod message;
pub mod metrics;
pub mod pool;
pub mod side;
mod sink_task;
mod source_columns;
mod source_set;
mod source_task;
pub mod swap;
pub mod versions;

pub use message::Message;
pub use metrics::{Metrics, Summary};

use crate::checkpoint::{Coordinator, RestorePoint};
use crate::connector::kafka::KafkaOutputs;
use crate::connector::{ConnectorError, Sink, SinkStart};
use crate::plan::Plan;
use crate::wasm::WasmError;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// Batches buffered per channel.
const CHANNEL_CAPACITY: usize = 4;

/// Why a job failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// An operator failed (trap, limit, error); the message says which.
    #[error(transparent)]
    Wasm(#[from] WasmError),
    /// A source or sink failed.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    /// A record could not be processed and the job has no dead-letter output.
    #[error(transparent)]
    BadRecord(Box<BadRecord>),
    /// The state backend failed, or state grew past the job's budget.
    #[error("job state: {0}")]
    State(#[from] crate::state::StateError),
    /// The job would hold more host memory or disk than its budget.
    #[error(transparent)]
    OverBudget(#[from] crate::budget::OverBudget),
    /// A task panicked.
    #[error("job `{job}`: task `{task}` crashed: {message}")]
    TaskPanicked {
        /// Job.
        job: String,
        /// Task.
        task: String,
        /// The panic message.
        message: String,
    },
    /// Timers kept re-registering themselves at or before the current time.
    #[error(
        "job `{job}`, operator `{operator}`: timers keep firing (more than {rounds} rounds at one watermark); a timer handler registers timers that are already due"
    )]
    TimerStorm {
        /// Job.
        job: String,
        /// Operator.
        operator: String,
        /// Rounds run.
        rounds: usize,
    },
    /// A checkpoint could not be written or restored.
    #[error(transparent)]
    Checkpoint(#[from] crate::checkpoint::CheckpointError),
    /// The job was stopped from outside (`weir cancel`, a quota, shutdown).
    #[error("job `{job}` was stopped: {reason}")]
    Stopped {
        /// Job.
        job: String,
        /// Who or what stopped it.
        reason: String,
    },
    /// The input's schema could not be inferred or used.
    #[error("job `{job}`: the input's schema: {source}")]
    Schema {
        /// Job.
        job: String,
        /// Why.
        source: crate::batch::SchemaError,
    },
    /// A stage's SQL query could not be compiled for its input's schema, or
    /// failed on a batch.
    #[error("job `{job}`: {source}")]
    Sql {
        /// Job.
        job: String,
        /// Why (the stage and query are in it).
        source: crate::sql::SqlError,
    },
    /// Rows an operator over columns made could not be written as JSON
    /// for the stage after it.
    #[error("job `{job}`, after operator `{operator}`: {source}")]
    Encode {
        /// Job.
        job: String,
        /// The operator whose output it was.
        operator: String,
        /// Why.
        source: crate::batch::EncodeError,
    },
    /// The inputs of a graph stage gave different kinds of steps (a batch
    /// from one, a barrier from another): a bug in weir, never in the job.
    #[error(
        "job `{job}`, stage `{stage}`: its inputs are out of step (a bug in weir; please report it)"
    )]
    OutOfStep {
        /// Job.
        job: String,
        /// Stage.
        stage: String,
    },
    /// The columns of one step could not be split by key or joined from
    /// several senders: a bug in weir, never in the job.
    #[error(
        "job `{job}`, stage `{stage}`: the columns of a step could not be {what}: {message} (a bug in weir; please report it)"
    )]
    Exchange {
        /// Job.
        job: String,
        /// Stage.
        stage: String,
        /// `joined` or `split by key`.
        what: &'static str,
        /// Arrow's reason.
        message: String,
    },
    /// An OVER stage could not go on: its memory budget, its state in a
    /// checkpoint, or an input that did not come as columns.
    #[error("job `{job}`, stage `{stage}`: {source}")]
    Over {
        /// Job.
        job: String,
        /// Stage.
        stage: String,
        /// Why.
        source: crate::over::OverError,
    },
    /// A rank stage (Top-N) could not go on: its memory budget, its state
    /// in a checkpoint, or an input that did not come as columns.
    #[error("job `{job}`, stage `{stage}`: {source}")]
    Rank {
        /// Job.
        job: String,
        /// Stage.
        stage: String,
        /// Why.
        source: crate::rank::RankError,
    },
    /// A window's results could not be made: an aggregate's result
    /// columns that do not fit the window's, or results that cannot be
    /// written as JSON.
    #[error("a window's results: {0}")]
    WindowResults(Box<crate::window::WindowError>),
    /// A channel closed because another task failed; never the root cause.
    #[error("a neighbouring task stopped")]
    Disconnected,
}

impl From<crate::window::WindowError> for RunError {
    fn from(e: crate::window::WindowError) -> Self {
        match e {
            crate::window::WindowError::Wasm(e) => RunError::Wasm(e),
            crate::window::WindowError::State(e) => RunError::State(e),
            e @ (crate::window::WindowError::Encode(_)
            | crate::window::WindowError::ResultColumns(_)) => RunError::WindowResults(Box::new(e)),
        }
    }
}

/// A record that could not be processed, where and why.
#[derive(Debug, thiserror::Error)]
#[error("job `{job}`: bad record at {}{}: {reason}\n  record: {record}\n  (add a [dead_letter] output to the job to set such records aside and keep going)",
    location.as_deref().unwrap_or("an unknown position"),
    operator.as_ref().map(|o| format!(" in operator `{o}`")).unwrap_or_default())]
pub struct BadRecord {
    /// Job.
    pub job: String,
    /// Where it was caught: decode, operator, key_by, aggregate.
    pub stage: &'static str,
    /// The operator that rejected it, if one did.
    pub operator: Option<String>,
    /// Its position in the input, when known.
    pub location: Option<String>,
    /// Why.
    pub reason: String,
    /// The start of the record.
    pub record: String,
}

/// The first real failure of a job's tasks.
#[derive(Default)]
pub(crate) struct Failure(Mutex<Option<RunError>>);

impl Failure {
    fn record(&self, e: RunError) {
        if matches!(e, RunError::Disconnected) {
            return;
        }
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(e);
        }
    }
    fn take(&self) -> Option<RunError> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// The sending end of a channel between two tasks.
pub(crate) type Tx = tokio::sync::mpsc::Sender<Message>;
/// The receiving end of a channel between two tasks.
pub(crate) type Rx = tokio::sync::mpsc::Receiver<Message>;

pub(crate) async fn send(tx: &Tx, m: Message) -> Result<(), RunError> {
    tx.send(m).await.map_err(|_| RunError::Disconnected)
}

pub(crate) async fn recv(rx: &mut Rx) -> Result<Message, RunError> {
    rx.recv().await.ok_or(RunError::Disconnected)
}

fn channel() -> (Tx, Rx) {
    tokio::sync::mpsc::channel(CHANNEL_CAPACITY)
}

fn channels(n: usize) -> (Vec<Tx>, Vec<Rx>) {
    (0..n).map(|_| channel()).unzip()
}

/// How a run starts: with checkpoints or without, afresh or resumed.
#[derive(Default, Clone)]
pub struct RunContext {
    /// The job's checkpoint coordinator, if it has `[checkpoint]`.
    pub coordinator: Option<Arc<Coordinator>>,
    /// Live swaps waiting for a barrier, and when they went live.
    pub swaps: Arc<swap::Swaps>,
    /// The checkpoint it resumes from.
    pub restore: Option<Arc<RestorePoint>>,
    /// The job's Kafka producer, opened before recovery (see
    /// [`KafkaOutputs::open`]); opened by [`run`] when absent.
    pub kafka: Option<Arc<KafkaOutputs>>,
    /// Set it to stop the job: the source stops at its next poll and the
    /// run ends with [`RunError::Stopped`], without a final checkpoint (the
    /// job resumes from its last one, as after a crash).
    pub stop: Option<Arc<StopSignal>>,
    /// The account its tasks are scheduled and charged under (its tenant's
    /// share of the workers); the host's tenant when absent.
    pub account: Option<Arc<pool::JobAccount>>,
}

/// A request to stop a running job, with the reason it reports.
#[derive(Default)]
pub struct StopSignal {
    reason: Mutex<Option<String>>,
    set: std::sync::atomic::AtomicBool,
    /// Wakes the source while it waits for input.
    wake: tokio::sync::Notify,
}

impl StopSignal {
    /// Ask the job to stop; the first reason given is the one reported.
    pub fn stop(&self, reason: impl Into<String>) {
        let mut r = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        if r.is_none() {
            *r = Some(reason.into());
        }
        self.set.store(true, std::sync::atomic::Ordering::Release);
        self.wake.notify_one();
    }

    /// Wait until stop is asked for (at once if it was).
    pub async fn stopped(&self) {
        while self.requested().is_none() {
            self.wake.notified().await;
        }
    }
    /// The reason, once stop was asked for.
    pub fn requested(&self) -> Option<String> {
        if !self.set.load(std::sync::atomic::Ordering::Acquire) {
            return None;
        }
        self.reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

fn sink_start(ctx: &RunContext, output: &str) -> SinkStart {
    match (&ctx.coordinator, &ctx.restore) {
        (None, _) => SinkStart::Plain,
        (Some(_), None) => SinkStart::Fresh,
        (Some(_), Some(r)) => SinkStart::Resume(r.epoch(), r.data.sinks.get(output).copied()),
    }
}

/// Run a plan to completion (bounded sources) or failure, waiting on
/// this thread (which must not be one of the pool's workers).
pub fn run(plan: Arc<Plan>, metrics: Arc<Metrics>, ctx: RunContext) -> Result<Summary, RunError> {
    pool::block_on(start(plan, metrics, ctx)?)
}

/// Open a plan's source, sinks and state, and start its tasks on the
/// worker pool (under `ctx.account`, or the host's tenant); the future
/// returned ends with the run.
pub fn start(
    plan: Arc<Plan>,
    metrics: Arc<Metrics>,
    ctx: RunContext,
) -> Result<impl Future<Output = Result<Summary, RunError>> + Send + 'static, RunError> {
    let job = &plan.job;
    let n = job.spec.parallelism;
    let pool = pool::Pool::global();
    let account = ctx
        .account
        .clone()
        .unwrap_or_else(|| pool.job(&pool.host_tenant(), &job.spec.name));
    // Every source, positioned where the checkpoint left it.
    let mut sources = Vec::new();
    for (name, _, spec) in job.spec.all_sources() {
        let mut source = crate::connector::open(job, spec)?;
        let mut tracker = None;
        if let Some(r) = &ctx.restore {
            let saved = if name == crate::job::SOURCE {
                Some(&r.data.source)
            } else {
                r.data.sources.get(name)
            };
            let Some(saved) = saved else {
                return Err(RunError::Checkpoint(
                    crate::checkpoint::CheckpointError::TaskState {
                        job: job.spec.name.clone(),
                        epoch: r.epoch(),
                        task: format!("sources.{name}"),
                        message: "the checkpoint has no position for this source".into(),
                    },
                ));
            };
            source.seek(&saved.position)?;
            tracker = Some(saved.watermark.clone());
        }
        sources.push((name.to_string(), spec.clone(), source, tracker));
    }
    let kafka = match &ctx.kafka {
        Some(k) => k.clone(),
        None => Arc::new(KafkaOutputs::open(job)?),
    };
    let budgets = &plan.budgets;
    let mut sinks = vec![(
        "sink".to_string(),
        Sink::open(
            job,
            "sink",
            &job.spec.sink,
            sink_start(&ctx, "sink"),
            &kafka,
            budgets,
        )?,
    )];
    for named in &job.spec.sinks {
        let key = format!("sinks.{}", named.name);
        let sink = Sink::open(
            job,
            &key,
            &named.sink,
            sink_start(&ctx, &key),
            &kafka,
            budgets,
        )?;
        sinks.push((key, sink));
    }
    let late = job
        .spec
        .late_output
        .as_ref()
        .map(|s| {
            let start = sink_start(&ctx, "late_output");
            Sink::open(job, "late_output", s, start, &kafka, budgets)
        })
        .transpose()?;
    let dead = job
        .spec
        .dead_letter
        .as_ref()
        .map(|s| {
            let start = sink_start(&ctx, "dead_letter");
            Sink::open(job, "dead_letter", s, start, &kafka, budgets)
        })
        .transpose()?;
    let side = Arc::new(side::SideOutputs::new(&job.spec.name, late, dead));
    let store = Arc::new(crate::state::StateStore::open(job, plan.budgets.clone())?);
    let first_epoch = ctx.coordinator.as_ref().map_or(0, |c| c.next_epoch());
    if let Some(p) = kafka.producer() {
        p.begin(first_epoch)?;
        metrics.set_producer(p.clone());
    }

    let mut lanes = Vec::new();
    let mut to_lanes = Vec::new();
    for (name, ..) in &sources {
        let (txs, rxs) = channels(n);
        lanes.push((name.clone(), rxs));
        to_lanes.push(txs);
    }
    let mut tasks: Vec<graph::Task> = Vec::new();
    let stages = Arc::new(graph::stages_of(&plan));
    let sink_stages = graph::sink_stages(&plan, &stages);
    let env = graph::Env {
        side: &side,
        store: &store,
        ctx: &ctx,
        metrics: &metrics,
        first_epoch,
    };
    let (stage_tasks, sink_inputs) = graph::tasks(&plan, stages.clone(), lanes, &sink_stages, &env);
    tasks.extend(stage_tasks);
    {
        let (m, side, coordinator) = (metrics.clone(), side.clone(), ctx.coordinator.clone());
        let job = plan.job.spec.name.clone();
        tasks.push((
            "sink".into(),
            Box::pin(async move {
                let task = sink_task::SinkTask {
                    job,
                    sinks,
                    side,
                    metrics: &m,
                    coordinator,
                    first_epoch,
                };
                sink_task::run(task, sink_inputs).await
            }),
        ));
    }
    // Each source, once it ended, waits here to hear that the final
    // checkpoint completed.
    let finished: Vec<Arc<source_task::Finished>> =
        sources.iter().map(|_| Arc::new(Mutex::new(None))).collect();
    let set = Arc::new(source_set::SourceSet::new(sources.len()));
    let ticks = source_task::ticks(&stages);
    for ((name, spec, source, tracker), (to, done)) in
        sources.into_iter().zip(to_lanes.into_iter().zip(&finished))
    {
        let (stop, swaps, account) = (ctx.stop.clone(), ctx.swaps.clone(), account.clone());
        let (plan, side, m, coordinator, done, set) = (
            plan.clone(),
            side.clone(),
            metrics.clone(),
            ctx.coordinator.clone(),
            done.clone(),
            set.clone(),
        );
        let task = if name == crate::job::SOURCE {
            "source".to_string()
        } else {
            format!("source-{name}")
        };
        tasks.push((
            task,
            Box::pin(async move {
                let task = source_task::SourceTask {
                    stop: stop.as_deref(),
                    plan: &plan,
                    name: &name,
                    spec: &spec,
                    set: &set,
                    source,
                    tracker,
                    side: &side,
                    metrics: &m,
                    coordinator: coordinator.as_deref(),
                    swaps: &swaps,
                    done: &done,
                    first_epoch,
                    ticks,
                    account: Some(account),
                };
                source_task::run(task, to).await
            }),
        ));
    }
    let handles: Vec<_> = tasks
        .into_iter()
        .map(|(name, body)| (name, pool.spawn(&account, body)))
        .collect();
    Ok(async move {
        let failure = Failure::default();
        for (name, handle) in handles {
            match handle.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failure.record(e),
                Err(pool::Panicked(message)) => failure.record(RunError::TaskPanicked {
                    job: plan.job.spec.name.clone(),
                    task: name,
                    message,
                }),
            }
        }
        side.flush()?;
        if let Some(e) = failure.take() {
            return Err(e);
        }
        // The final checkpoint completed: the source may say so (a Kafka
        // source commits its end offsets to the consumer group).
        if ctx.coordinator.is_some() {
            for done in &finished {
                if let Some(mut source) = done.lock().unwrap_or_else(|p| p.into_inner()).take()
                    && let Some(position) = source.position()
                {
                    source.checkpoint_complete(&position, true);
                }
            }
        }
        drop(account);
        Ok(Summary {
            records_in: metrics.input(),
            records_out: metrics.output(),
            late: side.late_count.load(std::sync::atomic::Ordering::Relaxed),
            dead_letters: side.dead_count.load(std::sync::atomic::Ordering::Relaxed),
            checkpoints: metrics
                .checkpoints
                .load(std::sync::atomic::Ordering::Relaxed),
            elapsed: metrics.elapsed(),
        })
    })
}
