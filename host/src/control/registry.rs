//! The served jobs: each runs in this process on its own threads, with its
//! directory under `<data>/tenants/<tenant>/jobs/<id>/` holding the job
//! file, its components, checkpoints, outputs, log and `record.json` (its
//! lifecycle state). A job whose record says `running` when the host starts
//! is resumed from its latest checkpoint: jobs survive a restart of `weir
//! serve`, as they survive a crash.

use super::logs::{MAX_LOG, host_line, job_logs};
use super::start::{PidFile, StartError, prepare};
use super::tenants::Tenant;
use crate::checkpoint::Coordinator;
use crate::checkpoint::recovery::RecoveryOptions;
use crate::plan::Plan;
use crate::runtime::{Metrics, RunError, StopSignal};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Accepted; being prepared (components compiled, state restored).
    Starting,
    /// Processing.
    Running,
    /// Its bounded input ended and everything was written.
    Finished,
    /// It failed; `reason` says why.
    Failed,
    /// Cancelled through the API.
    Cancelled,
}

impl State {
    /// Running or about to: counts against `max_jobs`.
    pub fn active(self) -> bool {
        matches!(self, State::Starting | State::Running)
    }
}

/// What survives a restart: `record.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// Lifecycle state.
    pub state: State,
    /// Why it failed or was cancelled.
    pub reason: Option<String>,
    /// When it was submitted, ms since the epoch.
    pub submitted_ms: i64,
    /// When it ended, ms since the epoch.
    pub ended_ms: Option<i64>,
    /// Times it resumed from its checkpoints after the host restarted.
    #[serde(default)]
    pub restarts: u32,
}

/// A running job's handles.
pub struct Running {
    /// Its plan.
    pub plan: Arc<Plan>,
    /// Its coordinator (served jobs always checkpoint).
    pub coordinator: Arc<Coordinator>,
    /// Its live swaps.
    pub swaps: Arc<crate::runtime::swap::Swaps>,
    /// Its counters.
    pub metrics: Arc<Metrics>,
    /// Stops it.
    pub stop: Arc<StopSignal>,
    /// "resuming from checkpoint N", when it resumed.
    pub resumed: Option<String>,
    /// Its account on the worker pool (the CPU its tasks used).
    pub account: Arc<crate::runtime::pool::JobAccount>,
}

/// One served job.
pub struct Job {
    /// Its tenant.
    pub tenant: String,
    /// Its id (the name in its job file).
    pub id: String,
    /// Its directory.
    pub dir: PathBuf,
    /// Its name inside the host: `<tenant>.<id>`.
    pub internal: String,
    record: Mutex<Record>,
    running: Mutex<Option<Arc<Running>>>,
    /// What stopped it, when the host stopped it (cancel, a quota).
    stopped_as: Mutex<Option<State>>,
    /// One swap, rollback or savepoint at a time.
    pub control: Mutex<()>,
    /// The last rate sample.
    rate: Mutex<RateSample>,
    /// Its last 15 minutes.
    pub history: super::history::History,
}

fn now_ms() -> i64 {
    crate::time::now_ms()
}

impl Job {
    fn new(tenant: &str, id: &str, dir: PathBuf, record: Record) -> Job {
        Job {
            tenant: tenant.into(),
            id: id.into(),
            internal: format!("{tenant}.{id}"),
            dir,
            record: Mutex::new(record),
            running: Mutex::new(None),
            stopped_as: Mutex::new(None),
            control: Mutex::new(()),
            rate: Mutex::new(RateSample {
                records_in: 0,
                records_out: 0,
                at: std::time::Instant::now(),
                rates: (0.0, 0.0),
            }),
            history: Default::default(),
        }
    }

    /// Its record now.
    pub fn record(&self) -> Record {
        lock(&self.record).clone()
    }

    /// Its running handles, while it runs.
    pub fn running(&self) -> Option<Arc<Running>> {
        lock(&self.running).clone()
    }

    /// Count one more restart (the host restarted, and it resumes).
    fn count_restart(&self) {
        let mut r = lock(&self.record);
        r.restarts += 1;
        if let Err(e) = write_record(&self.dir, &r) {
            tracing::warn!(job = %self.internal, "writing record.json: {e}");
        }
    }

    fn set(&self, state: State, reason: Option<String>) {
        let mut r = lock(&self.record);
        r.state = state;
        r.reason = reason;
        if !state.active() {
            r.ended_ms = Some(now_ms());
        }
        if let Err(e) = write_record(&self.dir, &r) {
            tracing::warn!(job = %self.internal, "writing record.json: {e}");
        }
    }

    /// Stop it as `state` (cancelled, or failed for a quota) with `reason`.
    pub fn stop(&self, state: State, reason: String) -> bool {
        let Some(running) = self.running() else {
            return false;
        };
        *lock(&self.stopped_as) = Some(state);
        running.stop.stop(reason);
        true
    }

    /// Records per second in and out, sampled at most once a second.
    pub fn rates(&self) -> (f64, f64) {
        let Some(r) = self.running() else {
            return (0.0, 0.0);
        };
        let mut s = lock(&self.rate);
        let (i, o) = (r.metrics.input(), r.metrics.output());
        let dt = s.at.elapsed().as_secs_f64();
        if dt >= 1.0 {
            *s = RateSample {
                rates: (
                    i.saturating_sub(s.records_in) as f64 / dt,
                    o.saturating_sub(s.records_out) as f64 / dt,
                ),
                records_in: i,
                records_out: o,
                at: std::time::Instant::now(),
            };
        }
        s.rates
    }
}

/// Counters at the last rate sample, when it was taken, and the rates
/// (records/s in and out) since the one before.
struct RateSample {
    records_in: u64,
    records_out: u64,
    at: std::time::Instant,
    rates: (f64, f64),
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn write_record(dir: &Path, r: &Record) -> std::io::Result<()> {
    let tmp = dir.join("record.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(r)?)?;
    std::fs::rename(tmp, dir.join("record.json"))
}

/// Every job of every tenant.
pub struct Registry {
    /// `<data>/tenants`.
    root: PathBuf,
    jobs: Mutex<BTreeMap<(String, String), Arc<Job>>>,
}

/// Why a job could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A job of this name is running.
    #[error("job `{0}` is already running; cancel it first, or submit under another name")]
    Running(String),
    /// The tenant runs as many jobs as it may.
    #[error("quota: tenant `{tenant}` already runs {max} job(s), its limit; cancel one first")]
    TooMany {
        /// Tenant.
        tenant: String,
        /// Its max_jobs.
        max: usize,
    },
    /// The job's directory could not be set up.
    #[error("storing job `{job}`: {message}")]
    Io {
        /// Job.
        job: String,
        /// What failed.
        message: String,
    },
}

impl Registry {
    /// The registry over `data_dir`, with the jobs found there.
    pub fn open(data_dir: &Path) -> Result<Registry, RegistryError> {
        let root = data_dir.join("tenants");
        let io = |e: std::io::Error| RegistryError::Io {
            job: "(all)".into(),
            message: format!("{}: {e}", root.display()),
        };
        std::fs::create_dir_all(&root).map_err(io)?;
        let mut jobs = BTreeMap::new();
        for tenant in std::fs::read_dir(&root).map_err(io)?.flatten() {
            let tname = tenant.file_name().to_string_lossy().to_string();
            let Ok(entries) = std::fs::read_dir(tenant.path().join("jobs")) else {
                continue;
            };
            for job in entries.flatten() {
                let id = job.file_name().to_string_lossy().to_string();
                let Ok(bytes) = std::fs::read(job.path().join("record.json")) else {
                    continue;
                };
                let Ok(record) = serde_json::from_slice::<Record>(&bytes) else {
                    tracing::warn!("{}: unreadable record.json; skipped", job.path().display());
                    continue;
                };
                jobs.insert(
                    (tname.clone(), id.clone()),
                    Arc::new(Job::new(&tname, &id, job.path(), record)),
                );
            }
        }
        Ok(Registry {
            root,
            jobs: Mutex::new(jobs),
        })
    }

    /// The tenant's job `id` — `None` also when it is another tenant's:
    /// the caller cannot tell the two apart.
    pub fn get(&self, tenant: &str, id: &str) -> Option<Arc<Job>> {
        lock(&self.jobs)
            .get(&(tenant.to_string(), id.to_string()))
            .cloned()
    }

    /// The tenant's jobs.
    pub fn list(&self, tenant: &str) -> Vec<Arc<Job>> {
        lock(&self.jobs)
            .values()
            .filter(|j| j.tenant == tenant)
            .cloned()
            .collect()
    }

    /// Every job.
    pub fn all(&self) -> Vec<Arc<Job>> {
        lock(&self.jobs).values().cloned().collect()
    }

    /// Make room for a new job `id` of `tenant`: its directory, emptied if
    /// an ended job of this name had it. Checks the job quota.
    pub fn reserve(&self, tenant: &Tenant, id: &str) -> Result<Arc<Job>, RegistryError> {
        let mut jobs = lock(&self.jobs);
        let key = (tenant.name.clone(), id.to_string());
        if jobs.get(&key).is_some_and(|j| j.record().state.active()) {
            return Err(RegistryError::Running(id.into()));
        }
        let active = jobs
            .values()
            .filter(|j| j.tenant == tenant.name && j.record().state.active())
            .count();
        if active >= tenant.quotas.max_jobs {
            return Err(RegistryError::TooMany {
                tenant: tenant.name.clone(),
                max: tenant.quotas.max_jobs,
            });
        }
        let dir = self.root.join(&tenant.name).join("jobs").join(id);
        let io = |e: std::io::Error| RegistryError::Io {
            job: id.into(),
            message: format!("{}: {e}", dir.display()),
        };
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io)?;
        }
        std::fs::create_dir_all(&dir).map_err(io)?;
        let record = Record {
            state: State::Starting,
            reason: None,
            submitted_ms: now_ms(),
            ended_ms: None,
            restarts: 0,
        };
        write_record(&dir, &record).map_err(io)?;
        let job = Arc::new(Job::new(&tenant.name, id, dir, record));
        jobs.insert(key, job.clone());
        Ok(job)
    }

    /// Forget a job whose submission was refused after [`Registry::reserve`].
    pub fn discard(&self, job: &Job) {
        lock(&self.jobs).remove(&(job.tenant.clone(), job.id.clone()));
        let _ = std::fs::remove_dir_all(&job.dir);
    }
}

/// Prepare and run `job` (its `job.toml`) on threads of its own: returns
/// once it runs (or failed to start, which its record and log then say),
/// the run going on behind.
pub fn start(job: Arc<Job>, recovery: RecoveryOptions) -> Result<(), StartError> {
    job_logs().register(&job.internal, job.dir.join("job.log"));
    job.set(State::Starting, None);
    launch(&job, recovery).inspect_err(|e| {
        let reason = e.to_string();
        host_line(
            &job.internal,
            "ERROR",
            &format!("could not start: {reason}"),
        );
        job.set(State::Failed, Some(reason));
        *lock(&job.running) = None;
    })
}

fn launch(job: &Arc<Job>, recovery: RecoveryOptions) -> Result<(), StartError> {
    let loaded = crate::job::load(&job.dir.join("job.toml"), &[])?;
    let prepared = prepare(loaded, &recovery)?;
    // Its log rotates at MAX_LOG, so it holds at most two such files: that
    // much of its disk budget is its log's.
    prepared
        .plan
        .budgets
        .disk
        .charge("its log (reserved: two files of 8 MiB)", 2 * MAX_LOG)?;
    let coordinator = prepared
        .coordinator
        .clone()
        .ok_or_else(|| StartError::NoCheckpoints(job.internal.clone()))?;
    let stop = Arc::new(StopSignal::default());
    let metrics = Arc::new(Metrics::default());
    let pool = crate::runtime::pool::Pool::global();
    let account = pool.job(&super::tenants::pool_account(&job.tenant), &job.internal);
    let running = Arc::new(Running {
        plan: prepared.plan.clone(),
        coordinator,
        swaps: prepared.ctx.swaps.clone(),
        metrics: metrics.clone(),
        stop: stop.clone(),
        resumed: prepared.resumed.clone(),
        account: account.clone(),
    });
    host_line(
        &job.internal,
        "INFO",
        &match &prepared.resumed {
            Some(r) => format!("started, {r}"),
            None => "started".into(),
        },
    );
    *lock(&job.running) = Some(running);
    job.set(State::Running, None);
    let mut ctx = prepared.ctx;
    ctx.stop = Some(stop);
    ctx.account = Some(account.clone());
    let plan = prepared.plan;
    let pid: PidFile = prepared.pid;
    // The run is tasks on the worker pool; what waits for its end is one
    // more task there, not a thread.
    match crate::runtime::start(plan, metrics, ctx) {
        Ok(run) => {
            let job = job.clone();
            pool.spawn(&account, async move {
                let result = run.await;
                drop(pid);
                finish(&job, result);
            })
            .detach();
        }
        Err(e) => {
            drop(pid);
            finish(job, Err(e));
        }
    }
    Ok(())
}

fn finish(job: &Job, result: Result<crate::runtime::Summary, RunError>) {
    let (state, reason) = match result {
        Ok(summary) => {
            host_line(&job.internal, "INFO", &format!("finished: {summary}"));
            (State::Finished, None)
        }
        Err(RunError::Stopped { reason, .. }) => {
            let state = lock(&job.stopped_as).take().unwrap_or(State::Cancelled);
            host_line(&job.internal, "WARN", &format!("stopped: {reason}"));
            (state, Some(reason))
        }
        Err(e) => {
            let reason = e.to_string();
            host_line(&job.internal, "ERROR", &format!("failed: {reason}"));
            (State::Failed, Some(reason))
        }
    };
    // The handles stay: `status` still shows the final counters.
    job.set(state, reason);
}

/// Jobs the last host left running: start them again, resuming.
pub fn resume_all(registry: &Registry) {
    for job in registry.all() {
        if job.record().state.active() {
            job_logs().register(&job.internal, job.dir.join("job.log"));
            host_line(&job.internal, "INFO", "the host restarted; resuming");
            job.count_restart();
            let _ = start(job, RecoveryOptions::default());
        }
    }
}

/// Every second: a sample of each running job for its history.
pub fn sample_all(registry: &Registry) {
    for job in registry.all() {
        if let Some(r) = job.running()
            && job.record().state == State::Running
        {
            job.history.sample(&r.metrics, job.rates());
        }
    }
}

/// Every second: hold running jobs to their tenant's state quota.
pub fn enforce_quotas(registry: &Registry, tenants: &[std::sync::Arc<Tenant>]) {
    for job in registry.all() {
        let (Some(r), Some(t)) = (job.running(), tenants.iter().find(|t| t.name == job.tenant))
        else {
            continue;
        };
        if job.record().state != State::Running {
            continue;
        }
        if let Some(c) = r.coordinator.last_completed()
            && c.size > t.quotas.state_bytes
        {
            job.stop(
                State::Failed,
                format!(
                    "state quota exceeded: checkpoint {} holds {} bytes of state, tenant `{}` may keep {} per job",
                    c.epoch, c.size, t.name, t.quotas.state_bytes
                ),
            );
        }
    }
}
