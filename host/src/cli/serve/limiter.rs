//! Failed authentications per source address, for [`super::auth`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Addresses remembered at most (older windows are dropped first), so a
/// flood from many addresses cannot grow the table without end.
const MAX_ADDRESSES: usize = 65_536;

/// Failed authentications per source address.
pub struct AuthLimiter {
    pub(super) max_failures: u32,
    pub(super) window: Duration,
    by_address: Mutex<HashMap<IpAddr, Failures>>,
}

#[derive(Clone, Copy)]
struct Failures {
    since: Instant,
    count: u32,
}

impl AuthLimiter {
    /// At most `max_failures` failed attempts per address within `window`.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures,
            window,
            by_address: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Failures>> {
        self.by_address.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long `ip` must still wait, if it is blocked.
    pub(super) fn blocked(&self, ip: IpAddr) -> Option<Duration> {
        let mut map = self.lock();
        let f = *map.get(&ip)?;
        let passed = f.since.elapsed();
        if passed >= self.window {
            map.remove(&ip);
            return None;
        }
        (f.count >= self.max_failures).then(|| self.window - passed)
    }

    /// Count a failure of `ip`; returns its failures in this window.
    pub(super) fn fail(&self, ip: IpAddr) -> u32 {
        let mut map = self.lock();
        if map.len() >= MAX_ADDRESSES && !map.contains_key(&ip) {
            let window = self.window;
            map.retain(|_, f| f.since.elapsed() < window);
            if map.len() >= MAX_ADDRESSES
                && let Some(oldest) = map.iter().min_by_key(|(_, f)| f.since).map(|(k, _)| *k)
            {
                map.remove(&oldest);
            }
        }
        let f = map.entry(ip).or_insert(Failures {
            since: Instant::now(),
            count: 0,
        });
        if f.since.elapsed() >= self.window {
            *f = Failures {
                since: Instant::now(),
                count: 0,
            };
        }
        f.count += 1;
        f.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_blocked_after_its_failures_and_freed_after_the_window() {
        let l = AuthLimiter::new(3, Duration::from_millis(200));
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..3 {
            assert!(l.blocked(a).is_none());
            l.fail(a);
        }
        assert!(l.blocked(a).is_some());
        assert!(l.blocked(b).is_none(), "another address is not blocked");
        std::thread::sleep(Duration::from_millis(250));
        assert!(l.blocked(a).is_none());
    }
}
