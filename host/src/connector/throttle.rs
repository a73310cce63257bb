//! A rate limit for sources that can go faster than wanted (replaying a
//! file, generating data), releasing whole batches only: batch boundaries
//! decide when the watermark advances, so they must not depend on timing,
//! or a throttled (or resumed) run would give other results than a
//! full-speed one.

use std::time::{Duration, Instant};

/// The longest [`Throttle::ready`] waits before it says "not yet".
pub const MAX_WAIT: Duration = Duration::from_millis(100);

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

    /// May `n` more records go out after `done`? If not, waits until they
    /// may, but at most [`MAX_WAIT`] (so the caller can report idle, inject
    /// barriers and notice a stop), and says no.
    pub fn ready(&self, done: u64, n: u64) -> bool {
        if self.rate == 0 {
            return true;
        }
        let elapsed = self.started.elapsed().as_secs_f64();
        let allowed = (elapsed * self.rate as f64) as u64;
        if allowed >= done + n {
            return true;
        }
        // Sleeping to the batch's time rather than polling every
        // millisecond: a host with many slow jobs would otherwise spend its
        // CPU waking their sources.
        let due = (done + n) as f64 / self.rate as f64 - elapsed;
        std::thread::sleep(Duration::from_secs_f64(
            due.clamp(0.001, MAX_WAIT.as_secs_f64()),
        ));
        false
    }

    /// Continue at `done` records, as if they had gone out at the rate.
    pub fn resume(&mut self, done: u64) {
        if self.rate > 0 {
            let ahead = Duration::from_secs_f64(done as f64 / self.rate as f64);
            self.started = Instant::now().checked_sub(ahead).unwrap_or(self.started);
        }
    }
}
