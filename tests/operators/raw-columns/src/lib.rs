//! An operator over the columns of raw Kafka records: `key` (bytes, may be
//! null) and `value` (bytes, not necessarily text). It drops values that
//! start with `#` and describes the others: the key and value as text
//! (invalid UTF-8 replaced) and the value's size in bytes.

/// A raw record, as the source's `key` and `value` columns.
#[derive(weir_guest::v2::Record)]
pub struct Raw<'a> {
    /// The record's key, if it has one.
    pub key: Option<&'a [u8]>,
    /// The record's bytes.
    pub value: &'a [u8],
}

/// What the operator emits.
#[derive(weir_guest::v2::Record)]
pub struct Described {
    /// The key as text, if there is one.
    pub key: Option<String>,
    /// The value as text.
    pub text: String,
    /// The value's size in bytes.
    pub size: i64,
}

/// Describe a record; `#…` values are comments and dropped.
#[weir_guest::v2::map]
fn describe(r: Raw) -> Option<Described> {
    if r.value.starts_with(b"#") {
        return None;
    }
    Some(Described {
        key: r.key.map(|k| String::from_utf8_lossy(k).into_owned()),
        text: String::from_utf8_lossy(r.value).into_owned(),
        size: r.value.len() as i64,
    })
}
