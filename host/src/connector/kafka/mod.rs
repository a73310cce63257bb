//! Kafka: a source and a sink over librdkafka (the `rdkafka` crate).
//!
//! - [`source`]: every partition of the job's topics, offsets in checkpoints;
//! - [`producer`]: the one producer all Kafka outputs of a job share, with
//!   exactly-once (a transaction per checkpoint epoch, two-phase commit),
//!   at-least-once or no delivery guarantee;
//! - [`KafkaOutputs`]: that producer, opened before recovery so that a
//!   restarted job first fences its previous incarnation and learns which
//!   epoch's transaction was the last to commit.
//!
//! Any cluster works: jobs name their bootstrap servers; extra librdkafka
//! settings go in `properties` (security, timeouts, batching), except those
//! weir sets itself ([`crate::job::kafka_properties`]), which it applies after
//! the job's.

pub mod producer;
pub mod source;

pub use producer::KafkaProducer;
pub use source::KafkaSource;

use super::ConnectorError;
use crate::job::{Delivery, JobSpec, KafkaSinkSpec, LoadedJob, SinkSpec};
use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A `ConnectorError::Kafka` for `client` doing `action`.
pub(crate) fn client_error(
    client: &str,
    brokers: &str,
    action: &str,
) -> impl FnOnce(KafkaError) -> ConnectorError + use<> {
    let (client, brokers, action) = (client.to_string(), brokers.to_string(), action.to_string());
    move |e| ConnectorError::Kafka {
        client,
        brokers,
        action,
        message: e.to_string(),
    }
}

/// What librdkafka reports while it retries on its own (a broker away, a
/// leader moving): one warning per client every few seconds, not one per
/// failed connection attempt; librdkafka's own log lines go to `debug`.
pub(crate) struct QuietLog {
    who: &'static str,
    last: std::sync::Mutex<Option<std::time::Instant>>,
}

impl QuietLog {
    pub(crate) fn new(who: &'static str) -> Self {
        Self {
            who,
            last: std::sync::Mutex::new(None),
        }
    }

    /// A client error callback.
    pub(crate) fn error(&self, error: &KafkaError, reason: &str) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_none_or(|t| t.elapsed() > std::time::Duration::from_secs(5)) {
            tracing::warn!(%error, "Kafka {}: {reason} (librdkafka retries; more such messages in the next 5 s are not shown)", self.who);
            *last = Some(std::time::Instant::now());
        }
    }

    /// A librdkafka log line.
    pub(crate) fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
        use rdkafka::config::RDKafkaLogLevel as L;
        match level {
            L::Emerg | L::Alert | L::Critical => {
                tracing::error!(facility = fac, "librdkafka ({}): {message}", self.who)
            }
            _ => tracing::debug!(facility = fac, "librdkafka ({}): {message}", self.who),
        }
    }
}

/// A client's settings: the job's `properties` first, then weir's own on
/// top, so that identity, routing and delivery settings are always weir's
/// (validation refuses jobs that give them; this keeps a slip harmless).
pub(crate) fn client_config(
    properties: &BTreeMap<String, String>,
    weir: &[(&str, &str)],
) -> ClientConfig {
    let mut c = ClientConfig::new();
    for (k, v) in properties {
        c.set(k, v);
    }
    for (k, v) in weir {
        c.set(*k, *v);
    }
    c
}

/// A consumer that never commits on its own and sees only committed
/// transactions (so a weir job reading another weir job's exactly-once
/// output sees each record once), named `client_id`.
pub(crate) fn consumer_config(
    brokers: &str,
    group: &str,
    client_id: &str,
    properties: &BTreeMap<String, String>,
    extra: &[(&str, &str)],
) -> ClientConfig {
    let mut weir = vec![
        ("bootstrap.servers", brokers),
        ("group.id", group),
        ("client.id", client_id),
        ("enable.auto.commit", "false"),
        ("enable.auto.offset.store", "false"),
        ("isolation.level", "read_committed"),
        ("auto.offset.reset", "earliest"),
    ];
    weir.extend_from_slice(extra);
    client_config(properties, &weir)
}

/// The first Kafka output of a job: the one whose settings the shared
/// producer takes (validation makes the others agree).
fn first_output(spec: &JobSpec) -> Option<&KafkaSinkSpec> {
    spec.outputs().into_iter().find_map(|(_, s)| match s {
        SinkSpec::Kafka(k) => Some(k),
        _ => None,
    })
}

/// The transactional id of a job whose Kafka outputs are exactly-once.
pub fn transactional_id(spec: &JobSpec) -> Option<String> {
    first_output(spec)
        .filter(|k| k.delivery == Delivery::ExactlyOnce)
        .map(|k| {
            k.transactional_id
                .clone()
                .unwrap_or_else(|| format!("weir.{}", spec.name))
        })
}

/// The Kafka outputs of a job: the producer they share, if any.
#[derive(Default)]
pub struct KafkaOutputs {
    producer: Option<Arc<KafkaProducer>>,
}

impl KafkaOutputs {
    /// Open the job's producer if any output is Kafka. With exactly-once
    /// this fences any earlier process of the same job (its open
    /// transaction is aborted), so call it before choosing the checkpoint
    /// to resume from.
    pub fn open(job: &LoadedJob) -> Result<KafkaOutputs, ConnectorError> {
        let spec = &job.spec;
        let Some(k) = first_output(spec) else {
            return Ok(KafkaOutputs::default());
        };
        let interval_ms = spec
            .checkpoint
            .as_ref()
            .and_then(|c| crate::time::parse_duration_ms(&c.interval).ok())
            .unwrap_or(10_000);
        Ok(KafkaOutputs {
            producer: Some(Arc::new(KafkaProducer::open(
                &spec.name,
                k,
                transactional_id(spec),
                interval_ms,
            )?)),
        })
    }

    /// The shared producer.
    pub fn producer(&self) -> Option<&Arc<KafkaProducer>> {
        self.producer.as_ref()
    }

    /// The transactional id, when outputs are exactly-once.
    pub fn transactional_id(&self) -> Option<&str> {
        self.producer
            .as_ref()
            .filter(|p| p.delivery() == Delivery::ExactlyOnce)
            .map(|p| p.transactional_id())
    }

    /// The epoch of the last transaction that committed (exactly-once).
    pub fn committed_epoch(&self) -> Result<Option<u64>, ConnectorError> {
        match &self.producer {
            Some(p) => p.committed_epoch(),
            None => Ok(None),
        }
    }
}
