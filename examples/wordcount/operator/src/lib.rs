//! Splits each line's `text` into lower-case words: one `{"word": ..}` event
//! per word, with the line's event time.

use weir_guest::{Error, Event};

#[derive(serde::Deserialize)]
struct Line {
    text: String,
}

/// One event per word of the line.
#[weir_guest::flat_map]
fn split_words(line: Event) -> Result<Vec<Event>, Error> {
    let text = line.json::<Line>()?.text;
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| line.derive_json(&serde_json::json!({ "word": w.to_lowercase() })))
        .collect()
}
