//! Kafka benchmarks, against a broker on this machine (`scripts/kafka.sh
//! start`; `--brokers` for another):
//!
//! - `kafka`: Kafka → Wasm map+filter → Kafka, exactly-once with 1 s
//!   checkpoints vs at-least-once, over the same input topic;
//! - `kafka-latency`: end-to-end latency (produce → visible to a consumer)
//!   of the same stateless job at a fixed input rate, p50/p99, for
//!   at-least-once and exactly-once (bounded below by the checkpoint
//!   interval: output becomes visible when its transaction commits).

use crate::checkpoint::Coordinator;
use crate::connector::kafka::KafkaOutputs;
use crate::plan::prepare;
use crate::runtime::{Metrics, RunContext, run as run_job};
use crate::wasm::WasmEngine;
use anyhow::Context;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::DefaultProducerContext;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("bench-{name}-{nanos}")
}

fn create_topics(brokers: &str, topics: &[(&str, i32)]) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|(t, p)| NewTopic::new(t, *p, TopicReplication::Fixed(1)))
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    for r in rt.block_on(admin.create_topics(&new, &AdminOptions::new()))? {
        r.map_err(|(t, e)| anyhow::anyhow!("creating topic {t}: {e}"))?;
    }
    std::thread::sleep(Duration::from_millis(500));
    Ok(())
}

fn producer(
    brokers: &str,
    linger_ms: &str,
) -> anyhow::Result<ThreadedProducer<DefaultProducerContext>> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", linger_ms)
        .set("queue.buffering.max.messages", "1000000")
        .create()?)
}

fn send(p: &ThreadedProducer<DefaultProducerContext>, topic: &str, partition: i32, value: &[u8]) {
    let mut r = BaseRecord::<(), [u8]>::to(topic)
        .partition(partition)
        .payload(value);
    loop {
        match p.send(r) {
            Ok(()) => return,
            Err((_, back)) => {
                r = back;
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    }
}

/// A benchmark job: Kafka → map+filter → Kafka.
struct BenchJob<'a> {
    name: &'a str,
    brokers: &'a str,
    input: &'a str,
    output: &'a str,
    operator: &'a Path,
    delivery: &'a str,
    bounded: bool,
    /// Extra sink settings, a TOML inline table.
    sink_properties: &'a str,
    dir: &'a Path,
}

impl BenchJob<'_> {
    /// Write the job file into `dir`; returns its path.
    fn write(&self) -> anyhow::Result<std::path::PathBuf> {
        let path = self.dir.join(format!("{}.toml", self.name));
        std::fs::write(&path, job_text(self))?;
        Ok(path)
    }
}

fn job_text(j: &BenchJob<'_>) -> String {
    let BenchJob {
        name,
        brokers,
        input,
        output,
        operator,
        delivery,
        bounded,
        sink_properties,
        dir,
    } = j;
    format!(
        r#"name = "{name}"
batch_size = 1000
[source]
type = "kafka"
brokers = "{brokers}"
topics = ["{input}"]
bounded = {bounded}
[[operators]]
name = "map-filter"
component = "{op}"
[sink]
type = "kafka"
brokers = "{brokers}"
topic = "{output}"
delivery = "{delivery}"
properties = {sink_properties}
[checkpoint]
interval = "1s"
dir = "{chk}"
"#,
        op = operator.display(),
        chk = dir.join(name).display(),
    )
}

/// Throughput of Kafka → Wasm map+filter → Kafka, exactly-once vs
/// at-least-once, on the same input.
pub fn throughput(
    engine: &'static WasmEngine,
    operator: &Path,
    brokers: &str,
    records: u64,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let input = unique("in");
    create_topics(brokers, &[(&input, 4)])?;
    let p = producer(brokers, "20")?;
    let mut g = 0x9e37_79b9_7f4a_7c15_u64;
    for i in 0..records {
        g ^= g << 13;
        g ^= g >> 7;
        g ^= g << 17;
        let line = format!(
            r#"{{"ts":{},"user":"u{}","amount":{}.{:02},"merchant":"m{}"}}"#,
            1_700_000_000_000 + i as i64,
            g % 10_000,
            50 + g % 500,
            g % 100,
            g % 50
        );
        send(&p, &input, (i % 4) as i32, line.as_bytes());
    }
    p.flush(Duration::from_secs(120))?;
    let mut rates = Vec::new();
    for delivery in ["at-least-once", "exactly-once"] {
        let output = unique("out");
        create_topics(brokers, &[(&output, 4)])?;
        let name = format!("bench-kafka-{}", delivery.replace('-', ""));
        let path = BenchJob {
            name: &name,
            brokers,
            input: &input,
            output: &output,
            operator,
            delivery,
            bounded: true,
            sink_properties: "{}",
            dir: dir.path(),
        }
        .write()?;
        let plan = Arc::new(prepare(crate::job::load(&path, &[])?, engine)?);
        let coordinator = Coordinator::new(&plan)?.map(Arc::new);
        let kafka = Arc::new(KafkaOutputs::open(&plan.job)?);
        let ctx = RunContext {
            coordinator,
            restore: None,
            kafka: Some(kafka),
            stop: None,
            swaps: Default::default(),
            account: None,
        };
        let t = Instant::now();
        let summary = run_job(plan, Arc::new(Metrics::default()), ctx)?;
        let secs = t.elapsed().as_secs_f64();
        anyhow::ensure!(
            summary.records_in == records,
            "read {} of {records}",
            summary.records_in
        );
        rates.push((summary.records_in as f64 / secs, summary.checkpoints));
    }
    let (alo, eos) = (rates[0], rates[1]);
    println!(
        "| Kafka → Wasm map+filter → Kafka, {records} events, 4 partitions: exactly-once ({} checkpoints, 1 s) vs at-least-once | {:.3} M ev/s | {:.3} M ev/s | {:.2}× |",
        eos.1,
        eos.0 / 1e6,
        alo.0 / 1e6,
        eos.0 / alo.0
    );
    Ok(())
}

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// End-to-end latency at `rate` events/s for `secs` seconds, per delivery.
pub fn latency(operator: &Path, brokers: &str, rate: u64, secs: u64) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let exe = std::env::current_exe().context("finding the weir binary")?;
    for delivery in ["at-least-once", "exactly-once"] {
        let (input, output) = (unique("lat-in"), unique("lat-out"));
        create_topics(brokers, &[(&input, 2), (&output, 2)])?;
        let name = format!("bench-latency-{}", delivery.replace('-', ""));
        let path = BenchJob {
            name: &name,
            brokers,
            input: &input,
            output: &output,
            operator,
            delivery,
            bounded: false,
            sink_properties: r#"{ "linger.ms" = "1" }"#,
            dir: dir.path(),
        }
        .write()?;
        let mut job = std::process::Command::new(&exe)
            .args(["run", "-q", path.to_str().unwrap_or_default()])
            .stderr(std::process::Stdio::null())
            .spawn()?;
        // Reader: every output record's latency, µs.
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", unique("lat-reader"))
            .set("isolation.level", "read_committed")
            .set("fetch.wait.max.ms", "5")
            .create()?;
        let mut tpl = TopicPartitionList::new();
        for p in 0..2 {
            tpl.add_partition_offset(&output, p, Offset::Beginning)?;
        }
        consumer.assign(&tpl)?;
        std::thread::sleep(Duration::from_secs(3)); // the job starts
        let total = rate * secs;
        let writer = {
            let (brokers, input) = (brokers.to_string(), input.clone());
            std::thread::spawn(move || -> anyhow::Result<()> {
                // Like a real client: batches of up to 1 ms (linger), and
                // the generator sleeps once per 1 ms worth of records.
                let p = producer(&brokers, "1")?;
                let started = Instant::now();
                let per_ms = (rate / 1000).max(1);
                for i in 0..total {
                    if i % per_ms == 0 {
                        let due = Duration::from_secs_f64(i as f64 / rate as f64);
                        if let Some(wait) = due.checked_sub(started.elapsed()) {
                            std::thread::sleep(wait);
                        }
                    }
                    let line = format!(
                        r#"{{"ts":{},"user":"u{}","amount":100.0,"merchant":"m"}}"#,
                        now_us(),
                        i % 1000
                    );
                    send(&p, &input, (i % 2) as i32, line.as_bytes());
                }
                p.flush(Duration::from_secs(30))?;
                Ok(())
            })
        };
        let mut lat = Vec::with_capacity(total as usize);
        let deadline = Instant::now() + Duration::from_secs(secs + 20);
        while (lat.len() as u64) < total && Instant::now() < deadline {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(50)) {
                let ts = crate::json::integer(m.payload().unwrap_or_default(), "ts").unwrap_or(0);
                lat.push(now_us() - ts);
            }
        }
        writer
            .join()
            .map_err(|_| anyhow::anyhow!("producer thread panicked"))??;
        let _ = job.kill();
        let _ = job.wait();
        anyhow::ensure!(
            lat.len() as u64 >= total,
            "only {} of {total} results arrived",
            lat.len()
        );
        // The first second is warm-up (connections, first checkpoint).
        let mut steady: Vec<i64> = lat[(rate as usize).min(lat.len())..].to_vec();
        steady.sort_unstable();
        let pct = |q: f64| steady[((steady.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
        println!(
            "| end-to-end latency, Kafka → Wasm map → Kafka, {rate} ev/s for {secs} s, {delivery} | p50 {:.1} ms, p99 {:.1} ms | | |",
            pct(0.5),
            pct(0.99)
        );
    }
    Ok(())
}
