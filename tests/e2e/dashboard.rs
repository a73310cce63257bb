//! The dashboard in a real browser: Debian's Chromium, driven by
//! playwright-core (`tests/dashboard/browser.mjs`), against a live `weir
//! serve` running real jobs of two tenants — sign in, the jobs list with
//! a failed job's reason, a failed checkpoint and why, a job's graph with non-zero rates, a checkpoint
//! appearing, its state per stage, its output, a swap from the page going
//! live, a canary rolled back, a canary's progress live and its promotion,
//! the second tenant seeing none of the first's jobs, and the host admin
//! seeing every tenant's usage and no job. The screenshots go
//! to `target/dashboard-screenshots` (README shows two of them).
//!
//! Needs Chromium (`/usr/bin/chromium`, or `CHROMIUM`) and the test's npm
//! packages (`tests/dashboard/node_modules`): `scripts/test.sh` installs
//! both. Without them the test fails, saying so; it never skips.

use std::path::Path;
use std::process::Command;
use std::time::Duration;
use weir_e2e::serve::Server;
use weir_e2e::{operator, repo};

const LONG: Duration = Duration::from_secs(180);

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64
}

/// source (records at `rate`/s, their event time from now on at the
/// same pace) → `tag` → by user, 1 s tumbling counts → file; checkpoints
/// every 300 ms, windows in RocksDB. `tag` gets `mode = "trap"`, which only the misbehaving
/// canary acts on.
fn job(dir: &Path, name: &str, component: &str, rows: usize, rate: u64) -> String {
    let t0 = now_ms();
    let input: String = (0..rows as u64)
        .map(|i| {
            format!(
                "{{\"i\":{i},\"user\":\"u{}\",\"ts\":{}}}\n",
                i % 7,
                t0 + i * 1000 / rate
            )
        })
        .collect();
    std::fs::write(dir.join(format!("{name}.jsonl")), input).expect("input");
    std::fs::write(
        dir.join(format!("{name}.toml")),
        format!(
            r#"name = "{name}"
parallelism = 2
batch_size = 50
[source]
type = "file"
path = "{name}.jsonl"
rate = {rate}
[[operators]]
name = "tag"
component = "{component}"
config = {{ mode = "trap" }}
[event_time]
field = "ts"
[key_by]
field = "user"
[window]
type = "tumbling"
size = "1s"
aggregates = [{{ fn = "count" }}]
[sink]
type = "file"
path = "out.jsonl"
[late_output]
type = "discard"
[state]
backend = "rocksdb"
[checkpoint]
interval = "300ms"
"#
        ),
    )
    .expect("job");
    format!("{name}.toml")
}

/// source (distinct users at 20,000/s) → by user, 1 h tumbling counts
/// (nothing fires) → file, checkpoints every 300 ms, and a disk budget of
/// its log's 16 MiB and 64 KiB more: a checkpoint of its window contents
/// soon goes over it.
fn hoarder_job(dir: &Path) -> String {
    let t0 = now_ms();
    let input: String = (0..200_000u64)
        .map(|i| format!("{{\"user\":\"u{i}\",\"ts\":{}}}\n", t0 + i / 20))
        .collect();
    std::fs::write(dir.join("hoarder.jsonl"), input).expect("input");
    std::fs::write(
        dir.join("hoarder.toml"),
        r#"name = "hoarder"
[source]
type = "file"
path = "hoarder.jsonl"
rate = 20000
[event_time]
field = "ts"
[key_by]
field = "user"
[window]
type = "tumbling"
size = "1h"
aggregates = [{ fn = "count" }]
[sink]
type = "file"
path = "out.jsonl"
[late_output]
type = "discard"
[limits]
disk = "16448KiB"
[checkpoint]
interval = "300ms"
"#,
    )
    .expect("job");
    "hoarder.toml".into()
}

/// The component `weir build` makes of test operator `name` (the page
/// uploads a `.wasm` file, as a user would).
fn built(name: &str) -> String {
    let out = weir_e2e::weir(&["build", &operator(name)]).ok().stdout();
    out.split(" (")
        .next()
        .filter(|p| p.ends_with(".wasm"))
        .unwrap_or_else(|| panic!("weir build {name} said: {out}"))
        .trim()
        .to_string()
}

/// A host with tenants `acme` and `globex` and admin token `admin`.
fn with_admin(admin: &str) -> Server {
    let digest = weir_e2e::weir(&["token", "--hash", admin]).ok().stdout();
    Server::start_with(
        &format!("admin_token_sha256 = \"{}\"", digest.trim()),
        &[("acme", ""), ("globex", "")],
    )
}

#[test]
fn the_dashboard_shows_and_operates_a_tenants_jobs_in_a_real_browser() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "no Chromium at {chromium}: `bash scripts/test.sh` installs Debian's (or set CHROMIUM)"
    );
    let tests = repo().join("tests/dashboard");
    assert!(
        tests.join("node_modules/playwright-core").is_dir(),
        "tests/dashboard has no npm packages: run `npm ci` there (`bash scripts/test.sh` does)"
    );
    let admin = "the-host-admins-token-0123456789abcdef";
    let s = with_admin(admin);
    let dir = tempfile::tempdir().expect("tempdir");
    let tag = operator("tag-v1");
    let running = job(dir.path(), "orders", &tag, 600_000, 3_000);
    s.cli_in(dir.path(), "acme", &["submit", &running]).ok();
    let hostile = job(dir.path(), "hostile", &operator("misbehave"), 1_000, 1_000);
    s.cli_in(dir.path(), "acme", &["submit", &hostile]).ok();
    s.wait_for("acme", "orders", LONG, "checkpointed", |st| {
        st["last_checkpoint"]["epoch"].as_u64().is_some()
    });
    let failed = s.wait_ended("acme", "hostile", LONG);
    assert_eq!(failed["state"], "failed", "{failed:#}");
    // A checkpoint over the job's disk budget fails, and the job with it;
    // its page says which checkpoint, where and why.
    s.cli_in(dir.path(), "acme", &["submit", &hoarder_job(dir.path())])
        .ok();
    let hoarder = s.wait_ended("acme", "hoarder", LONG);
    assert_eq!(hoarder["state"], "failed", "{hoarder:#}");
    let (code, body) = s.http("GET", "/v1/jobs/hoarder", Some(s.token("acme")), None);
    assert_eq!(code, 200, "{body}");
    let hoarder: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let failures = hoarder["detail"]["failed_checkpoints"]
        .as_array()
        .expect("failed_checkpoints");
    assert_eq!(failures.len(), 1, "{hoarder:#}");
    assert_eq!(hoarder["checkpoints_failed"], 1, "{hoarder:#}");
    let reason = failures[0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("checkpoints and savepoints") && reason.contains("over its budget"),
        "{hoarder:#}"
    );
    // The job's own reason is the checkpoint's; the ones before completed.
    assert!(
        hoarder["reason"]
            .as_str()
            .unwrap_or_default()
            .contains(reason),
        "{hoarder:#}"
    );
    let completed = hoarder["detail"]["checkpoints"].as_array().expect("list");
    assert!(
        completed
            .iter()
            .all(|c| c["epoch"].as_u64() < failures[0]["epoch"].as_u64()),
        "{hoarder:#}"
    );

    let shots = repo().join("target/dashboard-screenshots");
    let out = Command::new("node")
        .arg("browser.mjs")
        .current_dir(&tests)
        .env("WEIR_URL", &s.url)
        .env("TOKEN", s.token("acme"))
        .env("OTHER_TOKEN", s.token("globex"))
        .env("ADMIN_TOKEN", admin)
        .env("JOB", "orders")
        .env("HOSTILE", "hostile")
        .env("CHECKPOINT_FAILED", "hoarder")
        .env("SWAP_WASM", built("tag-v2"))
        .env("CANARY_WASM", built("misbehave"))
        .env("FIRST_WASM", built("tag-v1"))
        .env("SCREENSHOTS", &shots)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("run node (Node.js 20 or later)");
    let say = format!(
        "{}{}\nhost log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        s.log()
    );
    assert!(out.status.success(), "the browser test failed:\n{say}");
    for shot in [
        "jobs.png",
        "job.png",
        "checkpoint-failed.png",
        "canary.png",
        "admin.png",
    ] {
        let len = std::fs::metadata(shots.join(shot)).map_or(0, |m| m.len());
        assert!(len > 10_000, "screenshot {shot}: {len} bytes\n{say}");
    }

    // What the page did, seen through the API: tag-v2 live after a swap,
    // the trapping canary not, then tag-v1 again after a canary.
    let st = s.status("acme", "orders");
    assert_eq!(st["state"], "running", "{st:#}");
    let versions = st["operators"][0]["versions"]
        .as_array()
        .expect("versions")
        .clone();
    assert_eq!(versions.len(), 3, "{st:#}");
    assert_eq!(versions[1]["origin"], "swap", "{st:#}");
    assert_eq!(versions[2]["digest"], versions[0]["digest"], "{st:#}");
    let stages: Vec<String> = st["detail"]["graph"]["stages"]
        .as_array()
        .expect("the graph")
        .iter()
        .map(|s| s["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(stages, ["chain", "keyed"], "{st:#}");
    // The stage counters: `tag` maps 1:1, so its stage's in and out differ
    // by the batches in it at most; the window read what `tag` wrote, but
    // the batches between them.
    let counters = |name: &str| {
        let c = st["detail"]["stages"]
            .as_array()
            .expect("stages")
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no counters of {name}: {st:#}"))
            .clone();
        (
            c["records_in"].as_u64().expect("in"),
            c["records_out"].as_u64().expect("out"),
        )
    };
    let (chain_in, chain_out) = counters("chain");
    let (keyed_in, keyed_out) = counters("keyed");
    let read = st["records_in"].as_u64().expect("records_in");
    assert!(chain_in > 1_000 && chain_in <= read, "{st:#}");
    let in_flight = 4 * 50 * 2; // channel slots × batch × parallelism, generously
    assert!(chain_in - chain_out <= in_flight, "{st:#}");
    assert!(
        keyed_in <= chain_out && chain_out - keyed_in <= in_flight,
        "{st:#}"
    );
    assert!(keyed_out > 0, "no window fired: {st:#}");
    // RocksDB checkpoints are incremental: a later one shares files with
    // the one before, and says so.
    let checkpoints = st["detail"]["checkpoints"].as_array().expect("checkpoints");
    assert!(
        checkpoints
            .iter()
            .any(|c| c["new_bytes"].as_u64() < c["size_bytes"].as_u64()),
        "no checkpoint shared a file with the one before: {checkpoints:#?}"
    );
    // The host keeps the job's last 15 minutes for the page's charts, a
    // sample a second: the job ran for seconds at about 3,000 records/s.
    let (code, body) = s.http(
        "GET",
        "/v1/jobs/orders/history",
        Some(s.token("acme")),
        None,
    );
    assert_eq!(code, 200, "{body}");
    let samples: Vec<serde_json::Value> = serde_json::from_str(&body).expect("JSON");
    assert!(samples.len() >= 5, "{body}");
    let busy = samples
        .iter()
        .filter(|x| {
            x["rate_in"]
                .as_f64()
                .is_some_and(|r| (1_000.0..10_000.0).contains(&r))
        })
        .count();
    assert!(busy >= 3, "{body}");
    assert!(
        samples
            .iter()
            .any(|x| x["latency_p99_ms"].as_f64().is_some()),
        "{body}"
    );
    // What Prometheus scrapes: the stages' time and rows, and the
    // end-to-end latency of the rows the sink took.
    let (code, metrics) = s.http("GET", "/metrics", Some(s.token("acme")), None);
    assert_eq!(code, 200);
    let sample = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in:\n{metrics}"))
    };
    let l = r#"tenant="acme",job="orders""#;
    assert!(
        sample(&format!(
            "weir_stage_records_in_total{{{l},stage=\"chain\"}}"
        )) > 1000.0
    );
    assert!(
        sample(&format!(
            "weir_stage_busy_seconds_total{{{l},stage=\"keyed\"}}"
        )) > 0.0
    );
    let rows = sample(&format!("weir_job_latency_seconds_count{{{l}}}"));
    assert!(rows > 0.0, "no latency recorded");
    assert_eq!(
        sample(&format!(
            "weir_job_latency_seconds_bucket{{{l},le=\"+Inf\"}}"
        )),
        rows
    );
    assert!(sample(&format!("weir_job_restarts_total{{{l}}}")) == 0.0);
    assert!(sample(r#"weir_job_checkpoints_failed_total{tenant="acme",job="hoarder"}"#) == 1.0);
    assert!(sample(&format!("weir_job_checkpoints_failed_total{{{l}}}")) == 0.0);
    assert!(metrics.contains("# TYPE weir_job_latency_seconds histogram"));
    s.cli("acme", &["cancel", "orders"]).ok();
}

/// Read the status line of `GET /v1/stream` with `token`, keeping the
/// connection open (a stream never ends).
fn open_stream(url: &str, token: &str) -> (u16, std::net::TcpStream) {
    use std::io::{BufRead, Write};
    let host = url.trim_start_matches("http://");
    let mut c = std::net::TcpStream::connect(host).expect("connect");
    write!(
        c,
        "GET /v1/stream HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .expect("request");
    c.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut line = String::new();
    std::io::BufReader::new(c.try_clone().expect("clone"))
        .read_line(&mut line)
        .expect("status line");
    let code = line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, c)
}

#[test]
fn a_tenant_may_hold_eight_status_streams_and_closing_one_frees_its_place() {
    let s = Server::start(&[("acme", ""), ("globex", "")]);
    let mut open: Vec<std::net::TcpStream> = (0..8)
        .map(|i| {
            let (code, c) = open_stream(&s.url, s.token("acme"));
            assert_eq!(code, 200, "stream {i}");
            c
        })
        .collect();
    let (code, _) = open_stream(&s.url, s.token("acme"));
    assert_eq!(code, 403, "a ninth stream of one tenant");
    let (code, _other) = open_stream(&s.url, s.token("globex"));
    assert_eq!(code, 200, "another tenant's first stream");
    // The host notices a closed stream when it next sends (once a second).
    drop(open.pop());
    let started = std::time::Instant::now();
    loop {
        let (code, c) = open_stream(&s.url, s.token("acme"));
        if code == 200 {
            open.push(c);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the closed stream's place was never freed"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_admin_token_reads_the_hosts_usage_and_no_tenants_jobs_and_a_tenants_token_the_reverse() {
    let admin = "the-host-admins-token-0123456789abcdef";
    let s = with_admin(admin);
    let json = |(code, body): (u16, String)| {
        let v: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{code}: not JSON ({e}): {body}"));
        (code, v)
    };
    let (code, who) = json(s.http("GET", "/v1/whoami", Some(admin), None));
    assert_eq!((code, who["kind"].as_str()), (200, Some("admin")), "{who}");
    let (code, who) = json(s.http("GET", "/v1/whoami", Some(s.token("acme")), None));
    assert_eq!((code, who["tenant"].as_str()), (200, Some("acme")), "{who}");
    let (code, host) = json(s.http("GET", "/v1/admin/host", Some(admin), None));
    assert_eq!(code, 200, "{host}");
    assert!(host["threads"].as_u64() > Some(0), "{host}");
    assert!(host["rss_bytes"].as_u64() > Some(1 << 20), "{host}");
    let names: Vec<&str> = host["tenants"]
        .as_array()
        .expect("tenants")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["acme", "globex"], "{host}");
    // Each to its own: the admin reads no jobs, a tenant not the host.
    let (code, body) = s.http("GET", "/v1/jobs", Some(admin), None);
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("admin"), "{body}");
    let (code, body) = s.http("GET", "/v1/admin/host", Some(s.token("acme")), None);
    assert_eq!(code, 403, "{body}");
    let (code, _) = s.http("GET", "/v1/admin/host", Some("not-a-token"), None);
    assert_eq!(code, 401);
    let (code, _) = s.http("GET", "/v1/whoami", None, None);
    assert_eq!(code, 401);
}
