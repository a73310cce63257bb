//! `swap`: the pause a live swap puts into the data path.
//!
//! A generator feeds a Wasm map+filter at full speed (parallelism 2); the
//! operator is swapped 100 times, to alternating builds already compiled
//! and instantiated (as `weir swap` does before the barrier). Each
//! subtask's pause is the time from the swap message reaching it to its
//! next record: taking the new instance and dropping the old one. The
//! baseline is the time one batch of 1,000 records takes through the same
//! operator (median of 20), the job's ordinary step.

use crate::checkpoint::Coordinator;
use crate::plan::{load_operator, prepare};
use crate::runtime::swap::Swap;
use crate::runtime::{Metrics, RunContext, run as run_job};
use crate::wasm::instance::TransformInstance;
use crate::wasm::{WasmEngine, World};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// 100 swaps of a transform in a running job: pause p50/p99.
pub fn pause(engine: &'static WasmEngine, operator: &Path) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("job.toml");
    std::fs::write(
        &path,
        format!(
            r#"name = "bench-swap"
parallelism = 2
batch_size = 1000
[source]
type = "datagen"
schema = "transactions"
rows = 3000000
rate = 300000
[[operators]]
name = "map-filter"
component = "{op}"
[sink]
type = "discard"
[checkpoint]
interval = "1h"
dir = "{chk}"
"#,
            op = operator.display(),
            chk = dir.path().join("checkpoints").display()
        ),
    )?;
    let plan = Arc::new(prepare(crate::job::load(&path, &[])?, engine)?);
    let coordinator = Coordinator::new(&plan)?
        .map(Arc::new)
        .ok_or_else(|| anyhow::anyhow!("the benchmark job has checkpoints"))?;
    let new = load_operator(
        &plan.job,
        engine,
        &plan.job.spec.operators[0],
        World::Transform,
    )?;
    let metrics = Arc::new(Metrics::default());
    let swaps = std::sync::Arc::new(crate::runtime::swap::Swaps::default());
    let job = {
        let (plan, metrics, c, swaps) = (
            plan.clone(),
            metrics.clone(),
            coordinator.clone(),
            swaps.clone(),
        );
        std::thread::spawn(move || {
            run_job(
                plan,
                metrics,
                RunContext {
                    coordinator: Some(c),
                    swaps,
                    ..RunContext::default()
                },
            )
        })
    };
    std::thread::sleep(Duration::from_secs(1));
    let mut pauses = Vec::new();
    for id in 1..=100 {
        // As `weir swap` does: instances made before the barrier.
        let swap = Swap::new(id, "map-filter", new.clone());
        swap.prepare(&plan)?;
        let swap = swaps.request(&coordinator, swap);
        let started = Instant::now();
        while swap.pauses.lock().map(|p| p.len()).unwrap_or(0) < 2 {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(10),
                "swap {id} did not happen"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        pauses.extend(swap.pauses.lock().map(|p| p.clone()).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(20));
    }
    job.join()
        .map_err(|_| anyhow::anyhow!("the job thread panicked"))??;
    pauses.sort_unstable();
    let pct = |q: f64| pauses[((pauses.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
    let mut inst = TransformInstance::new(&plan.instance_spec(&new, 0))?;
    let batches = super::datagen_batches(20_000, 1000, 1000);
    let mut times: Vec<f64> = batches
        .iter()
        .map(|b| {
            let t = Instant::now();
            let _ = inst.process(b);
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let batch_ms = times[times.len() / 2];
    println!(
        "| live swap pause of a Wasm transform, 100 swaps × 2 subtasks, while processing (p50 / p99 / max) vs one batch of 1,000 records | {:.3} / {:.3} / {:.3} ms | {batch_ms:.3} ms | |",
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    Ok(())
}
