use weir_guest::Event;

#[weir_guest::map]
fn double(a: Event, b: Event) -> Event {
    let _ = b;
    a
}

fn main() {}
