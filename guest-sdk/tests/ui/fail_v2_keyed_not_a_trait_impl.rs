struct Count;

#[weir_guest::v2::keyed]
impl Count {
    fn process() {}
}

fn main() {}
