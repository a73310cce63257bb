//! Window aggregates over columns: the glue `#[weir_guest::v2::aggregate]`
//! generates calls into.
//!
//! The host keeps one accumulator per (key, window), as bytes (postcard,
//! a compact binary form of the `Acc` type); a call hands the aggregate
//! one batch of the columns its input record names and, per accumulator,
//! the rows to add. Results go back as the columns of the output record.

use super::bindings::weir::dataflow::log::{Level, log};
use super::bindings::weir::dataflow::types::{
    AggregateSpec, Batch, Column, Fired, Groups, OperatorError, VarData,
};
use super::builders::Origin;
use super::record::Record;
use super::transform::{batch_error, views};
use crate::Error;
use serde::{Serialize, de::DeserializeOwned};

pub use super::bindings::weir::dataflow::types::Window;

/// A window aggregate over columns, exported with
/// `#[weir_guest::v2::aggregate]`.
///
/// ```ignore
/// use weir_guest::v2::{Aggregate, Record, Window};
/// use weir_guest::Error;
///
/// #[derive(Record)]
/// struct Payment<'a> { amount: f64, merchant: &'a str }
///
/// #[derive(Record)]
/// struct Spend { payments: i64, largest: f64, top_merchant: String }
///
/// #[derive(Default, serde::Serialize, serde::Deserialize)]
/// struct Acc { payments: i64, largest: f64, top_merchant: String }
///
/// struct Largest;
///
/// #[weir_guest::v2::aggregate]
/// impl Aggregate for Largest {
///     type In<'a> = Payment<'a>;
///     type Acc = Acc;
///     type Out = Spend;
///     fn add(acc: &mut Acc, p: Payment<'_>) -> Result<(), Error> {
///         acc.payments += 1;
///         if p.amount > acc.largest {
///             acc.largest = p.amount;
///             acc.top_merchant = p.merchant.to_string();
///         }
///         Ok(())
///     }
///     fn merge(a: Acc, b: Acc) -> Acc {
///         let mut m = if b.largest > a.largest { b } else { a };
///         m.payments = a.payments + b.payments;
///         m
///     }
///     fn finish(acc: Acc, _key: &[u8], _window: Window) -> Spend {
///         Spend { payments: acc.payments, largest: acc.largest, top_merchant: acc.top_merchant }
///     }
/// }
/// ```
pub trait Aggregate {
    /// The record it reads: its fields name the columns the host hands it
    /// (a record lacking a field that is not an `Option` goes to the job's
    /// dead-letter output, before any window sees it).
    type In<'a>: Record<'a>;
    /// The accumulator; `Default` is the empty one.
    type Acc: Serialize + DeserializeOwned + Default;
    /// One result: its fields are the result's columns, after the window's
    /// own `key`, `window_start` and `window_end`.
    type Out: for<'a> Record<'a>;
    /// Add one record. An `Err` fails the job (a record a window accepted
    /// cannot go to a dead letter any more).
    fn add(acc: &mut Self::Acc, record: Self::In<'_>) -> Result<(), Error>;
    /// Merge two accumulators (session windows that grow together).
    fn merge(a: Self::Acc, b: Self::Acc) -> Self::Acc;
    /// The result for one key and window.
    fn finish(acc: Self::Acc, key: &[u8], window: Window) -> Self::Out;
}

fn op_error(message: impl std::fmt::Display) -> OperatorError {
    OperatorError {
        message: message.to_string(),
    }
}

fn load<A: Aggregate>(bytes: &[u8]) -> Result<A::Acc, OperatorError> {
    if bytes.is_empty() {
        return Ok(A::Acc::default());
    }
    postcard::from_bytes(bytes).map_err(|e| op_error(format_args!("accumulator: {e}")))
}

/// Accumulators written one after another, with offsets.
struct Accs(VarData);

impl Accs {
    fn with_capacity(n: usize) -> Self {
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        Accs(VarData {
            offsets,
            data: Vec::new(),
        })
    }

    fn push<A: Aggregate>(&mut self, acc: &A::Acc) -> Result<(), OperatorError> {
        let Accs(v) = self;
        v.data = postcard::to_extend(acc, std::mem::take(&mut v.data))
            .map_err(|e| op_error(format_args!("accumulator: {e}")))?;
        // A made accumulator is never empty: empty means a new one.
        if v.offsets
            .last()
            .is_some_and(|l| *l as usize == v.data.len())
        {
            v.data.push(0);
        }
        v.offsets.push(v.data.len() as u32);
        Ok(())
    }
}

/// Value `i` of `v`, checked.
fn value(v: &VarData, i: usize) -> Result<&[u8], OperatorError> {
    let (Some(&a), Some(&b)) = (v.offsets.get(i), v.offsets.get(i + 1)) else {
        return Err(op_error(format_args!("the host sent no value {i}")));
    };
    v.data.get(a as usize..b as usize).ok_or_else(|| {
        op_error(format_args!(
            "the host's offsets for value {i} are out of range"
        ))
    })
}

/// `init`: keep the config, route panics to the host's log, and name the
/// columns read and written.
pub fn aggregate_init<A: Aggregate>(config: String) -> Result<AggregateSpec, OperatorError> {
    crate::config::store(config);
    std::panic::set_hook(Box::new(|info| {
        log(Level::Error, &format!("panicked: {info}"))
    }));
    Ok(AggregateSpec {
        input: <A::In<'_> as Record<'_>>::fields(),
        output: <A::Out as Record<'_>>::fields(),
    })
}

/// `add`: each group's rows, read from the batch, added to its accumulator.
pub fn aggregate_add<A: Aggregate>(batch: Batch, groups: Groups) -> Result<VarData, OperatorError> {
    let fields = <A::In<'_> as Record<'_>>::fields();
    let columns = views(&batch, &fields);
    let rows = batch.rows as usize;
    let readers = <A::In<'_> as Record<'_>>::readers(&columns, rows).map_err(batch_error)?;
    let n = groups.row_offsets.len().saturating_sub(1);
    let mut out = Accs::with_capacity(n);
    for (i, span) in groups.row_offsets.windows(2).enumerate() {
        let mut acc = load::<A>(value(&groups.accs, i)?)?;
        let Some(members) = groups.rows.get(span[0] as usize..span[1] as usize) else {
            return Err(op_error(format_args!(
                "the host's rows for group {i} are out of range"
            )));
        };
        for &row in members {
            let row = row as usize;
            if row >= rows {
                return Err(op_error(format_args!(
                    "the host named row {row} of a batch of {rows}"
                )));
            }
            <A::In<'_> as Record<'_>>::read(&readers, row)
                .and_then(|r| A::add(&mut acc, r))
                .map_err(|e| op_error(format_args!("add, row {row}: {e}")))?;
        }
        out.push::<A>(&acc)?;
    }
    Ok(out.0)
}

/// `merge`: accumulator i of `left` with accumulator i of `right`.
pub fn aggregate_merge<A: Aggregate>(
    left: VarData,
    right: VarData,
) -> Result<VarData, OperatorError> {
    let n = left.offsets.len().saturating_sub(1);
    let mut out = Accs::with_capacity(n);
    for i in 0..n {
        let merged = A::merge(load::<A>(value(&left, i)?)?, load::<A>(value(&right, i)?)?);
        out.push::<A>(&merged)?;
    }
    Ok(out.0)
}

/// `finish`: one result row per fired (key, window), as columns.
pub fn aggregate_finish<A: Aggregate>(fired: Fired) -> Result<Vec<Column>, OperatorError> {
    let n = fired.window_starts.len();
    let mut builders = <A::Out as Record<'_>>::builders(n);
    for i in 0..n {
        let window = Window {
            start: fired.window_starts[i],
            end: fired.window_ends.get(i).copied().unwrap_or_default(),
        };
        let out = A::finish(
            load::<A>(value(&fired.accs, i)?)?,
            value(&fired.keys, i)?,
            window,
        );
        out.write(&mut builders);
    }
    Ok(<A::Out as Record<'_>>::finish(
        builders,
        &Origin {
            parents: None,
            inputs: &[],
        },
    ))
}
