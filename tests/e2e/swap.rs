//! Live swap through `weir swap` against a running `weir run`: the switch
//! happens at a checkpoint barrier, every record before it is processed by
//! the old version and every record after it by the new one, none lost or
//! twice; keyed state carries over; a component of the wrong world is
//! refused and the old version keeps running.

use std::path::Path;
use std::time::{Duration, Instant};
use weir_e2e::tag::{tag_job, versions_by_record};
use weir_e2e::{canonical_lines, operator, spawn_weir, weir_in};

const ROWS: usize = 30_000;

/// Wait until the job has completed a checkpoint (it is running); fail
/// with its output if it exits first.
fn wait_running(dir: &Path, job: &mut std::process::Child) {
    let started = Instant::now();
    let checkpointed = || {
        std::fs::read_dir(dir.join("checkpoints"))
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with("chk-"))
            })
            .unwrap_or(false)
    };
    while !checkpointed() {
        if let Some(status) = job.try_wait().expect("try_wait") {
            let mut err = String::new();
            if let Some(mut e) = job.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            panic!("the job exited ({status}) before its first checkpoint:\n{err}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the job did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The job's output file.
fn read_output(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("out.jsonl")).expect("output")
}

/// Wait for the job to run to its end; fail with its output if it failed.
fn finish(job: weir_e2e::Spawned) {
    let out = job.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_transform_swapped_mid_stream_processes_everything_before_the_barrier_old_and_after_it_new() {
    let dir = tempfile::tempdir().expect("tempdir");
    let job = tag_job(dir.path(), "swap-chain", ROWS, 10_000, "200ms", "");
    let job_arg = job.to_str().expect("utf-8");
    let mut child = spawn_weir(dir.path(), &["run", "-q", job_arg]);
    wait_running(dir.path(), &mut child);

    // Another world: refused before it reaches the data path.
    let refused = weir_in(
        dir.path(),
        &["swap", job_arg, "tag", &operator("wrong-world")],
    )
    .failed();
    assert!(
        refused.contains("refused") && refused.contains("world"),
        "{refused}"
    );
    // An operator the job does not have.
    let unknown = weir_in(dir.path(), &["swap", job_arg, "nope", &operator("tag-v2")]).failed();
    assert!(
        unknown.contains("no Wasm operator named `nope`"),
        "{unknown}"
    );

    let swapped = weir_in(dir.path(), &["swap", job_arg, "tag", &operator("tag-v2")]).ok();
    assert!(
        swapped.stdout().contains("live after checkpoint barrier"),
        "{}",
        swapped.stdout()
    );
    finish(child);

    // Every record exactly once; versions switch once, in source order.
    let by_i = versions_by_record(&read_output(dir.path()));
    assert_eq!(by_i.len(), ROWS, "records lost or repeated");
    assert!(by_i.iter().enumerate().all(|(n, (i, _))| n as i64 == *i));
    let switch = by_i
        .iter()
        .position(|(_, v)| *v == 2)
        .expect("some records by v2");
    assert!(switch > 0, "some records by v1");
    assert!(
        by_i[switch..].iter().all(|(_, v)| *v == 2) && by_i[..switch].iter().all(|(_, v)| *v == 1),
        "the versions interleave: the switch was not at one point"
    );
}

#[test]
fn a_keyed_operator_swapped_mid_stream_keeps_its_state() {
    keyed_swap_keeps_state("count-v2", 2);
}

#[test]
fn a_keyed_operator_swapped_from_json_events_to_typed_columns_keeps_its_state() {
    keyed_swap_keeps_state("count-columns", 3);
}

/// Run a running count per key (`count-v1`), swap it for operator `new`
/// (which tags its rows `"v": version`) mid-stream, and check every key
/// counts on from where it was, switching version once.
fn keyed_swap_keeps_state(new: &str, version: i64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let input: String = (0..ROWS)
        .map(|i| format!("{{\"i\":{i},\"user\":\"u{}\"}}\n", i % 7))
        .collect();
    std::fs::write(dir.path().join("input.jsonl"), input).expect("input");
    // 7.5 s of input: the new version, built while other tests build
    // theirs, is asked for well before the input ends.
    std::fs::write(
        dir.path().join("job.toml"),
        format!(
            r#"name = "swap-keyed"
parallelism = 2
batch_size = 100
[source]
type = "file"
path = "input.jsonl"
rate = 4000
[key_by]
field = "user"
[keyed]
name = "count"
component = "{v1}"
[sink]
type = "file"
path = "out.jsonl"
[state]
backend = "rocksdb"
path = "state"
[checkpoint]
interval = "200ms"
dir = "checkpoints"
"#,
            v1 = operator("count-v1")
        ),
    )
    .expect("job");
    let job = dir.path().join("job.toml");
    let job_arg = job.to_str().expect("utf-8");
    let mut child = spawn_weir(dir.path(), &["run", "-q", job_arg]);
    wait_running(dir.path(), &mut child);
    weir_in(dir.path(), &["swap", job_arg, "count", &operator(new)]).ok();
    finish(child);
    // Per key, in source order: counts 1, 2, 3, … with no restart (the
    // state carried over) and the version switching once from 1 to the new.
    let mut per_key: std::collections::BTreeMap<String, Vec<(i64, i64, i64)>> = Default::default();
    for l in canonical_lines(&dir.path().join("out.jsonl")) {
        let v: serde_json::Value = serde_json::from_str(&l).expect("JSON");
        per_key
            .entry(v["key"].as_str().expect("key").to_string())
            .or_default()
            .push((
                v["i"].as_i64().expect("i"),
                v["n"].as_i64().expect("n"),
                v["v"].as_i64().expect("v"),
            ));
    }
    assert_eq!(per_key.len(), 7);
    let mut switched = 0;
    for (key, mut rows) in per_key {
        rows.sort_unstable();
        let counts: Vec<i64> = rows.iter().map(|r| r.1).collect();
        assert_eq!(
            counts,
            (1..=rows.len() as i64).collect::<Vec<_>>(),
            "{key}: the count restarted or skipped"
        );
        let first_v2 = rows
            .iter()
            .position(|r| r.2 == version)
            .unwrap_or(rows.len());
        assert!(
            rows[..first_v2].iter().all(|r| r.2 == 1)
                && rows[first_v2..].iter().all(|r| r.2 == version),
            "{key}: versions interleave"
        );
        if first_v2 > 0 && first_v2 < rows.len() {
            switched += 1;
        }
    }
    assert_eq!(switched, 7, "every key saw both versions");
}

#[test]
fn a_canary_that_traps_is_rolled_back_and_one_that_behaves_is_promoted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rows = 40_000;
    // `mode = "trap"` means nothing to the tag operator; the `misbehave`
    // operator panics on its first record with it.
    let job = tag_job(
        dir.path(),
        "swap-canary",
        rows,
        10_000,
        "200ms",
        "config = { mode = \"trap\" }",
    );
    let job_arg = job.to_str().expect("utf-8");
    let mut child = spawn_weir(dir.path(), &["run", "-q", job_arg]);
    wait_running(dir.path(), &mut child);

    let rolled_back = weir_in(
        dir.path(),
        &[
            "swap",
            job_arg,
            "tag",
            &operator("misbehave"),
            "--canary",
            "500",
        ],
    )
    .failed();
    assert!(
        rolled_back.contains("canary rolled back") && rolled_back.contains("operator bug"),
        "{rolled_back}"
    );
    let promoted = weir_in(
        dir.path(),
        &[
            "swap",
            job_arg,
            "tag",
            &operator("tag-v2"),
            "--canary",
            "2000",
        ],
    )
    .ok();
    let said = promoted.stdout();
    assert!(
        said.contains("promoted after") && said.contains("live after checkpoint barrier"),
        "{said}"
    );
    finish(child);

    // The trapping shadow cost nothing: every record once, by v1 up to the
    // promotion and by v2 after it.
    let by_i = versions_by_record(&read_output(dir.path()));
    assert_eq!(by_i.len(), rows, "records lost or repeated");
    let switch = by_i
        .iter()
        .position(|(_, v)| *v == 2)
        .expect("v2 was promoted");
    assert!(
        switch >= 2000,
        "v2 went live before its canary saw 2000 records"
    );
    assert!(by_i[switch..].iter().all(|(_, v)| *v == 2));
}

#[test]
fn a_rollback_puts_the_previous_version_back_and_a_restart_keeps_the_swapped_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rows = 40_000;
    let job = tag_job(dir.path(), "swap-rollback", rows, 5_000, "100ms", "");
    let job_arg = job.to_str().expect("utf-8");
    let mut child = spawn_weir(dir.path(), &["run", "-q", job_arg]);
    wait_running(dir.path(), &mut child);
    let pause = || std::thread::sleep(Duration::from_millis(500));
    pause();
    weir_in(dir.path(), &["swap", job_arg, "tag", &operator("tag-v2")]).ok();
    pause();
    let back = weir_in(dir.path(), &["rollback", job_arg, "tag"]).ok();
    assert!(
        back.stdout().contains("rolling `tag` back to"),
        "{}",
        back.stdout()
    );
    pause();
    weir_in(dir.path(), &["swap", job_arg, "tag", &operator("tag-v2")]).ok();
    pause();
    // A crash, then a restart from the same job file (which names v1): the
    // job goes on with v2, the version its last checkpoint recorded.
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let resumed = weir_in(dir.path(), &["run", job_arg, "--set", "source.rate=0"]).ok();
    assert!(
        resumed.stderr().contains("resuming from checkpoint"),
        "{}",
        resumed.stderr()
    );

    let by_i = versions_by_record(&read_output(dir.path()));
    assert_eq!(by_i.len(), rows, "records lost or repeated");
    let mut runs: Vec<i64> = by_i.iter().map(|(_, v)| *v).collect();
    runs.dedup();
    assert_eq!(runs, vec![1, 2, 1, 2], "versions in source order");
}
