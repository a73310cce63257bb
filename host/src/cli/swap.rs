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
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weir::checkpoint::Coordinator;
use weir::checkpoint::RestorePoint;
use weir::checkpoint::coordinator::{PID_FILE, checkpoint_dir, running_pid};
use weir::plan::{Plan, PlannedStage, WindowAgg, load_operator};
use weir::runtime::swap::{Swap, Swaps};
use weir::runtime::versions::{Origin, Versions};
use weir::wasm::World;

const REQUEST: &str = "_swap-request.json";

/// A swap asked for.
#[derive(Serialize, Deserialize)]
pub struct Request {
    /// Unique per request.
    pub id: u64,
    /// The operator to swap.
    pub operator: String,
    /// The new version's component.
    pub component: PathBuf,
    /// Run the new version in shadow first.
    pub canary: Option<CanaryRequest>,
    /// This puts an earlier version back (`weir rollback`).
    #[serde(default)]
    pub rollback: bool,
}

/// `--canary RECORDS` and/or `--canary-for DURATION`, `--max-error-rate RATE`.
#[derive(Serialize, Deserialize, Clone, Copy)]
pub struct CanaryRequest {
    /// Records the shadow must see before it is promoted (0: no count).
    #[serde(default)]
    pub records: u64,
    /// Or: how long it runs before the verdict, ms.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// Share of the records it saw that it may reject; above it, or on a
    /// trap, it is rolled back.
    #[serde(default)]
    pub max_error_rate: f64,
}

/// How a swap went.
#[derive(Serialize, Deserialize, Default)]
pub struct Answer {
    /// The epoch whose barrier the new version follows, if it went live.
    pub epoch: Option<u64>,
    /// The live version's digest, if it went live.
    pub digest: Option<String>,
    /// Why it was refused or rolled back.
    pub error: Option<String>,
    /// What the canary saw, if there was one.
    pub canary: Option<String>,
}

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
    let loaded = weir::job::load(job, set)?;
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

/// The first 12 digits of a digest, as shown to users.
pub fn short(digest: &str) -> &str {
    &digest[..12.min(digest.len())]
}

/// A request id: unique enough (nanoseconds since the epoch).
pub fn new_id() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

/// Carry out `request` on the running job: build and check the new
/// version, hand it to the coordinator, wait until it went live (or the
/// canary decided), and record the new version in the job's history in
/// `dir`.
pub fn execute(
    plan: &Arc<Plan>,
    coordinator: &Coordinator,
    swaps: &Swaps,
    dir: &Path,
    request: Request,
) -> Answer {
    let (answer, component) = match prepare(plan, &request) {
        Err(e) => (
            Answer {
                error: Some(format!("{e:#}")),
                ..Answer::default()
            },
            None,
        ),
        Ok(swap) => {
            let component = swap.op.component.clone();
            let answer = match request.canary {
                None => go_live(coordinator, swaps, swap),
                Some(c) => run_canary(plan, coordinator, swaps, swap, c),
            };
            (answer, Some(component))
        }
    };
    if let (Some(epoch), Some(component)) = (answer.epoch, component) {
        let origin = if request.rollback {
            Origin::Rollback
        } else {
            Origin::Swap
        };
        if let Err(e) =
            Versions::new(dir).record(&request.operator, &component, origin, Some(epoch))
        {
            tracing::warn!("recording the new version: {e}");
        }
    }
    if let Some(e) = &answer.error {
        tracing::warn!(job = %plan.job.spec.name, operator = %request.operator, "swap refused: {e}");
    } else {
        tracing::info!(job = %plan.job.spec.name, operator = %request.operator,
            "{} {} live after checkpoint barrier {}",
            if request.rollback { "rolled back to" } else { "swapped to" },
            answer.digest.as_deref().map_or("", short),
            answer.epoch.unwrap_or_default());
    }
    answer
}

/// Hand `swap` to the coordinator and wait until it went live.
fn go_live(coordinator: &Coordinator, swaps: &Swaps, swap: Swap) -> Answer {
    let (id, digest) = (swap.id, swap.op.component.digest.clone());
    swaps.request(coordinator, swap);
    match wait_swapped(swaps, id) {
        Ok(epoch) => Answer {
            epoch: Some(epoch),
            digest: Some(digest),
            ..Answer::default()
        },
        Err(e) => Answer {
            error: Some(e),
            ..Answer::default()
        },
    }
}

fn wait_swapped(swaps: &Swaps, id: u64) -> Result<u64, String> {
    let started = Instant::now();
    loop {
        if let Some(epoch) = swaps.swapped_at(id) {
            return Ok(epoch);
        }
        if started.elapsed() > Duration::from_secs(120) {
            return Err("no barrier within 120 s (has the source stopped?)".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Run the new version in shadow until it has seen `c.records` records,
/// then promote it (an ordinary swap) or roll it back.
fn run_canary(
    plan: &Plan,
    coordinator: &Coordinator,
    swaps: &Swaps,
    swap: Swap,
    c: CanaryRequest,
) -> Answer {
    let (id, operator, op) = (swap.id, swap.operator.clone(), swap.op.clone());
    let canary = swaps.request(coordinator, Swap::canary(id, &operator, op.clone()));
    let fail = |error: String, report: Option<String>| Answer {
        error: Some(error),
        canary: report,
        ..Answer::default()
    };
    if let Err(e) = wait_swapped(swaps, id) {
        return fail(e, None);
    }
    let Some(stats) = &canary.canary else {
        return fail("internal: the canary has no counters".into(), None);
    };
    use std::sync::atomic::Ordering::Relaxed;
    // Errors allowed among `seen` records.
    let budget = |seen: u64| (c.max_error_rate * seen as f64).floor() as u64;
    let too_many = |errors: u64, records: u64| {
        format!(
            "the new version rejected {errors} of {records} records, more than the allowed {:.2}%",
            c.max_error_rate * 100.0
        )
    };
    let period = c.duration_ms.map(Duration::from_millis);
    let started = Instant::now();
    let verdict: Result<(), String> = loop {
        if let Some(t) = stats
            .trapped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            break Err(format!("the new version failed: {t}"));
        }
        let (records, errors) = (stats.records.load(Relaxed), stats.errors.load(Relaxed));
        // Over the budget of the whole count already: no need to wait.
        if c.records > 0 && errors > budget(c.records) {
            break Err(too_many(errors, records));
        }
        let counted = c.records > 0 && records >= c.records;
        let timed = period.is_some_and(|p| started.elapsed() >= p);
        if counted || timed {
            if records == 0 {
                break Err(format!(
                    "it saw no records in {:?}: nothing to judge it by",
                    started.elapsed()
                ));
            }
            if errors > budget(records) {
                break Err(too_many(errors, records));
            }
            break Ok(());
        }
        if period.is_none() && started.elapsed() > Duration::from_secs(600) {
            break Err(format!(
                "only {records} of {} records in 10 minutes",
                c.records
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    stats.stop.store(true, Relaxed);
    let report = format!(
        "{} records, {} rejected, {} of {} batches with output different from the old version's",
        stats.records.load(Relaxed),
        stats.errors.load(Relaxed),
        stats.differing_batches.load(Relaxed),
        stats.batches.load(Relaxed),
    );
    match verdict {
        Err(why) => {
            tracing::warn!(operator = %operator, "canary rolled back: {why}");
            fail(format!("canary rolled back: {why}"), Some(report))
        }
        Ok(()) => {
            tracing::info!(operator = %operator, "canary promoted: {report}");
            let promoted = Swap::new(id + 1, &operator, op);
            if let Err(e) = promoted.prepare(plan) {
                return fail(
                    format!("the promoted version failed to start: {e}"),
                    Some(report),
                );
            }
            let mut answer = go_live(coordinator, swaps, promoted);
            answer.canary = Some(format!("promoted after {report}"));
            answer
        }
    }
}

/// Build and check the new version of the operator the request names.
fn prepare(plan: &Plan, request: &Request) -> anyhow::Result<Swap> {
    let name = &request.operator;
    let (old, world) = if let Some(op) = plan.chain.iter().find(|o| &o.spec.name == name) {
        (op, World::Transform)
    } else {
        match &plan.stage {
            Some(PlannedStage::Keyed(op)) if &op.spec.name == name => {
                if request.canary.is_some() {
                    bail!(
                        "`{name}` is a keyed operator: a canary of it would write the state the running version reads; swap it without --canary"
                    );
                }
                (op, World::Keyed)
            }
            Some(PlannedStage::Window {
                aggregate: WindowAgg::Wasm(op),
                ..
            }) if &op.spec.name == name => {
                if request.canary.is_some() {
                    bail!(
                        "`{name}` is a window aggregate: a canary of it would update the accumulators the running version reads; swap it without --canary"
                    );
                }
                (&**op, World::Aggregate)
            }
            _ => bail!("the job has no Wasm operator named `{name}`"),
        }
    };
    let mut spec = old.spec.clone();
    spec.component = request.component.clone();
    let op = load_operator(&plan.job, plan.engine, &spec, world)
        .with_context(|| format!("the new version of `{name}`"))?;
    let swap = Swap::new(request.id, name, op);
    // A canary makes its shadows at the barrier (they are not on the data
    // path); a swap makes its instances now.
    if request.canary.is_none() {
        swap.prepare(plan)
            .with_context(|| format!("starting the new version of `{name}`"))?;
    }
    Ok(swap)
}

/// At start: run the versions a resumed job's checkpoint recorded where a
/// swap put them live (see [`weir::runtime::versions`]), and record the
/// versions the job starts with.
pub fn keep_versions(
    plan: &mut Plan,
    coordinator: &Coordinator,
    restore: Option<&RestorePoint>,
    engine: &'static weir::wasm::WasmEngine,
) -> anyhow::Result<()> {
    let versions = Versions::new(coordinator.dir());
    let job = plan.job.clone();
    let mut ops: Vec<(&mut weir::plan::PlannedOperator, World)> = plan
        .chain
        .iter_mut()
        .map(|op| (op, World::Transform))
        .collect();
    match &mut plan.stage {
        Some(PlannedStage::Keyed(op)) => ops.push((op, World::Keyed)),
        Some(PlannedStage::Window {
            aggregate: WindowAgg::Wasm(op),
            ..
        }) => ops.push((op, World::Aggregate)),
        _ => {}
    }
    for (op, world) in ops {
        let name = op.spec.name.clone();
        versions.record(&name, &op.component, Origin::JobFile, None)?;
        let Some(saved) = restore.and_then(|r| r.data.components.get(&name)) else {
            continue;
        };
        if let Some(stored) = versions.resumed(&name, &op.component.digest, saved)? {
            let mut spec = op.spec.clone();
            spec.component = stored;
            *op = load_operator(&job, engine, &spec, world)?;
            coordinator.set_component(&name, &op.component.digest);
            tracing::info!(operator = %name, digest = &saved[..12],
                "resuming with the version a swap put live (the job file still names the one it replaced)");
        }
    }
    Ok(())
}
