//! What a job may make the host spend, accounted as it grows.
//!
//! A guest can make the host allocate through the contract — state values,
//! map entries, timers, window accumulators, outputs, logs — and a job's
//! file outputs and checkpoints fill disk. Each job therefore has two
//! budgets, [`Budgets::memory`] and [`Budgets::disk`], and everything that
//! grows on a guest's behalf charges one of them *when it grows*: a state
//! write that would take the job's memory past its budget is refused then
//! and there, failing that job with the budget's name, instead of being
//! found at the next checkpoint (or by the kernel's OOM killer, with every
//! other tenant's jobs).
//!
//! | budget | charged by |
//! |---|---|
//! | host memory (`limits.host_memory`) | memory-backend state and timers, window contents on the heap, batches in flight between tasks |
//! | disk (`limits.disk`) | RocksDB state, checkpoints, file outputs, the job's log |
//!
//! A budget is shared by every task of the job (an atomic counter), so
//! the sum over a job's threads is what is held to the limit. Charges are
//! of the bytes the host holds for the guest (keys and values plus a fixed
//! per-entry overhead), not of allocator internals, so the host's resident
//! memory stays within the sum of its jobs' budgets plus a fixed overhead.
//!
//! ```
//! use weir::budget::Budgets;
//! let b = Budgets::new("j", Some(1000), None, None);
//! b.memory.charge("keyed state", 600).unwrap();
//! let e = b.memory.charge("keyed state", 600).unwrap_err();
//! assert!(e.to_string().contains("limits.host_memory = 1000"));
//! b.memory.release(600);
//! assert_eq!(b.memory.used(), 0);
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Which budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Host memory.
    Memory,
    /// Disk.
    Disk,
}

impl Kind {
    fn setting(self) -> &'static str {
        match self {
            Kind::Memory => "limits.host_memory",
            Kind::Disk => "limits.disk",
        }
    }
    fn advice(self) -> &'static str {
        match self {
            Kind::Memory => {
                "keep less state, keep it on disk (state.backend = \"rocksdb\" holds keyed state, windows and join buffers), or ask for a larger budget"
            }
            Kind::Disk => "keep less state or output, or ask for a larger budget",
        }
    }
    fn words(self) -> &'static str {
        match self {
            Kind::Memory => "host memory",
            Kind::Disk => "disk",
        }
    }
}

/// A charge that would take a job past its budget.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "job `{job}`: {what} would take its {} to {would} bytes, over its budget ({} = {limit}); the job holds more than it may — {}",
    kind.words(), kind.setting(), kind.advice()
)]
pub struct OverBudget {
    /// Job.
    pub job: String,
    /// Which budget.
    pub kind: Kind,
    /// What grew: "keyed state", "window contents", "batches in flight"…
    pub what: &'static str,
    /// The budget, bytes.
    pub limit: u64,
    /// What the job would hold with the charge, bytes.
    pub would: u64,
}

/// One budget of one job: a limit and what is used of it, shared by the
/// job's tasks.
#[derive(Debug)]
pub struct Budget {
    job: Arc<str>,
    kind: Kind,
    limit: u64,
    used: AtomicU64,
    peak: AtomicU64,
}

impl Budget {
    fn new(job: Arc<str>, kind: Kind, limit: Option<u64>) -> Self {
        Self {
            job,
            kind,
            limit: limit.unwrap_or(u64::MAX),
            used: AtomicU64::new(0),
            peak: AtomicU64::new(0),
        }
    }

    /// Take `bytes` more for `what`, or refuse (charging nothing) if that
    /// would pass the limit.
    pub fn charge(&self, what: &'static str, bytes: u64) -> Result<(), OverBudget> {
        let limit = self.limit;
        match self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                let after = u.saturating_add(bytes);
                (after <= limit).then_some(after)
            }) {
            Ok(before) => {
                self.peak.fetch_max(before + bytes, Ordering::Relaxed);
                Ok(())
            }
            Err(used) => Err(OverBudget {
                job: self.job.to_string(),
                kind: self.kind,
                what,
                limit,
                would: used.saturating_add(bytes),
            }),
        }
    }

    /// Give back `bytes`.
    pub fn release(&self, bytes: u64) {
        // Never below zero, whatever the bookkeeping.
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                Some(u.saturating_sub(bytes))
            });
    }

    /// Move from `old` bytes to `new` bytes for `what` (a gauge such as a
    /// database's size on disk): charges the growth, releases the shrink.
    pub fn resize(&self, what: &'static str, old: u64, new: u64) -> Result<(), OverBudget> {
        if new > old {
            self.charge(what, new - old)
        } else {
            self.release(old - new);
            Ok(())
        }
    }

    /// Bytes in use.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// The most ever in use.
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    /// The limit; `None` when unbounded.
    pub fn limit(&self) -> Option<u64> {
        (self.limit != u64::MAX).then_some(self.limit)
    }
}

/// A job's budgets.
#[derive(Debug)]
pub struct Budgets {
    /// Host memory: memory-backend state and timers, window contents,
    /// batches in flight.
    pub memory: Budget,
    /// Disk: RocksDB, checkpoints, file outputs, log.
    pub disk: Budget,
    /// Guest log lines.
    pub log: LogRate,
}

impl Budgets {
    /// Budgets of job `job`: host memory and disk in bytes, guest log in
    /// bytes per second; `None` is unbounded.
    pub fn new(
        job: &str,
        memory: Option<u64>,
        disk: Option<u64>,
        log_rate: Option<u64>,
    ) -> Arc<Budgets> {
        let job: Arc<str> = job.into();
        Arc::new(Budgets {
            memory: Budget::new(job.clone(), Kind::Memory, memory),
            disk: Budget::new(job.clone(), Kind::Disk, disk),
            log: LogRate::new(job, log_rate),
        })
    }

    /// Unbounded budgets (tests, tools): everything is counted, nothing refused.
    pub fn unbounded() -> Arc<Budgets> {
        Self::new("", None, None, None)
    }
}

/// Seconds' worth of log a guest may write at once.
pub const LOG_BURST_SECONDS: u64 = 16;

/// The guest log rate of a job: a token bucket of `rate` bytes per second,
/// holding up to [`LOG_BURST_SECONDS`] seconds' worth.
#[derive(Debug)]
pub struct LogRate {
    job: Arc<str>,
    rate: Option<u64>,
    bucket: std::sync::Mutex<(f64, std::time::Instant)>,
}

/// A job's guests logged more than its log rate allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "job `{job}`: log flood: its operators logged more than limits.log_rate = {rate} bytes/s (bursts up to {burst} bytes); log less, or ask for a higher rate"
)]
pub struct LogFlood {
    /// Job.
    pub job: String,
    /// Bytes per second.
    pub rate: u64,
    /// The most at once.
    pub burst: u64,
}

impl LogRate {
    fn new(job: Arc<str>, rate: Option<u64>) -> Self {
        let burst = rate.map_or(0, |r| r.saturating_mul(LOG_BURST_SECONDS));
        Self {
            job,
            rate,
            bucket: std::sync::Mutex::new((burst as f64, std::time::Instant::now())),
        }
    }

    /// Spend `bytes` of log, or refuse when the bucket is empty.
    pub fn spend(&self, bytes: u64) -> Result<(), LogFlood> {
        let Some(rate) = self.rate else {
            return Ok(());
        };
        let burst = rate.saturating_mul(LOG_BURST_SECONDS);
        let mut b = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        let now = std::time::Instant::now();
        let refill = now.duration_since(b.1).as_secs_f64() * rate as f64;
        b.0 = (b.0 + refill).min(burst as f64);
        b.1 = now;
        if b.0 < bytes as f64 {
            return Err(LogFlood {
                job: self.job.to_string(),
                rate,
                burst,
            });
        }
        b.0 -= bytes as f64;
        Ok(())
    }
}

/// Bytes held in a charge, given back when it is dropped: for things that
/// live as long as a value, such as a batch in a channel.
#[derive(Debug)]
pub struct Held {
    budgets: Arc<Budgets>,
    bytes: u64,
}

impl Held {
    /// Charge `bytes` of host memory for `what`, held until the result is dropped.
    pub fn memory(
        budgets: &Arc<Budgets>,
        what: &'static str,
        bytes: u64,
    ) -> Result<Held, OverBudget> {
        budgets.memory.charge(what, bytes)?;
        Ok(Held {
            budgets: budgets.clone(),
            bytes,
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budgets.memory.release(self.bytes);
    }
}

/// Bytes a map entry costs beyond its key and value: its share of a tree
/// node (two `Vec` headers and the node's slack) and the allocator's
/// headers. Measured: 108-140 bytes for keys of 16-64 bytes in a
/// `BTreeMap<Vec<u8>, Vec<u8>>` of 500,000 entries.
pub const ENTRY_OVERHEAD: u64 = 128;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_charge_takes_nothing_and_threads_share_one_budget() {
        let b = Budgets::new("j", Some(10_000), Some(5), None);
        assert!(b.disk.charge("outputs", 6).is_err());
        assert_eq!(b.disk.used(), 0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..1000 {
                        let _ = b.memory.charge("x", 10);
                    }
                });
            }
        });
        assert_eq!(b.memory.used(), 10_000, "exactly the limit, never past it");
        assert!(b.memory.peak() <= 10_000);
        b.memory.resize("x", 10_000, 4_000).unwrap();
        assert_eq!(b.memory.used(), 4_000);
    }

    #[test]
    fn a_log_flood_empties_the_bucket_and_a_trickle_does_not() {
        let b = Budgets::new("j", None, None, Some(1000));
        b.log.spend(16_000).unwrap();
        assert!(b.log.spend(1000).is_err(), "the burst is spent");
        std::thread::sleep(std::time::Duration::from_millis(200));
        b.log.spend(100).unwrap();
    }

    #[test]
    fn held_bytes_come_back_on_drop() {
        let b = Budgets::new("j", Some(100), None, None);
        let h = Held::memory(&b, "batches in flight", 80).unwrap();
        assert!(Held::memory(&b, "batches in flight", 80).is_err());
        drop(h);
        assert_eq!(b.memory.used(), 0);
    }
}
