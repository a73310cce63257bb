//! The word splitter of `../operator`, over typed columns: it reads each
//! line's `text` straight from the batch's text column (borrowed, no JSON
//! to parse) and emits one typed row per lower-case word, which keeps the
//! line's event time. The window after it counts the words from the
//! `word` column.

use weir_guest::v2::Record;

/// What it reads of a line.
#[derive(Record)]
pub struct Line<'a> {
    text: &'a str,
}

/// One word.
#[derive(Record)]
pub struct Word {
    word: String,
}

/// One row per word of the line.
#[weir_guest::v2::flat_map]
fn split_words(line: Line) -> Vec<Word> {
    line.text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| Word {
            word: w.to_lowercase(),
        })
        .collect()
}
