use weir_guest::{Error, Event};

#[weir_guest::map]
fn tag(mut e: Event) -> Result<Event, Error> {
    e.set_json(&serde_json::json!({ "seen": true }))?;
    Ok(e)
}

fn main() {}
