//! How a window store keeps its contents in a keyed-state backend.
//!
//! Backend layout (key group first, like all keyed state, so rescaling moves
//! whole key groups):
//!
//! ```text
//! [kg][PANE][end][start][key]      → accumulator
//! [kg][SESSIONS][key]              → the key's sessions and accumulators
//! [kg][SESSION_INDEX][end][start][key] → ()   (sessions ordered by end, to fire them)
//! ```
//!
//! Times are big-endian with the sign bit flipped, so byte order is time
//! order.

use super::super::TimeWindow;
use super::super::aggregate::{SavedSlot, Slot};
use super::Sessions;
use crate::budget::ENTRY_OVERHEAD;
use crate::state::{StateError, key_group_of, time_bytes};

const PANE: u8 = 0x10;
const SESSIONS: u8 = 0x11;
pub(super) const SESSION_INDEX: u8 = 0x12;

fn window_bytes(w: TimeWindow) -> [u8; 16] {
    let mut b = [0; 16];
    b[..8].copy_from_slice(&time_bytes(w.end));
    b[8..].copy_from_slice(&time_bytes(w.start));
    b
}

pub(super) fn window_from(b: &[u8]) -> TimeWindow {
    let t = |b: &[u8]| (u64::from_be_bytes(b.try_into().unwrap_or([0; 8])) ^ (1 << 63)) as i64;
    TimeWindow {
        end: t(&b[..8]),
        start: t(&b[8..16]),
    }
}

pub(super) fn tagged(kg: u16, tag: u8) -> Vec<u8> {
    let mut k = Vec::with_capacity(3 + 16 + 32);
    k.extend_from_slice(&kg.to_be_bytes());
    k.push(tag);
    k
}

pub(super) fn pane_prefix(kg: u16, w: TimeWindow) -> Vec<u8> {
    let mut k = tagged(kg, PANE);
    k.extend_from_slice(&window_bytes(w));
    k
}

pub(in crate::window) fn pane_key(w: TimeWindow, key: &[u8]) -> Vec<u8> {
    let mut k = pane_prefix(key_group_of(key), w);
    k.extend_from_slice(key);
    k
}

pub(super) fn sessions_key(key: &[u8]) -> Vec<u8> {
    let mut k = tagged(key_group_of(key), SESSIONS);
    k.extend_from_slice(key);
    k
}

/// Bytes of a session's entry in the heap index.
pub(in crate::window) fn index_bytes(key: &[u8]) -> u64 {
    key.len() as u64 + 16 + ENTRY_OVERHEAD
}

pub(super) fn index_key(w: TimeWindow, key: &[u8]) -> Vec<u8> {
    let mut k = tagged(key_group_of(key), SESSION_INDEX);
    k.extend_from_slice(&window_bytes(w));
    k.extend_from_slice(key);
    k
}

pub(super) fn encode<T: serde::Serialize>(v: &T) -> Vec<u8> {
    postcard::to_stdvec(v).expect("window state serializes")
}

pub(super) fn decode<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, StateError> {
    postcard::from_bytes(bytes).map_err(|e| StateError::Backend {
        backend: "window store",
        message: format!("undecodable window state: {e}"),
    })
}

pub(super) fn save_sessions(v: &Sessions) -> Vec<u8> {
    let saved: Vec<((i64, i64), SavedSlot)> = v
        .iter()
        .map(|(w, s)| ((w.start, w.end), s.save()))
        .collect();
    encode(&saved)
}

pub(super) fn load_sessions(bytes: &[u8]) -> Result<Sessions, StateError> {
    let saved: Vec<((i64, i64), SavedSlot)> = decode(bytes)?;
    Ok(saved
        .into_iter()
        .map(|((start, end), s)| (TimeWindow { start, end }, Slot::load(s)))
        .collect())
}
