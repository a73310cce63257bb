//! Starting a job: what `weir run` and `weir serve` share — claim the
//! checkpoint directory, open the coordinator and Kafka producer, decide
//! the checkpoint to resume from, and put back operator versions a swap
//! made live.

use crate::checkpoint::coordinator::{PID_FILE, checkpoint_dir, running_pid};
use crate::checkpoint::recovery::{RecoveryOptions, resolve};
use crate::checkpoint::{CheckpointError, Coordinator};
use crate::connector::ConnectorError;
use crate::job::LoadedJob;
use crate::plan::{Plan, PlanError};
use crate::runtime::RunContext;
use crate::wasm::{WasmEngine, WasmError};
use std::path::PathBuf;
use std::sync::Arc;

/// Why a job could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Another process runs this job (its checkpoint directory is taken).
    #[error(
        "job `{job}` is already running (process {pid}, see {}); two runs would overwrite each other's checkpoints and outputs",
        file.display()
    )]
    AlreadyRunning {
        /// The job.
        job: String,
        /// The process.
        pid: u32,
        /// Its pid file.
        file: PathBuf,
    },
    /// The checkpoint directory could not be claimed.
    #[error("job `{job}`: {}: {source}", path.display())]
    Io {
        /// The job.
        job: String,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The job file could not be read.
    #[error(transparent)]
    Job(#[from] crate::job::JobError),
    /// The job's disk budget cannot hold what it reserves (its log).
    #[error(transparent)]
    Budget(#[from] crate::budget::OverBudget),
    /// A served job must checkpoint (admission adds `[checkpoint]`).
    #[error("job `{0}` has no [checkpoint] section; a served job always checkpoints")]
    NoCheckpoints(String),
    /// The Wasm engine could not be set up.
    #[error(transparent)]
    Engine(#[from] WasmError),
    /// A component failed to build or load.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The checkpoints could not be opened or resumed from.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Old checkpoints could not be cleared, or a savepoint adopted.
    #[error(transparent)]
    Storage(#[from] crate::checkpoint::StorageError),
    /// The Kafka producer could not be opened.
    #[error(transparent)]
    Kafka(#[from] ConnectorError),
    /// A version a swap put live could not be loaded back.
    #[error(transparent)]
    Versions(#[from] Box<super::swap::SwapError>),
}

/// Removes the pid file when the run ends, however it ends.
pub struct PidFile(pub Option<PathBuf>);

impl Drop for PidFile {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A job ready to hand to [`crate::runtime::run`].
pub struct Prepared {
    /// The plan, with the operator versions it resumes with.
    pub plan: Arc<Plan>,
    /// Its coordinator, when it has `[checkpoint]`.
    pub coordinator: Option<Arc<Coordinator>>,
    /// How it runs.
    pub ctx: RunContext,
    /// Held while it runs.
    pub pid: PidFile,
    /// "resuming from checkpoint N (DIR)", when it resumes.
    pub resumed: Option<String>,
}

/// Prepare `loaded` to run in this process.
pub fn prepare(loaded: LoadedJob, recovery: &RecoveryOptions) -> Result<Prepared, StartError> {
    let name = loaded.spec.name.clone();
    let engine = WasmEngine::shared()?;
    let mut plan = crate::plan::prepare(loaded, engine)?;
    let (hits, misses) = engine.cache_stats();
    tracing::debug!(hits, misses, "compilation cache");
    // One run per job: a second would overwrite the first's checkpoints
    // and outputs. Checked before the coordinator tidies the directory.
    let pid = PidFile(match checkpoint_dir(&plan.job) {
        Some(dir) => {
            let p = dir.join(PID_FILE);
            if let Some(pid) = running_pid(&p)
                && pid != std::process::id()
            {
                return Err(StartError::AlreadyRunning {
                    job: name,
                    pid,
                    file: p,
                });
            }
            let io = |path: &std::path::Path| {
                let (job, path) = (name.clone(), path.to_path_buf());
                move |source| StartError::Io { job, path, source }
            };
            std::fs::create_dir_all(&dir).map_err(io(&dir))?;
            std::fs::write(&p, std::process::id().to_string()).map_err(io(&p))?;
            Some(p)
        }
        None => None,
    });
    let coordinator = Coordinator::new(&plan)?.map(Arc::new);
    // Kafka first: an exactly-once producer fences the job's previous
    // process and says which epoch committed last, which decides the
    // checkpoint to resume from.
    let kafka = Arc::new(crate::connector::kafka::KafkaOutputs::open(&plan.job)?);
    if let (Some(c), Some(epoch)) = (&coordinator, kafka.committed_epoch()?) {
        c.skip_to(epoch + 1);
    }
    let (restore, warnings) = resolve(&plan, coordinator.as_deref(), Some(&kafka), recovery)?;
    for w in warnings {
        tracing::warn!(job = %name, "{w}");
    }
    if let Some(c) = &coordinator {
        // Checkpoints of an earlier run must not be resumed later: a fresh
        // start clears them, and a start from a savepoint makes the
        // savepoint the job's first checkpoint.
        match &restore {
            None => c.store().clear()?,
            Some(r) if recovery.from_savepoint.is_some() => {
                c.store().clear()?;
                c.store().adopt(&r.info.path, r.epoch())?;
            }
            Some(_) => {}
        }
    }
    let resumed = restore.as_ref().map(|r| {
        format!(
            "resuming from {} {} ({})",
            if r.data.savepoint {
                "savepoint"
            } else {
                "checkpoint"
            },
            r.epoch(),
            r.info.path.display()
        )
    });
    if let Some(c) = &coordinator {
        super::swap::keep_versions(&mut plan, c, restore.as_ref(), engine).map_err(Box::new)?;
    }
    Ok(Prepared {
        plan: Arc::new(plan),
        ctx: RunContext {
            coordinator: coordinator.clone(),
            restore: restore.map(Arc::new),
            kafka: Some(kafka),
            stop: None,
            swaps: Default::default(),
            account: None,
        },
        coordinator,
        pid,
        resumed,
    })
}
