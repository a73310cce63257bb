//! Helpers for weir's end-to-end tests: find the `weir` binary, run jobs,
//! and compare JSON-lines outputs.
//!
//! The tests need the binary and the guest toolchains; `scripts/test.sh`
//! builds and installs everything first. A missing piece fails the test with
//! what to run — nothing is skipped silently.

pub mod crash;
pub mod crash_jobs;
pub mod graph_input;
pub mod kafka;
pub mod kafka_run;
pub mod postgres;
pub mod rows;
pub mod serve;
pub mod sql_tier;
pub mod tag;
pub mod wat;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The `weir` binary the tests drive: `$WEIR_BIN`, else the release build in
/// the cargo target directory.
pub fn weir_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("WEIR_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"));
    let bin = target.join("release/weir");
    assert!(
        bin.is_file(),
        "{} not found: build it with `cargo build --release -p weir` (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// What a `weir` invocation did.
pub struct Run {
    /// The process output.
    pub output: Output,
}

impl Run {
    /// Stderr as text.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    /// Stdout as text.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    /// Panic with the output unless it succeeded.
    pub fn ok(self) -> Self {
        assert!(
            self.output.status.success(),
            "weir failed:\n{}",
            self.stderr()
        );
        self
    }
    /// Panic unless it failed; return stderr.
    pub fn failed(self) -> String {
        assert!(
            !self.output.status.success(),
            "weir should have failed:\n{}{}",
            self.stdout(),
            self.stderr()
        );
        self.stderr()
    }
}

/// Run `weir ARGS` in the repository root.
pub fn weir(args: &[&str]) -> Run {
    weir_in(&repo(), args)
}

/// Run `weir ARGS` in `dir`.
pub fn weir_in(dir: &Path, args: &[&str]) -> Run {
    let output = Command::new(weir_bin())
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run weir");
    Run { output }
}

/// The lines of a JSON-lines file, each re-serialized with sorted keys, sorted.
/// Output order across parallel subtasks is not part of weir's contract.
pub fn canonical_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    canonical(&text)
}

/// [`canonical_lines`] of a string.
pub fn canonical(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}"));
            v.to_string()
        })
        .collect();
    lines.sort();
    lines
}

/// The `record` field of each line (late outputs), canonical and sorted.
pub fn canonical_field(path: &Path, field: &str) -> Vec<String> {
    let mut lines: Vec<String> = canonical_lines(path)
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("canonical JSON")[field].to_string()
        })
        .collect();
    lines.sort();
    lines
}

/// Result lines with every number rounded to nine decimals (whole numbers
/// written as integers), sorted. A session's sum is added up in the order
/// its sessions merged, which the model does not copy: the same records
/// summed in another order may differ in the last bit (191.45 vs
/// 191.45000000000005), which is not what this test checks.
pub fn to_nano(lines: Vec<String>) -> Vec<String> {
    let round = |v: &serde_json::Value| match v.as_f64() {
        Some(x) if !v.is_i64() && !v.is_u64() => {
            let r = (x * 1e9).round() / 1e9;
            if r.fract() == 0.0 && r.abs() < 9e15 {
                serde_json::json!(r as i64)
            } else {
                serde_json::json!(r)
            }
        }
        _ => v.clone(),
    };
    let mut out: Vec<String> = lines
        .iter()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            if let Some(o) = v.as_object_mut() {
                for x in o.values_mut() {
                    *x = round(x);
                }
            }
            v.to_string()
        })
        .collect();
    out.sort();
    out
}

/// Run the map+filter model (tests/reference/map_filter.py) on `input`,
/// writing what the operator must write to `out`; returns how many lines
/// it set aside as unreadable.
pub fn map_filter_model(input: &Path, out: &Path) -> usize {
    run_model("map_filter.py", &[input, out])
        .trim()
        .strip_prefix("dead ")
        .and_then(|n| n.parse().ok())
        .expect("the model prints `dead N`")
}

/// Run the independent model `tests/reference/<script>` with `args`
/// under python3; its standard output. Fails the test if the model does.
pub fn run_model<S: AsRef<std::ffi::OsStr>>(script: &str, args: &[S]) -> String {
    let run = Command::new("python3")
        .arg(repo().join("tests/reference").join(script))
        .args(args)
        .output()
        .expect("run python3");
    assert!(
        run.status.success(),
        "the model {script} failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8_lossy(&run.stdout).into_owned()
}

/// Write a job file (and anything else) into a fresh temporary directory.
pub fn scratch(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    dir
}

/// Absolute path of a test operator project, for job files in scratch dirs.
pub fn operator(name: &str) -> String {
    repo()
        .join("tests/operators")
        .join(name)
        .display()
        .to_string()
}

/// Start `weir ARGS` in `dir` without waiting (for tests that kill it).
/// Its log level is `warn`, or `WEIR_TEST_RUST_LOG` (to look into a
/// failure that is rare).
pub fn spawn_weir(dir: &Path, args: &[&str]) -> Spawned {
    let level = std::env::var("WEIR_TEST_RUST_LOG").unwrap_or_else(|_| "warn".into());
    Spawned(Some(
        Command::new(weir_bin())
            .args(args)
            .current_dir(dir)
            .env("RUST_LOG", level)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start weir"),
    ))
}

/// A `weir` started by [`spawn_weir`]: a [`std::process::Child`] that is
/// killed when dropped, so a test that fails while it runs leaves no job
/// behind (a hung job would otherwise run on, and load the machine, until
/// the whole test binary ends).
pub struct Spawned(Option<std::process::Child>);

impl Spawned {
    /// Wait for it to end on its own and collect its output.
    pub fn wait_with_output(mut self) -> std::io::Result<std::process::Output> {
        self.0.take().expect("a running child").wait_with_output()
    }
}

impl std::ops::Deref for Spawned {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        self.0.as_ref().expect("a running child")
    }
}

impl std::ops::DerefMut for Spawned {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        self.0.as_mut().expect("a running child")
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Read `child`'s standard error on a thread of its own, so a job that
/// logs a lot (warnings while a broker restarts, say) never blocks on a
/// full pipe while the test waits for its output; the text so far is in
/// the returned buffer.
pub fn drain_stderr(child: &mut std::process::Child) -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    if let Some(mut err) = child.stderr.take() {
        let log = log.clone();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 8192];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                log.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend_from_slice(&buf[..n]);
            }
        });
    }
    log
}

/// The last `max` bytes of a drained log, as text.
pub fn log_tail(log: &std::sync::Mutex<Vec<u8>>, max: usize) -> String {
    let log = log.lock().unwrap_or_else(|p| p.into_inner());
    let from = log.len().saturating_sub(max);
    format!(
        "({} bytes of log) …{}",
        log.len(),
        String::from_utf8_lossy(&log[from..])
    )
}

/// A small deterministic generator for test timings (xorshift64*), seeded
/// from the clock unless `WEIR_TEST_SEED` is set; the seed is printed so a
/// failing run can be repeated.
pub struct TestRng(u64);

impl TestRng {
    /// Seeded from `WEIR_TEST_SEED` or the clock.
    pub fn from_env() -> Self {
        let seed = std::env::var("WEIR_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        eprintln!("test seed: WEIR_TEST_SEED={seed}");
        TestRng(seed | 1)
    }

    /// Uniform in `lo..hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        lo + self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % (hi - lo).max(1)
    }
}

/// Write `rows` transactions from weir's own generator (`keys` users, one
/// every `step_ms`, event times out of order by up to `disorder_ms`) to
/// `dir/<name>.jsonl`, by running a datagen job through the `weir` binary.
pub fn generate_transactions(
    dir: &Path,
    name: &str,
    rows: u64,
    keys: u64,
    seed: u64,
    step_ms: u64,
    disorder_ms: u64,
) -> PathBuf {
    let job = dir.join(format!("{name}-gen.toml"));
    let out = dir.join(format!("{name}.jsonl"));
    std::fs::write(
        &job,
        format!(
            r#"name = "gen-{name}"
[source]
type = "datagen"
schema = "transactions"
rows = {rows}
keys = {keys}
seed = {seed}
step_ms = {step_ms}
disorder_ms = {disorder_ms}
[sink]
type = "file"
path = "{out}"
"#,
            out = out.display()
        ),
    )
    .expect("write the generator job");
    weir(&["run", "-q", job.to_str().expect("utf-8")]).ok();
    out
}
