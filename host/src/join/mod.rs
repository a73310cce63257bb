//! Joins of two keyed streams, with Flink's DataStream semantics.
//!
//! Both inputs arrive partitioned by their own key field, so a subtask sees
//! every record of the keys it owns, from both sides. Records are buffered
//! in the subtask's keyed-state backend ([`JoinState`]) until the watermark
//! says no partner can arrive any more: with `state.backend = "rocksdb"` a
//! join's buffers may be far larger than memory (and are charged to the
//! job's disk budget); in memory they are charged to its memory budget.
//!
//! - [`WindowJoin`]: every pair with equal keys in the same tumbling or
//!   sliding window, emitted when the window fires (watermark ≥ end − 1),
//!   with the window's last timestamp as its time, like Flink's
//!   `a.join(b).where(…).equalTo(…).window(…)`.
//! - [`IntervalJoin`]: every pair with equal keys where
//!   `left.ts + lower <= right.ts <= left.ts + upper`, emitted as soon as
//!   the second of the two arrives, with the later timestamp as its time,
//!   like Flink's `a.intervalJoin(b).between(lower, upper)`.
//! - A regular join (every pair with equal keys, Flink's join of two
//!   tables): [`RegularJoin`], its rows in a hash map, when the job's
//!   state is in memory; [`IntervalJoin::regular`] in RocksDB.
//!
//! A record that is late (Flink: every window it belongs to has fired; an
//! interval join: its time is below the watermark) joins nothing and goes
//! to the late output, never silently away.
//!
//! A joined record is one JSON object:
//!
//! ```json
//! {"key":"u1","left":{…},"right":{…}}                                   // interval
//! {"key":"u1","window_start":0,"window_end":10000,"left":{…},"right":{…}}  // window
//! ```

mod interval;
mod regular;
mod state;
mod window_join;

pub use interval::IntervalJoin;
pub use regular::RegularJoin;
pub use state::JoinState;
pub use window_join::WindowJoin;

use crate::budget::OverBudget;
use crate::event::{Event, Timestamp};
use crate::state::StateError;

/// Which input a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The first input (`join.left`).
    Left,
    /// The second input (`join.right`).
    Right,
}

impl Side {
    /// The side's byte in state keys.
    fn byte(self) -> u8 {
        match self {
            Side::Left => 0,
            Side::Right => 1,
        }
    }
}

/// Which sides of a regular join are kept whole (Flink SQL's outer
/// joins): a row of such a side with no partner is emitted padded with
/// `null`, and retracted when its first partner comes. Neither: an inner
/// join.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outer {
    /// `LEFT` or `FULL OUTER JOIN`.
    pub left: bool,
    /// `RIGHT` or `FULL OUTER JOIN`.
    pub right: bool,
}

impl Outer {
    /// `LEFT OUTER JOIN`.
    pub const LEFT: Outer = Outer {
        left: true,
        right: false,
    };
    /// `RIGHT OUTER JOIN`.
    pub const RIGHT: Outer = Outer {
        left: false,
        right: true,
    };
    /// `FULL OUTER JOIN`.
    pub const FULL: Outer = Outer {
        left: true,
        right: true,
    };

    /// A job file's `outer` setting (`left`, `right`, `full`; none is
    /// inner); `None` for anything else.
    pub fn parse(setting: Option<&str>) -> Option<Outer> {
        Some(match setting {
            None => Outer::default(),
            Some("left") => Outer::LEFT,
            Some("right") => Outer::RIGHT,
            Some("full") => Outer::FULL,
            Some(_) => return None,
        })
    }

    /// Its job file setting, [`Self::parse`]'s inverse: `None` for inner.
    pub fn setting(self) -> Option<&'static str> {
        match (self.left, self.right) {
            (true, true) => Some("full"),
            (true, false) => Some("left"),
            (false, true) => Some("right"),
            (false, false) => None,
        }
    }

    /// Is it an outer join (its records a changelog)?
    pub fn any(self) -> bool {
        self.left || self.right
    }

    /// Is `side` kept whole?
    pub fn keeps(self, side: Side) -> bool {
        match side {
            Side::Left => self.left,
            Side::Right => self.right,
        }
    }
}

/// Where a batch's records went besides the join's buffers.
#[derive(Debug, Default)]
pub struct JoinOutput {
    /// Joined records.
    pub results: Vec<Event>,
    /// Records that came after the watermark passed them.
    pub late: Vec<Event>,
}

/// Why a join could not go on.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// Its buffers, or what it keeps of them on the heap, passed the job's
    /// memory budget.
    #[error(transparent)]
    OverBudget(#[from] OverBudget),
    /// The state backend holding the buffers failed (or its disk budget
    /// ran out).
    #[error("join buffers: {0}")]
    State(#[from] StateError),
    /// A record came without the key its input is partitioned by (the
    /// runtime sets it; a bug if not).
    #[error("a record reached the join without its key")]
    NoKey,
    /// A checkpoint's `join.bin` could not be read.
    #[error("join state in the checkpoint is undecodable: {0}")]
    Undecodable(#[from] postcard::Error),
    /// A buffered entry in the state backend is not one this join wrote.
    #[error("a buffered join entry is malformed ({0} bytes)")]
    Malformed(usize),
}

/// A payload as a JSON value: a JSON object as it is, anything else as a
/// string.
fn json_value(out: &mut Vec<u8>, value: &[u8]) {
    let t = value.trim_ascii();
    if t.first() == Some(&b'{') && t.last() == Some(&b'}') {
        out.extend_from_slice(t);
    } else {
        let s = serde_json::to_string(&String::from_utf8_lossy(value)).unwrap_or_default();
        out.extend_from_slice(s.as_bytes());
    }
}

/// The joined record of `left` and `right` under `key`.
fn joined(key: &[u8], window: Option<(i64, i64)>, left: &[u8], right: &[u8]) -> Vec<u8> {
    write_joined(key, window, Some(left), Some(right), None)
}

/// A change to an outer join's result: `left` and `right` (`None`: the
/// side padded with `null`) under `key`, with its change in `_op`.
fn change(key: &[u8], left: Option<&[u8]>, right: Option<&[u8]>, op: &str, ts: Timestamp) -> Event {
    Event {
        key: Some(key.to_vec()),
        value: write_joined(key, None, left, right, Some(op)),
        timestamp: ts,
        headers: Vec::new(),
    }
}

/// `{"key":…[,"window_start":…,"window_end":…],"left":…,"right":…[,"_op":…]}`:
/// a side that is `None` is `null` (an outer join's padding), and `op`
/// is the row's change, if it has one.
fn write_joined(
    key: &[u8],
    window: Option<(i64, i64)>,
    left: Option<&[u8]>,
    right: Option<&[u8]>,
    op: Option<&str>,
) -> Vec<u8> {
    let size = left.map_or(4, <[u8]>::len) + right.map_or(4, <[u8]>::len);
    let mut out = Vec::with_capacity(size + key.len() + 64);
    out.extend_from_slice(b"{\"key\":");
    let k = serde_json::to_string(&String::from_utf8_lossy(key)).unwrap_or_default();
    out.extend_from_slice(k.as_bytes());
    if let Some((start, end)) = window {
        out.extend_from_slice(format!(",\"window_start\":{start},\"window_end\":{end}").as_bytes());
    }
    for (name, side) in [(&b",\"left\":"[..], left), (b",\"right\":", right)] {
        out.extend_from_slice(name);
        match side {
            Some(v) => json_value(&mut out, v),
            None => out.extend_from_slice(b"null"),
        }
    }
    if let Some(op) = op {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(crate::window::global::OP.as_bytes());
        out.extend_from_slice(b"\":\"");
        out.extend_from_slice(op.as_bytes());
        out.push(b'"');
    }
    out.push(b'}');
    out
}

/// A buffered record: its time and payload.
type Row<'a> = (Timestamp, &'a [u8]);

/// A joined event.
fn event(key: &[u8], window: Option<(i64, i64)>, left: Row, right: Row, ts: Timestamp) -> Event {
    Event {
        key: Some(key.to_vec()),
        value: joined(key, window, left.1, right.1),
        timestamp: ts,
        headers: Vec::new(),
    }
}

/// What the joins' tests build their records with and read their pairs by.
#[cfg(test)]
mod testing {
    use super::JoinOutput;
    use crate::event::Event;

    /// A record of key `key` at `ts` whose value is `{"v": v}`.
    pub fn ev(key: &str, ts: i64, v: i64) -> Event {
        Event {
            key: Some(key.as_bytes().to_vec()),
            value: format!("{{\"v\":{v}}}").into_bytes(),
            timestamp: ts,
            headers: vec![],
        }
    }

    /// The `(left v, right v)` of each joined record, sorted.
    pub fn pairs(out: &JoinOutput) -> Vec<(i64, i64)> {
        let mut p: Vec<(i64, i64)> = out
            .results
            .iter()
            .map(|e| {
                let v: serde_json::Value = serde_json::from_slice(&e.value).unwrap();
                (
                    v["left"]["v"].as_i64().unwrap(),
                    v["right"]["v"].as_i64().unwrap(),
                )
            })
            .collect();
        p.sort();
        p
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn joined_records_embed_objects_and_quote_the_rest() {
        let j = super::joined(b"u\"1", Some((0, 10)), br#"{"a":1}"#, b"plain");
        let v: serde_json::Value = serde_json::from_slice(&j).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"key":"u\"1","window_start":0,"window_end":10,"left":{"a":1},"right":"plain"})
        );
    }
}
