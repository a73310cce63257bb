//! Write [weir](https://example.invalid/weir) stream operators in Rust.
//!
//! An operator is **one plain function** (map, filter, flat-map) or **a small
//! trait impl** (keyed process function, window aggregate) behind an attribute
//! macro. The macro checks the signature, generates the component bindings
//! for the right world of the `weir:dataflow` contract and loops over each
//! batch for you: the host calls the component once per batch of ~1,000
//! records, never once per record.
//!
//! ```no_run
//! use weir_guest::{Event, Error};
//!
//! /// Keep purchases of 100 or more.
//! #[weir_guest::filter]
//! fn big_purchases(event: &Event) -> Result<bool, Error> {
//!     let tx: serde_json::Value = event.json()?;
//!     Ok(tx["amount"].as_f64().unwrap_or(0.0) >= 100.0)
//! }
//! # fn main() {}
//! ```
//!
//! Build it with `weir build path/to/crate` (a `cdylib` crate compiled for
//! `wasm32-wasip2`). State lives in the host ([`ValueState`], [`MapState`],
//! [`ListState`]), never in the guest, so it is checkpointed and survives
//! restarts and live swaps.
//!
//! | macro | goes on | world |
//! |---|---|---|
//! | [`map`] | `fn(Event) -> Event`, `Option<Event>` or `Result<_, E>` | `transform` |
//! | [`filter`] | `fn(&Event) -> bool` or `Result<bool, E>` | `transform` |
//! | [`flat_map`] | `fn(Event) -> Vec<Event>` or `Result<Vec<Event>, E>` | `transform` |
//! | [`keyed`] | `impl Keyed for T` | `keyed` |
//! | [`aggregate`] | `impl Aggregate for T` | `aggregate` |

mod aggregate;
mod config;
mod error;
mod event;
mod keyed;
pub mod log;
mod state;
mod transform;
pub mod v2;

pub use aggregate::Aggregate;
pub use config::config;
pub use error::Error;
pub use keyed::{Context, Keyed, Timer};
pub use state::{ListState, MapState, ValueState};
pub use weir_guest_macros::{aggregate, filter, flat_map, keyed, map};

/// An event: key, payload (`value`, JSON by default), event time, headers.
pub type Event = bindings::weir::dataflow::types::Event;
/// A window `[start, end)` in event-time milliseconds.
pub type Window = bindings::weir::dataflow::types::Window;
/// The clock a timer follows.
pub type TimeDomain = bindings::weir::dataflow::types::TimeDomain;

/// Bindings of the contract's imports, shared by every operator in the crate.
/// The macros generate the export side in the operator's own crate and point
/// it here for the types.
#[doc(hidden)]
pub mod bindings {
    #![allow(missing_docs)]
    wit_bindgen::generate!({
        path: "../wit",
        world: "weir:dataflow/host-imports",
        generate_unused_types: true,
    });
}

/// What the macro-generated code needs; not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use crate::aggregate::{aggregate_add, aggregate_finish, aggregate_merge};
    pub use crate::config::init;
    pub use crate::keyed::{keyed_on_timer, keyed_process};
    pub use crate::transform::{
        FilterReturn, FlatMapReturn, MapReturn, run_filter, run_flat_map, run_map,
    };
    pub use wit_bindgen;
}
