//! Building the columns of an output: one typed builder per record field,
//! chosen at compile time by the field's type ([`ToColumn::Builder`]), so
//! appending a value is a push onto one buffer.
//!
//! [`ToColumn::Builder`]: super::ToColumn::Builder

use super::bindings::weir::dataflow::types::{Column, ColumnData, ItemData, VarData};
use super::columns::ColumnView;

/// Where a batch's output rows came from.
pub struct Origin<'o, 'a> {
    /// The input row of each output row; `None`: output row i is input row i.
    pub parents: Option<&'o [u32]>,
    /// The input's columns.
    pub inputs: &'o [ColumnView<'a>],
}

impl Origin<'_, '_> {
    /// The input row output row `row` came from.
    #[inline]
    fn parent(&self, row: usize) -> usize {
        self.parents.map_or(row, |p| p[row] as usize)
    }

    /// The input column (by its index in `init`'s schema) every value of
    /// which, at its row's parent, is exactly `values` — if there is one.
    fn source_of(&self, values: &[&[u8]], text: bool) -> Option<u32> {
        self.inputs
            .iter()
            .filter(|c| match c.data() {
                super::Data::Utf8(..) => text,
                super::Data::Binary(..) => !text,
                _ => false,
            })
            .find(|c| {
                values
                    .iter()
                    .enumerate()
                    .all(|(row, v)| c.holds(self.parent(row), v))
            })
            .map(|c| c.index)
    }
}

/// An output column under construction.
pub trait ColumnBuilder {
    /// An empty column, sized for `capacity` rows.
    fn with_capacity(capacity: usize) -> Self;
    /// Append a placeholder under a null (the validity is kept by
    /// [`Nullable`]).
    fn push_default(&mut self);
    /// The finished column, of rows that came from `origin`.
    fn finish(self, origin: &Origin<'_, '_>) -> Column;
}

fn plain(data: ColumnData) -> Column {
    Column {
        validity: None,
        data,
    }
}

macro_rules! fixed {
    ($(#[$doc:meta])* $name:ident, $t:ty, $variant:ident) => {
        $(#[$doc])*
        pub struct $name(Vec<$t>);

        impl $name {
            /// Append a value.
            #[inline(always)]
            pub fn push(&mut self, x: $t) {
                self.0.push(x);
            }
        }

        impl ColumnBuilder for $name {
            fn with_capacity(capacity: usize) -> Self {
                Self(Vec::with_capacity(capacity))
            }
            #[inline]
            fn push_default(&mut self) {
                self.0.push(<$t>::default());
            }
            fn finish(self, _: &Origin<'_, '_>) -> Column {
                plain(ColumnData::$variant(self.0))
            }
        }

        impl ItemBuilder for $name {
            fn into_items(self) -> ItemData {
                ItemData::$variant(self.0)
            }
        }
    };
}

fixed!(
    /// A column of 64-bit integers.
    Int64Builder,
    i64,
    Int64
);
fixed!(
    /// A column of 32-bit integers.
    Int32Builder,
    i32,
    Int32
);
fixed!(
    /// A column of 64-bit floats.
    Float64Builder,
    f64,
    Float64
);
fixed!(
    /// A column of 32-bit floats.
    Float32Builder,
    f32,
    Float32
);

/// A column of booleans, as a bitmap.
pub struct BooleanBuilder {
    bits: Vec<u8>,
    rows: usize,
}

impl BooleanBuilder {
    /// Append a value.
    #[inline]
    pub fn push(&mut self, x: bool) {
        push_bit(&mut self.bits, self.rows, x);
        self.rows += 1;
    }
}

#[inline]
fn push_bit(bits: &mut Vec<u8>, at: usize, x: bool) {
    if at.is_multiple_of(8) {
        bits.push(0);
    }
    if x && let Some(last) = bits.last_mut() {
        *last |= 1 << (at % 8);
    }
}

impl ColumnBuilder for BooleanBuilder {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            bits: Vec::with_capacity(capacity.div_ceil(8)),
            rows: 0,
        }
    }
    fn push_default(&mut self) {
        self.push(false);
    }
    fn finish(self, _: &Origin<'_, '_>) -> Column {
        plain(ColumnData::Boolean(self.bits))
    }
}

impl ItemBuilder for BooleanBuilder {
    fn into_items(self) -> ItemData {
        ItemData::Boolean(self.bits)
    }
}

/// Values up to this long are copied without `memory.copy`.
const SHORT: usize = 32;

/// A variable-width column: text when `TEXT`, else bytes.
pub struct VarBuilder<const TEXT: bool> {
    offsets: Vec<u32>,
    data: Vec<u8>,
}

/// A column of UTF-8 text.
pub type Utf8Builder = VarBuilder<true>;
/// A column of bytes.
pub type BinaryBuilder = VarBuilder<false>;

impl<const TEXT: bool> VarBuilder<TEXT> {
    #[inline(always)]
    fn push_raw(&mut self, x: &[u8]) {
        if x.len() <= SHORT {
            // A short value is copied eight bytes at a time in registers: a
            // `memory.copy` is a call out of the Wasm code into the runtime,
            // which costs more than the copy itself at these sizes.
            self.data.reserve(SHORT);
            let mut chunks = x.chunks_exact(8);
            for c in &mut chunks {
                let word: [u8; 8] = c.try_into().unwrap_or_default();
                self.data.extend_from_slice(&word);
            }
            for b in chunks.remainder() {
                self.data.push(*b);
            }
        } else {
            self.data.extend_from_slice(x);
        }
        self.offsets.push(self.data.len() as u32);
    }
}

impl Utf8Builder {
    /// Append text.
    #[inline(always)]
    pub fn push(&mut self, x: &str) {
        self.push_raw(x.as_bytes());
    }
}

impl BinaryBuilder {
    /// Append bytes.
    #[inline(always)]
    pub fn push(&mut self, x: &[u8]) {
        self.push_raw(x);
    }
}

impl<const TEXT: bool> ColumnBuilder for VarBuilder<TEXT> {
    fn with_capacity(capacity: usize) -> Self {
        let mut offsets = Vec::with_capacity(capacity + 1);
        offsets.push(0);
        Self {
            offsets,
            data: Vec::with_capacity(capacity * 8),
        }
    }
    fn push_default(&mut self) {
        self.push_raw(&[]);
    }
    fn finish(self, _: &Origin<'_, '_>) -> Column {
        let v = VarData {
            offsets: self.offsets,
            data: self.data,
        };
        plain(if TEXT {
            ColumnData::Utf8(v)
        } else {
            ColumnData::Binary(v)
        })
    }
}

impl ItemBuilder for Utf8Builder {
    fn into_items(self) -> ItemData {
        ItemData::Utf8(VarData {
            offsets: self.offsets,
            data: self.data,
        })
    }
}

/// The items of a list column under construction (the builders of the
/// types a list may hold).
pub trait ItemBuilder: ColumnBuilder {
    /// The finished items.
    fn into_items(self) -> ItemData;
}

/// A column of values borrowed from the input batch (`&str`, `&[u8]`
/// fields): kept as references until the batch is done, then either named
/// as the input column they all are (at each row's parent), which the host
/// takes itself, or copied into one buffer.
pub struct Borrowed<'a, const TEXT: bool>(Vec<&'a [u8]>);

/// Borrowed text.
pub type BorrowedUtf8<'a> = Borrowed<'a, true>;
/// Borrowed bytes.
pub type BorrowedBinary<'a> = Borrowed<'a, false>;

impl<'a, const TEXT: bool> Borrowed<'a, TEXT> {
    /// Append a value (for text, its UTF-8 bytes).
    #[inline(always)]
    pub fn push(&mut self, x: &'a [u8]) {
        self.0.push(x);
    }
}

impl<const TEXT: bool> ColumnBuilder for Borrowed<'_, TEXT> {
    fn with_capacity(capacity: usize) -> Self {
        Self(Vec::with_capacity(capacity))
    }
    fn push_default(&mut self) {
        self.0.push(&[]);
    }
    fn finish(self, origin: &Origin<'_, '_>) -> Column {
        if !self.0.is_empty()
            && let Some(k) = origin.source_of(&self.0, TEXT)
        {
            return plain(ColumnData::Input(k));
        }
        let mut b = VarBuilder::<TEXT> {
            offsets: Vec::with_capacity(self.0.len() + 1),
            data: Vec::with_capacity(self.0.iter().map(|v| v.len()).sum()),
        };
        b.offsets.push(0);
        for v in self.0 {
            b.push_raw(v);
        }
        b.finish(origin)
    }
}

/// A column that may hold nulls (an `Option` field): `B`'s values and a
/// validity bitmap, made only once the first null arrives.
pub struct Nullable<B> {
    /// The values.
    pub values: B,
    validity: Option<Vec<u8>>,
    rows: usize,
}

impl<B: ColumnBuilder> Nullable<B> {
    /// Record that the row just appended to `values` has a value.
    #[inline]
    pub fn valid(&mut self) {
        if let Some(v) = &mut self.validity {
            push_bit(v, self.rows, true);
        }
        self.rows += 1;
    }

    /// Append a null.
    pub fn push_null(&mut self) {
        self.values.push_default();
        let rows = self.rows;
        let v = self.validity.get_or_insert_with(|| {
            // Every row so far had a value.
            let mut v = vec![0xff; rows.div_ceil(8)];
            if let Some(last) = v.last_mut()
                && !rows.is_multiple_of(8)
            {
                *last = (1u8 << (rows % 8)) - 1;
            }
            v
        });
        push_bit(v, rows, false);
        self.rows += 1;
    }
}

impl<B: ColumnBuilder> ColumnBuilder for Nullable<B> {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            values: B::with_capacity(capacity),
            validity: None,
            rows: 0,
        }
    }
    fn push_default(&mut self) {
        self.push_null();
    }
    fn finish(self, origin: &Origin<'_, '_>) -> Column {
        // Values under nulls are placeholders: never a pass-through.
        let values = self.values.finish(&Origin {
            parents: origin.parents,
            inputs: &[],
        });
        Column {
            validity: self.validity,
            ..values
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_make_a_bitmap_only_when_one_arrives() {
        let mut b = Nullable::<Int64Builder>::with_capacity(4);
        for x in 0..9 {
            b.values.push(x);
            b.valid();
        }
        b.push_null();
        b.values.push(10);
        b.valid();
        let none = Origin {
            parents: None,
            inputs: &[],
        };
        let c = b.finish(&none);
        // Rows 0..9 valid, 9 null, 10 valid.
        assert_eq!(c.validity, Some(vec![0xff, 0b0000_0101]));
        assert!(matches!(c.data, ColumnData::Int64(v) if v == [0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 10]));
        let mut b = Nullable::<Utf8Builder>::with_capacity(1);
        b.values.push("a");
        b.valid();
        assert_eq!(b.finish(&none).validity, None);
    }
}
