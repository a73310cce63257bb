use weir_guest::v2::Record;

#[derive(Record)]
struct Line<'a> {
    text: &'a str,
}

#[weir_guest::v2::flat_map]
fn words(line: Line) -> Line {
    line
}

fn main() {}
