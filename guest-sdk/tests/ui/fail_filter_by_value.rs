use weir_guest::Event;

#[weir_guest::filter]
fn keep(e: Event) -> bool {
    e.timestamp > 0
}

fn main() {}
