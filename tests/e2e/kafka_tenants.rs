//! Tenants of `weir serve` on a real Apache Kafka broker: a tenant's job
//! uses its own topics exactly once, and no setting lets it reach past its
//! fence — another tenant's consumer group or transactional id (fencing its
//! exactly-once producer), a broker outside its list, credentials.

use std::time::Duration;
use weir_e2e::kafka::{TestProducer, broker, committed_values, create_topic, unique_topic};
use weir_e2e::operator;

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

#[test]
fn a_served_kafka_job_reports_its_consumer_lag_per_partition() {
    let _serial = weir_e2e::kafka::serial();
    let b = broker();
    let input = unique_topic("acme.lag");
    create_topic(&input, 2);
    let producer = TestProducer::new();
    for i in 0..3000 {
        producer.send(
            &input,
            i % 2,
            None,
            format!("{{\"i\":{i}}}").as_bytes(),
            None,
        );
    }
    producer.flush();
    let s = weir_e2e::serve::Server::start(&[("acme", "kafka_topic_prefixes = [\"acme.\"]")]);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("lag.toml"),
        format!(
            r#"name = "lag"
[source]
type = "kafka"
brokers = "{b}"
topics = ["{input}"]
[sink]
type = "discard"
"#
        ),
    )
    .expect("job");
    s.cli_in(dir.path(), "acme", &["submit", "lag.toml"]).ok();
    let st = s.wait_for("acme", "lag", Duration::from_secs(120), "caught up", |st| {
        st["records_in"].as_u64() == Some(3000)
            && st["kafka_lag"].as_i64() == Some(0)
            && st["kafka_partitions"]
                .as_array()
                .is_some_and(|p| p.len() == 2)
    });
    let mut parts: Vec<(String, i64, u64)> = st["kafka_partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| {
            (
                p["topic"].as_str().expect("topic").to_string(),
                p["partition"].as_i64().expect("partition"),
                p["lag"].as_u64().expect("lag"),
            )
        })
        .collect();
    parts.sort();
    assert_eq!(
        parts,
        [(input.clone(), 0, 0), (input.clone(), 1, 0)],
        "{st:#}"
    );
    let (code, metrics) = s.http("GET", "/metrics", Some(s.token("acme")), None);
    assert_eq!(code, 200);
    for p in 0..2 {
        let line = format!(
            "weir_job_kafka_partition_lag_records{{tenant=\"acme\",job=\"lag\",topic=\"{input}\",partition=\"{p}\"}} 0"
        );
        assert!(metrics.contains(&line), "no `{line}` in:\n{metrics}");
    }
    s.cli("acme", &["cancel", "lag"]).ok();
}
