//! Admitting a submitted job: store what was uploaded in the job's own
//! directory, point the job at it, and hold it to the tenant's quotas.
//!
//! A served job never names a path of the host: its components are stored
//! by digest under `components/`, a file source reads the uploaded copy
//! under `input/`, file sinks write under `output/`, and checkpoints and
//! RocksDB state live under `checkpoints/` and `state/` — all inside the
//! job's directory. Standard input and output belong to the host process,
//! so a served job may use neither. Kafka topics, consumer groups and
//! transactional ids must be the tenant's (by prefix; groups and ids by
//! `weir.<tenant>.`). The job's name becomes `<tenant>.<name>` in logs,
//! metrics and Kafka defaults, so two tenants' jobs of the same name never
//! meet.

use super::config::{Tenant, valid_name};
use base64::Engine as _;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// What `POST /v1/jobs` carries.
#[derive(Deserialize)]
pub struct Submission {
    /// The job file's text (TOML).
    pub job: String,
    /// Components by the path the job file names them with, base64.
    #[serde(default)]
    pub components: BTreeMap<String, String>,
    /// Input files (of a `file` source) by the path the job names, base64.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
}

/// Why a submission was refused: what, where, what to do.
#[derive(Debug, thiserror::Error)]
pub enum AdmissionError {
    /// The job file is malformed, or breaks a rule of served jobs.
    #[error("{0}")]
    Invalid(String),
    /// The job asks for more than the tenant's quota.
    #[error("quota: {0}")]
    Quota(String),
    /// Writing the job's files failed.
    #[error("storing the job: {0}")]
    Io(String),
}

fn invalid(m: impl Into<String>) -> AdmissionError {
    AdmissionError::Invalid(m.into())
}

/// The job's name (its id) from the submitted text.
pub fn job_id(sub: &Submission) -> Result<String, AdmissionError> {
    let doc: Table = toml::from_str(&sub.job).map_err(|e| invalid(format!("job file: {e}")))?;
    let name = doc
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("job file: `name` is missing"))?;
    if !valid_name(name) {
        return Err(invalid(format!(
            "job name `{name}`: a served job's name is its id in the API, so it must be 1-64 letters, digits, `-` or `_`"
        )));
    }
    Ok(name.to_string())
}

/// Store the submission in `dir` and write the job file the host runs
/// (`dir/job.toml`); returns its path.
pub fn admit(tenant: &Tenant, sub: &Submission, dir: &Path) -> Result<PathBuf, AdmissionError> {
    let mut doc: Table = toml::from_str(&sub.job).map_err(|e| invalid(format!("job file: {e}")))?;
    let id = job_id(sub)?;
    let io = |p: &Path, e: std::io::Error| AdmissionError::Io(format!("{}: {e}", p.display()));
    for sub_dir in ["components", "input", "output"] {
        let p = dir.join(sub_dir);
        std::fs::create_dir_all(&p).map_err(|e| io(&p, e))?;
    }
    let q = &tenant.quotas;

    // Components: stored by digest.
    let store_component = |at: &str, op: &mut Table| -> Result<(), AdmissionError> {
        let bytes = uploaded(
            op,
            &format!("{at}.component"),
            &sub.components,
            "the components a job names, building projects first",
        )?;
        let digest = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(&bytes))
        };
        let rel = format!("components/{digest}.wasm");
        let p = dir.join(&rel);
        std::fs::write(&p, &bytes).map_err(|e| io(&p, e))?;
        op.insert("component".into(), Value::String(rel));
        if let Some(grants) = op.get("grants").and_then(Value::as_array) {
            for g in grants.iter().filter_map(Value::as_str) {
                if !q.grants.iter().any(|a| a == g) {
                    return Err(AdmissionError::Quota(format!(
                        "{at}.grants: tenant `{}` may not grant `{g}` (allowed: {})",
                        tenant.name,
                        if q.grants.is_empty() {
                            "none".into()
                        } else {
                            q.grants.join(", ")
                        }
                    )));
                }
            }
        }
        Ok(())
    };
    if let Some(ops) = doc.get_mut("operators").and_then(Value::as_array_mut) {
        for (i, op) in ops.iter_mut().enumerate() {
            if let Some(t) = op.as_table_mut() {
                store_component(&format!("operators[{i}]"), t)?;
            }
        }
    }
    if let Some(t) = doc.get_mut("keyed").and_then(Value::as_table_mut) {
        store_component("keyed", t)?;
    }
    if let Some(t) = doc
        .get_mut("window")
        .and_then(Value::as_table_mut)
        .and_then(|w| w.get_mut("aggregate"))
        .and_then(Value::as_table_mut)
    {
        store_component("window.aggregate", t)?;
    }

    // The source.
    if let Some(src) = doc.get_mut("source").and_then(Value::as_table_mut) {
        match src.get("type").and_then(Value::as_str) {
            Some("file") => {
                let bytes = uploaded(src, "source.path", &sub.files, "a file source's input")?;
                let p = dir.join("input/source.jsonl");
                std::fs::write(&p, bytes).map_err(|e| io(&p, e))?;
                src.insert("path".into(), Value::String("input/source.jsonl".into()));
            }
            Some("stdin") => {
                return Err(invalid(
                    "source: a served job cannot read standard input (it is the host's); upload a file source or use Kafka",
                ));
            }
            Some("kafka") => {
                check_properties(tenant, "source.properties", src.get("properties"))?;
                check_brokers(tenant, "source.brokers", src.get("brokers"))?;
                let topics: Vec<String> = src
                    .get("topics")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default();
                for t in &topics {
                    check_topic(tenant, "source.topics", t)?;
                }
                check_owned_id(tenant, "source.group", src.get("group"))?;
            }
            _ => {}
        }
    }

    // Sinks.
    for which in ["sink", "late_output", "dead_letter"] {
        let Some(sink) = doc.get_mut(which).and_then(Value::as_table_mut) else {
            continue;
        };
        match sink.get("type").and_then(Value::as_str) {
            Some("file") => {
                sink.insert(
                    "path".into(),
                    Value::String(format!("output/{which}.jsonl")),
                );
            }
            Some("stdout") => {
                return Err(invalid(format!(
                    "{which}: a served job cannot write standard output (it is the host's); use a file sink (read it with `weir output`) or Kafka"
                )));
            }
            Some("kafka") => {
                check_brokers(tenant, &format!("{which}.brokers"), sink.get("brokers"))?;
                check_properties(
                    tenant,
                    &format!("{which}.properties"),
                    sink.get("properties"),
                )?;
                if let Some(t) = sink.get("topic").and_then(Value::as_str) {
                    check_topic(tenant, &format!("{which}.topic"), t)?;
                }
                if sink.contains_key("topic_field") && !q.topic_allowed("") {
                    return Err(AdmissionError::Quota(format!(
                        "{which}.topic_field: tenant `{}` may only write topics starting with {}, which a topic chosen per record cannot be held to; name one topic",
                        tenant.name,
                        q.kafka_topic_prefixes.join(" or ")
                    )));
                }
                check_owned_id(
                    tenant,
                    &format!("{which}.transactional_id"),
                    sink.get("transactional_id"),
                )?;
            }
            _ => {}
        }
    }

    // Checkpoints and state: always, and inside the job's directory. A
    // served job always checkpoints: that is what it resumes from when the
    // host restarts, and where swaps and savepoints happen.
    let cp = doc
        .entry("checkpoint")
        .or_insert_with(|| Value::Table(Table::new()));
    let cp = cp
        .as_table_mut()
        .ok_or_else(|| invalid("checkpoint must be a table"))?;
    cp.insert("dir".into(), Value::String("checkpoints".into()));
    let state = doc
        .entry("state")
        .or_insert_with(|| Value::Table(Table::new()));
    if let Some(st) = state.as_table_mut() {
        st.insert("path".into(), Value::String("state".into()));
        // RocksDB's memory is one budget for every job of the process: the
        // host's to size, not a tenant's.
        for key in ["block_cache", "write_buffer"] {
            if st.contains_key(key) {
                return Err(invalid(format!(
                    "state.{key}: RocksDB memory is shared by every job of the host and set by it; leave it out"
                )));
            }
        }
    }

    // Parallelism: threads and instances of the host.
    let parallelism = doc
        .get("parallelism")
        .and_then(Value::as_integer)
        .unwrap_or(1);
    if parallelism > q.max_parallelism as i64 {
        return Err(AdmissionError::Quota(format!(
            "parallelism = {parallelism} is more than tenant `{}` may use per job ({})",
            tenant.name, q.max_parallelism
        )));
    }

    // Limits: at most the quota; the quota when not given.
    let limits = doc
        .entry("limits")
        .or_insert_with(|| Value::Table(Table::new()));
    let limits = limits
        .as_table_mut()
        .ok_or_else(|| invalid("limits must be a table"))?;
    match limits.get("memory").and_then(Value::as_str) {
        Some(m) => {
            let asked =
                weir::job::parse_bytes(m).map_err(|e| invalid(format!("limits.memory: {e}")))?;
            if asked > q.memory_bytes {
                return Err(AdmissionError::Quota(format!(
                    "limits.memory = \"{m}\" is more than tenant `{}` may use per instance ({} bytes)",
                    tenant.name, q.memory_bytes
                )));
            }
        }
        None => {
            limits.insert("memory".into(), Value::String(q.memory_bytes.to_string()));
        }
    }
    match limits.get("call_timeout").and_then(Value::as_str) {
        Some(t) => {
            let asked = weir::time::parse_duration_ms(t)
                .map_err(|e| invalid(format!("limits.call_timeout: {e}")))?;
            if asked > q.call_timeout_ms {
                return Err(AdmissionError::Quota(format!(
                    "limits.call_timeout = \"{t}\" is more than tenant `{}` may use per call ({} ms)",
                    tenant.name, q.call_timeout_ms
                )));
            }
        }
        None => {
            limits.insert(
                "call_timeout".into(),
                Value::String(format!("{}ms", q.call_timeout_ms)),
            );
        }
    }

    doc.insert(
        "name".into(),
        Value::String(format!("{}.{id}", tenant.name)),
    );
    let text = toml::to_string(&doc).map_err(|e| invalid(format!("job file: {e}")))?;
    let p = dir.join("job.toml");
    std::fs::write(&p, text).map_err(|e| io(&p, e))?;
    let submitted = dir.join("submitted.toml");
    std::fs::write(&submitted, &sub.job).map_err(|e| io(&submitted, e))?;
    Ok(p)
}

/// librdkafka settings that name files, commands or plugins of the host
/// (`plugin.library.paths` loads a library into the host process,
/// `sasl.kerberos.kinit.cmd` runs a command, `ssl.*.location` reads files):
/// a tenant's job may set none of them.
const HOST_PROPERTIES: [&str; 7] = [
    "plugin", "location", "kinit", "keytab", "path", "file", "engine",
];

fn check_properties(
    tenant: &Tenant,
    at: &str,
    props: Option<&Value>,
) -> Result<(), AdmissionError> {
    let Some(props) = props.and_then(Value::as_table) else {
        return Ok(());
    };
    for key in props.keys() {
        if HOST_PROPERTIES.iter().any(|h| key.contains(h)) || key == "bootstrap.servers" {
            return Err(AdmissionError::Quota(format!(
                "{at}.\"{key}\": tenant `{}` may not set librdkafka settings that reach the host's files, commands or plugins (or override `brokers`)",
                tenant.name
            )));
        }
    }
    Ok(())
}

/// The uploaded bytes of the file that field `at` (`table.field`) of the
/// job names: found in `uploads` by the path as written, base64-decoded.
fn uploaded(
    table: &Table,
    at: &str,
    uploads: &BTreeMap<String, String>,
    what: &str,
) -> Result<Vec<u8>, AdmissionError> {
    let field = at.rsplit('.').next().unwrap_or(at);
    let written = table
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("{at} is missing")))?;
    let b64 = uploads.get(written).ok_or_else(|| {
        invalid(format!(
            "{at} `{written}` was not uploaded (`weir submit` uploads {what})"
        ))
    })?;
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| invalid(format!("{at} `{written}`: not base64: {e}")))
}

/// With a `kafka_brokers` quota, every bootstrap server must be in it.
fn check_brokers(tenant: &Tenant, at: &str, value: Option<&Value>) -> Result<(), AdmissionError> {
    let allowed = &tenant.quotas.kafka_brokers;
    let Some(brokers) = value.and_then(Value::as_str) else {
        return Ok(());
    };
    if allowed.is_empty() {
        return Ok(());
    }
    for b in brokers.split(',').map(str::trim) {
        if !allowed.iter().any(|a| a == b) {
            return Err(AdmissionError::Quota(format!(
                "{at}: tenant `{}` may not connect to Kafka broker `{b}` (allowed: {})",
                tenant.name,
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

fn check_topic(tenant: &Tenant, at: &str, topic: &str) -> Result<(), AdmissionError> {
    if tenant.quotas.topic_allowed(topic) {
        return Ok(());
    }
    Err(AdmissionError::Quota(format!(
        "{at}: tenant `{}` may not use Kafka topic `{topic}` ({})",
        tenant.name,
        if tenant.quotas.kafka_topic_prefixes.is_empty() {
            "it may use no Kafka topics".to_string()
        } else {
            format!(
                "its topics start with {}",
                tenant.quotas.kafka_topic_prefixes.join(" or ")
            )
        }
    )))
}

/// Consumer groups and transactional ids name Kafka resources too: a
/// tenant's must start with `weir.<tenant>.` (the default ones do).
fn check_owned_id(tenant: &Tenant, at: &str, value: Option<&Value>) -> Result<(), AdmissionError> {
    let Some(v) = value.and_then(Value::as_str) else {
        return Ok(());
    };
    let prefix = format!("weir.{}.", tenant.name);
    if v.starts_with(&prefix) {
        return Ok(());
    }
    Err(AdmissionError::Quota(format!(
        "{at} = `{v}`: a tenant's consumer groups and transactional ids start with `{prefix}` (or leave it out for the default)"
    )))
}
