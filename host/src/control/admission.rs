//! Admitting a submitted job: check it as the host will run it, hold it to
//! the tenant's quotas, store what was uploaded in the job's own directory
//! and point the job at it.
//!
//! A served job never names a path of the host: its components are stored
//! by digest under `components/`, a file source reads the uploaded copy
//! under `input/`, file sinks write under `output/`, and checkpoints and
//! RocksDB state live under `checkpoints/` and `state/` — all inside the
//! job's directory. Standard input and output belong to the host process,
//! so a served job may use neither. Kafka topics must carry the tenant's
//! prefix, consumer groups and transactional ids start with
//! `weir.<tenant>.`, brokers are held to the tenant's list and librdkafka
//! settings to the allowlist of tuning knobs; the tenant's credentials come
//! from the host's config. The job's name becomes `<tenant>.<name>` in logs,
//! metrics and Kafka defaults, so two tenants' jobs of the same name never
//! meet.
//!
//! Everything is checked on the typed job ([`JobSpec`]), before a byte is
//! written, and sizes before anything is decoded.

use super::caps::{self, OverCap};
use super::tenants::{MAX_NAME, Tenant, valid_name};
use crate::job::{JobSpec, OperatorSpec, Problem, SinkSpec, SourceSpec};
use base64::Engine as _;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What `POST /v1/jobs` carries.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// The request body is not a submission.
    #[error("not a job submission: {0}")]
    Body(String),
    /// The job file is not TOML of the job schema.
    #[error("job file: {0}")]
    Parse(String),
    /// The job file is well-formed but not valid.
    #[error("job file: {} problem(s):\n{}", .0.len(), .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
    /// The job breaks a rule of served jobs.
    #[error("{at}: {message}")]
    Served {
        /// The setting.
        at: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// An upload is missing or malformed.
    #[error("{at} `{name}`: {message}")]
    Upload {
        /// The setting naming it.
        at: String,
        /// The name the job gives it.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A setting over the tenant's ceiling.
    #[error(transparent)]
    Quota(#[from] OverCap),
    /// Something the tenant may not use at all (a grant, a topic, a broker).
    #[error("quota: {at}: {message}")]
    Forbidden {
        /// The setting.
        at: String,
        /// What is not allowed.
        message: String,
    },
    /// A Kafka setting outside the tenant's fence.
    #[error("quota: {0}")]
    Kafka(#[from] super::kafka_fence::FenceError),
    /// Writing the job's files failed.
    #[error("storing the job: {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

fn served(at: impl Into<String>, message: impl Into<String>) -> AdmissionError {
    AdmissionError::Served {
        at: at.into(),
        message: message.into(),
    }
}

fn forbidden(at: impl Into<String>, message: impl Into<String>) -> AdmissionError {
    AdmissionError::Forbidden {
        at: at.into(),
        message: message.into(),
    }
}

/// Decode a `POST /v1/jobs` body, bounded first by the tenant's upload
/// quota (the body as sent).
pub fn decode(tenant: &Tenant, body: &[u8]) -> Result<Submission, AdmissionError> {
    if body.len() as u64 > tenant.quotas.max_upload_bytes {
        return Err(OverCap {
            tenant: tenant.name.clone(),
            setting: "the submission".into(),
            asked: format!("{} bytes", body.len()),
            quota: "max_upload",
            limit: format!("{} bytes", tenant.quotas.max_upload_bytes),
        }
        .into());
    }
    serde_json::from_slice(body).map_err(|e| AdmissionError::Body(e.to_string()))
}

/// The job's name (its id in the API) from the submitted text.
pub fn job_id(sub: &Submission) -> Result<String, AdmissionError> {
    let spec = parse(sub)?;
    check_id(&spec.name)?;
    Ok(spec.name)
}

fn check_id(name: &str) -> Result<(), AdmissionError> {
    if !valid_name(name) {
        return Err(served(
            "name",
            format!(
                "`{}`: a served job's name is its id in the API, so it must be 1-{MAX_NAME} letters, digits, `-` or `_`",
                name.escape_debug()
            ),
        ));
    }
    Ok(())
}

fn parse(sub: &Submission) -> Result<JobSpec, AdmissionError> {
    toml::from_str(&sub.job).map_err(|e| AdmissionError::Parse(e.to_string()))
}

/// Decoded size of `b64` text, from its length (before decoding anything).
fn decoded_len(b64: &str) -> u64 {
    (b64.len() as u64).div_ceil(4) * 3
}

/// Check `sub` against everything the host and the tenant's quotas ask of
/// a served job, without writing anything; returns the job as the host
/// will run it (before its paths point into its directory).
pub fn check(tenant: &Tenant, sub: &Submission) -> Result<JobSpec, AdmissionError> {
    let q = &tenant.quotas;
    let over = |setting: String, asked: u64, quota: &'static str, limit: u64| OverCap {
        tenant: tenant.name.clone(),
        setting,
        asked: format!("{asked} bytes"),
        quota,
        limit: format!("{limit} bytes"),
    };
    if sub.job.len() as u64 > q.max_job_file_bytes {
        return Err(over(
            "the job file".into(),
            sub.job.len() as u64,
            "max_job_file",
            q.max_job_file_bytes,
        )
        .into());
    }
    for (name, b64) in &sub.components {
        let size = decoded_len(b64);
        if size > q.max_component_bytes {
            return Err(over(
                format!("component `{}`", name.escape_debug()),
                size,
                "max_component_size",
                q.max_component_bytes,
            )
            .into());
        }
    }
    let mut spec = parse(sub)?;
    check_id(&spec.name)?;
    // A served job always checkpoints: that is what it resumes from when
    // the host restarts, and where swaps and savepoints happen.
    spec.checkpoint
        .get_or_insert_with(|| crate::job::CheckpointSpec {
            interval: format!("{}ms", 10_000.min(q.max_checkpoint_interval_ms)),
            dir: None,
            retain: 3,
        });
    let problems = crate::job::validate(&spec);
    if !problems.is_empty() {
        return Err(AdmissionError::Invalid(problems));
    }
    // Settings the job leaves out take the tenant's ceiling (not `weir
    // run`'s defaults); then every setting is held to its ceiling.
    let asked_limits = toml::from_str::<toml::Table>(&sub.job)
        .ok()
        .and_then(|mut t| t.remove("limits"))
        .and_then(|l| l.as_table().cloned())
        .unwrap_or_default();
    caps::fill(&mut spec, q, &asked_limits);
    caps::check(&spec, &tenant.name, q)?;
    check_served_rules(tenant, &spec)?;
    super::kafka_fence::check(tenant, &spec)?;
    Ok(spec)
}

fn check_served_rules(tenant: &Tenant, spec: &JobSpec) -> Result<(), AdmissionError> {
    if matches!(spec.source, SourceSpec::Stdin { .. }) {
        return Err(served(
            "source",
            "a served job cannot read standard input (it is the host's); upload a file source or use Kafka",
        ));
    }
    for (which, sink) in spec.outputs() {
        if let SinkSpec::Postgres(p) = sink {
            let at = crate::connector::postgres::address(&p.url);
            if !tenant.quotas.postgres_databases.contains(&at) {
                return Err(forbidden(
                    which,
                    format!(
                        "tenant `{}` may not write to PostgreSQL database `{at}` (allowed: {}); the host's admin grants databases in the tenant's `postgres_databases`",
                        tenant.name,
                        if tenant.quotas.postgres_databases.is_empty() {
                            "none".to_string()
                        } else {
                            tenant.quotas.postgres_databases.join(", ")
                        }
                    ),
                ));
            }
        }
        if matches!(sink, SinkSpec::Stdout {}) {
            return Err(served(
                which,
                "a served job cannot write standard output (it is the host's); use a file sink (read it with `weir output`) or Kafka",
            ));
        }
    }
    for key in ["block_cache", "write_buffer"] {
        // RocksDB's memory is one budget for every job of the host.
        let default = crate::job::StateSpec::default();
        let (given, def) = match key {
            "block_cache" => (&spec.state.block_cache, &default.block_cache),
            _ => (&spec.state.write_buffer, &default.write_buffer),
        };
        if given != def {
            return Err(served(
                format!("state.{key}"),
                "RocksDB memory is shared by every job of the host and set by it; leave it out",
            ));
        }
    }
    for (at, op) in spec.wasm_operators() {
        for g in &op.grants {
            if !tenant.quotas.grants.contains(g) {
                return Err(forbidden(
                    format!("{at}.grants"),
                    format!(
                        "tenant `{}` may not grant `{g}` (allowed: {})",
                        tenant.name,
                        if tenant.quotas.grants.is_empty() {
                            "none".into()
                        } else {
                            tenant.quotas.grants.join(", ")
                        }
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Check the submission, store it in `dir` and write the job file the host
/// runs (`dir/job.toml`); returns its path.
pub fn admit(tenant: &Tenant, sub: &Submission, dir: &Path) -> Result<PathBuf, AdmissionError> {
    let spec = check(tenant, sub)?;
    store(tenant, sub, spec, dir)
}

/// Store a submission [`check`] passed as `spec` in `dir` and write the job
/// file the host runs (`dir/job.toml`); returns its path.
pub fn store(
    tenant: &Tenant,
    sub: &Submission,
    mut spec: JobSpec,
    dir: &Path,
) -> Result<PathBuf, AdmissionError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| AdmissionError::Io { path, source }
    };
    for sub_dir in ["components", "input", "output"] {
        let p = dir.join(sub_dir);
        std::fs::create_dir_all(&p).map_err(io(&p))?;
    }

    // Components: stored by digest; the job names the stored copy.
    let mut stored: BTreeMap<PathBuf, PathBuf> = BTreeMap::new();
    let mut store = |at: &str, op: &mut OperatorSpec| -> Result<(), AdmissionError> {
        if let Some(rel) = stored.get(&op.component) {
            op.component = rel.clone();
            return Ok(());
        }
        let written = op.component.to_string_lossy().to_string();
        let bytes = uploaded(
            &format!("{at}.component"),
            &written,
            &sub.components,
            "the components a job names, building projects first",
        )?;
        let digest = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(&bytes))
        };
        let rel = PathBuf::from(format!("components/{digest}.wasm"));
        let p = dir.join(&rel);
        std::fs::write(&p, &bytes).map_err(io(&p))?;
        stored.insert(op.component.clone(), rel.clone());
        op.component = rel;
        Ok(())
    };
    let places: Vec<String> = spec
        .wasm_operators()
        .into_iter()
        .map(|(at, _)| at)
        .collect();
    for (at, op) in places.iter().zip(spec.wasm_operators_mut()) {
        store(at, op)?;
    }

    // Every source: a file source reads the uploaded copy
    // (`input/source.jsonl`, `input/source-<i>.jsonl` for `sources[i]`);
    // Kafka clients get the tenant's credentials from the host.
    for (i, (at, source)) in spec.all_sources_mut().into_iter().enumerate() {
        match source {
            SourceSpec::File { path, .. } => {
                let bytes = uploaded(
                    &format!("{at}.path"),
                    &path.to_string_lossy(),
                    &sub.files,
                    "a file source's input",
                )?;
                let file = match i {
                    0 => "input/source.jsonl".to_string(),
                    i => format!("input/source-{}.jsonl", i - 1),
                };
                let p = dir.join(&file);
                std::fs::write(&p, bytes).map_err(io(&p))?;
                *path = PathBuf::from(file);
            }
            SourceSpec::Kafka(k) => k.properties.extend(tenant.kafka_properties.clone()),
            _ => {}
        }
    }
    // A file output is `output/<name>.jsonl` in the job's directory, where
    // `GET /v1/jobs/{id}/output?name=` finds it (names are checked: letters,
    // digits, `-`, `_`).
    let named = spec
        .sinks
        .iter_mut()
        .map(|s| (s.name.clone(), Some(&mut s.sink)));
    let outputs: Vec<(String, Option<&mut SinkSpec>)> = [
        ("sink".to_string(), Some(&mut spec.sink)),
        ("late_output".into(), spec.late_output.as_mut()),
        ("dead_letter".into(), spec.dead_letter.as_mut()),
    ]
    .into_iter()
    .chain(named)
    .collect();
    for (which, sink) in outputs {
        match sink {
            Some(SinkSpec::File { path }) => *path = PathBuf::from(format!("output/{which}.jsonl")),
            Some(SinkSpec::Kafka(k)) => k.properties.extend(tenant.kafka_properties.clone()),
            _ => {}
        }
    }

    // Checkpoints (always there, see `check`) and state: inside the job's
    // directory.
    if let Some(cp) = spec.checkpoint.as_mut() {
        cp.dir = Some(PathBuf::from("checkpoints"));
    }
    spec.state.path = Some(PathBuf::from("state"));

    let id = spec.name.clone();
    spec.name = format!("{}.{id}", tenant.name);
    let text = toml::to_string(&spec).map_err(|e| AdmissionError::Parse(e.to_string()))?;
    let p = dir.join("job.toml");
    std::fs::write(&p, text).map_err(io(&p))?;
    let submitted = dir.join("submitted.toml");
    std::fs::write(&submitted, &sub.job).map_err(io(&submitted))?;
    Ok(p)
}

/// The uploaded bytes of the file a job names `name` (at setting `at`):
/// found in `uploads` by that name, base64-decoded.
fn uploaded(
    at: &str,
    name: &str,
    uploads: &BTreeMap<String, String>,
    what: &str,
) -> Result<Vec<u8>, AdmissionError> {
    let upload_err = |message: String| AdmissionError::Upload {
        at: at.to_string(),
        name: name.escape_debug().to_string(),
        message,
    };
    let b64 = uploads
        .get(name)
        .ok_or_else(|| upload_err(format!("was not uploaded (`weir submit` uploads {what})")))?;
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| upload_err(format!("not base64: {e}")))
}

#[cfg(test)]
mod tests;
