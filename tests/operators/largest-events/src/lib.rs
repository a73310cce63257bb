//! The `largest` window aggregate over JSON events (`weir:dataflow@0.1`):
//! the logic of `largest-columns` (the same `logic.rs`), each record
//! parsed with serde_json in the guest — the baseline of `weir bench
//! --only aggregate`.

use weir_guest::{Aggregate, Error, Event, Window};

#[allow(dead_code)]
mod logic {
    include!("../../largest-columns/src/logic.rs");
}
use logic::Acc;

/// What it reads of a record.
#[derive(serde::Deserialize)]
struct Payment<'a> {
    amount: f64,
    #[serde(borrow)]
    merchant: std::borrow::Cow<'a, str>,
}

struct LargestPayment;

#[weir_guest::aggregate]
impl Aggregate for LargestPayment {
    type Acc = Acc;
    type Out = serde_json::Value;

    fn add(acc: &mut Acc, event: &Event) -> Result<(), Error> {
        let p: Payment = serde_json::from_slice(&event.value)
            .map_err(|e| Error::msg(format_args!("payload is not the expected JSON: {e}")))?;
        logic::add(acc, p.amount, &p.merchant);
        Ok(())
    }

    fn merge(a: Acc, b: Acc) -> Acc {
        logic::merge(a, b)
    }

    fn finish(acc: Acc, key: &[u8], window: Window) -> serde_json::Value {
        let (largest, top_merchant) = acc.largest.unwrap_or_default();
        serde_json::json!({
            "key": String::from_utf8_lossy(key),
            "window_start": window.start,
            "window_end": window.end,
            "payments": acc.payments,
            "total": acc.total,
            "largest": largest,
            "top_merchant": top_merchant,
        })
    }
}
