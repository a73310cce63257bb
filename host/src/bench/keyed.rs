//! `keyed`: a keyed Wasm operator over typed columns (`weir:dataflow@0.2`,
//! `examples/fraud/columns`) side by side with the same detector over JSON
//! events (`0.1`, `examples/fraud/operator`: each record parsed with
//! serde_json in the guest), on one JSON-lines file of the generator's
//! transactions: key_by user → the fraud detector (value state per user,
//! an event-time timer per payment) → discard. Over columns twice: the
//! stage decoding each batch's records into the operator's columns, and the
//! source declaring its schema and decoding once. And the detector in
//! Python (`examples/fraud/python`, the SDK's `@weir.keyed`) against the
//! Rust one, both over columns, on a tenth of the records.

use super::{rate, run_timed};
use crate::wasm::{WasmEngine, World};
use std::path::Path;

/// The job over `input` with the keyed operator `op`; `schema`: a declared
/// `[source.schema]`, or nothing.
fn job(input: &Path, op: &Path, schema: &str) -> String {
    format!(
        r#"name = "bench-keyed"
batch_size = 1000
[source]
type = "file"
path = "{}"
{schema}
[event_time]
field = "ts"
[key_by]
field = "user"
[keyed]
name = "detector"
component = "{}"
[sink]
type = "discard"
"#,
        input.display(),
        op.display()
    )
}

/// Run the jobs on `records` transactions over `keys` users.
pub fn columns_vs_events(
    engine: &'static WasmEngine,
    records: u64,
    keys: u64,
) -> anyhow::Result<()> {
    let build = |dir: &str| crate::build::build(Path::new(dir), World::Keyed);
    let columns = build("examples/fraud/columns")?;
    let events = build("examples/fraud/operator")?;
    let python = build("examples/fraud/python")?;
    let declared = "[source.schema]\nts = \"int64\"\nuser = \"string\"\namount = \"double\"\nmerchant = \"string\"";
    let options = format!("keys = {keys}\nstep_ms = 1000");
    // One file at a time: the generator writes to one path per process.
    let input = super::columns::datagen_file(records, &options)?;
    let timed = (|| {
        let (n, events_secs) = run_timed(engine, &job(&input, &events, ""))?;
        let shapes = [
            (
                "the stage decodes each batch's records into its columns",
                "",
            ),
            ("the source declares its schema and decodes once", declared),
        ];
        for (how, schema) in shapes {
            let (_, secs) = run_timed(engine, &job(&input, &columns, schema))?;
            println!(
                "| job: JSON-lines file → key_by user → the keyed fraud detector (value state, event-time timers) → discard, {keys} users, {n} records, parallelism 1: over columns, {how} (vs the same logic over JSON events) | {} | {} | {:.2}× |",
                rate(n, secs),
                rate(n, events_secs),
                events_secs / secs
            );
        }
        anyhow::Ok(())
    })();
    let _ = std::fs::remove_file(&input);
    timed?;
    let small = super::columns::datagen_file(records / 10, &options)?;
    let timed = (|| {
        let (m, rust_secs) = run_timed(engine, &job(&small, &columns, declared))?;
        let (_, py_secs) = run_timed(engine, &job(&small, &python, declared))?;
        println!(
            "| the same job on {m} records, the source declaring its schema: the detector in Python over columns (vs the same logic in Rust over columns) | {} | {} | {:.2}× |",
            rate(m, py_secs),
            rate(m, rust_secs),
            rust_secs / py_secs
        );
        anyhow::Ok(())
    })();
    let _ = std::fs::remove_file(&small);
    timed
}
