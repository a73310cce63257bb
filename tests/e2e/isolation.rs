//! Isolation between tenants of one `weir serve`: a hostile tenant's
//! jobs — an infinite loop, a memory bomb, a panic, unbounded recursion, an
//! output flood, a file and a socket opened — each fail alone with the
//! reason in their status, while another tenant's job produces the same
//! output at ≥ 90% of the throughput it has alone (the mean of a run
//! before and a run after).
//!
//! Its own test binary: cargo runs test binaries one at a time, so no other
//! test competes for the CPU while throughput is compared.

use std::path::Path;
use std::time::Duration;
use weir_e2e::serve::Server;
use weir_e2e::{operator, weir};

const LONG: Duration = Duration::from_secs(180);

/// Build a test operator into `dir/NAME.wasm`.
fn build(dir: &Path, name: &str) -> String {
    let out = dir.join(format!("{name}.wasm"));
    weir(&["build", &operator(name), "-o", out.to_str().expect("utf-8")]).ok();
    out.display().to_string()
}

/// The records/s a job reported when it finished.
fn finished_rate(s: &Server, tenant: &str, job: &str) -> f64 {
    let logs = s.cli(tenant, &["logs", job]).ok().stdout();
    let line = logs
        .lines()
        .find(|l| l.contains("finished:"))
        .unwrap_or_else(|| panic!("no finished line in:\n{logs}"));
    let rate = line
        .rsplit_once(" records/s)")
        .and_then(|(head, _)| head.rsplit_once('('))
        .map(|(_, r)| r)
        .unwrap_or_else(|| panic!("no rate in `{line}`"));
    rate.parse()
        .unwrap_or_else(|_| panic!("rate `{rate}` in `{line}`"))
}

#[test]
fn a_hostile_tenants_broken_jobs_fail_alone_while_another_tenant_keeps_its_throughput() {
    let dir = tempfile::tempdir().expect("tempdir");
    let misbehave = build(dir.path(), "misbehave");
    let map_filter = build(dir.path(), "map-filter");
    let s = Server::start(&[
        ("good", ""),
        (
            "hostile",
            "max_jobs = 10\nmemory = \"32MiB\"\ncall_timeout = \"250ms\"",
        ),
    ]);
    let good = |name: &str| {
        let file = format!("{name}.toml");
        std::fs::write(
            dir.path().join(&file),
            format!(
                r#"name = "{name}"
[source]
type = "datagen"
schema = "transactions"
rows = 16000000
seed = 11
[[operators]]
name = "map-filter"
component = "{map_filter}"
[sink]
type = "file"
path = "out.jsonl"
"#
            ),
        )
        .expect("job");
        file
    };
    let alone = good("alone");
    s.cli_in(dir.path(), "good", &["submit", &alone]).ok();
    let st = s.wait_ended("good", "alone", LONG);
    assert_eq!(st["state"], "finished", "{st:#}");
    let rate_alone = finished_rate(&s, "good", "alone");
    // One subtask: the output's order is deterministic, so the bytes must
    // match.
    let expected = s.cli("good", &["output", "alone"]).ok().output.stdout;
    assert!(
        expected.iter().filter(|b| **b == b'\n').count() > 100_000,
        "the good job's output is not trivial"
    );

    // The same job again, with the hostile tenant's jobs submitted while it
    // runs.
    let shared = good("shared");
    s.cli_in(dir.path(), "good", &["submit", &shared]).ok();
    s.wait_for("good", "shared", LONG, "processing", |st| {
        st["records_in"].as_u64().is_some_and(|n| n > 0)
    });
    let modes = [
        ("loop", "ran longer than limits.call_timeout = 250 ms"),
        ("hoard", "needed more than limits.memory = 33554432 bytes"),
        ("trap", "operator bug: index out of range"),
        ("recurse", "recursion"),
        ("flood", "output flood"),
        ("open-file", "open /etc/passwd:"),
        ("open-socket", "connect 127.0.0.1:22:"),
    ];
    for (mode, _) in modes {
        let file = format!("{mode}.toml");
        std::fs::write(
            dir.path().join(&file),
            format!(
                r#"name = "{mode}"
batch_size = 4
[source]
type = "datagen"
schema = "transactions"
rows = 1000
[[operators]]
name = "bad"
component = "{misbehave}"
config = {{ mode = "{mode}" }}
[sink]
type = "file"
path = "out.jsonl"
"#
            ),
        )
        .expect("job");
        s.cli_in(dir.path(), "hostile", &["submit", &file]).ok();
    }
    for (mode, reason) in modes {
        let st = s.wait_ended("hostile", mode, LONG);
        assert_eq!(st["state"], "failed", "{mode}: {st:#}");
        let why = st["reason"].as_str().unwrap_or_default();
        assert!(
            why.contains(reason),
            "{mode}: `{reason}` not in the reason: {why}"
        );
    }
    // The trap's panic message is in its log, tagged as the guest's.
    let logs = s.cli("hostile", &["logs", "trap"]).ok().stdout();
    assert!(
        logs.contains("ERROR guest panicked") && logs.contains("operator bug"),
        "{logs}"
    );

    let st = s.wait_ended("good", "shared", LONG);
    assert_eq!(st["state"], "finished", "{st:#}");
    let output = s.cli("good", &["output", "shared"]).ok().output.stdout;
    assert!(output == expected, "the good job's output changed");
    let rate_shared = finished_rate(&s, "good", "shared");

    // Alone once more: the baseline is the mean of the runs before and
    // after, so drift in the machine's speed does not count as interference.
    let again = good("again");
    s.cli_in(dir.path(), "good", &["submit", &again]).ok();
    let st = s.wait_ended("good", "again", LONG);
    assert_eq!(st["state"], "finished", "{st:#}");
    let rate_alone = (rate_alone + finished_rate(&s, "good", "again")) / 2.0;
    eprintln!(
        "good job alone: {rate_alone:.0} records/s (mean of two runs); beside the hostile jobs: {rate_shared:.0} records/s"
    );
    assert!(
        rate_shared >= 0.9 * rate_alone,
        "the good job slowed to {rate_shared:.0} records/s from {rate_alone:.0} alone"
    );
}
