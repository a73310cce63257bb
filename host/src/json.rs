//! Fast extraction of one field from a JSON object, without parsing the rest.
//!
//! The host extracts event time, keys and aggregated fields from every record;
//! building a full `serde_json::Value` for that would cost more than the rest
//! of the record's trip. [`field`] scans the top-level object once, skipping
//! values it does not need, and returns the raw text of the one it wants.
//!
//! On a valid JSON document it finds what `serde_json` finds (a property
//! test and a fuzz target hold it to that): member names are compared after
//! unescaping (`"\u0061"` is `a`), and of duplicate members the last one
//! counts, as in a `serde_json::Value`.
//!
//! ```
//! let rec = br#"{"user":"ann","amount":12.5,"meta":{"ts":1000}}"#;
//! assert_eq!(weir::json::field(rec, "amount"), Some(&b"12.5"[..]));
//! assert_eq!(weir::json::field(rec, "meta.ts"), Some(&b"1000"[..]));
//! assert_eq!(weir::json::field(rec, "nope"), None);
//! ```

/// The raw JSON text of the value at `path` (dot-separated object keys).
pub fn field<'a>(json: &'a [u8], path: &str) -> Option<&'a [u8]> {
    let mut cur = json;
    for part in path.split('.') {
        cur = member(cur, part.as_bytes())?;
    }
    Some(cur)
}

/// A field as a number (integer or float text).
pub fn number(json: &[u8], path: &str) -> Option<f64> {
    let raw = field(json, path)?;
    std::str::from_utf8(raw).ok()?.parse().ok()
}

/// A field as an integer (a float with no fraction is accepted).
pub fn integer(json: &[u8], path: &str) -> Option<i64> {
    let raw = std::str::from_utf8(field(json, path)?).ok()?;
    raw.parse::<i64>().ok().or_else(|| {
        let f: f64 = raw.parse().ok()?;
        (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
    })
}

/// The key bytes of a field: a string's unescaped contents, or the raw text
/// of any other value (numbers, booleans, objects).
pub fn key(json: &[u8], path: &str) -> Option<Vec<u8>> {
    let raw = field(json, path)?;
    if raw.first() == Some(&b'"') {
        if raw.contains(&b'\\') {
            serde_json::from_slice::<String>(raw)
                .ok()
                .map(String::into_bytes)
        } else {
            Some(raw[1..raw.len() - 1].to_vec())
        }
    } else {
        Some(raw.to_vec())
    }
}

fn skip_ws(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// End (exclusive) of the string starting at `i` (which is `"`).
fn skip_string(s: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    while i < s.len() {
        match s[i] {
            b'"' => return Some(i + 1),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    None
}

/// End (exclusive) of the value starting at `i`.
fn skip_value(s: &[u8], i: usize) -> Option<usize> {
    match *s.get(i)? {
        b'"' => skip_string(s, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < s.len() {
                match s[j] {
                    b'"' => {
                        j = skip_string(s, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while j < s.len() && !matches!(s[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

/// Is the raw member name `raw` (between its quotes) `name`?
fn name_is(raw: &[u8], name: &[u8]) -> bool {
    if !raw.contains(&b'\\') {
        return raw == name;
    }
    // Escaped: compare what it means. Rare, so unescape with serde_json.
    let mut quoted = Vec::with_capacity(raw.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(raw);
    quoted.push(b'"');
    serde_json::from_slice::<String>(&quoted).is_ok_and(|n| n.as_bytes() == name)
}

/// The value of member `name` of the object `s`: the last one if the name
/// appears more than once.
fn member<'a>(s: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let mut i = skip_ws(s, 0);
    if s.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let mut found = None;
    loop {
        i = skip_ws(s, i);
        match s.get(i)? {
            b'}' => return None,
            b'"' => {}
            _ => return None,
        }
        let key_end = skip_string(s, i)?;
        let key = &s[i + 1..key_end - 1];
        i = skip_ws(s, key_end);
        if s.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(s, i + 1);
        let end = skip_value(s, i)?;
        if name_is(key, name) {
            found = Some(&s[i..end]);
        }
        i = skip_ws(s, end);
        match s.get(i)? {
            b',' => i += 1,
            b'}' => return found,
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_fields_of_every_kind() {
        let rec =
            br#" { "a" : "x\"y", "b": [1, {"c": "}"}], "n": -3.5e2, "t": true, "o": {"k": 7} } "#;
        assert_eq!(field(rec, "a"), Some(&br#""x\"y""#[..]));
        assert_eq!(field(rec, "b"), Some(&br#"[1, {"c": "}"}]"#[..]));
        assert_eq!(number(rec, "n"), Some(-350.0));
        assert_eq!(field(rec, "t"), Some(&b"true"[..]));
        assert_eq!(integer(rec, "o.k"), Some(7));
        assert_eq!(key(rec, "a"), Some(b"x\"y".to_vec()));
        assert_eq!(key(rec, "o.k"), Some(b"7".to_vec()));
    }

    #[test]
    fn escaped_names_and_duplicates_read_as_serde_json_reads_them() {
        let rec = br#"{"\u0061":1,"b":2,"b":3,"c\"d":4}"#;
        assert_eq!(field(rec, "a"), Some(&b"1"[..]));
        assert_eq!(field(rec, "b"), Some(&b"3"[..]), "the last duplicate");
        assert_eq!(field(rec, "c\"d"), Some(&b"4"[..]));
        let v: serde_json::Value = serde_json::from_slice(rec).unwrap();
        assert_eq!(v["b"], 3);
    }

    #[test]
    fn rejects_what_is_not_an_object_or_is_broken() {
        assert_eq!(field(b"[1,2]", "a"), None);
        assert_eq!(field(b"{\"a\" 1}", "a"), None);
        assert_eq!(field(b"{\"b\": \"unterminated", "a"), None);
        assert_eq!(field(b"", "a"), None);
        assert_eq!(integer(br#"{"t":"soon"}"#, "t"), None);
        assert_eq!(integer(br#"{"t":1.5}"#, "t"), None);
        assert_eq!(integer(br#"{"t":2000.0}"#, "t"), Some(2000));
    }
}
