//! Keyed process functions: per-key state and timers, all owned by the host.

use crate::bindings::weir::dataflow::keyed_context;
use crate::bindings::weir::dataflow::timers;
use crate::bindings::weir::dataflow::types::{FiredTimer, OperatorError, Output, Rejection};
use crate::error::operator_error;
use crate::{Error, Event, TimeDomain};

/// A keyed operator, exported with `#[weir_guest::keyed]`.
///
/// The host partitions records by key and calls [`Keyed::process`] for each
/// record with the record's key current: [`crate::ValueState`] and friends,
/// and the timer methods of [`Context`], all refer to that key.
///
/// ```no_run
/// use weir_guest::{Context, Error, Event, Keyed, ValueState};
///
/// struct Count;
/// #[weir_guest::keyed]
/// impl weir_guest::Keyed for Count {
///     fn process(ctx: &mut Context, event: Event) -> Result<(), Error> {
///         let n = ValueState::<u64>::new("n");
///         let count = n.get()?.unwrap_or(0) + 1;
///         n.set(&count)?;
///         ctx.emit(event.derive_json(&serde_json::json!({"count": count}))?);
///         Ok(())
///     }
/// }
/// # fn main() {}
/// ```
pub trait Keyed {
    /// Handle one record. An `Err` rejects this record only.
    fn process(ctx: &mut Context<'_>, event: Event) -> Result<(), Error>;

    /// Handle a timer registered through [`Context`]. An `Err` fails the job.
    fn on_timer(ctx: &mut Context<'_>, timer: Timer) -> Result<(), Error> {
        let _ = (ctx, timer);
        Ok(())
    }
}

/// A timer that fired.
#[derive(Debug, Clone)]
pub struct Timer {
    /// The time it was registered for.
    pub at: i64,
    /// Which clock.
    pub domain: TimeDomain,
}

/// What a keyed operator can do for the current key.
pub struct Context<'a> {
    key: &'a [u8],
    out: &'a mut Vec<Event>,
}

impl Context<'_> {
    /// The current key.
    pub fn key(&self) -> &[u8] {
        self.key
    }
    /// Send an event downstream. It keeps the current key if it has none.
    pub fn emit(&mut self, mut event: Event) {
        if event.key.is_none() {
            event.key = Some(self.key.to_vec());
        }
        self.out.push(event);
    }
    timer_methods!(timers);
}

/// The timer methods of a keyed operator's `Context`, over one contract
/// version's `timers` import (0.1's here, 0.2's in [`crate::v2`]).
macro_rules! timer_methods {
    ($($timers:tt)+) => {
        /// Call `on_timer` for this key when the watermark reaches `at`.
        pub fn register_event_timer(&self, at: i64) {
            $($timers)+::register_event_time(at);
        }
        /// Call `on_timer` for this key when processing time reaches `at`.
        pub fn register_processing_timer(&self, at: i64) {
            $($timers)+::register_processing_time(at);
        }
        /// Cancel an event-time timer of this key.
        pub fn delete_event_timer(&self, at: i64) {
            $($timers)+::delete_event_time(at);
        }
        /// Cancel a processing-time timer of this key.
        pub fn delete_processing_timer(&self, at: i64) {
            $($timers)+::delete_processing_time(at);
        }
        /// The current event-time watermark.
        pub fn watermark(&self) -> i64 {
            $($timers)+::current_watermark()
        }
        /// The host's processing time in ms.
        pub fn processing_time(&self) -> i64 {
            $($timers)+::current_processing_time()
        }
    };
}
pub(crate) use timer_methods;

fn select(index: usize) -> Result<(), OperatorError> {
    keyed_context::select(index as u32).map_err(operator_error)
}

/// The batch loop behind `process`.
pub fn keyed_process<K: Keyed>(batch: Vec<Event>) -> Result<Output, OperatorError> {
    let mut events = Vec::new();
    let mut rejected = Vec::new();
    for (i, event) in batch.into_iter().enumerate() {
        select(i)?;
        let key = event.key.clone().unwrap_or_default();
        let mut ctx = Context {
            key: &key,
            out: &mut events,
        };
        if let Err(e) = K::process(&mut ctx, event) {
            rejected.push(Rejection {
                index: i as u32,
                reason: e.to_string(),
            });
        }
    }
    Ok(Output { events, rejected })
}

/// The batch loop behind `on-timer`.
pub fn keyed_on_timer<K: Keyed>(fired: Vec<FiredTimer>) -> Result<Output, OperatorError> {
    let mut events = Vec::new();
    for (i, t) in fired.into_iter().enumerate() {
        select(i)?;
        let mut ctx = Context {
            key: &t.key,
            out: &mut events,
        };
        let timer = Timer {
            at: t.at,
            domain: t.domain,
        };
        K::on_timer(&mut ctx, timer).map_err(|e| operator_error(format_args!("on_timer: {e}")))?;
    }
    Ok(Output {
        events,
        rejected: Vec::new(),
    })
}
