//! A window aggregate over typed columns: per key and window, how many
//! payments, their total, the largest, and whose it was (see `logic.rs`).
//! Reads `amount` and `merchant`; a record without either goes to the
//! dead-letter output before any window sees it.

use weir_guest::Error;
use weir_guest::v2::{Aggregate, Record, Window};

mod logic;
use logic::Acc;

/// What it reads of a record.
#[derive(Record)]
struct Payment<'a> {
    amount: f64,
    merchant: &'a str,
}

/// One result, after the window's `key`, `window_start` and `window_end`.
#[derive(Record)]
struct Largest {
    payments: i64,
    total: f64,
    largest: f64,
    top_merchant: String,
}

struct LargestPayment;

#[weir_guest::v2::aggregate]
impl Aggregate for LargestPayment {
    type In<'a> = Payment<'a>;
    type Acc = Acc;
    type Out = Largest;

    fn add(acc: &mut Acc, p: Payment<'_>) -> Result<(), Error> {
        logic::add(acc, p.amount, p.merchant);
        Ok(())
    }

    fn merge(a: Acc, b: Acc) -> Acc {
        logic::merge(a, b)
    }

    fn finish(acc: Acc, _key: &[u8], _window: Window) -> Largest {
        let (largest, top_merchant) = acc.largest.unwrap_or_default();
        Largest {
            payments: acc.payments,
            total: acc.total,
            largest,
            top_merchant,
        }
    }
}
