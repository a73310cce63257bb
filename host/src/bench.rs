//! `weir bench`: performance measured side by side with a baseline in one
//! run, on the same data (results go to BENCHMARKS.md with the command).
//!
//! 1. `mapfilter` — the same map+filter code as a Wasm component vs compiled
//!    natively into the host, batches of 1,000 records.
//! 2. `pipeline` — a whole job: generator → Wasm map+filter → discarding
//!    sink, parallelism 1, vs the same job with no operator.
//! 3. `window` — tumbling count+sum per key over generated transactions,
//!    vs a hand-written single-threaded loop doing the same aggregation.
//! 4. `decode` — JSON lines into typed Arrow columns once (data plane v2)
//!    vs parsing each record with serde_json and vs the host's field scans;
//!    `columns` — the map+filter over typed columns (`weir:dataflow@0.2.0`),
//!    Wasm vs the same code native on the same Arrow columns;
//!    `job-columns` — a whole job, JSON-lines file → that operator →
//!    discard, vs the same job with the operator over JSON events;
//!    `python` — the same job with the operator in Python, over columns
//!    (the SDK's dataclasses) vs over JSON events.
//! 5. `state` — keyed-state puts and gets through the backend trait,
//!    RocksDB vs memory.
//! 6. `checkpoint` — a windowed job with checkpoints every second vs none;
//!    `checkpoint-rocksdb` the same with window contents in RocksDB.
//! 7. `checkpoint-size` — RocksDB checkpoint duration and size for
//!    `--state-keys` keys, the share of a second checkpoint that is new
//!    after 1% of keys changed, and restore time vs the memory backend.
//! 8. `swap` — the pause a live swap puts into a running job.
//! 9. `kafka`, `kafka-latency` — only when named in `--only`, since they
//!    need a broker (`scripts/kafka.sh start`): see [`kafka`].
//! 10. `submit`, `density` — only when named: a `weir serve` host as a whole
//!     (time from submit to first output, idle jobs per host); they live
//!     with the host, in the `weir` binary.
//! 11. `sources` — a job graph reading two sources (a union into a
//!     tumbling window) vs the same records from one: see [`sources`].
//! 12. `stages` — typed columns between the stages of a job vs JSON events
//!     between them: see [`stages`].
//! 13. `aggregate` — a Wasm window aggregate over typed columns vs the same
//!     logic over JSON events: see [`aggregates`].
//! 14. `keyed` — a keyed Wasm operator (state and timers) over typed
//!     columns vs the same logic over JSON events: see [`keyed`].
//! 15. `nexmark` — only when named: the Nexmark queries of
//!     examples/nexmark on weir and on Apache Flink 2.3 side by side, on
//!     the same events (in the binary: it runs `weir sql`).

mod aggregates;
mod checkpoint;
mod columns;
mod decode;
mod kafka;
mod keyed;
mod sources;
mod stages;
mod swap;
mod windows;

use crate::job::{JobSpec, LoadedJob};
use crate::plan::prepare;
use crate::runtime::{Metrics, run as run_job};
use crate::wasm::host::OperatorId;
use crate::wasm::instance::{CallLimits, InstanceSpec, TransformInstance};
use crate::wasm::{LoadedComponent, WasmEngine, World};
use anyhow::Context;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[allow(missing_docs, dead_code)]
mod logic {
    include!("../../tests/operators/map-filter/src/logic.rs");
}

/// Options of `weir bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Records per measurement.
    #[arg(long, default_value_t = 10_000_000)]
    pub records: u64,
    /// Run only these benchmarks (mapfilter, pipeline, window, window-kinds, decode, columns, job-columns, python, sources, stages, aggregate, keyed, state,
    /// checkpoint, checkpoint-rocksdb, checkpoint-size, swap; and, only
    /// when named: kafka, kafka-latency, which need a broker; submit,
    /// density, fairness, which start a `weir serve`; nexmark, the
    /// Nexmark queries of examples/nexmark beside Apache Flink 2.3 on the
    /// same `--records` events, from the repository root).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Idle jobs in the density benchmark.
    #[arg(long, default_value_t = 1000)]
    pub jobs: usize,
    /// Kafka bootstrap servers for the Kafka benchmarks.
    #[arg(long, default_value = "127.0.0.1:19092")]
    pub brokers: String,
    /// Input rate of the latency benchmark, events/s.
    #[arg(long, default_value_t = 20_000)]
    pub rate: u64,
    /// The map+filter operator: a project (built from source) or a .wasm file.
    #[arg(long, default_value = "tests/operators/map-filter")]
    pub operator: PathBuf,
    /// Keys for the window benchmark.
    #[arg(long, default_value_t = 100_000)]
    pub keys: u64,
    /// Parallelisms of the Nexmark benchmark (each query runs at each).
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pub parallelism: Vec<usize>,
    /// Nexmark queries to run (q0, q1, …); default: every file in
    /// examples/nexmark.
    #[arg(long, value_delimiter = ',')]
    pub queries: Vec<String>,
    /// Runs of each Nexmark query on each system, alternating (the ratio
    /// is their median).
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
    /// Keys in the checkpoint-size benchmark (comma-separated for several runs).
    #[arg(long, value_delimiter = ',', default_value = "1000000")]
    pub state_keys: Vec<u64>,
}

/// The benchmarks `run` knows, for `--only` (the host's own are in the
/// binary: submit, density, fairness).
pub const NAMES: [&str; 19] = [
    "mapfilter",
    "pipeline",
    "window",
    "window-kinds",
    "decode",
    "columns",
    "job-columns",
    "python",
    "sources",
    "stages",
    "aggregate",
    "keyed",
    "state",
    "checkpoint",
    "checkpoint-rocksdb",
    "checkpoint-size",
    "swap",
    "kafka",
    "kafka-latency",
];

fn wanted(args: &BenchArgs, name: &str) -> bool {
    (args.only.is_empty() && !name.starts_with("kafka")) || args.only.iter().any(|o| o == name)
}

/// Run the selected benchmarks and print a Markdown table.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    if let Some(unknown) = args.only.iter().find(|o| !NAMES.contains(&o.as_str())) {
        anyhow::bail!(
            "no benchmark is called `{unknown}`; --only takes: {}, and the host's submit, density, fairness, nexmark",
            NAMES.join(", ")
        );
    }
    let engine = WasmEngine::shared()?;
    let needs_operator = ["mapfilter", "pipeline", "swap", "kafka", "kafka-latency"]
        .iter()
        .any(|b| wanted(&args, b));
    let wasm = if !needs_operator || args.operator.extension().is_some_and(|e| e == "wasm") {
        args.operator.clone()
    } else {
        crate::build::build(&args.operator, World::Transform)
            .context("building the benchmark operator")?
    };
    println!("| benchmark | weir | baseline | ratio |\n|---|---|---|---|");
    if wanted(&args, "mapfilter") {
        mapfilter(engine, &wasm, args.records)?;
    }
    if wanted(&args, "pipeline") {
        pipeline(engine, &wasm, args.records)?;
    }
    if wanted(&args, "window") {
        windows::tumbling_10m(engine, args.records, args.keys)?;
    }
    if wanted(&args, "window-kinds") {
        windows::kinds(engine, args.records, args.keys)?;
    }
    if wanted(&args, "decode") {
        decode::decode(args.records, args.keys, 4096)?;
    }
    if wanted(&args, "columns") {
        columns::columns(engine, args.records)?;
    }
    if wanted(&args, "job-columns") {
        columns::file_job(engine, args.records)?;
    }
    if wanted(&args, "python") {
        columns::python(engine, args.records)?;
    }
    if wanted(&args, "sources") {
        sources::union(engine, args.records.min(5_000_000), 10_000)?;
    }
    if wanted(&args, "stages") {
        stages::between(engine, args.records.min(5_000_000), 10_000)?;
    }
    if wanted(&args, "aggregate") {
        aggregates::columns_vs_events(engine, args.records.min(5_000_000), 10_000)?;
    }
    if wanted(&args, "keyed") {
        keyed::columns_vs_events(engine, args.records.min(3_000_000), 10_000)?;
    }
    if wanted(&args, "state") {
        state(args.records.min(2_000_000), args.keys)?;
    }
    if wanted(&args, "checkpoint") {
        checkpoint::overhead(engine, args.records, args.keys, "memory")?;
    }
    if wanted(&args, "checkpoint-rocksdb") {
        checkpoint::overhead(engine, args.records, args.keys, "rocksdb")?;
    }
    if wanted(&args, "checkpoint-size") {
        for &keys in &args.state_keys {
            checkpoint::size_and_recovery(keys)?;
        }
    }
    if wanted(&args, "swap") {
        swap::pause(engine, &wasm)?;
    }
    if wanted(&args, "kafka") {
        kafka::throughput(engine, &wasm, &args.brokers, args.records)?;
    }
    if wanted(&args, "kafka-latency") {
        kafka::latency(&wasm, &args.brokers, args.rate, 10)?;
    }
    Ok(())
}

fn datagen_batches(rows: u64, keys: u64, batch: usize) -> Vec<Vec<crate::Event>> {
    use crate::connector::{Poll, Source, datagen::Datagen};
    let spec = toml::from_str(&format!(
        "schema = \"transactions\"\nrows = {rows}\nkeys = {keys}\nseed = 1"
    ))
    .expect("valid datagen spec");
    let mut g = Datagen::new(spec);
    let mut out = Vec::new();
    while let Ok(Poll::Records(r)) = g.poll(batch) {
        out.push(
            r.into_iter()
                .map(|r| crate::event::event(r.payload, 0))
                .collect(),
        );
    }
    out
}

/// The schema of the generator's transactions, as the decode and columns
/// benchmarks declare it (event time as a timestamp).
fn transactions_schema() -> arrow_schema::SchemaRef {
    use arrow_schema::{DataType, Field, Schema, TimeUnit};
    Arc::new(Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Millisecond, None),
            false,
        ),
        Field::new("user", DataType::Utf8, true),
        Field::new("amount", DataType::Float64, true),
        Field::new("merchant", DataType::Utf8, true),
    ]))
}

fn rate(n: u64, secs: f64) -> String {
    format!("{:.2} M rec/s", n as f64 / secs / 1e6)
}

fn mapfilter(
    engine: &'static WasmEngine,
    wasm: &std::path::Path,
    records: u64,
) -> anyhow::Result<()> {
    let component = LoadedComponent::load(engine, "map-filter", wasm, World::Transform)?;
    let mut inst = TransformInstance::new(&InstanceSpec {
        engine,
        component: &component,
        id: OperatorId {
            job: "bench".into(),
            operator: "map-filter".into(),
            subtask: 0,
            busy_ns: Default::default(),
        },
        grants: &[],
        limits: CallLimits {
            memory_bytes: 256 << 20,
            timeout_ms: 60_000,
            max_output_per_record: 1000,
            max_output_bytes: 64 << 20,
        },
        config: "{}",
        budgets: crate::budget::Budgets::unbounded(),
    })?;
    // 100 distinct batches of 1,000, cycled: realistic data, bounded memory.
    let batches = datagen_batches(100_000, 1000, 1000);
    let rounds = (records / 100_000).max(1);
    let n = rounds * 100_000;
    let (mut wasm_secs, mut native_secs) = (0.0, 0.0);
    let (mut wasm_out, mut native_out) = (0u64, 0u64);
    // Alternate the two sides so drift in machine load hits both alike.
    for _ in 0..rounds {
        let t = Instant::now();
        for b in &batches {
            wasm_out += inst.process(b)?.events.len() as u64;
        }
        wasm_secs += t.elapsed().as_secs_f64();
        let t = Instant::now();
        for b in &batches {
            let mut out = Vec::with_capacity(b.len());
            for e in b {
                if let Some(value) = logic::map_filter(&e.value)? {
                    out.push(crate::Event { value, ..e.clone() });
                }
            }
            native_out += std::hint::black_box(out).len() as u64;
        }
        native_secs += t.elapsed().as_secs_f64();
    }
    anyhow::ensure!(
        wasm_out == native_out,
        "Wasm kept {wasm_out} records, native {native_out}"
    );
    println!(
        "| map+filter, {n} records, batches of 1,000 (Wasm vs native) | {} | {} | {:.2}× |",
        rate(n, wasm_secs),
        rate(n, native_secs),
        native_secs / wasm_secs
    );
    Ok(())
}

fn job(text: &str) -> anyhow::Result<LoadedJob> {
    let spec: JobSpec = toml::from_str(text)?;
    let problems = crate::job::validate(&spec);
    anyhow::ensure!(problems.is_empty(), "bench job invalid: {problems:?}");
    Ok(LoadedJob {
        spec,
        path: "bench.toml".into(),
        base_dir: ".".into(),
    })
}

fn run_timed(engine: &'static WasmEngine, text: &str) -> anyhow::Result<(u64, f64)> {
    run_timed_plan(engine, text, true)
}

/// [`run_timed`], with typed columns between the job's stages or, for a
/// baseline, JSON events (see [`crate::plan::Plan::stage_columns`]).
fn run_timed_plan(
    engine: &'static WasmEngine,
    text: &str,
    stage_columns: bool,
) -> anyhow::Result<(u64, f64)> {
    let mut plan = prepare(job(text)?, engine)?;
    plan.stage_columns = stage_columns;
    let plan = Arc::new(plan);
    let t = Instant::now();
    let summary = run_job(plan, Arc::new(Metrics::default()), Default::default())?;
    Ok((summary.records_in, t.elapsed().as_secs_f64()))
}

fn pipeline(
    engine: &'static WasmEngine,
    wasm: &std::path::Path,
    records: u64,
) -> anyhow::Result<()> {
    let base = format!(
        "name = \"bench-pipeline\"\nbatch_size = 1000\n[source]\ntype = \"datagen\"\nschema = \"transactions\"\nrows = {records}\nseed = 1\n[sink]\ntype = \"discard\"\n"
    );
    let with_op = format!(
        "{base}[[operators]]\nname = \"map-filter\"\ncomponent = \"{}\"\n",
        wasm.display()
    );
    let (n, wasm_secs) = run_timed(engine, &with_op)?;
    let (_, bare_secs) = run_timed(engine, &base)?;
    println!(
        "| job: datagen → Wasm map+filter → discard, {n} events, parallelism 1 (vs same job without the operator) | {} | {} | {:.2}× |",
        rate(n, wasm_secs),
        rate(n, bare_secs),
        bare_secs / wasm_secs
    );
    Ok(())
}

/// Time `ops` read-modify-writes of a small value over `keys` keys.
fn state_ops(
    backend: &mut dyn crate::state::KeyedStateBackend,
    ops: u64,
    keys: u64,
) -> anyhow::Result<f64> {
    use crate::state::{StateKind, state_key};
    let t = Instant::now();
    for i in 0..ops {
        let user = (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 20) % keys;
        let key = state_key(StateKind::Value, "count", format!("user-{user}").as_bytes());
        let n = backend
            .get(&key)?
            .map_or(0, |v| u64::from_le_bytes(v.try_into().unwrap_or([0; 8])));
        backend.put(key, (n + 1).to_le_bytes().to_vec())?;
    }
    Ok(t.elapsed().as_secs_f64())
}

fn state(ops: u64, keys: u64) -> anyhow::Result<()> {
    use crate::state::{MemoryBackend, RocksMemory, RocksStore};
    let dir = std::env::temp_dir().join(format!("weir-bench-state-{}", std::process::id()));
    let store = RocksStore::open_fresh(&dir, &RocksMemory::new(256 << 20, 64 << 20))?;
    let rocks = state_ops(&mut store.backend(), ops, keys)?;
    let memory = state_ops(&mut MemoryBackend::new(), ops, keys)?;
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "| keyed state get+put, {ops} ops over {keys} keys (RocksDB vs memory backend) | {} | {} | {:.2}× |",
        rate(ops, rocks).replace("rec/s", "ops/s"),
        rate(ops, memory).replace("rec/s", "ops/s"),
        memory / rocks
    );
    Ok(())
}
