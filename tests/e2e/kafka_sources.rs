//! Kafka sources against a real Apache Kafka broker: where a job starts
//! (earliest, a timestamp, the group's committed offsets, latest), a
//! missing topic and an exactly-once job without checkpoints refused
//! clearly, raw records with their key and headers, routing by field,
//! Kafka timestamps as event time, and raw records as `key` and `value`
//! columns for an operator over columns.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use weir_e2e::kafka::{
    TestProducer, broker, committed_values, create_topic, read_committed, unique_topic,
};
use weir_e2e::{canonical_lines, spawn_weir, weir};

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
    let mut child = spawn_weir(dir.path(), &["run", "-q", latest.to_str().expect("utf-8")]);
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
    let _ = child.kill();
    let _ = child.wait();
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

/// Raw Kafka records reach an operator over columns as two binary columns,
/// `key` and `value`, bytes as they came (not JSON, not even UTF-8); what
/// it emits keeps each input record's key and headers.
#[test]
fn raw_records_reach_an_operator_over_columns_as_key_and_value_bytes() {
    let _serial = weir_e2e::kafka::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let b = broker();
    let (input, output) = (unique_topic("raw-cols-in"), unique_topic("raw-cols-out"));
    create_topic(&input, 2);
    create_topic(&output, 1);
    let p = TestProducer::new();
    // The model: what the operator makes of each record (tests/operators/
    // raw-columns), keyed by the trace header every record carries.
    let mut expected = Vec::new();
    for i in 0..300u32 {
        let value: Vec<u8> = match i % 4 {
            0 => format!("plain text {i}").into_bytes(),
            1 => vec![0xff, 0xfe, b'x', (i % 251) as u8],
            2 => format!("# a comment {i}").into_bytes(),
            _ => format!("{{\"not\": \"decoded\", \"i\": {i}}}").into_bytes(),
        };
        let key = (i % 3 != 0).then(|| format!("k{i}"));
        let trace = format!("t{i}");
        p.send_with_headers(
            &input,
            (i % 2) as i32,
            key.as_deref().map(str::as_bytes),
            &value,
            None,
            &[("trace", &trace)],
        );
        if !value.starts_with(b"#") {
            let mut o = serde_json::Map::new();
            if let Some(k) = &key {
                o.insert("key".into(), k.clone().into());
            }
            o.insert("text".into(), String::from_utf8_lossy(&value).into());
            o.insert("size".into(), value.len().into());
            expected.push((trace, key, serde_json::Value::Object(o)));
        }
    }
    p.flush();
    let job = dir.path().join("raw-columns.toml");
    std::fs::write(
        &job,
        format!(
            r#"name = "raw-columns"
parallelism = 2
[source]
type = "kafka"
brokers = "{b}"
topics = ["{input}"]
format = "raw"
bounded = true
[[operators]]
name = "describe"
component = "{op}"
[sink]
type = "kafka"
brokers = "{b}"
topic = "{output}"
delivery = "at-least-once"
"#,
            op = weir_e2e::operator("raw-columns"),
        ),
    )
    .expect("write job");
    weir(&["run", "-q", job.to_str().expect("utf-8")]).ok();
    let mut got: Vec<(String, Option<String>, serde_json::Value)> = read_committed(&output)
        .into_iter()
        .map(|r| {
            let trace = r
                .headers
                .iter()
                .find(|(k, _)| k == "trace")
                .map(|(_, v)| v.clone())
                .expect("the input record's headers are kept");
            let key = r.key.map(|k| String::from_utf8(k).expect("utf-8 key"));
            let value = serde_json::from_str(&r.value).expect("the operator's output is JSON");
            (trace, key, value)
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got.len(), 225, "three in four records are not comments");
    assert_eq!(got, expected);
}
