//! Counters shared by a job's tasks, read by the progress line and summary.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Live counters of a running job.
#[derive(Debug)]
pub struct Metrics {
    /// Records read from the source.
    pub records_in: AtomicU64,
    /// Records written to the main sink.
    pub records_out: AtomicU64,
    /// The latest watermark the source emitted.
    pub watermark: std::sync::atomic::AtomicI64,
    /// Checkpoints completed.
    pub checkpoints: AtomicU64,
    started: Instant,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            records_in: AtomicU64::new(0),
            records_out: AtomicU64::new(0),
            watermark: std::sync::atomic::AtomicI64::new(i64::MIN),
            checkpoints: AtomicU64::new(0),
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
