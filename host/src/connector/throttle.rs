//! A rate limit for sources that can go faster than wanted (replaying a
//! file, generating data), releasing whole batches only: batch boundaries
//! decide when the watermark advances, so they must not depend on timing,
//! or a throttled (or resumed) run would give other results than a
//! full-speed one.

use std::time::{Duration, Instant};

/// Releases records at `rate` per second, counted from the start.
#[derive(Debug, Clone)]
pub struct Throttle {
    rate: u64,
    started: Instant,
}

impl Throttle {
    /// A throttle; `rate` 0 means unlimited.
    pub fn new(rate: u64) -> Self {
        Self {
            rate,
            started: Instant::now(),
        }
    }

    /// May `n` more records go out after `done`? If not, when they may.
    /// (It never sleeps: the source task waits, without holding a worker,
    /// and notices barriers and stops meanwhile.)
    pub fn ready(&self, done: u64, n: u64) -> Result<(), Instant> {
        if self.rate == 0 {
            return Ok(());
        }
        let elapsed = self.started.elapsed().as_secs_f64();
        let allowed = (elapsed * self.rate as f64) as u64;
        if allowed >= done + n {
            return Ok(());
        }
        let due = (done + n) as f64 / self.rate as f64;
        Err(self.started + Duration::from_secs_f64(due))
    }

    /// Continue at `done` records, as if they had gone out at the rate.
    pub fn resume(&mut self, done: u64) {
        if self.rate > 0 {
            let ahead = Duration::from_secs_f64(done as f64 / self.rate as f64);
            self.started = Instant::now().checked_sub(ahead).unwrap_or(self.started);
        }
    }
}
