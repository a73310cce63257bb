//! What a window computes: built-in aggregates natively, or a Wasm
//! aggregate function called once per batch (never once per record).

use super::TimeWindow;
use crate::event::Event;
use crate::job::AggregateSpec;
use crate::wasm::WasmError;
use crate::wasm::bindings::{Accumulate, FinishInput, Window};
use crate::wasm::instance::AggregateInstance;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Count,
    Sum,
    Min,
    Max,
    Avg,
}

#[derive(Debug, Clone)]
struct Native {
    func: Func,
    field: Option<String>,
    output: String,
    /// First accumulator slot (avg uses two: sum, count).
    slot: usize,
}

/// Built-in accumulators: inline up to this many `f64`s (two aggregates
/// with an average among them), so a window's accumulator for a key costs
/// no allocation of its own.
pub type NativeAcc = smallvec::SmallVec<[f64; 4]>;

/// Accumulated state of one (key, window).
#[derive(Debug, Clone)]
pub enum Slot {
    /// Built-in aggregates: one or two `f64`s per aggregate.
    Native(NativeAcc),
    /// A Wasm accumulator plus work not yet sent to the guest.
    /// Boxed: the built-ins' slot is what most windows hold, and a smaller
    /// slot keeps a window's hash-table entry within fewer cache lines.
    Wasm(Box<WasmSlot>),
}

/// A Wasm accumulator and the records and merges waiting for the next flush.
#[derive(Debug, Clone, Default)]
pub struct WasmSlot {
    acc: Option<Vec<u8>>,
    merge_in: Vec<Vec<u8>>,
    pending: Vec<Event>,
}

impl WasmSlot {
    fn dirty(&self) -> bool {
        !self.pending.is_empty() || !self.merge_in.is_empty()
    }
}

/// A slot as a checkpoint holds it: taken after a flush, so a Wasm slot is
/// just the guest's serialized accumulator (state lives in the host).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum SavedSlot {
    /// Built-in accumulators.
    Native(Vec<f64>),
    /// The guest's accumulator bytes, if it has one yet.
    Wasm(Option<Vec<u8>>),
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
            }
        }
    }

    /// The slot as saved; call after the aggregation flushed.
    pub fn save(&self) -> SavedSlot {
        match self {
            Slot::Native(v) => SavedSlot::Native(v.to_vec()),
            Slot::Wasm(w) => {
                debug_assert!(!w.dirty(), "snapshot of an unflushed Wasm slot");
                SavedSlot::Wasm(w.acc.clone())
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
        }
    }
}

/// The aggregation of a window operator.
pub enum Aggregation {
    /// Built-ins.
    Native {
        /// The aggregates in output order.
        aggs: Vec<NativeSpec>,
        /// Accumulator slots per window.
        slots: usize,
    },
    /// A Wasm aggregate function.
    Wasm(Box<AggregateInstance>),
}

/// One built-in aggregate, resolved.
#[derive(Debug, Clone)]
pub struct NativeSpec(Native);

impl Aggregation {
    /// Built-in aggregates from the job's `aggregates` list (validated).
    pub fn native(specs: &[AggregateSpec]) -> Aggregation {
        let mut slot = 0;
        let aggs = specs
            .iter()
            .map(|a| {
                let func = match a.function.as_str() {
                    "count" => Func::Count,
                    "sum" => Func::Sum,
                    "min" => Func::Min,
                    "max" => Func::Max,
                    _ => Func::Avg,
                };
                let n = Native {
                    func,
                    field: a.field.clone(),
                    output: a.output_name(),
                    slot,
                };
                slot += if func == Func::Avg { 2 } else { 1 };
                NativeSpec(n)
            })
            .collect();
        Aggregation::Native { aggs, slots: slot }
    }

    /// An empty accumulator.
    pub fn new_slot(&self) -> Slot {
        match self {
            Aggregation::Native { aggs, slots } => {
                let mut v: NativeAcc = smallvec::smallvec![0.0; *slots];
                for NativeSpec(a) in aggs {
                    match a.func {
                        Func::Min => v[a.slot] = f64::INFINITY,
                        Func::Max => v[a.slot] = f64::NEG_INFINITY,
                        _ => {}
                    }
                }
                Slot::Native(v)
            }
            Aggregation::Wasm(_) => Slot::Wasm(Box::default()),
        }
    }

    /// Extract the numeric inputs of a record into `values` (one per
    /// aggregate, 0 for `count`): done once per record, before it touches any
    /// window, so a bad record changes nothing and goes whole to the
    /// dead-letter output.
    pub fn extract(&self, event: &Event, values: &mut Vec<f64>) -> Result<(), NotANumber> {
        values.clear();
        if let Aggregation::Native { aggs, .. } = self {
            for NativeSpec(a) in aggs {
                let x = match &a.field {
                    Some(f) => crate::json::number(&event.value, f).ok_or_else(|| NotANumber {
                        field: f.clone(),
                        output: a.output.clone(),
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
        match self {
            Aggregation::Native { aggs, .. } => match aggs.get(i) {
                Some(NativeSpec(a)) => NotANumber {
                    field: a.field.clone().unwrap_or_default(),
                    output: a.output.clone(),
                }
                .to_string(),
                None => "an aggregated field is missing".into(),
            },
            Aggregation::Wasm(_) => "an aggregated field is missing".into(),
        }
    }

    /// Add a record with the `values` [`Aggregation::extract`] found; a
    /// Wasm aggregate keeps the `event` for its next flush (records read
    /// from columns have none: they go to built-in aggregates only).
    pub fn add(&self, slot: &mut Slot, event: Option<&Event>, values: &[f64]) {
        match slot {
            Slot::Native(v) => {
                let Aggregation::Native { aggs, .. } = self else {
                    return;
                };
                for (NativeSpec(a), &x) in aggs.iter().zip(values) {
                    let s = a.slot;
                    match a.func {
                        Func::Count => v[s] += 1.0,
                        Func::Sum => v[s] += x,
                        Func::Min => v[s] = v[s].min(x),
                        Func::Max => v[s] = v[s].max(x),
                        Func::Avg => {
                            v[s] += x;
                            v[s + 1] += 1.0;
                        }
                    }
                }
            }
            Slot::Wasm(w) => w.pending.extend(event.cloned()),
        }
    }

    /// Merge `from` into `into` (session windows).
    pub fn merge(&self, into: &mut Slot, from: Slot) {
        match (into, from) {
            (Slot::Native(a), Slot::Native(b)) => {
                let Aggregation::Native { aggs, .. } = self else {
                    return;
                };
                for NativeSpec(n) in aggs {
                    let s = n.slot;
                    match n.func {
                        Func::Count | Func::Sum => a[s] += b[s],
                        Func::Min => a[s] = a[s].min(b[s]),
                        Func::Max => a[s] = a[s].max(b[s]),
                        Func::Avg => {
                            a[s] += b[s];
                            a[s + 1] += b[s + 1];
                        }
                    }
                }
            }
            (Slot::Wasm(a), Slot::Wasm(b)) => {
                let b = *b;
                a.merge_in.extend(b.acc);
                a.merge_in.extend(b.merge_in);
                a.pending.extend(b.pending);
            }
            _ => {}
        }
    }

    /// Send pending merges and records of these slots to the guest, in as
    /// few calls as possible. No-op for built-ins. Returns the accumulator
    /// bytes (before, after), for the job's memory budget.
    pub fn flush<'a>(
        &mut self,
        slots: impl Iterator<Item = &'a mut Slot>,
    ) -> Result<(u64, u64), WasmError> {
        let Aggregation::Wasm(instance) = self else {
            return Ok((0, 0));
        };
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
            for (acc, i) in instance.merge(&pairs)?.into_iter().zip(owners) {
                after += len(&acc);
                dirty[i].acc = Some(acc);
            }
        }
        let with_records: Vec<&mut &mut WasmSlot> =
            dirty.iter_mut().filter(|w| !w.pending.is_empty()).collect();
        if with_records.is_empty() {
            return Ok((before, after));
        }
        let mut targets = Vec::with_capacity(with_records.len());
        let inputs: Vec<Accumulate> = with_records
            .into_iter()
            .map(|w| {
                before += w.acc.as_ref().map_or(0, len);
                let input = Accumulate {
                    acc: w.acc.take(),
                    events: std::mem::take(&mut w.pending),
                };
                targets.push(w);
                input
            })
            .collect();
        for (acc, w) in instance.add(&inputs)?.into_iter().zip(targets) {
            after += len(&acc);
            w.acc = Some(acc);
        }
        Ok((before, after))
    }

    /// The result payloads (JSON) for fired (key, window, slot)s, flushed.
    pub fn finish(
        &mut self,
        fired: &[(&[u8], TimeWindow, &Slot)],
    ) -> Result<Vec<Vec<u8>>, WasmError> {
        match self {
            Aggregation::Native { aggs, .. } => Ok(fired
                .iter()
                .map(|(key, w, slot)| {
                    let Slot::Native(v) = slot else {
                        return Vec::new();
                    };
                    native_result(aggs, key, *w, v)
                })
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
                        acc: match slot {
                            Slot::Wasm(s) => s.acc.clone().unwrap_or_default(),
                            Slot::Native(_) => Vec::new(),
                        },
                    })
                    .collect();
                instance.finish(&inputs)
            }
        }
    }
}

impl Aggregation {
    /// Built-in results for fired (key, window, slot)s as one batch:
    /// `key` (text), `window_start`, `window_end`, then each aggregate
    /// (`count` an integer, the others doubles); `None` for a Wasm
    /// aggregate.
    pub fn finish_columns(
        &self,
        fired: &[(&[u8], TimeWindow, &Slot)],
    ) -> Option<arrow_array::RecordBatch> {
        use arrow_array::{ArrayRef, Float64Array, Int64Array, StringArray};
        use arrow_schema::{DataType, Field, Schema};
        let Aggregation::Native { aggs, .. } = self else {
            return None;
        };
        let keys: StringArray = fired
            .iter()
            .map(|(k, _, _)| {
                Some(match std::str::from_utf8(k) {
                    Ok(text) => std::borrow::Cow::Borrowed(text),
                    Err(_) => String::from_utf8_lossy(k),
                })
            })
            .collect();
        let starts: Int64Array = fired.iter().map(|(_, w, _)| w.start).collect();
        let ends: Int64Array = fired.iter().map(|(_, w, _)| w.end).collect();
        let mut fields = vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("window_start", DataType::Int64, false),
            Field::new("window_end", DataType::Int64, false),
        ];
        let mut columns: Vec<ArrayRef> = vec![
            std::sync::Arc::new(keys),
            std::sync::Arc::new(starts),
            std::sync::Arc::new(ends),
        ];
        let value = |a: &Native, v: &[f64]| match a.func {
            Func::Avg if v[a.slot + 1] > 0.0 => v[a.slot] / v[a.slot + 1],
            Func::Avg => 0.0,
            _ => v[a.slot],
        };
        let slots = || {
            fired.iter().map(|(_, _, s)| match s {
                Slot::Native(v) => v.as_slice(),
                Slot::Wasm(_) => &[][..],
            })
        };
        for NativeSpec(a) in aggs {
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
        arrow_array::RecordBatch::try_new(std::sync::Arc::new(Schema::new(fields)), columns).ok()
    }
}

/// `{"key":..,"window_start":..,"window_end":..,<aggregates>}`. Whole
/// numbers print without a fraction, so counts and sums of integers read as
/// integers. Written straight into the line's bytes (one allocation per
/// result: a window may write about as many results as it reads records).
fn native_result(aggs: &[NativeSpec], key: &[u8], w: TimeWindow, v: &[f64]) -> Vec<u8> {
    let mut s = Vec::with_capacity(48 + key.len() + 32 * aggs.len());
    let mut int = itoa::Buffer::new();
    s.extend_from_slice(b"{\"key\":");
    write_json_string(&mut s, key);
    s.extend_from_slice(b",\"window_start\":");
    s.extend_from_slice(int.format(w.start).as_bytes());
    s.extend_from_slice(b",\"window_end\":");
    s.extend_from_slice(int.format(w.end).as_bytes());
    for NativeSpec(a) in aggs {
        let x = match a.func {
            Func::Avg if v[a.slot + 1] > 0.0 => v[a.slot] / v[a.slot + 1],
            Func::Avg => 0.0,
            _ => v[a.slot],
        };
        s.push(b',');
        write_json_string(&mut s, a.output.as_bytes());
        s.push(b':');
        write_number(&mut s, x);
    }
    s.push(b'}');
    s
}

/// `bytes` as a JSON string (invalid UTF-8 replaced, as the key was read).
fn write_json_string(out: &mut Vec<u8>, bytes: &[u8]) {
    let plain = |b: &u8| *b >= 0x20 && *b != b'"' && *b != b'\\';
    match std::str::from_utf8(bytes) {
        Ok(_) if bytes.iter().all(plain) => {
            out.push(b'"');
            out.extend_from_slice(bytes);
            out.push(b'"');
        }
        _ => {
            let text = String::from_utf8_lossy(bytes);
            let _ = serde_json::to_writer(&mut *out, &text);
        }
    }
}

/// A result number: whole ones as integers; others in the shortest form
/// that reads back the same (as Rust's `Display` writes it: ryu, which
/// gives the same digits, where it also writes no exponent).
fn write_number(out: &mut Vec<u8>, x: f64) {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        out.extend_from_slice(itoa::Buffer::new().format(x as i64).as_bytes());
    } else if x.is_finite() && (1e-4..1e15).contains(&x.abs()) {
        let mut buf = ryu::Buffer::new();
        let text = buf.format_finite(x);
        // Where 16 or 17 digits are needed, the two may round the last one
        // differently: Display decides.
        let digits = text.bytes().filter(u8::is_ascii_digit).count()
            - text
                .bytes()
                .take_while(|b| matches!(b, b'-' | b'0' | b'.'))
                .filter(u8::is_ascii_digit)
                .count();
        if digits < 16 {
            out.extend_from_slice(text.as_bytes());
        } else {
            use std::io::Write as _;
            let _ = write!(out, "{x}");
        }
    } else if x.is_finite() {
        use std::io::Write as _;
        let _ = write!(out, "{x}");
    } else {
        out.extend_from_slice(b"null");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(f: &str, field: Option<&str>) -> AggregateSpec {
        AggregateSpec {
            function: f.into(),
            field: field.map(Into::into),
            output: None,
        }
    }

    #[test]
    fn builtins_compute_and_merge() {
        let agg = Aggregation::native(&[
            spec("count", None),
            spec("sum", Some("x")),
            spec("min", Some("x")),
            spec("max", Some("x")),
            spec("avg", Some("x")),
        ]);
        let ev = |x: f64| crate::event::event(format!("{{\"x\":{x}}}").into_bytes(), 0);
        let (mut a, mut b) = (agg.new_slot(), agg.new_slot());
        let mut values = Vec::new();
        let mut add = |slot: &mut Slot, x: f64| {
            let e = ev(x);
            agg.extract(&e, &mut values).unwrap();
            agg.add(slot, Some(&e), &values);
        };
        add(&mut a, 1.0);
        add(&mut a, 4.0);
        add(&mut b, 2.5);
        agg.merge(&mut a, b);
        let w = TimeWindow { start: 0, end: 10 };
        let Aggregation::Native { aggs, .. } = &agg else {
            unreachable!()
        };
        let Slot::Native(v) = &a else { unreachable!() };
        let out = String::from_utf8(native_result(aggs, b"k", w, v)).unwrap();
        assert_eq!(
            out,
            r#"{"key":"k","window_start":0,"window_end":10,"count":3,"sum_x":7.5,"min_x":1,"max_x":4,"avg_x":2.5}"#
        );
        assert!(
            agg.extract(&crate::event::event(b"{}".to_vec(), 0), &mut values)
                .is_err()
        );
    }

    #[test]
    fn numbers_and_keys_read_as_display_and_serde_json_write_them() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            // xorshift: values across the range, fractions and integers.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let scale = 10f64.powi((x % 24) as i32 - 6);
            let v = (x >> 11) as f64 / (1u64 << 53) as f64 * scale;
            for v in [v, -v, (v * 100.0).round() / 100.0] {
                let mut out = Vec::new();
                write_number(&mut out, v);
                let expected = if v.fract() == 0.0 && v.abs() < 9.0e15 {
                    format!("{}", v as i64)
                } else {
                    format!("{v}")
                };
                assert_eq!(String::from_utf8(out).unwrap(), expected, "{v:e}");
            }
        }
        for key in ["plain", "quo\"te", "back\\slash", "tab\there", "ünï"] {
            let mut out = Vec::new();
            write_json_string(&mut out, key.as_bytes());
            assert_eq!(out, serde_json::to_vec(key).unwrap());
        }
        let mut out = Vec::new();
        write_json_string(&mut out, b"\xff");
        assert_eq!(out, serde_json::to_vec("\u{fffd}").unwrap());
    }
}
