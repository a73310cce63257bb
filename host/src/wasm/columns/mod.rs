//! Arrow batches across the boundary as the 0.2 contract's columns.
//!
//! Into the guest, every column is one list copied out of its Arrow
//! buffer (a sliced array is rebased, so offsets start at 0); out of the
//! guest, every list *becomes* an Arrow buffer without another copy. What
//! comes out is untrusted and checked before it is used: column count and
//! types against the schema the operator declared, one value per row,
//! offsets inside their data, text that is UTF-8, bitmaps long enough,
//! parents in range and in order. An operator whose bindings lift typed
//! lists value by value (Python) asks for its columns packed in bytes
//! instead ([`packed`]).

mod lists;
mod packed;

pub use lists::rows_with_null_items;
pub use packed::to_packed_column;

use super::bindings::v2::weir::dataflow::types as wit;
use arrow_array::types::{
    Float32Type, Float64Type, Int32Type, Int64Type, TimestampMillisecondType,
};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, PrimitiveArray, RecordBatch, StringArray,
    new_null_array,
};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use std::sync::Arc;

/// What was wrong with a schema or a guest's columns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ColumnError {
    /// A column of a type the contract does not carry.
    #[error("column `{column}` is {data_type}, which operators over columns cannot be given yet")]
    Unsupported {
        /// The column.
        column: String,
        /// Its Arrow type.
        data_type: String,
    },
    /// The guest's output does not fit its declared schema or its batch.
    #[error("{0}")]
    Contract(String),
}

fn contract(message: impl Into<String>) -> ColumnError {
    ColumnError::Contract(message.into())
}

/// The contract's type of an Arrow type.
fn wit_type(name: &str, t: &DataType) -> Result<wit::DataType, ColumnError> {
    Ok(match t {
        DataType::Boolean => wit::DataType::Boolean,
        DataType::Int32 => wit::DataType::Int32,
        DataType::Int64 => wit::DataType::Int64,
        DataType::Float32 => wit::DataType::Float32,
        DataType::Float64 => wit::DataType::Float64,
        DataType::Utf8 => wit::DataType::Utf8,
        DataType::Binary => wit::DataType::Binary,
        DataType::Timestamp(TimeUnit::Millisecond, None) => wit::DataType::TimestampMs,
        DataType::List(item) if lists::wit_list_type(item.data_type()).is_some() => {
            lists::wit_list_type(item.data_type()).expect("matched")
        }
        other => {
            return Err(ColumnError::Unsupported {
                column: name.into(),
                data_type: other.to_string(),
            });
        }
    })
}

/// The Arrow type of a contract type.
fn arrow_type(t: wit::DataType) -> DataType {
    match t {
        wit::DataType::Boolean => DataType::Boolean,
        wit::DataType::Int32 => DataType::Int32,
        wit::DataType::Int64 => DataType::Int64,
        wit::DataType::Float32 => DataType::Float32,
        wit::DataType::Float64 => DataType::Float64,
        wit::DataType::Utf8 => DataType::Utf8,
        wit::DataType::Binary => DataType::Binary,
        wit::DataType::TimestampMs => DataType::Timestamp(TimeUnit::Millisecond, None),
        list => DataType::List(lists::item_field(
            lists::item_type(list).expect("every other type is matched above"),
        )),
    }
}

/// A schema as the contract writes it.
pub fn to_wit_schema(schema: &Schema) -> Result<Vec<wit::Field>, ColumnError> {
    schema
        .fields()
        .iter()
        .map(|f| {
            Ok(wit::Field {
                name: f.name().clone(),
                data_type: wit_type(f.name(), f.data_type())?,
                nullable: f.is_nullable(),
            })
        })
        .collect()
}

/// A schema the guest declared, as Arrow's.
pub fn from_wit_schema(fields: &[wit::Field]) -> Result<SchemaRef, ColumnError> {
    let mut seen = std::collections::HashSet::new();
    for f in fields {
        if !seen.insert(f.name.as_str()) {
            return Err(contract(format!(
                "its output schema names column `{}` twice",
                f.name
            )));
        }
    }
    Ok(Arc::new(Schema::new(
        fields
            .iter()
            .map(|f| Field::new(&f.name, arrow_type(f.data_type), f.nullable))
            .collect::<Vec<_>>(),
    )))
}

/// A validity bitmap starting at bit 0, if the array has nulls.
pub(super) fn validity(a: &dyn Array) -> Option<Vec<u8>> {
    let nulls = a.logical_nulls()?;
    if nulls.null_count() == 0 {
        return None;
    }
    Some(nulls.inner().sliced().to_vec())
}

fn var_data(offsets: &[i32], values: &[u8]) -> wit::VarData {
    let first = offsets.first().copied().unwrap_or(0);
    let last = offsets.last().copied().unwrap_or(0);
    wit::VarData {
        offsets: offsets.iter().map(|o| (o - first) as u32).collect(),
        data: values[first as usize..last as usize].to_vec(),
    }
}

/// One column as the contract carries it; `name` names it in errors.
pub fn to_wit_column(name: &str, a: &ArrayRef) -> Result<wit::Column, ColumnError> {
    use arrow_array::cast::AsArray;
    let data = match a.data_type() {
        DataType::Boolean => wit::ColumnData::Boolean(a.as_boolean().values().sliced().to_vec()),
        DataType::Int32 => wit::ColumnData::Int32(a.as_primitive::<Int32Type>().values().to_vec()),
        DataType::Int64 => wit::ColumnData::Int64(a.as_primitive::<Int64Type>().values().to_vec()),
        DataType::Timestamp(TimeUnit::Millisecond, None) => wit::ColumnData::Int64(
            a.as_primitive::<TimestampMillisecondType>()
                .values()
                .to_vec(),
        ),
        DataType::Float32 => {
            wit::ColumnData::Float32(a.as_primitive::<Float32Type>().values().to_vec())
        }
        DataType::Float64 => {
            wit::ColumnData::Float64(a.as_primitive::<Float64Type>().values().to_vec())
        }
        DataType::Utf8 => {
            let s = a.as_string::<i32>();
            wit::ColumnData::Utf8(var_data(s.value_offsets(), s.value_data()))
        }
        DataType::Binary => {
            let b = a.as_binary::<i32>();
            wit::ColumnData::Binary(var_data(b.value_offsets(), b.value_data()))
        }
        DataType::List(_) => lists::to_wit_lists(name, a)?,
        other => {
            return Err(ColumnError::Unsupported {
                column: name.into(),
                data_type: other.to_string(),
            });
        }
    };
    Ok(wit::Column {
        validity: validity(a.as_ref()),
        data,
    })
}

/// The columns `projection` picks of `batch`, with its event times; for
/// an operator that asked for `packed` input, packed and without them.
pub fn to_wit_batch(
    batch: &RecordBatch,
    event_time: &[i64],
    projection: &[usize],
    packed: bool,
) -> Result<wit::Batch, ColumnError> {
    let column = if packed {
        to_packed_column
    } else {
        to_wit_column
    };
    let columns = projection
        .iter()
        .map(|&i| column(batch.schema().field(i).name(), batch.column(i)))
        .collect::<Result<_, _>>()?;
    Ok(wit::Batch {
        rows: batch.num_rows() as u32,
        event_time: if packed {
            Vec::new()
        } else {
            event_time.to_vec()
        },
        columns,
    })
}

fn bitmap(
    name: &str,
    what: &str,
    bits: Vec<u8>,
    rows: usize,
) -> Result<BooleanBuffer, ColumnError> {
    if bits.len() < rows.div_ceil(8) {
        return Err(contract(format!(
            "column `{name}`: its {what} has {} bytes for {rows} rows",
            bits.len()
        )));
    }
    Ok(BooleanBuffer::new(Buffer::from_vec(bits), 0, rows))
}

fn offsets(name: &str, v: &wit::VarData, rows: usize) -> Result<OffsetBuffer<i32>, ColumnError> {
    let o = &v.offsets;
    let ok = o.len() == rows + 1
        && o.windows(2).all(|w| w[0] <= w[1])
        && o.last()
            .is_some_and(|l| (*l as usize) <= v.data.len() && *l <= i32::MAX as u32);
    if !ok {
        return Err(contract(format!(
            "column `{name}`: its offsets are not {} non-decreasing positions inside its {} bytes of data",
            rows + 1,
            v.data.len()
        )));
    }
    Ok(OffsetBuffer::new(ScalarBuffer::from(
        o.iter().map(|x| *x as i32).collect::<Vec<i32>>(),
    )))
}

pub(super) fn primitive<T: arrow_array::ArrowPrimitiveType>(
    name: &str,
    values: Vec<T::Native>,
    rows: usize,
    nulls: Option<NullBuffer>,
) -> Result<ArrayRef, ColumnError> {
    if values.len() != rows {
        return Err(contract(format!(
            "column `{name}` has {} values for {rows} rows",
            values.len()
        )));
    }
    Ok(Arc::new(PrimitiveArray::<T>::new(
        ScalarBuffer::from(values),
        nulls,
    )))
}

/// The guest's column `c` as an Arrow array of field `f`, `rows` long; an
/// `input(k)` column is taken from `input` along `take` (the parents).
pub(super) fn from_wit_column(
    f: &Field,
    c: wit::Column,
    rows: usize,
    input: &RecordBatch,
    take: Option<&arrow_array::UInt32Array>,
) -> Result<ArrayRef, ColumnError> {
    let name = f.name();
    let nulls = match c.validity {
        Some(bits) => Some(NullBuffer::new(bitmap(
            name,
            "validity bitmap",
            bits,
            rows,
        )?)),
        None => None,
    };
    if nulls.as_ref().is_some_and(|n| n.null_count() > 0) && !f.is_nullable() {
        return Err(contract(format!(
            "column `{name}` has nulls, but the operator declared it not nullable"
        )));
    }
    let mismatch = || {
        contract(format!(
            "column `{name}` does not hold the {} its schema declares",
            f.data_type()
        ))
    };
    let array: ArrayRef = match (c.data, f.data_type()) {
        (wit::ColumnData::Nulls, t) => {
            if !f.is_nullable() {
                return Err(contract(format!(
                    "column `{name}` is all null, but the operator declared it not nullable"
                )));
            }
            new_null_array(t, rows)
        }
        (wit::ColumnData::Input(k), t) => {
            let k = k as usize;
            let source = input.columns().get(k).ok_or_else(|| {
                contract(format!(
                    "column `{name}` names input column {k}; the input has {}",
                    input.num_columns()
                ))
            })?;
            if source.data_type() != t {
                return Err(mismatch());
            }
            match take {
                Some(idx) => arrow_select::take::take(source.as_ref(), idx, None)
                    .map_err(|e| contract(format!("column `{name}`: {e}")))?,
                None => source.clone(),
            }
        }
        (wit::ColumnData::Boolean(bits), DataType::Boolean) => Arc::new(BooleanArray::new(
            bitmap(name, "values", bits, rows)?,
            nulls,
        )),
        (wit::ColumnData::Int32(v), DataType::Int32) => {
            primitive::<Int32Type>(name, v, rows, nulls)?
        }
        (wit::ColumnData::Int64(v), DataType::Int64) => {
            primitive::<Int64Type>(name, v, rows, nulls)?
        }
        (wit::ColumnData::Int64(v), DataType::Timestamp(TimeUnit::Millisecond, None)) => {
            primitive::<TimestampMillisecondType>(name, v, rows, nulls)?
        }
        (wit::ColumnData::Float32(v), DataType::Float32) => {
            primitive::<Float32Type>(name, v, rows, nulls)?
        }
        (wit::ColumnData::Float64(v), DataType::Float64) => {
            primitive::<Float64Type>(name, v, rows, nulls)?
        }
        (wit::ColumnData::Utf8(v), DataType::Utf8) => var_array(name, v, false, rows, nulls)?,
        (wit::ColumnData::Binary(v), DataType::Binary) => var_array(name, v, true, rows, nulls)?,
        (wit::ColumnData::Lists(l), DataType::List(item)) => {
            lists::from_wit_lists(name, item, l, rows, nulls)?
        }
        (wit::ColumnData::Packed(p), t) => packed::from_packed(name, p, t, rows, nulls)?,
        _ => return Err(mismatch()),
    };
    Ok(array)
}

/// Column `name`'s text (or, `binary`, bytes) as an Arrow array.
pub(super) fn var_array(
    name: &str,
    v: wit::VarData,
    binary: bool,
    rows: usize,
    nulls: Option<NullBuffer>,
) -> Result<ArrayRef, ColumnError> {
    let o = offsets(name, &v, rows)?;
    let data = Buffer::from_vec(v.data);
    let bad = |e: arrow_schema::ArrowError| contract(format!("column `{name}`: {e}"));
    Ok(if binary {
        Arc::new(BinaryArray::try_new(o, data, nulls).map_err(bad)?)
    } else {
        Arc::new(StringArray::try_new(o, data, nulls).map_err(bad)?)
    })
}

/// The rows an operator's answer stands for.
#[derive(Debug)]
pub struct Rows {
    /// The rows.
    pub batch: RecordBatch,
    /// Their event times.
    pub time: Vec<i64>,
    /// The input row each came from; `None`: row `i` came from input row `i`.
    pub parents: Option<Vec<u32>>,
    /// They are input rows themselves, unchanged (a filter's selection).
    pub selected: bool,
}

/// What a map emitted, as a batch of its declared `schema` with event
/// times; `input` and `input_time` are the batch it was given.
pub fn from_wit_output(
    mut out: wit::OutputBatch,
    schema: &SchemaRef,
    input: &RecordBatch,
    input_time: &[i64],
) -> Result<Rows, ColumnError> {
    let rows = out.rows as usize;
    let origin = std::mem::replace(&mut out.origin, wit::RowOrigin::Same);
    let parents: Option<Vec<u32>> = match origin {
        wit::RowOrigin::Same => {
            if rows != input.num_rows() {
                return Err(contract(format!(
                    "it emitted {rows} rows as the same rows as its input of {}",
                    input.num_rows()
                )));
            }
            None
        }
        wit::RowOrigin::Parents(p) => parents(p, rows, input)?,
        wit::RowOrigin::PackedParents(b) => parents(packed::u32s("parents", &b)?, rows, input)?,
    };
    from_parents(out, parents, schema, input, input_time)
}

/// Parents `p` of `rows` output rows, checked against `input`.
fn parents(p: Vec<u32>, rows: usize, input: &RecordBatch) -> Result<Option<Vec<u32>>, ColumnError> {
    let n = input.num_rows() as u32;
    if p.len() != rows
        || p.windows(2).any(|w| w[0] > w[1])
        || p.last().is_some_and(|last| *last >= n)
    {
        return Err(contract(format!(
            "its {} parents are not {rows} non-decreasing rows of its input of {n}",
            p.len()
        )));
    }
    Ok(Some(p))
}

/// The output `out` with its rows' `parents` checked.
fn from_parents(
    out: wit::OutputBatch,
    parents: Option<Vec<u32>>,
    schema: &SchemaRef,
    input: &RecordBatch,
    input_time: &[i64],
) -> Result<Rows, ColumnError> {
    let rows = out.rows as usize;
    if out.columns.len() != schema.fields().len() {
        return Err(contract(format!(
            "it emitted {} columns; its output schema has {}",
            out.columns.len(),
            schema.fields().len()
        )));
    }
    let take = parents
        .as_ref()
        .map(|p| arrow_array::UInt32Array::from(p.clone()));
    let columns = schema
        .fields()
        .iter()
        .zip(out.columns)
        .map(|(f, c)| from_wit_column(f, c, rows, input, take.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    let time = match (out.event_time, &parents) {
        (Some(t), _) if t.len() == rows => t,
        (Some(t), _) => {
            return Err(contract(format!(
                "it gave {} event times for {rows} rows",
                t.len()
            )));
        }
        (None, Some(p)) => p.iter().map(|&i| input_time[i as usize]).collect(),
        (None, None) => input_time.to_vec(),
    };
    let batch = RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(rows)),
    )
    .map_err(|e| contract(e.to_string()))?;
    Ok(Rows {
        batch,
        time,
        parents,
        selected: false,
    })
}

/// The rows a filter kept, as a batch of the input's schema with their
/// event times.
pub fn from_wit_selection(
    selection: wit::Selection,
    input: &RecordBatch,
    input_time: &[i64],
) -> Result<Rows, ColumnError> {
    let n = input.num_rows();
    let keep: Vec<u32> = match selection {
        wit::Selection::All => {
            return Ok(Rows {
                batch: input.clone(),
                time: input_time.to_vec(),
                parents: None,
                selected: true,
            });
        }
        wit::Selection::PackedIndices(b) => increasing(packed::u32s("indices", &b)?, n)?,
        wit::Selection::Indices(i) => increasing(i, n)?,
        wit::Selection::Bitmap(bits) => {
            let bits = bitmap("(selection)", "bitmap", bits, n)?;
            bits.set_indices().map(|i| i as u32).collect()
        }
    };
    selected(keep, input, input_time)
}

/// Selected rows `i`, checked: increasing, inside a batch of `n`.
fn increasing(i: Vec<u32>, n: usize) -> Result<Vec<u32>, ColumnError> {
    if i.windows(2).any(|w| w[0] >= w[1]) || i.last().is_some_and(|l| *l as usize >= n) {
        return Err(contract(format!(
            "it selected rows that are not increasing indices of its batch of {n}"
        )));
    }
    Ok(i)
}

/// Input rows `keep` as the rows a filter answered.
fn selected(keep: Vec<u32>, input: &RecordBatch, input_time: &[i64]) -> Result<Rows, ColumnError> {
    let idx = arrow_array::UInt32Array::from(keep.clone());
    let columns = input
        .columns()
        .iter()
        .map(|c| arrow_select::take::take(c.as_ref(), &idx, None))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| contract(e.to_string()))?;
    let batch = RecordBatch::try_new_with_options(
        input.schema(),
        columns,
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(keep.len())),
    )
    .map_err(|e| contract(e.to_string()))?;
    Ok(Rows {
        batch,
        time: keep.iter().map(|&i| input_time[i as usize]).collect(),
        parents: Some(keep),
        selected: true,
    })
}

#[cfg(test)]
mod tests;
