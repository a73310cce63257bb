//! Checkpoint benchmarks: what checkpoints cost a running job, how big and
//! slow they are as state grows, how much of a second checkpoint is new,
//! and how long restoring takes.

use super::{job, rate};
use crate::checkpoint::Coordinator;
use crate::plan::prepare;
use crate::runtime::{Metrics, RunContext, run as run_job};
use crate::state::{
    KeyedStateBackend, MemoryBackend, RocksMemory, RocksStore, StateKind, state_key,
};
use crate::wasm::WasmEngine;
use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("weir-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The same windowed job with checkpoints every second and without, with
/// window contents on the heap (`memory`) or in RocksDB; and, for RocksDB,
/// the job without checkpoints vs the heap (what keeping windows in RocksDB
/// costs).
pub fn overhead(
    engine: &'static WasmEngine,
    records: u64,
    keys: u64,
    backend: &str,
) -> anyhow::Result<()> {
    let dir = scratch("checkpoints");
    let state = dir.join("state");
    let text = |checkpoint: &str| {
        format!(
            r#"name = "bench-checkpoint"
parallelism = 2
batch_size = 1000
[source]
type = "datagen"
schema = "transactions"
rows = {records}
keys = {keys}
seed = 1
step_ms = 1
[event_time]
field = "ts"
[key_by]
field = "user"
[window]
type = "tumbling"
size = "10m"
aggregates = [{{ fn = "count" }}, {{ fn = "sum", field = "amount" }}]
[sink]
type = "discard"
[late_output]
type = "discard"
[state]
backend = "{backend}"
path = "{state}"
{checkpoint}"#,
            state = state.display()
        )
    };
    let timed = |text: String| -> anyhow::Result<(u64, f64, u64)> {
        let plan = Arc::new(prepare(job(&text)?, engine)?);
        let coordinator = Coordinator::new(&plan)?.map(Arc::new);
        let ctx = RunContext {
            coordinator,
            ..RunContext::default()
        };
        let t = Instant::now();
        let summary = run_job(plan, Arc::new(Metrics::default()), ctx)?;
        Ok((
            summary.records_in,
            t.elapsed().as_secs_f64(),
            summary.checkpoints,
        ))
    };
    let (n, without, _) = timed(text(""))?;
    let (_, with, checkpoints) = timed(text(&format!(
        "[checkpoint]\ninterval = \"1s\"\ndir = \"{}\"\n",
        dir.join("checkpoints").display()
    )))?;
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "| tumbling 10 min count+sum, {keys} keys, {n} events, parallelism 2, windows in {backend}, checkpoints every 1 s ({checkpoints} taken) vs none | {} | {} | {:.2}× |",
        rate(n, with),
        rate(n, without),
        without / with
    );
    Ok(())
}

fn value(i: u64, round: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(100);
    let mut x = (i ^ (round << 40)).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    while v.len() < 100 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(100);
    v
}

fn key(i: u64) -> Vec<u8> {
    state_key(StateKind::Value, "v", format!("user-{i}").as_bytes())
}

/// Files under `dir`: total bytes, and (inode → size) for sharing checks.
fn files(dir: &Path) -> (u64, Vec<(u64, u64)>) {
    let mut total = 0;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else {
                total += m.len();
                out.push((m.ino(), m.len()));
            }
        }
    }
    (total, out)
}

/// RocksDB checkpoints of `keys` keys of 100 bytes: the first one, and a
/// second after 1% of the keys changed (how much of it is new); then the
/// time to restore from it, vs the memory backend's snapshot of the same.
pub fn size_and_recovery(keys: u64) -> anyhow::Result<()> {
    let dir = scratch("rocks-checkpoint");
    let memory = RocksMemory::new(256 << 20, 64 << 20);
    let store = RocksStore::open_fresh(&dir.join("db"), &memory)?;
    let mut b = store.backend();
    for i in 0..keys {
        b.put(key(i), value(i, 0))?;
    }
    store.compact();
    let t = Instant::now();
    b.snapshot_into(&dir.join("chk-1"))?;
    let first_secs = t.elapsed().as_secs_f64();
    let (first_size, first_files) = files(&dir.join("chk-1"));
    let changed = keys / 100;
    for j in 0..changed {
        let i = j.wrapping_mul(0x9e37_79b9_7f4a_7c15) % keys;
        b.put(key(i), value(i, 1))?;
    }
    let t = Instant::now();
    b.snapshot_into(&dir.join("chk-2"))?;
    let second_secs = t.elapsed().as_secs_f64();
    let (second_size, second_files) = files(&dir.join("chk-2"));
    let shared: HashSet<u64> = first_files.iter().map(|(ino, _)| *ino).collect();
    let new_bytes: u64 = second_files
        .iter()
        .filter(|(ino, _)| !shared.contains(ino))
        .map(|(_, size)| size)
        .sum();
    drop(b);
    drop(store);
    println!(
        "| RocksDB checkpoint, {keys} keys × 100 B: first (duration, size) | {:.0} ms, {:.1} MB | — | — |",
        first_secs * 1e3,
        first_size as f64 / 1e6
    );
    println!(
        "| RocksDB checkpoint after 1% of {keys} keys changed: duration, size, new bytes (rest hard-linked) | {:.0} ms, {:.1} MB, {:.2} MB new = {:.2}% | — | — |",
        second_secs * 1e3,
        second_size as f64 / 1e6,
        new_bytes as f64 / 1e6,
        100.0 * new_bytes as f64 / second_size.max(1) as f64
    );
    // Recovery: open the checkpoint as a live database and read from it.
    let t = Instant::now();
    let restored = RocksStore::restore(&dir.join("chk-2"), &dir.join("restored"), &memory)?;
    let rb = restored.backend();
    anyhow::ensure!(
        rb.get(&key(keys / 2))?.is_some(),
        "restored state lacks a key"
    );
    let rocks_secs = t.elapsed().as_secs_f64();
    drop(rb);
    drop(restored);
    // The memory backend: snapshot the same state, time its restore.
    let mut mem = MemoryBackend::new();
    for i in 0..keys {
        mem.put(key(i), value(i, 0))?;
    }
    mem.snapshot_into(&dir.join("mem"))?;
    drop(mem);
    let t = Instant::now();
    let mem = MemoryBackend::restore(&dir.join("mem"), crate::budget::Budgets::unbounded())?;
    anyhow::ensure!(
        mem.get(&key(keys / 2))?.is_some(),
        "restored state lacks a key"
    );
    let mem_secs = t.elapsed().as_secs_f64();
    drop(mem);
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "| restore {keys} keys from a checkpoint (RocksDB: hard-link + open; vs memory backend: read snapshot) | {:.0} ms | {:.0} ms | {:.2}× |",
        rocks_secs * 1e3,
        mem_secs * 1e3,
        mem_secs / rocks_secs
    );
    Ok(())
}
