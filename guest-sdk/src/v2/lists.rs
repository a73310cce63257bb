//! List fields: `Vec<String>`, `Vec<i64>`… read from and written to list
//! columns (Arrow's `List` layout: per row, a range of one buffer of
//! items).
//!
//! ```ignore
//! #[derive(weir_guest::v2::Record)]
//! struct Session { user: String, pages: Vec<String>, clicks: i64 }
//! ```
//!
//! An item is never null in the contract, so a list of `Option`s is not a
//! field type; an `Option<Vec<T>>` is (the list itself may be null).

use super::bindings::weir::dataflow::types::{Column, ColumnData, DataType, ListData};
use super::builders::{
    BooleanBuilder, ColumnBuilder, Float32Builder, Float64Builder, Int32Builder, Int64Builder,
    ItemBuilder, Origin, Utf8Builder,
};
use super::columns::{ColumnView, Data, Items, Offsets, bit};
use super::record::{FromColumn, ToColumn};
use crate::Error;

/// A list column's rows, checked for a batch: offsets for every row, and
/// its items of type `I`.
#[derive(Clone, Copy)]
pub struct Lists<'a, I> {
    offsets: Offsets<'a>,
    items: I,
}

#[cold]
fn out_of_range(column: &str, row: usize) -> Error {
    Error::msg(format_args!(
        "column `{column}` has bad list offsets at row {row}: out of order or past its items"
    ))
}

fn lists<'a, I>(
    c: &ColumnView<'a>,
    rows: usize,
    want: &str,
    pick: impl FnOnce(Items<'a>) -> Option<I>,
    empty: I,
) -> Result<Lists<'a, I>, Error> {
    match c.data() {
        Data::Lists(offsets, items) => Ok(Lists {
            offsets: Offsets::check(c, offsets, rows)?,
            items: pick(items).ok_or_else(|| c.wrong(want))?,
        }),
        Data::Nulls => Ok(Lists {
            offsets: Offsets::check(c, &[0], 0)?,
            items: empty,
        }),
        _ => Err(c.wrong(want)),
    }
}

macro_rules! fixed_list {
    ($t:ty, $variant:ident, $builder:ty, $list:ident, $want:literal) => {
        impl<'a> FromColumn<'a> for Vec<$t> {
            type Source = Lists<'a, &'a [$t]>;
            fn accepts(t: DataType) -> bool {
                matches!(t, DataType::$list)
            }
            fn source(c: &ColumnView<'a>, rows: usize) -> Result<Self::Source, Error> {
                lists(
                    c,
                    rows,
                    $want,
                    |i| match i {
                        Items::$variant(v) => Some(v),
                        _ => None,
                    },
                    &[][..],
                )
            }
            #[inline]
            fn get(s: &Self::Source, row: usize, valid: bool, column: &str) -> Result<Self, Error> {
                if !valid {
                    return Err(super::record::null(column, row));
                }
                s.items
                    .get(s.offsets.range(row))
                    .map(<[$t]>::to_vec)
                    .ok_or_else(|| out_of_range(column, row))
            }
        }

        impl ToColumn for Vec<$t> {
            type Builder = ListBuilder<$builder>;
            fn data_type() -> DataType {
                DataType::$list
            }
            #[inline]
            fn put(&self, b: &mut Self::Builder) {
                for x in self {
                    b.items.push(*x);
                }
                b.end(self.len());
            }
        }
    };
}

fixed_list!(
    i64,
    Int64,
    Int64Builder,
    ListInt64,
    "a list of 64-bit integers"
);
fixed_list!(
    i32,
    Int32,
    Int32Builder,
    ListInt32,
    "a list of 32-bit integers"
);
fixed_list!(
    f64,
    Float64,
    Float64Builder,
    ListFloat64,
    "a list of 64-bit floats"
);
fixed_list!(
    f32,
    Float32,
    Float32Builder,
    ListFloat32,
    "a list of 32-bit floats"
);

impl<'a> FromColumn<'a> for Vec<bool> {
    type Source = Lists<'a, &'a [u8]>;
    fn accepts(t: DataType) -> bool {
        matches!(t, DataType::ListBoolean)
    }
    fn source(c: &ColumnView<'a>, rows: usize) -> Result<Self::Source, Error> {
        lists(
            c,
            rows,
            "a list of booleans",
            |i| match i {
                Items::Boolean(b) => Some(b),
                _ => None,
            },
            &[][..],
        )
    }
    fn get(s: &Self::Source, row: usize, valid: bool, column: &str) -> Result<Self, Error> {
        if !valid {
            return Err(super::record::null(column, row));
        }
        let r = s.offsets.range(row);
        if r.start > r.end || r.end > s.items.len() * 8 {
            return Err(out_of_range(column, row));
        }
        Ok(r.map(|i| bit(s.items, i)).collect())
    }
}

impl ToColumn for Vec<bool> {
    type Builder = ListBuilder<BooleanBuilder>;
    fn data_type() -> DataType {
        DataType::ListBoolean
    }
    fn put(&self, b: &mut Self::Builder) {
        for x in self {
            b.items.push(*x);
        }
        b.end(self.len());
    }
}

/// Text items: their offsets and the text.
type TextItems<'a> = (&'a [u32], &'a str);

impl<'a> FromColumn<'a> for Vec<String> {
    type Source = Lists<'a, TextItems<'a>>;
    fn accepts(t: DataType) -> bool {
        matches!(t, DataType::ListUtf8)
    }
    fn source(c: &ColumnView<'a>, rows: usize) -> Result<Self::Source, Error> {
        lists(
            c,
            rows,
            "a list of UTF-8 text",
            |i| match i {
                Items::Utf8(o, text) => Some((o, text)),
                _ => None,
            },
            (&[0], ""),
        )
    }
    fn get(s: &Self::Source, row: usize, valid: bool, column: &str) -> Result<Self, Error> {
        if !valid {
            return Err(super::record::null(column, row));
        }
        let (offsets, text) = s.items;
        let r = s.offsets.range(row);
        // Item i is text[offsets[i]..offsets[i + 1]].
        let bounds = offsets
            .get(r.start..r.end.saturating_add(1))
            .filter(|_| r.start <= r.end)
            .ok_or_else(|| out_of_range(column, row))?;
        bounds
            .windows(2)
            .map(|w| {
                text.get(w[0] as usize..w[1] as usize)
                    .map(str::to_owned)
                    .ok_or_else(|| super::record::split(column, row))
            })
            .collect()
    }
}

impl ToColumn for Vec<String> {
    type Builder = ListBuilder<Utf8Builder>;
    fn data_type() -> DataType {
        DataType::ListUtf8
    }
    fn put(&self, b: &mut Self::Builder) {
        for x in self {
            b.items.push(x);
        }
        b.end(self.len());
    }
}

/// A list column under construction: each row's items appended to one
/// builder of items, and an offset where each row ends.
pub struct ListBuilder<B> {
    offsets: Vec<u32>,
    count: u32,
    /// The items of every row so far.
    pub items: B,
}

impl<B> ListBuilder<B> {
    /// End a row of `items` items (just appended to [`Self::items`]).
    #[inline]
    pub fn end(&mut self, items: usize) {
        self.count += items as u32;
        self.offsets.push(self.count);
    }
}

impl<B: ItemBuilder> ColumnBuilder for ListBuilder<B> {
    fn with_capacity(capacity: usize) -> Self {
        let mut offsets = Vec::with_capacity(capacity + 1);
        offsets.push(0);
        Self {
            offsets,
            count: 0,
            items: B::with_capacity(capacity),
        }
    }
    fn push_default(&mut self) {
        self.end(0);
    }
    fn finish(self, _: &Origin<'_, '_>) -> Column {
        Column {
            validity: None,
            data: ColumnData::Lists(ListData {
                offsets: self.offsets,
                items: self.items.into_items(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::bindings::weir::dataflow::types::ItemData;
    use super::*;
    use crate::v2::Reader;

    /// `rows` written into a list column, then read back through a view.
    fn round_trip<T>(rows: &[T]) -> Vec<T>
    where
        T: ToColumn + for<'a> FromColumn<'a>,
    {
        let mut b = T::Builder::with_capacity(rows.len());
        for r in rows {
            r.put(&mut b);
        }
        let none = Origin {
            parents: None,
            inputs: &[],
        };
        let column = b.finish(&none);
        let view = ColumnView::new("xs", 0, &column);
        let reader = Reader::new::<T>(&view, rows.len()).expect("a reader");
        (0..rows.len())
            .map(|i| reader.get::<T>(i).expect("a row"))
            .collect()
    }

    #[test]
    fn lists_of_each_item_type_come_back_as_written() {
        let ints = vec![vec![1i64, -2, 3], vec![], vec![i64::MAX]];
        assert_eq!(round_trip(&ints), ints);
        let floats = vec![vec![0.5f64], vec![], vec![1e300, -0.0]];
        assert_eq!(round_trip(&floats), floats);
        let bools = vec![vec![true; 9], vec![false, true], vec![]];
        assert_eq!(round_trip(&bools), bools);
        let text = vec![vec!["/a".to_string(), "é".into()], vec![], vec!["".into()]];
        assert_eq!(round_trip(&text), text);
        let maybe = vec![Some(vec!["x".to_string()]), None, Some(vec![])];
        assert_eq!(round_trip(&maybe), maybe);
    }

    #[test]
    fn a_list_column_with_offsets_past_its_items_is_an_error_not_a_panic() {
        let column = Column {
            validity: None,
            data: ColumnData::Lists(ListData {
                offsets: vec![0, 2, 9],
                items: ItemData::Int64(vec![1, 2, 3]),
            }),
        };
        let view = ColumnView::new("xs", 0, &column);
        let reader = Reader::new::<Vec<i64>>(&view, 2).expect("a reader");
        assert_eq!(reader.get::<Vec<i64>>(0).expect("row 0"), vec![1, 2]);
        let e = reader.get::<Vec<i64>>(1).unwrap_err();
        assert!(e.to_string().contains("bad list offsets"), "{e}");
        let wrong = Reader::new::<Vec<String>>(&view, 2)
            .err()
            .expect("wrong type");
        assert!(
            wrong.to_string().contains("not a list of UTF-8 text"),
            "{wrong}"
        );
    }
}
