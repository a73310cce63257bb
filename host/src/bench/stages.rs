//! `stages`: typed columns carried between the stages of a job, side by
//! side with the same jobs whose stages exchange JSON events (the data
//! plane before: each stage wrote its rows as JSON, the next one read
//! them again).
//!
//! Two jobs over the generator's transactions in a JSON-lines file:
//! - a Wasm map+filter over columns (`tests/operators/map-filter-columns`)
//!   keyed by user into a tumbling 10 s count+sum of its output: the
//!   window reads the operator's typed output instead of scanning JSON;
//! - a two-stage aggregation (a job graph): a tumbling 10 s count per
//!   user, then per window the users, their records and the busiest:
//!   the second window reads the first one's results as columns.

use super::{rate, run_timed_plan};
use crate::wasm::{WasmEngine, World};

const HEADER: &str = r#"batch_size = 1000
[event_time]
field = "ts"
max_out_of_orderness = "1s"
[sink]
type = "discard"
[late_output]
type = "discard"
"#;

/// The map+filter then a window per user, as a one-chain job.
fn map_then_window(input: &std::path::Path, op: &std::path::Path) -> String {
    format!(
        r#"name = "bench-map-window"
{HEADER}
[source]
type = "file"
path = "{}"
[[operators]]
name = "map-filter"
component = "{}"
[key_by]
field = "user"
[window]
type = "tumbling"
size = "10s"
aggregates = [{{ fn = "count" }}, {{ fn = "sum", field = "cents" }}]
"#,
        input.display(),
        op.display()
    )
}

/// A window per user, then one per window over its results.
fn two_windows(input: &std::path::Path) -> String {
    format!(
        r#"name = "bench-two-windows"
{HEADER}
[source]
type = "file"
path = "{}"
[[stages]]
name = "per-user"
inputs = ["source"]
key_by = {{ field = "user" }}
window = {{ type = "tumbling", size = "10s", aggregates = [{{ fn = "count", as = "n" }}, {{ fn = "sum", field = "amount", as = "spent" }}] }}
[[stages]]
name = "per-window"
inputs = ["per-user"]
key_by = {{ field = "window_start" }}
window = {{ type = "tumbling", size = "10s", aggregates = [{{ fn = "count", as = "users" }}, {{ fn = "sum", field = "n", as = "records" }}, {{ fn = "max", field = "spent", as = "most" }}] }}
"#,
        input.display()
    )
}

/// Run both jobs on `records` transactions over `keys` users, each with
/// typed columns between its stages and with JSON events; a row each.
pub fn between(engine: &'static WasmEngine, records: u64, keys: u64) -> anyhow::Result<()> {
    let op = crate::build::build(
        std::path::Path::new("tests/operators/map-filter-columns"),
        World::Columns,
    )?;
    let input = super::columns::datagen_file(records, &format!("keys = {keys}\nstep_ms = 1"))?;
    let jobs = [
        (
            "JSON-lines file → Wasm map+filter over columns → key_by user → tumbling 10 s count+sum of its output",
            map_then_window(&input, &op),
        ),
        (
            "job graph: JSON-lines file → tumbling 10 s count+sum per user → per window: users, records, max (a second window over the first one's results)",
            two_windows(&input),
        ),
    ];
    let timed = (|| {
        for (what, text) in &jobs {
            let (n, columns_secs) = run_timed_plan(engine, text, true)?;
            let (_, events_secs) = run_timed_plan(engine, text, false)?;
            println!(
                "| job: {what} → discard, {keys} users, {n} records, parallelism 1: typed columns between stages (vs JSON events between stages) | {} | {} | {:.2}× |",
                rate(n, columns_secs),
                rate(n, events_secs),
                events_secs / columns_secs
            );
        }
        Ok(())
    })();
    let _ = std::fs::remove_file(&input);
    timed
}
