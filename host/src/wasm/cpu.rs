//! CPU time of a guest call.
//!
//! `limits.call_timeout` bounds the CPU time one call takes on its thread:
//! the guest's own code plus the host work it asks for during the call
//! (state reads and writes, timers, logs), measured with the thread's CPU
//! clock. Time the thread spends waiting for a core does not count, so a
//! well-behaved guest on a saturated machine is not stopped for the
//! machine's load, while a guest that spins is stopped once it has had its
//! quota of CPU — within one epoch tick (10 ms) of it.
//!
//! The check runs at epoch deadlines (see `instance`): a call starts with a
//! deadline as many ticks away as it has CPU time, and at each deadline the
//! guest is given the ticks it has left, or interrupted. Wall time is never
//! shorter than CPU time on one thread, so a deadline never comes too late.

use std::time::Duration;

/// This thread's CPU time so far.
pub fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        t.tv_sec.max(0) as u64,
        t.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// The CPU clock of the call in progress on an instance.
#[derive(Debug, Default)]
pub struct CpuDeadline {
    started: Duration,
    /// Set when a call was interrupted for its CPU time: how much it used.
    pub exhausted: Option<Duration>,
}

impl CpuDeadline {
    /// A call begins on this thread.
    pub fn start(&mut self) {
        self.started = thread_cpu();
        self.exhausted = None;
    }

    /// CPU time used by the call so far.
    pub fn used(&self) -> Duration {
        thread_cpu().saturating_sub(self.started)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_clock_counts_work_and_not_sleep() {
        let mut c = CpuDeadline::default();
        c.start();
        std::thread::sleep(Duration::from_millis(100));
        assert!(c.used() < Duration::from_millis(50), "{:?}", c.used());
        // Work until the clock says 60 ms: it must get there (on a busy
        // machine, in more wall time than that).
        let t = std::time::Instant::now();
        let mut x = 0u64;
        while c.used() < Duration::from_millis(60) {
            for _ in 0..10_000 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            assert!(t.elapsed() < Duration::from_secs(10), "{:?}", c.used());
        }
    }
}
