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
fn checked(line: Line) -> Result<Vec<Word>, weir_guest::Error> {
    if line.text.is_empty() {
        return Err(weir_guest::Error::msg("an empty line"));
    }
    Ok(vec![Word { word: line.text.to_string() }])
}

fn main() {}
