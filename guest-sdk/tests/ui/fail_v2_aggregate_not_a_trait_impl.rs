struct Largest;

#[weir_guest::v2::aggregate]
impl Largest {
    fn add() {}
}

fn main() {}
