//! A window's results as they leave it: the window's own columns (`key`,
//! `window_start`, `window_end`), and numbers and keys written as JSON the
//! way `serde_json` and Rust's `Display` would write them.

use super::TimeWindow;
use arrow_array::{ArrayRef, Int64Array, StringArray};
use arrow_schema::{DataType, Field};
use std::sync::Arc;

/// How many columns [`window_columns`] makes: results' columns come after.
pub(super) const WINDOW_COLUMNS: usize = 3;

/// The window's own columns of fired (key, window)s: `key` (text; bytes
/// that are not UTF-8 replaced, as the key was read), `window_start`,
/// `window_end`.
pub(super) fn window_columns<'a>(
    fired: impl Iterator<Item = (&'a [u8], TimeWindow)> + Clone,
) -> (Vec<Field>, Vec<ArrayRef>) {
    let keys: StringArray = fired
        .clone()
        .map(|(k, _)| {
            Some(match std::str::from_utf8(k) {
                Ok(text) => std::borrow::Cow::Borrowed(text),
                Err(_) => String::from_utf8_lossy(k),
            })
        })
        .collect();
    let starts: Int64Array = fired.clone().map(|(_, w)| w.start).collect();
    let ends: Int64Array = fired.map(|(_, w)| w.end).collect();
    (
        vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("window_start", DataType::Int64, false),
            Field::new("window_end", DataType::Int64, false),
        ],
        vec![Arc::new(keys), Arc::new(starts), Arc::new(ends)],
    )
}

/// `bytes` as a JSON string (invalid UTF-8 replaced, as the key was read).
pub(super) fn write_json_string(out: &mut Vec<u8>, bytes: &[u8]) {
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
pub(super) fn write_number(out: &mut Vec<u8>, x: f64) {
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
