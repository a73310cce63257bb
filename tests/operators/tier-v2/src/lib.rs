//! Version 2 of the `tier` SQL function (see tier-v1), for live swaps:
//! three tiers with names of their own, so a row says which version
//! made it: `"<user>:gold"` from 100 on, `"<user>:silver"` from 50,
//! else `"<user>:bronze"`.

/// The tier of `user` for `amount`.
#[weir_guest::v2::scalar]
fn tier(amount: f64, user: &str) -> String {
    let t = if amount >= 100.0 {
        "gold"
    } else if amount >= 50.0 {
        "silver"
    } else {
        "bronze"
    };
    format!("{user}:{t}")
}
