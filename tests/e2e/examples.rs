//! The examples, run end to end through the `weir` binary with their
//! components built from source, compared exactly with the expected outputs
//! that an independent model (`tests/reference`, `examples/*/reference.py`)
//! computed.

use weir_e2e::{canonical, canonical_field, canonical_lines, repo, scratch, weir};

fn set(key: &str, path: &std::path::Path) -> String {
    format!("{key}={}", path.display())
}

/// Run an example with its outputs redirected into a scratch directory.
fn run_example(name: &str, job: &str, parallelism: usize, outputs: &[&str]) -> tempfile::TempDir {
    let out = tempfile::tempdir().expect("tempdir");
    let job = repo().join("examples").join(name).join(job);
    let mut args: Vec<String> = vec![
        "run".into(),
        "-q".into(),
        job.display().to_string(),
        "--set".into(),
        format!("parallelism={parallelism}"),
    ];
    for o in outputs {
        args.push("--set".into());
        args.push(set(
            &format!("{o}.path"),
            &out.path().join(format!("{o}.jsonl")),
        ));
    }
    weir(&args.iter().map(String::as_str).collect::<Vec<_>>()).ok();
    out
}

fn expected(name: &str, file: &str) -> Vec<String> {
    canonical_lines(&repo().join("examples").join(name).join(file))
}

#[test]
fn wordcount_matches_the_reference_with_late_records_and_dead_letters_set_aside() {
    let out = run_example(
        "wordcount",
        "job.toml",
        2,
        &["sink", "late_output", "dead_letter"],
    );
    assert_eq!(
        canonical_lines(&out.path().join("sink.jsonl")),
        expected("wordcount", "expected.jsonl")
    );
    assert_eq!(
        canonical_field(&out.path().join("late_output.jsonl"), "record"),
        expected("wordcount", "expected-late.jsonl")
    );
    let dead = canonical_lines(&out.path().join("dead_letter.jsonl"));
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert!(
        dead[0].contains("input.jsonl:21") && dead[0].contains("not a JSON object"),
        "{}",
        dead[0]
    );
    assert!(
        dead[1].contains("input.jsonl:31") && dead[1].contains("`ts` is missing"),
        "{}",
        dead[1]
    );
}

#[test]
fn sessionize_matches_the_reference_including_late_clicks() {
    let out = run_example("sessionize", "job.toml", 2, &["sink", "late_output"]);
    assert_eq!(
        canonical_lines(&out.path().join("sink.jsonl")),
        expected("sessionize", "expected.jsonl")
    );
    let late = canonical_field(&out.path().join("late_output.jsonl"), "record");
    assert_eq!(late, expected("sessionize", "expected-late.jsonl"));
    assert_eq!(late.len(), 2);
}

#[test]
fn the_sessions_over_typed_columns_in_rust_and_python_give_the_same_sessions_and_late_clicks() {
    // A session window whose aggregate answers with a list column (the
    // pages), then a map that reads the list and writes it on.
    for (file, p) in [("columns.toml", 1), ("columns.toml", 2), ("python.toml", 2)] {
        let out = run_example("sessionize", file, p, &["sink", "late_output"]);
        assert_eq!(
            canonical_lines(&out.path().join("sink.jsonl")),
            expected("sessionize", "expected.jsonl"),
            "{file} p{p}"
        );
        assert_eq!(
            canonical_field(&out.path().join("late_output.jsonl"), "record"),
            expected("sessionize", "expected-late.jsonl"),
            "{file} p{p}"
        );
    }
}

#[test]
fn fraud_alerts_match_the_reference() {
    let out = run_example("fraud", "job.toml", 2, &["sink"]);
    let alerts = canonical_lines(&out.path().join("sink.jsonl"));
    assert!(alerts.len() > 100, "only {} alerts", alerts.len());
    assert_eq!(alerts, expected("fraud", "expected.jsonl"));
}

#[test]
fn the_word_count_over_typed_columns_gives_the_same_counts_late_words_and_dead_letters() {
    for p in [1, 2] {
        let out = run_example(
            "wordcount",
            "columns.toml",
            p,
            &["sink", "late_output", "dead_letter"],
        );
        assert_eq!(
            canonical_lines(&out.path().join("sink.jsonl")),
            expected("wordcount", "expected.jsonl"),
            "p{p}"
        );
        assert_eq!(
            canonical_field(&out.path().join("late_output.jsonl"), "record"),
            expected("wordcount", "expected-late.jsonl"),
            "p{p}"
        );
        let dead = canonical_lines(&out.path().join("dead_letter.jsonl"));
        assert_eq!(dead.len(), 2, "p{p}: {dead:?}");
        assert!(
            dead[0].contains("input.jsonl:21") && dead[0].contains("not a JSON object"),
            "p{p}: {}",
            dead[0]
        );
        assert!(
            dead[1].contains("input.jsonl:31") && dead[1].contains("`ts` is missing"),
            "p{p}: {}",
            dead[1]
        );
    }
}

#[test]
fn the_fraud_detector_over_typed_columns_in_rust_and_python_gives_the_same_alerts() {
    // At parallelism 1 to 3 with its state in memory and in RocksDB,
    // through checkpoints taken while it runs.
    for (file, p, backend) in [
        ("columns.toml", 1, "memory"),
        ("columns.toml", 3, "rocksdb"),
        ("python.toml", 2, "rocksdb"),
    ] {
        let out = tempfile::tempdir().expect("tempdir");
        let job = repo().join("examples/fraud").join(file);
        let args = [
            format!("parallelism={p}"),
            set("sink.path", &out.path().join("alerts.jsonl")),
            set("state.path", &out.path().join("state")),
            format!("state.backend={backend}"),
            "source.rate=40000".into(),
            "checkpoint.interval=100ms".into(),
            set("checkpoint.dir", &out.path().join("checkpoints")),
        ];
        let mut argv = vec!["run", "-q", job.to_str().expect("utf-8")];
        for a in &args {
            argv.extend(["--set", a.as_str()]);
        }
        weir(&argv).ok();
        let snapshots = std::fs::read_dir(out.path().join("checkpoints"))
            .expect("checkpoints")
            .flatten()
            .filter(|e| e.path().join("keyed-0/state").exists())
            .count();
        assert!(
            snapshots > 0,
            "{file} p{p} {backend}: no checkpoint holds the keyed state"
        );
        assert_eq!(
            canonical_lines(&out.path().join("alerts.jsonl")),
            expected("fraud", "expected.jsonl"),
            "{file} p{p} {backend}"
        );
    }
}

#[test]
fn the_examples_written_as_job_graphs_give_the_same_outputs() {
    for p in [1, 3] {
        let out = run_example(
            "wordcount",
            "graph.toml",
            p,
            &["sink", "late_output", "dead_letter"],
        );
        let sink = canonical_lines(&out.path().join("sink.jsonl"));
        assert_eq!(
            sink,
            expected("wordcount", "expected.jsonl"),
            "wordcount p{p}"
        );
        assert_eq!(
            canonical_field(&out.path().join("late_output.jsonl"), "record"),
            expected("wordcount", "expected-late.jsonl"),
            "wordcount p{p}"
        );
        let dead = canonical_lines(&out.path().join("dead_letter.jsonl"));
        assert_eq!(dead.len(), 2, "{dead:?}");

        let out = run_example("sessionize", "graph.toml", p, &["sink", "late_output"]);
        assert_eq!(
            canonical_lines(&out.path().join("sink.jsonl")),
            expected("sessionize", "expected.jsonl"),
            "sessionize p{p}"
        );
        assert_eq!(
            canonical_field(&out.path().join("late_output.jsonl"), "record"),
            expected("sessionize", "expected-late.jsonl"),
            "sessionize p{p}"
        );
    }
    // The keyed operator's state in memory and in RocksDB, through
    // checkpoints taken while it runs (a second at 20,000 records/s).
    for backend in ["memory", "rocksdb"] {
        let out = tempfile::tempdir().expect("tempdir");
        let job = repo().join("examples/fraud/graph.toml");
        let sink = set("sink.path", &out.path().join("alerts.jsonl"));
        let state = set("state.path", &out.path().join("state"));
        let checkpoints = set("checkpoint.dir", &out.path().join("checkpoints"));
        let backend_set = format!("state.backend={backend}");
        weir(&[
            "run",
            "-q",
            job.to_str().expect("utf-8"),
            "--set",
            &sink,
            "--set",
            &state,
            "--set",
            &backend_set,
            "--set",
            "source.rate=20000",
            "--set",
            "checkpoint.interval=100ms",
            "--set",
            &checkpoints,
        ])
        .ok();
        let snapshots = std::fs::read_dir(out.path().join("checkpoints"))
            .expect("checkpoints")
            .flatten()
            .filter(|e| e.path().join("alerts-0/state").exists())
            .count();
        assert!(
            snapshots > 0,
            "fraud on {backend}: no checkpoint holds the keyed state"
        );
        assert_eq!(
            canonical_lines(&out.path().join("alerts.jsonl")),
            expected("fraud", "expected.jsonl"),
            "fraud on {backend}"
        );
    }
}

#[test]
fn python_and_rust_filters_give_the_reference_output() {
    for job in ["job.toml", "job-rust.toml"] {
        let out = run_example("python-filter", job, 1, &["sink", "dead_letter"]);
        // A stateless job keeps the input order exactly.
        let got = std::fs::read_to_string(out.path().join("sink.jsonl")).expect("output");
        let want = std::fs::read_to_string(repo().join("examples/python-filter/expected.jsonl"))
            .expect("expected");
        assert_eq!(got, want, "{job}");
        let dead = canonical_lines(&out.path().join("dead_letter.jsonl"));
        assert_eq!(dead.len(), 3, "{job}: {dead:?}");
        assert!(
            dead.iter().all(|d| d.contains("no numeric amount")),
            "{job}: {dead:?}"
        );
    }
}

#[test]
fn parallelism_one_and_four_give_identical_results() {
    for (name, outputs) in [
        ("wordcount", &["sink", "late_output", "dead_letter"][..]),
        ("sessionize", &["sink", "late_output"][..]),
        ("fraud", &["sink"][..]),
    ] {
        let one = run_example(name, "job.toml", 1, outputs);
        let four = run_example(name, "job.toml", 4, outputs);
        for o in outputs {
            let file = format!("{o}.jsonl");
            assert_eq!(
                canonical_lines(&one.path().join(&file)),
                canonical_lines(&four.path().join(&file)),
                "{name} {o}"
            );
        }
        assert_eq!(
            canonical_lines(&four.path().join("sink.jsonl")),
            expected(name, "expected.jsonl"),
            "{name}"
        );
    }
}

fn counting_job(source: &str, time: &str) -> String {
    format!(
        r#"name = "count"
batch_size = 4
{source}
[event_time]
field = "ts"
max_out_of_orderness = "2s"
[key_by]
field = "k"
[window]
type = "tumbling"
size = "10s"
time = "{time}"
aggregates = [{{ fn = "count" }}, {{ fn = "sum", field = "v" }}]
[sink]
type = "file"
path = "out.jsonl"
[late_output]
type = "file"
path = "late.jsonl"
"#
    )
}

/// The sum of an integer field over the lines of a JSON-lines file.
fn sum_of(path: &std::path::Path, field: &str) -> i64 {
    canonical_lines(path)
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("canonical JSON");
            v[field]
                .as_i64()
                .unwrap_or_else(|| panic!("no integer `{field}` in {l}"))
        })
        .sum()
}

fn records(order: impl Iterator<Item = usize>) -> String {
    order
        .map(|i| {
            format!(
                "{{\"ts\":{},\"k\":\"k{}\",\"v\":{}}}\n",
                1_000_000 + i as i64 * 500,
                i % 3,
                i
            )
        })
        .collect()
}

#[test]
fn out_of_order_input_within_the_bound_gives_the_same_windows() {
    let file_source = "[source]\ntype = \"file\"\npath = \"in.jsonl\"";
    let sorted = records(0..120);
    // Swap neighbours in blocks of three: up to 1 s out of order, bound 2 s.
    let shuffled = records((0..120).map(|i| match i % 3 {
        0 => i + 2,
        2 => i - 2,
        _ => i,
    }));
    assert_ne!(sorted, shuffled);
    let job = counting_job(file_source, "event");
    let a = scratch(&[("job.toml", &job), ("in.jsonl", &sorted)]);
    let b = scratch(&[("job.toml", &job), ("in.jsonl", &shuffled)]);
    for d in [&a, &b] {
        weir(&[
            "run",
            "-q",
            &d.path().join("job.toml").display().to_string(),
        ])
        .ok();
    }
    let out_a = canonical_lines(&a.path().join("out.jsonl"));
    assert_eq!(out_a, canonical_lines(&b.path().join("out.jsonl")));
    assert_eq!(
        canonical_lines(&b.path().join("late.jsonl")),
        Vec::<String>::new()
    );
    // 120 records over 60 s: 6 windows × 3 keys; sum of v over all is 0+…+119.
    assert_eq!(out_a.len(), 18);
    let total = sum_of(&a.path().join("out.jsonl"), "sum_v");
    assert_eq!(total, (0..120).sum::<i64>());
}

#[test]
fn stdin_source_runs_to_end_of_input() {
    let job = counting_job("[source]\ntype = \"stdin\"", "event");
    let d = scratch(&[("job.toml", &job)]);
    let mut child = std::process::Command::new(weir_e2e::weir_bin())
        .args(["run", "-q", "job.toml"])
        .current_dir(d.path())
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn weir");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(records(0..40).as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let total = sum_of(&d.path().join("out.jsonl"), "count");
    assert_eq!(total, 40);
}

#[test]
fn processing_time_windows_count_every_record() {
    let job = counting_job(
        "[source]\ntype = \"file\"\npath = \"in.jsonl\"",
        "processing",
    );
    let d = scratch(&[("job.toml", &job), ("in.jsonl", &records(0..50))]);
    weir(&[
        "run",
        "-q",
        &d.path().join("job.toml").display().to_string(),
    ])
    .ok();
    let total = sum_of(&d.path().join("out.jsonl"), "count");
    assert_eq!(total, 50);
}

#[test]
fn datagen_honours_its_rate_limit() {
    let job = r#"name = "rate"
[source]
type = "datagen"
schema = "bids"
rows = 300
rate = 1000
[sink]
type = "file"
path = "out.jsonl"
"#;
    let d = scratch(&[("job.toml", job)]);
    let t = std::time::Instant::now();
    weir(&[
        "run",
        "-q",
        &d.path().join("job.toml").display().to_string(),
    ])
    .ok();
    assert!(
        t.elapsed() >= std::time::Duration::from_millis(280),
        "300 rows at 1000/s took {:?}",
        t.elapsed()
    );
    let lines = canonical(&std::fs::read_to_string(d.path().join("out.jsonl")).unwrap());
    assert_eq!(lines.len(), 300);
}

/// Run an example with extra settings; outputs in a scratch directory.
fn run_with(name: &str, sets: &[String], outputs: &[&str]) -> tempfile::TempDir {
    let out = tempfile::tempdir().expect("tempdir");
    let job = repo().join("examples").join(name).join("job.toml");
    let mut args: Vec<String> = vec!["run".into(), "-q".into(), job.display().to_string()];
    let state = set("state.path", &out.path().join("state"));
    for s in sets.iter().chain([&state]) {
        args.extend(["--set".into(), s.clone()]);
    }
    for o in outputs {
        let path = set(&format!("{o}.path"), &out.path().join(format!("{o}.jsonl")));
        args.extend(["--set".into(), path]);
    }
    weir(&args.iter().map(String::as_str).collect::<Vec<_>>()).ok();
    out
}

#[test]
fn windows_kept_in_rocksdb_give_the_same_results_as_on_the_heap() {
    let rocks = || "state.backend=rocksdb".to_string();
    let sliding = || {
        vec![
            "window.type=sliding".to_string(),
            "window.size=20s".to_string(),
            "window.slide=5s".to_string(),
        ]
    };
    let cases: Vec<(&str, Vec<String>, &[&str])> = vec![
        ("wordcount", vec![], &["sink", "late_output", "dead_letter"]),
        ("sessionize", vec![], &["sink", "late_output"]),
        ("wordcount", sliding(), &["sink", "late_output"]),
    ];
    for (name, sets, outputs) in cases {
        let heap = run_with(name, &sets, outputs);
        let mut with_rocks = sets.clone();
        with_rocks.push(rocks());
        let in_rocks = run_with(name, &with_rocks, outputs);
        assert!(
            in_rocks.path().join("state/subtask-0/CURRENT").is_file(),
            "{name}: no RocksDB database"
        );
        for o in outputs {
            let file = format!("{o}.jsonl");
            let got = canonical_lines(&in_rocks.path().join(&file));
            assert!(!got.is_empty() || *o == "dead_letter", "{name} {o}: empty");
            assert_eq!(
                got,
                canonical_lines(&heap.path().join(&file)),
                "{name} {sets:?} {o}"
            );
        }
    }
}
