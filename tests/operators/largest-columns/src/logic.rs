// The accumulator and per-record logic of the `largest` aggregate, shared
// (`include!`d) by the aggregate over columns (`largest-columns`) and its
// twin over JSON events (`largest-events`), so a benchmark compares the
// two contracts on identical logic.

/// The accumulator the host keeps between batches.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct Acc {
    /// Payments added.
    pub payments: i64,
    /// Their total, added in arrival order.
    pub total: f64,
    /// The largest payment and its merchant, once there is one.
    pub largest: Option<(f64, String)>,
}

/// Does payment (`amount`, `merchant`) beat the current largest? On
/// equal amounts the merchant first in byte order wins, so merging gives
/// the same answer in any order.
fn beats(amount: f64, merchant: &str, current: &Option<(f64, String)>) -> bool {
    match current {
        None => true,
        Some((a, m)) => amount > *a || (amount == *a && merchant < m.as_str()),
    }
}

/// Add one payment.
pub fn add(acc: &mut Acc, amount: f64, merchant: &str) {
    acc.payments += 1;
    acc.total += amount;
    if beats(amount, merchant, &acc.largest) {
        acc.largest = Some((amount, merchant.to_string()));
    }
}

/// Merge two accumulators (session windows).
pub fn merge(mut a: Acc, b: Acc) -> Acc {
    a.payments += b.payments;
    a.total += b.total;
    if let Some((amount, merchant)) = b.largest
        && beats(amount, &merchant, &a.largest)
    {
        a.largest = Some((amount, merchant));
    }
    a
}
