//! `aggregate`: a Wasm window aggregate over typed columns
//! (`weir:dataflow@0.2`, `tests/operators/largest-columns`) side by side
//! with the same logic over JSON events (`0.1`,
//! `tests/operators/largest-events`: each record parsed with serde_json in
//! the guest), on one JSON-lines file of the generator's transactions:
//! key_by user → tumbling 10 s (payments, total, the largest and its
//! merchant) → discard. Over columns twice: the window decoding each
//! batch's records into the aggregate's columns, and the source declaring
//! its schema and decoding once (the window hands its columns on). And
//! the same aggregate in Python (`tests/operators/largest-py`, the SDK's
//! `@weir.aggregate`) against the Rust one, both over columns.

use super::{rate, run_timed};
use crate::wasm::{WasmEngine, World};
use std::path::Path;

/// The job over `input` with the aggregate `op`; `schema`: a declared
/// `[source.schema]`, or nothing.
fn job(input: &Path, op: &Path, schema: &str) -> String {
    format!(
        r#"name = "bench-aggregate"
batch_size = 1000
[source]
type = "file"
path = "{}"
{schema}
[event_time]
field = "ts"
max_out_of_orderness = "1s"
[key_by]
field = "user"
[window]
type = "tumbling"
size = "10s"
aggregate = {{ name = "largest", component = "{}" }}
[sink]
type = "discard"
[late_output]
type = "discard"
"#,
        input.display(),
        op.display()
    )
}

/// Run the three jobs on `records` transactions over `keys` users.
pub fn columns_vs_events(
    engine: &'static WasmEngine,
    records: u64,
    keys: u64,
) -> anyhow::Result<()> {
    let build = |dir: &str| crate::build::build(Path::new(dir), World::Aggregate);
    let columns = build("tests/operators/largest-columns")?;
    let events = build("tests/operators/largest-events")?;
    let python = build("tests/operators/largest-py")?;
    let input = super::columns::datagen_file(records, &format!("keys = {keys}\nstep_ms = 1"))?;
    let declared = "[source.schema]\nts = \"int64\"\nuser = \"string\"\namount = \"double\"\nmerchant = \"string\"";
    let timed = (|| {
        let (n, events_secs) = run_timed(engine, &job(&input, &events, ""))?;
        let shapes = [
            (
                "the window decodes each batch's records into its columns",
                "",
            ),
            ("the source declares its schema and decodes once", declared),
        ];
        let mut rust_secs = 0.0;
        for (how, schema) in shapes {
            let (_, secs) = run_timed(engine, &job(&input, &columns, schema))?;
            rust_secs = secs;
            println!(
                "| job: JSON-lines file → key_by user → tumbling 10 s Wasm aggregate (payments, total, largest and its merchant) → discard, {keys} users, {n} records, parallelism 1: over columns, {how} (vs the same logic over JSON events) | {} | {} | {:.2}× |",
                rate(n, secs),
                rate(n, events_secs),
                events_secs / secs
            );
        }
        let (_, py_secs) = run_timed(engine, &job(&input, &python, declared))?;
        println!(
            "| the same job, the source declaring its schema: the aggregate in Python over columns (vs the same logic in Rust over columns) | {} | {} | {:.2}× |",
            rate(n, py_secs),
            rate(n, rust_secs),
            rust_secs / py_secs
        );
        Ok(())
    })();
    let _ = std::fs::remove_file(&input);
    timed
}
