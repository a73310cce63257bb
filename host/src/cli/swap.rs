//! `weir swap`: put a new version of an operator live in a job that `weir
//! run` is running, at its next checkpoint barrier (see
//! [`weir::runtime::swap`]).
//!
//! Like `weir savepoint`, the control channel of a standalone `weir run` is
//! its checkpoint directory plus a signal: `weir swap` writes the request
//! (`_swap-request.json`) and sends SIGUSR2; the running process builds and
//! checks the new component *off the data path* — a component of another
//! world or contract version is refused there, and the old version keeps
//! running — then hands it to the coordinator, and answers in
//! `_swap-<id>.json` once the swap went live (or why it was refused).

use anyhow::{Context, bail};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weir::checkpoint::Coordinator;
use weir::checkpoint::coordinator::{PID_FILE, checkpoint_dir, running_pid};
use weir::control::swap::{Answer, CanaryRequest, Request, execute, new_id, short};
use weir::plan::Plan;
use weir::runtime::swap::Swaps;
use weir::runtime::versions::{Origin, Versions};

const REQUEST: &str = "_swap-request.json";

fn answer_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("_swap-{id}.json"))
}

/// Write `value` to `path` atomically (readers never see half a file).
fn write_json(path: &Path, value: &impl Serialize) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(value)?)
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// The client: ask the job running from `job` to swap `operator` to
/// `component`, wait, and report.
pub fn swap(
    job: &Path,
    set: &[String],
    operator: &str,
    component: &Path,
    canary: Option<CanaryRequest>,
    timeout: Duration,
) -> anyhow::Result<()> {
    send(job, set, operator, Some(component), canary, timeout)
}

/// The client of `weir rollback`: swap `operator` back to the version
/// before the live one, from the job's component store.
pub fn rollback(
    job: &Path,
    set: &[String],
    operator: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    send(job, set, operator, None, None, timeout)
}

fn send(
    job: &Path,
    set: &[String],
    operator: &str,
    component: Option<&Path>,
    canary: Option<CanaryRequest>,
    timeout: Duration,
) -> anyhow::Result<()> {
    let loaded = crate::cli::load_job(job, set)?;
    let Some(dir) = checkpoint_dir(&loaded) else {
        bail!(
            "{}: the job has no [checkpoint] section; a swap happens at a checkpoint barrier",
            job.display()
        );
    };
    let pid = running_pid(&dir.join(PID_FILE)).with_context(|| {
        format!(
            "job `{}` is not running here; start it with `weir run {}`",
            loaded.spec.name,
            job.display()
        )
    })?;
    let rollback = component.is_none();
    let component = match component {
        Some(c) => {
            std::fs::canonicalize(c).with_context(|| format!("component {}", c.display()))?
        }
        None => {
            let versions = Versions::new(&dir);
            let previous = versions.previous(operator)?;
            println!(
                "rolling `{operator}` back to {} (live {} before)",
                &previous.digest[..12],
                match previous.origin {
                    Origin::JobFile => "from the job file",
                    Origin::Swap => "by a swap",
                    Origin::Rollback => "by a rollback",
                }
            );
            versions.component(&previous.digest)
        }
    };
    let id = new_id();
    write_json(
        &dir.join(REQUEST),
        &Request {
            id,
            operator: operator.into(),
            component,
            canary,
            rollback,
        },
    )?;
    let status = std::process::Command::new("kill")
        .args(["-USR2", &pid.to_string()])
        .status()
        .context("running kill")?;
    if !status.success() {
        bail!("could not signal process {pid}");
    }
    let path = answer_path(&dir, id);
    let started = Instant::now();
    while started.elapsed() < timeout {
        if let Ok(bytes) = std::fs::read(&path) {
            let _ = std::fs::remove_file(&path);
            let a: Answer = serde_json::from_slice(&bytes).context("reading the answer")?;
            if let Some(c) = &a.canary {
                println!("canary: {c}");
            }
            return match (a.epoch, a.error) {
                (Some(epoch), _) => {
                    println!(
                        "operator `{operator}` of job `{}` is now {} (live after checkpoint barrier {epoch})",
                        loaded.spec.name,
                        a.digest.as_deref().map_or("", short)
                    );
                    Ok(())
                }
                (None, error) => bail!(
                    "swap refused, the old version keeps running: {}",
                    error.unwrap_or_default()
                ),
            };
        }
        std::thread::sleep(Duration::from_millis(20));
        if !alive(pid) && !path.exists() {
            bail!(
                "job `{}` (process {pid}) ended before it answered; the swap did not happen",
                loaded.spec.name
            );
        }
    }
    bail!("no answer from the job within {timeout:?}; is it stuck? (see its log)")
}

/// The running job's side: read the request in `dir`, build and check the
/// new version, hand it to the coordinator, answer when it went live.
pub fn serve_request(plan: &Arc<Plan>, coordinator: &Coordinator, swaps: &Swaps, dir: &Path) {
    let request: Request = match std::fs::read(dir.join(REQUEST))
        .map_err(anyhow::Error::from)
        .and_then(|b| serde_json::from_slice(&b).map_err(Into::into))
    {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("swap requested, but {} is unreadable: {e}", REQUEST);
            return;
        }
    };
    let _ = std::fs::remove_file(dir.join(REQUEST));
    let id = request.id;
    let answer = execute(plan, coordinator, swaps, dir, request);
    if let Err(e) = write_json(&answer_path(dir, id), &answer) {
        tracing::warn!("answering the swap request: {e:#}");
    }
}

/// Whether process `pid` still runs (an exited one that its parent has
/// not reaped yet, a zombie, does not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // `pid (name) S ...`: the state follows the last `)`.
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| !matches!(rest.trim_start().chars().next(), Some('Z' | 'X')))
    })
}
