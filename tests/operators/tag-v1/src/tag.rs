// Shared by tag-v1 and tag-v2, which differ only in VERSION: two versions of
// one operator for the live-swap tests.

use weir_guest::{Error, Event};

/// Adds `"v": VERSION` to the record.
#[weir_guest::map]
fn tag(mut event: Event) -> Result<Option<Event>, Error> {
    let mut v: serde_json::Map<String, serde_json::Value> = event.json()?;
    v.insert("v".into(), VERSION.into());
    event.value = serde_json::to_vec(&v)?;
    Ok(Some(event))
}
