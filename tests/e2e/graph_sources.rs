//! Job graphs with several sources (`[source]` and `[[sources]]`): orders
//! and payments read from two files by two source tasks at their own
//! pace, joined (interval and window joins) with barriers aligned across
//! the sources; the pairs equal the independent model's
//! (tests/reference/graph.py, run on the two files together) on both
//! state backends and at parallelism 1 and 2, and a run killed with
//! SIGKILL again and again ends with exactly the output of an
//! uninterrupted one.

use std::path::{Path, PathBuf};
use weir_e2e::graph_input::{input, lines_of_kind, model, normalized, split_by_kind};
use weir_e2e::weir;

/// Both joins of orders (`source`) and payments (`payments`), a window
/// over one join's pairs, all three in one union to `[sink]`, and the
/// payments keyed by user to a named sink (which reads one source only,
/// beside the union that reads both).
const STAGES: &str = r#"
[[stages]]
name = "paid"
join = { type = "interval", left = "source", right = "payments", left_key = "order", right_key = "order", lower = "-1s", upper = "5s" }

[[stages]]
name = "per-user"
join = { type = "window", size = "10s", left = "source", right = "payments", left_key = "user", right_key = "user" }

[[stages]]
name = "paid-per-user"
inputs = ["paid"]
key_by = { field = "left.user" }
window = { type = "tumbling", size = "10s", aggregates = [{ fn = "count", as = "paid_orders" }] }

[[stages]]
name = "all"
inputs = ["paid", "per-user", "paid-per-user"]

[[stages]]
name = "by-user"
inputs = ["payments"]
key_by = { field = "user" }

[[sinks]]
name = "payments"
input = "by-user"
type = "file"
path = "@NAME@-payments.jsonl"
"#;

/// A job reading `orders` as `[source]` and `payments` as a named
/// source, each at `rate` records per second (0: as fast as it can).
fn job(dir: &Path, name: &str, (orders, payments): (&Path, &Path), rate: u64) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"name = "{name}"
batch_size = 128
[source]
type = "file"
path = "{orders}"
rate = {rate}
[[sources]]
name = "payments"
type = "file"
path = "{payments}"
rate = {rate}
[event_time]
field = "ts"
max_out_of_orderness = "2s"
[sink]
type = "file"
path = "{name}-out.jsonl"
[late_output]
type = "file"
path = "{name}-late.jsonl"
{stages}"#,
            orders = orders.display(),
            payments = payments.display(),
            stages = STAGES.replace("@NAME@", name),
        ),
    )
    .expect("write job");
    path
}

/// The interval join's pairs and the window join's pairs in an output.
fn joins(out: &[String]) -> (Vec<String>, Vec<String>) {
    let pairs = |windowed: bool| {
        out.iter()
            .filter(|l| l.contains("\"left\"") && l.contains("window_start") == windowed)
            .cloned()
            .collect::<Vec<_>>()
    };
    (pairs(false), pairs(true))
}

/// The models' pairs, and the input's payments: what each output must be.
struct Expected {
    interval: Vec<String>,
    window: Vec<String>,
    payments: Vec<String>,
}

fn expected(d: &Path, input: &Path) -> Expected {
    let e = Expected {
        interval: normalized(&model(d, "interval", input, &["-1000", "5000"])),
        window: normalized(&model(d, "window-join", input, &["10000"])),
        payments: lines_of_kind(input, "payment"),
    };
    assert!(
        e.interval.len() > 1000 && e.window.len() > 1000 && e.payments.len() > 1000,
        "the models made only {} and {} pairs",
        e.interval.len(),
        e.window.len()
    );
    e
}

fn check(d: &Path, name: &str, want: &Expected) {
    let out = normalized(&d.join(format!("{name}-out.jsonl")));
    let (interval, window) = joins(&out);
    assert_eq!(
        interval.len(),
        want.interval.len(),
        "{name}: interval pairs"
    );
    assert!(interval == want.interval, "{name}: interval pairs differ");
    assert_eq!(window.len(), want.window.len(), "{name}: window pairs");
    assert!(window == want.window, "{name}: window pairs differ");
    let counts = out
        .iter()
        .filter(|l| l.contains("\"paid_orders\":"))
        .count();
    assert!(counts > 100, "{name}: only {counts} windows of paid orders");
    let payments = normalized(&d.join(format!("{name}-payments.jsonl")));
    assert!(
        payments == want.payments,
        "{name}: the named sink wrote {} lines, not the input's {} payments",
        payments.len(),
        want.payments.len()
    );
    let late = std::fs::read_to_string(d.join(format!("{name}-late.jsonl"))).unwrap_or_default();
    assert!(late.is_empty(), "{name}: nothing is late here: {late}");
}

#[test]
fn two_sources_joined_give_the_models_pairs_on_both_backends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let input = input(d, 6000, 300);
    let want = expected(d, &input);
    let (orders, payments) = split_by_kind(d, &input);
    for (p, backend) in [(1, "memory"), (2, "memory"), (2, "rocksdb")] {
        let name = format!("two-p{p}-{backend}");
        let j = job(d, &name, (&orders, &payments), 0);
        let state = format!("state.path={}", d.join(format!("{name}-state")).display());
        weir(&[
            "run",
            "-q",
            j.to_str().expect("utf-8"),
            "--set",
            &format!("parallelism={p}"),
            "--set",
            &format!("state.backend={backend}"),
            "--set",
            &state,
        ])
        .ok();
        check(d, &name, &want);
    }
}

#[test]
fn two_sources_killed_at_random_moments_give_exactly_the_uninterrupted_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let input = input(d, 10_000, 300);
    let want = expected(d, &input);
    let (orders, payments) = split_by_kind(d, &input);
    let common = |name: &str| {
        vec![
            "--set".to_string(),
            "parallelism=2".into(),
            "--set".into(),
            "checkpoint.interval=100ms".into(),
            "--set".into(),
            // `checkpoints/` is where the kill loop looks for them.
            format!(
                "checkpoint.dir={}",
                d.join(format!("{name}-checkpoints")).display()
            ),
            "--set".into(),
            "state.backend=rocksdb".into(),
            "--set".into(),
            format!("state.path={}", d.join(format!("{name}-state")).display()),
        ]
    };
    let run = |name: &str, rate: u64| {
        let j = job(d, name, (&orders, &payments), rate);
        let mut args = vec!["run".to_string(), "-q".into(), j.display().to_string()];
        args.extend(common(name));
        args
    };
    let args = run("whole", 0);
    weir(&args.iter().map(String::as_str).collect::<Vec<_>>()).ok();
    check(d, "whole", &want);
    // Each source at 1000 records a second: about 10 s of input, killed
    // at least 10 times after its first checkpoint.
    let args = run("crash", 1000);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    std::fs::create_dir_all(d.join("crash-checkpoints")).expect("mkdir");
    std::os::unix::fs::symlink(d.join("crash-checkpoints"), d.join("checkpoints")).expect("link");
    let kills = weir_e2e::crash::kill_until_done(d, &args, 10);
    assert!(kills >= 10, "only {kills} kills landed");
    for out in ["out", "payments"] {
        let crashed = weir_e2e::canonical_lines(&d.join(format!("crash-{out}.jsonl")));
        let whole = weir_e2e::canonical_lines(&d.join(format!("whole-{out}.jsonl")));
        assert_eq!(
            crashed.len(),
            whole.len(),
            "{out}: lines after {kills} kills"
        );
        assert!(
            crashed == whole,
            "{out}: after {kills} kills the output differs from the uninterrupted run's"
        );
    }
    check(d, "crash", &want);
}

#[test]
fn a_source_no_stage_reads_or_a_clashing_name_is_refused_before_it_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let input = input(d, 10, 3);
    let (orders, payments) = split_by_kind(d, &input);
    let j = job(d, "bad", (&orders, &payments), 0);
    let text = std::fs::read_to_string(&j).expect("job");
    // Nothing reads `payments`; a second source is named like a stage.
    let text = text
        .replace(
            "\"source\", right = \"payments\"",
            "\"source\", right = \"source\"",
        )
        .replace("inputs = [\"payments\"]", "inputs = [\"source\"]")
        + "\n[[sources]]\nname = \"all\"\ntype = \"file\"\npath = \"x.jsonl\"\n";
    std::fs::write(&j, text).expect("job");
    let err = weir(&["run", "-q", j.to_str().expect("utf-8")]).failed();
    assert!(
        err.contains("sources[0].name") && err.contains("no stage reads source `payments`"),
        "{err}"
    );
    assert!(
        err.contains("sources[1].name") && err.contains("`all` names a stage too"),
        "{err}"
    );
}

#[test]
fn a_named_source_decodes_its_declared_schema_once_and_sets_bad_lines_aside_with_their_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let raw = weir_e2e::generate_transactions(d, "raw", 20_000, 500, 7, 10, 0);
    let raw = std::fs::read_to_string(raw).expect("generated input");
    // Every other line to each source; the second gets a line whose
    // amount is not a number now and then.
    let (mut all, mut a, mut b) = (String::new(), String::new(), String::new());
    for (i, line) in raw.lines().enumerate() {
        let to = if i % 2 == 0 { &mut a } else { &mut b };
        if i % 5000 == 1001 {
            let bad = "{\"ts\":1000,\"user\":\"u1\",\"amount\":\"lots\",\"merchant\":\"m1\"}\n";
            to.push_str(bad);
            all.push_str(bad);
        }
        for text in [&mut *to, &mut all] {
            text.push_str(line);
            text.push('\n');
        }
    }
    for (name, text) in [("all", &all), ("a", &a), ("b", &b)] {
        std::fs::write(d.join(format!("{name}.jsonl")), text).expect("write");
    }
    let dead = weir_e2e::map_filter_model(&d.join("all.jsonl"), &d.join("expected.jsonl"));
    assert_eq!(dead, 4, "the input holds 4 bad lines");
    let op = weir_e2e::operator("map-filter-columns");
    let job = |schema: &str| {
        format!(
            r#"name = "named-columns"
batch_size = 500
[source]
type = "file"
path = "a.jsonl"
[[sources]]
name = "more"
type = "file"
path = "b.jsonl"
schema = {{ {schema} }}
[event_time]
field = "ts"
[[stages]]
name = "a"
inputs = ["source"]
operators = [{{ name = "big-a", component = "{op}" }}]
[[stages]]
name = "b"
inputs = ["more"]
operators = [{{ name = "big-b", component = "{op}" }}]
[[stages]]
name = "both"
inputs = ["a", "b"]
[sink]
type = "file"
path = "out.jsonl"
[dead_letter]
type = "file"
path = "dead.jsonl"
"#
        )
    };
    let j = d.join("named-columns.toml");
    std::fs::write(
        &j,
        job(r#"ts = "int", user = "string", amount = "double", merchant = "string""#),
    )
    .expect("write job");
    weir(&["run", "-q", j.to_str().expect("utf-8")]).ok();
    assert_eq!(
        weir_e2e::canonical_lines(&d.join("out.jsonl")),
        weir_e2e::canonical_lines(&d.join("expected.jsonl")),
        "two sources through the operator over columns differ from the model"
    );
    let dead = weir_e2e::canonical_lines(&d.join("dead.jsonl"));
    assert_eq!(dead.len(), 4, "{dead:#?}");
    // Set aside by the source's decoder, which knows the line.
    assert!(
        dead.iter()
            .all(|l| l.contains("b.jsonl:") && l.contains("decode") && l.contains("amount")),
        "{dead:#?}"
    );
    std::fs::write(&j, job(r#"user = "string", amount = "money""#)).expect("write job");
    let err = weir(&["run", "-q", j.to_str().expect("utf-8")]).failed();
    assert!(
        err.contains("sources[0].schema") && err.contains("unknown type `money`"),
        "{err}"
    );
}
