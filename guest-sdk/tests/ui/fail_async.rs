use weir_guest::Event;

#[weir_guest::map]
async fn slow(e: Event) -> Event {
    e
}

fn main() {}
