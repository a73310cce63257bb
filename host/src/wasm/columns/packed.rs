//! Columns packed in bytes (`column-data.packed`), for guests whose
//! bindings lift a `list<u8>` at once but every other list value by value.
//!
//! componentize-py (Python operators) lifts a `list<s64>` or `list<f64>`
//! one element at a time, attaching the Python thread state for each: a
//! fifth of a Python operator's time went there (BENCHMARKS.md). A
//! `list<u8>` becomes one `bytes` object instead, which the SDK turns into
//! a Python list with one C call (`memoryview.cast(...).tolist()`). So an
//! operator may ask at `init` for its input packed; fixed-width values are
//! then their little-endian bytes, text its offsets' bytes and its data.
//! Any output may come back packed: it is checked as strictly as a typed
//! one (length against the rows, offsets inside the data, UTF-8).

use super::{ColumnError, contract, primitive, to_wit_column, var_array, wit};
use arrow_array::types::{
    Float32Type, Float64Type, Int32Type, Int64Type, TimestampMillisecondType,
};
use arrow_array::{Array, ArrayRef};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, TimeUnit};

// Arrow's buffers are native-endian; the contract's bytes little-endian.
const _: () = assert!(
    cfg!(target_endian = "little"),
    "packed columns copy Arrow's buffers as little-endian bytes"
);

/// Column `a` packed where its type allows (fixed-width, text, bytes),
/// else as the contract's typed lists.
pub fn to_packed_column(name: &str, a: &ArrayRef) -> Result<wit::Column, ColumnError> {
    use arrow_array::cast::AsArray;
    let raw = |b: &arrow_buffer::Buffer| b.as_slice().to_vec();
    let values = match a.data_type() {
        DataType::Int32 => raw(a.as_primitive::<Int32Type>().values().inner()),
        DataType::Int64 => raw(a.as_primitive::<Int64Type>().values().inner()),
        DataType::Timestamp(TimeUnit::Millisecond, None) => raw(a
            .as_primitive::<TimestampMillisecondType>()
            .values()
            .inner()),
        DataType::Float32 => raw(a.as_primitive::<Float32Type>().values().inner()),
        DataType::Float64 => raw(a.as_primitive::<Float64Type>().values().inner()),
        DataType::Utf8 => {
            let s = a.as_string::<i32>();
            return Ok(text(a, s.value_offsets(), s.value_data()));
        }
        DataType::Binary => {
            let b = a.as_binary::<i32>();
            return Ok(text(a, b.value_offsets(), b.value_data()));
        }
        _ => return to_wit_column(name, a),
    };
    Ok(wit::Column {
        validity: super::validity(a.as_ref()),
        data: wit::ColumnData::Packed(wit::PackedData {
            values,
            offsets: None,
        }),
    })
}

/// Text or bytes packed: offsets rebased to 0, as little-endian `u32`s.
fn text(a: &ArrayRef, offsets: &[i32], data: &[u8]) -> wit::Column {
    let first = offsets.first().copied().unwrap_or(0);
    let last = offsets.last().copied().unwrap_or(0);
    let packed: Vec<u8> = offsets
        .iter()
        .flat_map(|o| ((o - first) as u32).to_le_bytes())
        .collect();
    wit::Column {
        validity: super::validity(a.as_ref()),
        data: wit::ColumnData::Packed(wit::PackedData {
            values: data[first as usize..last as usize].to_vec(),
            offsets: Some(packed),
        }),
    }
}

/// Little-endian `u32`s from `bytes` (packed parents, indices, offsets);
/// `what` names them in the error.
pub fn u32s(what: &str, bytes: &[u8]) -> Result<Vec<u32>, ColumnError> {
    if !bytes.len().is_multiple_of(4) {
        return Err(contract(format!(
            "its packed {what} are {} bytes, not four bytes each",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().expect("four bytes")))
        .collect())
}

/// `N`-byte values from `bytes`, one per row of column `name`.
fn fixed<T, const N: usize>(
    name: &str,
    bytes: &[u8],
    rows: usize,
    read: fn([u8; N]) -> T,
) -> Result<Vec<T>, ColumnError> {
    if bytes.len() != rows * N {
        return Err(contract(format!(
            "column `{name}` has {} packed bytes for {rows} values of {N} bytes",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(N)
        .map(|c| read(c.try_into().expect("N bytes")))
        .collect())
}

/// A guest's packed column `name` as an Arrow array of type `t`, `rows` long.
pub fn from_packed(
    name: &str,
    p: wit::PackedData,
    t: &DataType,
    rows: usize,
    nulls: Option<NullBuffer>,
) -> Result<ArrayRef, ColumnError> {
    let v = &p.values;
    match t {
        DataType::Int32 => {
            primitive::<Int32Type>(name, fixed(name, v, rows, i32::from_le_bytes)?, rows, nulls)
        }
        DataType::Int64 => {
            primitive::<Int64Type>(name, fixed(name, v, rows, i64::from_le_bytes)?, rows, nulls)
        }
        DataType::Timestamp(TimeUnit::Millisecond, None) => primitive::<TimestampMillisecondType>(
            name,
            fixed(name, v, rows, i64::from_le_bytes)?,
            rows,
            nulls,
        ),
        DataType::Float32 => {
            primitive::<Float32Type>(name, fixed(name, v, rows, f32::from_le_bytes)?, rows, nulls)
        }
        DataType::Float64 => {
            primitive::<Float64Type>(name, fixed(name, v, rows, f64::from_le_bytes)?, rows, nulls)
        }
        DataType::Utf8 | DataType::Binary => {
            let Some(offsets) = p.offsets else {
                return Err(contract(format!(
                    "column `{name}` is packed {t} without its offsets"
                )));
            };
            let offsets = u32s(&format!("offsets of column `{name}`"), &offsets)?;
            let var = wit::VarData {
                offsets,
                data: p.values,
            };
            var_array(name, var, *t == DataType::Binary, rows, nulls)
        }
        other => Err(contract(format!(
            "column `{name}` is {other}, which is never packed"
        ))),
    }
}
