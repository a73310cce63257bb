//! `weir serve` end to end, through the CLI as users drive it: the job
//! lifecycle, authentication and tenant isolation, quotas, jobs surviving a
//! restart of the host, hostile components failing only their own jobs.
//! Live swaps through the API are in `serve_swaps.rs`.

use std::path::Path;
use std::time::Duration;
use weir_e2e::serve::Server;
use weir_e2e::tag::versions_by_record;
use weir_e2e::{canonical, canonical_lines, operator, repo};

const LONG: Duration = Duration::from_secs(180);

/// A tag job (see [`weir_e2e::tag`]) checkpointing every 200 ms: its job
/// file's name in `dir`.
fn tag_job(dir: &Path, name: &str, rows: usize, rate: u64, config: &str) -> String {
    weir_e2e::tag::tag_job(dir, name, rows, rate, "200ms", config);
    format!("{name}.toml")
}

#[test]
fn a_job_goes_from_submit_to_output_through_the_cli_with_status_logs_and_metrics() {
    let s = Server::start(&[("acme", "max_jobs = 2")]);
    let out = s
        .cli("acme", &["submit", "examples/wordcount/job.toml"])
        .ok();
    assert!(
        out.stdout().contains("submitted job `wordcount`"),
        "{}",
        out.stdout()
    );
    let st = s.wait_ended("acme", "wordcount", LONG);
    assert_eq!(st["state"], "finished", "{st:#}");
    assert_eq!(st["records_in"], 64, "{st:#}");
    assert_eq!(st["operators"][0]["name"], "split-words", "{st:#}");
    assert_eq!(
        st["operators"][0]["digest"].as_str().map(str::len),
        Some(64),
        "{st:#}"
    );
    assert!(st["last_checkpoint"]["epoch"].as_u64().is_some(), "{st:#}");

    // The same results as `weir run` gives (the example's expected files).
    let wc = repo().join("examples/wordcount");
    let counts = s.cli("acme", &["output", "wordcount"]).ok().stdout();
    assert_eq!(
        canonical(&counts),
        canonical_lines(&wc.join("expected.jsonl"))
    );
    let late = s
        .cli("acme", &["output", "wordcount", "--name", "late_output"])
        .ok()
        .stdout();
    let late_records: Vec<String> = canonical(&late)
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON");
            v["record"].to_string()
        })
        .collect();
    let late_records = canonical(&late_records.join("\n"));
    assert_eq!(
        late_records,
        canonical_lines(&wc.join("expected-late.jsonl"))
    );

    let list = s.cli("acme", &["list"]).ok().stdout();
    assert!(
        list.contains("wordcount") && list.contains("finished"),
        "{list}"
    );
    let human = s.cli("acme", &["status", "wordcount"]).ok().stdout();
    assert!(
        human.contains("state      finished") && human.contains("operator   split-words"),
        "{human}"
    );
    let logs = s.cli("acme", &["logs", "wordcount"]).ok().stdout();
    assert!(
        logs.contains(" host  started") && logs.contains("finished: 64 records in"),
        "{logs}"
    );

    let (code, metrics) = s.http("GET", "/metrics", Some(s.token("acme")), None);
    assert_eq!(code, 200, "{metrics}");
    for line in [
        "weir_job_records_in_total{tenant=\"acme\",job=\"wordcount\"} 64",
        "weir_job_records_out_total{tenant=\"acme\",job=\"wordcount\"} 140",
        "weir_tenant_jobs_running{tenant=\"acme\"} 0",
        "# TYPE weir_operator_busy_seconds_total counter",
        "weir_job_checkpoint_size_bytes{tenant=\"acme\",job=\"wordcount\"}",
    ] {
        assert!(metrics.contains(line), "no `{line}` in:\n{metrics}");
    }

    // An ended job may be submitted again: it starts afresh.
    s.cli("acme", &["submit", "examples/wordcount/job.toml"])
        .ok();
    let again = s.wait_ended("acme", "wordcount", LONG);
    assert_eq!(again["state"], "finished", "{again:#}");
    let counts = s.cli("acme", &["output", "wordcount"]).ok().stdout();
    assert_eq!(
        canonical(&counts),
        canonical_lines(&wc.join("expected.jsonl"))
    );
}

#[test]
fn every_call_needs_a_valid_token_and_a_tenant_cannot_see_or_touch_another_tenants_job() {
    let s = Server::start_with(
        "auth_max_failures = 1000", // many failures on purpose; the limit has its own test
        &[("alpha", ""), ("beta", "")],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let job = tag_job(dir.path(), "slow", 200_000, 2_000, "");
    s.cli_in(dir.path(), "alpha", &["submit", &job]).ok();

    let routes: [(&str, &str, Option<&str>); 10] = [
        ("GET", "/v1/jobs", None),
        ("POST", "/v1/jobs", Some("{\"job\":\"name = \\\"x\\\"\"}")),
        ("GET", "/v1/jobs/{}", None),
        ("POST", "/v1/jobs/{}/cancel", None),
        ("POST", "/v1/jobs/{}/savepoint", None),
        (
            "POST",
            "/v1/jobs/{}/swap",
            Some("{\"operator\":\"tag\",\"component\":\"\"}"),
        ),
        (
            "POST",
            "/v1/jobs/{}/rollback",
            Some("{\"operator\":\"tag\"}"),
        ),
        ("GET", "/v1/jobs/{}/logs", None),
        ("GET", "/v1/jobs/{}/output", None),
        ("GET", "/metrics", None),
    ];
    for (method, path, body) in routes {
        let path = path.replace("{}", "slow");
        let (code, said) = s.http(method, &path, None, body);
        assert_eq!(code, 401, "{method} {path} without a token: {said}");
        assert!(said.contains("no API token"), "{said}");
        let (code, said) = s.http(method, &path, Some("a-guessed-token"), body);
        assert_eq!(code, 401, "{method} {path} with a wrong token: {said}");
        assert!(said.contains("not valid"), "{said}");
    }
    // The CLI says what is missing.
    let no_token = std::process::Command::new(weir_e2e::weir_bin())
        .args(["list", "--server", &s.url])
        .env_remove("WEIR_TOKEN")
        .output()
        .expect("weir list");
    assert!(!no_token.status.success());
    assert!(String::from_utf8_lossy(&no_token.stderr).contains("no API token"));

    // Beta acting on alpha's job is answered exactly as for a job that does
    // not exist: not even its existence leaks.
    for (method, path, body) in &routes[2..9] {
        let theirs = s.http(
            method,
            &path.replace("{}", "slow"),
            Some(s.token("beta")),
            *body,
        );
        let nobodys = s.http(
            method,
            &path.replace("{}", "nosuch"),
            Some(s.token("beta")),
            *body,
        );
        assert_eq!(theirs.0, 404, "{method} {path}: {}", theirs.1);
        assert_eq!(
            theirs.1.replace("slow", "X"),
            nobodys.1.replace("nosuch", "X"),
            "{method} {path}"
        );
    }
    let refused = s.cli("beta", &["cancel", "slow"]).failed();
    assert!(refused.contains("no job `slow`"), "{refused}");
    let beta_list = s.cli("beta", &["list", "--json"]).ok().stdout();
    assert_eq!(beta_list.trim(), "[]");
    let (_, beta_metrics) = s.http("GET", "/metrics", Some(s.token("beta")), None);
    assert!(!beta_metrics.contains("slow") && !beta_metrics.contains("alpha"));

    // Alpha's job was not touched; alpha may cancel it.
    let st = s.status("alpha", "slow");
    assert_eq!(st["state"], "running", "{st:#}");
    s.cli("alpha", &["cancel", "slow"]).ok();
    let st = s.wait_ended("alpha", "slow", LONG);
    assert_eq!(st["state"], "cancelled", "{st:#}");
    assert!(
        st["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("cancelled through the API"),
        "{st:#}"
    );
}

#[test]
fn a_job_over_its_tenants_quotas_is_refused_with_the_reason() {
    let s = Server::start(&[(
        "small",
        "max_jobs = 1\nmemory = \"16MiB\"\ncall_timeout = \"1s\"\nkafka_topic_prefixes = [\"small.\"]\nkafka_brokers = [\"127.0.0.1:1\"]",
    )]);
    let dir = tempfile::tempdir().expect("tempdir");
    let base = tag_job(dir.path(), "q", 100_000, 2_000, "");
    let text = std::fs::read_to_string(dir.path().join(&base)).expect("job");
    let cases = [
        ("[limits]\nmemory = \"64MiB\"\n", "limits.memory"),
        ("[limits]\ncall_timeout = \"5s\"\n", "limits.call_timeout"),
        ("", "may not grant `clocks`"),
    ];
    for (i, (extra, expect)) in cases.iter().enumerate() {
        let mut job = format!("{text}{extra}");
        if extra.is_empty() {
            job = job.replace(
                "name = \"tag\"\n",
                "name = \"tag\"\ngrants = [\"clocks\"]\n",
            );
        }
        let file = format!("case{i}.toml");
        std::fs::write(dir.path().join(&file), job).expect("job");
        let said = s.cli_in(dir.path(), "small", &["submit", &file]).failed();
        assert!(said.contains(expect), "{said}");
    }
    // Every setting that costs the host has a ceiling; the first one over
    // it is reported with the quota and its value.
    for (from, to, expect) in [
        (
            "batch_size = 100\n",
            "batch_size = 100000\n",
            "batch_size = 100000 is more than tenant `small` may use (max_batch_size = 10000)",
        ),
        (
            "interval = \"200ms\"",
            "interval = \"10m\"",
            "checkpoint.interval = 600000 ms is more than tenant `small` may use (max_checkpoint_interval = 60000 ms)",
        ),
        (
            "[sink]",
            "[limits]\nmax_output_per_record = 5000\n[sink]",
            "(max_output_per_record = 1000)",
        ),
    ] {
        std::fs::write(dir.path().join("cap.toml"), text.replace(from, to)).expect("job");
        let said = s
            .cli_in(dir.path(), "small", &["submit", "cap.toml"])
            .failed();
        assert!(said.contains(expect), "`{expect}` not in: {said}");
    }
    // Kafka topics outside the tenant's prefix; standard input.
    let kafka = text.replace(
        "[source]\ntype = \"file\"\npath = \"q.jsonl\"\nrate = 2000\n",
        "[source]\ntype = \"kafka\"\nbrokers = \"127.0.0.1:1\"\ntopics = [\"other.events\"]\n",
    );
    std::fs::write(dir.path().join("kafka.toml"), kafka).expect("job");
    let said = s
        .cli_in(dir.path(), "small", &["submit", "kafka.toml"])
        .failed();
    assert!(
        said.contains("may not use Kafka topic `other.events`"),
        "{said}"
    );
    // A broker outside the tenant's list.
    let elsewhere = text.replace(
        "[source]\ntype = \"file\"\npath = \"q.jsonl\"\nrate = 2000\n",
        "[source]\ntype = \"kafka\"\nbrokers = \"10.0.0.1:9092\"\ntopics = [\"small.events\"]\n",
    );
    std::fs::write(dir.path().join("elsewhere.toml"), elsewhere).expect("job");
    let said = s
        .cli_in(dir.path(), "small", &["submit", "elsewhere.toml"])
        .failed();
    assert!(
        said.contains("may not connect to Kafka broker `10.0.0.1:9092`"),
        "{said}"
    );
    // librdkafka settings that reach into the host.
    let plugin = text.replace(
        "[source]\ntype = \"file\"\npath = \"q.jsonl\"\nrate = 2000\n",
        "[source]\ntype = \"kafka\"\nbrokers = \"127.0.0.1:1\"\ntopics = [\"small.events\"]\nproperties = { \"plugin.library.paths\" = \"/tmp/evil.so\" }\n",
    );
    std::fs::write(dir.path().join("plugin.toml"), plugin).expect("job");
    let said = s
        .cli_in(dir.path(), "small", &["submit", "plugin.toml"])
        .failed();
    assert!(said.contains("plugin.library.paths"), "{said}");
    // More subtasks than the tenant's quota.
    std::fs::write(
        dir.path().join("wide.toml"),
        text.replace("parallelism = 2", "parallelism = 64"),
    )
    .expect("job");
    let said = s
        .cli_in(dir.path(), "small", &["submit", "wide.toml"])
        .failed();
    assert!(said.contains("parallelism = 64"), "{said}");

    // One job at a time.
    s.cli_in(dir.path(), "small", &["submit", &base]).ok();
    let second = text.replace("name = \"q\"", "name = \"q2\"");
    std::fs::write(dir.path().join("q2.toml"), second).expect("job");
    let said = s
        .cli_in(dir.path(), "small", &["submit", "q2.toml"])
        .failed();
    assert!(said.contains("already runs 1 job(s)"), "{said}");
    // Refused submissions leave nothing behind.
    let said = s.cli("small", &["status", "q2"]).failed();
    assert!(said.contains("no job `q2`"), "{said}");
}

#[test]
fn jobs_and_their_checkpoints_survive_a_crash_of_the_host() {
    let mut s = Server::start(&[("acme", "")]);
    let dir = tempfile::tempdir().expect("tempdir");
    let rows = 20_000;
    let job = tag_job(dir.path(), "durable", rows, 4_000, "");
    s.cli_in(dir.path(), "acme", &["submit", &job]).ok();
    s.wait_for("acme", "durable", LONG, "checkpointed 3 times", |st| {
        st["last_checkpoint"]["epoch"]
            .as_u64()
            .is_some_and(|e| e >= 3)
    });
    // A savepoint through the API: a directory on the host, inside the job's.
    let savepoint = s.cli("acme", &["savepoint", "durable"]).ok().stdout();
    let savepoint = Path::new(savepoint.trim());
    assert!(
        savepoint.join("_metadata").is_file() && savepoint.starts_with(s.data()),
        "{}",
        savepoint.display()
    );
    s.restart();
    let st = s.wait_ended("acme", "durable", LONG);
    assert_eq!(st["state"], "finished", "{st:#}");
    assert!(
        st["resumed"]
            .as_str()
            .unwrap_or_default()
            .contains("resuming from"),
        "{st:#}"
    );
    let logs = s.cli("acme", &["logs", "durable"]).ok().stdout();
    assert!(logs.contains("the host restarted; resuming"), "{logs}");
    // Exactly once across the crash.
    let out = s.cli("acme", &["output", "durable"]).ok().stdout();
    let by_i = versions_by_record(&out);
    assert_eq!(by_i.len(), rows, "records lost or repeated");
    assert!(by_i.iter().enumerate().all(|(n, (i, _))| n as i64 == *i));
}

#[test]
fn a_job_whose_state_outgrows_its_tenants_quota_fails_with_the_reason() {
    let s = Server::start(&[("tiny", "state_size = \"4KiB\"")]);
    let dir = tempfile::tempdir().expect("tempdir");
    let input: String = (0..50_000)
        .map(|i| format!("{{\"i\":{i},\"user\":\"u{i}\"}}\n"))
        .collect();
    std::fs::write(dir.path().join("input.jsonl"), input).expect("input");
    std::fs::write(
        dir.path().join("grow.toml"),
        format!(
            r#"name = "grow"
batch_size = 100
[source]
type = "file"
path = "input.jsonl"
rate = 10000
[key_by]
field = "user"
[keyed]
name = "count"
component = "{count}"
[sink]
type = "file"
path = "out.jsonl"
[checkpoint]
interval = "200ms"
"#,
            count = operator("count-v1")
        ),
    )
    .expect("job");
    s.cli_in(dir.path(), "tiny", &["submit", "grow.toml"]).ok();
    let st = s.wait_ended("tiny", "grow", LONG);
    assert_eq!(st["state"], "failed", "{st:#}");
    let why = st["reason"].as_str().unwrap_or_default();
    assert!(
        why.contains("state quota exceeded") && why.contains("may keep 4096"),
        "{why}"
    );
    let (_, metrics) = s.http("GET", "/metrics", Some(s.token("tiny")), None);
    assert!(
        metrics.contains("weir_job_state_size_bytes{tenant=\"tiny\",job=\"grow\"}"),
        "{metrics}"
    );
}
