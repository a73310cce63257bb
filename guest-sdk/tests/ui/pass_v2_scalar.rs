/// Plain arguments and a plain result.
#[weir_guest::v2::scalar]
fn fee(amount: f64, rate: Option<f64>, user: &str) -> Option<String> {
    rate.map(|r| format!("{user}:{}", amount * r))
}

fn main() {}
