//! The benchmark's map+filter operator.

mod logic;

use weir_guest::{Error, Event};

/// Keep payments of 50 or more, re-shaped.
#[weir_guest::map]
fn map_filter(mut event: Event) -> Result<Option<Event>, Error> {
    Ok(logic::map_filter(&event.value)?.map(|value| {
        event.value = value;
        event
    }))
}
