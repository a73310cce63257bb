use weir_guest::Event;

#[weir_guest::filter]
fn keep(e: &Event) -> String {
    format!("{}", e.timestamp)
}

fn main() {}
