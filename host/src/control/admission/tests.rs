use super::*;
use crate::control::tenants::Quotas;

fn tenant() -> Tenant {
    let mut quotas = Quotas::defaults();
    quotas.kafka_topic_prefixes = vec!["evil.".into()];
    quotas.kafka_brokers = vec!["127.0.0.1:9092".into()];
    Tenant {
        name: "evil".into(),
        token_sha256: [0; 32],
        quotas,
        kafka_properties: [("sasl.password".to_string(), "host-secret".to_string())]
            .into_iter()
            .collect(),
    }
}

fn kafka_job(source_extra: &str, sink_extra: &str) -> Submission {
    Submission {
        job: format!(
            r#"name = "j"
[source]
type = "kafka"
brokers = "127.0.0.1:9092"
topics = ["evil.in"]
{source_extra}
[sink]
type = "kafka"
brokers = "127.0.0.1:9092"
topic = "evil.out"
delivery = "exactly-once"
{sink_extra}
[checkpoint]
interval = "1s"
"#
        ),
        components: BTreeMap::new(),
        files: BTreeMap::new(),
    }
}

#[test]
fn the_four_kafka_bypasses_are_refused_naming_setting_and_rule() {
    for (source, sink, setting, rule) in [
        (
            "properties = { \"group.id\" = \"weir.good.g\" }",
            "",
            "group.id",
            "weir sets",
        ),
        (
            "",
            "properties = { \"transactional.id\" = \"weir.good.cpu\" }",
            "transactional.id",
            "weir sets",
        ),
        (
            "properties = { \"metadata.broker.list\" = \"10.1.1.1:9092\" }",
            "",
            "metadata.broker.list",
            "weir sets",
        ),
        (
            "",
            "properties = { \"sasl.password\" = \"x\" }",
            "sasl.password",
            "credentials",
        ),
    ] {
        let e = check(&tenant(), &kafka_job(source, sink))
            .expect_err(setting)
            .to_string();
        assert!(e.contains(setting) && e.contains(rule), "{setting}: {e}");
    }
}

#[test]
fn tuning_knobs_pass_and_the_hosts_credentials_are_added() {
    let dir = tempfile::tempdir().unwrap();
    let sub = kafka_job(
        "properties = { \"fetch.min.bytes\" = \"1\" }",
        "properties = { \"linger.ms\" = \"20\" }",
    );
    let path = admit(&tenant(), &sub, dir.path()).unwrap();
    let stored = crate::job::load(&path, &[]).unwrap().spec;
    let SinkSpec::Kafka(k) = &stored.sink else {
        panic!()
    };
    assert_eq!(k.properties["linger.ms"], "20");
    assert_eq!(k.properties["sasl.password"], "host-secret");
    assert_eq!(stored.name, "evil.j");
    assert!(stored.limits.host_memory.is_some() && stored.limits.disk.is_some());
}

#[test]
fn sizes_are_checked_before_anything_is_decoded() {
    let mut t = tenant();
    t.quotas.max_component_bytes = 10;
    let mut sub = kafka_job("", "");
    sub.components.insert("big.wasm".into(), "A".repeat(100));
    let e = check(&t, &sub).unwrap_err().to_string();
    assert!(e.contains("max_component_size"), "{e}");
    t.quotas.max_job_file_bytes = 10;
    assert!(
        check(&t, &sub)
            .unwrap_err()
            .to_string()
            .contains("max_job_file")
    );
    t.quotas.max_upload_bytes = 10;
    assert!(
        decode(&t, &[b' '; 11])
            .unwrap_err()
            .to_string()
            .contains("max_upload")
    );
}

#[test]
fn names_that_could_leave_the_jobs_directory_are_refused() {
    for name in ["..", "a/b", "/etc", "a\\u0000b", &"x".repeat(65), ""] {
        let sub = Submission {
            job: format!(
                "name = \"{name}\"\n[source]\ntype = \"stdin\"\n[sink]\ntype = \"discard\"\n"
            ),
            components: BTreeMap::new(),
            files: BTreeMap::new(),
        };
        let e = job_id(&sub).expect_err(name).to_string();
        assert!(e.contains("name"), "{name}: {e}");
    }
}

/// A job reading `evil.in` and a second source `more` (TOML).
fn two_source_job(more: &str) -> Submission {
    Submission {
        job: format!(
            r#"name = "j"
[source]
type = "kafka"
brokers = "127.0.0.1:9092"
topics = ["evil.in"]
[[sources]]
name = "more"
{more}
[[stages]]
name = "both"
inputs = ["source", "more"]
[sink]
type = "discard"
"#
        ),
        components: BTreeMap::new(),
        files: BTreeMap::new(),
    }
}

#[test]
fn a_second_source_is_fenced_like_the_first() {
    let kafka = |topic: &str| {
        two_source_job(&format!(
            "type = \"kafka\"\nbrokers = \"127.0.0.1:9092\"\ntopics = [\"{topic}\"]"
        ))
    };
    let e = check(&tenant(), &kafka("good.secret"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("sources[0].topics") && e.contains("good.secret"),
        "{e}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = admit(&tenant(), &kafka("evil.more"), dir.path()).unwrap();
    let stored = crate::job::load(&path, &[]).unwrap().spec;
    let SourceSpec::Kafka(k) = &stored.sources[0].source else {
        panic!()
    };
    assert_eq!(k.properties["sasl.password"], "host-secret");

    let mut file = two_source_job("type = \"file\"\npath = \"/etc/passwd\"");
    let dir = tempfile::tempdir().unwrap();
    let e = admit(&tenant(), &file, dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("sources[0].path") && e.contains("was not uploaded"),
        "{e}"
    );
    file.files.insert("/etc/passwd".into(), "e30K".into());
    let dir = tempfile::tempdir().unwrap();
    let path = admit(&tenant(), &file, dir.path()).unwrap();
    let stored = crate::job::load(&path, &[]).unwrap().spec;
    let SourceSpec::File {
        path: read, rate, ..
    } = &stored.sources[0].source
    else {
        panic!()
    };
    assert_eq!(read, &PathBuf::from("input/source-0.jsonl"));
    assert_eq!(
        *rate,
        tenant().quotas.max_source_rate,
        "capped like [source]"
    );
    assert_eq!(
        std::fs::read(dir.path().join("input/source-0.jsonl")).unwrap(),
        b"{}\n"
    );
}

#[test]
fn a_postgres_sink_is_admitted_only_to_a_database_the_tenant_was_granted() {
    let job = |url: &str| Submission {
        job: format!(
            r#"name = "j"
[source]
type = "kafka"
brokers = "127.0.0.1:9092"
topics = ["evil.in"]
[sink]
type = "postgres"
url = "{url}"
table = "totals"
columns = ["user", "total"]
[checkpoint]
interval = "1s"
"#
        ),
        components: BTreeMap::new(),
        files: BTreeMap::new(),
    };
    let dir = tempfile::tempdir().unwrap();
    let e = admit(&tenant(), &job("postgresql://db:5432/shop"), dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("may not write to PostgreSQL database `db:5432/shop`"),
        "{e}"
    );
    assert!(e.contains("allowed: none"), "{e}");
    let mut granted = tenant();
    granted.quotas.postgres_databases = vec!["db:5432/shop".into()];
    admit(
        &granted,
        &job("postgresql://evil:pw@db:5432/shop"),
        dir.path(),
    )
    .unwrap();
    let e = admit(&granted, &job("postgresql://db:5432/other"), dir.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("`db:5432/other`"), "{e}");
    assert!(!e.contains("pw"), "{e}");
}
