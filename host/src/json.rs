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
fn skip_string(s: &[u8], i: usize) -> Option<usize> {
    skip_key(s, i).map(|(end, _)| end)
}

/// End (exclusive) of the string starting at `i`, and whether it holds an
/// escape.
fn skip_key(s: &[u8], mut i: usize) -> Option<(usize, bool)> {
    i += 1;
    let mut escaped = false;
    while i < s.len() {
        match s[i] {
            b'"' => return Some((i + 1, escaped)),
            b'\\' => {
                escaped = true;
                i += 2
            }
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

/// Is the raw member name `raw` (between its quotes, `escaped` if it holds
/// a backslash) `name`?
fn name_is(raw: &[u8], escaped: bool, name: &[u8]) -> bool {
    if !escaped {
        return raw == name;
    }
    // Escaped: compare what it means. Rare, so unescape with serde_json.
    let mut quoted = Vec::with_capacity(raw.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(raw);
    quoted.push(b'"');
    serde_json::from_slice::<String>(&quoted).is_ok_and(|n| n.as_bytes() == name)
}

/// Could `rest` (what follows a member named `name`) hold another member of
/// that name? Only if it holds `"name"` literally or an escape. Checked
/// eight bytes at a time (the quotes and backslashes of a word found with
/// bit arithmetic), so the usual answer, no, costs a few nanoseconds
/// instead of parsing the rest.
fn may_repeat(rest: &[u8], name: &[u8]) -> bool {
    let n = name.len();
    let quoted_name_at =
        |q: usize| rest.get(q + 1 + n) == Some(&b'"') && &rest[q + 1..q + 1 + n] == name;
    let mut chunks = rest.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let w = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        if bytes_equal(w, b'\\') != 0 {
            return true;
        }
        let mut quotes = bytes_equal(w, b'"');
        while quotes != 0 {
            let at = base + (quotes.trailing_zeros() / 8) as usize;
            if quoted_name_at(at) {
                return true;
            }
            quotes &= quotes - 1;
        }
        base += 8;
    }
    for (k, &b) in chunks.remainder().iter().enumerate() {
        if b == b'\\' || (b == b'"' && quoted_name_at(base + k)) {
            return true;
        }
    }
    false
}

/// The high bit of every byte of `w` equal to `c`, exactly.
fn bytes_equal(w: u64, c: u8) -> u64 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let x = w ^ (u64::from(c) * 0x0101_0101_0101_0101);
    !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7)
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
        let (key_end, escaped) = skip_key(s, i)?;
        let key = &s[i + 1..key_end - 1];
        i = skip_ws(s, key_end);
        if s.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(s, i + 1);
        let end = skip_value(s, i)?;
        if name_is(key, escaped, name) {
            found = Some(&s[i..end]);
            if !may_repeat(&s[end..], name) {
                return found;
            }
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
    fn the_repeat_check_finds_every_later_name_and_escape() {
        for (rest, name, expect) in [
            (&br#","user":"u","amount":1}"#[..], &b"ts"[..], false),
            (br#","user":"u","ts":2}"#, b"ts", true),
            (br#","a":"x\"y"}"#, b"ts", true),
            (br#","long-enough-to-span-words":0,"ts":1}"#, b"ts", true),
            (br#","long-enough-to-span-words":0,"tsx":1}"#, b"ts", false),
            (br#"}"#, b"ts", false),
            (br#","":1}"#, b"", true),
        ] {
            assert_eq!(
                may_repeat(rest, name),
                expect,
                "{}",
                String::from_utf8_lossy(rest)
            );
        }
        for c in [b'"', b'\\', 0, 0x80, 0xff] {
            for pos in 0..8 {
                let mut w = [b'a'; 8];
                w[pos] = c;
                assert_eq!(bytes_equal(u64::from_le_bytes(w), c), 0x80 << (8 * pos));
            }
        }
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
