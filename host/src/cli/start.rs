//! Starting a job: what `weir run` and `weir serve` share — claim the
//! checkpoint directory, open the coordinator and Kafka producer, decide
//! the checkpoint to resume from, and put back operator versions a swap
//! made live.

use anyhow::Context;
use std::path::PathBuf;
use std::sync::Arc;
use weir::checkpoint::Coordinator;
use weir::checkpoint::coordinator::{PID_FILE, checkpoint_dir, running_pid};
use weir::checkpoint::recovery::{RecoveryOptions, resolve};
use weir::job::LoadedJob;
use weir::plan::Plan;
use weir::runtime::RunContext;
use weir::wasm::WasmEngine;

/// Removes the pid file when the run ends, however it ends.
pub struct PidFile(pub Option<PathBuf>);

impl Drop for PidFile {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A job ready to hand to [`weir::runtime::run`].
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
pub fn prepare(loaded: LoadedJob, recovery: &RecoveryOptions) -> anyhow::Result<Prepared> {
    let name = loaded.spec.name.clone();
    let engine = WasmEngine::shared()?;
    let mut plan = weir::plan::prepare(loaded, engine)?;
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
                anyhow::bail!(
                    "job `{name}` is already running (process {pid}, see {}); two runs would overwrite each other's checkpoints and outputs",
                    p.display()
                );
            }
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            std::fs::write(&p, std::process::id().to_string())
                .with_context(|| format!("writing {}", p.display()))?;
            Some(p)
        }
        None => None,
    });
    let coordinator = Coordinator::new(&plan)?.map(Arc::new);
    // Kafka first: an exactly-once producer fences the job's previous
    // process and says which epoch committed last, which decides the
    // checkpoint to resume from.
    let kafka = Arc::new(weir::connector::kafka::KafkaOutputs::open(&plan.job)?);
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
        crate::cli::swap::keep_versions(&mut plan, c, restore.as_ref(), engine)?;
    }
    Ok(Prepared {
        plan: Arc::new(plan),
        ctx: RunContext {
            coordinator: coordinator.clone(),
            restore: restore.map(Arc::new),
            kafka: Some(kafka),
            stop: None,
            swaps: Default::default(),
        },
        coordinator,
        pid,
        resumed,
    })
}
