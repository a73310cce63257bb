struct Counter;

#[weir_guest::keyed]
impl Counter {
    fn process() {}
}

fn main() {}
