//! The jobs and inputs that `columns.rs` and `python_columns.rs` share:
//! generated transactions with unreadable lines mixed in, a job of
//! file → operator → file with dead letters aside, and the map+filter
//! model's reading of an input.

use std::path::{Path, PathBuf};
use weir_e2e::operator;

/// weir's generated transactions with lines that cannot be read mixed in:
/// not JSON, an amount that is not a number, no event time.
pub fn input(dir: &Path, rows: u64, disorder_ms: u64) -> PathBuf {
    let raw = weir_e2e::generate_transactions(dir, "raw", rows, 500, 7, 10, disorder_ms);
    let raw = std::fs::read_to_string(raw).expect("generated input");
    let mut text = String::new();
    for (i, line) in raw.lines().enumerate() {
        match i % 5000 {
            1234 => text.push_str("this line is not JSON\n"),
            2345 => text.push_str(
                "{\"ts\":1000,\"user\":\"u1\",\"amount\":\"lots\",\"merchant\":\"m1\"}\n",
            ),
            3456 => text.push_str("{\"user\":\"u2\",\"amount\":75.5,\"merchant\":\"m2\"}\n"),
            _ => {}
        }
        text.push_str(line);
        text.push('\n');
    }
    let path = dir.join("input.jsonl");
    std::fs::write(&path, text).expect("write input");
    path
}

/// A job: file → `op` → (a window, when given) → file, dead letters aside.
pub fn job(
    dir: &Path,
    name: &str,
    input: &Path,
    op: &str,
    extra: &str,
    parallelism: usize,
) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"name = "{name}"
parallelism = {parallelism}
batch_size = 700
[source]
type = "file"
path = "{input}"
{extra}
[event_time]
field = "ts"
[[operators]]
name = "big-payments"
component = "{op}"
[sink]
type = "file"
path = "{name}-out.jsonl"
[dead_letter]
type = "file"
path = "{name}-dead.jsonl"
"#,
            input = input.display(),
            op = operator(op),
        ),
    )
    .expect("write job");
    path
}

/// What the map+filter model (tests/reference/map_filter.py) makes of
/// `input`, written to `out`; returns how many lines it set aside.
pub fn model(input: &Path, out: &Path) -> usize {
    weir_e2e::map_filter_model(input, out)
}
