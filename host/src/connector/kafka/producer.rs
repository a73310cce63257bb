//! The producer every Kafka output of a job shares.
//!
//! # Exactly-once: a transaction per epoch, committed after the checkpoint
//!
//! Records of epoch `e` (everything before barrier `e`) go into Kafka
//! transaction `e`. As the transaction begins, the sink adds to it a commit
//! marker — the consumer-group offset `epoch = e` of group
//! `weir.txn.<transactional id>` on partition 0 of the sink's topic, which
//! Kafka commits atomically with the records. At barrier `e` the sink
//! *prepares*: it flushes the transaction. Then the checkpoint is made
//! durable, and only then is the transaction committed (two-phase commit,
//! with the checkpoint as the prepare record).
//!
//! The marker goes in as the transaction begins, right after the previous
//! one committed — when the broker has just answered — rather than at the
//! barrier: librdkafka's `send_offsets_to_transaction` can block past its
//! timeout, indefinitely, when the group coordinator is down as it is
//! called (librdkafka issue #5456), which hung a job through a broker
//! restart. A run that ends aborts the transaction it began last, which
//! holds only its marker.
//!
//! librdkafka cannot resume another process's transaction, so recovery
//! works the other way round: a restarted job opens its producer with the
//! same transactional id, which fences the old process and aborts whatever
//! it left open, then reads the marker. A checkpoint whose epoch is above the
//! marker died between becoming durable and its commit: its records were
//! aborted, so the job resumes from the checkpoint before it instead (which
//! is why exactly-once needs `retain >= 2`) and produces them again.
//! `read_committed` readers therefore see every record exactly once.
//!
//! Side outputs (dead letters, late records) share the transaction, so all
//! Kafka outputs of an epoch commit together. They are written by other
//! tasks, which may already be in epoch `e + 1` while transaction `e` is
//! still open; such records are held back until transaction `e + 1` begins.
//!
//! # At-least-once and none
//!
//! At-least-once flushes at every barrier, so a checkpoint completes only
//! when the broker has acknowledged every record before it; a failed
//! delivery fails the job. `none` never waits and only counts failures.

mod transaction;

use super::{QuietLog, client_config, client_error, consumer_config};
use crate::connector::ConnectorError;
use crate::job::{Delivery, KafkaSinkSpec};
use rdkafka::consumer::BaseConsumer;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, ClientContext, Message};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

/// One attempt of a transactional call; retried while Kafka says retriable.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long weir keeps retrying while the broker is away before it fails
/// the job (which then restarts from its last checkpoint).
const GIVE_UP_AFTER: Duration = Duration::from_secs(300);

/// A commit still timing out after this long while the broker answers is
/// stuck in librdkafka (its transaction coordinator lost across a broker
/// restart, as librdkafka #5456/#5511 describe for the group coordinator):
/// the producer is replaced (see [`KafkaProducer::commit`]).
const STUCK_AFTER: Duration = Duration::from_secs(30);

/// Delivery reports: the first failure fails the job (unless `none`).
struct Context {
    failure: Arc<Mutex<Option<String>>>,
    failed: Arc<AtomicU64>,
    quiet: QuietLog,
}

impl ClientContext for Context {
    fn error(&self, error: KafkaError, reason: &str) {
        self.quiet.error(&error, reason);
    }

    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
        self.quiet.log(level, fac, message);
    }
}

impl ProducerContext for Context {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, m)) = result {
            self.failed.fetch_add(1, Ordering::Relaxed);
            let mut f = lock(&self.failure);
            if f.is_none() {
                *f = Some(format!(
                    "delivering a record to {}[{}] failed: {e}",
                    m.topic(),
                    m.partition()
                ));
            }
        }
    }
}

/// A record held back for a transaction that has not begun yet.
struct Held {
    topic: String,
    key: Option<Vec<u8>>,
    value: Vec<u8>,
    headers: Vec<(String, Vec<u8>)>,
}

#[derive(Default)]
struct Txn {
    /// The epoch whose transaction is open.
    open: Option<u64>,
    /// The last epoch prepared (flushed).
    prepared: Option<u64>,
    /// The last epoch committed.
    committed: Option<u64>,
    /// Records of later epochs, by epoch.
    held: BTreeMap<u64, Vec<Held>>,
}

/// A record to send.
pub struct Outgoing<'a> {
    /// Topic.
    pub topic: &'a str,
    /// Key (partitioning), if any.
    pub key: Option<&'a [u8]>,
    /// Value.
    pub value: &'a [u8],
    /// Headers.
    pub headers: &'a [(String, Vec<u8>)],
}

/// Counters for progress lines and metrics.
#[derive(Debug, Default)]
pub struct ProducerStats {
    /// Records handed to the producer.
    pub sent: AtomicU64,
    /// Transactions committed.
    pub commits: AtomicU64,
    /// Duration of the last commit, µs.
    pub last_commit_us: AtomicU64,
    /// Records whose delivery failed.
    pub failed: Arc<AtomicU64>,
}

/// The shared producer of a job's Kafka outputs.
pub struct KafkaProducer {
    /// Replaced only when a transaction's commit is stuck (see
    /// [`KafkaProducer::commit`]).
    producer: RwLock<Arc<ThreadedProducer<Context>>>,
    /// How it was made, to make it again.
    config: ClientConfig,
    client: String,
    brokers: String,
    delivery: Delivery,
    transactional_id: String,
    /// Commit-marker group and topic (exactly-once).
    marker: Option<(BaseConsumer, String)>,
    txn: Mutex<Txn>,
    failure: Arc<Mutex<Option<String>>>,
    /// Counters.
    pub stats: ProducerStats,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A producer made from `config`, its delivery failures reported to
/// `failure` and counted in `failed`.
fn create(
    config: &ClientConfig,
    failure: &Arc<Mutex<Option<String>>>,
    failed: &Arc<AtomicU64>,
) -> Result<ThreadedProducer<Context>, KafkaError> {
    config.create_with_context(Context {
        failure: failure.clone(),
        failed: failed.clone(),
        quiet: QuietLog::new("sink"),
    })
}

impl KafkaProducer {
    /// Connect. With exactly-once, initialise transactions (fencing any
    /// earlier producer with the same transactional id).
    pub fn open(
        job: &str,
        spec: &KafkaSinkSpec,
        transactional_id: Option<String>,
        checkpoint_interval_ms: i64,
    ) -> Result<KafkaProducer, ConnectorError> {
        let client = format!("sink {}", spec.topic);
        let transactional_id = transactional_id.unwrap_or_else(|| format!("weir.{job}"));
        // Batching defaults a job's properties may change; then weir's own
        // settings (identity, routing, delivery), which it may not.
        let mut properties: BTreeMap<String, String> = [
            ("linger.ms", "5"),
            ("batch.num.messages", "10000"),
            ("queue.buffering.max.messages", "500000"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        properties.extend(spec.properties.clone());
        let client_id = format!("weir.{job}.sink");
        let mut weir: Vec<(&str, &str)> = vec![
            ("bootstrap.servers", &spec.brokers),
            ("client.id", &client_id),
        ];
        // A transaction stays open for one checkpoint interval; give it room
        // for a slow checkpoint before the broker aborts it.
        let timeout = (checkpoint_interval_ms * 3 + 30_000)
            .clamp(60_000, 900_000)
            .to_string();
        match spec.delivery {
            Delivery::ExactlyOnce => weir.extend([
                ("transactional.id", transactional_id.as_str()),
                ("transaction.timeout.ms", timeout.as_str()),
                ("enable.idempotence", "true"),
                ("acks", "all"),
            ]),
            Delivery::AtLeastOnce => weir.extend([("enable.idempotence", "true"), ("acks", "all")]),
            Delivery::None => weir.push(("acks", "1")),
        }
        let config = client_config(&properties, &weir);
        let failure = Arc::new(Mutex::new(None));
        let stats = ProducerStats::default();
        let producer = create(&config, &failure, &stats.failed).map_err(client_error(
            &client,
            &spec.brokers,
            "creating the producer",
        ))?;
        let mut marker = None;
        if spec.delivery == Delivery::ExactlyOnce {
            let group = format!("weir.txn.{transactional_id}");
            let consumer: BaseConsumer = consumer_config(
                &spec.brokers,
                &group,
                &format!("weir.{job}.marker"),
                &spec.properties,
                &[],
            )
            .create()
            .map_err(client_error(
                &client,
                &spec.brokers,
                "creating the marker reader",
            ))?;
            marker = Some((consumer, spec.topic.clone()));
        }
        let p = KafkaProducer {
            producer: RwLock::new(Arc::new(producer)),
            config,
            client,
            brokers: spec.brokers.clone(),
            delivery: spec.delivery,
            transactional_id,
            marker,
            txn: Mutex::new(Txn::default()),
            failure,
            stats,
        };
        p.check_topic(&spec.topic)?;
        if p.delivery == Delivery::ExactlyOnce {
            p.retrying(
                "initialising transactions (fencing earlier runs of this job)",
                |p| p.init_transactions(CALL_TIMEOUT),
            )?;
        }
        Ok(p)
    }

    /// The sink's topic exists, or the broker creates it on first use
    /// (`auto.create.topics.enable`), which takes a moment: asked for an
    /// unknown topic, the broker starts creating it and answers "leader not
    /// available" until it is ready.
    /// Whether the broker answers a metadata request now.
    fn broker_is_up(&self) -> bool {
        self.handle()
            .client()
            .fetch_metadata(None, Duration::from_secs(5))
            .is_ok()
    }

    /// The producer (the same one unless a stuck commit replaced it).
    fn handle(&self) -> Arc<ThreadedProducer<Context>> {
        self.producer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn check_topic(&self, topic: &str) -> Result<(), ConnectorError> {
        let action = format!("looking up topic `{topic}` (is the broker reachable?)");
        let started = Instant::now();
        loop {
            let metadata = self
                .handle()
                .client()
                .fetch_metadata(Some(topic), Duration::from_secs(30))
                .map_err(client_error(&self.client, &self.brokers, &action))?;
            let error = metadata
                .topics()
                .iter()
                .find(|t| t.name() == topic)
                .map(|t| t.error());
            match error {
                Some(None) => return Ok(()),
                _ if started.elapsed() < Duration::from_secs(10) => {
                    std::thread::sleep(Duration::from_millis(200));
                }
                _ => {
                    return Err(ConnectorError::Kafka {
                        client: self.client.clone(),
                        brokers: self.brokers.clone(),
                        action,
                        message: "the topic does not exist (and the broker does not create topics on first use); create it first".into(),
                    });
                }
            }
        }
    }

    /// The delivery guarantee.
    pub fn delivery(&self) -> Delivery {
        self.delivery
    }

    /// The transactional id (exactly-once).
    pub fn transactional_id(&self) -> &str {
        &self.transactional_id
    }

    fn error(&self, action: &str, message: String) -> ConnectorError {
        ConnectorError::Kafka {
            client: self.client.clone(),
            brokers: self.brokers.clone(),
            action: action.into(),
            message,
        }
    }

    /// Start writing epoch `epoch` (exactly-once: begin its transaction and
    /// send what was held back for it).
    pub fn begin(&self, epoch: u64) -> Result<(), ConnectorError> {
        if self.delivery != Delivery::ExactlyOnce {
            return Ok(());
        }
        let mut txn = lock(&self.txn);
        self.handle().begin_transaction().map_err(|e| {
            self.error(
                &format!("beginning the transaction of epoch {epoch}"),
                e.to_string(),
            )
        })?;
        txn.open = Some(epoch);
        self.add_marker(epoch)?;
        let held: Vec<u64> = txn.held.range(..=epoch).map(|(e, _)| *e).collect();
        for e in held {
            for h in txn.held.remove(&e).unwrap_or_default() {
                self.produce(&Outgoing {
                    topic: &h.topic,
                    key: h.key.as_deref(),
                    value: &h.value,
                    headers: &h.headers,
                })?;
            }
        }
        Ok(())
    }

    /// Send a record of `epoch`.
    pub fn send(&self, epoch: u64, record: &Outgoing<'_>) -> Result<(), ConnectorError> {
        if self.delivery == Delivery::None {
            return self.produce(record);
        }
        if let Some(f) = lock(&self.failure).clone() {
            return Err(self.error("sending", f));
        }
        if self.delivery == Delivery::AtLeastOnce {
            return self.produce(record);
        }
        let mut txn = lock(&self.txn);
        match txn.open {
            Some(open) if epoch > open => {
                txn.held.entry(epoch).or_default().push(Held {
                    topic: record.topic.into(),
                    key: record.key.map(<[u8]>::to_vec),
                    value: record.value.to_vec(),
                    headers: record.headers.to_vec(),
                });
                Ok(())
            }
            _ => self.produce(record),
        }
    }

    fn produce(&self, r: &Outgoing<'_>) -> Result<(), ConnectorError> {
        let mut headers = OwnedHeaders::new_with_capacity(r.headers.len());
        for (k, v) in r.headers {
            headers = headers.insert(Header {
                key: k,
                value: Some(v),
            });
        }
        let mut record = BaseRecord::to(r.topic).payload(r.value).headers(headers);
        if let Some(k) = r.key {
            record = record.key(k);
        }
        loop {
            match self.handle().send(record) {
                Ok(()) => {
                    self.stats.sent.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // Backpressure: the broker is slower than the job (or away).
                    record = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((e, _)) => {
                    return Err(self.error(&format!("sending to `{}`", r.topic), e.to_string()));
                }
            }
        }
    }

    /// Wait until the broker has acknowledged every record sent so far.
    ///
    /// Not `Producer::flush`: with a `ThreadedProducer` its poll loop waits
    /// 100 ms for delivery reports that the polling thread has already
    /// taken, which put 100 ms into every checkpoint. Instead: ask
    /// librdkafka to send what lingers, then watch the queue drain.
    fn flush(&self, epoch: u64) -> Result<(), ConnectorError> {
        let started = Instant::now();
        let producer = self.handle();
        let _ = producer.flush(Duration::ZERO);
        let mut next_log = Duration::from_secs(5);
        while producer.in_flight_count() > 0 {
            if lock(&self.failure).is_some() || started.elapsed() > GIVE_UP_AFTER {
                break;
            }
            if started.elapsed() > next_log {
                tracing::warn!(sink = %self.client, brokers = %self.brokers,
                    in_flight = producer.in_flight_count(),
                    "Kafka sink: waiting for the broker to acknowledge epoch {epoch}'s records");
                next_log += Duration::from_secs(5);
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        if let Some(f) = lock(&self.failure).clone() {
            return Err(self.error(&format!("flushing epoch {epoch}"), f));
        }
        if producer.in_flight_count() > 0 {
            return Err(self.error(
                &format!("flushing epoch {epoch}"),
                "the broker did not acknowledge the records within 5 minutes".into(),
            ));
        }
        Ok(())
    }

    /// Phase one of checkpoint `epoch` (idempotent: every Kafka output of
    /// the job calls it). At-least-once: every record is acknowledged.
    /// Exactly-once: also the commit marker is part of the transaction.
    pub fn prepare(&self, epoch: u64) -> Result<(), ConnectorError> {
        if self.delivery == Delivery::None {
            return Ok(());
        }
        let mut txn = lock(&self.txn);
        if txn.prepared.is_some_and(|p| p >= epoch) {
            return Ok(());
        }
        let t = Instant::now();
        self.flush(epoch)?;
        txn.prepared = Some(epoch);
        tracing::debug!(sink = %self.client, epoch, flushed = ?t.elapsed(), "prepared");
        Ok(())
    }

    /// Phase two: checkpoint `epoch` is durable; commit its transaction and
    /// begin the next (idempotent, like [`Self::prepare`]).
    pub fn commit(&self, epoch: u64) -> Result<(), ConnectorError> {
        if self.delivery != Delivery::ExactlyOnce {
            return Ok(());
        }
        {
            let mut txn = lock(&self.txn);
            if txn.committed.is_some_and(|c| c >= epoch) {
                return Ok(());
            }
            let started = Instant::now();
            let action = format!("committing the transaction of epoch {epoch}");
            // Waited for while the broker is away; replaced once it is back
            // and the commit still times out.
            loop {
                if self
                    .retrying_for(&action, STUCK_AFTER, |p| p.commit_transaction(CALL_TIMEOUT))?
                    .is_ok()
                {
                    break;
                }
                if self.broker_is_up() {
                    self.reopen(epoch, &action)?;
                    break;
                }
                if started.elapsed() > GIVE_UP_AFTER {
                    return Err(self.error(
                        &action,
                        "still failing after 5 minutes of retries; is the broker up?".into(),
                    ));
                }
            }
            self.stats.commits.fetch_add(1, Ordering::Relaxed);
            self.stats
                .last_commit_us
                .store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
            txn.committed = Some(epoch);
        }
        self.begin(epoch + 1)
    }

    /// End of a run without checkpoints: everything acknowledged.
    pub fn finish(&self) -> Result<(), ConnectorError> {
        match self.delivery {
            Delivery::ExactlyOnce => {
                // The transaction begun after the last commit holds only
                // its marker (nothing was written after the final
                // checkpoint): abort it rather than leave it to time out.
                let mut txn = lock(&self.txn);
                if let Some(open) = txn.open.take()
                    && txn.committed.is_some_and(|c| c < open)
                {
                    self.retrying(
                        &format!("aborting the unused transaction of epoch {open}"),
                        |p| p.abort_transaction(CALL_TIMEOUT),
                    )?;
                }
                Ok(())
            }
            Delivery::AtLeastOnce => self.flush(u64::MAX),
            Delivery::None => {
                let _ = self.handle().flush(Duration::from_secs(30));
                Ok(())
            }
        }
    }
}
