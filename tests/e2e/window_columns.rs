//! A window with built-in aggregates straight over a JSON source reads its
//! key, event time and aggregated field from the columns the source decoded
//! once. Its results, late records and dead letters must be those of an
//! independent model (tests/reference/native_windows.py over
//! flink_model.py) for tumbling, sliding and session windows, with and
//! without allowed lateness, at parallelism 1 and 2 — on an input whose
//! first records hold only whole amounts (so an inferred schema would make
//! `amount` an integer column and refuse the fractions after them) and
//! that holds every kind of bad record. The same window as a job graph's
//! stage keyed off the source reads the same columns, and is held to the
//! same model.

use std::path::Path;
use weir_e2e::{TestRng, canonical_field, canonical_lines, run_model, to_nano, weir_bin};

/// `n` transactions 100 ms apart across 30 users, some up to 8 s behind
/// (more than the jobs' 2 s bound: late), whole amounts for the first half
/// and fractions after, and five bad lines.
fn input(path: &Path, n: u64) {
    let mut rng = TestRng::from_env();
    let start = 1_700_000_000_000i64;
    let mut out = String::new();
    for i in 0..n {
        let mut ts = start + 100 * i as i64;
        if rng.between(0, 100) < 6 {
            ts -= rng.between(0, 8_000) as i64;
        }
        let user = format!("u{}", rng.between(0, 30));
        let amount = if i < n / 2 {
            format!("{}", rng.between(0, 100))
        } else {
            format!("{}.{:02}", rng.between(0, 100), rng.between(0, 100))
        };
        let line = match i {
            100 => "this is not JSON".to_string(),
            200 => format!(r#"{{"ts":{ts},"user":"{user}"}}"#),
            300 => format!(r#"{{"ts":{},"user":"{user}","amount":"abc"}}"#, ts - 5_000),
            400 => format!(r#"{{"ts":{ts},"amount":{amount}}}"#),
            500 => format!(r#"{{"user":"{user}","amount":{amount}}}"#),
            _ => format!(r#"{{"ts":{ts},"user":"{user}","amount":{amount},"note":"n{i}"}}"#),
        };
        out.push_str(&line);
        out.push('\n');
    }
    std::fs::write(path, out).expect("write input");
}

/// The window per user with built-in aggregates: a one-chain job's
/// `[key_by]` and `[window]`, or a graph stage reading the source.
fn keyed(window: &str, graph: bool) -> String {
    let aggregates =
        r#"[{ fn = "count" }, { fn = "sum", field = "amount" }, { fn = "avg", field = "amount" }]"#;
    if graph {
        format!(
            "[[stages]]\nname = \"per-user\"\ninputs = [\"source\"]\nkey_by = {{ field = \"user\" }}\nwindow = {{ {}, aggregates = {aggregates} }}",
            window.replace('\n', ", ")
        )
    } else {
        format!("[key_by]\nfield = \"user\"\n[window]\n{window}\naggregates = {aggregates}")
    }
}

struct Shape {
    name: &'static str,
    window: &'static str,
    /// kind, size, slide, gap, lateness (ms) for the model.
    model: (&'static str, i64, i64, i64, i64),
    batch: usize,
}

#[test]
fn a_builtin_window_over_columns_gives_the_models_results_late_records_and_dead_letters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let inp = d.join("in.jsonl");
    input(&inp, 4_000);
    let shapes = [
        Shape {
            name: "tumbling",
            window: "type = \"tumbling\"\nsize = \"10s\"",
            model: ("tumbling", 10_000, 0, 0, 0),
            batch: 10,
        },
        Shape {
            name: "sliding",
            window: "type = \"sliding\"\nsize = \"4s\"\nslide = \"2s\"",
            model: ("sliding", 4_000, 2_000, 0, 0),
            batch: 10,
        },
        Shape {
            name: "session",
            window: "type = \"session\"\ngap = \"700ms\"",
            model: ("session", 0, 0, 700, 0),
            batch: 10,
        },
        // With allowed lateness a window fires again for each record that
        // updates it: one record per batch makes weir's end-of-batch firing
        // and Flink's per-record firing the same.
        Shape {
            name: "tumbling-lateness",
            window: "type = \"tumbling\"\nsize = \"10s\"\nallowed_lateness = \"1500ms\"",
            model: ("tumbling", 10_000, 0, 0, 1_500),
            batch: 1,
        },
    ];
    for shape in &shapes {
        let (kind, size, slide, gap, lateness) = shape.model;
        let expected = d.join(format!("expected-{}", shape.name));
        std::fs::create_dir_all(&expected).expect("mkdir");
        let mut args: Vec<String> = vec![inp.display().to_string(), kind.to_string()];
        args.extend([size, slide, gap, 2_000, lateness].map(|x| x.to_string()));
        args.extend([shape.batch.to_string(), expected.display().to_string()]);
        run_model("native_windows.py", &args);
        let want = to_nano(canonical_lines(&expected.join("expected.jsonl")));
        let want_late = canonical_lines(&expected.join("expected-late.jsonl"));
        let dead: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(expected.join("expected-dead.json")).expect("dead"),
        )
        .expect("json");
        assert!(want.len() > 100, "{}: {} results", shape.name, want.len());
        assert!(!want_late.is_empty(), "{}: nothing is late", shape.name);
        for (parallelism, graph) in [(1, false), (2, false), (1, true), (2, true)] {
            let run = d.join(format!("{}-{parallelism}-{graph}", shape.name));
            std::fs::create_dir_all(&run).expect("mkdir");
            let job = format!(
                r#"name = "columns-{name}"
parallelism = {parallelism}
batch_size = {batch}
[source]
type = "file"
path = "{input}"
[event_time]
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
"#,
                name = shape.name,
                batch = shape.batch,
                input = inp.display(),
                keyed = keyed(shape.window, graph),
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
            let what = format!("{} at parallelism {parallelism}, {form}", shape.name);
            assert!(run_job.status.success(), "{what}: {log}");
            assert!(
                log.contains("inferred the input schema")
                    && log.contains("the window reads its input as typed columns"),
                "{what}: the window did not read columns: {log}"
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
                if stage == "decode" {
                    for n in lines {
                        assert!(
                            got.iter().any(|l| l.contains(&format!("in.jsonl:{n}\""))),
                            "{what}: no dead letter for line {n}: {got:?}"
                        );
                    }
                }
            }
            assert!(
                letters
                    .iter()
                    .any(|l| l.contains("field `amount` (for sum_amount) is missing")),
                "{what}: {letters:?}"
            );
        }
    }
}
