use weir_guest::Event;

#[weir_guest::flat_map]
fn nothing(e: Event) {
    let _ = e;
}

fn main() {}
