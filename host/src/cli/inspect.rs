//! Looking at things without running them: checkpoint directories, a
//! built component's world, the files a job names.

use anyhow::bail;
use weir::wasm::{WasmEngine, World};

/// `weir checkpoints list`: a checkpoint directory's checkpoints.
pub fn list_checkpoints(dir: &std::path::Path) -> anyhow::Result<()> {
    let store = weir::checkpoint::CheckpointStore::inspect(dir)?;
    println!(
        "{:>8}  {:<20}  {:<24}  {:>12}  {:>10}",
        "epoch", "job", "completed (UTC ms)", "size", "duration"
    );
    for c in store.list()? {
        match c {
            Ok(c) => {
                let m = &c.metadata;
                println!(
                    "{:>8}  {:<20}  {:<24}  {:>12}  {:>8}ms",
                    m.epoch, m.job, m.completed_ms, c.size, m.duration_ms
                );
            }
            Err(e) => println!("{:>8}  damaged: {e}", "-"),
        }
    }
    Ok(())
}

/// The world a built component implements, from its exports.
pub fn world_of(wasm: &std::path::Path) -> anyhow::Result<World> {
    let engine = WasmEngine::shared()?;
    for w in [
        World::Transform,
        World::Keyed,
        World::Aggregate,
        World::Columns,
        World::ColumnAggregate,
        World::ColumnKeyed,
    ] {
        if weir::wasm::LoadedComponent::load(engine, "build", wasm, w).is_ok() {
            return Ok(w);
        }
    }
    // Report the transform check's error: it names what the component exports.
    weir::wasm::LoadedComponent::load(engine, "build", wasm, World::Transform)?;
    bail!("unreachable")
}

/// `weir validate` without `--components`: the files a job names exist.
pub fn check_paths(job: &weir::job::LoadedJob) -> anyhow::Result<()> {
    let spec = &job.spec;
    let mut missing = Vec::new();
    for (at, op) in spec.wasm_operators() {
        let p = job.resolve(&op.component);
        if !p.exists() {
            missing.push(format!(
                "  - {at}.component: {} does not exist",
                p.display()
            ));
        }
    }
    for (_, at, source) in spec.all_sources() {
        if let weir::job::SourceSpec::File { path, .. } = source
            && !job.resolve(path).is_file()
        {
            missing.push(format!(
                "  - {at}.path: {} does not exist",
                job.resolve(path).display()
            ));
        }
    }
    if !missing.is_empty() {
        bail!(
            "{}: {} problem(s):\n{}",
            job.path.display(),
            missing.len(),
            missing.join("\n")
        );
    }
    Ok(())
}
