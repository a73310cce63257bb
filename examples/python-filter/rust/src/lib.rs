//! Keep transactions of at least `min_amount`: the Rust twin of `filter/app.py`.

use weir_guest::{Error, Event};

#[derive(serde::Deserialize)]
struct Config {
    #[serde(default = "default_min")]
    min_amount: f64,
}

fn default_min() -> f64 {
    100.0
}

/// Keep big transactions; reject records without a numeric amount.
#[weir_guest::filter]
fn big_transactions(event: &Event) -> Result<bool, Error> {
    let cfg: Config = weir_guest::config()?;
    let v: serde_json::Value = event.json()?;
    let amount = v["amount"]
        .as_f64()
        .ok_or_else(|| Error::msg(format_args!("no numeric amount: amount is {}", v["amount"])))?;
    Ok(amount >= cfg.min_amount)
}
