//! Keeps the records whose field `field` equals `equals` (both from the
//! operator's config): one source split into branches of a job graph.

use weir_guest::{Error, Event};

#[derive(serde::Deserialize)]
struct Route {
    field: String,
    equals: String,
}

/// Keeps a record when its `field` is the string `equals`.
#[weir_guest::filter]
fn route(event: &Event) -> Result<bool, Error> {
    let route: Route = weir_guest::config()?;
    let v: serde_json::Value = event.json()?;
    Ok(v.get(&route.field).and_then(|f| f.as_str()) == Some(route.equals.as_str()))
}
