//! The window job the crash tests kill at random moments, its input, its
//! uninterrupted reference run, and the check that a killed run's outputs
//! equal that run's.

use crate::crash::kill_until_done;
use crate::{canonical_lines, operator, weir};
use std::path::{Path, PathBuf};

/// Rows of the crash tests' input: at `RATE` rows/s a run needs 6 s of
/// processing, so kills at most 600 ms apart need at least 10 restarts.
pub const ROWS: u64 = 600_000;
/// The source rate the crash runs are held to (rows/s).
pub const RATE: u64 = 100_000;

/// A transactions file written by weir's own generator (out of order by up
/// to 2 minutes, so some records are late), with a few lines that are not
/// JSON (dead letters).
pub fn transactions(dir: &Path) -> PathBuf {
    let raw = crate::generate_transactions(dir, "raw", ROWS, 5000, 11, 20, 120_000);
    let raw = std::fs::read_to_string(raw).expect("generated input");
    let mut text = String::with_capacity(raw.len() + 100);
    for (i, line) in raw.lines().enumerate() {
        if i % 100_000 == 99_999 {
            text.push_str("this line is not JSON\n");
        }
        text.push_str(line);
        text.push('\n');
    }
    let input = dir.join("input.jsonl");
    std::fs::write(&input, text).expect("write input");
    input
}

/// file → Wasm map+filter `op` (a project under tests/operators) → key
/// by user → 1-minute tumbling count and sum → file, with late and
/// dead-letter outputs, RocksDB state, parallelism 2; written to
/// `dir/file`.
pub fn window_job_with(dir: &Path, input: &Path, op: &str, file: &str) -> PathBuf {
    let job = dir.join(file);
    std::fs::write(
        &job,
        format!(
            r#"
name = "crash-window"
parallelism = 2
batch_size = 500
[source]
type = "file"
path = "{input}"
[event_time]
field = "ts"
max_out_of_orderness = "30s"
[[operators]]
name = "big-payments"
component = "{op}"
[key_by]
field = "user"
[window]
type = "tumbling"
size = "1m"
allowed_lateness = "30s"
aggregates = [{{ fn = "count" }}, {{ fn = "sum", field = "cents" }}]
[sink]
type = "file"
path = "out/windows.jsonl"
[late_output]
type = "file"
path = "out/late.jsonl"
[dead_letter]
type = "file"
path = "out/dead.jsonl"
[state]
backend = "rocksdb"
path = "state"
block_cache = "16MiB"
write_buffer = "4MiB"
[checkpoint]
interval = "100ms"
dir = "checkpoints"
retain = 3
"#,
            input = input.display(),
            op = operator(op),
        ),
    )
    .expect("write job");
    job
}

/// Run `job` uninterrupted (no checkpoints, full speed) into `dir/expected`.
pub fn reference(job: &Path, dir: &Path, outputs: &[&str]) -> PathBuf {
    let expected = dir.join("expected");
    let mut args = vec!["run", "-q", job.to_str().expect("utf-8"), "--fresh"];
    let sets: Vec<String> = outputs
        .iter()
        .map(|o| format!("{o}.path={}/{o}.jsonl", expected.display()))
        .collect();
    for s in &sets {
        args.extend(["--set", s]);
    }
    weir(&args).ok();
    expected
}

/// Kill the window `job` at random moments (at least 10 times) until it
/// finishes, then hold its outputs to the uninterrupted run's in `expected`.
pub fn crash_window_job(dir: &Path, job: &Path, expected: &Path) {
    let rate = format!("source.rate={RATE}");
    let job_arg = job.to_str().expect("utf-8");
    let kills = kill_until_done(dir, &["run", "-q", job_arg, "--set", &rate], 10);
    let out = dir.join("out");
    // The main output is merged in source order: identical bytes.
    assert!(
        bytes(&out.join("windows.jsonl")) == bytes(&expected.join("sink.jsonl")),
        "window results differ from the uninterrupted run after {kills} kills"
    );
    assert!(bytes(&out.join("windows.jsonl")).len() > 100_000);
    // Side outputs: the same records; parallel tasks interleave them freely.
    for (got, want) in [
        ("late.jsonl", "late_output.jsonl"),
        ("dead.jsonl", "dead_letter.jsonl"),
    ] {
        let (got, want) = (
            canonical_lines(&out.join(got)),
            canonical_lines(&expected.join(want)),
        );
        assert!(!want.is_empty(), "{got:?}: the input should produce some");
        assert_eq!(got, want, "{got:?} differs after {kills} kills");
    }
}

/// The bytes of file `p`.
pub fn bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
