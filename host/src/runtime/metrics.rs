//! Counters shared by a job's tasks, read by the progress line and summary.

use crate::connector::kafka::KafkaProducer;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
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
