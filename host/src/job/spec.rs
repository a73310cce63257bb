//! The job file schema. Field docs here are the reference; the README shows
//! complete examples.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Periodic, aligned checkpoints of a job.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointSpec {
    /// How often the source injects a barrier, e.g. `1s`. Default `10s`.
    #[serde(default = "default_interval")]
    pub interval: String,
    /// Directory of this job's checkpoints; default
    /// `~/.cache/weir/checkpoints/<job name>`. Relative to the job file.
    pub dir: Option<PathBuf>,
    /// Complete checkpoints to keep. Default 3. Savepoints are kept apart
    /// and never retired.
    #[serde(default = "default_retain")]
    pub retain: usize,
}

fn default_interval() -> String {
    "10s".into()
}
fn default_retain() -> usize {
    3
}

/// The keyed-state backend of a job.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StateSpec {
    /// `memory` (default) or `rocksdb`.
    #[serde(default = "memory")]
    pub backend: String,
    /// RocksDB working directory; default `~/.cache/weir/state/<job name>`.
    /// Scratch space: cleared at start, and filled from the checkpoint the
    /// job resumes from, if any.
    pub path: Option<PathBuf>,
    /// RocksDB block cache shared by every job of the process, write
    /// buffers included.
    #[serde(default = "default_cache")]
    pub block_cache: String,
    /// How much of the block cache memtables may use.
    #[serde(default = "default_write_buffer")]
    pub write_buffer: String,
}

impl Default for StateSpec {
    fn default() -> Self {
        Self {
            backend: memory(),
            path: None,
            block_cache: default_cache(),
            write_buffer: default_write_buffer(),
        }
    }
}

fn memory() -> String {
    "memory".into()
}
fn default_cache() -> String {
    "256MiB".into()
}
fn default_write_buffer() -> String {
    "64MiB".into()
}

pub(super) fn one() -> usize {
    1
}
pub(crate) fn default_batch() -> usize {
    1024
}

/// A source.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum SourceSpec {
    /// JSON lines from a file (bounded).
    File {
        /// Path, relative to the job file.
        path: PathBuf,
        /// Replay at most this many records per second (whole batches at a
        /// time); 0 = as fast as possible.
        #[serde(default)]
        rate: u64,
        /// The records' schema, field → type (`int`, `double`, `string`,
        /// `bool`, `timestamp`, …; dotted paths for nested fields), for
        /// operators over columns; default: inferred from the first records.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        schema: Option<BTreeMap<String, String>>,
    },
    /// JSON lines from standard input (bounded by end of input).
    Stdin {
        /// The records' schema, field → type (`int`, `double`, `string`,
        /// `bool`, `timestamp`, …; dotted paths for nested fields), for
        /// operators over columns; default: inferred from the first records.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        schema: Option<BTreeMap<String, String>>,
    },
    /// Deterministic generated records.
    Datagen(DatagenSpec),
    /// Records from Kafka topics (unbounded unless `bounded`).
    Kafka(KafkaSourceSpec),
}

/// Where a Kafka source starts when there is no checkpoint to resume from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum KafkaStart {
    /// The oldest record still in each partition.
    #[default]
    Earliest,
    /// Only records produced after the job starts.
    Latest,
    /// The consumer group's committed offsets (weir commits them after each
    /// checkpoint); partitions without one start at the earliest record.
    Committed,
    /// The first record at or after `start_timestamp` (ms since the epoch).
    Timestamp,
}

/// How a Kafka record's value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum KafkaFormat {
    /// A JSON object, like a line of a file source (fields for event time
    /// and key-by); anything else is a dead letter.
    #[default]
    Json,
    /// Opaque bytes handed to operators as they are; event time is the
    /// Kafka timestamp, and there are no fields to key by.
    Raw,
}

/// A Kafka source.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSourceSpec {
    /// Bootstrap servers, `host:port[,host:port…]`.
    pub brokers: String,
    /// Topics to read; every partition of each is read by this job.
    pub topics: Vec<String>,
    /// Consumer group: offsets are committed to it after each checkpoint
    /// (for monitoring and `start = "committed"`); weir itself resumes from
    /// the offsets in its checkpoints. Default `weir.<job name>`.
    pub group: Option<String>,
    /// Where to start without a checkpoint. Default `earliest`.
    #[serde(default)]
    pub start: KafkaStart,
    /// With `start = "timestamp"`: ms since the epoch.
    pub start_timestamp: Option<i64>,
    /// `json` (default) or `raw`.
    #[serde(default)]
    pub format: KafkaFormat,
    /// Stop once every partition has been read up to where it ended when
    /// the job started (backfills, tests); the end of input then fires every
    /// window like a file source's. Default false: run until stopped.
    #[serde(default)]
    pub bounded: bool,
    /// Extra librdkafka consumer settings, e.g. `{ "fetch.min.bytes" = "1" }`.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// The records' schema for operators over columns (see the file
    /// source's); default: inferred from the first records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<BTreeMap<String, String>>,
}

impl SourceSpec {
    /// The schema the source declares, if it does.
    pub fn schema(&self) -> Option<&BTreeMap<String, String>> {
        match self {
            SourceSpec::File { schema, .. } | SourceSpec::Stdin { schema } => schema.as_ref(),
            SourceSpec::Kafka(k) => k.schema.as_ref(),
            SourceSpec::Datagen(d) => d.columns.as_ref(),
        }
    }
}

/// What a Kafka sink promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Delivery {
    /// One Kafka transaction per checkpoint epoch, committed only after the
    /// checkpoint is durable: `read_committed` readers see every record once.
    ExactlyOnce,
    /// Every record is acknowledged by the broker before the checkpoint that
    /// covers it completes; after a crash some are written again.
    #[default]
    AtLeastOnce,
    /// Fire and forget: failures are counted and logged, never retried past
    /// librdkafka's own retries.
    None,
}
/// The generator's settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatagenSpec {
    /// `clickstream`, `transactions`, `bids`, or one of Nexmark's tables:
    /// `nexmark-person`, `nexmark-auction`, `nexmark-bid`
    /// ([`crate::connector::nexmark`]; `keys`, `step_ms` and `disorder_ms`
    /// do not apply to them).
    pub schema: String,
    /// How many records; the source is bounded.
    pub rows: u64,
    /// Records per second; 0 = as fast as possible. Released a whole batch
    /// at a time, so results do not depend on timing.
    #[serde(default)]
    pub rate: u64,
    /// Seed: the same seed gives the same records.
    #[serde(default)]
    pub seed: u64,
    /// Number of distinct keys (users, bidders). Default 1000.
    #[serde(default = "default_keys")]
    pub keys: u64,
    /// Event time of the first record (ms). Default 1,700,000,000,000.
    #[serde(default = "default_start")]
    pub start_ms: i64,
    /// Event-time step between records (ms). Default 10.
    #[serde(default = "default_step")]
    pub step_ms: i64,
    /// Maximum random lateness of a record's event time (ms). Default 0.
    #[serde(default)]
    pub disorder_ms: i64,
    /// The records' schema for operators over columns (see the file
    /// source's); default: inferred from the first records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<BTreeMap<String, String>>,
}

impl DatagenSpec {
    /// `rows` rows of `schema`, every other setting its default.
    pub fn new(schema: impl Into<String>, rows: u64) -> Self {
        Self {
            schema: schema.into(),
            rows,
            rate: 0,
            seed: 0,
            keys: default_keys(),
            start_ms: default_start(),
            step_ms: default_step(),
            disorder_ms: 0,
            columns: None,
        }
    }
}

fn default_keys() -> u64 {
    1000
}
fn default_start() -> i64 {
    1_700_000_000_000
}
fn default_step() -> i64 {
    10
}

/// Event time from a JSON field.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EventTimeSpec {
    /// Dotted path of the field holding ms since the epoch. A Kafka source
    /// may leave it out to use each record's Kafka timestamp; other sources
    /// need it.
    pub field: Option<String>,
    /// How late a record may be before windows close without it.
    #[serde(default = "zero")]
    pub max_out_of_orderness: String,
    /// After this long without records, an input stops holding the watermark back.
    pub idle_timeout: Option<String>,
}

fn zero() -> String {
    "0ms".into()
}

/// A Wasm operator.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorSpec {
    /// Name, unique in the job.
    pub name: String,
    /// A `.wasm` component, or an operator project (Rust crate or Python
    /// module directory) that `weir` builds. Relative to the job file.
    pub component: PathBuf,
    /// Passed to the operator's `init` as JSON.
    #[serde(default)]
    pub config: toml::Table,
    /// WASI capabilities granted: `clocks`, `random`, `stdio`. Default none.
    #[serde(default)]
    pub grants: Vec<String>,
}

/// Key-by.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeyBySpec {
    /// Dotted path of the key field.
    pub field: String,
}

/// A window and what to compute over it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// `tumbling`, `sliding`, `cumulate`, `session` or `global` (one window
    /// per key over all time, which never fires: its results are updated
    /// after every batch that changes them, each row with its change in
    /// `_op` — see [`crate::window::global`]).
    #[serde(rename = "type")]
    pub kind: String,
    /// Window length (tumbling, sliding; the period of cumulate).
    pub size: Option<String>,
    /// Hop (sliding).
    pub slide: Option<String>,
    /// Step (cumulate): each window of a period ends `step` after the one
    /// before, all starting at the period's start.
    pub step: Option<String>,
    /// Inactivity gap (session).
    pub gap: Option<String>,
    /// Time to live of a key's state (global): a key not updated for this
    /// long is forgotten, and its next record starts it again. Default:
    /// keys are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    /// `event` (default) or `processing`.
    #[serde(default = "event_time")]
    pub time: String,
    /// How long after a window fires late records still update it.
    #[serde(default = "zero")]
    pub allowed_lateness: String,
    /// Built-in aggregates computed natively.
    #[serde(default)]
    pub aggregates: Vec<AggregateSpec>,
    /// A Wasm aggregate function: instead of `aggregates`, or (over
    /// columns, weir:dataflow@0.2) beside them — the built-ins' results
    /// come first, then its own, whose names must differ from theirs.
    pub aggregate: Option<OperatorSpec>,
    /// A Wasm aggregate over columns: a row with a NULL in a column the
    /// aggregate declared not nullable is still assigned to its windows
    /// (it makes them, and keeps a session open) but is not added, as
    /// SQL's aggregates skip NULLs — what SQL's aggregate functions run
    /// with. Default: such a record goes to the dead-letter output.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_nulls: bool,
    /// A global window over a changelog: the numeric field of each
    /// record's sign — 1 adds the record, -1 takes back one added before
    /// (an update's `-U`, a delete's `-D`): counts and sums subtract it,
    /// and a `min` or `max` keeps every value with its count so that it
    /// can. A record whose sign is neither 1 nor -1 goes to the
    /// dead-letter output, saying so. Built-in aggregates only. Default:
    /// every record adds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign: Option<String>,
}

fn event_time() -> String {
    "event".into()
}

/// A built-in aggregate.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateSpec {
    /// `count`, `sum`, `min`, `max` or `avg`.
    #[serde(rename = "fn")]
    pub function: String,
    /// The numeric field (all but `count`).
    pub field: Option<String>,
    /// Output field name; default the function name (`sum_amount` for sums etc.).
    #[serde(rename = "as")]
    pub output: Option<String>,
}

impl AggregateSpec {
    /// The output field: `as`, else `count`, or `<fn>_<field>`
    /// (`sum_amount`, dots of a nested field as `_`).
    ///
    /// ```
    /// let a: weir::job::AggregateSpec = toml::from_str("fn = \"sum\"\nfield = \"a.b\"").unwrap();
    /// assert_eq!(a.output_name(), "sum_a_b");
    /// ```
    pub fn output_name(&self) -> String {
        match (&self.output, &self.field) {
            (Some(name), _) => name.clone(),
            (None, Some(field)) if self.function != "count" => {
                format!("{}_{}", self.function, field.replace('.', "_"))
            }
            _ => self.function.clone(),
        }
    }
}

/// A sink.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum SinkSpec {
    /// JSON lines to a file (replaced at start).
    File {
        /// Path, relative to the job file.
        path: PathBuf,
    },
    /// JSON lines to standard output.
    Stdout {},
    /// Count and drop (benchmarks).
    Discard {},
    /// Records to a Kafka topic.
    Kafka(KafkaSinkSpec),
    /// Rows into a PostgreSQL table (see `connector::postgres`).
    Postgres(PostgresSinkSpec),
}

/// A PostgreSQL sink: each record, a JSON object, is a row of `table`
/// (its fields named as the columns); upserted by `primary_key`, inserted
/// when there is none. Exactly-once with checkpoints.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresSinkSpec {
    /// The server, `postgresql://user:password@host:port/database` (a
    /// `jdbc:` prefix is allowed).
    pub url: String,
    /// The user, if not in `url`.
    pub user: Option<String>,
    /// The password, if not in `url`.
    pub password: Option<String>,
    /// The table, `name` or `schema.name`; it must exist.
    pub table: String,
    /// The columns written, each from the record's field of that name.
    pub columns: Vec<String>,
    /// The table's primary key: rows with the same key replace each other.
    #[serde(default)]
    pub primary_key: Vec<String>,
    /// Most rows per statement. Default 1000.
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
    /// Rows carry their change in a field `_op` (`+I`, `+U`: upsert by
    /// the primary key; `-U`, `-D`: delete by it), the batch's last change
    /// per key winning. Needs a primary key.
    #[serde(default)]
    pub changelog: bool,
}

fn default_batch_rows() -> usize {
    1000
}

/// A Kafka sink.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSinkSpec {
    /// Bootstrap servers, `host:port[,host:port…]`.
    pub brokers: String,
    /// The topic records go to (unless `topic_field` names another).
    pub topic: String,
    /// Dotted path of a JSON field of the output record naming its topic;
    /// records without it go to `topic`.
    pub topic_field: Option<String>,
    /// Dotted path of a JSON field of the output record used as the Kafka
    /// key (so the partition follows it). Without it the record's key from
    /// `key_by` or the source is used, if any.
    pub key_field: Option<String>,
    /// `exactly-once`, `at-least-once` (default) or `none`.
    #[serde(default)]
    pub delivery: Delivery,
    /// Transactional id for `exactly-once` (one per job: a second process
    /// with the same id fences the first). Default `weir.<job name>`.
    pub transactional_id: Option<String>,
    /// Extra librdkafka producer settings, e.g. `{ "linger.ms" = "5" }`.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

/// Limits on what a job's operators may make the host spend.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    /// Linear memory per Wasm instance, e.g. "64MiB".
    #[serde(default = "default_memory")]
    pub memory: String,
    /// CPU time a single guest call may take (on its thread: the guest's
    /// code and the host work it asks for, such as state reads; not time
    /// spent waiting for a core).
    #[serde(default = "default_timeout")]
    pub call_timeout: String,
    /// Most records one call may emit per record it was given (per fired
    /// timer for `on-timer`). An operator that emits more is stopped as an
    /// output flood rather than left to fill the sink. Default 1000.
    #[serde(default = "default_fanout")]
    pub max_output_per_record: usize,
    /// Most bytes one call may hand the host (its output records, or
    /// accumulators, counted as the host copies them). Default 64MiB.
    #[serde(default = "default_output_bytes")]
    pub max_output_bytes: String,
    /// Host memory the job may hold: memory-backend state, timers, window
    /// contents and batches in flight, enforced as it grows. Default: no
    /// limit (`weir serve` sets its tenant's quota).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_memory: Option<String>,
    /// Disk the job may fill: RocksDB state, checkpoints, file outputs,
    /// logs. Default: no limit (`weir serve` sets its tenant's quota).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<String>,
    /// Guest log bytes per second (bursts of 16 seconds' worth); a guest
    /// that logs more fails the job. Default: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_rate: Option<String>,
}

impl Default for LimitsSpec {
    fn default() -> Self {
        Self {
            memory: default_memory(),
            call_timeout: default_timeout(),
            max_output_per_record: default_fanout(),
            max_output_bytes: default_output_bytes(),
            host_memory: None,
            disk: None,
            log_rate: None,
        }
    }
}

fn default_output_bytes() -> String {
    "64MiB".into()
}
fn default_memory() -> String {
    "64MiB".into()
}
fn default_fanout() -> usize {
    1000
}
fn default_timeout() -> String {
    "10s".into()
}

/// A size that could not be read, with what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    /// No number in front.
    #[error("`{0}` is not a size; write e.g. \"64MiB\"")]
    NotASize(String),
    /// A unit weir does not know.
    #[error("unknown unit `{unit}` in size `{text}`; use KiB, MiB or GiB")]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole text.
        text: String,
    },
    /// More bytes than fit.
    #[error("size `{0}` is too large")]
    TooLarge(String),
}

/// Parse "64MiB", "1GiB", "512KiB" or a byte count.
///
/// ```
/// assert_eq!(weir::job::parse_bytes("2MiB"), Ok(2 << 20));
/// ```
pub fn parse_bytes(text: &str) -> Result<usize, SizeError> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num.parse().map_err(|_| SizeError::NotASize(text.into()))?;
    let scale = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "KB" | "K" => 1 << 10,
        "MiB" | "MB" | "M" => 1 << 20,
        "GiB" | "GB" | "G" => 1 << 30,
        other => {
            return Err(SizeError::UnknownUnit {
                unit: other.into(),
                text: text.into(),
            });
        }
    };
    n.checked_mul(scale)
        .ok_or_else(|| SizeError::TooLarge(text.into()))
}

/// The operator's config as the JSON text handed to `init`.
pub fn config_json(config: &toml::Table) -> String {
    serde_json::to_string(config).unwrap_or_else(|_| "{}".into())
}
