//! The `tier` SQL function of the end-to-end tests (`tests/operators/tier-v1`,
//! `tier-v2`) as a model written here, and the scripts that call it over
//! the conformance suite's `tx.jsonl`.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `tier` version 1, as its source says: `"<user>:big"` from 100 on.
pub fn tier_v1(amount: f64, user: &str) -> String {
    format!("{user}:{}", if amount >= 100.0 { "big" } else { "small" })
}

/// `tier` version 2: gold from 100, silver from 50, else bronze.
pub fn tier_v2(amount: f64, user: &str) -> String {
    let t = if amount >= 100.0 {
        "gold"
    } else if amount >= 50.0 {
        "silver"
    } else {
        "bronze"
    };
    format!("{user}:{t}")
}

/// The conformance suite's transactions as table `tx` (`{input}`: its
/// file).
pub const TX: &str = "CREATE TABLE tx (
  ts BIGINT,
  `user` STRING,
  amount DOUBLE,
  merchant STRING,
  n INT,
  flag BOOLEAN
) WITH ('connector' = 'filesystem', 'path' = '{input}', 'format' = 'json');
";

/// A script in `dir` reading the conformance suite's `tx.jsonl` (or
/// `input`) as table `tx`, with `{tier}` the tier-v1 project.
pub fn script(dir: &Path, name: &str, text: &str, input: Option<&Path>) -> PathBuf {
    script_over(dir, name, TX, text, input)
}

/// [`script`] with its own declaration of `tx` (`table`, `{input}` its
/// file): a computed column or a watermark, say. `{checkpoints}` and
/// `{output}` stand for files in `dir`.
pub fn script_over(
    dir: &Path,
    name: &str,
    table: &str,
    text: &str,
    input: Option<&Path>,
) -> PathBuf {
    let input = input.map_or_else(
        || crate::repo().join("tests/sql/conformance/input/tx.jsonl"),
        Path::to_path_buf,
    );
    let text = format!("{table}{text}")
        .replace("{input}", input.to_str().expect("utf-8"))
        .replace("{tier}", &crate::operator("tier-v1"))
        .replace(
            "{checkpoints}",
            dir.join("checkpoints").to_str().expect("utf-8"),
        )
        .replace(
            "{output}",
            dir.join(format!("{name}.out.jsonl"))
                .to_str()
                .expect("utf-8"),
        );
    let path = dir.join(format!("{name}.sql"));
    std::fs::write(&path, text).expect("write script");
    path
}

/// The JSON lines of the file at `path`.
pub fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect()
}

/// Wait until the job in `dir` has completed a checkpoint.
pub fn wait_checkpointed(dir: &Path, job: &mut std::process::Child) {
    let started = Instant::now();
    let checkpointed = || {
        walk(dir).iter().any(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("chk-"))
        })
    };
    while !checkpointed() {
        if let Some(status) = job.try_wait().expect("try_wait") {
            panic!("the job exited ({status}) before its first checkpoint");
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no checkpoint"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every path under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}
