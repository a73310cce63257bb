//! A Wasm window aggregate over typed columns (`weir:dataflow@0.2.0`, the
//! `largest-columns` test operator in Rust and `largest-py` in Python, the
//! SDK's `@weir.aggregate`, both built from source): the window hands
//! it the columns it named at `init` — decoded once per batch, never
//! parsed by the guest — and the accumulators it returns are kept by the
//! host. Results, late records and dead letters must be those of an
//! independent model (tests/reference/largest_windows.py over
//! flink_model.py) for tumbling, sliding and session windows, at
//! parallelism 1 and 2, as a one-chain job and as a graph stage — with
//! the window decoding the records into the aggregate's columns itself,
//! and with a source that declares its schema and decodes them once,
//! whose columns the window hands on as they are.

use std::path::Path;
use weir_e2e::{TestRng, canonical_field, canonical_lines, operator, run_model, to_nano, weir_bin};

/// `n` payments 100 ms apart across 25 users and 7 merchants, some up to
/// 8 s behind (late for the jobs' 2 s bound), whole amounts first and
/// fractions after, with lines the source, the key-by or the aggregate
/// cannot take.
fn input(path: &Path, n: u64) {
    let mut rng = TestRng::from_env();
    let start = 1_700_000_000_000i64;
    let mut out = String::new();
    for i in 0..n {
        let mut ts = start + 100 * i as i64;
        if rng.between(0, 100) < 6 {
            ts -= rng.between(0, 8_000) as i64;
        }
        let user = format!("u{}", rng.between(0, 25));
        let merchant = format!("m{}", rng.between(0, 7));
        let amount = if i < n / 2 {
            format!("{}", rng.between(0, 60))
        } else {
            format!("{}.{:02}", rng.between(0, 60), rng.between(0, 100))
        };
        let line = match i {
            100 => "not JSON at all".to_string(),
            200 => format!(r#"{{"ts":{ts},"user":"{user}","merchant":"{merchant}"}}"#),
            300 => {
                format!(r#"{{"ts":{ts},"user":"{user}","amount":"abc","merchant":"{merchant}"}}"#)
            }
            400 => format!(r#"{{"ts":{ts},"amount":{amount},"merchant":"{merchant}"}}"#),
            500 => format!(r#"{{"user":"{user}","amount":{amount}}}"#),
            600 => format!(r#"{{"ts":{ts},"user":"{user}","amount":{amount}}}"#),
            _ => format!(
                r#"{{"ts":{ts},"user":"{user}","amount":{amount},"merchant":"{merchant}","n":{i}}}"#
            ),
        };
        out.push_str(&line);
        out.push('\n');
    }
    std::fs::write(path, out).expect("write input");
}

/// The window per user with the aggregate: a one-chain job's `[key_by]`
/// and `[window]`, or a graph stage reading the source.
fn keyed(window: &str, graph: bool, component: &str) -> String {
    let op = operator(component);
    let aggregate = format!(r#"{{ name = "largest", component = "{op}" }}"#);
    if graph {
        format!(
            "[[stages]]\nname = \"per-user\"\ninputs = [\"source\"]\nkey_by = {{ field = \"user\" }}\nwindow = {{ {}, aggregate = {aggregate} }}",
            window.replace('\n', ", ")
        )
    } else {
        format!("[key_by]\nfield = \"user\"\n[window]\n{window}\naggregate = {aggregate}")
    }
}

#[test]
fn a_wasm_aggregate_over_columns_gives_the_models_results_late_records_and_dead_letters() {
    check(false, "largest-columns", "");
}

#[test]
fn a_wasm_aggregate_reads_a_declared_sources_columns_and_gives_the_models_results() {
    check(true, "largest-columns", "");
}

/// In Python, at a 16 MiB memory limit: componentize-py's runtime starts
/// above 75% of it, so the window remakes the instance every 64 batches
/// (it keeps no state: the host keeps the accumulators) — and the results
/// must not notice.
#[test]
fn a_python_aggregate_over_columns_recycled_as_it_runs_gives_the_models_results() {
    check(true, "largest-py", "[limits]\nmemory = \"16MiB\"\n");
}

/// Every shape against the model for aggregate `component`; `declared`:
/// the source declares its schema (so it decodes columns the window takes
/// as they are); `limits`: a `[limits]` table for the job, under which the
/// instance must be recycled as it runs.
fn check(declared: bool, component: &str, limits: &str) {
    let schema = if declared {
        "[source.schema]\nts = \"int64\"\nuser = \"string\"\namount = \"double\"\nmerchant = \"string\"\n"
    } else {
        ""
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let inp = d.join("in.jsonl");
    input(&inp, 3_000);
    let shapes = [
        (
            "tumbling",
            "type = \"tumbling\"\nsize = \"10s\"",
            (10_000, 0, 0),
        ),
        (
            "sliding",
            "type = \"sliding\"\nsize = \"4s\"\nslide = \"2s\"",
            (4_000, 2_000, 0),
        ),
        (
            "session",
            "type = \"session\"\ngap = \"700ms\"",
            (0, 0, 700),
        ),
    ];
    for (kind, window, (size, slide, gap)) in shapes {
        let expected = d.join(format!("expected-{kind}"));
        std::fs::create_dir_all(&expected).expect("mkdir");
        let mut args: Vec<String> = vec![inp.display().to_string(), kind.to_string()];
        args.extend([size, slide, gap, 2_000, 0, 10].map(|x: i64| x.to_string()));
        args.push(expected.display().to_string());
        if declared {
            args.push("declared".into());
        }
        run_model("largest_windows.py", &args);
        let want = to_nano(canonical_lines(&expected.join("expected.jsonl")));
        let want_late = canonical_lines(&expected.join("expected-late.jsonl"));
        let dead: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(expected.join("expected-dead.json")).expect("dead"),
        )
        .expect("json");
        assert!(want.len() > 100, "{kind}: {} results", want.len());
        assert!(!want_late.is_empty(), "{kind}: nothing is late");
        for (parallelism, graph) in [(1, false), (2, false), (1, true), (2, true)] {
            let run = d.join(format!("{kind}-{parallelism}-{graph}"));
            std::fs::create_dir_all(&run).expect("mkdir");
            let job = format!(
                r#"name = "largest-{kind}"
parallelism = {parallelism}
batch_size = 10
[source]
type = "file"
path = "{input}"
{schema}[event_time]
field = "ts"
max_out_of_orderness = "2s"
{keyed}
[sink]
type = "file"
path = "{out}/out.jsonl"
[late_output]
type = "file"
path = "{out}/late.jsonl"
[dead_letter]
type = "file"
path = "{out}/dead.jsonl"
{limits}"#,
                input = inp.display(),
                keyed = keyed(window, graph, component),
                out = run.display(),
            );
            let path = run.join("job.toml");
            std::fs::write(&path, job).expect("job");
            let run_job = std::process::Command::new(weir_bin())
                .args(["run", path.to_str().expect("utf-8")])
                .env("RUST_LOG", "warn,weir=info")
                .output()
                .expect("run weir");
            let log = String::from_utf8_lossy(&run_job.stderr);
            let form = if graph { "a graph stage" } else { "one chain" };
            let what = format!("{component}: {kind} at parallelism {parallelism}, {form}");
            assert!(run_job.status.success(), "{what}: {log}");
            if !limits.is_empty() {
                let recycled = log.matches("continuing with a fresh instance").count();
                assert!(recycled >= 2, "{what}: recycled {recycled} times: {log}");
            }
            assert_eq!(
                log.contains("the aggregate over columns reads its input's typed columns"),
                declared,
                "{what}: whether the window took the source's columns as they are: {log}"
            );
            assert_eq!(
                to_nano(canonical_lines(&run.join("out.jsonl"))),
                want,
                "{what}"
            );
            assert_eq!(
                canonical_field(&run.join("late.jsonl"), "record"),
                want_late,
                "{what}: late records (with their own bytes)"
            );
            let letters = canonical_lines(&run.join("dead.jsonl"));
            for (stage, lines) in dead.as_object().expect("object") {
                let got: Vec<&String> = letters
                    .iter()
                    .filter(|l| l.contains(&format!(r#""stage":"{stage}""#)))
                    .collect();
                let lines = lines.as_array().expect("array");
                assert_eq!(got.len(), lines.len(), "{what}: {stage}: {got:?}");
            }
            assert!(
                letters
                    .iter()
                    .any(|l| l.contains("does not fit the columns aggregate `largest` reads")),
                "{what}: {letters:?}"
            );
        }
    }
}

/// A global window (one row per key, updated batch by batch) takes a Wasm
/// aggregate over columns; one over JSON events (0.1) is refused before
/// the job starts, saying what to do.
#[test]
fn a_global_window_of_a_wasm_aggregate_over_events_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let inp = d.join("in.jsonl");
    input(&inp, 50);
    let job = format!(
        "name = \"largest-global\"\n[source]\ntype = \"file\"\npath = \"{}\"\n{}\n[sink]\ntype = \"file\"\npath = \"{}\"\n",
        inp.display(),
        keyed("type = \"global\"", false, "largest-events"),
        d.join("out.jsonl").display()
    );
    let path = d.join("job.toml");
    std::fs::write(&path, job).expect("job");
    let run = std::process::Command::new(weir_bin())
        .args(["run", path.to_str().expect("utf-8")])
        .output()
        .expect("run weir");
    let log = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "ran: {log}");
    assert!(
        log.contains("`largest` is over JSON events")
            && log.contains("rebuild it with the 0.2 SDK"),
        "{log}"
    );
    assert!(!d.join("out.jsonl").exists(), "it started");
}
