//! The columnar map+filter benchmark operator.

mod logic;

use logic::{Payment, Transaction};

/// Keep payments of 50 or more, in cents.
#[weir_guest::v2::map]
fn map_filter(tx: Transaction) -> Option<Payment> {
    logic::map_filter(tx)
}
