//! List columns across the boundary: Arrow's `List` layout (one offset
//! per row into one buffer of items) as the contract's `lists` column.
//!
//! A row of `["/cart", "/pay"]` and a row of `[]` cross as offsets
//! `[0, 2, 2]` and the items `"/cart"`, `"/pay"` in one text buffer: one
//! copy per buffer, as for any other column. Items are never null (the
//! contract has no validity for them); a null item in a host column is
//! refused with the column's name, not passed on as a default.

use super::{ColumnError, contract, var_data};
use crate::wasm::bindings::v2::weir::dataflow::types as wit;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int32Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, ListArray, PrimitiveArray, RecordBatch, StringArray,
};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, FieldRef};
use std::sync::Arc;

/// The rows of `batch` with a null inside a list in one of the columns
/// `projection` picks, each with the column's name: rows a guest cannot be
/// given (the contract's items are never null), set aside before a call.
pub fn rows_with_null_items(batch: &RecordBatch, projection: &[usize]) -> Vec<(u32, String)> {
    let mut bad = std::collections::BTreeMap::new();
    for &i in projection {
        let c = batch.column(i);
        let DataType::List(_) = c.data_type() else {
            continue;
        };
        let list = c.as_list::<i32>();
        let Some(items) = list.values().logical_nulls().filter(|n| n.null_count() > 0) else {
            continue;
        };
        for row in 0..list.len() {
            let (start, end) = (list.value_offsets()[row], list.value_offsets()[row + 1]);
            if (start..end).any(|j| items.is_null(j as usize)) {
                bad.entry(row as u32)
                    .or_insert_with(|| batch.schema().field(i).name().clone());
            }
        }
    }
    bad.into_iter().collect()
}

/// The contract's list type of items of Arrow type `item`, if it has one.
pub(super) fn wit_list_type(item: &DataType) -> Option<wit::DataType> {
    Some(match item {
        DataType::Boolean => wit::DataType::ListBoolean,
        DataType::Int32 => wit::DataType::ListInt32,
        DataType::Int64 => wit::DataType::ListInt64,
        DataType::Float32 => wit::DataType::ListFloat32,
        DataType::Float64 => wit::DataType::ListFloat64,
        DataType::Utf8 => wit::DataType::ListUtf8,
        _ => return None,
    })
}

/// The Arrow item type of a contract list type (`None`: not a list).
pub(super) fn item_type(t: wit::DataType) -> Option<DataType> {
    Some(match t {
        wit::DataType::ListBoolean => DataType::Boolean,
        wit::DataType::ListInt32 => DataType::Int32,
        wit::DataType::ListInt64 => DataType::Int64,
        wit::DataType::ListFloat32 => DataType::Float32,
        wit::DataType::ListFloat64 => DataType::Float64,
        wit::DataType::ListUtf8 => DataType::Utf8,
        _ => return None,
    })
}

/// The item field of a list column a guest declared: never null.
pub(super) fn item_field(item: DataType) -> FieldRef {
    Arc::new(Field::new_list_field(item, false))
}

/// A list column as the contract carries it; `name` names it in errors.
pub(super) fn to_wit_lists(name: &str, a: &ArrayRef) -> Result<wit::ColumnData, ColumnError> {
    let list = a.as_list::<i32>();
    let offsets = list.value_offsets();
    let first = offsets.first().copied().unwrap_or(0) as usize;
    let last = offsets.last().copied().unwrap_or(0) as usize;
    let values = list.values().slice(first, last - first);
    if values.null_count() > 0 {
        return Err(contract(format!(
            "column `{name}` has a null inside a list; list items cannot be null"
        )));
    }
    let items = match values.data_type() {
        DataType::Boolean => wit::ItemData::Boolean(values.as_boolean().values().sliced().to_vec()),
        DataType::Int32 => {
            wit::ItemData::Int32(values.as_primitive::<Int32Type>().values().to_vec())
        }
        DataType::Int64 => {
            wit::ItemData::Int64(values.as_primitive::<Int64Type>().values().to_vec())
        }
        DataType::Float32 => {
            wit::ItemData::Float32(values.as_primitive::<Float32Type>().values().to_vec())
        }
        DataType::Float64 => {
            wit::ItemData::Float64(values.as_primitive::<Float64Type>().values().to_vec())
        }
        DataType::Utf8 => {
            let s = values.as_string::<i32>();
            wit::ItemData::Utf8(var_data(s.value_offsets(), s.value_data()))
        }
        other => {
            return Err(ColumnError::Unsupported {
                column: name.into(),
                data_type: format!("a list of {other}"),
            });
        }
    };
    Ok(wit::ColumnData::Lists(wit::ListData {
        offsets: offsets
            .iter()
            .map(|o| (*o as usize - first) as u32)
            .collect(),
        items,
    }))
}

/// `rows + 1` non-decreasing offsets, the last at most `items`.
fn list_offsets(
    name: &str,
    o: Vec<u32>,
    rows: usize,
    items: usize,
) -> Result<OffsetBuffer<i32>, ColumnError> {
    let ok = o.len() == rows + 1
        && o.windows(2).all(|w| w[0] <= w[1])
        && o.first() == Some(&0)
        && o.last()
            .is_some_and(|l| (*l as usize) <= items && *l <= i32::MAX as u32);
    if !ok {
        return Err(contract(format!(
            "column `{name}`: its list offsets are not {} non-decreasing positions from 0 inside its {items} items",
            rows + 1
        )));
    }
    Ok(OffsetBuffer::new(ScalarBuffer::from(
        o.into_iter().map(|x| x as i32).collect::<Vec<i32>>(),
    )))
}

fn items_mismatch(name: &str, item: &DataType) -> ColumnError {
    contract(format!(
        "column `{name}` does not hold the items of type {item} its schema declares"
    ))
}

/// The guest's list column as an Arrow `List` of items of `field`, `rows`
/// long.
pub(super) fn from_wit_lists(
    name: &str,
    field: &FieldRef,
    data: wit::ListData,
    rows: usize,
    nulls: Option<NullBuffer>,
) -> Result<ArrayRef, ColumnError> {
    fn values<T: arrow_array::ArrowPrimitiveType>(v: Vec<T::Native>) -> ArrayRef {
        Arc::new(PrimitiveArray::<T>::new(ScalarBuffer::from(v), None))
    }
    let item = field.data_type();
    let (count, items): (usize, ArrayRef) = match (data.items, item) {
        (wit::ItemData::Boolean(bits), DataType::Boolean) => {
            // The bitmap's length is the items': checked against the
            // offsets below.
            let count = data.offsets.last().copied().unwrap_or(0) as usize;
            if bits.len() < count.div_ceil(8) {
                return Err(contract(format!(
                    "column `{name}`: its item bitmap has {} bytes for {count} items",
                    bits.len()
                )));
            }
            let b = BooleanArray::new(BooleanBuffer::new(Buffer::from_vec(bits), 0, count), None);
            (count, Arc::new(b))
        }
        (wit::ItemData::Int32(v), DataType::Int32) => (v.len(), values::<Int32Type>(v)),
        (wit::ItemData::Int64(v), DataType::Int64) => (v.len(), values::<Int64Type>(v)),
        (wit::ItemData::Float32(v), DataType::Float32) => (v.len(), values::<Float32Type>(v)),
        (wit::ItemData::Float64(v), DataType::Float64) => (v.len(), values::<Float64Type>(v)),
        (wit::ItemData::Utf8(v), DataType::Utf8) => {
            let count = v.offsets.len().saturating_sub(1);
            let o = super::offsets(name, &v, count)?;
            let s = StringArray::try_new(o, Buffer::from_vec(v.data), None)
                .map_err(|e| contract(format!("column `{name}`: {e}")))?;
            (count, Arc::new(s))
        }
        _ => return Err(items_mismatch(name, item)),
    };
    let offsets = list_offsets(name, data.offsets, rows, count)?;
    let used = offsets.last().map_or(0, |&o| o as usize);
    let items = items.slice(0, used);
    Ok(Arc::new(
        ListArray::try_new(field.clone(), offsets, items, nulls)
            .map_err(|e| contract(format!("column `{name}`: {e}")))?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::builder::{ListBuilder, StringBuilder};

    fn pages() -> ArrayRef {
        let mut b = ListBuilder::new(StringBuilder::new());
        b.append_value([Some("/a"), Some("/b")]);
        b.append_value([] as [Option<&str>; 0]);
        b.append_null();
        b.append_value([Some("/c")]);
        Arc::new(b.finish())
    }

    #[test]
    fn a_sliced_list_column_crosses_rebased_and_comes_back_equal() {
        let a = pages().slice(1, 3);
        let wit::ColumnData::Lists(l) = to_wit_lists("pages", &a).unwrap() else {
            panic!("not lists")
        };
        assert_eq!(l.offsets, vec![0, 0, 0, 1]);
        let wit::ItemData::Utf8(v) = &l.items else {
            panic!("not text")
        };
        assert_eq!(v.data, b"/c");
        let field = item_field(DataType::Utf8);
        let nulls = a.logical_nulls();
        let back = from_wit_lists("pages", &field, l, 3, nulls).unwrap();
        let back = back.as_list::<i32>();
        assert_eq!(back.len(), 3);
        assert!(back.is_null(1));
        assert_eq!(back.value(0).len(), 0);
        assert_eq!(back.value(2).as_string::<i32>().value(0), "/c");
    }

    #[test]
    fn broken_list_columns_are_refused_with_what_is_wrong() {
        let field = item_field(DataType::Int64);
        for (data, says) in [
            (
                wit::ListData {
                    offsets: vec![0, 3],
                    items: wit::ItemData::Int64(vec![1, 2]),
                },
                "list offsets",
            ),
            (
                wit::ListData {
                    offsets: vec![0, 2, 1],
                    items: wit::ItemData::Int64(vec![1, 2]),
                },
                "non-decreasing",
            ),
            (
                wit::ListData {
                    offsets: vec![0, 1, 1],
                    items: wit::ItemData::Float64(vec![1.0]),
                },
                "items of type int64",
            ),
        ] {
            let rows = data.offsets.len() - 1;
            let e = from_wit_lists("xs", &field, data, rows, None)
                .unwrap_err()
                .to_string();
            assert!(e.to_lowercase().contains(says), "`{says}` not in: {e}");
        }
        let mut b = ListBuilder::new(StringBuilder::new());
        b.append_value([Some("x"), None]);
        let e = to_wit_lists("pages", &(Arc::new(b.finish()) as ArrayRef)).unwrap_err();
        assert!(e.to_string().contains("null inside a list"), "{e}");
    }
}
