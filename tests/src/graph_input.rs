//! The orders-and-payments input of the graph tests, the reference model
//! that computes their expected output (tests/reference/graph.py), and
//! how outputs are compared.

use crate::TestRng;
use std::path::{Path, PathBuf};

/// Orders and payments: one order every 10 ms of event time across
/// `users` users, each paid 0-2 times 3 s before to 9 s after it, in
/// arrival order with event times up to 1.5 s behind (the jobs allow 2 s:
/// nothing is late).
pub fn input(dir: &Path, orders: u64, users: u64) -> PathBuf {
    let mut rng = TestRng::from_env();
    let start = 1_700_000_000_000i64;
    let mut lines: Vec<(i64, String)> = Vec::new();
    for i in 0..orders {
        let base = start + 10 * i as i64;
        let user = format!("u{}", rng.between(0, users));
        let ts = base - rng.between(0, 1500) as i64;
        lines.push((
            base,
            format!(
                r#"{{"kind":"order","ts":{ts},"order":"o{i}","user":"{user}","amount":{}}}"#,
                rng.between(1, 500)
            ),
        ));
        for _ in 0..rng.between(0, 3) {
            let paid = ts - 3000 + rng.between(0, 12_000) as i64;
            // It arrives up to 1.5 s after its own time.
            let arrives = paid + rng.between(0, 1500) as i64;
            lines.push((
                arrives,
                format!(
                    r#"{{"kind":"payment","ts":{paid},"order":"o{i}","user":"{user}","paid":{}}}"#,
                    rng.between(1, 500)
                ),
            ));
        }
    }
    lines.sort_by_key(|(arrives, _)| *arrives);
    let path = dir.join("input.jsonl");
    let text: String = lines.into_iter().map(|(_, l)| l + "\n").collect();
    std::fs::write(&path, text).expect("write input");
    path
}

/// Run the model `what` on `input`; returns the path of its output.
pub fn model(dir: &Path, what: &str, input: &Path, args: &[&str]) -> PathBuf {
    let out = dir.join(format!("expected-{what}.jsonl"));
    let mut all: Vec<&std::ffi::OsStr> = vec![what.as_ref(), input.as_os_str(), out.as_os_str()];
    all.extend(args.iter().map(std::ffi::OsStr::new));
    crate::run_model("graph.py", &all);
    out
}

/// JSON lines with numbers as floats and keys sorted, sorted: 12 and 12.0
/// are the same count.
pub fn normalized(path: &Path) -> Vec<String> {
    fn norm(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Number(n) => serde_json::json!(n.as_f64()),
            serde_json::Value::Object(m) => m.into_iter().map(|(k, v)| (k, norm(v))).collect(),
            serde_json::Value::Array(a) => a.into_iter().map(norm).collect(),
            other => other,
        }
    }
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| norm(serde_json::from_str(l).expect("JSON line")).to_string())
        .collect();
    lines.sort();
    lines
}

/// The input's lines of `kind`, as [`normalized`] makes them: what a
/// branch passes on.
pub fn lines_of_kind(input: &Path, kind: &str) -> Vec<String> {
    let all = normalized(input);
    let tag = format!("\"kind\":\"{kind}\"");
    all.into_iter().filter(|l| l.contains(&tag)).collect()
}

/// The input split by kind into `orders.jsonl` and `payments.jsonl`, each
/// in the input's order: what two sources of a job read.
pub fn split_by_kind(dir: &Path, input: &Path) -> (PathBuf, PathBuf) {
    let text = std::fs::read_to_string(input).expect("input");
    let mut orders = String::new();
    let mut payments = String::new();
    for line in text.lines() {
        let to = if line.contains("\"kind\":\"order\"") {
            &mut orders
        } else {
            &mut payments
        };
        to.push_str(line);
        to.push('\n');
    }
    let (o, p) = (dir.join("orders.jsonl"), dir.join("payments.jsonl"));
    std::fs::write(&o, orders).expect("write orders");
    std::fs::write(&p, payments).expect("write payments");
    (o, p)
}
