//! `weir savepoint`: ask a running `weir run` for a savepoint and wait for it.
//!
//! The control channel of a standalone `weir run` is a signal: the running
//! process writes its pid into the job's checkpoint directory; SIGUSR1 makes
//! its source inject a barrier at once, and the checkpoint it completes is
//! linked into `savepoints/sp-<epoch>`, outside retention.

use anyhow::{Context, bail};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use weir::checkpoint::coordinator::{PID_FILE, checkpoint_dir, running_pid};

fn savepoints(dir: &Path) -> BTreeSet<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name().is_some_and(|n| {
                        n.to_string_lossy().starts_with("sp-")
                            && !n.to_string_lossy().ends_with(".tmp")
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Trigger a savepoint of the job running from `job` and print its path.
pub fn savepoint(job: &Path, set: &[String], timeout: Duration) -> anyhow::Result<()> {
    let loaded = crate::cli::load_job(job, set)?;
    let Some(dir) = checkpoint_dir(&loaded) else {
        bail!(
            "{}: the job has no [checkpoint] section, so it cannot take savepoints",
            job.display()
        );
    };
    let pid_file = dir.join(PID_FILE);
    let pid = running_pid(&pid_file).with_context(|| {
        format!(
            "job `{}` is not running here (no live process in {}); start it with `weir run {}`",
            loaded.spec.name,
            pid_file.display(),
            job.display()
        )
    })?;
    let sp_dir = dir.join("savepoints");
    let before = savepoints(&sp_dir);
    let status = std::process::Command::new("kill")
        .args(["-USR1", &pid.to_string()])
        .status()
        .context("running kill")?;
    if !status.success() {
        bail!("could not signal process {pid}");
    }
    let started = Instant::now();
    while started.elapsed() < timeout {
        if let Some(new) = savepoints(&sp_dir).difference(&before).next() {
            println!("{}", new.display());
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!(
        "no savepoint appeared in {} within {:?}; is the job stuck? (see its log)",
        sp_dir.display(),
        timeout
    )
}
