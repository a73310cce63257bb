//! `limits.call_timeout` is CPU time, not wall time: on a saturated machine
//! a guest that spins is stopped once it has had its quota of CPU (within
//! 2× of it), and a guest whose calls need less CPU than the quota is not
//! stopped however long its calls wait for a core.
//!
//! Its own test binary: it saturates the machine on purpose.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use weir_e2e::{operator, weir, weir_bin};

const QUOTA_MS: u64 = 500;

/// Threads spinning on every core, three times over, until dropped.
struct Saturation {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Saturation {
    fn start() -> Saturation {
        let stop = Arc::new(AtomicBool::new(false));
        let n = 3 * std::thread::available_parallelism().map_or(2, |n| n.get());
        let threads = (0..n)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut x = 1u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                })
            })
            .collect();
        Saturation { stop, threads }
    }
}

impl Drop for Saturation {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A job of `rows` records, one per batch, through misbehave in `mode`.
fn job(
    dir: &Path,
    name: &str,
    component: &str,
    mode: &str,
    iterations: u64,
    rows: u64,
    timeout_ms: u64,
) -> String {
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(
        &file,
        format!(
            r#"name = "{name}"
batch_size = 1
[source]
type = "datagen"
schema = "transactions"
rows = {rows}
[[operators]]
name = "op"
component = "{component}"
config = {{ mode = "{mode}", iterations = {iterations} }}
[sink]
type = "discard"
[limits]
call_timeout = "{timeout_ms}ms"
"#
        ),
    )
    .expect("job file");
    file.display().to_string()
}

/// Run `weir run JOB` and return (succeeded, stderr, CPU seconds of the
/// process, wall seconds), the CPU time as bash's `times` reports it for
/// its child.
fn run(job: &str) -> (bool, String, f64, f64) {
    let started = Instant::now();
    let out = std::process::Command::new("bash")
        .args([
            "-c",
            "\"$0\" run -q \"$1\" 2>\"$1.err\"; status=$?; times; exit $status",
            weir_bin().to_str().expect("utf-8"),
            job,
        ])
        .output()
        .expect("bash");
    let wall = started.elapsed().as_secs_f64();
    let stderr = std::fs::read_to_string(format!("{job}.err")).unwrap_or_default();
    let times = String::from_utf8_lossy(&out.stdout).to_string();
    // The second line: the children's user and system time, `0m1.234s 0m0.056s`.
    let children = times.lines().last().unwrap_or_default();
    let secs = |t: &str| -> f64 {
        let (m, s) = t
            .trim_end_matches('s')
            .split_once('m')
            .expect("`times` format");
        m.parse::<f64>().expect("minutes") * 60.0 + s.parse::<f64>().expect("seconds")
    };
    let cpu: f64 = children.split_whitespace().map(secs).sum();
    (out.status.success(), stderr, cpu, wall)
}

#[test]
fn a_spinning_guest_is_stopped_by_its_cpu_time_and_a_working_one_is_not_by_waiting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let component = dir.path().join("misbehave.wasm");
    weir(&[
        "build",
        &operator("misbehave"),
        "-o",
        component.to_str().expect("utf-8"),
    ])
    .ok();
    let component = component.display().to_string();
    let d = dir.path();

    // Unloaded: what a run costs without guest work, and what a call of
    // 40M iterations costs.
    let base = job(d, "base", &component, "burn", 0, 5, 60_000);
    run(&base); // compiles the component into the cache
    let (ok, err, base_cpu, _) = run(&base);
    assert!(ok, "{err}");
    let probe = job(d, "probe", &component, "burn", 40_000_000, 5, 60_000);
    let (ok, err, probe_cpu, _) = run(&probe);
    assert!(ok, "{err}");
    let per_call = ((probe_cpu - base_cpu) / 5.0).max(0.001);
    // Calls that need 40% of the quota.
    let iterations = (40_000_000.0 * 0.4 * (QUOTA_MS as f64 / 1000.0) / per_call) as u64;
    eprintln!(
        "unloaded: {:.0} ms per call of 40M iterations; working calls get {iterations} iterations",
        per_call * 1000.0
    );

    let hot = Saturation::start();
    let work = job(d, "work", &component, "burn", iterations, 5, QUOTA_MS);
    let (ok, err, work_cpu, work_wall) = run(&work);
    let spin = job(d, "spin", &component, "loop", 0, 5, QUOTA_MS);
    let (spin_ok, spin_err, spin_cpu, _) = run(&spin);
    let (_, _, base_hot_cpu, base_hot_wall) = run(&base);
    drop(hot);

    eprintln!(
        "saturated: working job {:.2} s wall ({:.2} s CPU) for 5 calls; spinning guest used {:.0} ms of CPU over the base run",
        work_wall - base_hot_wall,
        work_cpu - base_hot_cpu,
        (spin_cpu - base_hot_cpu) * 1000.0
    );
    assert!(
        ok,
        "a guest within its CPU quota was stopped on a busy machine:\n{err}"
    );
    assert!(
        (work_wall - base_hot_wall) / 5.0 > QUOTA_MS as f64 / 1000.0,
        "the machine was not busy enough for this test to mean anything: calls took {:.2} s of wall time each",
        (work_wall - base_hot_wall) / 5.0
    );
    assert!(!spin_ok, "the spinning guest was not stopped");
    assert!(
        spin_err.contains("ms of CPU time"),
        "the reason names the CPU limit: {spin_err}"
    );
    let used_ms = (spin_cpu - base_hot_cpu) * 1000.0;
    assert!(
        used_ms >= 0.8 * QUOTA_MS as f64 && used_ms <= 2.0 * QUOTA_MS as f64,
        "the spinning guest had {used_ms:.0} ms of CPU; its quota is {QUOTA_MS} ms (stopped within 2x, and not before it had it)"
    );
}
