//! The fraud detector of `../operator`, over typed columns: it reads each
//! payment's `amount` straight from the batch's columns (no JSON to parse)
//! and emits alerts as typed rows. State and timers are the same
//! host-owned value state and event-time timer, stored the same way (so
//! either version can be swapped live for the other over the same state),
//! and the alerts are the same.

use weir_guest::Error;
use weir_guest::v2::{Context, Keyed, Record, Timer, ValueState};

/// An hour, in ms.
const IDLE_MS: i64 = 60 * 60 * 1000;

/// The fraud detector.
pub struct Fraud;

/// What it reads of a payment.
#[derive(Record)]
pub struct Payment {
    amount: f64,
    ts: i64,
}

/// An alert: the payment, and the one before it.
#[derive(Record)]
pub struct Alert {
    user: String,
    amount: f64,
    previous: f64,
    at: i64,
}

/// What the operator remembers per user.
#[derive(serde::Serialize, serde::Deserialize)]
struct Last {
    amount: f64,
    /// Event time of that payment; the pending clean-up timer is due an hour later.
    at: i64,
}

#[weir_guest::v2::keyed]
impl Keyed for Fraud {
    type In<'a> = Payment;
    type Out = Alert;

    fn process(ctx: &mut Context<'_, Alert>, payment: Payment) -> Result<(), Error> {
        let last = ValueState::<Last>::new("last");
        if let Some(prev) = last.get()? {
            if payment.amount > 10.0 * prev.amount {
                ctx.emit(Alert {
                    user: String::from_utf8_lossy(ctx.key()).into_owned(),
                    amount: payment.amount,
                    previous: prev.amount,
                    at: payment.ts,
                });
            }
            ctx.delete_event_timer(prev.at + IDLE_MS);
        }
        last.set(&Last {
            amount: payment.amount,
            at: payment.ts,
        })?;
        ctx.register_event_timer(payment.ts + IDLE_MS);
        Ok(())
    }

    fn on_timer(_ctx: &mut Context<'_, Alert>, _timer: Timer) -> Result<(), Error> {
        ValueState::<Last>::new("last").clear();
        Ok(())
    }
}
