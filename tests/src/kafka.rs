//! A real Apache Kafka broker for the tests, and small clients to fill and
//! read topics.
//!
//! [`broker`] returns `$WEIR_KAFKA_BROKERS` if set (any cluster with
//! transactions), else starts the project's own single-node broker with
//! `scripts/kafka.sh start` (a no-op when `scripts/test.sh` already started
//! it). If no broker can be had the test fails with the script's output:
//! Kafka tests never skip.

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Bootstrap servers of the test broker, starting it if needed.
pub fn broker() -> String {
    static BROKER: OnceLock<String> = OnceLock::new();
    BROKER
        .get_or_init(|| {
            if let Ok(b) = std::env::var("WEIR_KAFKA_BROKERS") {
                return b;
            }
            let out = std::process::Command::new("bash")
                .arg(crate::repo().join("scripts/kafka.sh"))
                .arg("start")
                .output()
                .expect("run scripts/kafka.sh");
            assert!(
                out.status.success(),
                "could not start the test Kafka broker (scripts/kafka.sh start):\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let port = std::env::var("WEIR_KAFKA_PORT").unwrap_or_else(|_| "19092".into());
            format!("127.0.0.1:{port}")
        })
        .clone()
}

thread_local! {
    static OVERRIDE: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// The brokers the helpers talk to on this thread: [`broker`], or the one
/// [`with_brokers`] names.
fn current() -> String {
    OVERRIDE.with(|o| o.borrow().clone()).unwrap_or_else(broker)
}

/// Run `f` with the helpers of this thread talking to `brokers` (a test's
/// own broker).
pub fn with_brokers<T>(brokers: &str, f: impl FnOnce() -> T) -> T {
    let before = OVERRIDE.with(|o| o.replace(Some(brokers.to_string())));
    let out = f();
    OVERRIDE.with(|o| *o.borrow_mut() = before);
    out
}

/// Kafka tests take turns: on two cores, a broker, a job and a producer per
/// test already fill the machine, and the crash and restart tests depend
/// on timing. Hold the guard for the whole test.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// A topic name no other test (or earlier run) uses.
pub fn unique_topic(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{name}-{}-{nanos}", std::process::id())
}

/// Create `topic` with `partitions` partitions.
pub fn create_topic(topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", current())
        .create()
        .expect("admin client");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let results = rt
        .block_on(admin.create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        ))
        .expect("create topic");
    for r in results {
        r.unwrap_or_else(|(t, e)| panic!("creating topic {t}: {e}"));
    }
    // Wait until the topic's partitions have leaders.
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", current())
        .create()
        .expect("consumer");
    let started = Instant::now();
    loop {
        let ok = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(5))
            .ok()
            .and_then(|m| {
                m.topics().first().map(|t| {
                    t.error().is_none()
                        && t.partitions().len() == partitions as usize
                        && t.partitions().iter().all(|p| p.leader() >= 0)
                })
            })
            .unwrap_or(false);
        if ok {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "topic {topic} has no leaders after 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A plain (non-transactional) producer, as an upstream system would use.
pub struct TestProducer(ThreadedProducer<Delivery>);

/// Delivery reports of the test producer: the first failure, if any, so
/// that a test whose input never reached the broker says so rather than
/// waiting for output that cannot come.
#[derive(Default)]
pub struct Delivery {
    failed: Mutex<Option<(usize, String)>>,
}

impl rdkafka::ClientContext for Delivery {}

impl ProducerContext for Delivery {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
            match &mut *failed {
                Some((n, _)) => *n += 1,
                None => *failed = Some((1, e.to_string())),
            }
        }
    }
}

impl Default for TestProducer {
    fn default() -> Self {
        Self::new()
    }
}

impl TestProducer {
    /// Connect to the test broker.
    pub fn new() -> Self {
        TestProducer(
            ClientConfig::new()
                .set("bootstrap.servers", current())
                .set("linger.ms", "2")
                .set("enable.idempotence", "true")
                .set("message.timeout.ms", "120000")
                .create_with_context(Delivery::default())
                .expect("producer"),
        )
    }

    /// Send `value` to `topic`'s `partition`, with an optional key and
    /// timestamp (ms).
    pub fn send(
        &self,
        topic: &str,
        partition: i32,
        key: Option<&[u8]>,
        value: &[u8],
        ts: Option<i64>,
    ) {
        self.send_with_headers(topic, partition, key, value, ts, &[]);
    }

    /// [`Self::send`] with headers.
    pub fn send_with_headers(
        &self,
        topic: &str,
        partition: i32,
        key: Option<&[u8]>,
        value: &[u8],
        ts: Option<i64>,
        headers: &[(&str, &str)],
    ) {
        let mut h = rdkafka::message::OwnedHeaders::new();
        for (k, v) in headers {
            h = h.insert(rdkafka::message::Header {
                key: k,
                value: Some(v.as_bytes()),
            });
        }
        let mut record = BaseRecord::<[u8], [u8]>::to(topic)
            .partition(partition)
            .payload(value)
            .headers(h);
        if let Some(k) = key {
            record = record.key(k);
        }
        if let Some(ts) = ts {
            record = record.timestamp(ts);
        }
        loop {
            match self.0.send(record) {
                Ok(()) => return,
                Err((KafkaError::MessageProduction(_), r)) => {
                    record = r;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((e, _)) => panic!("producing to {topic}: {e}"),
            }
        }
    }

    /// Wait until everything sent is acknowledged.
    pub fn flush(&self) {
        self.0
            .flush(Duration::from_secs(60))
            .expect("flush the test producer");
        let failed = self
            .0
            .context()
            .failed
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some((n, first)) = &*failed {
            panic!("the test producer could not deliver {n} records (the first: {first})");
        }
    }
}

/// A record read back.
#[derive(Debug, Clone)]
pub struct Read {
    /// Partition.
    pub partition: i32,
    /// Key.
    pub key: Option<Vec<u8>>,
    /// Value as text.
    pub value: String,
    /// Headers as text.
    pub headers: Vec<(String, String)>,
}

/// Every record of `topic` that a `read_committed` consumer sees now (up to
/// each partition's current end).
pub fn read_committed(topic: &str) -> Vec<Read> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", current())
        .set(
            "group.id",
            format!("weir-test-reader-{}", unique_topic("r")),
        )
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .create()
        .expect("consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let partitions: Vec<i32> = metadata.topics()[0]
        .partitions()
        .iter()
        .map(|p| p.id())
        .collect();
    let mut tpl = TopicPartitionList::new();
    for p in &partitions {
        tpl.add_partition_offset(topic, *p, Offset::Beginning)
            .expect("tpl");
    }
    consumer.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let mut at_end = std::collections::BTreeSet::new();
    let started = Instant::now();
    while at_end.len() < partitions.len() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "reading {topic} took over 60 s"
        );
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                at_end.remove(&m.partition());
                out.push(Read {
                    partition: m.partition(),
                    key: m.key().map(<[u8]>::to_vec),
                    value: String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
                    headers: m
                        .headers()
                        .map(|h| {
                            h.iter()
                                .map(|h| {
                                    (
                                        h.key.to_string(),
                                        String::from_utf8_lossy(h.value.unwrap_or_default())
                                            .into_owned(),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                });
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            Some(Err(e)) => panic!("reading {topic}: {e}"),
            None => {}
        }
    }
    out
}

/// The values of [`read_committed`], canonical JSON, sorted.
pub fn committed_values(topic: &str) -> Vec<String> {
    crate::canonical(
        &read_committed(topic)
            .into_iter()
            .map(|r| r.value + "\n")
            .collect::<String>(),
    )
}
