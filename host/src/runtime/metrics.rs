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
    producer: OnceLock<Arc<KafkaProducer>>,
    started: Instant,
    /// Each stage's counters, by stage name.
    stages: Mutex<BTreeMap<String, Arc<StageMetrics>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            records_in: AtomicU64::new(0),
            records_out: AtomicU64::new(0),
            watermark: std::sync::atomic::AtomicI64::new(i64::MIN),
            checkpoints: AtomicU64::new(0),
            source_lag: AtomicI64::new(-1),
            producer: OnceLock::new(),
            started: Instant::now(),
            stages: Mutex::new(BTreeMap::new()),
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
}
