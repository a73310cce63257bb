//! Flags a payment whose amount is more than 10x the same user's previous
//! payment. The previous amount lives in host-owned value state; an
//! event-time timer clears it after an hour without payments, so idle users
//! cost no state.

use weir_guest::{Context, Error, Event, Keyed, Timer, ValueState};

/// An hour, in ms.
const IDLE_MS: i64 = 60 * 60 * 1000;

/// The fraud detector.
pub struct Fraud;

#[derive(serde::Deserialize)]
struct Payment {
    amount: f64,
}

/// What the operator remembers per user.
#[derive(serde::Serialize, serde::Deserialize)]
struct Last {
    amount: f64,
    /// Event time of that payment; the pending clean-up timer is due an hour later.
    at: i64,
}

#[weir_guest::keyed]
impl Keyed for Fraud {
    fn process(ctx: &mut Context<'_>, event: Event) -> Result<(), Error> {
        let payment: Payment = event.json()?;
        let last = ValueState::<Last>::new("last");
        if let Some(prev) = last.get()? {
            if payment.amount > 10.0 * prev.amount {
                ctx.emit(event.derive_json(&serde_json::json!({
                    "user": ctx.key_str(),
                    "amount": payment.amount,
                    "previous": prev.amount,
                    "at": event.timestamp,
                }))?);
            }
            ctx.delete_event_timer(prev.at + IDLE_MS);
        }
        last.set(&Last {
            amount: payment.amount,
            at: event.timestamp,
        })?;
        ctx.register_event_timer(event.timestamp + IDLE_MS);
        Ok(())
    }

    fn on_timer(_ctx: &mut Context<'_>, _timer: Timer) -> Result<(), Error> {
        ValueState::<Last>::new("last").clear();
        Ok(())
    }
}

trait KeyStr {
    fn key_str(&self) -> String;
}
impl KeyStr for Context<'_> {
    fn key_str(&self) -> String {
        String::from_utf8_lossy(self.key()).into_owned()
    }
}
