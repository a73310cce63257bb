//! `columns`: the map+filter benchmark over typed columns
//! (`weir:dataflow@0.2.0`): the same Rust function — keep payments of 50
//! or more, in cents — compiled into a Wasm component that reads and
//! writes columns through the SDK's `Record` derive, and compiled natively
//! into the host reading the same Arrow columns and building Arrow output.

use super::{datagen_batches, rate};
use crate::batch::JsonDecoder;
use crate::wasm::columnar::ColumnTransformInstance;
use crate::wasm::host::OperatorId;
use crate::wasm::instance::{CallLimits, InstanceSpec};
use crate::wasm::{LoadedComponent, WasmEngine, World};
use anyhow::Context;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, TimestampMillisecondType};
use arrow_array::{ArrayRef, RecordBatch};
use std::sync::Arc;
use std::time::Instant;

#[allow(missing_docs, dead_code)]
mod logic {
    include!("../../../tests/operators/map-filter-columns/src/logic.rs");
}

/// The same logic natively over the same columns, output built as Arrow
/// arrays like the Wasm side's.
fn native(batch: &RecordBatch) -> RecordBatch {
    let ts = batch.column(0).as_primitive::<TimestampMillisecondType>();
    let user = batch.column(1).as_string::<i32>();
    let amount = batch.column(2).as_primitive::<Float64Type>();
    let merchant = batch.column(3).as_string::<i32>();
    let n = batch.num_rows();
    let (mut users, mut cents, mut merchants, mut times) = (
        arrow_array::builder::StringBuilder::with_capacity(n, n * 8),
        Vec::with_capacity(n),
        arrow_array::builder::StringBuilder::with_capacity(n, n * 8),
        Vec::with_capacity(n),
    );
    for row in 0..n {
        let tx = logic::Transaction {
            ts: ts.value(row),
            user: user.value(row),
            amount: amount.value(row),
            merchant: merchant.value(row),
        };
        if let Some(p) = logic::map_filter(tx) {
            users.append_value(p.user);
            cents.push(p.cents);
            merchants.append_value(p.merchant);
            times.push(p.ts);
        }
    }
    RecordBatch::try_from_iter([
        ("user", Arc::new(users.finish()) as ArrayRef),
        (
            "cents",
            Arc::new(arrow_array::Int64Array::from(cents)) as ArrayRef,
        ),
        ("merchant", Arc::new(merchants.finish()) as ArrayRef),
        (
            "ts",
            Arc::new(arrow_array::Int64Array::from(times)) as ArrayRef,
        ),
    ])
    .expect("a batch")
}

/// `records` transactions in batches of 1,000, Wasm vs native.
pub fn columns(engine: &'static WasmEngine, records: u64) -> anyhow::Result<()> {
    let project = std::path::Path::new("tests/operators/map-filter-columns");
    let wasm = crate::build::build(project, World::Columns)
        .context("building the columnar benchmark operator")?;
    let component = LoadedComponent::load(engine, "map-filter-columns", &wasm, World::Columns)?;
    let schema = super::transactions_schema();
    // 100 distinct batches of 1,000, cycled: realistic data, bounded memory.
    let mut decoder = JsonDecoder::new(schema.clone())?;
    let batches: Vec<(RecordBatch, Vec<i64>)> = datagen_batches(100_000, 1000, 1000)
        .iter()
        .map(|b| {
            let lines: Vec<&[u8]> = b.iter().map(|e| e.value.as_slice()).collect();
            let batch = decoder.decode(&lines).map(|d| d.batch)?;
            let time = batch
                .column(0)
                .as_primitive::<TimestampMillisecondType>()
                .values()
                .to_vec();
            Ok((batch, time))
        })
        .collect::<anyhow::Result<_>>()?;
    let mut inst = ColumnTransformInstance::new(
        &InstanceSpec {
            engine,
            component: &component,
            id: OperatorId {
                job: "bench".into(),
                operator: "map-filter-columns".into(),
                subtask: 0,
                busy_ns: Default::default(),
            },
            grants: &[],
            limits: CallLimits {
                memory_bytes: 64 << 20,
                timeout_ms: 60_000,
                max_output_per_record: 1000,
                max_output_bytes: 64 << 20,
            },
            config: "{}",
            budgets: crate::budget::Budgets::unbounded(),
        },
        &schema,
    )?;
    let rounds = (records / 100_000).max(1);
    let n = rounds * 100_000;
    let (mut wasm_secs, mut native_secs) = (0.0, 0.0);
    let (mut wasm_out, mut native_out) = (0usize, 0usize);
    // Alternate the two sides so drift in machine load hits both alike.
    for _ in 0..rounds {
        let t = Instant::now();
        for (b, time) in &batches {
            wasm_out += inst.process(b, time)?.rows.batch.num_rows();
        }
        wasm_secs += t.elapsed().as_secs_f64();
        let t = Instant::now();
        for (b, _) in &batches {
            native_out += native(b).num_rows();
        }
        native_secs += t.elapsed().as_secs_f64();
    }
    anyhow::ensure!(
        wasm_out == native_out,
        "the Wasm operator kept {wasm_out} records, the native code {native_out}"
    );
    println!(
        "| map+filter over typed columns (weir:dataflow@0.2.0), {n} records, batches of 1,000 (Wasm vs the same code native on the same Arrow columns) | {} | {} | {:.2}× |",
        rate(n, wasm_secs),
        rate(n, native_secs),
        native_secs / wasm_secs
    );
    Ok(())
}

/// `n` generated transactions as a JSON-lines file in the temp directory.
fn transactions_file(n: u64) -> anyhow::Result<std::path::PathBuf> {
    datagen_file(n, "keys = 100000")
}

/// `n` transactions from the generator with settings `extra`, as a
/// JSON-lines file in the temp directory.
pub(super) fn datagen_file(n: u64, extra: &str) -> anyhow::Result<std::path::PathBuf> {
    use crate::connector::{Poll, Source, datagen::Datagen};
    use std::io::Write;
    let path = std::env::temp_dir().join(format!("weir-bench-{}.jsonl", std::process::id()));
    let spec = toml::from_str(&format!(
        "schema = \"transactions\"\nrows = {n}\nseed = 1\n{extra}"
    ))?;
    let mut g = Datagen::new(spec);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
    while let Ok(Poll::Records(r)) = g.poll(4096) {
        for r in r {
            out.write_all(&r.payload)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    Ok(path)
}

/// A job: JSON-lines `input` → operator `op` → discard, parallelism 1.
fn file_job_text(
    input: &std::path::Path,
    op: &std::path::Path,
    batch: usize,
    extra: &str,
) -> String {
    format!(
        "name = \"bench-file\"\nbatch_size = {batch}\n{extra}\n[source]\ntype = \"file\"\npath = \"{}\"\n[event_time]\nfield = \"ts\"\n[[operators]]\nname = \"map-filter\"\ncomponent = \"{}\"\n[sink]\ntype = \"discard\"\n",
        input.display(),
        op.display()
    )
}

/// Run file → `columns` and file → `events` at each batch size, a row
/// each; `events_limits` is the events job's `[limits]` table, if any.
fn file_jobs(
    engine: &'static WasmEngine,
    n: u64,
    what: &str,
    (columns, events): (&std::path::Path, &std::path::Path),
    events_limits: &str,
    batches: &[usize],
) -> anyhow::Result<()> {
    let input = transactions_file(n)?;
    let timed =
        |op, batch, extra| super::run_timed(engine, &file_job_text(&input, op, batch, extra));
    let mut result = Ok(());
    for &batch in batches {
        result = timed(columns, batch, "").and_then(|(n, col_secs)| {
            let (_, ev_secs) = timed(events, batch, events_limits)?;
            println!(
                "| job: JSON-lines file → {what} map+filter → discard, {n} records, parallelism 1, batch_size {batch}: over typed columns (0.2) vs over JSON events (0.1) | {} | {} | {:.2}× |",
                rate(n, col_secs),
                rate(n, ev_secs),
                ev_secs / col_secs
            );
            Ok(())
        });
        if result.is_err() {
            break;
        }
    }
    let _ = std::fs::remove_file(&input);
    result
}

/// `job-columns`: a whole job, JSON-lines file → Wasm map+filter →
/// discard, parallelism 1: the operator over typed columns (data plane v2:
/// the source decodes once, the operator reads columns) vs the same logic
/// over JSON events (`tests/operators/map-filter`, the data plane before).
pub fn file_job(engine: &'static WasmEngine, records: u64) -> anyhow::Result<()> {
    let columns = crate::build::build(
        std::path::Path::new("tests/operators/map-filter-columns"),
        World::Columns,
    )?;
    let events = crate::build::build(
        std::path::Path::new("tests/operators/map-filter"),
        World::Transform,
    )?;
    file_jobs(
        engine,
        records.min(5_000_000),
        "Wasm (Rust)",
        (&columns, &events),
        "",
        &[1024, 4096],
    )
}

/// `python`: the same job with the operator in Python (componentize-py):
/// over typed columns with the SDK's dataclasses
/// (`tests/operators/map-filter-py`) vs over JSON events with `json`
/// (`tests/operators/map-filter-py-json`); the one over columns at the
/// default memory limit, the JSON one with 256 MiB (it needs more than 64);
/// then the same logic as a batch function (`tests/operators/map-filter-py-batch`)
/// against the one per row.
pub fn python(engine: &'static WasmEngine, records: u64) -> anyhow::Result<()> {
    let columns = crate::build::build(
        std::path::Path::new("tests/operators/map-filter-py"),
        World::Transform,
    )?;
    let events = crate::build::build(
        std::path::Path::new("tests/operators/map-filter-py-json"),
        World::Transform,
    )?;
    file_jobs(
        engine,
        records.min(1_000_000),
        "Python",
        (&columns, &events),
        // The JSON operator needs more than the default 64 MiB at batch_size
        // 1024; the one over columns runs at the default.
        "[limits]\nmemory = \"256MiB\"",
        &[1024],
    )?;
    let batch = crate::build::build(
        std::path::Path::new("tests/operators/map-filter-py-batch"),
        World::Transform,
    )?;
    let n = records.min(1_000_000);
    let input = transactions_file(n)?;
    let timed = |op| super::run_timed(engine, &file_job_text(&input, op, 1024, ""));
    let result = timed(batch.as_path()).and_then(|(n, batch_secs)| {
        let (_, row_secs) = timed(columns.as_path())?;
        println!(
            "| job: JSON-lines file → Python map+filter → discard, {n} records, parallelism 1, batch_size 1024: one call per batch (`@weir.map_batch`, map-filter-py-batch) vs one per row (`@weir.map`), both over typed columns | {} | {} | {:.2}× |",
            rate(n, batch_secs),
            rate(n, row_secs),
            row_secs / batch_secs
        );
        Ok(())
    });
    let _ = std::fs::remove_file(&input);
    result
}
