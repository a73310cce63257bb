//! Typed columns carried between stages: a window with built-in
//! aggregates after an operator over columns reads the operator's typed
//! output as it is, with no JSON in between — in one chain and in a job
//! graph, at parallelism 1 and 2, for tumbling and sliding windows. What
//! comes out must equal an independent model: the map+filter model
//! (tests/reference/map_filter.py), then the window model
//! (tests/reference/native_windows.py over flink_model.py) over its
//! output. The input is in event-time order, so no record is late and the
//! model's results do not depend on where weir's batches end.
//!
//! A window over another window's results (two stages of aggregation)
//! is held to its model in `graph.rs`.

use std::path::Path;
use weir_e2e::{canonical_lines, map_filter_model, operator, run_model, to_nano, weir_bin};

/// The window stage, as a one-chain job's tables or as a graph's stages.
fn job(
    name: &str,
    input: &Path,
    out: &Path,
    parallelism: usize,
    graph: bool,
    window: &str,
) -> String {
    let op = operator("map-filter-columns");
    let aggregates =
        r#"[{ fn = "count" }, { fn = "sum", field = "cents" }, { fn = "avg", field = "cents" }]"#;
    let shape = if graph {
        format!(
            r#"[[stages]]
name = "big"
inputs = ["source"]
operators = [{{ name = "big-payments", component = "{op}" }}]
[[stages]]
name = "per-user"
inputs = ["big"]
key_by = {{ field = "user" }}
window = {{ {window}, aggregates = {aggregates} }}
"#
        )
    } else {
        format!(
            r#"[[operators]]
name = "big-payments"
component = "{op}"
[key_by]
field = "user"
[window]
{}
aggregates = {aggregates}
"#,
            window.replace(", ", "\n")
        )
    };
    format!(
        r#"name = "{name}"
parallelism = {parallelism}
batch_size = 700
[source]
type = "file"
path = "{input}"
[event_time]
field = "ts"
max_out_of_orderness = "1s"
{shape}
[sink]
type = "file"
path = "{out}/out.jsonl"
[late_output]
type = "file"
path = "{out}/late.jsonl"
"#,
        input = input.display(),
        out = out.display(),
    )
}

#[test]
fn a_window_reads_an_operators_typed_output_and_gives_the_models_results() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let input = weir_e2e::generate_transactions(d, "in", 12_000, 40, 11, 7, 0);
    let mapped = d.join("mapped.jsonl");
    map_filter_model(&input, &mapped);
    let shapes = [
        (
            "tumbling",
            r#"type = "tumbling", size = "10s""#,
            (10_000, 0),
        ),
        (
            "sliding",
            r#"type = "sliding", size = "4s", slide = "2s""#,
            (4_000, 2_000),
        ),
    ];
    for (kind, window, (size, slide)) in shapes {
        let expected = d.join(format!("expected-{kind}"));
        std::fs::create_dir_all(&expected).expect("mkdir");
        let args: Vec<String> = [
            mapped.display().to_string(),
            kind.to_string(),
            size.to_string(),
            slide.to_string(),
            "0".into(),
            "1000".into(),
            "0".into(),
            "700".into(),
            expected.display().to_string(),
            "cents".into(),
        ]
        .into();
        run_model("native_windows.py", &args);
        let want = to_nano(canonical_lines(&expected.join("expected.jsonl")));
        assert!(
            want.len() > 100,
            "{kind}: the model made {} windows",
            want.len()
        );
        for graph in [false, true] {
            for parallelism in [1, 2] {
                let what = format!(
                    "{kind}, {}, parallelism {parallelism}",
                    if graph { "graph" } else { "one chain" }
                );
                let run = d.join(format!("{kind}-{graph}-{parallelism}"));
                std::fs::create_dir_all(&run).expect("mkdir");
                let path = run.join("job.toml");
                let text = job("typed", &input, &run, parallelism, graph, window);
                std::fs::write(&path, text).expect("job");
                let out = std::process::Command::new(weir_bin())
                    .args(["run", path.to_str().expect("utf-8")])
                    .env("RUST_LOG", "warn,weir=info")
                    .output()
                    .expect("run weir");
                let log = String::from_utf8_lossy(&out.stderr);
                assert!(out.status.success(), "{what}: {log}");
                assert!(
                    log.contains("the window reads its input as typed columns")
                        && log.contains("cents: Int64"),
                    "{what}: the window did not read the operator's columns: {log}"
                );
                assert_eq!(
                    to_nano(canonical_lines(&run.join("out.jsonl"))),
                    want,
                    "{what}"
                );
                assert!(
                    canonical_lines(&run.join("late.jsonl")).is_empty(),
                    "{what}: nothing is late in an input in order"
                );
            }
        }
    }
}

/// Regression: a window keyed straight off a source that decodes columns
/// for another stage's operator got the records without their keys, and
/// put every record under the key "" (before typed columns between
/// stages).
#[test]
fn a_window_beside_an_operator_over_the_sources_columns_keys_every_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let input = weir_e2e::generate_transactions(d, "in", 6_000, 30, 5, 9, 0);
    let expected = d.join("expected");
    std::fs::create_dir_all(&expected).expect("mkdir");
    let mut args: Vec<String> = vec![input.display().to_string(), "tumbling".into()];
    args.extend(["10000", "0", "0", "1000", "0", "500"].map(String::from));
    args.push(expected.display().to_string());
    run_model("native_windows.py", &args);
    let want = to_nano(canonical_lines(&expected.join("expected.jsonl")));
    assert!(want.len() > 50, "the model made {} windows", want.len());
    for parallelism in [1, 2] {
        let run = d.join(format!("p{parallelism}"));
        std::fs::create_dir_all(&run).expect("mkdir");
        let path = run.join("job.toml");
        let text = format!(
            r#"name = "beside"
parallelism = {parallelism}
batch_size = 500
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
name = "per-user"
inputs = ["source"]
key_by = {{ field = "user" }}
window = {{ type = "tumbling", size = "10s", aggregates = [{{ fn = "count" }}, {{ fn = "sum", field = "amount" }}, {{ fn = "avg", field = "amount" }}] }}
[sink]
type = "file"
path = "{out}/out.jsonl"
[[sinks]]
name = "big"
input = "big"
type = "discard"
[late_output]
type = "discard"
"#,
            input = input.display(),
            op = operator("map-filter-columns"),
            out = run.display(),
        );
        std::fs::write(&path, text).expect("job");
        weir_e2e::weir(&["run", "-q", path.to_str().expect("utf-8")]).ok();
        assert_eq!(
            to_nano(canonical_lines(&run.join("out.jsonl"))),
            want,
            "parallelism {parallelism}"
        );
    }
}
