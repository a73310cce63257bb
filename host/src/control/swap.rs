//! Live swap, canary and rollback of a running job's operator, as `weir
//! swap` / `weir rollback` (local or through `weir serve`) ask for them:
//! the new version is built and checked off the data path, then handed to
//! the job's [`Swaps`] to go live behind the next checkpoint barrier (see
//! [`crate::runtime::swap`]); a canary runs it in shadow first and promotes
//! or rolls it back. Every version that goes live is recorded in the job's
//! history ([`Versions`]).

use crate::checkpoint::{Coordinator, RestorePoint};
use crate::plan::{Plan, PlanError, PlannedStage, WindowAgg, load_operator};
use crate::runtime::swap::{Swap, Swaps};
use crate::runtime::versions::{Origin, VersionError, Versions};
use crate::wasm::{WasmError, World};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why a swap was refused before it was tried.
#[derive(Debug, thiserror::Error)]
pub enum SwapError {
    /// The job has no Wasm operator of that name.
    #[error("the job has no Wasm operator named `{0}`")]
    NoOperator(String),
    /// A canary of an operator whose state the running version uses.
    #[error(
        "`{operator}` is a {what}: a canary of it would write the state the running version reads; swap it without --canary"
    )]
    CanaryOfState {
        /// The operator.
        operator: String,
        /// "keyed operator" or "window aggregate".
        what: &'static str,
    },
    /// The new version failed to build, load or pass the world check.
    #[error("the new version of `{operator}`: {source}")]
    Load {
        /// The operator.
        operator: String,
        /// Why.
        source: Box<PlanError>,
    },
    /// The new version of a window aggregate speaks the other contract
    /// version: its accumulators would not read the running one's.
    #[error(
        "the new version of `{operator}` is a {new}, the running one a {old}: their accumulators are not interchangeable; keep the contract version, or run the new one as a new job"
    )]
    AggregateContract {
        /// The operator.
        operator: String,
        /// The running version's kind.
        old: &'static str,
        /// The new version's kind.
        new: &'static str,
    },
    /// The new version failed to start (instantiate, `init`).
    #[error("starting the new version of `{operator}`: {source}")]
    Start {
        /// The operator.
        operator: String,
        /// Why.
        source: Box<WasmError>,
    },
    /// The job's version history could not be read or written.
    #[error(transparent)]
    Versions(#[from] VersionError),
}

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
    dir: &std::path::Path,
    request: Request,
) -> Answer {
    let (answer, component) = match prepare(plan, &request) {
        Err(e) => (
            Answer {
                error: Some(e.to_string()),
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
            error: Some(e.to_string()),
            ..Answer::default()
        },
    }
}

/// A swap waited for a barrier that did not come.
#[derive(Debug, thiserror::Error)]
#[error("no barrier within {} s (has the source stopped?)", SWAP_WAIT.as_secs())]
pub(crate) struct NoBarrier;

/// How long a swap waits for the barrier it goes live at.
const SWAP_WAIT: Duration = Duration::from_secs(120);

fn wait_swapped(swaps: &Swaps, id: u64) -> Result<u64, NoBarrier> {
    let started = Instant::now();
    loop {
        if let Some(epoch) = swaps.swapped_at(id) {
            return Ok(epoch);
        }
        if started.elapsed() > SWAP_WAIT {
            return Err(NoBarrier);
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
    // Status pages follow it until it is decided, whatever the way out.
    struct Judged<'a>(&'a Swaps);
    impl Drop for Judged<'_> {
        fn drop(&mut self) {
            self.0.judged();
        }
    }
    swaps.judging(crate::runtime::swap::Judging {
        swap: canary.clone(),
        records: c.records,
        duration_ms: c.duration_ms,
        started_ms: crate::time::now_ms(),
    });
    let _judged = Judged(swaps);
    let fail = |error: String, report: Option<String>| Answer {
        error: Some(error),
        canary: report,
        ..Answer::default()
    };
    if let Err(e) = wait_swapped(swaps, id) {
        return fail(e.to_string(), None);
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
    // Why it is rolled back; `None`: promoted.
    let rollback: Option<String> = loop {
        if let Some(t) = stats
            .trapped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            break Some(format!("the new version failed: {t}"));
        }
        let (records, errors) = (stats.records.load(Relaxed), stats.errors.load(Relaxed));
        // Over the budget of the whole count already: no need to wait.
        if c.records > 0 && errors > budget(c.records) {
            break Some(too_many(errors, records));
        }
        let counted = c.records > 0 && records >= c.records;
        let timed = period.is_some_and(|p| started.elapsed() >= p);
        if counted || timed {
            if records == 0 {
                break Some(format!(
                    "it saw no records in {:?}: nothing to judge it by",
                    started.elapsed()
                ));
            }
            if errors > budget(records) {
                break Some(too_many(errors, records));
            }
            break None;
        }
        if period.is_none() && started.elapsed() > Duration::from_secs(600) {
            break Some(format!(
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
    match rollback {
        Some(why) => {
            tracing::warn!(operator = %operator, "canary rolled back: {why}");
            fail(format!("canary rolled back: {why}"), Some(report))
        }
        None => {
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
fn prepare(plan: &Plan, request: &Request) -> Result<Swap, SwapError> {
    let name = &request.operator;
    let (old, world) = if let Some(op) = plan.chain.iter().find(|o| &o.spec.name == name) {
        // A new version implements the world the running one does.
        (op, op.component.world)
    } else {
        match &plan.stage {
            Some(PlannedStage::Keyed(op)) if &op.spec.name == name => {
                if request.canary.is_some() {
                    return Err(SwapError::CanaryOfState {
                        operator: name.clone(),
                        what: "keyed operator",
                    });
                }
                (op, World::Keyed)
            }
            Some(PlannedStage::Window {
                aggregate: WindowAgg::Wasm(op),
                ..
            }) if &op.spec.name == name => {
                if request.canary.is_some() {
                    return Err(SwapError::CanaryOfState {
                        operator: name.clone(),
                        what: "window aggregate",
                    });
                }
                (&**op, World::Aggregate)
            }
            _ => match plan
                .graph_operators()
                .into_iter()
                .find(|(o, _)| &o.spec.name == name)
            {
                Some((op, world)) => {
                    let what = match world {
                        World::Keyed | World::ColumnKeyed => Some("keyed operator"),
                        World::Aggregate => Some("window aggregate"),
                        _ => None,
                    };
                    if let (Some(what), Some(_)) = (what, &request.canary) {
                        return Err(SwapError::CanaryOfState {
                            operator: name.clone(),
                            what,
                        });
                    }
                    (op, world)
                }
                None => return Err(SwapError::NoOperator(name.clone())),
            },
        }
    };
    let mut spec = old.spec.clone();
    spec.component = request.component.clone();
    let op =
        load_operator(&plan.job, plan.engine, &spec, world).map_err(|source| SwapError::Load {
            operator: name.clone(),
            source: Box::new(source),
        })?;
    let kind = |w: World| match w {
        World::ColumnAggregate => "window aggregate over columns (weir:dataflow@0.2)",
        _ => "window aggregate over events (weir:dataflow@0.1)",
    };
    let aggregates = [World::Aggregate, World::ColumnAggregate];
    if aggregates.contains(&old.component.world) && op.component.world != old.component.world {
        return Err(SwapError::AggregateContract {
            operator: name.clone(),
            old: kind(old.component.world),
            new: kind(op.component.world),
        });
    }
    let swap = Swap::new(request.id, name, op);
    // A canary makes its shadows at the barrier (they are not on the data
    // path); a swap makes its instances now.
    if request.canary.is_none() {
        swap.prepare(plan).map_err(|source| SwapError::Start {
            operator: name.clone(),
            source: Box::new(source),
        })?;
    }
    Ok(swap)
}

/// At start: run the versions a resumed job's checkpoint recorded where a
/// swap put them live (see [`crate::runtime::versions`]), and record the
/// versions the job starts with.
pub fn keep_versions(
    plan: &mut Plan,
    coordinator: &Coordinator,
    restore: Option<&RestorePoint>,
    engine: &'static crate::wasm::WasmEngine,
) -> Result<(), SwapError> {
    let versions = Versions::new(coordinator.dir());
    let job = plan.job.clone();
    let mut ops: Vec<(&mut crate::plan::PlannedOperator, World)> = plan
        .chain
        .iter_mut()
        .map(|op| {
            let world = op.component.world;
            (op, world)
        })
        .collect();
    match &mut plan.stage {
        Some(PlannedStage::Keyed(op)) => ops.push((op, World::Keyed)),
        Some(PlannedStage::Window {
            aggregate: WindowAgg::Wasm(op),
            ..
        }) => ops.push((op, World::Aggregate)),
        _ => {}
    }
    ops.extend(crate::plan::graph_operators_mut(&mut plan.graph));
    for (op, world) in ops {
        let name = op.spec.name.clone();
        versions.record(&name, &op.component, Origin::JobFile, None)?;
        let Some(saved) = restore.and_then(|r| r.data.components.get(&name)) else {
            continue;
        };
        if let Some(stored) = versions.resumed(&name, &op.component.digest, saved)? {
            let mut spec = op.spec.clone();
            spec.component = stored;
            *op = load_operator(&job, engine, &spec, world).map_err(|source| SwapError::Load {
                operator: name.clone(),
                source: Box::new(source),
            })?;
            coordinator.set_component(&name, &op.component.digest);
            tracing::info!(operator = %name, digest = &saved[..12],
                "resuming with the version a swap put live (the job file still names the one it replaced)");
        }
    }
    Ok(())
}
