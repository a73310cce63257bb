//! Records: plain structs read from, and written to, columns.
//!
//! Each field type says how it is read ([`FromColumn`]: a typed source of
//! values checked once per batch, then one index per row) and written
//! ([`ToColumn`]: a typed builder); the derive puts one of each per field
//! in a tuple, so a record is read and written without any per-value type
//! dispatch.

use super::bindings::weir::dataflow::types::{Column, DataType, Field};
use super::builders::{
    BinaryBuilder, BooleanBuilder, BorrowedBinary, BorrowedUtf8, ColumnBuilder, Float32Builder,
    Float64Builder, Int32Builder, Int64Builder, Nullable, Origin, Utf8Builder,
};
use super::columns::{ColumnView, Data, Offsets, bit};
use crate::Error;

/// A struct whose fields are columns: derive it with
/// `#[derive(weir_guest::v2::Record)]`.
pub trait Record<'a>: Sized {
    /// One [`Reader`](super::Reader) per field.
    type Readers;
    /// One [`ColumnBuilder`] per field.
    type Builders;
    /// Its fields as columns, in order.
    fn fields() -> Vec<Field>;
    /// Can field `field` (by position) be read from a column of `data_type`?
    fn accepts(field: usize, data_type: DataType) -> bool;
    /// Readers of `columns` (one per field, in order) for `rows` rows.
    fn readers(columns: &[ColumnView<'a>], rows: usize) -> Result<Self::Readers, Error>;
    /// Read row `row`.
    fn read(readers: &Self::Readers, row: usize) -> Result<Self, Error>;
    /// Empty builders, for `capacity` rows.
    fn builders(capacity: usize) -> Self::Builders;
    /// Append this record.
    fn write(&self, builders: &mut Self::Builders);
    /// The finished columns of rows that came from `origin`.
    fn finish(builders: Self::Builders, origin: &Origin<'_, '_>) -> Vec<Column>;
}

/// A field type read from a column.
pub trait FromColumn<'a>: Sized {
    /// The column's values, typed and checked for a batch.
    type Source;
    /// Can it be read from a column of `data_type`?
    fn accepts(data_type: DataType) -> bool;
    /// The values of `column`, checked for `rows` rows.
    fn source(column: &ColumnView<'a>, rows: usize) -> Result<Self::Source, Error>;
    /// Row `row`; `valid` is false when it is null (`column` names it).
    fn get(source: &Self::Source, row: usize, valid: bool, column: &str) -> Result<Self, Error>;
}

/// A field type written to a column.
pub trait ToColumn {
    /// Its column's builder.
    type Builder: ColumnBuilder;
    /// The column's type.
    fn data_type() -> DataType;
    /// May it be null?
    fn nullable() -> bool {
        false
    }
    /// Append the value.
    fn put(&self, builder: &mut Self::Builder);
}

#[cold]
pub(super) fn null(column: &str, row: usize) -> Error {
    Error::msg(format_args!(
        "column `{column}` is null in row {row}; make the field an Option to accept nulls"
    ))
}

#[cold]
pub(super) fn split(column: &str, row: usize) -> Error {
    Error::msg(format_args!(
        "column `{column}` has bad offsets at row {row}: out of order, past the end, or splitting a character"
    ))
}

/// A value from a source the field accepts; a null is an error.
macro_rules! from_column {
    ($t:ty, $source:ty, |$c:ident, $rows:ident| $make:expr, |$s:ident, $row:ident, $col:ident| $get:expr, $($accepts:ident)|+) => {
        impl<'a> FromColumn<'a> for $t {
            type Source = $source;
            fn accepts(t: DataType) -> bool {
                matches!(t, $(DataType::$accepts)|+)
            }
            fn source($c: &ColumnView<'a>, $rows: usize) -> Result<Self::Source, Error> {
                $make
            }
            #[inline(always)]
            fn get($s: &Self::Source, $row: usize, valid: bool, $col: &str) -> Result<Self, Error> {
                if !valid {
                    return Err(null($col, $row));
                }
                $get
            }
        }
    };
}

/// The integers of an `Int64` (or timestamp) or `Int32` column.
#[derive(Clone, Copy)]
pub enum Integers<'a> {
    /// 64-bit.
    I64(&'a [i64]),
    /// 32-bit, widened.
    I32(&'a [i32]),
    /// A column of nulls.
    None,
}

/// The numbers of a numeric column, read as `f64`.
#[derive(Clone, Copy)]
pub enum Numbers<'a> {
    /// 64-bit floats.
    F64(&'a [f64]),
    /// 32-bit floats, widened.
    F32(&'a [f32]),
    /// 64-bit integers, converted.
    I64(&'a [i64]),
    /// 32-bit integers, converted.
    I32(&'a [i32]),
    /// A column of nulls.
    None,
}

/// Checked text: the buffer, valid UTF-8, and its offsets.
#[derive(Clone, Copy)]
pub struct Text<'a> {
    offsets: Offsets<'a>,
    text: &'a str,
}

/// Checked bytes: the buffer and its offsets.
#[derive(Clone, Copy)]
pub struct Bytes<'a> {
    offsets: Offsets<'a>,
    data: &'a [u8],
}

fn integers<'a>(c: &ColumnView<'a>, rows: usize) -> Result<Integers<'a>, Error> {
    Ok(match c.data() {
        Data::Int64(v) => Integers::I64(c.fixed(v, rows)?),
        Data::Int32(v) => Integers::I32(c.fixed(v, rows)?),
        Data::Nulls => Integers::None,
        _ => return Err(c.wrong("an integer")),
    })
}

fn numbers<'a>(c: &ColumnView<'a>, rows: usize) -> Result<Numbers<'a>, Error> {
    Ok(match c.data() {
        Data::Float64(v) => Numbers::F64(c.fixed(v, rows)?),
        Data::Float32(v) => Numbers::F32(c.fixed(v, rows)?),
        Data::Int64(v) => Numbers::I64(c.fixed(v, rows)?),
        Data::Int32(v) => Numbers::I32(c.fixed(v, rows)?),
        Data::Nulls => Numbers::None,
        _ => return Err(c.wrong("a number")),
    })
}

fn text<'a>(c: &ColumnView<'a>, rows: usize) -> Result<Text<'a>, Error> {
    match c.data() {
        Data::Utf8(offsets, text) => {
            // Each value's range is checked as it is read (`split`).
            let offsets = Offsets::check(c, offsets, rows)?;
            Ok(Text { offsets, text })
        }
        Data::Nulls => Ok(Text {
            offsets: Offsets::check(c, &[0], 0)?,
            text: "",
        }),
        _ => Err(c.wrong("UTF-8 text")),
    }
}

fn bytes<'a>(c: &ColumnView<'a>, rows: usize) -> Result<Bytes<'a>, Error> {
    let (offsets, data) = match c.data() {
        Data::Utf8(o, text) => (o, text.as_bytes()),
        Data::Binary(o, data) => (o, data),
        Data::Nulls => (&[0][..], &[][..]),
        _ => return Err(c.wrong("bytes")),
    };
    let rows = if matches!(c.data(), Data::Nulls) {
        0
    } else {
        rows
    };
    Ok(Bytes {
        offsets: Offsets::check(c, offsets, rows)?,
        data,
    })
}

from_column!(
    i64,
    Integers<'a>,
    |c, rows| integers(c, rows),
    |s, row, column| Ok(match *s {
        Integers::I64(v) => v[row],
        Integers::I32(v) => i64::from(v[row]),
        Integers::None => 0,
    }),
    Int64 | Int32 | TimestampMs
);

from_column!(
    i32,
    &'a [i32],
    |c, rows| match c.data() {
        Data::Int32(v) => c.fixed(v, rows),
        Data::Nulls => Ok(&[][..]),
        _ => Err(c.wrong("a 32-bit integer")),
    },
    |s, row, column| Ok(s[row]),
    Int32
);

from_column!(
    f64,
    Numbers<'a>,
    |c, rows| numbers(c, rows),
    |s, row, column| Ok(match *s {
        Numbers::F64(v) => v[row],
        Numbers::F32(v) => f64::from(v[row]),
        Numbers::I64(v) => v[row] as f64,
        Numbers::I32(v) => f64::from(v[row]),
        Numbers::None => 0.0,
    }),
    Float64 | Float32 | Int64 | Int32
);

from_column!(
    f32,
    &'a [f32],
    |c, rows| match c.data() {
        Data::Float32(v) => c.fixed(v, rows),
        Data::Nulls => Ok(&[][..]),
        _ => Err(c.wrong("a 32-bit float")),
    },
    |s, row, column| Ok(s[row]),
    Float32
);

from_column!(
    bool,
    &'a [u8],
    |c, rows| match c.data() {
        Data::Boolean(bits) => c.fixed(bits, rows.div_ceil(8)),
        Data::Nulls => Ok(&[][..]),
        _ => Err(c.wrong("a boolean")),
    },
    |s, row, column| Ok(bit(s, row)),
    Boolean
);

from_column!(
    &'a str,
    Text<'a>,
    |c, rows| text(c, rows),
    |s, row, column| s
        .text
        .get(s.offsets.range(row))
        .ok_or_else(|| split(column, row)),
    Utf8
);

from_column!(
    String,
    Text<'a>,
    |c, rows| text(c, rows),
    |s, row, column| s
        .text
        .get(s.offsets.range(row))
        .map(str::to_owned)
        .ok_or_else(|| split(column, row)),
    Utf8
);

from_column!(
    &'a [u8],
    Bytes<'a>,
    |c, rows| bytes(c, rows),
    |s, row, column| s
        .data
        .get(s.offsets.range(row))
        .ok_or_else(|| split(column, row)),
    Binary | Utf8
);

from_column!(
    Vec<u8>,
    Bytes<'a>,
    |c, rows| bytes(c, rows),
    |s, row, column| s
        .data
        .get(s.offsets.range(row))
        .map(<[u8]>::to_vec)
        .ok_or_else(|| split(column, row)),
    Binary | Utf8
);

impl<'a, T: FromColumn<'a>> FromColumn<'a> for Option<T> {
    type Source = T::Source;
    fn accepts(t: DataType) -> bool {
        T::accepts(t)
    }
    fn source(c: &ColumnView<'a>, rows: usize) -> Result<Self::Source, Error> {
        T::source(c, rows)
    }
    #[inline(always)]
    fn get(s: &Self::Source, row: usize, valid: bool, column: &str) -> Result<Self, Error> {
        if valid {
            T::get(s, row, true, column).map(Some)
        } else {
            Ok(None)
        }
    }
}

macro_rules! to_column {
    ($t:ty, $builder:ty, $data_type:ident, |$v:ident| $put:expr) => {
        impl ToColumn for $t {
            type Builder = $builder;
            fn data_type() -> DataType {
                DataType::$data_type
            }
            #[inline(always)]
            fn put(&self, b: &mut Self::Builder) {
                let $v = self;
                b.push($put);
            }
        }
    };
}

to_column!(i64, Int64Builder, Int64, |v| *v);
to_column!(i32, Int32Builder, Int32, |v| *v);
to_column!(f64, Float64Builder, Float64, |v| *v);
to_column!(f32, Float32Builder, Float32, |v| *v);
to_column!(bool, BooleanBuilder, Boolean, |v| *v);
to_column!(String, Utf8Builder, Utf8, |v| v);
to_column!(Vec<u8>, BinaryBuilder, Binary, |v| v);

/// A borrowed field is kept as a reference until the batch is done: when
/// every row's value is the input value of the row it came from, the
/// column passes through (the host takes the input column itself) and the
/// text never crosses back.
impl<'a> ToColumn for &'a str {
    type Builder = BorrowedUtf8<'a>;
    fn data_type() -> DataType {
        DataType::Utf8
    }
    #[inline(always)]
    fn put(&self, b: &mut Self::Builder) {
        b.push(self.as_bytes());
    }
}

impl<'a> ToColumn for &'a [u8] {
    type Builder = BorrowedBinary<'a>;
    fn data_type() -> DataType {
        DataType::Binary
    }
    #[inline(always)]
    fn put(&self, b: &mut Self::Builder) {
        b.push(self);
    }
}

impl<T: ToColumn> ToColumn for Option<T> {
    type Builder = Nullable<T::Builder>;
    fn data_type() -> DataType {
        T::data_type()
    }
    fn nullable() -> bool {
        true
    }
    #[inline(always)]
    fn put(&self, b: &mut Self::Builder) {
        match self {
            Some(v) => {
                v.put(&mut b.values);
                b.valid();
            }
            None => b.push_null(),
        }
    }
}

/// A field of a record, for [`Record::fields`].
pub fn field<T: ToColumn>(name: &str) -> Field {
    Field {
        name: name.into(),
        data_type: T::data_type(),
        nullable: T::nullable(),
    }
}
