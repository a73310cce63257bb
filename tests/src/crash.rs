//! Crash tests' helpers: restart a job again and again, killing it with
//! SIGKILL at random moments after its checkpoints.

use crate::{TestRng, spawn_weir};
use std::path::Path;
use std::time::{Duration, Instant};

/// The newest checkpoint in `dir/checkpoints`, if any.
pub fn newest_epoch(dir: &Path) -> Option<u64> {
    let checkpoints = dir.join("checkpoints");
    if !checkpoints.is_dir() {
        return None;
    }
    epochs(&checkpoints).last().copied()
}

/// Start `args` again and again, killing it with SIGKILL at a random moment
/// after the run's first checkpoint (waited for: every kill lands after
/// one) each time, until it has been killed `min_kills` times; then let it
/// finish. Returns the number of kills.
pub fn kill_until_done(dir: &Path, args: &[&str], min_kills: usize) -> usize {
    kill_until(dir, args, min_kills, &|| ())
}

/// [`kill_until_done`], each kill landing only once file `output` (a sink
/// that publishes at checkpoints) has grown since the run started: every
/// kill lands after a checkpoint that held the job's records and state,
/// not one taken while it was still starting.
pub fn kill_after_output_until_done(
    dir: &Path,
    args: &[&str],
    output: &Path,
    min_kills: usize,
) -> usize {
    let size = || std::fs::metadata(output).map_or(0, |m| m.len());
    kill_after_progress_until_done(dir, args, &size, min_kills)
}

/// Run SQL script `script` in `d` (`weir run -q`, checkpoints in
/// `d/checkpoints`, its source at 2000 rows a second, then `extra`
/// arguments), killing it with SIGKILL each time its `out.jsonl` grew
/// ([`kill_after_output_until_done`]), at least 10 times, then letting it
/// finish; asserts the 10 kills landed and returns how many did.
pub fn kill_sql_script(d: &Path, script: &str, extra: &[&str]) -> usize {
    let mut args = vec![
        "run",
        "-q",
        script,
        "--set",
        "checkpoint.dir=checkpoints",
        "--set",
        "source.rate=2000",
    ];
    args.extend_from_slice(extra);
    let kills = kill_after_output_until_done(d, &args, &d.join("out.jsonl"), 10);
    assert!(kills >= 10, "only {kills} kills landed");
    kills
}

/// [`kill_until_done`], each kill landing only once `progress` (what the
/// job's sink published: bytes of a file, rows of a table) has grown since
/// the run started.
pub fn kill_after_progress_until_done(
    dir: &Path,
    args: &[&str],
    progress: &dyn Fn() -> u64,
    min_kills: usize,
) -> usize {
    let before = std::cell::Cell::new(0);
    let grown = || {
        let started = Instant::now();
        let at_start = before.replace(progress());
        let mut now = before.get();
        while now <= at_start && started.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(5));
            now = progress();
        }
        assert!(
            now > at_start,
            "the job published nothing within a minute of a restart"
        );
        before.set(now);
    };
    kill_until(dir, args, min_kills, &grown)
}

fn kill_until(dir: &Path, args: &[&str], min_kills: usize, ready: &dyn Fn()) -> usize {
    let mut rng = TestRng::from_env();
    let mut kills = 0;
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the job did not finish within 5 minutes of restarts"
        );
        let before = newest_epoch(dir);
        let mut child = spawn_weir(dir, args);
        if kills >= min_kills {
            let out = child.wait_with_output().expect("wait");
            assert!(
                out.status.success(),
                "the last run failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            return kills;
        }
        let restarted = Instant::now();
        while newest_epoch(dir) <= before && child.try_wait().expect("try_wait").is_none() {
            assert!(
                restarted.elapsed() < Duration::from_secs(60),
                "no checkpoint within a minute of a restart"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        ready();
        std::thread::sleep(Duration::from_millis(rng.between(0, 400)));
        match child.try_wait().expect("try_wait") {
            None => {
                child.kill().expect("SIGKILL");
                child.wait().expect("reap");
                kills += 1;
            }
            Some(status) => {
                let out = child.wait_with_output().expect("output");
                panic!(
                    "the job finished after only {kills} kills (status {status}); it should run longer than the kill interval\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}

/// The epochs of the checkpoints in `dir`, oldest first.
pub fn epochs(dir: &Path) -> Vec<u64> {
    let mut e: Vec<u64> = std::fs::read_dir(dir)
        .expect("checkpoint dir")
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_string_lossy()
                .strip_prefix("chk-")
                .and_then(|n| n.parse().ok())
        })
        .collect();
    e.sort_unstable();
    e
}
