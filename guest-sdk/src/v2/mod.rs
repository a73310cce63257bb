//! Operators over typed columns: the `weir:dataflow@0.2.0` contract.
//!
//! A batch arrives as columns (one list per column, no JSON), and your
//! function still sees one plain struct per record:
//!
//! ```ignore
//! #[derive(weir_guest::v2::Record)]
//! struct Transaction<'a> { ts: i64, user: &'a str, amount: f64 }
//!
//! #[derive(weir_guest::v2::Record)]
//! struct Payment<'a> { user: &'a str, cents: i64 }
//!
//! /// Payments of 50 or more, in cents.
//! #[weir_guest::v2::map]
//! fn big(tx: Transaction) -> Option<Payment> {
//!     (tx.amount >= 50.0).then(|| Payment { user: tx.user, cents: (tx.amount * 100.0) as i64 })
//! }
//! ```
//!
//! At `init` the host hands over its schema; the operator asks for the
//! columns its input struct names (matched by name, types checked then,
//! before any record flows) and declares the schema of what it emits. Per
//! batch, the input struct's fields are read straight from the columns
//! (`&str` fields borrow the batch's text, no copy), and the outputs are
//! written into one buffer per column, each output row naming the input
//! row it came from (the host carries event time and key along). A filter
//! answers with the rows it keeps. `Err` for a record rejects that record.
//!
//! | macro | goes on |
//! |---|---|
//! | [`Record`] (derive) | a struct of `i64`, `i32`, `f64`, `f32`, `bool`, `String`, `&str`, `Vec<u8>`, a `Vec` of the owned ones (`Vec<String>`: a list column), or `Option` of those |
//! | [`map`] | `fn(In) -> Out`, `Option<Out>` or a `Result` of either |
//! | [`flat_map`] | `fn(In) -> Vec<Out>` or `Result<Vec<Out>, E>` |
//! | [`filter`] | `fn(&In) -> bool` or `Result<bool, E>` |
//! | [`scalar`] | `fn(a: A, b: B, …) -> R` or `Result<R, E>`: a SQL function (`CREATE FUNCTION … LANGUAGE WASM`) |
//! | [`keyed`] | `impl Keyed for T` (a keyed process function, state and timers in the host) |
//! | [`aggregate`] | `impl Aggregate for T` (a window aggregate function) |

mod aggregate;
mod builders;
mod columns;
mod keyed;
mod lists;
mod record;
mod transform;

/// Host-owned keyed state over the 0.2 contract: the same handles, and the
/// same stored values, as [`crate::ValueState`] and friends.
mod state {
    crate::state::state_handles!(super::bindings::weir::dataflow::state);
}
pub use state::{ListState, MapState, ValueState};

pub use aggregate::{Aggregate, Window};
pub use builders::{
    BinaryBuilder, BooleanBuilder, Borrowed, BorrowedBinary, BorrowedUtf8, ColumnBuilder,
    Float32Builder, Float64Builder, Int32Builder, Int64Builder, ItemBuilder, Nullable, Origin,
    Utf8Builder, VarBuilder,
};
pub use columns::{ColumnView, Data, Items, Offsets, Reader};
pub use keyed::{Context, Keyed, Timer};
pub use lists::{ListBuilder, Lists};
pub use record::{Bytes, FromColumn, Integers, Numbers, Record, Text, ToColumn};
pub use weir_guest_macros::{
    Record, aggregate_v2 as aggregate, filter_v2 as filter, flat_map_v2 as flat_map,
    keyed_v2 as keyed, map_v2 as map, scalar_v2 as scalar,
};
/// The clock a timer follows.
pub type TimeDomain = bindings::weir::dataflow::types::TimeDomain;

/// Bindings of the 0.2 contract's imports and types, shared by every
/// operator in the crate.
#[doc(hidden)]
pub mod bindings {
    #![allow(missing_docs)]
    wit_bindgen::generate!({
        path: "../wit/v0.2",
        world: "weir:dataflow/host-imports@0.2.0",
        generate_unused_types: true,
    });
}

/// What the macro-generated code needs; not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use super::aggregate::{aggregate_add, aggregate_finish, aggregate_init, aggregate_merge};
    pub use super::bindings::weir::dataflow::types::{
        AggregateSpec, Batch, Column, Fired, FiredTimers, Groups, KeyedSpec, OperatorError,
        OperatorSpec, OutputBatch, Schema, TransformOutput, VarData,
    };
    pub use super::keyed::{keyed_init, keyed_on_timer, keyed_process};
    pub use super::record::field;
    pub use super::transform::{
        FilterReturn, Mapped, batch_error, init, scalar_init, select, views,
    };
}
