//! Kafka end to end, against a real Apache Kafka broker (started by
//! `scripts/kafka.sh`, see `weir_e2e::kafka`): exactly-once through Wasm
//! operators and windows, through SIGKILLs and a broker restart; dead-letter
//! topics; start positions.
//!
//! Expected outputs come from the same job run uninterrupted over a file
//! holding the same records. Each partition's records are in event-time
//! order and the watermark is the minimum over partitions, so no record is
//! late and window results do not depend on how partitions interleave.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};
use weir_e2e::kafka::{
    TestProducer, broker, committed_values, create_topic, read_committed, unique_topic,
};
use weir_e2e::{TestRng, canonical_lines, operator, spawn_weir, weir};

/// Transactions from weir's generator, in event-time order, as lines.
fn transactions(dir: &Path, rows: u64) -> Vec<String> {
    let path = weir_e2e::generate_transactions(dir, "transactions", rows, 300, 5, 50, 0);
    std::fs::read_to_string(path)
        .expect("generated")
        .lines()
        .map(String::from)
        .collect()
}

/// Records that advance every partition's event time far past the data
/// (and are dropped by the operator: amount < 50), so an unbounded job
/// fires every window of the data.
fn flush_line() -> String {
    r#"{"ts":9000000000000,"user":"flush","amount":0,"merchant":"none"}"#.to_string()
}

/// The part of the test jobs between source and sink: Wasm map+filter →
/// key by user → 1-minute tumbling count and sum.
fn pipeline() -> String {
    format!(
        r#"[event_time]
field = "ts"
max_out_of_orderness = "5s"
[[operators]]
name = "big-payments"
component = "{op}"
[key_by]
field = "user"
[window]
type = "tumbling"
size = "1m"
aggregates = [{{ fn = "count" }}, {{ fn = "sum", field = "cents" }}]
"#,
        op = operator("map-filter")
    )
}

/// Kafka → [`pipeline`] → Kafka, exactly-once, dead letters to a Kafka
/// topic.
fn kafka_job(
    dir: &Path,
    name: &str,
    input: &str,
    output: &str,
    dlq: &str,
    bounded: bool,
) -> PathBuf {
    let job = dir.join(format!("{name}.toml"));
    let b = broker();
    std::fs::write(
        &job,
        format!(
            r#"
name = "{name}"
parallelism = 2
batch_size = 200
[source]
type = "kafka"
brokers = "{b}"
topics = ["{input}"]
bounded = {bounded}
{pipeline}[sink]
type = "kafka"
brokers = "{b}"
topic = "{output}"
key_field = "key"
delivery = "exactly-once"
[late_output]
type = "file"
path = "out/late.jsonl"
[dead_letter]
type = "kafka"
brokers = "{b}"
topic = "{dlq}"
delivery = "exactly-once"
[checkpoint]
interval = "200ms"
dir = "checkpoints"
"#,
            pipeline = pipeline(),
        ),
    )
    .expect("write job");
    job
}

/// The same job over a file, run uninterrupted: the expected results.
fn reference(dir: &Path, lines: &[String]) -> (Vec<String>, Vec<String>) {
    let input = dir.join("reference-input.jsonl");
    std::fs::write(&input, lines.join("\n") + "\n").expect("write");
    let job = dir.join("reference.toml");
    std::fs::write(
        &job,
        format!(
            r#"
name = "reference"
parallelism = 2
batch_size = 200
[source]
type = "file"
path = "{input}"
{pipeline}[sink]
type = "file"
path = "expected/windows.jsonl"
[late_output]
type = "file"
path = "expected/late.jsonl"
[dead_letter]
type = "file"
path = "expected/dead.jsonl"
"#,
            input = input.display(),
            pipeline = pipeline(),
        ),
    )
    .expect("write job");
    weir(&["run", "-q", job.to_str().expect("utf-8")]).ok();
    let late = canonical_lines(&dir.join("expected/late.jsonl"));
    assert!(
        late.is_empty(),
        "the reference input should have no late records"
    );
    (
        canonical_lines(&dir.join("expected/windows.jsonl")),
        canonical_lines(&dir.join("expected/dead.jsonl")),
    )
}

/// Send `lines` round-robin over `partitions` partitions (so each
/// partition stays in event-time order), optionally at `rate` lines/s.
fn produce(topic: &str, partitions: i32, lines: &[String], rate: Option<u64>) {
    let p = TestProducer::new();
    let started = Instant::now();
    for (i, line) in lines.iter().enumerate() {
        p.send(topic, i as i32 % partitions, None, line.as_bytes(), None);
        if let Some(rate) = rate
            && i % 100 == 99
        {
            let due = Duration::from_secs_f64(i as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }
    p.flush();
}

fn flush_partitions(topic: &str, partitions: i32) {
    let p = TestProducer::new();
    for part in 0..partitions {
        p.send(topic, part, None, flush_line().as_bytes(), None);
    }
    p.flush();
}

/// Wait until `topic` holds at least `n` committed records; return them.
fn wait_for(topic: &str, n: usize, within: Duration, job: &mut Child) -> Vec<String> {
    let started = Instant::now();
    loop {
        let got = committed_values(topic);
        if got.len() >= n {
            return got;
        }
        if let Some(status) = job.try_wait().expect("try_wait") {
            let mut err = String::new();
            if let Some(mut e) = job.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            panic!(
                "the job exited ({status}) with {} of {n} results:\n{err}",
                got.len()
            );
        }
        assert!(
            started.elapsed() < within,
            "only {} of {n} results in {topic} after {within:?}",
            got.len()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn stop(mut job: Child) {
    let _ = job.kill();
    let _ = job.wait();
}

/// Malformed lines in the input, every `every` records.
fn with_garbage(lines: &[String], every: usize) -> Vec<String> {
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if i % every == every - 1 {
            out.push(format!("not json #{i}"));
        }
        out.push(l.clone());
    }
    out
}

#[test]
fn kafka_to_wasm_to_window_to_kafka_is_exact_and_bad_records_go_to_the_dead_letter_topic() {
    let _serial = weir_e2e::kafka::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let lines = with_garbage(&transactions(dir.path(), 20_000), 5_000);
    let (expected, expected_dead) = reference(dir.path(), &lines);
    let (input, output, dlq) = (unique_topic("in"), unique_topic("out"), unique_topic("dlq"));
    create_topic(&input, 4);
    create_topic(&output, 3);
    create_topic(&dlq, 1);
    produce(&input, 4, &lines, None);
    let job = kafka_job(dir.path(), "kafka-e2e", &input, &output, &dlq, true);
    let run = weir(&["run", job.to_str().expect("utf-8")]).ok();
    assert!(run.stderr().contains("finished"), "{}", run.stderr());

    let got = committed_values(&output);
    assert!(
        expected.len() > 1000,
        "the reference should have many windows"
    );
    assert_eq!(got.len(), expected.len(), "window results: count differs");
    assert_eq!(
        got, expected,
        "window results differ from the uninterrupted file run"
    );

    // Keys follow the key field: every result of one user is in one partition.
    let mut partition_of = std::collections::BTreeMap::new();
    for r in read_committed(&output) {
        let key = r.key.clone().expect("results are keyed");
        let v: serde_json::Value = serde_json::from_str(&r.value).expect("JSON");
        assert_eq!(v["key"].as_str().map(str::as_bytes), Some(key.as_slice()));
        assert_eq!(*partition_of.entry(key).or_insert(r.partition), r.partition);
    }

    // Dead letters: the malformed records themselves, the error in headers.
    let dead = read_committed(&dlq);
    assert_eq!(dead.len(), expected_dead.len());
    assert_eq!(dead.len(), 4);
    for d in &dead {
        assert!(d.value.starts_with("not json #"), "{d:?}");
        let header = |k: &str| {
            d.headers
                .iter()
                .find(|(h, _)| h == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(header("weir.stage").as_deref(), Some("decode"));
        assert_eq!(header("weir.reason").as_deref(), Some("not a JSON object"));
        assert!(
            header("weir.location").is_some_and(|l| l.starts_with(&format!("{input}["))),
            "{d:?}"
        );
    }
}

#[test]
fn an_exactly_once_job_killed_at_random_moments_while_input_arrives_loses_and_repeats_nothing() {
    let _serial = weir_e2e::kafka::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let lines = transactions(dir.path(), 30_000);
    let (expected, _) = reference(dir.path(), &lines);
    let (input, output, dlq) = (unique_topic("in"), unique_topic("out"), unique_topic("dlq"));
    create_topic(&input, 3);
    create_topic(&output, 2);
    create_topic(&dlq, 1);
    let job = kafka_job(dir.path(), "kafka-crash", &input, &output, &dlq, false);
    let job_arg = job.to_str().expect("utf-8").to_string();

    // Input arrives over ~6 s while the job is killed and restarted.
    let producer = {
        let (input, lines) = (input.clone(), lines.clone());
        std::thread::spawn(move || produce(&input, 3, &lines, Some(5_000)))
    };
    let mut rng = TestRng::from_env();
    let mut kills = 0;
    let started = Instant::now();
    while kills < 10 || !producer.is_finished() {
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "kill loop took too long"
        );
        let mut child = spawn_weir(dir.path(), &["run", "-q", &job_arg]);
        std::thread::sleep(Duration::from_millis(rng.between(300, 1500)));
        if let Some(status) = child.try_wait().expect("try_wait") {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            panic!("an unbounded job exited by itself ({status}):\n{err}");
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        kills += 1;
    }
    producer.join().expect("producer");
    flush_partitions(&input, 3);
    assert!(
        std::fs::read_dir(dir.path().join("checkpoints"))
            .expect("checkpoints dir")
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("chk-")),
        "no checkpoint completed during {kills} runs: recovery was not exercised"
    );
    let mut last = spawn_weir(dir.path(), &["run", "-q", &job_arg]);
    wait_for(&output, expected.len(), Duration::from_secs(120), &mut last);
    // Give duplicates, if any, time to show.
    std::thread::sleep(Duration::from_secs(2));
    let got = committed_values(&output);
    stop(last);
    let missing = expected.iter().filter(|e| !got.contains(e)).count();
    assert_eq!(
        got.len(),
        expected.len(),
        "after {kills} kills: {} results, {} expected, {missing} missing",
        got.len(),
        expected.len()
    );
    assert_eq!(got, expected, "after {kills} kills the results differ");
}

#[test]
fn a_crash_between_a_checkpoint_and_its_kafka_commit_resumes_from_the_checkpoint_before() {
    let _serial = weir_e2e::kafka::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let lines = transactions(dir.path(), 20_000);
    let (expected, _) = reference(dir.path(), &lines);
    let (input, output, dlq) = (unique_topic("in"), unique_topic("out"), unique_topic("dlq"));
    create_topic(&input, 2);
    create_topic(&output, 2);
    create_topic(&dlq, 1);
    produce(&input, 2, &lines, None);
    let job = kafka_job(dir.path(), "kafka-fault", &input, &output, &dlq, true);
    let job_arg = job.to_str().expect("utf-8");
    let text = std::fs::read_to_string(&job)
        .expect("job")
        .replace("interval = \"200ms\"", "interval = \"50ms\"");
    std::fs::write(&job, text).expect("job");
    // Die right after checkpoint 2 is durable, before its transaction commits.
    let crashed = std::process::Command::new(weir_e2e::weir_bin())
        .args(["run", "-q", job_arg])
        .current_dir(dir.path())
        .env("WEIR_FAULT", "after-checkpoint-before-commit@2")
        .output()
        .expect("run weir");
    let err = String::from_utf8_lossy(&crashed.stderr);
    assert!(
        !crashed.status.success() && err.contains("WEIR_FAULT"),
        "{err}"
    );
    assert!(
        dir.path().join("checkpoints/chk-000000000002").is_dir(),
        "{err}"
    );
    let before = committed_values(&output);
    let resumed = weir(&["run", job_arg]).ok();

    let err = resumed.stderr();
    assert!(
        err.contains("checkpoint 2 was written but its Kafka transaction")
            && err.contains("resuming from checkpoint 1"),
        "{err}"
    );
    let got = committed_values(&output);
    assert!(
        before.len() < got.len(),
        "epoch 1 was committed before the crash"
    );
    assert_eq!(
        got, expected,
        "results differ after a crash between checkpoint and commit"
    );
}

#[test]
fn a_broker_restart_mid_job_is_survived_with_exact_output() {
    let _serial = weir_e2e::kafka::serial();
    // A broker of its own: restarting the shared one would disturb the
    // other tests running at the same time.
    let port = "29092";
    let script = weir_e2e::repo().join("scripts/kafka.sh");
    let kafka = |cmd: &str| {
        let out = std::process::Command::new("bash")
            .arg(&script)
            .arg(cmd)
            .env("WEIR_KAFKA_PORT", port)
            .output()
            .expect("kafka.sh");
        assert!(
            out.status.success(),
            "kafka.sh {cmd}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    kafka("start");
    struct Stop<F: Fn()>(F);
    impl<F: Fn()> Drop for Stop<F> {
        fn drop(&mut self) {
            (self.0)()
        }
    }
    let _stop = Stop(|| {
        let _ = std::process::Command::new("bash")
            .arg(&script)
            .arg("stop")
            .env("WEIR_KAFKA_PORT", port)
            .status();
    });
    let b = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().expect("tempdir");
    let lines = transactions(dir.path(), 10_000);
    let (expected, _) = reference(dir.path(), &lines);
    let (input, output, dlq) = ("restart-in", "restart-out", "restart-dlq");
    let job = kafka_job(dir.path(), "kafka-restart", input, output, dlq, false);
    let text = std::fs::read_to_string(&job)
        .expect("job")
        .replace(&broker(), &b);
    std::fs::write(&job, text).expect("job");
    let clients = OwnBroker::new(&b);
    clients.create(input, 2);
    clients.create(output, 2);
    clients.create(dlq, 1);
    let (first, second) = lines.split_at(lines.len() / 2);
    clients.produce(input, 2, first);
    let mut child = spawn_weir(dir.path(), &["run", "-q", job.to_str().expect("utf-8")]);
    let started = Instant::now();
    while clients.values(output).len() < 10 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no output before the restart"
        );
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "the job exited early"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    kafka("restart");
    clients.produce(input, 2, second);
    clients.produce(input, 2, &[flush_line(), flush_line()]);
    let started = Instant::now();
    loop {
        let got = clients.values(output);
        if got.len() >= expected.len() {
            break;
        }
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "the job failed after the broker restart"
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "only {} of {} results 120 s after the broker restart",
            got.len(),
            expected.len()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    std::thread::sleep(Duration::from_secs(2));
    let got = clients.values(output);
    stop(child);
    assert_eq!(got, expected, "results differ after a broker restart");
}

/// Clients for a broker other than the shared test broker.
struct OwnBroker(String);

impl OwnBroker {
    fn new(brokers: &str) -> Self {
        OwnBroker(brokers.into())
    }
    fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        weir_e2e::kafka::with_brokers(&self.0, f)
    }
    fn create(&self, topic: &str, partitions: i32) {
        self.with(|| create_topic(topic, partitions))
    }
    fn produce(&self, topic: &str, partitions: i32, lines: &[String]) {
        self.with(|| produce(topic, partitions, lines, None))
    }
    fn values(&self, topic: &str) -> Vec<String> {
        self.with(|| committed_values(topic))
    }
}

/// A job reading `topic` from `start`, bounded, into a file.
fn positions_job(dir: &Path, name: &str, topic: &str, start: &str, extra: &str) -> PathBuf {
    let job = dir.join(format!("{name}.toml"));
    std::fs::write(
        &job,
        format!(
            r#"
name = "{name}"
[source]
type = "kafka"
brokers = "{b}"
topics = ["{topic}"]
{start}
{extra}
[sink]
type = "file"
path = "{name}.jsonl"
"#,
            b = broker(),
        ),
    )
    .expect("write job");
    job
}

fn numbers(path: &Path) -> Vec<i64> {
    canonical_lines(path)
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("JSON")["i"]
                .as_i64()
                .expect("i")
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[test]
fn start_positions_earliest_timestamp_committed_and_latest() {
    let _serial = weir_e2e::kafka::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = unique_topic("positions");
    create_topic(&topic, 1);
    let p = TestProducer::new();
    let send = |range: std::ops::Range<i64>| {
        for i in range {
            let ts = 1_000_000 + i * 10;
            p.send(
                &topic,
                0,
                None,
                format!(r#"{{"i":{i},"ts":{ts}}}"#).as_bytes(),
                Some(ts),
            );
        }
        p.flush();
    };
    send(0..100);
    let run = |job: &Path| weir(&["run", "-q", job.to_str().expect("utf-8")]).ok();

    let earliest = positions_job(
        dir.path(),
        "earliest",
        &topic,
        "start = \"earliest\"\nbounded = true",
        "",
    );
    run(&earliest);
    assert_eq!(
        numbers(&dir.path().join("earliest.jsonl")),
        (0..100).collect::<Vec<_>>()
    );

    // The Kafka timestamp of record i is 1,000,000 + 10 i.
    let ts = positions_job(
        dir.path(),
        "from-ts",
        &topic,
        "start = \"timestamp\"\nstart_timestamp = 1000500\nbounded = true",
        "",
    );
    run(&ts);
    assert_eq!(
        numbers(&dir.path().join("from-ts.jsonl")),
        (50..100).collect::<Vec<_>>()
    );

    // A job with checkpoints commits its offsets to its group; a job of
    // that group starting from `committed` continues after them.
    let group = unique_topic("group");
    let first = positions_job(
        dir.path(),
        "first",
        &topic,
        &format!("group = \"{group}\"\nbounded = true"),
        "[checkpoint]\ninterval = \"100ms\"\ndir = \"chk-first\"",
    );
    run(&first);
    assert_eq!(numbers(&dir.path().join("first.jsonl")).len(), 100);
    send(100..130);
    let committed = positions_job(
        dir.path(),
        "committed",
        &topic,
        &format!("group = \"{group}\"\nstart = \"committed\"\nbounded = true"),
        "",
    );
    run(&committed);
    assert_eq!(
        numbers(&dir.path().join("committed.jsonl")),
        (100..130).collect::<Vec<_>>()
    );

    // `latest`: only what arrives after the job started (unbounded; the
    // checkpointed file sink publishes every 100 ms).
    let latest = positions_job(
        dir.path(),
        "latest",
        &topic,
        "start = \"latest\"",
        "[checkpoint]\ninterval = \"100ms\"\ndir = \"chk-latest\"",
    );
    let child = spawn_weir(dir.path(), &["run", "-q", latest.to_str().expect("utf-8")]);
    let started = Instant::now();
    // The first checkpoint means the source has resolved its start offsets.
    while !std::fs::read_dir(dir.path().join("chk-latest"))
        .map(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("chk-"))
        })
        .unwrap_or(false)
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the latest job did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    send(130..150);
    let out = dir.path().join("latest.jsonl");
    let started = Instant::now();
    while std::fs::read_to_string(&out)
        .map(|t| t.lines().count())
        .unwrap_or(0)
        < 20
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "new records did not arrive"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    stop(child);
    assert_eq!(numbers(&out), (130..150).collect::<Vec<_>>());
}

#[test]
fn a_missing_topic_and_an_exactly_once_job_without_checkpoints_are_refused_clearly() {
    let _serial = weir_e2e::kafka::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let job = positions_job(
        dir.path(),
        "missing",
        "no-such-topic-anywhere",
        "bounded = true",
        "",
    );
    let err = weir(&["run", "-q", job.to_str().expect("utf-8")]).failed();
    assert!(
        err.contains("no-such-topic-anywhere") && err.contains("does not exist"),
        "{err}"
    );
    let job = dir.path().join("eos.toml");
    std::fs::write(
        &job,
        format!(
            r#"
name = "eos"
[source]
type = "kafka"
brokers = "{b}"
topics = ["x"]
[sink]
type = "kafka"
brokers = "{b}"
topic = "y"
delivery = "exactly-once"
"#,
            b = broker()
        ),
    )
    .expect("write");
    let err = weir(&["validate", job.to_str().expect("utf-8")]).failed();
    assert!(
        err.contains("sink.delivery") && err.contains("[checkpoint]"),
        "{err}"
    );
}

#[test]
fn raw_records_keep_key_and_headers_json_records_route_by_field_and_kafka_time_drives_windows() {
    let _serial = weir_e2e::kafka::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let b = broker();
    let run = |name: &str, text: String| {
        let job = dir.path().join(format!("{name}.toml"));
        std::fs::write(&job, text).expect("write job");
        weir(&["run", "-q", job.to_str().expect("utf-8")]).ok();
    };
    let p = TestProducer::new();

    // Raw bytes, at-least-once: value, key and headers pass through as they are.
    let (raw_in, raw_out) = (unique_topic("raw-in"), unique_topic("raw-out"));
    create_topic(&raw_in, 1);
    create_topic(&raw_out, 1);
    for i in 0..10 {
        let (k, v) = (format!("k{i}"), format!("raw bytes {i} \x01"));
        p.send_with_headers(
            &raw_in,
            0,
            Some(k.as_bytes()),
            v.as_bytes(),
            None,
            &[("trace", &k)],
        );
    }
    p.flush();
    run(
        "raw",
        format!(
            r#"name = "raw"
[source]
type = "kafka"
brokers = "{b}"
topics = ["{raw_in}"]
format = "raw"
bounded = true
[sink]
type = "kafka"
brokers = "{b}"
topic = "{raw_out}"
delivery = "at-least-once"
"#
        ),
    );
    let out = read_committed(&raw_out);
    assert_eq!(out.len(), 10);
    for r in &out {
        let key = String::from_utf8(r.key.clone().expect("key kept")).expect("utf-8");
        assert_eq!(r.value, format!("raw bytes {} \x01", &key[1..]));
        assert!(
            r.headers.contains(&("trace".to_string(), key.clone())),
            "{r:?}"
        );
    }

    // JSON records routed by a field, no delivery guarantee.
    let (json_in, to_a, to_b) = (
        unique_topic("route-in"),
        unique_topic("a"),
        unique_topic("b"),
    );
    create_topic(&json_in, 1);
    create_topic(&to_a, 1);
    create_topic(&to_b, 1);
    for i in 0..9 {
        let route = if i % 3 == 0 { &to_b } else { &to_a };
        p.send(
            &json_in,
            0,
            None,
            format!(r#"{{"i":{i},"route":"{route}"}}"#).as_bytes(),
            None,
        );
    }
    p.flush();
    run(
        "route",
        format!(
            r#"name = "route"
[source]
type = "kafka"
brokers = "{b}"
topics = ["{json_in}"]
bounded = true
[sink]
type = "kafka"
brokers = "{b}"
topic = "{to_a}"
topic_field = "route"
delivery = "none"
"#
        ),
    );
    assert_eq!(read_committed(&to_a).len(), 6);
    assert_eq!(read_committed(&to_b).len(), 3);

    // Event time from the Kafka timestamp: 1-second windows over records
    // stamped 1000 + 100 i ms.
    let (ts_in, ts_out) = (unique_topic("ts-in"), unique_topic("ts-out"));
    create_topic(&ts_in, 1);
    create_topic(&ts_out, 1);
    for i in 0..25 {
        p.send(&ts_in, 0, None, br#"{"user":"u"}"#, Some(1_000 + 100 * i));
    }
    p.flush();
    run(
        "kafka-time",
        format!(
            r#"name = "kafka-time"
[source]
type = "kafka"
brokers = "{b}"
topics = ["{ts_in}"]
bounded = true
[event_time]
max_out_of_orderness = "0s"
[key_by]
field = "user"
[window]
type = "tumbling"
size = "1s"
aggregates = [{{ fn = "count" }}]
[sink]
type = "kafka"
brokers = "{b}"
topic = "{ts_out}"
[late_output]
type = "discard"
"#
        ),
    );
    let windows: Vec<(i64, i64)> = committed_values(&ts_out)
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON");
            (
                v["window_start"].as_i64().expect("start"),
                v["count"].as_i64().expect("count"),
            )
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(windows, vec![(1000, 10), (2000, 10), (3000, 5)]);
}

#[test]
fn a_tenants_job_on_weir_serve_uses_its_own_topics_exactly_once_and_no_one_elses() {
    let _serial = weir_e2e::kafka::serial();
    let b = broker();
    let (input, output) = (unique_topic("acme.in"), unique_topic("acme.out"));
    create_topic(&input, 2);
    create_topic(&output, 1);
    let producer = TestProducer::new();
    for i in 0..5000 {
        let value = format!("{{\"i\":{i}}}");
        producer.send(&input, i % 2, None, value.as_bytes(), None);
    }
    producer.flush();
    let s = weir_e2e::serve::Server::start(&[
        ("acme", "kafka_topic_prefixes = [\"acme.\"]"),
        ("other", "kafka_topic_prefixes = [\"other.\"]"),
    ]);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("tagged.toml"),
        format!(
            r#"name = "tagged"
parallelism = 2
[source]
type = "kafka"
brokers = "{b}"
topics = ["{input}"]
bounded = true
[[operators]]
name = "tag"
component = "{tag}"
[sink]
type = "kafka"
brokers = "{b}"
topic = "{output}"
delivery = "exactly-once"
"#,
            tag = operator("tag-v1")
        ),
    )
    .expect("job");
    // Another tenant may not touch acme's topics.
    let refused = s
        .cli_in(dir.path(), "other", &["submit", "tagged.toml"])
        .failed();
    assert!(
        refused.contains(&format!("may not use Kafka topic `{input}`")),
        "{refused}"
    );
    s.cli_in(dir.path(), "acme", &["submit", "tagged.toml"])
        .ok();
    let st = s.wait_ended("acme", "tagged", Duration::from_secs(180));
    assert_eq!(st["state"], "finished", "{st:#}");
    // Every record once, through one transaction per checkpoint under the
    // tenant's transactional id.
    let values = committed_values(&output);
    let mut seen: Vec<i64> = values
        .iter()
        .map(|v| {
            let v: serde_json::Value = serde_json::from_str(v).expect("JSON");
            v["i"].as_i64().expect("i")
        })
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..5000).collect::<Vec<_>>(),
        "records lost or repeated"
    );
}

#[test]
fn a_tenant_cannot_fence_join_or_reroute_another_tenants_kafka_clients() {
    let _serial = weir_e2e::kafka::serial();
    let b = broker();
    let (input, output) = (unique_topic("good.in"), unique_topic("good.out"));
    let (evil_in, evil_out) = (unique_topic("evil.in"), unique_topic("evil.out"));
    for t in [&input, &output, &evil_in, &evil_out] {
        create_topic(t, 1);
    }
    let producer = TestProducer::new();
    let send = |topic: &str, from: i64, to: i64| {
        for i in from..to {
            producer.send(topic, 0, None, format!("{{\"i\":{i}}}").as_bytes(), None);
        }
        producer.flush();
    };
    send(&input, 0, 3000);
    send(&evil_in, 0, 100);
    let s = weir_e2e::serve::Server::start(&[
        (
            "good",
            &format!("kafka_topic_prefixes = [\"good.\"]\nkafka_brokers = [\"{b}\"]"),
        ),
        (
            "evil",
            &format!("kafka_topic_prefixes = [\"evil.\"]\nkafka_brokers = [\"{b}\"]"),
        ),
    ]);
    let dir = tempfile::tempdir().expect("tempdir");
    let job = |file: &str, input: &str, output: &str, source_extra: &str, sink_extra: &str| {
        std::fs::write(
            dir.path().join(file),
            format!(
                r#"name = "tagged"
[source]
type = "kafka"
brokers = "{b}"
topics = ["{input}"]
{source_extra}
[[operators]]
name = "tag"
component = "{tag}"
[sink]
type = "kafka"
brokers = "{b}"
topic = "{output}"
delivery = "exactly-once"
{sink_extra}
[checkpoint]
interval = "500ms"
"#,
                tag = operator("tag-v1")
            ),
        )
        .expect("job");
    };
    // The good tenant's exactly-once job runs: its transactional id and
    // consumer group are `weir.good.tagged`.
    job("good.toml", &input, &output, "", "");
    s.cli_in(dir.path(), "good", &["submit", "good.toml"]).ok();
    let count = |n: usize| {
        let started = std::time::Instant::now();
        loop {
            let got = committed_values(&output).len();
            if got >= n {
                return got;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "{got} of {n} records out"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    assert_eq!(count(3000), 3000);

    // Every way past the fence the review found, by property and by field.
    let unreachable = "10.255.255.1:9092";
    for (source_extra, sink_extra, named) in [
        (
            "properties = { \"group.id\" = \"weir.good.tagged\" }",
            "",
            "group.id",
        ),
        (
            "",
            "properties = { \"transactional.id\" = \"weir.good.tagged\" }",
            "transactional.id",
        ),
        (
            &format!("properties = {{ \"metadata.broker.list\" = \"{unreachable}\" }}") as &str,
            "",
            "metadata.broker.list",
        ),
        (
            "",
            "properties = { \"sasl.password\" = \"hunter2\" }",
            "sasl.password",
        ),
        (
            "properties = { \"client.id\" = \"weir.good.tagged.source\" }",
            "",
            "client.id",
        ),
        ("group = \"weir.good.tagged\"", "", "source.group"),
        (
            "",
            "transactional_id = \"weir.good.tagged\"",
            "sink.transactional_id",
        ),
    ] {
        job("evil.toml", &evil_in, &evil_out, source_extra, sink_extra);
        let refused = s
            .cli_in(dir.path(), "evil", &["submit", "evil.toml"])
            .failed();
        assert!(
            refused.contains(named),
            "`{named}` is not named in: {refused}"
        );
    }
    let routed = {
        std::fs::write(
            dir.path().join("routed.toml"),
            std::fs::read_to_string(dir.path().join("evil.toml"))
                .expect("job")
                .replace(
                    &format!("brokers = \"{b}\""),
                    &format!("brokers = \"{unreachable}\""),
                ),
        )
        .expect("job");
        s.cli_in(dir.path(), "evil", &["submit", "routed.toml"])
            .failed()
    };
    assert!(
        routed.contains("may not connect to Kafka broker"),
        "{routed}"
    );

    // The evil tenant's own job of the same name runs beside it, under its
    // own ids, and the good job goes on exactly once: it was not fenced.
    job("evil.toml", &evil_in, &evil_out, "", "");
    s.cli_in(dir.path(), "evil", &["submit", "evil.toml"]).ok();
    send(&input, 3000, 6000);
    assert_eq!(count(6000), 6000);
    let mut seen: Vec<i64> = committed_values(&output)
        .iter()
        .map(|v| {
            serde_json::from_str::<serde_json::Value>(v).expect("JSON")["i"]
                .as_i64()
                .expect("i")
        })
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..6000).collect::<Vec<_>>(),
        "records lost or repeated"
    );
    let good = s.status("good", "tagged");
    assert_eq!(good["state"], "running", "{good:#}");
    for tenant in ["good", "evil"] {
        s.cli(tenant, &["cancel", "tagged"]).ok();
    }
}
