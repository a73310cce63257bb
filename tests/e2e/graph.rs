//! Jobs as graphs of stages (`[[stages]]`) through the `weir` binary: one
//! source split into branches by a Wasm operator (tests/operators/route,
//! built from source), joined (interval and window joins), unioned and
//! aggregated in two keyed stages; every output equals an independent
//! model's (tests/reference/graph.py) at parallelism 1 and 2, and a join
//! job killed with SIGKILL again and again ends with exactly the output of
//! an uninterrupted run, its named sink (`[[sinks]]`) exactly the records
//! it was given.

use std::path::{Path, PathBuf};
use weir_e2e::graph_input::{input, lines_of_kind, model, normalized};
use weir_e2e::{operator, weir};

/// The two branches of the input, by kind.
fn branches() -> String {
    let route = operator("route");
    format!(
        r#"
[[stages]]
name = "orders"
inputs = ["source"]
operators = [{{ name = "only-orders", component = "{route}", config = {{ field = "kind", equals = "order" }} }}]

[[stages]]
name = "payments"
inputs = ["source"]
operators = [{{ name = "only-payments", component = "{route}", config = {{ field = "kind", equals = "payment" }} }}]
"#
    )
}

/// Stage `paid`: every payment from 1 s before to `upper` after its
/// order, an interval join by order.
fn paid_by_order(upper: &str) -> String {
    format!(
        r#"
[[stages]]
name = "paid"
join = {{ type = "interval", left = "orders", right = "payments", left_key = "order", right_key = "order", lower = "-1s", upper = "{upper}" }}
"#
    )
}

/// A graph job on `input` with `stages`, output to `<name>-out.jsonl`.
fn job(dir: &Path, name: &str, input: &Path, parallelism: usize, stages: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"name = "{name}"
parallelism = {parallelism}
batch_size = 256
[source]
type = "file"
path = "{input}"
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
            input = input.display(),
            stages = stages.replace("@NAME@", name),
        ),
    )
    .expect("write job");
    path
}

/// A named sink writing the `payments` branch to `<job>-payments.jsonl`.
const PAYMENTS_SINK: &str = r#"
[[sinks]]
name = "payments"
input = "payments"
type = "file"
path = "@NAME@-payments.jsonl"
"#;

fn run_and_compare(d: &Path, name: &str, input: &Path, stages: &str, expected: &Path) {
    let want = normalized(expected);
    assert!(
        want.len() > 1000,
        "the model made only {} lines",
        want.len()
    );
    // Join buffers and windows live in the state backend: both backends.
    for (p, backend) in [(1, "memory"), (2, "memory"), (2, "rocksdb")] {
        let name = format!("{name}-p{p}-{backend}");
        let j = job(d, &name, input, p, stages);
        let backend = format!("state.backend={backend}");
        let state = format!("state.path={}", d.join(format!("{name}-state")).display());
        let args = ["run", "-q", j.to_str().expect("utf-8")];
        weir(&[&args[..], &["--set", &backend, "--set", &state]].concat()).ok();
        let got = normalized(&d.join(format!("{name}-out.jsonl")));
        assert_eq!(got.len(), want.len(), "{name}: lines out vs the model's");
        assert!(
            got == want,
            "{name}: weir's output differs from the model's"
        );
        let late =
            std::fs::read_to_string(d.join(format!("{name}-late.jsonl"))).unwrap_or_default();
        assert!(
            late.is_empty(),
            "{name}: nothing is late in this input: {late}"
        );
        if stages.contains(PAYMENTS_SINK) {
            let got = normalized(&d.join(format!("{name}-payments.jsonl")));
            let want = lines_of_kind(input, "payment");
            assert!(want.len() > 1000, "only {} payments", want.len());
            assert!(
                got == want,
                "{name}: the named sink wrote {} lines, not the input's {} payments",
                got.len(),
                want.len()
            );
        }
    }
}

#[test]
fn an_interval_join_of_two_branches_gives_the_models_pairs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let input = input(d, 6000, 300);
    let expected = model(d, "interval", &input, &["-1000", "5000"]);
    let stages = branches() + &paid_by_order("5s") + PAYMENTS_SINK;
    run_and_compare(d, "interval", &input, &stages, &expected);
}

#[test]
fn a_join_holding_more_than_the_memory_budget_runs_in_rocksdb_and_fails_loudly_in_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let input = input(d, 6000, 300);
    // Every record 1 KiB heavier, and joined within an hour: the join
    // holds the whole input (about 12 MiB) until the input ends.
    let pad = "x".repeat(1024);
    let text = std::fs::read_to_string(&input).expect("input");
    let padded: String = text
        .lines()
        .map(|l| format!("{{\"pad\":\"{pad}\",{}\n", &l[1..]))
        .collect();
    std::fs::write(&input, padded).expect("padded input");
    let expected = model(d, "interval", &input, &["-1000", "3600000"]);
    let stages = branches() + &paid_by_order("1h");
    let limit = ["--set", "limits.host_memory=8MiB"];
    let j = job(d, "in-memory", &input, 1, &stages);
    let run = weir(&[&["run", "-q", j.to_str().expect("utf-8")][..], &limit].concat());
    let why = run.stderr();
    assert!(!run.output.status.success(), "the heap join fit in 8 MiB?");
    assert!(
        why.contains("limits.host_memory") && why.contains("state.backend = \"rocksdb\""),
        "the failure names the budget and the way out: {why}"
    );
    let j = job(d, "in-rocksdb", &input, 1, &stages);
    let state = format!("state.path={}", d.join("state").display());
    let backend = ["--set", "state.backend=rocksdb", "--set", &state];
    let run = weir(
        &[
            &["run", "-q", j.to_str().expect("utf-8")][..],
            &limit,
            &backend,
        ]
        .concat(),
    );
    assert!(run.output.status.success(), "{}", run.stderr());
    let got = normalized(&d.join("in-rocksdb-out.jsonl"));
    let want = normalized(&expected);
    assert!(
        want.len() > 3000,
        "the model made only {} pairs",
        want.len()
    );
    assert_eq!(got.len(), want.len(), "pairs out vs the model's");
    assert!(
        got == want,
        "the RocksDB join's pairs differ from the model's"
    );
}

#[test]
fn a_window_join_gives_the_models_pairs_per_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let input = input(d, 6000, 200);
    let expected = model(d, "window-join", &input, &["10000"]);
    let stages = branches()
        + r#"
[[stages]]
name = "together"
join = { type = "window", size = "10s", left = "orders", right = "payments", left_key = "user", right_key = "user" }
"#;
    run_and_compare(d, "window-join", &input, &stages, &expected);
}

#[test]
fn a_union_feeds_two_keyed_window_stages_like_the_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let input = input(d, 8000, 300);
    let expected = model(d, "two-stage", &input, &["10000"]);
    let stages = branches()
        + r#"
[[stages]]
name = "per-user"
inputs = ["orders", "payments"]
key_by = { field = "user" }
window = { type = "tumbling", size = "10s", aggregates = [{ fn = "count", as = "n" }] }

[[stages]]
name = "per-window"
inputs = ["per-user"]
key_by = { field = "window_start" }
window = { type = "tumbling", size = "10s", aggregates = [{ fn = "count", as = "users" }, { fn = "sum", field = "n", as = "records" }, { fn = "max", field = "n", as = "busiest" }] }
"#;
    let want = normalized(&expected);
    assert!(want.len() > 5, "the model made only {} windows", want.len());
    for p in [1, 2] {
        let name = format!("two-stage-p{p}");
        let j = job(d, &name, &input, p, &stages);
        weir(&["run", "-q", j.to_str().expect("utf-8")]).ok();
        assert_eq!(
            normalized(&d.join(format!("{name}-out.jsonl"))),
            want,
            "{name}: weir's output differs from the model's"
        );
    }
}

#[test]
fn a_graph_with_a_cycle_or_an_unknown_input_is_refused_before_it_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let input = d.join("in.jsonl");
    std::fs::write(&input, "{\"ts\":1}\n").expect("write");
    let stages = r#"
[[stages]]
name = "a"
inputs = ["b"]
key_by = { field = "k" }
[[stages]]
name = "b"
inputs = ["a", "nowhere"]
"#;
    let j = job(d, "bad", &input, 1, stages);
    let err = weir(&["run", "-q", j.to_str().expect("utf-8")]).failed();
    assert!(err.contains("`a`, `b` read each other in a cycle"), "{err}");
    assert!(
        err.contains("stages[1].inputs[1]") && err.contains("`nowhere`"),
        "{err}"
    );
}

#[test]
fn a_join_graph_on_rocksdb_killed_at_random_moments_gives_exactly_the_uninterrupted_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let input = input(d, 10_000, 300);
    let expected = model(d, "interval", &input, &["-1000", "5000"]);
    // Both joins' buffers and a window stage's state in RocksDB go through
    // every checkpoint: a union of the three feeds the sink.
    let stages = branches()
        + &paid_by_order("5s")
        + r#"
[[stages]]
name = "per-user"
join = { type = "window", size = "10s", left = "orders", right = "payments", left_key = "user", right_key = "user" }

[[stages]]
name = "paid-per-user"
inputs = ["paid"]
key_by = { field = "left.user" }
window = { type = "tumbling", size = "10s", aggregates = [{ fn = "count", as = "paid_orders" }] }

[[stages]]
name = "all"
inputs = ["paid", "per-user", "paid-per-user"]
"# + PAYMENTS_SINK;
    let j = job(d, "crash", &input, 2, &stages);
    let j = j.to_str().expect("utf-8");
    let checkpoints = format!("checkpoint.dir={}", d.join("checkpoints").display());
    let state = format!("state.path={}", d.join("state").display());
    let common = [
        "--set",
        "checkpoint.interval=100ms",
        "--set",
        &checkpoints,
        "--set",
        "state.backend=rocksdb",
        "--set",
        &state,
    ];
    let uninterrupted = d.join("uninterrupted.jsonl");
    let sink = format!("sink.path={}", uninterrupted.display());
    let mut args = vec!["run", "-q", j, "--fresh", "--set", &sink];
    args.extend(common);
    weir(&args).ok();
    let mut args = vec!["run", "-q", j, "--set", "source.rate=2000"];
    args.extend(common);
    // Each kill lands after the run published output.
    let kills =
        weir_e2e::crash::kill_after_output_until_done(d, &args, &d.join("crash-out.jsonl"), 10);
    assert!(kills >= 10, "only {kills} kills landed");
    let crashed = weir_e2e::canonical_lines(&d.join("crash-out.jsonl"));
    assert_eq!(
        crashed.len(),
        weir_e2e::canonical_lines(&uninterrupted).len(),
        "lines out after {kills} kills vs uninterrupted"
    );
    assert!(
        crashed == weir_e2e::canonical_lines(&uninterrupted),
        "the output after {kills} kills differs from the uninterrupted run's"
    );
    // The interval join's part of it is the model's.
    let paid: Vec<String> = normalized(&d.join("crash-out.jsonl"))
        .into_iter()
        .filter(|l| l.contains("\"left\"") && !l.contains("window_start"))
        .collect();
    let counts = normalized(&d.join("crash-out.jsonl"))
        .into_iter()
        .filter(|l| l.contains("\"paid_orders\":"))
        .count();
    assert!(
        counts > 100,
        "only {counts} windows of paid orders per user"
    );
    assert!(
        paid == normalized(&expected),
        "the interval join's pairs differ from the model's"
    );
    // The named sink committed with the main one, through every kill.
    let payments = normalized(&d.join("crash-payments.jsonl"));
    assert!(
        payments == lines_of_kind(&input, "payment"),
        "after {kills} kills the named sink wrote {} lines, not the input's payments",
        payments.len()
    );
}

#[test]
fn an_operator_in_a_stage_swapped_mid_stream_switches_at_one_point_after_a_canary_rolled_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // 6 s at the source's rate: long enough for a canary and a swap
    // (whose components may still be building) on a loaded machine.
    let rows = 60_000;
    let input: String = (0..rows).map(|i| format!("{{\"i\":{i}}}\n")).collect();
    std::fs::write(d.join("in.jsonl"), input).expect("input");
    let job = d.join("swap.toml");
    std::fs::write(
        &job,
        format!(
            r#"name = "graph-swap"
parallelism = 2
batch_size = 100
[source]
type = "file"
path = "in.jsonl"
rate = 10000
[sink]
type = "file"
path = "out.jsonl"
[checkpoint]
interval = "200ms"
dir = "checkpoints"
[[stages]]
name = "tagged"
inputs = ["source"]
operators = [{{ name = "tag", component = "{v1}", config = {{ mode = "trap" }} }}]
[[stages]]
name = "by-i"
inputs = ["tagged"]
key_by = {{ field = "i" }}
"#,
            v1 = operator("tag-v1")
        ),
    )
    .expect("job");
    let job_arg = job.to_str().expect("utf-8");
    let mut child = weir_e2e::spawn_weir(d, &["run", "-q", job_arg]);
    let started = std::time::Instant::now();
    while weir_e2e::crash::newest_epoch(d).is_none() {
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "the job ended before a checkpoint"
        );
        assert!(
            started.elapsed().as_secs() < 60,
            "no checkpoint within a minute"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // A canary that traps (the misbehaving operator panics on a record
    // with `mode = "trap"` in its config) is rolled back; the job goes on.
    let canary = weir_e2e::weir_in(
        d,
        &[
            "swap",
            job_arg,
            "tag",
            &operator("misbehave"),
            "--canary",
            "500",
        ],
    )
    .failed();
    assert!(
        canary.contains("canary rolled back") && canary.contains("operator bug"),
        "{canary}"
    );
    let swapped = weir_e2e::weir_in(d, &["swap", job_arg, "tag", &operator("tag-v2")]).ok();
    assert!(
        swapped.stdout().contains("live after checkpoint barrier"),
        "{}",
        swapped.stdout()
    );
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let by_i = weir_e2e::tag::versions_by_record(
        &std::fs::read_to_string(d.join("out.jsonl")).expect("out"),
    );
    assert_eq!(by_i.len(), rows, "records lost or repeated");
    assert!(by_i.iter().enumerate().all(|(n, (i, _))| n as i64 == *i));
    let switch = by_i
        .iter()
        .position(|(_, v)| *v == 2)
        .expect("some records by v2");
    assert!(switch > 0, "some records by v1");
    assert!(
        by_i[switch..].iter().all(|(_, v)| *v == 2) && by_i[..switch].iter().all(|(_, v)| *v == 1),
        "the versions interleave: the switch was not at one point"
    );
}
