struct S;

impl S {
    #[weir_guest::v2::scalar]
    fn fee(&self, amount: f64) -> f64 {
        amount
    }
}

fn main() {}
