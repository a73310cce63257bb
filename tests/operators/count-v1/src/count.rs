// Shared by count-v1 and count-v2, which differ only in VERSION: a keyed
// operator whose output depends on all earlier records of its key, so a
// swap that lost state would show as a restart of the count.

use weir_guest::{Context, Error, Event, Keyed, Timer, ValueState};

/// A running count per key.
pub struct Count;

#[weir_guest::keyed]
impl Keyed for Count {
    fn process(ctx: &mut Context<'_>, event: Event) -> Result<(), Error> {
        let count = ValueState::<u64>::new("count");
        let n = count.get()?.unwrap_or(0) + 1;
        count.set(&n)?;
        let key = String::from_utf8_lossy(ctx.key()).into_owned();
        let i = event.json::<serde_json::Value>()?["i"].clone();
        ctx.emit(event.derive_json(&serde_json::json!({ "key": key, "i": i, "n": n, "v": VERSION }))?);
        Ok(())
    }

    fn on_timer(_ctx: &mut Context<'_>, _timer: Timer) -> Result<(), Error> {
        Ok(())
    }
}
