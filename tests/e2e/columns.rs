//! Operators over typed columns (`weir:dataflow@0.2.0`) in real jobs
//! through the `weir` binary: the source decodes JSON once into columns,
//! the operator (tests/operators/map-filter-columns, built from source)
//! reads and writes columns, and what comes out must equal an independent
//! model's output (tests/reference/map_filter.py) and the same logic as an
//! operator over JSON events (tests/operators/map-filter); the Rust
//! operator is swapped live for a Python one mid-stream without a record
//! lost or repeated. Python operators' own results: `python_columns.rs`.

use std::path::{Path, PathBuf};
use weir_e2e::{canonical_lines, operator, weir};

#[path = "columns_jobs.rs"]
mod jobs;
use jobs::{input, job, model};

#[test]
fn a_job_over_columns_gives_what_the_model_and_the_operator_over_events_give() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let input = input(d, 30_000, 0);
    let expected_dead = model(&input, &d.join("expected.jsonl"));
    assert_eq!(expected_dead, 18, "the input holds 3 bad lines per 5,000");
    for p in [1, 2] {
        let name = format!("columns-p{p}");
        let j = job(d, &name, &input, "map-filter-columns", "", p);
        weir(&["run", "-q", j.to_str().expect("utf-8")]).ok();
        let out = canonical_lines(&d.join(format!("{name}-out.jsonl")));
        assert!(out.len() > 10_000, "only {} records came out", out.len());
        assert_eq!(
            out,
            canonical_lines(&d.join("expected.jsonl")),
            "parallelism {p}: weir's output over columns differs from the model's"
        );
        let dead = canonical_lines(&d.join(format!("{name}-dead.jsonl")));
        assert_eq!(dead.len(), expected_dead, "{dead:#?}");
        let lots = dead
            .iter()
            .find(|l| l.contains("lots"))
            .expect("the line with amount \"lots\" is a dead letter");
        assert!(
            lots.contains("amount") && lots.contains("input.jsonl:") && lots.contains("decode"),
            "the dead letter says where and why: {lots}"
        );
        assert!(
            dead.iter().any(|l| l.contains("event-time field `ts`")),
            "{dead:#?}"
        );
    }
    let j = job(d, "events", &input, "map-filter", "", 2);
    weir(&["run", "-q", j.to_str().expect("utf-8")]).ok();
    assert_eq!(
        canonical_lines(&d.join("events-out.jsonl")),
        canonical_lines(&d.join("expected.jsonl")),
        "the operator over events differs from the model"
    );
}

/// The source decodes batches ahead on the pool's workers
/// (`runtime/decode_ahead.rs`) but must send them, and set aside what does
/// not fit, in the order it read them: at parallelism 1 the output is the
/// model's, line for line in order, and the dead letters' positions rise.
#[test]
fn batches_decoded_ahead_come_out_in_the_order_they_were_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // 60,000 lines in batches of 700: far more than the batches in flight.
    let input = input(d, 60_000, 0);
    let expected_dead = model(&input, &d.join("expected.jsonl"));
    let j = job(d, "ahead", &input, "map-filter-columns", "", 1);
    weir(&["run", "-q", j.to_str().expect("utf-8")]).ok();
    let in_order = |path: &Path| -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON"))
            .collect()
    };
    let out = in_order(&d.join("ahead-out.jsonl"));
    assert!(out.len() > 20_000, "only {} records came out", out.len());
    assert!(
        out == in_order(&d.join("expected.jsonl")),
        "the output is not the model's in the input's order"
    );
    let lines: Vec<u64> = std::fs::read_to_string(d.join("ahead-dead.jsonl"))
        .expect("dead letters")
        .lines()
        .map(|l| {
            let at = l.find("input.jsonl:").expect("a position") + "input.jsonl:".len();
            let digits: String = l[at..].chars().take_while(char::is_ascii_digit).collect();
            digits.parse().expect("a line number")
        })
        .collect();
    assert_eq!(lines.len(), expected_dead);
    assert!(
        lines.windows(2).all(|w| w[0] < w[1]),
        "dead letters out of the input's order: {lines:?}"
    );
}

/// Batches being decoded ahead are host memory the job holds: over its
/// budget, the job fails and says which budget and why.
#[test]
fn batches_being_decoded_count_against_the_jobs_host_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let input = input(d, 30_000, 0);
    let j = job(d, "small", &input, "map-filter-columns", "", 1);
    let text = std::fs::read_to_string(&j).expect("job").replace(
        "batch_size = 700",
        "batch_size = 20000\n[limits]\nhost_memory = \"1MiB\"",
    );
    std::fs::write(&j, text).expect("job");
    let err = weir(&["run", "-q", j.to_str().expect("utf-8")]).failed();
    assert!(
        err.contains("batches being decoded") && err.contains("limits.host_memory = 1048576"),
        "{err}"
    );
}

#[test]
fn an_operator_over_columns_feeds_a_keyed_window_like_one_over_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let input = input(d, 20_000, 5_000);
    let window = r#"[key_by]
field = "user"
[window]
type = "tumbling"
size = "10s"
aggregates = [{ fn = "count" }, { fn = "sum", field = "cents" }, { fn = "max", field = "ts" }]"#;
    let (mut outs, mut lates) = (Vec::new(), Vec::new());
    for op in ["map-filter-columns", "map-filter"] {
        let name = format!("window-{op}");
        let path = job(d, &name, &input, op, "", 2);
        let text = std::fs::read_to_string(&path).expect("job").replace(
            "[sink]",
            &format!(
                "{window}\n[late_output]\ntype = \"file\"\npath = \"{name}-late.jsonl\"\n[sink]"
            ),
        );
        std::fs::write(&path, text).expect("job");
        weir(&["run", "-q", path.to_str().expect("utf-8")]).ok();
        outs.push(canonical_lines(&d.join(format!("{name}-out.jsonl"))));
        lates.push(canonical_lines(&d.join(format!("{name}-late.jsonl"))));
    }
    assert!(outs[0].len() > 100, "{} windows", outs[0].len());
    assert!(
        !lates[0].is_empty(),
        "the input is out of order: some records are late"
    );
    assert_eq!(
        outs[0], outs[1],
        "windows after the operator over columns differ"
    );
    assert_eq!(lates[0], lates[1], "late records differ");
}

#[test]
fn a_declared_schema_types_the_columns_and_a_wrong_one_is_refused_before_running() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let input = input(d, 6_000, 0);
    model(&input, &d.join("expected.jsonl"));
    let schema = r#"[source.schema]
ts = "int"
user = "string"
amount = "double"
merchant = "string""#;
    let j = job(d, "declared", &input, "map-filter-columns", schema, 1);
    weir(&["run", "-q", j.to_str().expect("utf-8")]).ok();
    assert_eq!(
        canonical_lines(&d.join("declared-out.jsonl")),
        canonical_lines(&d.join("expected.jsonl"))
    );
    let bad = job(
        d,
        "no-ts",
        &input,
        "map-filter-columns",
        "[source.schema]\nuser = \"string\"\namount = \"money\"",
        1,
    );
    let err = weir(&["run", "-q", bad.to_str().expect("utf-8")]).failed();
    assert!(
        err.contains("source.schema") && err.contains("unknown type `money`"),
        "{err}"
    );
    let bad = job(
        d,
        "no-ts",
        &input,
        "map-filter-columns",
        "[source.schema]\nuser = \"string\"",
        1,
    );
    let err = weir(&["run", "-q", bad.to_str().expect("utf-8")]).failed();
    assert!(err.contains("declares no field `ts`"), "{err}");
}

#[test]
fn an_operator_over_columns_swapped_live_from_rust_to_python_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let input = input(d, 60_000, 0);
    model(&input, &d.join("expected.jsonl"));
    // The same logic in Python, built before the job starts.
    let built = weir(&["build", &operator("map-filter-py")]).ok();
    let python = built
        .stdout()
        .split_whitespace()
        .next()
        .expect("weir build prints the component's path")
        .to_string();
    let j = job(d, "swap", &input, "map-filter-columns", "rate = 15000", 1);
    // The Python version tags what it makes with its config; the Rust one
    // ignores it.
    let mut text = std::fs::read_to_string(&j)
        .expect("job")
        .replace("[sink]", "config = { tag = \"python\" }\n[sink]");
    text.push_str("[checkpoint]\ninterval = \"200ms\"\ndir = \"checkpoints\"\n");
    std::fs::write(&j, text).expect("job");
    let j = j.to_str().expect("utf-8");
    let mut child = weir_e2e::spawn_weir(d, &["run", "-q", j]);
    let started = std::time::Instant::now();
    while !std::fs::read_dir(d.join("checkpoints"))
        .map(|r| {
            r.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("chk-"))
        })
        .unwrap_or(false)
    {
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "the job ended early"
        );
        assert!(
            started.elapsed().as_secs() < 60,
            "no checkpoint within a minute"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // A canary first: the Python version runs in shadow on the same
    // columns; it rejects nothing, so it is promoted, and the canary saw
    // its output differ (it tags what it makes).
    let swapped =
        weir_e2e::weir_in(d, &["swap", j, "big-payments", &python, "--canary", "3000"]).ok();
    let said = swapped.stdout();
    assert!(said.contains("live after checkpoint barrier"), "{said}");
    let differing: u64 = said
        .split("rejected, ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no canary report: {said}"));
    assert!(
        said.contains("promoted after") && differing > 0,
        "the shadow's tagged output should differ: {said}"
    );
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "the swap must land while the input still flows"
    );
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // In source order (parallelism 1): Rust's records, then Python's.
    let text = std::fs::read_to_string(d.join("swap-out.jsonl")).expect("output");
    let by_python: Vec<bool> = text
        .lines()
        .map(|l| l.contains(r#""by":"python""#))
        .collect();
    let switch = by_python
        .iter()
        .position(|b| *b)
        .expect("some records made by the Python version");
    assert!(switch > 0, "some records made by the Rust version");
    assert!(
        by_python[switch..].iter().all(|b| *b),
        "the versions interleave: the switch was not at one point"
    );
    let untagged = text.replace(r#","by":"python""#, "");
    assert_eq!(
        weir_e2e::canonical(&untagged),
        canonical_lines(&d.join("expected.jsonl")),
        "records lost or repeated across the swap"
    );
}

#[test]
fn a_python_operator_whose_memory_creeps_up_is_recycled_between_batches_and_loses_nothing() {
    // componentize-py's runtime grows its linear memory as it runs
    // (BENCHMARKS.md); the chain replaces a stateless instance that has
    // passed 75% of its limit between two batches. At 16 MiB a Python
    // instance starts above that (its memory's minimum is 12.6 MiB), so it
    // is remade every 64 batches — and the output must not notice.
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let input = input(d, 200_000, 0);
    let expected_dead = model(&input, &d.join("expected.jsonl"));
    let j = job(d, "recycled", &input, "map-filter-py", "", 1);
    let text = std::fs::read_to_string(&j).expect("job");
    std::fs::write(&j, format!("{text}[limits]\nmemory = \"16MiB\"\n")).expect("job");
    let run = weir(&["run", j.to_str().expect("utf-8")]).ok();
    let recycled = run
        .stderr()
        .matches("continuing with a fresh instance")
        .count();
    assert!(
        recycled >= 3,
        "recycled {recycled} times:\n{}",
        run.stderr()
    );
    assert_eq!(
        canonical_lines(&d.join("recycled-out.jsonl")),
        canonical_lines(&d.join("expected.jsonl"))
    );
    assert_eq!(
        canonical_lines(&d.join("recycled-dead.jsonl")).len(),
        expected_dead
    );
}

/// A job graph: `big` runs the operator on the source's columns, `again`
/// the same logic over the source's JSON records (tests/operators/map-filter),
/// a union of the two is windowed per user.
fn graph_job(dir: &Path, name: &str, input: &Path, op: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"name = "{name}"
parallelism = 2
batch_size = 700
[source]
type = "file"
path = "{input}"
[event_time]
field = "ts"
max_out_of_orderness = "1s"
[[stages]]
name = "big"
inputs = ["source"]
operators = [{{ name = "big-payments", component = "{op}" }}]
[[stages]]
name = "all"
inputs = ["source"]
operators = [{{ name = "again", component = "{events}" }}]
[[stages]]
name = "per-user"
inputs = ["big", "all"]
key_by = {{ field = "user" }}
window = {{ type = "tumbling", size = "10s", aggregates = [{{ fn = "count" }}] }}
[sink]
type = "file"
path = "{name}-out.jsonl"
[late_output]
type = "file"
path = "{name}-late.jsonl"
[dead_letter]
type = "file"
path = "{name}-dead.jsonl"
"#,
            input = input.display(),
            op = operator(op),
            events = operator("map-filter"),
        ),
    )
    .expect("write job");
    path
}

#[test]
fn an_operator_over_columns_runs_in_a_graph_stage_that_reads_the_source() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let input = input(d, 20_000, 3_000);
    let mut outs = Vec::new();
    for op in ["map-filter-columns", "map-filter"] {
        let name = format!("graph-{op}");
        let path = graph_job(d, &name, &input, op);
        weir(&["run", "-q", path.to_str().expect("utf-8")]).ok();
        outs.push((
            canonical_lines(&d.join(format!("{name}-out.jsonl"))),
            canonical_lines(&d.join(format!("{name}-late.jsonl"))),
        ));
    }
    assert!(outs[0].0.len() > 100, "{} windows", outs[0].0.len());
    assert!(
        !outs[0].1.is_empty(),
        "the input is out of order: some are late"
    );
    assert_eq!(
        outs[0], outs[1],
        "the graph over columns differs from over events"
    );
}

/// A job where an operator over columns reads what an operator over events
/// made (tests/operators/tag-v1 adds `"v": 1` to each record): in one chain,
/// and as a stage reading another stage. It decodes those events into
/// columns itself, with a schema inferred from its first records; a record
/// that does not fit (an amount that is not a number) is a dead letter.
fn after_events_job(dir: &Path, name: &str, input: &Path, graph: bool) -> PathBuf {
    let (tag, columns) = (operator("tag-v1"), operator("map-filter-columns"));
    let work = if graph {
        format!(
            r#"[[stages]]
name = "tagged"
inputs = ["source"]
operators = [{{ name = "tag", component = "{tag}" }}]
[[stages]]
name = "big"
inputs = ["tagged"]
operators = [{{ name = "big-payments", component = "{columns}" }}]"#
        )
    } else {
        format!(
            r#"[[operators]]
name = "tag"
component = "{tag}"
[[operators]]
name = "big-payments"
component = "{columns}""#
        )
    };
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"name = "{name}"
parallelism = 2
batch_size = 700
[source]
type = "file"
path = "{input}"
[event_time]
field = "ts"
{work}
[sink]
type = "file"
path = "{name}-out.jsonl"
[dead_letter]
type = "file"
path = "{name}-dead.jsonl"
"#,
            input = input.display(),
        ),
    )
    .expect("write job");
    path
}

#[test]
fn an_operator_over_columns_after_one_over_events_or_another_stage_gives_the_models_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let input = input(d, 20_000, 0);
    let expected_dead = model(&input, &d.join("expected.jsonl"));
    let expected = canonical_lines(&d.join("expected.jsonl"));
    assert!(expected.len() > 5_000, "{} expected", expected.len());
    for (name, graph) in [("after-chain", false), ("after-stage", true)] {
        let j = after_events_job(d, name, &input, graph);
        weir(&["run", "-q", j.to_str().expect("utf-8")]).ok();
        assert_eq!(
            canonical_lines(&d.join(format!("{name}-out.jsonl"))),
            expected,
            "{name}: the output differs from the model's"
        );
        let dead = canonical_lines(&d.join(format!("{name}-dead.jsonl")));
        assert_eq!(dead.len(), expected_dead, "{name}: {dead:#?}");
        let lots = dead
            .iter()
            .find(|l| l.contains("lots"))
            .expect("the line with amount \"lots\" is a dead letter");
        assert!(
            lots.contains("big-payments")
                && lots.contains("does not fit the schema inferred")
                && lots.contains("amount"),
            "{name}: the dead letter says which operator and why: {lots}"
        );
    }
}
