// The per-record logic of the columnar map+filter benchmark. The same file
// is compiled into the Wasm operator (src/lib.rs, where the structs derive
// `weir_guest::v2::Record`) and natively into the host's `weir bench`
// (with `include!`), so both sides run identical code over the same columns.

/// A transaction, read from the batch's columns (`&str` borrows them).
#[cfg_attr(target_arch = "wasm32", derive(weir_guest::v2::Record))]
pub struct Transaction<'a> {
    /// Event time.
    pub ts: i64,
    /// Who paid.
    pub user: &'a str,
    /// How much.
    pub amount: f64,
    /// Where.
    pub merchant: &'a str,
}

/// What the operator emits.
#[cfg_attr(target_arch = "wasm32", derive(weir_guest::v2::Record))]
pub struct Payment<'a> {
    /// Who paid.
    pub user: &'a str,
    /// Amount in cents.
    pub cents: i64,
    /// Where.
    pub merchant: &'a str,
    /// Event time.
    pub ts: i64,
}

/// Keep payments of 50 or more, in cents; `None` drops the record.
pub fn map_filter(tx: Transaction<'_>) -> Option<Payment<'_>> {
    if tx.amount < 50.0 {
        return None;
    }
    Some(Payment {
        user: tx.user,
        cents: (tx.amount * 100.0).round() as i64,
        merchant: tx.merchant,
        ts: tx.ts,
    })
}
