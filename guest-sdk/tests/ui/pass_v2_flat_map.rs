use weir_guest::v2::Record;

#[derive(Record)]
struct Line<'a> {
    text: &'a str,
}

#[derive(Record)]
struct Word {
    word: String,
}

#[weir_guest::v2::flat_map]
fn words(line: Line) -> Vec<Word> {
    line.text
        .split_whitespace()
        .map(|w| Word { word: w.to_string() })
        .collect()
}

fn main() {}
