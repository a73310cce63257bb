//! The host's configuration: where it listens, where it keeps jobs, and its
//! tenants with their API tokens and quotas.
//!
//! ```toml
//! listen = "127.0.0.1:7878"
//! data_dir = "/var/lib/weir"
//!
//! [[tenant]]
//! name = "acme"
//! # sha256 of the token, from `weir serve --hash-token`
//! token_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//! [tenant.quotas]
//! max_jobs = 10
//! memory = "64MiB"            # linear memory per Wasm instance
//! call_timeout = "2s"         # CPU time per guest call (epoch deadline)
//! state_size = "1GiB"         # checkpointed state per job
//! max_parallelism = 8         # subtasks per stage of one job
//! grants = ["clocks"]         # WASI capabilities its operators may ask for
//! kafka_topic_prefixes = ["acme."]
//! kafka_brokers = ["kafka-1:9092"]   # the clusters it may reach (default any)
//! ```
//!
//! Tokens are stored as SHA-256 digests: they are long random strings (see
//! `--new-token`), for which a fast hash is as safe as a slow one and keeps
//! every request cheap to authenticate; a leaked config file then does not
//! leak the tokens.

use anyhow::{Context, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use weir::job::parse_bytes;
use weir::time::parse_duration_ms;

/// `weir serve --config FILE`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// `host:port` the API listens on. Default `127.0.0.1:7878`.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Jobs, components, checkpoints and logs of every tenant. Default
    /// `~/.cache/weir/serve`. Relative to the config file.
    pub data_dir: Option<PathBuf>,
    /// The tenants.
    #[serde(default, rename = "tenant")]
    pub tenants: Vec<TenantConfig>,
}

fn default_listen() -> String {
    "127.0.0.1:7878".into()
}

/// A tenant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// Letters, digits, `-` and `_`.
    pub name: String,
    /// Hex SHA-256 of its API token.
    pub token_sha256: String,
    /// What it may use.
    #[serde(default)]
    pub quotas: QuotaSpec,
}

/// Quotas as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaSpec {
    /// Jobs running at once. Default 10.
    #[serde(default = "default_jobs")]
    pub max_jobs: usize,
    /// Linear memory per Wasm instance. Default 64MiB.
    #[serde(default = "default_memory")]
    pub memory: String,
    /// Longest a guest call may run. Default 10s.
    #[serde(default = "default_timeout")]
    pub call_timeout: String,
    /// Checkpointed state per job. Default 1GiB.
    #[serde(default = "default_state")]
    pub state_size: String,
    /// Subtasks per stage of one job. Default 8.
    #[serde(default = "default_parallelism")]
    pub max_parallelism: usize,
    /// WASI capabilities its operators may be granted. Default none.
    #[serde(default)]
    pub grants: Vec<String>,
    /// Kafka topics it may read and write, by prefix. Default none (no
    /// Kafka); `[""]` allows every topic.
    #[serde(default)]
    pub kafka_topic_prefixes: Vec<String>,
    /// Kafka bootstrap servers (`host:port`) its jobs may connect to.
    /// Default: any (the host's network is the tenant's).
    #[serde(default)]
    pub kafka_brokers: Vec<String>,
}

impl Default for QuotaSpec {
    fn default() -> Self {
        Self {
            max_jobs: default_jobs(),
            memory: default_memory(),
            call_timeout: default_timeout(),
            state_size: default_state(),
            max_parallelism: default_parallelism(),
            grants: Vec::new(),
            kafka_topic_prefixes: Vec::new(),
            kafka_brokers: Vec::new(),
        }
    }
}

fn default_parallelism() -> usize {
    8
}
fn default_jobs() -> usize {
    10
}
fn default_memory() -> String {
    "64MiB".into()
}
fn default_timeout() -> String {
    "10s".into()
}
fn default_state() -> String {
    "1GiB".into()
}

/// A tenant, checked: quotas in numbers.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// Its name.
    pub name: String,
    /// Its token's digest, raw.
    pub token_sha256: [u8; 32],
    /// Its quotas.
    pub quotas: Quotas,
}

/// Quotas in numbers.
#[derive(Debug, Clone)]
pub struct Quotas {
    /// Jobs running at once.
    pub max_jobs: usize,
    /// Bytes of linear memory per instance.
    pub memory_bytes: usize,
    /// Longest guest call, ms.
    pub call_timeout_ms: i64,
    /// Checkpointed state per job, bytes.
    pub state_bytes: u64,
    /// Subtasks per stage of one job.
    pub max_parallelism: usize,
    /// WASI capabilities it may grant.
    pub grants: Vec<String>,
    /// Kafka topic prefixes.
    pub kafka_topic_prefixes: Vec<String>,
    /// Kafka bootstrap servers it may use; empty: any.
    pub kafka_brokers: Vec<String>,
}

impl Quotas {
    /// May the tenant use Kafka topic `topic`?
    pub fn topic_allowed(&self, topic: &str) -> bool {
        self.kafka_topic_prefixes
            .iter()
            .any(|p| topic.starts_with(p.as_str()))
    }
}

/// The configuration, checked.
#[derive(Debug)]
pub struct Checked {
    /// Listen address.
    pub listen: String,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Tenants.
    pub tenants: Vec<Tenant>,
}

/// Is `name` usable as a tenant or job name (and so as a directory name)?
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Read and check the host config at `path`.
pub fn load(path: &Path) -> anyhow::Result<Checked> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let config: HostConfig = toml::from_str(&text)
        .with_context(|| format!("{}: not a valid host config", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let data_dir = match config.data_dir {
        Some(d) if d.is_absolute() => d,
        Some(d) => base.join(d),
        None => weir::wasm::engine::cache_dir().join("serve"),
    };
    // Absolute: jobs' files are named from it, and read from elsewhere.
    let data_dir = std::path::absolute(&data_dir)
        .with_context(|| format!("data_dir {}", data_dir.display()))?;
    let mut problems = Vec::new();
    let mut tenants = Vec::new();
    for (i, t) in config.tenants.iter().enumerate() {
        let at = format!("tenant[{i}] (`{}`)", t.name);
        if !valid_name(&t.name) {
            problems.push(format!(
                "{at}: name must be 1-64 letters, digits, `-` or `_`"
            ));
        }
        if config.tenants[..i].iter().any(|o| o.name == t.name) {
            problems.push(format!("{at}: a second tenant of this name"));
        }
        let digest = hex::decode(t.token_sha256.trim())
            .ok()
            .and_then(|d| <[u8; 32]>::try_from(d).ok());
        if digest.is_none() {
            problems.push(format!(
                "{at}: token_sha256 must be 64 hex digits (the output of `weir serve --hash-token TOKEN`)"
            ));
        }
        let q = &t.quotas;
        let bytes = |field: &str, v: &str, problems: &mut Vec<String>| {
            parse_bytes(v)
                .map_err(|e| problems.push(format!("{at}: quotas.{field}: {e}")))
                .unwrap_or(0)
        };
        let memory_bytes = bytes("memory", &q.memory, &mut problems);
        let state_bytes = bytes("state_size", &q.state_size, &mut problems) as u64;
        let call_timeout_ms = parse_duration_ms(&q.call_timeout)
            .map_err(|e| problems.push(format!("{at}: quotas.call_timeout: {e}")))
            .unwrap_or(0);
        for g in &q.grants {
            if !["clocks", "random", "stdio"].contains(&g.as_str()) {
                problems.push(format!(
                    "{at}: quotas.grants: unknown capability `{g}` (clocks, random, stdio)"
                ));
            }
        }
        tenants.push(Tenant {
            name: t.name.clone(),
            token_sha256: digest.unwrap_or_default(),
            quotas: Quotas {
                max_jobs: q.max_jobs,
                memory_bytes,
                call_timeout_ms,
                state_bytes,
                max_parallelism: q.max_parallelism,
                grants: q.grants.clone(),
                kafka_topic_prefixes: q.kafka_topic_prefixes.clone(),
                kafka_brokers: q.kafka_brokers.clone(),
            },
        });
    }
    if tenants.is_empty() {
        problems.push("no [[tenant]]: nobody could use the API".into());
    }
    if !problems.is_empty() {
        bail!(
            "{}: {} problem(s):\n  - {}",
            path.display(),
            problems.len(),
            problems.join("\n  - ")
        );
    }
    Ok(Checked {
        listen: config.listen,
        data_dir,
        tenants,
    })
}

/// SHA-256 of a token, hex: what goes into `token_sha256`.
pub fn hash_token(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// A new random token (256 bits from the OS, hex).
pub fn new_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(hex::encode(bytes))
}
