//! Keyed process functions over columns: the glue
//! `#[weir_guest::v2::keyed]` generates calls into.
//!
//! The host partitions rows by key and hands the operator a batch of the
//! columns its input record names, with each row's key; the operator sees
//! one record at a time with that record's key current, so the state
//! handles ([`ValueState`](super::ValueState) and friends) and the timers
//! of [`Context`] refer to it. Everything it keeps lives in the host.

use super::bindings::weir::dataflow::keyed_context;
use super::bindings::weir::dataflow::log::{Level, log};
use super::bindings::weir::dataflow::timers;
use super::bindings::weir::dataflow::types::{
    Answer, Batch, FiredTimers, KeyedSpec, OperatorError, OutputBatch, Rejection, RowOrigin,
    TimeDomain, TransformOutput, VarData,
};
use super::builders::Origin;
use super::columns::ColumnView;
use super::record::Record;
use super::transform::{batch_error, views};
use crate::Error;

/// A keyed operator over columns, exported with
/// `#[weir_guest::v2::keyed]`.
///
/// ```ignore
/// use weir_guest::v2::{Context, Keyed, Record, Timer, ValueState};
/// use weir_guest::Error;
///
/// #[derive(Record)]
/// struct Payment<'a> { user: &'a str, amount: f64 }
///
/// #[derive(Record)]
/// struct Total { user: String, total: f64 }
///
/// struct RunningTotal;
///
/// #[weir_guest::v2::keyed]
/// impl Keyed for RunningTotal {
///     type In<'a> = Payment<'a>;
///     type Out = Total;
///     fn process(ctx: &mut Context<'_, Total>, p: Payment<'_>) -> Result<(), Error> {
///         let total = ValueState::<f64>::new("total");
///         let sum = total.get()?.unwrap_or(0.0) + p.amount;
///         total.set(&sum)?;
///         ctx.emit(Total { user: p.user.to_string(), total: sum });
///         Ok(())
///     }
/// }
/// ```
pub trait Keyed {
    /// The record it reads: its fields name the columns the host hands it
    /// (a record lacking a field that is not an `Option` goes to the job's
    /// dead-letter output before the operator sees it).
    type In<'a>: Record<'a>;
    /// The record it emits: its fields are the output's columns.
    type Out: for<'a> Record<'a>;
    /// Handle one record, its key current. An `Err` rejects this record
    /// only (it goes to the dead-letter output); what it emitted stays.
    fn process(ctx: &mut Context<'_, Self::Out>, record: Self::In<'_>) -> Result<(), Error>;
    /// Handle a timer registered through [`Context`], its key current.
    /// An `Err` fails the job.
    fn on_timer(ctx: &mut Context<'_, Self::Out>, timer: Timer) -> Result<(), Error> {
        let _ = (ctx, timer);
        Ok(())
    }
}

/// A timer that fired.
#[derive(Debug, Clone, Copy)]
pub struct Timer {
    /// The time it was registered for.
    pub at: i64,
    /// Which clock.
    pub domain: TimeDomain,
}

/// Rows emitted in one call, each with its parent (input row or timer)
/// and event time.
struct Emitted<Out> {
    rows: Vec<Out>,
    parents: Vec<u32>,
    times: Vec<i64>,
    /// Some row was given its own event time.
    timed: bool,
}

impl<Out> Emitted<Out> {
    fn new() -> Self {
        Self {
            rows: Vec::new(),
            parents: Vec::new(),
            times: Vec::new(),
            timed: false,
        }
    }
}

/// What a keyed operator can do for the current key.
pub struct Context<'c, Out> {
    key: &'c [u8],
    parent: u32,
    /// The event time an emitted row takes unless given one.
    time: i64,
    out: &'c mut Emitted<Out>,
}

impl<Out> Context<'_, Out> {
    /// The current key.
    pub fn key(&self) -> &[u8] {
        self.key
    }
    /// Send a row downstream, with the current key and the event time of
    /// the record (or timer) being handled.
    pub fn emit(&mut self, row: Out) {
        self.emit_at(row, self.time);
    }
    /// Send a row downstream with event time `time` (ms).
    pub fn emit_at(&mut self, row: Out, time: i64) {
        self.out.timed |= time != self.time;
        self.out.rows.push(row);
        self.out.parents.push(self.parent);
        self.out.times.push(time);
    }
    crate::keyed::timer_methods!(timers);
}

fn op_error(message: impl std::fmt::Display) -> OperatorError {
    OperatorError {
        message: message.to_string(),
    }
}

fn select(index: usize) -> Result<(), OperatorError> {
    keyed_context::select(index as u32).map_err(op_error)
}

/// Value `i` of `v`, checked.
fn value(v: &VarData, i: usize) -> Result<&[u8], OperatorError> {
    let (Some(&a), Some(&b)) = (v.offsets.get(i), v.offsets.get(i + 1)) else {
        return Err(op_error(format_args!("the host sent no key {i}")));
    };
    v.data.get(a as usize..b as usize).ok_or_else(|| {
        op_error(format_args!(
            "the host's offsets for key {i} are out of range"
        ))
    })
}

/// `init`: keep the config, route panics to the host's log, and name the
/// columns read and written.
pub fn keyed_init<K: Keyed>(config: String) -> Result<KeyedSpec, OperatorError> {
    crate::config::store(config);
    std::panic::set_hook(Box::new(|info| {
        log(Level::Error, &format!("panicked: {info}"))
    }));
    Ok(KeyedSpec {
        input: <K::In<'_> as Record<'_>>::fields(),
        output: <K::Out as Record<'_>>::fields(),
    })
}

/// The emitted rows as an output batch; `inputs`: the input's columns
/// (none for timers).
fn output<Out: for<'a> Record<'a>>(
    e: Emitted<Out>,
    parents_of: usize,
    inputs: &[ColumnView<'_>],
) -> OutputBatch {
    let n = e.rows.len();
    let mut builders = <Out as Record<'_>>::builders(n);
    for r in &e.rows {
        r.write(&mut builders);
    }
    let same = n == parents_of && e.parents.iter().enumerate().all(|(i, p)| i as u32 == *p);
    let columns = <Out as Record<'_>>::finish(
        builders,
        &Origin {
            parents: (!same).then_some(&e.parents[..]),
            inputs,
        },
    );
    OutputBatch {
        rows: n as u32,
        origin: if same {
            RowOrigin::Same
        } else {
            RowOrigin::Parents(e.parents)
        },
        event_time: e.timed.then_some(e.times),
        columns,
    }
}

/// `process`: each row read from the columns, its key current.
pub fn keyed_process<K: Keyed>(
    batch: Batch,
    keys: VarData,
) -> Result<TransformOutput, OperatorError> {
    let fields = <K::In<'_> as Record<'_>>::fields();
    let columns = views(&batch, &fields);
    let rows = batch.rows as usize;
    let readers = <K::In<'_> as Record<'_>>::readers(&columns, rows).map_err(batch_error)?;
    let mut out = Emitted::new();
    let mut rejected = Vec::new();
    for row in 0..rows {
        select(row)?;
        let mut ctx = Context {
            key: value(&keys, row)?,
            parent: row as u32,
            time: batch.event_time.get(row).copied().unwrap_or_default(),
            out: &mut out,
        };
        let done = <K::In<'_> as Record<'_>>::read(&readers, row)
            .and_then(|record| K::process(&mut ctx, record));
        if let Err(e) = done {
            rejected.push(Rejection {
                index: row as u32,
                reason: e.to_string(),
            });
        }
    }
    Ok(TransformOutput {
        answer: Answer::Emit(output(out, rows, &columns)),
        rejected,
    })
}

/// `on-timer`: each timer with its key current.
pub fn keyed_on_timer<K: Keyed>(fired: FiredTimers) -> Result<OutputBatch, OperatorError> {
    let mut out = Emitted::new();
    for (i, (&at, &domain)) in fired.at.iter().zip(&fired.domains).enumerate() {
        select(i)?;
        let mut ctx = Context {
            key: value(&fired.keys, i)?,
            parent: i as u32,
            time: at,
            out: &mut out,
        };
        K::on_timer(&mut ctx, Timer { at, domain })
            .map_err(|e| op_error(format_args!("on_timer: {e}")))?;
    }
    Ok(output(out, fired.at.len(), &[]))
}
