//! The checkpoint coordinator of one running job.
//!
//! Barriers follow the runtime's lockstep discipline (see
//! [`crate::runtime::Message`]): the source injects `Barrier(epoch)` as one
//! step on every channel, between two batches, after recording its read
//! position. Every task forwards one message per message it receives, so
//! each task meets the barrier after exactly the records that were read
//! before it, from all of its inputs: alignment needs no buffering. A keyed
//! subtask writes its state into the pending checkpoint when the barrier
//! reaches it and forwards the barrier; the sink, which receives the barrier
//! only after every keyed subtask forwarded it, stages its output and
//! completes the checkpoint. So the sink is where acknowledgements meet:
//! the epoch is complete when the barrier arrived from every input.
//!
//! Completing writes `_metadata` last and renames the directory (see
//! [`super::storage`]); only then are the sinks' staged parts published
//! (two-phase commit).

use super::job_data::{JobData, JobGraph, SinkPosition, SourceState, components_of};
use super::storage::{CheckpointStore, Metadata, PendingCheckpoint, StorageError};
use crate::plan::Plan;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Why a checkpoint could not be taken or used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Writing or reading checkpoint files failed.
    #[error("job `{job}`, checkpoint {epoch}: {source}")]
    Storage {
        /// Job.
        job: String,
        /// Epoch.
        epoch: u64,
        /// The storage error.
        source: StorageError,
    },
    /// A task's state could not be written or read.
    #[error("job `{job}`, checkpoint {epoch}, {task}: {message}")]
    TaskState {
        /// Job.
        job: String,
        /// Epoch.
        epoch: u64,
        /// `keyed-<j>` or an output name.
        task: String,
        /// What happened.
        message: String,
    },
    /// The barrier of an epoch arrived that was never triggered.
    #[error("job `{job}`: barrier {epoch} completed but was never started")]
    UnknownEpoch {
        /// Job.
        job: String,
        /// Epoch.
        epoch: u64,
    },
    /// The checkpoint cannot start this (changed) job.
    #[error(
        "job `{job}`: cannot resume from {checkpoint}: {reason}\n  (run with --allow-dropped-state to start that part afresh, or with --fresh to ignore the checkpoint)"
    )]
    Incompatible {
        /// Job.
        job: String,
        /// The checkpoint or savepoint.
        checkpoint: String,
        /// What changed.
        reason: String,
    },
    /// The job's checkpoints grew past its disk budget.
    #[error(transparent)]
    OverBudget(#[from] crate::budget::OverBudget),
}

struct Pending {
    checkpoint: PendingCheckpoint,
    /// Source name (`source` for `[source]`) → its position at the barrier.
    sources: BTreeMap<String, SourceState>,
    finished: bool,
    savepoint: bool,
    started: Instant,
}

/// A completed checkpoint, for progress lines.
#[derive(Debug, Clone)]
pub struct Completed {
    /// Epoch.
    pub epoch: u64,
    /// Time from trigger to completion.
    pub duration: Duration,
    /// A savepoint's directory.
    pub savepoint: Option<PathBuf>,
    /// Bytes in its files: the job's state size (window contents, keyed
    /// state, timers, source positions) as of this checkpoint.
    pub size: u64,
    /// When it completed, ms since the epoch.
    pub completed_ms: i64,
    /// Bytes of files this checkpoint wrote; the rest of `size` it shares
    /// with the checkpoint before it (RocksDB's files, hard-linked: an
    /// incremental checkpoint).
    pub new_bytes: u64,
    /// `size` by the task that wrote it, subtasks summed: a stage's name
    /// (`keyed`, …), or `sources`/`sinks`.
    pub by_task: BTreeMap<String, u64>,
}

/// A checkpoint that failed, and why.
#[derive(Debug, Clone)]
pub struct Failed {
    /// Epoch.
    pub epoch: u64,
    /// When it failed, ms since the epoch.
    pub failed_ms: i64,
    /// Time from its trigger to the failure (zero when it failed to start).
    pub after: Duration,
    /// Where it failed: a stage's subtask (`keyed-1`), `sinks` (staging
    /// the outputs), `coordinator` (completing it: metadata, retention, the
    /// disk budget), `sources` (starting it).
    pub task: String,
    /// The error.
    pub reason: String,
}

/// Completed (and failed) checkpoints a coordinator remembers for status
/// pages.
pub const HISTORY: usize = 64;

/// Triggers epochs, hands tasks their directories, completes checkpoints.
pub struct Coordinator {
    job: String,
    store: CheckpointStore,
    interval: Duration,
    retain: usize,
    parallelism: usize,
    state_backend: String,
    graph: JobGraph,
    components: Mutex<BTreeMap<String, String>>,
    kafka_transactions: Option<String>,
    /// A barrier is wanted now (a live swap waits for one).
    barrier_wanted: AtomicBool,
    pending: Mutex<BTreeMap<u64, Pending>>,
    next_epoch: Mutex<(u64, Instant)>,
    savepoint_requested: AtomicBool,
    /// The latest completed checkpoints, oldest first (at most
    /// [`HISTORY`]).
    history: Mutex<std::collections::VecDeque<Completed>>,
    /// The latest failed checkpoints, oldest first (at most [`HISTORY`]).
    failures: Mutex<std::collections::VecDeque<Failed>>,
    /// Checkpoints that failed, all of them.
    failed_total: std::sync::atomic::AtomicU64,
    /// The job's budgets, and the checkpoint bytes charged to its disk.
    budgets: Arc<crate::budget::Budgets>,
    disk_charged: Mutex<u64>,
    /// The final positions of sources that reached their end (a job with
    /// several sources goes on while some have ended): part of every later
    /// checkpoint.
    ended: Mutex<BTreeMap<String, SourceState>>,
    /// Wakes the source when a barrier may be due sooner than the
    /// interval says (a swap or savepoint asked for one, or the one in
    /// flight completed).
    wake: tokio::sync::Notify,
}

/// The checkpoint directory of a job: `checkpoint.dir`, or
/// `~/.cache/weir/checkpoints/<job name>`.
pub fn checkpoint_dir(job: &crate::job::LoadedJob) -> Option<PathBuf> {
    let spec = job.spec.checkpoint.as_ref()?;
    Some(match &spec.dir {
        Some(d) => job.resolve(d),
        None => crate::dirs::cache_dir()
            .join("checkpoints")
            .join(crate::job::file_safe(&job.spec.name)),
    })
}

/// The file in the checkpoint directory naming the process running the
/// job, for `weir savepoint`.
pub const PID_FILE: &str = "_running.pid";

/// The pid in `pid_file` if that process is alive and is a `weir` (a stale
/// file from a killed run, or a pid reused by another program, is not).
pub fn running_pid(pid_file: &Path) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(pid_file)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let program = cmdline.split(|b| *b == 0).next()?;
    (pid != std::process::id() && program.ends_with(b"weir")).then_some(pid)
}

impl Coordinator {
    /// The coordinator of a job with `[checkpoint]`, continuing epochs after
    /// `last_epoch` (the newest checkpoint in the directory, if any).
    pub fn new(plan: &Plan) -> Result<Option<Coordinator>, CheckpointError> {
        let (Some(spec), Some(dir)) =
            (plan.job.spec.checkpoint.as_ref(), checkpoint_dir(&plan.job))
        else {
            return Ok(None);
        };
        let job = plan.job.spec.name.clone();
        let storage = |source| CheckpointError::Storage {
            job: job.clone(),
            epoch: 0,
            source,
        };
        let store = CheckpointStore::open(&dir, &job).map_err(storage)?;
        let last_epoch = store.highest_epoch().map_err(storage)?.unwrap_or(0);
        let interval = crate::time::parse_duration_ms(&spec.interval).unwrap_or(10_000);
        Ok(Some(Coordinator {
            store,
            interval: Duration::from_millis(interval.max(1) as u64),
            retain: spec.retain,
            parallelism: plan.job.spec.parallelism,
            state_backend: plan.job.spec.state.backend.clone(),
            graph: JobGraph::of(plan),
            components: Mutex::new(components_of(plan)),
            barrier_wanted: AtomicBool::new(false),
            kafka_transactions: crate::connector::kafka::transactional_id(&plan.job.spec),
            pending: Mutex::new(BTreeMap::new()),
            next_epoch: Mutex::new((last_epoch + 1, Instant::now())),
            wake: tokio::sync::Notify::new(),
            savepoint_requested: AtomicBool::new(false),
            history: Mutex::new(std::collections::VecDeque::new()),
            failures: Mutex::new(std::collections::VecDeque::new()),
            failed_total: std::sync::atomic::AtomicU64::new(0),
            budgets: plan.budgets.clone(),
            disk_charged: Mutex::new(0),
            ended: Mutex::new(BTreeMap::new()),
            job,
        }))
    }

    /// The checkpoint directory.
    pub fn dir(&self) -> &Path {
        self.store.dir()
    }

    /// The store, for recovery.
    pub fn store(&self) -> &CheckpointStore {
        &self.store
    }

    /// Where savepoints go.
    pub fn savepoint_dir(&self) -> PathBuf {
        self.store.dir().join("savepoints")
    }

    /// The epoch the next barrier will carry: the epoch of records read now.
    pub fn next_epoch(&self) -> u64 {
        lock(&self.next_epoch).0
    }

    /// Number epochs from at least `epoch` on: an exactly-once Kafka
    /// output's commit marker must only grow, also across fresh starts.
    pub fn skip_to(&self, epoch: u64) {
        let mut next = lock(&self.next_epoch);
        next.0 = next.0.max(epoch);
    }

    /// Take a savepoint at the next barrier (the source checks this).
    pub fn request_savepoint(&self) {
        self.savepoint_requested.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// The last completed checkpoint.
    pub fn last_completed(&self) -> Option<Completed> {
        lock(&self.history).back().cloned()
    }

    /// The latest completed checkpoints, oldest first.
    pub fn history(&self) -> Vec<Completed> {
        lock(&self.history).iter().cloned().collect()
    }

    /// The latest failed checkpoints, oldest first.
    pub fn failures(&self) -> Vec<Failed> {
        lock(&self.failures).iter().cloned().collect()
    }

    /// How many checkpoints failed.
    pub fn failed_total(&self) -> u64 {
        self.failed_total.load(Ordering::Relaxed)
    }

    /// Checkpoint `epoch` failed at `task` with `error`: it will not
    /// complete. Kept for status pages; the error itself goes on to fail
    /// the job (like Flink's default of no tolerable checkpoint failures),
    /// which resumes from the last completed checkpoint when started
    /// again.
    pub fn fail(&self, epoch: u64, task: &str, error: &dyn std::fmt::Display) {
        let started = lock(&self.pending).remove(&epoch).map(|p| p.started);
        self.record_failure(epoch, started.unwrap_or_else(Instant::now), task, error);
        self.wake.notify_one();
    }

    fn record_failure(
        &self,
        epoch: u64,
        since: Instant,
        task: &str,
        error: &dyn std::fmt::Display,
    ) {
        let failed = Failed {
            epoch,
            failed_ms: crate::time::now_ms(),
            after: since.elapsed(),
            task: task.into(),
            reason: error.to_string(),
        };
        tracing::warn!(job = %self.job, epoch, task, reason = %failed.reason, "checkpoint failed");
        self.failed_total.fetch_add(1, Ordering::Relaxed);
        let mut failures = lock(&self.failures);
        if failures.len() == HISTORY {
            failures.pop_front();
        }
        failures.push_back(failed);
    }

    /// Is a barrier due (interval passed, or a savepoint asked for)?
    ///
    /// One checkpoint at a time (Flink's default `max-concurrent-checkpoints
    /// = 1`): while one is in flight the next waits, so checkpoints that
    /// take longer than the interval do not queue up behind each other (a
    /// savepoint request waits too).
    pub fn due(&self) -> bool {
        lock(&self.pending).is_empty()
            && (self.savepoint_requested.load(Ordering::Relaxed)
                || self.barrier_wanted.load(Ordering::Relaxed)
                || lock(&self.next_epoch).1.elapsed() >= self.interval)
    }

    /// The component live for `operator` is `digest` (a resumed job runs
    /// the version its checkpoint recorded).
    pub fn set_component(&self, operator: &str, digest: &str) {
        lock(&self.components).insert(operator.into(), digest.into());
    }

    /// Ask for a barrier as soon as the one in flight (if any) completed:
    /// a live swap rides behind the next barrier (see
    /// `runtime::swap::Swaps`).
    pub fn want_barrier(&self) {
        self.barrier_wanted.store(true, Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// When the interval makes the next barrier due.
    pub fn due_at(&self) -> Instant {
        lock(&self.next_epoch).1 + self.interval
    }

    /// Wait until a barrier may have become due before [`Self::due_at`].
    pub async fn woken(&self) {
        self.wake.notified().await
    }

    fn storage(&self, epoch: u64) -> impl FnOnce(StorageError) -> CheckpointError + '_ {
        move |source| CheckpointError::Storage {
            job: self.job.clone(),
            epoch,
            source,
        }
    }

    /// Start the next epoch; returns its number. Every source that has not
    /// ended records its position with [`Self::record_source`] before it
    /// injects the barrier. `finished` marks the final checkpoint of a
    /// bounded job, taken at the end of its input.
    pub fn trigger(&self, finished: bool) -> Result<u64, CheckpointError> {
        let epoch = {
            let mut next = lock(&self.next_epoch);
            let epoch = next.0;
            *next = (epoch + 1, Instant::now());
            epoch
        };
        let savepoint = !finished && self.savepoint_requested.swap(false, Ordering::SeqCst);
        self.barrier_wanted.store(false, Ordering::Relaxed);
        let checkpoint = self
            .store
            .begin(epoch)
            .map_err(self.storage(epoch))
            .inspect_err(|e| self.fail(epoch, "sources", e))?;
        lock(&self.pending).insert(
            epoch,
            Pending {
                checkpoint,
                sources: BTreeMap::new(),
                finished,
                savepoint,
                started: Instant::now(),
            },
        );
        Ok(epoch)
    }

    /// Source `name`'s position at barrier `epoch` (it injects the barrier
    /// next).
    pub fn record_source(&self, epoch: u64, name: &str, state: SourceState) {
        if let Some(p) = lock(&self.pending).get_mut(&epoch) {
            p.sources.insert(name.into(), state);
        }
    }

    /// Source `name` reached its end at `state`: every later checkpoint
    /// records it there.
    pub fn source_ended(&self, name: &str, state: SourceState) {
        lock(&self.ended).insert(name.into(), state);
    }

    /// The directory task `task` writes its state of `epoch` into.
    pub fn task_dir(&self, epoch: u64, task: &str) -> PathBuf {
        self.store.pending_dir(epoch).join(task)
    }

    /// Every task acknowledged `epoch` and the sinks staged their output:
    /// make the checkpoint durable and visible, retire old ones, and link a
    /// savepoint. The caller publishes the staged output afterwards.
    pub fn complete(
        &self,
        epoch: u64,
        sinks: BTreeMap<String, SinkPosition>,
    ) -> Result<Metadata, CheckpointError> {
        let started = Instant::now();
        let Some(p) = lock(&self.pending).remove(&epoch) else {
            return Err(CheckpointError::UnknownEpoch {
                job: self.job.clone(),
                epoch,
            });
        };
        // A barrier held back by this one may go now.
        self.wake.notify_one();
        let since = p.started;
        self.finish(epoch, p, sinks, started).inspect_err(|e| {
            self.record_failure(epoch, since, "coordinator", e);
        })
    }

    /// The rest of [`Self::complete`], once `epoch` left the pending ones.
    fn finish(
        &self,
        epoch: u64,
        p: Pending,
        sinks: BTreeMap<String, SinkPosition>,
        started: Instant,
    ) -> Result<Metadata, CheckpointError> {
        let mut sources = lock(&self.ended).clone();
        sources.extend(p.sources);
        let Some(source) = sources.remove(crate::job::SOURCE) else {
            return Err(CheckpointError::TaskState {
                job: self.job.clone(),
                epoch,
                task: "source".into(),
                message: "the source's position was not recorded (a bug in weir; please report it)"
                    .into(),
            });
        };
        let data = JobData {
            finished: p.finished,
            savepoint: p.savepoint,
            parallelism: self.parallelism,
            state_backend: self.state_backend.clone(),
            graph: self.graph.clone(),
            components: lock(&self.components).clone(),
            source,
            sources,
            sinks,
            kafka_transactions: self.kafka_transactions.clone(),
        };
        let value = serde_json::to_value(&data).map_err(|e| CheckpointError::TaskState {
            job: self.job.clone(),
            epoch,
            task: "metadata".into(),
            message: e.to_string(),
        })?;
        let metadata = p.checkpoint.commit(value).map_err(self.storage(epoch))?;
        let savepoint = if p.savepoint {
            let to = self.savepoint_dir().join(format!("sp-{epoch:012}"));
            std::fs::create_dir_all(self.savepoint_dir()).map_err(|e| {
                self.storage(epoch)(StorageError::Io {
                    path: self.savepoint_dir(),
                    message: e.to_string(),
                })
            })?;
            self.store
                .link_copy(epoch, &to)
                .map_err(self.storage(epoch))?;
            tracing::info!(job = %self.job, epoch, path = %to.display(), "savepoint written");
            Some(to)
        } else {
            None
        };
        self.store
            .retain(self.retain)
            .map_err(self.storage(epoch))?;
        // Retained checkpoints and kept savepoints are the job's disk.
        let on_disk = disk_usage(self.store.dir());
        let mut charged = lock(&self.disk_charged);
        self.budgets
            .disk
            .resize("checkpoints and savepoints", *charged, on_disk)?;
        *charged = on_disk;
        drop(charged);
        tracing::debug!(job = %self.job, epoch, ms = metadata.duration_ms, "checkpoint complete");
        let new_bytes = self
            .store
            .load(epoch)
            .map_or(0, |info| unshared_bytes(&info.path, &metadata));
        let mut history = lock(&self.history);
        if history.len() == HISTORY {
            history.pop_front();
        }
        let mut by_task = BTreeMap::new();
        for f in &metadata.files {
            *by_task.entry(task_of(&f.name).to_string()).or_insert(0) += f.size;
        }
        history.push_back(Completed {
            by_task,
            epoch,
            duration: Duration::from_millis(metadata.duration_ms) + started.elapsed(),
            savepoint,
            size: metadata.files.iter().map(|f| f.size).sum(),
            completed_ms: metadata.completed_ms,
            new_bytes,
        });
        Ok(metadata)
    }
}

/// Bytes of the files under `dir`, each file once however many hard links
/// it has (consecutive checkpoints and savepoints share files).
pub fn disk_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else if seen.insert((m.dev(), m.ino())) {
                total += m.len();
            }
        }
    }
    total
}

/// The task a checkpoint file belongs to: its first directory, without a
/// subtask's `-<n>` (`keyed-1/state/…` → `keyed`).
fn task_of(file: &str) -> &str {
    let dir = file.split('/').next().unwrap_or(file);
    match dir.rsplit_once('-') {
        Some((task, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => task,
        _ => dir,
    }
}

/// Bytes of the files of checkpoint `metadata` (in `dir`) that no other
/// checkpoint or savepoint links to (one link).
fn unshared_bytes(dir: &Path, metadata: &Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    metadata
        .files
        .iter()
        .filter(|f| std::fs::metadata(dir.join(&f.name)).is_ok_and(|m| m.nlink() == 1))
        .map(|f| f.size)
        .sum()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_checkpoint_file_belongs_to_its_stage_whatever_the_subtask() {
        assert_eq!(super::task_of("keyed-1/state/000012.sst"), "keyed");
        assert_eq!(super::task_of("per-user-10/buffer"), "per-user");
        assert_eq!(super::task_of("by-user/x"), "by-user");
        assert_eq!(super::task_of("sinks"), "sinks");
        assert_eq!(super::task_of("a-/x"), "a-");
    }
}
