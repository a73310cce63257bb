//! Jobs over the tag operator (`tests/operators/tag-v1`, `tag-v2`), which
//! adds `"v": <version>` to every record: the swap tests of `weir run` and
//! of `weir serve` read from the output which version processed each
//! record.

use crate::{canonical, operator};
use std::path::{Path, PathBuf};

/// A file job over `rows` records `{"i": n}` at `rate` records/s through
/// tag-v1 into `out.jsonl`, with checkpoints every `interval` in
/// `checkpoints/`; `config` is the operator's config line, if any. Writes
/// `<name>.jsonl` and `<name>.toml` in `dir`; returns the job file.
pub fn tag_job(
    dir: &Path,
    name: &str,
    rows: usize,
    rate: u64,
    interval: &str,
    config: &str,
) -> PathBuf {
    let input: String = (0..rows).map(|i| format!("{{\"i\":{i}}}\n")).collect();
    std::fs::write(dir.join(format!("{name}.jsonl")), input).expect("input");
    let job = dir.join(format!("{name}.toml"));
    std::fs::write(
        &job,
        format!(
            r#"name = "{name}"
parallelism = 2
batch_size = 100
[source]
type = "file"
path = "{name}.jsonl"
rate = {rate}
[[operators]]
name = "tag"
component = "{v1}"
{config}
[sink]
type = "file"
path = "out.jsonl"
[checkpoint]
interval = "{interval}"
dir = "checkpoints"
"#,
            v1 = operator("tag-v1")
        ),
    )
    .expect("job");
    job
}

/// `(i, v)` of every record of a tag job's output, sorted by `i`: which
/// version processed each input record.
pub fn versions_by_record(output: &str) -> Vec<(i64, i64)> {
    let mut by_i: Vec<(i64, i64)> = canonical(output)
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON");
            (v["i"].as_i64().expect("i"), v["v"].as_i64().expect("v"))
        })
        .collect();
    by_i.sort_unstable();
    by_i
}
