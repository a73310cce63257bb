// Shared by tally-v1 and tally-v2 (`include!`d): the same accumulator, so
// a swap carries every open window over; each version counts the records
// it added, and weighs `amount` by 1 (v1) or 10 (v2), so a test can
// recompute every window as "v1 up to the switch, v2 after it".

use weir_guest::{Aggregate, Error, Event, Window};

/// The tally aggregate.
pub struct Tally;

#[derive(serde::Deserialize)]
struct Record {
    amount: i64,
}

#[weir_guest::aggregate]
impl Aggregate for Tally {
    /// (records added by v1, records added by v2, weighted sum of amounts)
    type Acc = (u64, u64, i64);
    type Out = serde_json::Value;

    fn add(acc: &mut Self::Acc, event: &Event) -> Result<(), Error> {
        let amount = event.json::<Record>()?.amount;
        if VERSION == 1 {
            acc.0 += 1;
            acc.2 += amount;
        } else {
            acc.1 += 1;
            acc.2 += 10 * amount;
        }
        Ok(())
    }

    fn merge(a: Self::Acc, b: Self::Acc) -> Self::Acc {
        (a.0 + b.0, a.1 + b.1, a.2 + b.2)
    }

    fn finish(acc: Self::Acc, key: &[u8], window: Window) -> serde_json::Value {
        serde_json::json!({
            "key": String::from_utf8_lossy(key),
            "start": window.start,
            "by_v1": acc.0,
            "by_v2": acc.1,
            "total": acc.2,
        })
    }
}
