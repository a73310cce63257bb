//! Per-key timers, ordered by time then key so they fire deterministically.

use std::collections::BTreeSet;

/// Which clock a timer follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// Fires when the watermark reaches it.
    EventTime,
    /// Fires when the host's clock reaches it.
    ProcessingTime,
}

/// The pending timers of one keyed subtask. Registering the same (time, key)
/// twice yields one timer, as in Flink.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct TimerService {
    event: BTreeSet<(i64, Vec<u8>)>,
    processing: BTreeSet<(i64, Vec<u8>)>,
}

impl TimerService {
    fn set(&mut self, domain: Domain) -> &mut BTreeSet<(i64, Vec<u8>)> {
        match domain {
            Domain::EventTime => &mut self.event,
            Domain::ProcessingTime => &mut self.processing,
        }
    }

    /// Add a timer.
    pub fn register(&mut self, domain: Domain, at: i64, key: Vec<u8>) {
        self.set(domain).insert((at, key));
    }

    /// Remove a timer, if present.
    pub fn delete(&mut self, domain: Domain, at: i64, key: &[u8]) {
        self.set(domain).remove(&(at, key.to_vec()));
    }

    /// Remove and return every timer due at or before `time`, in order.
    ///
    /// ```
    /// use weir::window::timers::{Domain, TimerService};
    /// let mut t = TimerService::default();
    /// t.register(Domain::EventTime, 20, b"b".to_vec());
    /// t.register(Domain::EventTime, 10, b"a".to_vec());
    /// t.register(Domain::EventTime, 30, b"c".to_vec());
    /// let due = t.take_due(Domain::EventTime, 20);
    /// assert_eq!(due, vec![(10, b"a".to_vec()), (20, b"b".to_vec())]);
    /// assert_eq!(t.len(), 1);
    /// ```
    pub fn take_due(&mut self, domain: Domain, time: i64) -> Vec<(i64, Vec<u8>)> {
        let set = self.set(domain);
        let later = match time.checked_add(1) {
            Some(next) => set.split_off(&(next, Vec::new())),
            None => BTreeSet::new(),
        };
        std::mem::replace(set, later).into_iter().collect()
    }

    /// The timers, for a checkpoint.
    pub fn snapshot(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("timers serialize")
    }

    /// Add the timers in `bytes` (from [`TimerService::snapshot`]) whose key
    /// `keep` accepts (rescaling splits timers by key group, like state).
    pub fn restore(&mut self, bytes: &[u8], keep: &dyn Fn(&[u8]) -> bool) -> Result<(), String> {
        let saved: TimerService = postcard::from_bytes(bytes).map_err(|e| e.to_string())?;
        self.event
            .extend(saved.event.into_iter().filter(|(_, k)| keep(k)));
        self.processing
            .extend(saved.processing.into_iter().filter(|(_, k)| keep(k)));
        Ok(())
    }

    /// Pending timers in both domains.
    pub fn len(&self) -> usize {
        self.event.len() + self.processing.len()
    }

    /// No timers pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
