//! Key groups and the byte layout of state keys.

/// Key groups per job: the unit in which keyed state moves between subtasks
/// (and later between hosts). Fixed for the life of a job's state, like
/// Flink's max parallelism.
pub const MAX_PARALLELISM: u16 = 128;

/// The key group of a key: a stable hash (FNV-1a, so it never changes across
/// versions or platforms — it is persisted in checkpoints) modulo the number
/// of key groups.
///
/// ```
/// let g = weir::state::key_group_of(b"alice");
/// assert!(g < 128);
/// assert_eq!(g, weir::state::key_group_of(b"alice"));
/// ```
pub fn key_group_of(key: &[u8]) -> u16 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // Mix the high bits in: FNV's low bits are weak for short keys.
    h ^= h >> 33;
    (h % u64::from(MAX_PARALLELISM)) as u16
}

/// Which key groups a subtask owns: a contiguous range, as in Flink, so
/// rescaling splits or joins ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyGroups {
    /// Subtasks of the stage.
    pub parallelism: usize,
}

impl KeyGroups {
    /// The subtask that owns `key_group`.
    ///
    /// ```
    /// use weir::state::KeyGroups;
    /// let kg = KeyGroups { parallelism: 4 };
    /// assert_eq!(kg.subtask_of(0), 0);
    /// assert_eq!(kg.subtask_of(127), 3);
    /// ```
    pub fn subtask_of(&self, key_group: u16) -> usize {
        usize::from(key_group) * self.parallelism / usize::from(MAX_PARALLELISM)
    }

    /// The subtask that owns `key`.
    pub fn subtask_of_key(&self, key: &[u8]) -> usize {
        self.subtask_of(key_group_of(key))
    }
}

/// Time as bytes that sort like the numbers: big-endian with the sign bit
/// flipped (windows and timers are keyed by time).
///
/// ```
/// use weir::state::time_bytes;
/// assert!(time_bytes(-1) < time_bytes(0) && time_bytes(0) < time_bytes(i64::MAX));
/// ```
pub fn time_bytes(t: i64) -> [u8; 8] {
    ((t as u64) ^ (1 << 63)).to_be_bytes()
}

/// The kind of a piece of state; part of the key so a value-state and a
/// map-state of the same name never collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum StateKind {
    /// `value-state`.
    Value = 1,
    /// `map-state`.
    Map = 2,
    /// `list-state`.
    List = 3,
}

/// The storage key of `name`'s state for `key` (a prefix for map state:
/// append the map key).
pub fn state_key(kind: StateKind, name: &str, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + 1 + 1 + name.len() + 4 + key.len() + 16);
    k.extend_from_slice(&key_group_of(key).to_be_bytes());
    k.push(kind as u8);
    k.push(name.len() as u8);
    k.extend_from_slice(name.as_bytes());
    k.extend_from_slice(&(key.len() as u32).to_be_bytes());
    k.extend_from_slice(key);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_groups_spread_and_ranges_cover_all_subtasks() {
        let mut seen = [0usize; MAX_PARALLELISM as usize];
        for i in 0..10_000 {
            seen[key_group_of(format!("user-{i}").as_bytes()) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 30), "uneven key groups: {seen:?}");
        let kg = KeyGroups { parallelism: 3 };
        let owners: std::collections::BTreeSet<_> =
            (0..MAX_PARALLELISM).map(|g| kg.subtask_of(g)).collect();
        assert_eq!(owners.into_iter().collect::<Vec<_>>(), vec![0, 1, 2]);
    }

    #[test]
    fn kinds_and_names_do_not_collide() {
        assert_ne!(
            state_key(StateKind::Value, "a", b"k"),
            state_key(StateKind::Map, "a", b"k")
        );
        assert_ne!(
            state_key(StateKind::Value, "ab", b"k"),
            state_key(StateKind::Value, "a", b"bk")
        );
    }
}
