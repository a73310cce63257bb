//! Wasm functions of SQL swapped live (`weir swap`, with and without a
//! canary), built from source by the test (`tests/operators/tier-v1`,
//! `tier-v2`), their rows checked against the model in
//! `weir_e2e::sql_tier`: every row before the switch by the old version
//! and every row after it by the new one — also when the function is
//! called both before and after a window, where both stages switch at one
//! barrier; a canary runs the query in shadow and is promoted, and one
//! that rejects rows is rolled back while the job runs on.

use std::path::{Path, PathBuf};

use weir_e2e::sql_tier::{lines, script, tier_v1, tier_v2, wait_checkpointed};
use weir_e2e::{Spawned, operator, spawn_weir, weir_in};

/// Start `weir run` of a script `name` in `dir` that writes `n` and
/// `tier(amount, user)` of `rows` transactions (user `u{i % 7}`, amount
/// `amount(i)`) at 4,000 a second, with `function` as `tier`, checkpoints
/// every 200 ms and `parallelism`; returns once it checkpointed.
fn tier_job(
    dir: &Path,
    name: &str,
    rows: i64,
    amount: impl Fn(i64) -> f64,
    function: &str,
    parallelism: u32,
) -> (PathBuf, Spawned) {
    let input: String = (0..rows)
        .map(|i| {
            format!(
                "{{\"ts\":{},\"user\":\"u{}\",\"amount\":{:.1},\"merchant\":\"m\",\"n\":{i},\"flag\":true}}\n",
                1_700_000_000_000i64 + i,
                i % 7,
                amount(i)
            )
        })
        .collect();
    let input_path = dir.join(format!("{name}.jsonl"));
    std::fs::write(&input_path, input).expect("input");
    let path = script(
        dir,
        name,
        &format!(
            "SET 'execution.checkpointing.interval' = '200ms';
SET 'execution.checkpointing.dir' = '{{checkpoints}}';
SET 'parallelism.default' = '{parallelism}';
CREATE FUNCTION tier AS '{function}' LANGUAGE WASM;
CREATE TABLE out_rows (n INT, t STRING)
  WITH ('connector' = 'filesystem', 'path' = '{{output}}', 'format' = 'json');
INSERT INTO out_rows SELECT n, tier(amount, `user`) FROM tx;
"
        ),
        Some(&input_path),
    );
    let script_arg = path.to_str().expect("utf-8");
    let mut job = spawn_weir(dir, &["run", "-q", "--set", "source.rate=4000", script_arg]);
    wait_checkpointed(dir, &mut job);
    (path, job)
}

/// `weir swap --canary 1000` of `tier` in the job of `script` to test
/// operator `version`.
fn canary(dir: &Path, script: &str, version: &str) -> weir_e2e::Run {
    weir_in(
        dir,
        &[
            "swap",
            "--canary",
            "1000",
            script,
            "tier",
            &operator(version),
        ],
    )
}

/// The rows `n`, `t` of a `tier_job`'s output, by `n`.
fn tier_rows(path: &Path) -> Vec<(i64, String)> {
    let mut got: Vec<(i64, String)> = lines(path)
        .iter()
        .map(|v| {
            (
                v["n"].as_i64().expect("n"),
                v["t"].as_str().expect("t").to_string(),
            )
        })
        .collect();
    got.sort();
    got
}

#[test]
fn a_function_canary_promoted_in_a_running_sql_job_answers_for_every_row_after_the_barrier() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rows = 24_000i64;
    let record = |i: i64| (format!("u{}", i % 7), ((i * 37) % 150) as f64);
    let (path, job) = tier_job(
        dir.path(),
        "swap",
        rows,
        |i| record(i).1,
        &operator("tier-v1"),
        2,
    );
    let script_arg = path.to_str().expect("utf-8");
    // A canary of the function: the query runs a second time in shadow
    // with v2 over 1,000 rows; v2 rejects nothing, so it is promoted, and
    // the canary saw the rows differ (v2 names its tiers otherwise).
    let swapped = canary(dir.path(), script_arg, "tier-v2").ok();
    let said = swapped.stdout();
    assert!(
        said.contains("promoted after") && said.contains("live after checkpoint barrier"),
        "{said}"
    );
    let differing: u64 = said
        .split("rejected, ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no canary report: {said}"));
    assert!(differing > 0, "v2's rows should differ from v1's: {said}");
    let out = job.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Every row once; one switch point S: rows before it by v1, from it on
    // by v2.
    let got = tier_rows(&dir.path().join("swap.out.jsonl"));
    assert_eq!(got.len() as i64, rows, "rows lost or repeated");
    assert!(got.iter().enumerate().all(|(k, (i, _))| k as i64 == *i));
    let switch = got
        .iter()
        .position(|(i, t)| {
            let (user, amount) = record(*i);
            *t != tier_v1(amount, &user)
        })
        .expect("some rows by v2");
    assert!(switch > 0, "some rows by v1");
    for (i, t) in &got {
        let (user, amount) = record(*i);
        let want = if (*i as usize) < switch {
            tier_v1(amount, &user)
        } else {
            tier_v2(amount, &user)
        };
        assert_eq!(*t, want, "row {i} (the switch is at row {switch})");
    }
}

/// `amount` of row `i` of the two-stage swap test: a third of each
/// window's rows are silver by `tier` v2 (50 to 100), none by v1.
fn two_stage_amount(i: i64) -> f64 {
    ((i * 37) % 150) as f64
}

#[test]
fn a_function_called_before_and_after_a_window_swaps_in_both_stages_at_one_barrier() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 240 windows of one second, 100 rows each, one user.
    let (rows, per_window) = (24_000i64, 100i64);
    let base = 1_700_000_000_000i64;
    let input: String = (0..rows)
        .map(|i| {
            let mut ts = Vec::new();
            weir::time::write_sql_seconds(&mut ts, base + i * 10);
            format!(
                "{{\"ts\":\"{}.{:03}\",\"user\":\"u\",\"amount\":{:.1},\"n\":{i}}}\n",
                String::from_utf8(ts).expect("utf-8"),
                (i * 10) % 1000,
                two_stage_amount(i)
            )
        })
        .collect();
    let input_path = dir.path().join("timed.jsonl");
    std::fs::write(&input_path, input).expect("input");
    let path = script(
        dir.path(),
        "two",
        &format!(
            "SET 'execution.checkpointing.interval' = '200ms';
SET 'execution.checkpointing.dir' = '{{checkpoints}}';
CREATE FUNCTION tier AS '{{tier}}' LANGUAGE WASM;
CREATE TABLE timed (
  ts TIMESTAMP(3), `user` STRING, amount DOUBLE, n INT,
  WATERMARK FOR ts AS ts - INTERVAL '0' SECOND
) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json');
CREATE TABLE out_rows (wstart TIMESTAMP(3), cnt BIGINT, t STRING)
  WITH ('connector' = 'filesystem', 'path' = '{{output}}', 'format' = 'json');
INSERT INTO out_rows
SELECT window_start, COUNT(*), tier(MAX(amount), `user`)
FROM TABLE(TUMBLE(TABLE timed, DESCRIPTOR(ts), INTERVAL '1' SECOND))
WHERE tier(amount, `user`) NOT LIKE '%:silver'
GROUP BY window_start, window_end, `user`;
",
            input_path.display()
        ),
        None,
    );
    let script_arg = path.to_str().expect("utf-8");
    let mut job = spawn_weir(
        dir.path(),
        &["run", "-q", "--set", "source.rate=4000", script_arg],
    );
    wait_checkpointed(dir.path(), &mut job);
    let swapped = weir_in(
        dir.path(),
        &["swap", script_arg, "tier", &operator("tier-v2")],
    )
    .ok();
    assert!(
        swapped.stdout().contains("live after checkpoint barrier"),
        "{}",
        swapped.stdout()
    );
    let out = job.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Each window once, in order of its start.
    let mut got: Vec<(String, i64, String)> = lines(&dir.path().join("two.out.jsonl"))
        .iter()
        .map(|v| {
            (
                v["wstart"].as_str().expect("wstart").to_string(),
                v["cnt"].as_i64().expect("cnt"),
                v["t"].as_str().expect("t").to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got.len() as i64,
        rows / per_window,
        "windows lost or repeated"
    );
    // The stage after the window: windows it finished before the barrier
    // by v1, the rest by v2 — one switch.
    let v2 = |t: &str| ["u:gold", "u:silver", "u:bronze"].contains(&t);
    let switched = got
        .iter()
        .position(|(_, _, t)| v2(t))
        .expect("no window labelled by v2: the swap did not reach the stage after the window");
    assert!(switched > 0, "no window labelled by v1");
    for (w, (_, _, t)) in got.iter().enumerate() {
        assert_eq!(
            v2(t),
            w >= switched,
            "window {w}: {t} (switch at {switched})"
        );
    }
    // The stage before it: one switch row S in the input, rows before it
    // filtered by v1 (none silver), from it on by v2 — and the windows'
    // counts and maxima, and the label's version, agree with one S.
    let model = |s: i64| -> Vec<(i64, String)> {
        (0..rows / per_window)
            .map(|w| {
                let kept: Vec<f64> = (w * per_window..(w + 1) * per_window)
                    .filter(|&i| i < s || !tier_v2(two_stage_amount(i), "u").ends_with(":silver"))
                    .map(two_stage_amount)
                    .collect();
                let max = kept.iter().copied().fold(f64::MIN, f64::max);
                let t = if (w as usize) < switched {
                    tier_v1(max, "u")
                } else {
                    tier_v2(max, "u")
                };
                (kept.len() as i64, t)
            })
            .collect()
    };
    let seen: Vec<(i64, String)> = got.iter().map(|(_, c, t)| (*c, t.clone())).collect();
    // S is in the first window that lost rows (or at its start).
    let first = got
        .iter()
        .position(|(_, c, _)| *c < per_window)
        .expect("no window lost its silver rows: the swap did not reach the filter")
        as i64;
    let s = (first * per_window..=(first + 1) * per_window)
        .find(|&s| s > 0 && model(s) == seen)
        .unwrap_or_else(|| panic!("no one switch row explains the windows: {got:#?}"));
    // The window the barrier found open is the first the later stage
    // labels by v2.
    let open = ((s - 1) / per_window) as usize;
    eprintln!("the filter switched at row {s} (window {open}), the label at window {switched}");
    assert!(
        switched == open || switched == open + 1,
        "the filter switched at row {s} (window {open}), the label at window {switched}"
    );
}

#[test]
fn a_function_canary_that_rejects_rows_is_rolled_back_and_the_job_runs_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Every 50th amount is negative: v2 (running) gives it a tier, v1
    // (the canary) refuses it.
    let rows = 16_000i64;
    let amount = |i: i64| {
        if i % 50 == 7 {
            -1.0
        } else {
            ((i * 37) % 150) as f64
        }
    };
    let (path, mut job) = tier_job(
        dir.path(),
        "rollback",
        rows,
        amount,
        &operator("tier-v2"),
        1,
    );
    let script_arg = path.to_str().expect("utf-8");
    let rolled_back = canary(dir.path(), script_arg, "tier-v1").failed();
    assert!(
        rolled_back.contains("canary rolled back") && rolled_back.contains("negative amount"),
        "{rolled_back}"
    );
    assert!(
        job.try_wait().expect("try_wait").is_none(),
        "the job must run on after the rollback"
    );
    let out = job.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every row once, every one by v2.
    let got = tier_rows(&dir.path().join("rollback.out.jsonl"));
    let want: Vec<(i64, String)> = (0..rows)
        .map(|i| (i, tier_v2(amount(i), &format!("u{}", i % 7))))
        .collect();
    assert_eq!(got, want);
}
