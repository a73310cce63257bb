//! The batch loops behind `#[map]`, `#[filter]` and `#[flat_map]`.
//!
//! The user's function sees one event at a time; the loop runs inside the
//! guest so the boundary is crossed once per batch. An `Err` for one record
//! rejects just that record.

use crate::bindings::weir::dataflow::types::{OperatorError, Output, Rejection};
use crate::{Error, Event};

/// What a `#[map]` function may return.
#[diagnostic::on_unimplemented(
    message = "a #[weir_guest::map] function must return `Event`, `Option<Event>` or `Result<Event | Option<Event>, E>`",
    label = "`{Self}` is not a map result"
)]
pub trait MapReturn {
    /// `Ok(None)` drops the record.
    fn into_outcome(self) -> Result<Option<Event>, Error>;
}
impl MapReturn for Event {
    fn into_outcome(self) -> Result<Option<Event>, Error> {
        Ok(Some(self))
    }
}
impl MapReturn for Option<Event> {
    fn into_outcome(self) -> Result<Option<Event>, Error> {
        Ok(self)
    }
}
impl<E: Into<Error>> MapReturn for Result<Event, E> {
    fn into_outcome(self) -> Result<Option<Event>, Error> {
        self.map(Some).map_err(Into::into)
    }
}
impl<E: Into<Error>> MapReturn for Result<Option<Event>, E> {
    fn into_outcome(self) -> Result<Option<Event>, Error> {
        self.map_err(Into::into)
    }
}

/// What a `#[filter]` function may return.
#[diagnostic::on_unimplemented(
    message = "a #[weir_guest::filter] function must return `bool` or `Result<bool, E>`",
    label = "`{Self}` is not a filter result"
)]
pub trait FilterReturn {
    /// Keep the record?
    fn into_outcome(self) -> Result<bool, Error>;
}
impl FilterReturn for bool {
    fn into_outcome(self) -> Result<bool, Error> {
        Ok(self)
    }
}
impl<E: Into<Error>> FilterReturn for Result<bool, E> {
    fn into_outcome(self) -> Result<bool, Error> {
        self.map_err(Into::into)
    }
}

/// What a `#[flat_map]` function may return.
#[diagnostic::on_unimplemented(
    message = "a #[weir_guest::flat_map] function must return `Vec<Event>` or `Result<Vec<Event>, E>`",
    label = "`{Self}` is not a flat-map result"
)]
pub trait FlatMapReturn {
    /// The records to emit.
    fn into_outcome(self) -> Result<Vec<Event>, Error>;
}
impl FlatMapReturn for Vec<Event> {
    fn into_outcome(self) -> Result<Vec<Event>, Error> {
        Ok(self)
    }
}
impl<E: Into<Error>> FlatMapReturn for Result<Vec<Event>, E> {
    fn into_outcome(self) -> Result<Vec<Event>, Error> {
        self.map_err(Into::into)
    }
}

fn reject(rejected: &mut Vec<Rejection>, index: usize, error: Error) {
    rejected.push(Rejection {
        index: index as u32,
        reason: error.to_string(),
    });
}

/// Run a map over a batch.
pub fn run_map<R: MapReturn>(
    batch: Vec<Event>,
    f: impl Fn(Event) -> R,
) -> Result<Output, OperatorError> {
    let mut events = Vec::with_capacity(batch.len());
    let mut rejected = Vec::new();
    for (i, event) in batch.into_iter().enumerate() {
        match f(event).into_outcome() {
            Ok(Some(e)) => events.push(e),
            Ok(None) => {}
            Err(e) => reject(&mut rejected, i, e),
        }
    }
    Ok(Output { events, rejected })
}

/// Run a filter over a batch.
pub fn run_filter<R: FilterReturn>(
    batch: Vec<Event>,
    f: impl Fn(&Event) -> R,
) -> Result<Output, OperatorError> {
    let mut events = Vec::with_capacity(batch.len());
    let mut rejected = Vec::new();
    for (i, event) in batch.into_iter().enumerate() {
        match f(&event).into_outcome() {
            Ok(true) => events.push(event),
            Ok(false) => {}
            Err(e) => reject(&mut rejected, i, e),
        }
    }
    Ok(Output { events, rejected })
}

/// Run a flat-map over a batch.
pub fn run_flat_map<R: FlatMapReturn>(
    batch: Vec<Event>,
    f: impl Fn(Event) -> R,
) -> Result<Output, OperatorError> {
    let mut events = Vec::with_capacity(batch.len());
    let mut rejected = Vec::new();
    for (i, event) in batch.into_iter().enumerate() {
        match f(event).into_outcome() {
            Ok(out) => events.extend(out),
            Err(e) => reject(&mut rejected, i, e),
        }
    }
    Ok(Output { events, rejected })
}
