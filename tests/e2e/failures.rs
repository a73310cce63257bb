//! Every way a job can go wrong ends with a clear message that says what,
//! where and what to do — and never with lost data or a hung host.

use std::time::{Duration, Instant};
use weir_e2e::{canonical_lines, operator, scratch, weir};

/// A file → one map operator → file job around the test operator.
fn map_job(component: &str, config: &str, extra: &str) -> String {
    format!(
        r#"name = "misbehaving"
[source]
type = "file"
path = "in.jsonl"
[[operators]]
name = "suspect"
component = "{component}"
config = {config}
[sink]
type = "file"
path = "out.jsonl"
{extra}"#
    )
}

const INPUT: &str = "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n";

fn run(job: &str, input: &str) -> (weir_e2e::Run, tempfile::TempDir) {
    let d = scratch(&[("job.toml", job), ("in.jsonl", input)]);
    let r = weir(&[
        "run",
        "-q",
        &d.path().join("job.toml").display().to_string(),
    ]);
    (r, d)
}

#[test]
fn a_component_of_the_wrong_world_is_refused_before_the_job_starts() {
    let (r, _d) = run(&map_job(&operator("wrong-world"), "{}", ""), INPUT);
    let err = r.failed();
    assert!(err.contains("operator `suspect`"), "{err}");
    assert!(err.contains("implements the `aggregate` world"), "{err}");
    assert!(err.contains("needs the `transform` world"), "{err}");
    assert!(err.contains("weir:dataflow/transformer"), "{err}");
}

#[test]
fn a_trapping_operator_fails_its_job_with_the_panic_message() {
    let (r, _d) = run(
        &map_job(&operator("misbehave"), "{ mode = \"trap\" }", ""),
        INPUT,
    );
    let err = r.failed();
    assert!(
        err.contains("operator `suspect`") && err.contains("trapped"),
        "{err}"
    );
    assert!(err.contains("operator bug: index out of range"), "{err}");
}

#[test]
fn unbounded_recursion_fails_its_job_at_the_stack_limit() {
    let (r, _d) = run(
        &map_job(&operator("misbehave"), "{ mode = \"recurse\" }", ""),
        INPUT,
    );
    let err = r.failed();
    assert!(
        err.contains("operator `suspect`") && err.contains("trapped") && err.contains("recursion"),
        "{err}"
    );
}

#[test]
fn operators_cannot_open_network_connections() {
    let (r, d) = run(
        &map_job(&operator("misbehave"), "{ mode = \"socket\" }", ""),
        INPUT,
    );
    r.ok();
    let out = std::fs::read_to_string(d.path().join("out.jsonl")).expect("output");
    assert!(!out.is_empty());
    for line in out.lines() {
        assert!(line.contains("\"socket\":\"denied"), "{line}");
    }
}

#[test]
fn a_looping_operator_is_stopped_at_its_deadline() {
    let t = Instant::now();
    let (r, _d) = run(
        &map_job(
            &operator("misbehave"),
            "{ mode = \"loop\" }",
            "[limits]\ncall_timeout = \"1s\"",
        ),
        INPUT,
    );
    let err = r.failed();
    assert!(
        err.contains("ran longer than limits.call_timeout = 1000 ms"),
        "{err}"
    );
    assert!(err.contains("loops forever"), "{err}");
    assert!(
        t.elapsed() < Duration::from_secs(60),
        "took {:?}",
        t.elapsed()
    );
}

#[test]
fn a_memory_hungry_operator_fails_at_its_memory_limit() {
    let (r, _d) = run(
        &map_job(
            &operator("misbehave"),
            "{ mode = \"hoard\" }",
            "[limits]\nmemory = \"16MiB\"",
        ),
        INPUT,
    );
    let err = r.failed();
    assert!(
        err.contains("needed more than limits.memory = 16777216 bytes"),
        "{err}"
    );
}

#[test]
fn rejected_records_go_to_the_dead_letter_output_or_fail_the_job() {
    let dead = "[dead_letter]\ntype = \"file\"\npath = \"dead.jsonl\"";
    let (r, d) = run(
        &map_job(&operator("misbehave"), "{ mode = \"reject-odd\" }", dead),
        INPUT,
    );
    r.ok();
    assert_eq!(
        canonical_lines(&d.path().join("out.jsonl")),
        vec![r#"{"n":0}"#, r#"{"n":2}"#]
    );
    let letters = canonical_lines(&d.path().join("dead.jsonl"));
    assert_eq!(letters.len(), 2);
    assert!(
        letters[0].contains("odd n: 1") && letters[0].contains("\"operator\":\"suspect\""),
        "{}",
        letters[0]
    );

    let (r, _d) = run(
        &map_job(&operator("misbehave"), "{ mode = \"reject-odd\" }", ""),
        INPUT,
    );
    let err = r.failed();
    assert!(
        err.contains("operator `suspect`") && err.contains("odd n: 1"),
        "{err}"
    );
    assert!(err.contains("add a [dead_letter] output"), "{err}");
}

#[test]
fn malformed_input_lines_are_reported_with_their_line_number() {
    let input = "{\"ts\":1,\"k\":\"a\"}\n{\"ts\":2,\"k\":\"a\"}\n{broken\n{\"ts\":3}\n";
    let job = |extra: &str| {
        format!(
            "name = \"lines\"\n[source]\ntype = \"file\"\npath = \"in.jsonl\"\n[event_time]\nfield = \"ts\"\n[sink]\ntype = \"file\"\npath = \"out.jsonl\"\n{extra}"
        )
    };
    let (r, _d) = run(&job(""), input);
    let err = r.failed();
    assert!(err.contains("in.jsonl:3"), "{err}");
    assert!(err.contains("not a JSON object"), "{err}");

    let (r, d) = run(
        &job("[dead_letter]\ntype = \"file\"\npath = \"dead.jsonl\""),
        input,
    );
    r.ok();
    assert_eq!(canonical_lines(&d.path().join("out.jsonl")).len(), 3);
    let letters = canonical_lines(&d.path().join("dead.jsonl"));
    assert_eq!(letters.len(), 1);
    assert!(
        letters[0].contains("in.jsonl:3") && letters[0].contains("{broken"),
        "{}",
        letters[0]
    );
}

#[test]
fn operators_get_no_capability_unless_granted() {
    let (r, d) = run(
        &map_job(&operator("misbehave"), "{ mode = \"probe\" }", ""),
        "{\"n\":0}\n",
    );
    r.ok();
    let out: serde_json::Value =
        serde_json::from_str(&canonical_lines(&d.path().join("out.jsonl"))[0]).unwrap();
    assert_eq!(out["now_secs"], 0, "the clock must be frozen: {out}");
    assert!(out["file"].as_str().unwrap().starts_with("denied"), "{out}");
    assert_eq!(out["env_vars"], 0, "{out}");

    let job = map_job(&operator("misbehave"), "{ mode = \"probe\" }", "")
        .replace("config =", "grants = [\"clocks\"]\nconfig =");
    let (r, d) = run(&job, "{\"n\":0}\n");
    r.ok();
    let out: serde_json::Value =
        serde_json::from_str(&canonical_lines(&d.path().join("out.jsonl"))[0]).unwrap();
    assert!(
        out["now_secs"].as_u64().unwrap() > 1_600_000_000,
        "granted clock: {out}"
    );
    assert!(
        out["file"].as_str().unwrap().starts_with("denied"),
        "files are never granted: {out}"
    );
}

#[test]
fn validate_reports_every_problem_with_its_place() {
    let job = r#"name = "bad"
parallelism = 0
[source]
type = "datagen"
schema = "weather"
rows = 1
[key_by]
field = "k"
[window]
type = "tumbling"
aggregates = [{ fn = "median" }]
[sink]
type = "stdout"
"#;
    let d = scratch(&[("job.toml", job)]);
    let err = weir(&["validate", &d.path().join("job.toml").display().to_string()]).failed();
    for place in [
        "parallelism:",
        "source.schema:",
        "window.size:",
        "window.aggregates[0].fn:",
        "event_time:",
        "late_output:",
    ] {
        assert!(err.contains(place), "{place} missing in:\n{err}");
    }
    let ok = weir(&["validate", "examples/wordcount/job.toml"]).ok();
    assert!(ok.stdout().contains("ok"));
}

#[test]
fn unknown_fields_and_bad_toml_point_at_the_line() {
    let d = scratch(&[(
        "job.toml",
        "name = \"x\"\nparalelism = 2\n[source]\ntype = \"stdin\"\n[sink]\ntype = \"stdout\"\n",
    )]);
    let err = weir(&["validate", &d.path().join("job.toml").display().to_string()]).failed();
    assert!(
        err.contains("paralelism") && err.contains("line 2"),
        "{err}"
    );
}

#[test]
fn build_explains_what_is_not_an_operator_project() {
    let d = scratch(&[("README.md", "nothing to build")]);
    let err = weir(&["build", &d.path().display().to_string()]).failed();
    assert!(err.contains("not an operator project"), "{err}");
}

#[test]
fn build_produces_a_checked_component() {
    let r = weir(&["build", &operator("misbehave")]).ok();
    assert!(r.stdout().contains("transform world"), "{}", r.stdout());
}
