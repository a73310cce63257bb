//! The host's configuration for `weir serve`: where it listens, where it
//! keeps jobs, and its tenants with their API tokens, quotas and Kafka
//! credentials.
//!
//! ```toml
//! listen = "127.0.0.1:7878"
//! data_dir = "/var/lib/weir"
//!
//! [[tenant]]
//! name = "acme"
//! # sha256 of the token, from `weir token`
//! token_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//! [tenant.quotas]
//! max_jobs = 10
//! host_memory = "256MiB"      # host memory per job: state, timers, window panes, batches in flight
//! disk = "4GiB"               # disk per job: RocksDB, checkpoints, outputs, logs
//! call_timeout = "2s"         # CPU time per guest call
//! kafka_topic_prefixes = ["acme."]
//! [tenant.kafka_properties]   # the tenant's Kafka credentials, given to its jobs' clients
//! "security.protocol" = "SASL_SSL"
//! ```
//!
//! Every quota has a default (see [`QuotaSpec`]), so a tenant written with
//! a name and a token alone is fenced in all the same.
//!
//! Tokens are stored as SHA-256 digests: they are long random strings (see
//! [`new_token`]), for which a fast hash is as safe as a slow one and keeps
//! every request cheap to authenticate; a leaked config file then does not
//! leak the tokens.

use crate::job::kafka_properties::weir_owned;
use crate::job::parse_bytes;
use crate::time::parse_duration_ms;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The worker pool's account of every tenant, by name.
static ACCOUNTS: std::sync::Mutex<BTreeMap<String, std::sync::Arc<crate::runtime::pool::Tenant>>> =
    std::sync::Mutex::new(BTreeMap::new());

/// Give each tenant its `cpu_share` of the worker pool (at start-up).
pub fn set_cpu_shares(tenants: &[Tenant]) {
    for t in tenants {
        pool_account(&t.name).set_share(t.quotas.cpu_share);
    }
}

/// The worker pool's account of tenant `name`: its jobs' tasks are
/// scheduled and charged under it (share 1 until [`set_cpu_shares`]).
pub fn pool_account(name: &str) -> std::sync::Arc<crate::runtime::pool::Tenant> {
    ACCOUNTS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(name.to_string())
        .or_insert_with(|| crate::runtime::pool::Pool::global().tenant(name, 1))
        .clone()
}

/// Why the host's config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the host config {path}: {source}")]
    Read {
        /// The config file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not TOML, or not the host config's shape.
    #[error("{path}: not a valid host config: {message}")]
    Parse {
        /// The config file.
        path: PathBuf,
        /// What is wrong, with line and column.
        message: String,
    },
    /// Well-formed, but wrong.
    #[error("{path}: {} problem(s):\n  - {}", problems.len(), problems.join("\n  - "))]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// Every problem found.
        problems: Vec<String>,
    },
    /// The OS would not give random bytes for a token.
    #[error("reading /dev/urandom for a new token: {0}")]
    Random(std::io::Error),
}

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
    /// Failed authentications one address may make within `auth_window`
    /// before all its requests are refused until the window has passed.
    /// Default 10.
    #[serde(default = "default_auth_failures")]
    pub auth_max_failures: u32,
    /// See `auth_max_failures`. Default 1m.
    #[serde(default = "default_auth_window")]
    pub auth_window: String,
    /// SHA-256 of the host admin's token (hex), who may see every
    /// tenant's usage and the host's (`GET /v1/admin/host`, the
    /// dashboard's host view) but no tenant's jobs. No admin by default.
    pub admin_token_sha256: Option<String>,
    /// The tenants.
    #[serde(default, rename = "tenant")]
    pub tenants: Vec<TenantConfig>,
}

fn default_listen() -> String {
    "127.0.0.1:7878".into()
}
fn default_auth_failures() -> u32 {
    10
}
fn default_auth_window() -> String {
    "1m".into()
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
    /// librdkafka settings the host gives every Kafka client of this
    /// tenant's jobs — its credentials and TLS (`security.protocol`,
    /// `sasl.*`, `ssl.*`): a tenant's job may not give them itself.
    #[serde(default)]
    pub kafka_properties: BTreeMap<String, String>,
}

macro_rules! quotas {
    ($( $(#[$doc:meta])* $field:ident : $ty:ty = $default:expr ),* $(,)?) => {
        /// Quotas as written in `[tenant.quotas]`; every one has a default.
        #[derive(Debug, Clone, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct QuotaSpec {
            $( $(#[$doc])* pub $field: $ty, )*
        }
        impl Default for QuotaSpec {
            fn default() -> Self {
                Self { $( $field: $default, )* }
            }
        }
    };
}

quotas! {
    /// Jobs running at once. Default 10.
    max_jobs: usize = 10,
    /// Its share of the host's worker threads, relative to other tenants'
    /// shares: when the host is busy, tenants get CPU in proportion to
    /// their shares, however many jobs each runs. Default 1.
    cpu_share: u64 = 1,
    /// Linear memory per Wasm instance. Default 64MiB.
    memory: String = "64MiB".into(),
    /// CPU time one guest call may take. Default 10s.
    call_timeout: String = "10s".into(),
    /// Checkpointed state per job, checked after every checkpoint. Default 1GiB.
    state_size: String = "1GiB".into(),
    /// Host memory per job — memory-backend state, timers, window panes and
    /// batches in flight — enforced as it grows. Default 256MiB.
    host_memory: String = "256MiB".into(),
    /// Disk per job — RocksDB, checkpoints, file outputs, logs — enforced
    /// as it grows. Default 4GiB.
    disk: String = "4GiB".into(),
    /// Guest log bytes per second per job (bursts of 16 seconds' worth);
    /// a guest that logs more fails its job. Default 64KiB.
    log_rate: String = "64KiB".into(),
    /// Subtasks per stage of one job. Default 8.
    max_parallelism: usize = 8,
    /// WASI capabilities its operators may be granted. Default none.
    grants: Vec<String> = Vec::new(),
    /// Kafka topics it may read and write, by prefix. Default none (no
    /// Kafka); `[""]` allows every topic.
    kafka_topic_prefixes: Vec<String> = Vec::new(),
    /// Kafka bootstrap servers (`host:port`) its jobs may connect to.
    /// Default: any (the host's network is the tenant's).
    kafka_brokers: Vec<String> = Vec::new(),
    /// PostgreSQL databases (`host:port/database`) its jobs may write to.
    /// Default none.
    postgres_databases: Vec<String> = Vec::new(),
    /// Most records one guest call may emit per record in. Default 1000.
    max_output_per_record: usize = 1000,
    /// Most bytes one guest call may hand the host. Default 64MiB.
    max_output_bytes: String = "64MiB".into(),
    /// Longest checkpoint interval (the state quota is checked at each
    /// checkpoint). Default 1m.
    max_checkpoint_interval: String = "1m".into(),
    /// Largest `batch_size`. Default 10000.
    max_batch_size: usize = 10_000,
    /// Highest source `rate` (records/s); a job asking for no limit gets
    /// this one. 0: no cap. Default 1000000.
    max_source_rate: u64 = 1_000_000,
    /// Longest window `size` or session `gap`. Default 7d.
    max_window: String = "7d".into(),
    /// Most windows one record belongs to (a sliding window's size / slide).
    /// Default 1000.
    max_window_slides: i64 = 1000,
    /// Longest `allowed_lateness`. Default 1d.
    max_allowed_lateness: String = "1d".into(),
    /// Most Wasm operators in one job. Default 16.
    max_operators: usize = 16,
    /// Most stages in one job. Default 8.
    max_stages: usize = 8,
    /// Largest component. Default 128MiB.
    max_component_size: String = "128MiB".into(),
    /// Largest upload (a whole submission or swap, as sent). Default 256MiB.
    max_upload: String = "256MiB".into(),
    /// Largest job file. Default 256KiB.
    max_job_file: String = "256KiB".into(),
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
    /// The librdkafka settings the host gives its jobs' clients.
    pub kafka_properties: BTreeMap<String, String>,
}

/// Quotas in numbers (see [`QuotaSpec`] for each).
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct Quotas {
    pub max_jobs: usize,
    pub cpu_share: u64,
    pub memory_bytes: usize,
    pub call_timeout_ms: i64,
    pub state_bytes: u64,
    pub host_memory_bytes: u64,
    pub disk_bytes: u64,
    pub log_rate_bytes: u64,
    pub max_parallelism: usize,
    pub grants: Vec<String>,
    pub kafka_topic_prefixes: Vec<String>,
    pub kafka_brokers: Vec<String>,
    pub postgres_databases: Vec<String>,
    pub max_output_per_record: usize,
    pub max_output_bytes: u64,
    pub max_checkpoint_interval_ms: i64,
    pub max_batch_size: usize,
    pub max_source_rate: u64,
    pub max_window_ms: i64,
    pub max_window_slides: i64,
    pub max_allowed_lateness_ms: i64,
    pub max_operators: usize,
    pub max_stages: usize,
    pub max_component_bytes: u64,
    pub max_upload_bytes: u64,
    pub max_job_file_bytes: u64,
}

impl Quotas {
    /// May the tenant use Kafka topic `topic`?
    pub fn topic_allowed(&self, topic: &str) -> bool {
        self.kafka_topic_prefixes
            .iter()
            .any(|p| topic.starts_with(p.as_str()))
    }

    /// The quotas of a tenant configured with none: the defaults.
    pub fn defaults() -> Quotas {
        let mut problems = Vec::new();
        let q = check_quotas("defaults", &QuotaSpec::default(), &mut problems);
        debug_assert!(problems.is_empty(), "{problems:?}");
        q
    }
}

/// The configuration, checked.
#[derive(Debug)]
pub struct Checked {
    /// Listen address.
    pub listen: String,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Failed authentications per address and window.
    pub auth_max_failures: u32,
    /// The window, ms.
    pub auth_window_ms: i64,
    /// The host admin's token digest, if there is an admin.
    pub admin_token_sha256: Option<[u8; 32]>,
    /// Tenants.
    pub tenants: Vec<Tenant>,
}

/// Longest name of a tenant or job (both are directory names).
pub const MAX_NAME: usize = 64;

/// Is `name` usable as a tenant or job name (and so as a directory name)?
/// 1-64 ASCII letters, digits, `-` or `_`: no `.`, `/`, NUL or anything
/// that could leave a directory.
///
/// ```
/// use weir::control::tenants::valid_name;
/// assert!(valid_name("orders-v2"));
/// assert!(!valid_name("..") && !valid_name("a/b") && !valid_name("") && !valid_name("a\0"));
/// ```
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn check_quotas(at: &str, q: &QuotaSpec, problems: &mut Vec<String>) -> Quotas {
    let mut bytes = |field: &str, v: &str| {
        parse_bytes(v)
            .map_err(|e| problems.push(format!("{at}: quotas.{field}: {e}")))
            .unwrap_or(0) as u64
    };
    let memory_bytes = bytes("memory", &q.memory) as usize;
    let state_bytes = bytes("state_size", &q.state_size);
    let host_memory_bytes = bytes("host_memory", &q.host_memory);
    let disk_bytes = bytes("disk", &q.disk);
    let log_rate_bytes = bytes("log_rate", &q.log_rate);
    let max_output_bytes = bytes("max_output_bytes", &q.max_output_bytes);
    let max_component_bytes = bytes("max_component_size", &q.max_component_size);
    let max_upload_bytes = bytes("max_upload", &q.max_upload);
    let max_job_file_bytes = bytes("max_job_file", &q.max_job_file);
    let mut ms = |field: &str, v: &str| {
        parse_duration_ms(v)
            .map_err(|e| problems.push(format!("{at}: quotas.{field}: {e}")))
            .unwrap_or(0)
    };
    let call_timeout_ms = ms("call_timeout", &q.call_timeout);
    let max_checkpoint_interval_ms = ms("max_checkpoint_interval", &q.max_checkpoint_interval);
    let max_window_ms = ms("max_window", &q.max_window);
    let max_allowed_lateness_ms = ms("max_allowed_lateness", &q.max_allowed_lateness);
    for g in &q.grants {
        if !["clocks", "random", "stdio"].contains(&g.as_str()) {
            problems.push(format!(
                "{at}: quotas.grants: unknown capability `{g}` (clocks, random, stdio)"
            ));
        }
    }
    for (field, zero) in [
        ("cpu_share", q.cpu_share == 0),
        ("max_output_per_record", q.max_output_per_record == 0),
        ("max_batch_size", q.max_batch_size == 0),
        ("max_parallelism", q.max_parallelism == 0),
        ("max_window_slides", q.max_window_slides <= 0),
        ("max_operators", q.max_operators == 0),
        ("max_stages", q.max_stages == 0),
        ("call_timeout", call_timeout_ms <= 0),
        ("max_checkpoint_interval", max_checkpoint_interval_ms <= 0),
    ] {
        if zero {
            problems.push(format!("{at}: quotas.{field} must be more than 0"));
        }
    }
    Quotas {
        max_jobs: q.max_jobs,
        cpu_share: q.cpu_share,
        memory_bytes,
        call_timeout_ms,
        state_bytes,
        host_memory_bytes,
        disk_bytes,
        log_rate_bytes,
        max_parallelism: q.max_parallelism,
        grants: q.grants.clone(),
        kafka_topic_prefixes: q.kafka_topic_prefixes.clone(),
        kafka_brokers: q.kafka_brokers.clone(),
        postgres_databases: q.postgres_databases.clone(),
        max_output_per_record: q.max_output_per_record,
        max_output_bytes,
        max_checkpoint_interval_ms,
        max_batch_size: q.max_batch_size,
        max_source_rate: q.max_source_rate,
        max_window_ms,
        max_window_slides: q.max_window_slides,
        max_allowed_lateness_ms,
        max_operators: q.max_operators,
        max_stages: q.max_stages,
        max_component_bytes,
        max_upload_bytes,
        max_job_file_bytes,
    }
}

/// Read and check the host config at `path`, reporting every problem.
pub fn load(path: &Path) -> Result<Checked, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.into(),
        source,
    })?;
    let config: HostConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.into(),
        message: e.to_string(),
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let data_dir = match config.data_dir {
        Some(d) if d.is_absolute() => d,
        Some(d) => base.join(d),
        None => crate::dirs::cache_dir().join("serve"),
    };
    let mut problems = Vec::new();
    // Absolute: jobs' files are named from it, and read from elsewhere.
    let data_dir = std::path::absolute(&data_dir).unwrap_or_else(|e| {
        problems.push(format!("data_dir {}: {e}", data_dir.display()));
        data_dir
    });
    let auth_window_ms = parse_duration_ms(&config.auth_window)
        .map_err(|e| problems.push(format!("auth_window: {e}")))
        .unwrap_or(60_000);
    if config.auth_max_failures == 0 {
        problems.push("auth_max_failures must be at least 1".into());
    }
    let mut tenants = Vec::new();
    for (i, t) in config.tenants.iter().enumerate() {
        let at = format!("tenant[{i}] (`{}`)", t.name);
        if !valid_name(&t.name) {
            problems.push(format!(
                "{at}: name must be 1-{MAX_NAME} letters, digits, `-` or `_`"
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
                "{at}: token_sha256 must be 64 hex digits (`weir token` makes a token and prints its sha256; `weir token --hash TOKEN` hashes one you have)"
            ));
        }
        for name in t.kafka_properties.keys() {
            if let Some(instead) = weir_owned(name) {
                problems.push(format!(
                    "{at}: kafka_properties.\"{name}\": weir sets it itself ({instead})"
                ));
            }
        }
        let quotas = check_quotas(&at, &t.quotas, &mut problems);
        tenants.push(Tenant {
            name: t.name.clone(),
            token_sha256: digest.unwrap_or_default(),
            quotas,
            kafka_properties: t.kafka_properties.clone(),
        });
    }
    if tenants.is_empty() {
        problems.push("no [[tenant]]: nobody could use the API".into());
    }
    let admin_token_sha256 = config.admin_token_sha256.as_ref().and_then(|h| {
        let digest = hex::decode(h.trim())
            .ok()
            .and_then(|d| <[u8; 32]>::try_from(d).ok());
        if digest.is_none() {
            problems.push(
                "admin_token_sha256 must be 64 hex digits (`weir token` makes a token and prints its sha256)".into(),
            );
        }
        if digest.is_some() && tenants.iter().any(|t| Some(t.token_sha256) == digest) {
            problems.push("admin_token_sha256: a tenant has this token too; give the admin a token of its own".into());
        }
        digest
    });
    if !problems.is_empty() {
        return Err(ConfigError::Invalid {
            path: path.into(),
            problems,
        });
    }
    Ok(Checked {
        listen: config.listen,
        data_dir,
        auth_max_failures: config.auth_max_failures,
        auth_window_ms,
        admin_token_sha256,
        tenants,
    })
}

/// SHA-256 of a token, hex: what goes into `token_sha256`.
pub fn hash_token(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// A new random token (256 bits from the OS, hex).
pub fn new_token() -> Result<String, ConfigError> {
    let mut bytes = [0u8; 32];
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(ConfigError::Random)?;
    Ok(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Checked, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host.toml");
        std::fs::write(&path, text).unwrap();
        load(&path)
    }

    #[test]
    fn an_admin_token_is_optional_must_be_a_digest_and_no_tenants() {
        let tenant = format!(
            "[[tenant]]\nname = \"a\"\ntoken_sha256 = \"{}\"\n",
            hash_token("t")
        );
        assert_eq!(load_text(&tenant).unwrap().admin_token_sha256, None);
        let admin = load_text(&format!(
            "admin_token_sha256 = \"{}\"\n{tenant}",
            hash_token("root")
        ))
        .unwrap();
        assert_eq!(
            admin.admin_token_sha256.map(hex::encode),
            Some(hash_token("root"))
        );
        let bad = load_text(&format!("admin_token_sha256 = \"xyz\"\n{tenant}"))
            .unwrap_err()
            .to_string();
        assert!(
            bad.contains("admin_token_sha256 must be 64 hex digits"),
            "{bad}"
        );
        let shared = load_text(&format!(
            "admin_token_sha256 = \"{}\"\n{tenant}",
            hash_token("t")
        ))
        .unwrap_err()
        .to_string();
        assert!(shared.contains("a tenant has this token too"), "{shared}");
    }

    #[test]
    fn a_tenant_with_a_name_and_token_alone_gets_every_default_quota() {
        let c = load_text(&format!(
            "[[tenant]]\nname = \"a\"\ntoken_sha256 = \"{}\"\n",
            hash_token("t")
        ))
        .unwrap();
        let q = &c.tenants[0].quotas;
        assert_eq!(q.host_memory_bytes, 256 << 20);
        assert_eq!(q.max_output_per_record, 1000);
        assert_eq!(q.max_checkpoint_interval_ms, 60_000);
        assert_eq!(q.max_job_file_bytes, 256 << 10);
    }

    #[test]
    fn every_problem_is_reported_and_the_token_hint_names_a_real_command() {
        let e = load_text(
            "[[tenant]]\nname = \"a/b\"\ntoken_sha256 = \"xyz\"\n[tenant.quotas]\nhost_memory = \"lots\"\nmax_stages = 0\n[tenant.kafka_properties]\n\"group.id\" = \"g\"\n",
        )
        .unwrap_err()
        .to_string();
        for part in [
            "name must be",
            "weir token --hash",
            "quotas.host_memory",
            "quotas.max_stages",
            "kafka_properties.\"group.id\"",
        ] {
            assert!(e.contains(part), "`{part}` not in: {e}");
        }
        assert!(!e.contains("--hash-token"), "{e}");
    }
}
