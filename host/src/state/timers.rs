//! Per-key timers of a keyed subtask, kept in its state backend (so they
//! are checkpointed, rescaled by key group and, with RocksDB, not bounded
//! by memory), ordered by time then key so they fire deterministically.
//!
//! Layout: `[key group][TIMER][domain][time][key] → ()`, time big-endian
//! with the sign bit flipped so byte order is time order. Registering the
//! same (time, key) twice yields one timer, as in Flink.

use super::{
    KeyGroups, KeyedStateBackend, MAX_PARALLELISM, StateError, key_group_of, prefix_end, time_bytes,
};

const TIMER: u8 = 0x13;

/// Which clock a timer follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// Fires when the watermark reaches it.
    EventTime,
    /// Fires when the host's clock reaches it.
    ProcessingTime,
}

impl Domain {
    fn tag(self) -> u8 {
        match self {
            Domain::EventTime => 0,
            Domain::ProcessingTime => 1,
        }
    }
}

fn prefix(kg: u16, domain: Domain) -> Vec<u8> {
    let mut k = Vec::with_capacity(4 + 8 + 32);
    k.extend_from_slice(&kg.to_be_bytes());
    k.push(TIMER);
    k.push(domain.tag());
    k
}

fn timer_key(domain: Domain, at: i64, key: &[u8]) -> Vec<u8> {
    let mut k = prefix(key_group_of(key), domain);
    k.extend_from_slice(&time_bytes(at));
    k.extend_from_slice(key);
    k
}

/// The timers of one keyed subtask: which key groups to look in.
#[derive(Debug, Clone)]
pub struct Timers {
    groups: Vec<u16>,
}

impl Timers {
    /// The timers of keyed subtask `subtask` of `parallelism`.
    pub fn new(subtask: usize, parallelism: usize) -> Self {
        let kg = KeyGroups { parallelism };
        Timers {
            groups: (0..MAX_PARALLELISM)
                .filter(|g| kg.subtask_of(*g) == subtask)
                .collect(),
        }
    }

    /// Add a timer.
    pub fn register(
        &self,
        backend: &mut dyn KeyedStateBackend,
        domain: Domain,
        at: i64,
        key: &[u8],
    ) -> Result<(), StateError> {
        backend.put(timer_key(domain, at, key), Vec::new())
    }

    /// Remove a timer, if present.
    pub fn delete(
        &self,
        backend: &mut dyn KeyedStateBackend,
        domain: Domain,
        at: i64,
        key: &[u8],
    ) -> Result<(), StateError> {
        backend.delete(&timer_key(domain, at, key))
    }

    /// Remove and return every timer due at or before `time`, in (time,
    /// key) order.
    ///
    /// ```
    /// use weir::state::MemoryBackend;
    /// use weir::state::timers::{Domain, Timers};
    /// let (mut b, t) = (MemoryBackend::new(), Timers::new(0, 1));
    /// t.register(&mut b, Domain::EventTime, 20, b"b").unwrap();
    /// t.register(&mut b, Domain::EventTime, 10, b"a").unwrap();
    /// t.register(&mut b, Domain::EventTime, 30, b"c").unwrap();
    /// let due = t.take_due(&mut b, Domain::EventTime, 20).unwrap();
    /// assert_eq!(due, vec![(10, b"a".to_vec()), (20, b"b".to_vec())]);
    /// assert_eq!(t.take_due(&mut b, Domain::EventTime, 20).unwrap(), vec![]);
    /// ```
    pub fn take_due(
        &self,
        backend: &mut dyn KeyedStateBackend,
        domain: Domain,
        time: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>, StateError> {
        let mut due = Vec::new();
        for &kg in &self.groups {
            let p = prefix(kg, domain);
            let to = match time.checked_add(1) {
                Some(next) => {
                    let mut to = p.clone();
                    to.extend_from_slice(&time_bytes(next));
                    to
                }
                None => prefix_end(&p).expect("tag is not 0xff"),
            };
            for (k, _) in backend.scan_range(&p, &to)? {
                let at = (u64::from_be_bytes(k[p.len()..p.len() + 8].try_into().unwrap_or([0; 8]))
                    ^ (1 << 63)) as i64;
                due.push((at, k[p.len() + 8..].to_vec()));
                backend.delete(&k)?;
            }
        }
        due.sort_unstable();
        Ok(due)
    }
}
