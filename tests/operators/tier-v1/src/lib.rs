//! A SQL scalar function, `CREATE FUNCTION tier AS '…' LANGUAGE WASM`:
//! a customer's tier for an amount, `"<user>:big"` from 100 on, else
//! `"<user>:small"`; a negative amount is refused (the job fails with why).

/// The tier of `user` for `amount`.
#[weir_guest::v2::scalar]
fn tier(amount: f64, user: &str) -> Result<String, weir_guest::Error> {
    if amount < 0.0 {
        return Err(weir_guest::Error::msg(format!(
            "a negative amount ({amount}) has no tier"
        )));
    }
    Ok(format!(
        "{user}:{}",
        if amount >= 100.0 { "big" } else { "small" }
    ))
}
