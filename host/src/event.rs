//! The record that flows through a job.
//!
//! It is the contract's `event` record itself, so handing a batch to a
//! component moves the records without converting them.

pub use crate::wasm::bindings::Event;

/// Event time in ms since the Unix epoch.
pub type Timestamp = i64;

/// The smallest watermark: nothing is known yet.
pub const MIN_WATERMARK: Timestamp = i64::MIN;
/// The watermark emitted at the end of a bounded input: fires every window.
pub const MAX_WATERMARK: Timestamp = i64::MAX;

/// A record with a payload and event time, no key or headers.
pub fn event(value: Vec<u8>, timestamp: Timestamp) -> Event {
    Event {
        key: None,
        value,
        timestamp,
        headers: Vec::new(),
    }
}
