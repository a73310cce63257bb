//! Work that comes and goes, for a background thread that has something
//! to do only while some of it runs: the Wasm engine's epoch ticker (only
//! a running guest call needs ticks) and the worker pool's stuck-poll
//! monitor (only a running poll can be stuck). Such a thread parks while
//! nothing runs, so a host of a thousand idle jobs does not wake a hundred
//! times a second to find nothing.
//!
//! The waiter reads the count and marks itself parked under one lock, and
//! the work that starts first after a quiet spell takes the same lock to
//! wake it: no start can slip past a thread that is about to park.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::{Duration, Instant};
//! use weir::activity::Activity;
//! let work = Arc::new(Activity::default());
//! let waiter = work.clone();
//! let t = std::thread::spawn(move || {
//!     let started = Instant::now();
//!     waiter.wait_for_work(Duration::from_secs(10));
//!     started.elapsed()
//! });
//! std::thread::sleep(Duration::from_millis(50));
//! let running = work.enter(); // wakes the waiter
//! assert!(t.join().unwrap() < Duration::from_secs(5));
//! drop(running);
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// A count of things running, and a thread waiting for the first.
#[derive(Debug, Default)]
pub struct Activity {
    running: AtomicUsize,
    /// A thread waits in [`Activity::wait_for_work`].
    parked: Mutex<bool>,
    wake: Condvar,
}

/// One thing running: see [`Activity::enter`].
#[derive(Debug)]
pub struct Running(Arc<Activity>);

impl Activity {
    /// Something starts: the first after none wakes the waiting thread.
    pub fn start(&self) {
        if self.running.fetch_add(1, Ordering::SeqCst) == 0 {
            let parked = self.parked.lock().unwrap_or_else(|p| p.into_inner());
            if *parked {
                self.wake.notify_one();
            }
        }
    }

    /// Something [`Activity::start`]ed ended.
    pub fn end(&self) {
        self.running.fetch_sub(1, Ordering::SeqCst);
    }

    /// Something starts, and ends when the guard is dropped.
    pub fn enter(self: &Arc<Self>) -> Running {
        self.start();
        Running(self.clone())
    }

    /// Return when something runs: at once if it does now, else when it
    /// starts, or after `most` (for a waiter that has other reasons to
    /// look now and then, such as its owner having ended).
    pub fn wait_for_work(&self, most: Duration) {
        let mut parked = self.parked.lock().unwrap_or_else(|p| p.into_inner());
        if self.running.load(Ordering::SeqCst) == 0 {
            *parked = true;
            parked = self
                .wake
                .wait_timeout(parked, most)
                .unwrap_or_else(|p| p.into_inner())
                .0;
            *parked = false;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_waiter_returns_at_once_while_work_runs_and_after_its_limit_when_none_does() {
        let work = Arc::new(Activity::default());
        let t = Instant::now();
        work.wait_for_work(Duration::from_millis(30));
        assert!(t.elapsed() >= Duration::from_millis(30));
        let running = work.enter();
        let t = Instant::now();
        work.wait_for_work(Duration::from_secs(10));
        assert!(t.elapsed() < Duration::from_secs(5));
        drop(running);
        let t = Instant::now();
        work.wait_for_work(Duration::from_millis(30));
        assert!(t.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn no_start_slips_past_a_parking_waiter() {
        // Starts racing the waiter's parking, many times: each must wake
        // it long before its limit.
        for _ in 0..200 {
            let work = Arc::new(Activity::default());
            let waiter = work.clone();
            let t = std::thread::spawn(move || {
                let started = Instant::now();
                waiter.wait_for_work(Duration::from_secs(20));
                started.elapsed()
            });
            work.start();
            assert!(t.join().unwrap() < Duration::from_secs(10));
            work.end();
        }
    }
}
