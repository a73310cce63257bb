//! Counters shared by a job's tasks, read by the progress line and summary.

use crate::connector::kafka::KafkaProducer;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Live counters of a running job.
pub struct Metrics {
    /// Records read from the source.
    pub records_in: AtomicU64,
    /// Records written to the main sink.
    pub records_out: AtomicU64,
    /// The latest watermark the source emitted.
    pub watermark: std::sync::atomic::AtomicI64,
    /// Checkpoints completed.
    pub checkpoints: AtomicU64,
    /// Kafka consumer lag (records not read yet), -1 when unknown.
    pub source_lag: AtomicI64,
    /// The same per partition: (topic, partition, records), updated once
    /// a second.
    pub partition_lag: Mutex<Vec<(String, i32, u64)>>,
    producer: OnceLock<Arc<KafkaProducer>>,
    started: Instant,
    /// Each stage's counters, by stage name.
    stages: Mutex<BTreeMap<String, Arc<StageMetrics>>>,
    /// End-to-end latency of rows reaching the sinks.
    pub latency: Latency,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            records_in: AtomicU64::new(0),
            records_out: AtomicU64::new(0),
            watermark: std::sync::atomic::AtomicI64::new(i64::MIN),
            checkpoints: AtomicU64::new(0),
            source_lag: AtomicI64::new(-1),
            partition_lag: Mutex::new(Vec::new()),
            producer: OnceLock::new(),
            started: Instant::now(),
            stages: Mutex::new(BTreeMap::new()),
            latency: Latency::default(),
        }
    }
}

impl Metrics {
    /// Time since the job started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
    /// Records in so far.
    pub fn input(&self) -> u64 {
        self.records_in.load(Ordering::Relaxed)
    }
    /// Records out so far.
    pub fn output(&self) -> u64 {
        self.records_out.load(Ordering::Relaxed)
    }
    /// The counters of stage `name` with `subtasks` subtasks (made on
    /// first use; every subtask shares them).
    pub fn stage(&self, name: &str, subtasks: usize) -> Arc<StageMetrics> {
        self.stages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(StageMetrics::new(subtasks)))
            .clone()
    }
    /// Every stage's counters, by name.
    pub fn stages(&self) -> Vec<(String, Arc<StageMetrics>)> {
        self.stages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
    /// The job's Kafka producer, for its counters.
    pub fn set_producer(&self, p: Arc<KafkaProducer>) {
        let _ = self.producer.set(p);
    }
    /// Kafka details for a progress line: consumer lag, transactions.
    pub fn kafka_progress(&self) -> String {
        let mut out = String::new();
        let lag = self.source_lag.load(Ordering::Relaxed);
        if lag >= 0 {
            out.push_str(&format!("  lag {lag}"));
        }
        if let Some(p) = self.producer.get() {
            let s = &p.stats;
            let commits = s.commits.load(Ordering::Relaxed);
            if commits > 0 {
                out.push_str(&format!(
                    "  kafka txns {commits} (last commit {} ms)",
                    s.last_commit_us.load(Ordering::Relaxed) / 1000
                ));
            }
            let failed = s.failed.load(Ordering::Relaxed);
            if failed > 0 {
                out.push_str(&format!("  kafka delivery failures {failed}"));
            }
        }
        out
    }
}

/// Live counters of one stage of a job graph, summed over its subtasks:
/// what Flink's web UI shows per vertex (records in and out; busy, idle
/// and backpressured time; the watermark).
///
/// A subtask's time goes to one of three: **busy** while its operator
/// works on a step, **idle** while it waits for its next input, and
/// **backpressured** while it waits for room to send its output (a reader
/// downstream is slower).
#[derive(Debug)]
pub struct StageMetrics {
    /// Rows the stage's operator took.
    pub records_in: AtomicU64,
    /// Rows it emitted.
    pub records_out: AtomicU64,
    /// ns its subtasks spent in the operator.
    pub busy_ns: AtomicU64,
    /// ns they waited for input.
    pub idle_ns: AtomicU64,
    /// ns they waited to send.
    pub backpressure_ns: AtomicU64,
    /// ns checkpoint barriers waited at them for the barrier of every
    /// input (alignment), summed over barriers and subtasks.
    pub alignment_ns: AtomicU64,
    /// Barriers aligned (per subtask).
    pub barriers: AtomicU64,
    /// Each subtask's watermark after its last step (`i64::MIN` before
    /// the first).
    watermarks: Vec<AtomicI64>,
}

impl StageMetrics {
    fn new(subtasks: usize) -> Self {
        Self {
            records_in: AtomicU64::new(0),
            records_out: AtomicU64::new(0),
            busy_ns: AtomicU64::new(0),
            idle_ns: AtomicU64::new(0),
            backpressure_ns: AtomicU64::new(0),
            alignment_ns: AtomicU64::new(0),
            barriers: AtomicU64::new(0),
            watermarks: (0..subtasks.max(1))
                .map(|_| AtomicI64::new(i64::MIN))
                .collect(),
        }
    }

    /// Subtask `subtask`'s watermark is now `wm`.
    pub fn set_watermark(&self, subtask: usize, wm: i64) {
        if let Some(w) = self.watermarks.get(subtask) {
            w.store(wm, Ordering::Relaxed);
        }
    }

    /// The stage's watermark: the lowest of its subtasks' (as Flink shows
    /// a vertex's), `None` until every subtask has one.
    pub fn watermark(&self) -> Option<i64> {
        let low = self
            .watermarks
            .iter()
            .map(|w| w.load(Ordering::Relaxed))
            .min()?;
        (low > i64::MIN).then_some(low)
    }

    /// Subtasks.
    pub fn subtasks(&self) -> usize {
        self.watermarks.len()
    }

    /// Add `d` to `counter`.
    pub fn add(counter: &AtomicU64, d: Duration) {
        counter.fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
    }
}

/// Upper bounds of [`Latency`]'s buckets, seconds (Prometheus' `le`).
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// A histogram of end-to-end latency: for each row a sink takes, the time
/// since the source read the records of the step it came in (a window's
/// rows: the step whose watermark fired it) — what Flink's latency
/// markers measure, for every row rather than for samples.
#[derive(Debug, Default)]
pub struct Latency {
    /// Rows per bucket (not cumulative); the last is past every bound.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_us: AtomicU64,
    count: AtomicU64,
}

impl Latency {
    /// `rows` rows took `d`.
    pub fn record(&self, d: Duration, rows: u64) {
        if rows == 0 {
            return;
        }
        let s = d.as_secs_f64();
        let i = LATENCY_BUCKETS
            .iter()
            .position(|b| s <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[i].fetch_add(rows, Ordering::Relaxed);
        self.sum_us
            .fetch_add(d.as_micros() as u64 * rows, Ordering::Relaxed);
        self.count.fetch_add(rows, Ordering::Relaxed);
    }

    /// Cumulative counts per bound (the last: every row), the sum in
    /// seconds and the count, as Prometheus' histogram wants them.
    pub fn snapshot(&self) -> (Vec<u64>, f64, u64) {
        let mut acc = 0;
        let cumulative = self
            .buckets
            .iter()
            .map(|b| {
                acc += b.load(Ordering::Relaxed);
                acc
            })
            .collect();
        (
            cumulative,
            self.sum_us.load(Ordering::Relaxed) as f64 / 1e6,
            self.count.load(Ordering::Relaxed),
        )
    }

    /// The smallest bucket bound at or under which `q` (0..1) of the rows
    /// fall: an upper estimate of the quantile; `None` before any row or
    /// past the last bound.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let (cumulative, _, count) = self.snapshot();
        if count == 0 {
            return None;
        }
        let want = (q * count as f64).ceil() as u64;
        let i = cumulative.iter().position(|c| *c >= want.max(1))?;
        LATENCY_BUCKETS.get(i).copied()
    }
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Records read.
    pub records_in: u64,
    /// Records written to the main sink.
    pub records_out: u64,
    /// Records sent to the late output.
    pub late: u64,
    /// Records sent to the dead-letter output.
    pub dead_letters: u64,
    /// Checkpoints completed (the final one included).
    pub checkpoints: u64,
    /// Wall time.
    pub elapsed: Duration,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        write!(
            f,
            "{} records in, {} out, {} late, {} dead letters in {:.2}s ({:.0} records/s)",
            self.records_in,
            self.records_out,
            self.late,
            self.dead_letters,
            secs,
            self.records_in as f64 / secs
        )?;
        if self.checkpoints > 0 {
            write!(f, ", {} checkpoints", self.checkpoints)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_watermark_is_its_lowest_subtasks_once_each_has_one() {
        let m = Metrics::default();
        let s = m.stage("w", 3);
        assert!(Arc::ptr_eq(&s, &m.stage("w", 3)), "one set per stage");
        assert_eq!(s.watermark(), None);
        s.set_watermark(0, 50);
        s.set_watermark(2, 30);
        assert_eq!(s.watermark(), None, "subtask 1 has none yet");
        s.set_watermark(1, 40);
        assert_eq!(s.watermark(), Some(30));
        s.set_watermark(7, 0); // no such subtask: ignored
        assert_eq!(s.watermark(), Some(30));
        assert_eq!(m.stages().len(), 1);
    }

    #[test]
    fn latency_buckets_are_cumulative_with_rows_as_weights() {
        let l = Latency::default();
        assert_eq!(l.quantile(0.5), None);
        l.record(Duration::from_micros(800), 10); // ≤ 1 ms
        l.record(Duration::from_millis(40), 5); // ≤ 50 ms
        l.record(Duration::from_secs(100), 1); // past 60 s
        l.record(Duration::from_millis(3), 0); // no rows: nothing
        let (c, sum, count) = l.snapshot();
        assert_eq!(count, 16);
        assert_eq!(c.len(), LATENCY_BUCKETS.len() + 1);
        assert_eq!((c[0], c[1], c[3], c[4]), (10, 10, 10, 15));
        assert_eq!(c[LATENCY_BUCKETS.len() - 1], 15);
        assert_eq!(c[LATENCY_BUCKETS.len()], 16);
        assert!((sum - (0.008 + 0.2 + 100.0)).abs() < 1e-6, "{sum}");
        assert_eq!(l.quantile(0.5), Some(0.001));
        assert_eq!(l.quantile(0.9), Some(0.05));
        assert_eq!(l.quantile(1.0), None, "past the last bound");
    }
}
