//! A keyed operator that makes the host hold things on its behalf, as
//! much as its `config` says, so the tests can check that the host charges
//! it to the job's budgets and fails the job — alone — when it is too much.
//!
//! Modes:
//! - `state`: put `count` values of `bytes` bytes of map state per record,
//!   each under a new map key (nothing is ever removed);
//! - `timers`: register `count` event-time timers per record, all in the
//!   future;
//! - `log`: log `count` lines of `bytes` bytes per record;
//! - `list`: add a `bytes`-byte element to the key's list per record, and
//!   emit the list's length every `every` records (to time appends);
//! - anything else: emit each record as it came.

use serde_json::value::RawValue;
use weir_guest::{Context, Error, Event, Keyed, ListState, MapState, ValueState};

#[derive(serde::Deserialize)]
struct Config {
    mode: String,
    #[serde(default)]
    bytes: usize,
    #[serde(default)]
    count: u64,
    #[serde(default = "one")]
    every: u64,
}

fn one() -> u64 {
    1
}

struct Hoard;

#[weir_guest::keyed]
impl Keyed for Hoard {
    fn process(ctx: &mut Context, event: Event) -> Result<(), Error> {
        let cfg: Config = weir_guest::config()?;
        let seen = ValueState::<u64>::new("seen");
        let n = seen.get()?.unwrap_or(0);
        seen.set(&(n + 1))?;
        match cfg.mode.as_str() {
            "state" => {
                // Encoded once: the host's work is what is measured.
                let map = MapState::<u64, Box<RawValue>>::new("hoard");
                let value = RawValue::from_string(format!("\"{}\"", "x".repeat(cfg.bytes)))?;
                for i in 0..cfg.count.max(1) {
                    map.put(&(n * cfg.count.max(1) + i), &value)?;
                }
            }
            "timers" => {
                for i in 0..cfg.count {
                    ctx.register_event_timer(
                        event.timestamp + 1_000_000_000 + (n * cfg.count + i) as i64,
                    );
                }
            }
            "log" => {
                let line = "y".repeat(cfg.bytes);
                for _ in 0..cfg.count {
                    weir_guest::log::info(&line);
                }
            }
            "list" => {
                let list = ListState::<String>::new("list");
                list.add(&"z".repeat(cfg.bytes))?;
                if (n + 1) % cfg.every == 0 {
                    ctx.emit(event.derive_json(&serde_json::json!({ "len": n + 1 }))?);
                }
                return Ok(());
            }
            _ => {}
        }
        ctx.emit(event);
        Ok(())
    }
}
