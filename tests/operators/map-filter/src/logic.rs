// The per-record logic of the map+filter benchmark. The same file is
// compiled into the Wasm operator (src/lib.rs) and natively into the host's
// `weir bench` (with `include!`), so the two sides run identical code.

/// A transaction as the `transactions` generator writes it.
#[derive(serde::Deserialize)]
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
#[derive(serde::Serialize)]
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

/// Keep payments of 50 or more, re-shaped; `None` drops the record.
pub fn map_filter(value: &[u8]) -> Result<Option<Vec<u8>>, serde_json::Error> {
    let tx: Transaction<'_> = serde_json::from_slice(value)?;
    if tx.amount < 50.0 {
        return Ok(None);
    }
    let out = Payment {
        user: tx.user,
        cents: (tx.amount * 100.0).round() as i64,
        merchant: tx.merchant,
        ts: tx.ts,
    };
    serde_json::to_vec(&out).map(Some)
}
