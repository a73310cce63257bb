//! Window aggregate functions: the host keeps one accumulator per (key,
//! window) in its state backend, as bytes; this module (de)serializes them as
//! JSON around the user's typed functions.

use crate::bindings::weir::dataflow::types::{Accumulate, FinishInput, OperatorError};
use crate::error::operator_error;
use crate::{Error, Event, Window};
use serde::{Serialize, de::DeserializeOwned};

/// A window aggregate, exported with `#[weir_guest::aggregate]`.
///
/// ```no_run
/// use weir_guest::{Error, Event, Window};
///
/// struct Pages;
/// #[weir_guest::aggregate]
/// impl weir_guest::Aggregate for Pages {
///     type Acc = Vec<String>;
///     type Out = serde_json::Value;
///     fn add(acc: &mut Vec<String>, e: &Event) -> Result<(), Error> {
///         acc.push(e.json::<serde_json::Value>()?["page"].to_string());
///         Ok(())
///     }
///     fn merge(mut a: Vec<String>, b: Vec<String>) -> Vec<String> { a.extend(b); a }
///     fn finish(acc: Vec<String>, _key: &[u8], _w: Window) -> serde_json::Value {
///         serde_json::json!({ "pages": acc })
///     }
/// }
/// # fn main() {}
/// ```
pub trait Aggregate {
    /// The accumulator; `Default` is the empty one.
    type Acc: Serialize + DeserializeOwned + Default;
    /// The result record's payload.
    type Out: Serialize;
    /// Add one event. An `Err` fails the job (the host cannot route one record
    /// of a window to a dead letter after accepting it).
    fn add(acc: &mut Self::Acc, event: &Event) -> Result<(), Error>;
    /// Merge two accumulators (session windows that grow together).
    fn merge(a: Self::Acc, b: Self::Acc) -> Self::Acc;
    /// The result for one key and window.
    fn finish(acc: Self::Acc, key: &[u8], window: Window) -> Self::Out;
}

fn load<A: Aggregate>(bytes: &[u8]) -> Result<A::Acc, OperatorError> {
    serde_json::from_slice(bytes).map_err(|e| operator_error(format_args!("accumulator: {e}")))
}

fn store<T: Serialize>(value: &T) -> Result<Vec<u8>, OperatorError> {
    serde_json::to_vec(value).map_err(|e| operator_error(format_args!("accumulator: {e}")))
}

/// The batch loop behind `add`.
pub fn aggregate_add<A: Aggregate>(inputs: Vec<Accumulate>) -> Result<Vec<Vec<u8>>, OperatorError> {
    inputs
        .into_iter()
        .map(|input| {
            let mut acc = match input.acc {
                Some(bytes) => load::<A>(&bytes)?,
                None => A::Acc::default(),
            };
            for event in &input.events {
                A::add(&mut acc, event).map_err(|e| operator_error(format_args!("add: {e}")))?;
            }
            store(&acc)
        })
        .collect()
}

/// The batch loop behind `merge`.
pub fn aggregate_merge<A: Aggregate>(
    pairs: Vec<(Vec<u8>, Vec<u8>)>,
) -> Result<Vec<Vec<u8>>, OperatorError> {
    pairs
        .into_iter()
        .map(|(a, b)| store(&A::merge(load::<A>(&a)?, load::<A>(&b)?)))
        .collect()
}

/// The batch loop behind `finish`.
pub fn aggregate_finish<A: Aggregate>(
    inputs: Vec<FinishInput>,
) -> Result<Vec<Vec<u8>>, OperatorError> {
    inputs
        .into_iter()
        .map(|input| store(&A::finish(load::<A>(&input.acc)?, &input.key, input.window)))
        .collect()
}
