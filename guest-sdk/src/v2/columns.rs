//! Reading the columns of a batch: a [`ColumnView`] names a column and
//! types its buffers once per batch; a [`Reader`] holds the values a record
//! field reads, checked once per batch (lengths, offsets, UTF-8), so reading
//! a row is an index, not a type dispatch.

use super::bindings::weir::dataflow::types::{Column, ColumnData, ItemData};
use crate::Error;

/// A column of an input batch, borrowed, its values resolved to a typed
/// slice (text checked to be UTF-8 once, as a whole).
#[derive(Clone, Copy)]
pub struct ColumnView<'a> {
    /// The column's name, for errors.
    pub name: &'a str,
    /// Its position in the schema the host gave `init`.
    pub index: u32,
    validity: Option<&'a [u8]>,
    data: Data<'a>,
}

/// A column's values, typed.
#[derive(Clone, Copy)]
pub enum Data<'a> {
    /// A bitmap.
    Boolean(&'a [u8]),
    /// 32-bit integers.
    Int32(&'a [i32]),
    /// 64-bit integers (and timestamps).
    Int64(&'a [i64]),
    /// 32-bit floats.
    Float32(&'a [f32]),
    /// 64-bit floats.
    Float64(&'a [f64]),
    /// Text: offsets into one string.
    Utf8(&'a [u32], &'a str),
    /// Bytes: offsets into one buffer.
    Binary(&'a [u32], &'a [u8]),
    /// Lists: offsets into one buffer of items.
    Lists(&'a [u32], Items<'a>),
    /// Every value null.
    Nulls,
    /// Something a guest cannot read (an output-only case, or text that is
    /// not UTF-8).
    Unreadable,
}

/// The items of a list column, typed.
#[derive(Clone, Copy)]
pub enum Items<'a> {
    /// A bitmap.
    Boolean(&'a [u8]),
    /// 32-bit integers.
    Int32(&'a [i32]),
    /// 64-bit integers.
    Int64(&'a [i64]),
    /// 32-bit floats.
    Float32(&'a [f32]),
    /// 64-bit floats.
    Float64(&'a [f64]),
    /// Text: offsets into one string.
    Utf8(&'a [u32], &'a str),
}

impl<'a> Items<'a> {
    /// The items of `data`; `None` if its text is not UTF-8.
    fn of(data: &'a ItemData) -> Option<Self> {
        Some(match data {
            ItemData::Boolean(b) => Items::Boolean(b),
            ItemData::Int32(v) => Items::Int32(v),
            ItemData::Int64(v) => Items::Int64(v),
            ItemData::Float32(v) => Items::Float32(v),
            ItemData::Float64(v) => Items::Float64(v),
            ItemData::Utf8(v) => Items::Utf8(&v.offsets, std::str::from_utf8(&v.data).ok()?),
        })
    }
}

/// Bit `i` of an Arrow bitmap; a bit past the end reads as 0.
#[inline]
pub(super) fn bit(bits: &[u8], i: usize) -> bool {
    bits.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0)
}

impl<'a> ColumnView<'a> {
    /// A view of `column`, named `name`, column `index` of the schema the
    /// host gave `init`.
    pub fn new(name: &'a str, index: u32, column: &'a Column) -> Self {
        let data = match &column.data {
            ColumnData::Boolean(b) => Data::Boolean(b),
            ColumnData::Int32(v) => Data::Int32(v),
            ColumnData::Int64(v) => Data::Int64(v),
            ColumnData::Float32(v) => Data::Float32(v),
            ColumnData::Float64(v) => Data::Float64(v),
            ColumnData::Utf8(v) => match std::str::from_utf8(&v.data) {
                Ok(text) => Data::Utf8(&v.offsets, text),
                Err(_) => Data::Unreadable,
            },
            ColumnData::Binary(v) => Data::Binary(&v.offsets, &v.data),
            ColumnData::Nulls => Data::Nulls,
            // Packed columns come only to an operator that asked for them.
            ColumnData::Input(_) | ColumnData::Packed(_) => Data::Unreadable,
            ColumnData::Lists(l) => match Items::of(&l.items) {
                Some(items) => Data::Lists(&l.offsets, items),
                None => Data::Unreadable,
            },
        };
        Self {
            name,
            index,
            validity: column.validity.as_deref(),
            data,
        }
    }

    /// Is row `row` null?
    #[inline]
    pub fn is_null(&self, row: usize) -> bool {
        matches!(self.data, Data::Nulls) || self.validity.is_some_and(|v| !bit(v, row))
    }

    /// The values, typed.
    #[inline]
    pub fn data(&self) -> Data<'a> {
        self.data
    }

    /// Is `value` exactly row `row` of this column — the same bytes at the
    /// same place, not null? (What lets a borrowed field pass through.)
    #[inline]
    pub fn holds(&self, row: usize, value: &[u8]) -> bool {
        let (offsets, data) = match self.data {
            Data::Utf8(o, text) => (o, text.as_bytes()),
            Data::Binary(o, data) => (o, data),
            _ => return false,
        };
        let (Some(&start), Some(&end)) = (offsets.get(row), offsets.get(row + 1)) else {
            return false;
        };
        !self.is_null(row)
            && value.len() == end.wrapping_sub(start) as usize
            && value.as_ptr() as usize == (data.as_ptr() as usize).wrapping_add(start as usize)
    }

    /// "column `name` is not {want}".
    pub fn wrong(&self, want: &str) -> Error {
        Error::msg(format_args!("column `{}` is not {want}", self.name))
    }

    /// `values` if it holds a value for each of `rows` rows.
    pub fn fixed<T>(&self, values: &'a [T], rows: usize) -> Result<&'a [T], Error> {
        if values.len() < rows {
            return Err(Error::msg(format_args!(
                "column `{}` has {} values for {rows} rows",
                self.name,
                values.len()
            )));
        }
        Ok(values)
    }
}

/// The values of a column one record field reads, checked for a batch of
/// `rows` rows; `S` is the field type's [`Source`](super::FromColumn::Source).
pub struct Reader<'a, S> {
    name: &'a str,
    /// `None`: no nulls. A column of nulls has an empty bitmap.
    validity: Option<&'a [u8]>,
    source: S,
}

impl<'a, S> Reader<'a, S> {
    /// A reader of `column` for a field of type `T`, for `rows` rows.
    pub fn new<T>(column: &ColumnView<'a>, rows: usize) -> Result<Self, Error>
    where
        T: super::FromColumn<'a, Source = S>,
    {
        let validity = match column.data {
            Data::Nulls => Some(&[][..]),
            _ => column.validity,
        };
        if let Some(v) = validity
            && !v.is_empty()
            && v.len() < rows.div_ceil(8)
        {
            return Err(Error::msg(format_args!(
                "column `{}` has a validity bitmap of {} bytes for {rows} rows",
                column.name,
                v.len()
            )));
        }
        Ok(Self {
            name: column.name,
            validity,
            source: T::source(column, rows)?,
        })
    }

    /// Row `row`, as a `T`.
    #[inline(always)]
    pub fn get<T>(&self, row: usize) -> Result<T, Error>
    where
        T: super::FromColumn<'a, Source = S>,
    {
        let valid = match self.validity {
            None => true,
            Some(v) => bit(v, row),
        };
        T::get(&self.source, row, valid, self.name)
    }
}

/// Offsets into one buffer (Arrow's variable-width layout): `rows + 1` of
/// them. Whether each range is in order and within the buffer is checked
/// as the value is read, in the same pass.
#[derive(Clone, Copy)]
pub struct Offsets<'a>(&'a [u32]);

impl<'a> Offsets<'a> {
    /// Check there are offsets for `rows` rows.
    pub fn check(column: &ColumnView<'_>, offsets: &'a [u32], rows: usize) -> Result<Self, Error> {
        if offsets.len() < rows + 1 {
            return Err(Error::msg(format_args!(
                "column `{}` has {} offsets for {rows} rows; it needs one more than rows",
                column.name,
                offsets.len()
            )));
        }
        Ok(Self(offsets))
    }

    /// The byte range of row `row`.
    #[inline(always)]
    pub fn range(&self, row: usize) -> std::ops::Range<usize> {
        self.0[row] as usize..self.0[row + 1] as usize
    }
}
