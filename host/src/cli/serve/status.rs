//! What `weir status` and `weir list` show of a job, and `/metrics` reads.

use serde::Serialize;
use weir::control::registry::{Job, State};
use weir::runtime::versions::Versions;

/// One job in `list` and `status`.
#[derive(Serialize)]
pub struct JobStatus {
    pub id: String,
    pub state: State,
    pub reason: Option<String>,
    pub submitted_ms: i64,
    pub ended_ms: Option<i64>,
    pub resumed: Option<String>,
    pub records_in: u64,
    pub records_out: u64,
    pub rate_in: f64,
    pub rate_out: f64,
    /// CPU its tasks used on the host's workers (its guests' and the
    /// host's work for it), since it (re)started.
    pub cpu_seconds: f64,
    /// ms since the epoch; absent before the first.
    pub watermark: Option<i64>,
    /// Processing time minus watermark, ms.
    pub watermark_lag_ms: Option<i64>,
    /// Records in the Kafka source's partitions not read yet.
    pub kafka_lag: Option<i64>,
    /// The same per partition of the Kafka source.
    pub kafka_partitions: Vec<PartitionLag>,
    pub last_checkpoint: Option<CheckpointStatus>,
    pub checkpoints: u64,
    /// Checkpoints that failed since it (re)started.
    pub checkpoints_failed: u64,
    pub operators: Vec<OperatorStatus>,
    /// What the job holds of its budgets.
    pub budgets: Option<BudgetsStatus>,
    /// End-to-end latency of the rows its sinks took since it (re)started.
    pub latency: Option<LatencyStatus>,
    /// Times it resumed from its checkpoints after the host restarted.
    pub restarts: u32,
    /// The canary being judged now, if one is.
    pub canary: Option<CanaryStatus>,
    /// With [`job_detail`]: its graph, each stage's counters, its latest
    /// checkpoints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Detail>,
}

/// What a job's own page shows beyond its line in the list.
#[derive(Serialize)]
pub struct Detail {
    /// The graph it runs.
    pub graph: weir::runtime::Shape,
    /// Each stage's counters so far (since the job (re)started).
    pub stages: Vec<StageStatus>,
    /// Its latest completed checkpoints, oldest first.
    pub checkpoints: Vec<CheckpointStatus>,
    /// Its latest failed checkpoints, oldest first.
    pub failed_checkpoints: Vec<FailedCheckpoint>,
    /// Where its keyed state lives: `memory` or `rocksdb`.
    pub state_backend: String,
    /// Bytes each stage (or `sources`, `sinks`) wrote into the last
    /// checkpoint: its state.
    pub state: std::collections::BTreeMap<String, u64>,
}

/// One stage's counters, summed over its subtasks.
#[derive(Serialize)]
pub struct StageStatus {
    pub name: String,
    pub records_in: u64,
    pub records_out: u64,
    /// Time its subtasks spent working, waiting for input, waiting to send.
    pub busy_ms: u64,
    pub idle_ms: u64,
    pub backpressure_ms: u64,
    /// Time checkpoint barriers waited at it for every input's (alignment),
    /// over barriers and subtasks; and the barriers.
    pub alignment_ms: u64,
    pub barriers: u64,
    /// The lowest of its subtasks' watermarks, ms since the epoch.
    pub watermark: Option<i64>,
}

/// A histogram of end-to-end latency (see
/// `weir::runtime::metrics::Latency`).
#[derive(Serialize)]
pub struct LatencyStatus {
    /// Upper bounds of the buckets, seconds.
    pub bounds_s: &'static [f64],
    /// Rows at or under each bound, and (last) all rows.
    pub cumulative: Vec<u64>,
    pub sum_s: f64,
    pub count: u64,
}

/// One partition's consumer lag.
#[derive(Serialize)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: i32,
    pub lag: u64,
}

/// A canary's progress: what its shadow saw so far, and what it must see.
#[derive(Serialize)]
pub struct CanaryStatus {
    pub operator: String,
    pub digest: String,
    pub records: u64,
    pub errors: u64,
    pub batches: u64,
    pub differing_batches: u64,
    /// Records it must see (0: judged by time).
    pub target_records: u64,
    /// Or how long it runs.
    pub duration_ms: Option<u64>,
    pub elapsed_ms: i64,
}

/// A job's budgets: bytes used, the most used, the limit.
#[derive(Serialize)]
pub struct BudgetsStatus {
    pub host_memory: BudgetStatus,
    pub disk: BudgetStatus,
}

#[derive(Serialize)]
pub struct BudgetStatus {
    pub used_bytes: u64,
    pub peak_bytes: u64,
    pub limit_bytes: Option<u64>,
}

fn budget_status(b: &weir::budget::Budget) -> BudgetStatus {
    BudgetStatus {
        used_bytes: b.used(),
        peak_bytes: b.peak(),
        limit_bytes: b.limit(),
    }
}

#[derive(Serialize)]
pub struct CheckpointStatus {
    pub epoch: u64,
    pub completed_ms: i64,
    pub duration_ms: u64,
    pub size_bytes: u64,
    /// Bytes it wrote; the rest it shares with the one before
    /// (incremental RocksDB files).
    pub new_bytes: u64,
    /// A savepoint (kept until deleted).
    pub savepoint: bool,
}

/// A checkpoint that failed, and why.
#[derive(Serialize)]
pub struct FailedCheckpoint {
    pub epoch: u64,
    pub failed_ms: i64,
    /// Time from its start to the failure.
    pub after_ms: u64,
    /// Where: a stage's subtask (`keyed-1`), `sinks` or `sources`.
    pub task: String,
    pub reason: String,
}

fn checkpoint_status(c: &weir::checkpoint::Completed) -> CheckpointStatus {
    CheckpointStatus {
        epoch: c.epoch,
        completed_ms: c.completed_ms,
        duration_ms: c.duration.as_millis() as u64,
        size_bytes: c.size,
        new_bytes: c.new_bytes,
        savepoint: c.savepoint.is_some(),
    }
}

#[derive(Serialize)]
pub struct OperatorStatus {
    name: String,
    /// The live version's digest.
    digest: String,
    /// Every version, oldest first, the live one last.
    versions: Vec<weir::runtime::versions::Version>,
    busy_ms: u64,
}

/// Status of `job` now.
pub fn job_status(job: &Job) -> JobStatus {
    let record = job.record();
    let running = job.running();
    let (rate_in, rate_out) = if record.state == State::Running {
        job.rates()
    } else {
        (0.0, 0.0)
    };
    let mut s = JobStatus {
        id: job.id.clone(),
        state: record.state,
        reason: record.reason,
        submitted_ms: record.submitted_ms,
        ended_ms: record.ended_ms,
        resumed: None,
        records_in: 0,
        records_out: 0,
        rate_in,
        rate_out,
        cpu_seconds: 0.0,
        watermark: None,
        watermark_lag_ms: None,
        kafka_lag: None,
        kafka_partitions: Vec::new(),
        last_checkpoint: None,
        checkpoints: 0,
        checkpoints_failed: 0,
        operators: Vec::new(),
        budgets: None,
        latency: None,
        restarts: record.restarts,
        canary: None,
        detail: None,
    };
    let Some(r) = running else {
        return s;
    };
    use std::sync::atomic::Ordering::Relaxed;
    s.resumed = r.resumed.clone();
    s.budgets = Some(BudgetsStatus {
        host_memory: budget_status(&r.plan.budgets.memory),
        disk: budget_status(&r.plan.budgets.disk),
    });
    s.cpu_seconds = r.account.cpu_ns() as f64 / 1e9;
    s.canary = r.swaps.judged_now().and_then(|j| {
        let c = j.swap.canary.as_ref()?;
        Some(CanaryStatus {
            operator: j.swap.operator.clone(),
            digest: j.swap.op.component.digest.clone(),
            records: c.records.load(Relaxed),
            errors: c.errors.load(Relaxed),
            batches: c.batches.load(Relaxed),
            differing_batches: c.differing_batches.load(Relaxed),
            target_records: j.records,
            duration_ms: j.duration_ms,
            elapsed_ms: weir::time::now_ms() - j.started_ms,
        })
    });
    let (cumulative, sum_s, count) = r.metrics.latency.snapshot();
    s.latency = Some(LatencyStatus {
        bounds_s: &weir::runtime::metrics::LATENCY_BUCKETS,
        cumulative,
        sum_s,
        count,
    });
    s.records_in = r.metrics.input();
    s.records_out = r.metrics.output();
    s.checkpoints = r.metrics.checkpoints.load(Relaxed);
    s.checkpoints_failed = r.coordinator.failed_total();
    s.kafka_lag = Some(r.metrics.source_lag.load(Relaxed)).filter(|l| *l >= 0);
    s.kafka_partitions = r
        .metrics
        .partition_lag
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|(topic, partition, lag)| PartitionLag {
            topic: topic.clone(),
            partition: *partition,
            lag: *lag,
        })
        .collect();
    let wm = r.metrics.watermark.load(Relaxed);
    if wm > i64::MIN && wm < i64::MAX {
        s.watermark = Some(wm);
        // An ended job's watermark stays where it was; its lag means
        // nothing.
        if record.state == State::Running {
            s.watermark_lag_ms = Some(weir::time::now_ms() - wm);
        }
    }
    s.last_checkpoint = r
        .coordinator
        .last_completed()
        .map(|c| checkpoint_status(&c));
    let busy: std::collections::BTreeMap<String, u64> = r.plan.busy_ns().into_iter().collect();
    let history = Versions::new(r.coordinator.dir())
        .read()
        .unwrap_or_default();
    for (name, versions) in history {
        s.operators.push(OperatorStatus {
            digest: versions
                .last()
                .map(|v| v.digest.clone())
                .unwrap_or_default(),
            busy_ms: busy.get(&name).copied().unwrap_or(0) / 1_000_000,
            name,
            versions,
        });
    }
    s
}

/// Status of `job` now, with its graph, stages and checkpoints while it
/// runs.
pub fn job_detail(job: &Job) -> JobStatus {
    let mut s = job_status(job);
    if let Some(r) = job.running() {
        use std::sync::atomic::Ordering::Relaxed;
        let ms = |a: &std::sync::atomic::AtomicU64| a.load(Relaxed) / 1_000_000;
        s.detail = Some(Detail {
            graph: weir::runtime::shape(&r.plan),
            stages: r
                .metrics
                .stages()
                .into_iter()
                .map(|(name, m)| StageStatus {
                    name,
                    records_in: m.records_in.load(Relaxed),
                    records_out: m.records_out.load(Relaxed),
                    busy_ms: ms(&m.busy_ns),
                    idle_ms: ms(&m.idle_ns),
                    backpressure_ms: ms(&m.backpressure_ns),
                    alignment_ms: ms(&m.alignment_ns),
                    barriers: m.barriers.load(Relaxed),
                    watermark: m.watermark(),
                })
                .collect(),
            checkpoints: r
                .coordinator
                .history()
                .iter()
                .map(checkpoint_status)
                .collect(),
            failed_checkpoints: r
                .coordinator
                .failures()
                .into_iter()
                .map(|f| FailedCheckpoint {
                    epoch: f.epoch,
                    failed_ms: f.failed_ms,
                    after_ms: f.after.as_millis() as u64,
                    task: f.task,
                    reason: f.reason,
                })
                .collect(),
            state_backend: r.plan.job.spec.state.backend.clone(),
            state: r
                .coordinator
                .last_completed()
                .map(|c| c.by_task)
                .unwrap_or_default(),
        });
    }
    s
}
