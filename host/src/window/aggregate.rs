//! What a window computes: built-in aggregates natively, or a Wasm
//! aggregate function called once per batch (never once per record) —
//! over JSON events (`weir:dataflow@0.1`) or over columns (`0.2`).

use super::results::window_columns;
use super::{TimeWindow, WindowError};
use crate::event::Event;
use crate::job::AggregateSpec;
use crate::wasm::WasmError;
use crate::wasm::bindings::{Accumulate, FinishInput, Window};
use crate::wasm::column_aggregate::{ColumnAggregateInstance, Fired, Group};
use crate::wasm::instance::AggregateInstance;

/// Accumulated state of one (key, window).
#[derive(Debug, Clone)]
pub enum Slot {
    /// Built-in aggregates: one or two `f64`s per aggregate.
    Native(NativeAcc),
    /// A Wasm accumulator plus work not yet sent to the guest.
    /// Boxed: the built-ins' slot is what most windows hold, and a smaller
    /// slot keeps a window's hash-table entry within fewer cache lines.
    Wasm(Box<WasmSlot>),
    /// Built-in aggregates over a changelog with a MIN or MAX among them:
    /// their numbers, and the values of each MIN and MAX (boxed, as
    /// [`Slot::Wasm`]).
    Retract(Box<(NativeAcc, Vec<Multiset>)>),
}

/// A Wasm accumulator and the records and merges waiting for the next flush.
#[derive(Debug, Clone, Default)]
pub struct WasmSlot {
    acc: Option<Vec<u8>>,
    /// The accumulators of built-in aggregates beside a Wasm aggregate
    /// over columns (empty: none).
    native: NativeAcc,
    merge_in: Vec<Vec<u8>>,
    pending: Vec<Event>,
    /// Of an aggregate over columns: rows of the current batch to add.
    rows: Vec<u32>,
}

impl WasmSlot {
    fn dirty(&self) -> bool {
        !self.pending.is_empty() || !self.merge_in.is_empty() || !self.rows.is_empty()
    }
}

/// What an aggregate is given of a record besides its numbers.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// Only the numbers (built-in aggregates over columns).
    Numbers,
    /// The record (a Wasm aggregate over events keeps it until the flush).
    Event(&'a Event),
    /// Its row in the current batch (a Wasm aggregate over columns).
    Row(u32),
}

/// A slot as a checkpoint holds it: taken after a flush, so a Wasm slot is
/// just the guest's serialized accumulator (state lives in the host).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum SavedSlot {
    /// Built-in accumulators.
    Native(Vec<f64>),
    /// The guest's accumulator bytes, if it has one yet.
    Wasm(Option<Vec<u8>>),
    /// The guest's accumulator bytes, and the built-in accumulators
    /// beside it.
    Beside(Option<Vec<u8>>, Vec<f64>),
    /// Built-in accumulators, and the values (with their counts) of each
    /// MIN and MAX over a changelog.
    Retract(Vec<f64>, Vec<Vec<(f64, i64)>>),
}

/// A record a built-in aggregate cannot take: its field has no number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}` (for {output}) is missing or not a number")]
pub struct NotANumber {
    /// The aggregated field.
    pub field: String,
    /// The aggregate's output column.
    pub output: String,
}

impl Slot {
    /// Host memory the slot holds: its accumulators (records pending for a
    /// Wasm aggregate are the batch's, and leave with it).
    pub fn heap_bytes(&self) -> u64 {
        match self {
            Slot::Native(v) => 8 * v.len() as u64,
            Slot::Wasm(w) => {
                w.acc.as_ref().map_or(0, |a| a.len() as u64)
                    + w.merge_in.iter().map(|m| m.len() as u64).sum::<u64>()
                    + 8 * w.native.len() as u64
            }
            Slot::Retract(r) => {
                8 * r.0.len() as u64 + r.1.iter().map(Multiset::heap_bytes).sum::<u64>()
            }
        }
    }

    /// The guest's accumulator bytes (empty: none yet, or built-ins only).
    fn guest_acc(&self) -> Vec<u8> {
        match self {
            Slot::Wasm(s) => s.acc.clone().unwrap_or_default(),
            Slot::Native(_) | Slot::Retract(_) => Vec::new(),
        }
    }

    /// The numbers the slot keeps: the built-ins' accumulators (alone, or
    /// beside a guest's), then whatever the window keeps after them (a
    /// global window's time of the last update).
    pub(super) fn numbers(&self) -> &NativeAcc {
        match self {
            Slot::Native(v) => v,
            Slot::Wasm(w) => &w.native,
            Slot::Retract(r) => &r.0,
        }
    }

    /// [`Slot::numbers`], to change.
    pub(super) fn numbers_mut(&mut self) -> &mut NativeAcc {
        match self {
            Slot::Native(v) => v,
            Slot::Wasm(w) => &mut w.native,
            Slot::Retract(r) => &mut r.0,
        }
    }

    /// A copy of what its results are made of: a slot over a changelog
    /// without its MINs' and MAXes' values (their results are in its
    /// numbers), others whole.
    pub(super) fn results_part(&self) -> Slot {
        match self {
            Slot::Retract(r) => Slot::Native(r.0.clone()),
            other => other.clone(),
        }
    }

    /// The slot as saved; call after the aggregation flushed.
    pub fn save(&self) -> SavedSlot {
        match self {
            Slot::Native(v) => SavedSlot::Native(v.to_vec()),
            Slot::Wasm(w) => {
                debug_assert!(!w.dirty(), "snapshot of an unflushed Wasm slot");
                if w.native.is_empty() {
                    SavedSlot::Wasm(w.acc.clone())
                } else {
                    SavedSlot::Beside(w.acc.clone(), w.native.to_vec())
                }
            }
            Slot::Retract(r) => {
                SavedSlot::Retract(r.0.to_vec(), r.1.iter().map(Multiset::save).collect())
            }
        }
    }

    /// A slot from a saved one.
    pub fn load(saved: SavedSlot) -> Slot {
        match saved {
            SavedSlot::Native(v) => Slot::Native(NativeAcc::from_vec(v)),
            SavedSlot::Wasm(acc) => Slot::Wasm(Box::new(WasmSlot {
                acc,
                ..WasmSlot::default()
            })),
            SavedSlot::Beside(acc, native) => Slot::Wasm(Box::new(WasmSlot {
                acc,
                native: NativeAcc::from_vec(native),
                ..WasmSlot::default()
            })),
            SavedSlot::Retract(native, sets) => Slot::Retract(Box::new((
                NativeAcc::from_vec(native),
                sets.into_iter().map(Multiset::load).collect(),
            ))),
        }
    }
}

/// The aggregation of a window operator.
pub enum Aggregation {
    /// Built-ins.
    Native(Natives),
    /// A Wasm aggregate function over JSON events.
    Wasm(Box<AggregateInstance>),
    /// A Wasm aggregate function over columns, and built-in aggregates
    /// beside it (SQL's `COUNT(*), f(x)`; often none), whose results come
    /// first.
    Columns(Box<ColumnAggregateInstance>, Natives),
}

impl Aggregation {
    /// Built-in aggregates from the job's `aggregates` list (validated).
    pub fn native(specs: &[AggregateSpec]) -> Aggregation {
        Aggregation::Native(Natives::new(specs))
    }

    /// A Wasm aggregate function over columns, with the built-in
    /// aggregates `beside` it.
    pub fn columns(guest: ColumnAggregateInstance, beside: &[AggregateSpec]) -> Aggregation {
        Aggregation::Columns(Box::new(guest), Natives::new(beside))
    }

    /// A new version of a Wasm aggregate over columns, for
    /// [`super::operator::WindowOperator::swap_aggregate`] (which keeps the
    /// built-in aggregates beside the old one).
    pub fn guest(guest: Box<ColumnAggregateInstance>) -> Aggregation {
        Aggregation::Columns(guest, Natives::default())
    }

    /// The built-in aggregates (beside a guest's, or alone).
    fn natives(&self) -> Option<&Natives> {
        match self {
            Aggregation::Native(n) | Aggregation::Columns(_, n) => Some(n),
            Aggregation::Wasm(_) => None,
        }
    }

    /// Whether the built-in aggregates' results of two slots are the
    /// same (a guest's are not looked at).
    pub(super) fn same_results(&self, a: &Slot, b: &Slot) -> bool {
        self.natives().is_some_and(|n| {
            n.aggs
                .iter()
                .all(|NativeSpec(x)| x.value(a.numbers()) == x.value(b.numbers()))
        })
    }

    /// An empty accumulator.
    pub fn new_slot(&self) -> Slot {
        match self {
            Aggregation::Native(n) if n.sets > 0 => {
                Slot::Retract(Box::new((n.new_acc(), vec![Multiset::default(); n.sets])))
            }
            Aggregation::Native(n) => Slot::Native(n.new_acc()),
            Aggregation::Wasm(_) => Slot::Wasm(Box::default()),
            Aggregation::Columns(_, n) => Slot::Wasm(Box::new(WasmSlot {
                native: n.new_acc(),
                ..WasmSlot::default()
            })),
        }
    }

    /// How many numbers a slot's built-in aggregates keep
    /// ([`Slot::numbers`] before what the window keeps after them).
    pub(super) fn accumulators(&self) -> usize {
        self.natives().map_or(0, |n| n.slots)
    }

    /// Whether a guest computes it (its slots wait for a flush).
    pub fn is_guest(&self) -> bool {
        !matches!(self, Aggregation::Native(_))
    }

    /// Extract the numeric inputs of a record into `values` (one per
    /// aggregate, 0 for `count`; then its sign over a changelog): done once
    /// per record, before it touches any window, so a bad record changes
    /// nothing and goes whole to the dead-letter output.
    pub fn extract(&self, event: &Event, values: &mut Vec<f64>) -> Result<(), NotANumber> {
        values.clear();
        if let Some(n) = self.natives() {
            for (field, output) in n.fields() {
                let x = match field {
                    Some(f) => crate::json::number(&event.value, f).ok_or_else(|| NotANumber {
                        field: f.to_string(),
                        output: output.to_string(),
                    })?,
                    None => 0.0,
                };
                values.push(x);
            }
        }
        Ok(())
    }

    /// Why a record cannot be aggregated when aggregate `i`'s field has
    /// no number.
    pub fn missing(&self, i: usize) -> String {
        match self.natives().and_then(|n| n.fields().nth(i)) {
            Some((field, output)) => NotANumber {
                field: field.unwrap_or_default().to_string(),
                output: output.to_string(),
            }
            .to_string(),
            None => "an aggregated field is missing".into(),
        }
    }

    /// Why a row with `values` (what [`Aggregation::extract`] found)
    /// cannot be added: over a changelog, a sign that is neither 1 nor -1.
    pub fn bad_sign(&self, values: &[f64]) -> Option<String> {
        self.natives()?.bad_sign(values)
    }

    /// Add a record with the `values` [`Aggregation::extract`] found; a
    /// Wasm aggregate keeps the record (or its row) for its next flush.
    pub fn add(&self, slot: &mut Slot, input: Input<'_>, values: &[f64]) {
        match slot {
            Slot::Native(v) => {
                if let Aggregation::Native(n) = self {
                    n.add(v, &mut [], values);
                }
            }
            Slot::Retract(r) => {
                if let Aggregation::Native(n) = self {
                    let (v, sets) = r.as_mut();
                    n.add(v, sets, values);
                }
            }
            Slot::Wasm(w) => {
                if let Aggregation::Columns(_, n) = self {
                    n.add(&mut w.native, &mut [], values);
                }
                match input {
                    Input::Event(e) => w.pending.push(e.clone()),
                    Input::Row(r) => w.rows.push(r),
                    Input::Numbers => {}
                }
            }
        }
    }

    /// Merge `from` into `into` (session windows).
    pub fn merge(&self, into: &mut Slot, from: Slot) {
        match (into, from) {
            (Slot::Native(a), Slot::Native(b)) => {
                if let Aggregation::Native(n) = self {
                    n.merge((a, &mut []), (&b, &[]));
                }
            }
            (Slot::Retract(a), Slot::Retract(b)) => {
                if let Aggregation::Native(n) = self {
                    let (a, a_sets) = a.as_mut();
                    n.merge((a, a_sets), (&b.0, &b.1));
                }
            }
            (Slot::Wasm(a), Slot::Wasm(b)) => {
                let b = *b;
                if let Aggregation::Columns(_, n) = self {
                    n.merge((&mut a.native, &mut []), (&b.native, &[]));
                }
                a.merge_in.extend(b.acc);
                a.merge_in.extend(b.merge_in);
                a.pending.extend(b.pending);
                a.rows.extend(b.rows);
            }
            _ => {}
        }
    }

    /// Send pending merges and records of these slots to the guest, in as
    /// few calls as possible; `batch`: the current batch's columns (of the
    /// aggregate's input schema) and event times, which rows pending for an
    /// aggregate over columns point into. No-op for built-ins. Returns the
    /// accumulator bytes (before, after), for the job's memory budget.
    pub fn flush<'a>(
        &mut self,
        slots: impl Iterator<Item = &'a mut Slot>,
        batch: Option<(&arrow_array::RecordBatch, &[i64])>,
    ) -> Result<(u64, u64), WasmError> {
        if !self.is_guest() {
            return Ok((0, 0));
        }
        let (mut before, mut after) = (0u64, 0u64);
        let len = |v: &Vec<u8>| v.len() as u64;
        let mut dirty: Vec<&mut WasmSlot> = slots
            .filter_map(|s| match s {
                Slot::Wasm(w) if w.dirty() => Some(w.as_mut()),
                _ => None,
            })
            .collect();
        // Merges: pairwise rounds until each slot has one accumulator.
        loop {
            let mut pairs = Vec::new();
            let mut owners = Vec::new();
            for (i, w) in dirty.iter_mut().enumerate() {
                if let Some(other) = w.merge_in.pop() {
                    match w.acc.take() {
                        Some(acc) => {
                            before += len(&acc) + len(&other);
                            pairs.push((acc, other));
                            owners.push(i);
                        }
                        None => w.acc = Some(other),
                    }
                }
            }
            if pairs.is_empty() {
                if dirty.iter().all(|w| w.merge_in.is_empty()) {
                    break;
                }
                continue;
            }
            let merged = match self {
                Aggregation::Wasm(i) => i.merge(&pairs)?,
                Aggregation::Columns(i, _) => i.merge(&pairs)?,
                Aggregation::Native(_) => unreachable!("built-ins have no guest"),
            };
            for (acc, i) in merged.into_iter().zip(owners) {
                after += len(&acc);
                dirty[i].acc = Some(acc);
            }
        }
        let mut targets: Vec<&mut &mut WasmSlot> = dirty
            .iter_mut()
            .filter(|w| !w.pending.is_empty() || !w.rows.is_empty())
            .collect();
        if targets.is_empty() {
            return Ok((before, after));
        }
        for w in &targets {
            before += w.acc.as_ref().map_or(0, len);
        }
        let accs = match self {
            Aggregation::Wasm(instance) => {
                let inputs: Vec<Accumulate> = targets
                    .iter_mut()
                    .map(|w| Accumulate {
                        acc: w.acc.take(),
                        events: std::mem::take(&mut w.pending),
                    })
                    .collect();
                instance.add(&inputs)?
            }
            Aggregation::Columns(instance, _) => {
                let groups: Vec<Group> = targets
                    .iter_mut()
                    .map(|w| Group {
                        acc: w.acc.take(),
                        rows: std::mem::take(&mut w.rows),
                    })
                    .collect();
                let Some((batch, time)) = batch else {
                    unreachable!("rows are pending only while their batch is processed")
                };
                instance.add(batch, time, groups)?
            }
            Aggregation::Native(_) => unreachable!("built-ins have no guest"),
        };
        for (acc, w) in accs.into_iter().zip(targets) {
            after += len(&acc);
            w.acc = Some(acc);
        }
        Ok((before, after))
    }

    /// The result payloads (JSON) for fired (key, window, slot)s, flushed.
    pub fn finish(
        &mut self,
        fired: &[(&[u8], TimeWindow, &Slot)],
    ) -> Result<Vec<Vec<u8>>, WindowError> {
        match self {
            Aggregation::Native(Natives { aggs, .. }) => Ok(fired
                .iter()
                .map(|(key, w, slot)| native_result(aggs, key, *w, slot.numbers()))
                .collect()),
            Aggregation::Wasm(instance) => {
                let inputs: Vec<FinishInput> = fired
                    .iter()
                    .map(|(key, w, slot)| FinishInput {
                        key: key.to_vec(),
                        window: Window {
                            start: w.start,
                            end: w.end,
                        },
                        acc: slot.guest_acc(),
                    })
                    .collect();
                Ok(instance.finish(&inputs)?)
            }
            Aggregation::Columns(..) => {
                let Some(batch) = self.finish_columns(fired)? else {
                    return Ok(Vec::new());
                };
                Ok(crate::batch::json_lines(&batch)?)
            }
        }
    }
}

impl Aggregation {
    /// Results for fired (key, window, slot)s as one batch: `key` (text),
    /// `window_start`, `window_end`, then each built-in aggregate (`count`
    /// an integer, the others doubles) or the columns an aggregate over
    /// columns made; `None` for a Wasm aggregate over events.
    pub fn finish_columns(
        &mut self,
        fired: &[(&[u8], TimeWindow, &Slot)],
    ) -> Result<Option<arrow_array::RecordBatch>, WindowError> {
        use arrow_array::{Float64Array, Int64Array};
        use arrow_schema::{DataType, Field, Schema};
        let (mut fields, mut columns) = window_columns(fired.iter().map(|(k, w, _)| (*k, *w)));
        let Some(natives) = self.natives() else {
            return Ok(None);
        };
        // The built-ins' results: after the window's own columns.
        let value = |a: &Native, v: &[f64]| a.value(v);
        let slots = || fired.iter().map(|(_, _, s)| s.numbers().as_slice());
        for NativeSpec(a) in &natives.aggs {
            if a.func == Func::Count {
                fields.push(Field::new(&a.output, DataType::Int64, false));
                let c: Int64Array = slots().map(|v| value(a, v) as i64).collect();
                columns.push(std::sync::Arc::new(c));
            } else {
                fields.push(Field::new(&a.output, DataType::Float64, false));
                let c: Float64Array = slots().map(|v| value(a, v)).collect();
                columns.push(std::sync::Arc::new(c));
            }
        }
        // Then a guest's.
        if let Aggregation::Columns(instance, _) = self {
            let made = fired
                .iter()
                .map(|(key, w, slot)| Fired {
                    key: key.to_vec(),
                    start: w.start,
                    end: w.end,
                    acc: slot.guest_acc(),
                })
                .collect();
            columns.extend(instance.finish(made)?);
            fields.extend(
                instance
                    .output_schema()
                    .fields()
                    .iter()
                    .map(|f| (**f).clone()),
            );
        }
        arrow_array::RecordBatch::try_new(std::sync::Arc::new(Schema::new(fields)), columns)
            .map(Some)
            .map_err(WindowError::ResultColumns)
    }
}

mod multiset;
mod natives;
pub use multiset::Multiset;
use natives::{Func, Native, native_result};
pub use natives::{NativeAcc, NativeSpec, Natives, SIGN};
#[cfg(test)]
mod tests;
