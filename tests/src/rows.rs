//! Rows as the SQL tests compare them: JSON lines read by value, numbers
//! close enough, and the table a Debezium JSON changelog leaves.

use serde_json::Value;
use std::path::Path;

/// A JSON value with every number as an f64, so that Flink's `5000.0` and
/// weir's `5000` for a DOUBLE column compare by value.
pub fn by_value(v: Value) -> Value {
    match v {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, by_value(v))).collect()),
        Value::Array(a) => Value::Array(a.into_iter().map(by_value).collect()),
        other => other,
    }
}

/// Whether two rows are equal, their numbers to 12 significant digits: a
/// SUM or AVG of DOUBLEs depends on the order it adds them in, which
/// Flink does not fix (its window buffer adds a key's rows last first)
/// and weir does not copy; every other value must be equal.
pub fn close(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| close(v, w)))
        }
        _ => a == b,
    }
}

/// `v` with its numbers to 10 significant digits: a sort key under which
/// [`close`] rows sort alike.
pub fn rounded(v: &Value) -> Value {
    match v {
        Value::Number(n) => Value::String(format!("{:.9e}", n.as_f64().unwrap_or_default())),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), rounded(v))).collect()),
        other => other.clone(),
    }
}

/// The rows of a JSON-lines file, by value (`skip` header lines first).
pub fn rows(path: &Path, skip: usize) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .skip(skip)
        .filter(|l| !l.trim().is_empty())
        .map(|l| by_value(serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))))
        .collect()
}

/// The table a changelog in Debezium's JSON leaves: each `after` row
/// added, each `before` row taken away (the first equal one).
pub fn final_table(changes: &[Value]) -> Vec<Value> {
    let mut table: Vec<Value> = Vec::new();
    for c in changes {
        if let Some(before) = c.get("before").filter(|b| !b.is_null()) {
            let at = table.iter().position(|r| close(r, before));
            let at = at.unwrap_or_else(|| panic!("{c}: removes a row the table does not have"));
            table.swap_remove(at);
        }
        if let Some(after) = c.get("after").filter(|a| !a.is_null()) {
            table.push(after.clone());
        }
    }
    table
}
