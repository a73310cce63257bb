//! Checkpoints and recovery, end to end through the `weir` binary: jobs are
//! killed with SIGKILL at random moments and restarted until they finish,
//! and their outputs must equal an uninterrupted run's byte for byte.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use weir_e2e::crash::{epochs, kill_until_done};
use weir_e2e::crash_jobs::{
    RATE, bytes, crash_window_job, reference, transactions, window_job_with,
};
use weir_e2e::{canonical_lines, operator, repo, spawn_weir, weir, weir_in};

/// file → Wasm map+filter → key by user → 1-minute tumbling count and sum →
/// file, with late and dead-letter outputs, RocksDB state, parallelism 2.
fn window_job(dir: &Path, input: &Path) -> PathBuf {
    window_job_with(dir, input, "map-filter", "job.toml")
}

#[test]
fn a_window_job_killed_at_random_moments_gives_exactly_the_uninterrupted_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = transactions(dir.path());
    let job = window_job(dir.path(), &input);
    let expected = reference(&job, dir.path(), &["sink", "late_output", "dead_letter"]);
    crash_window_job(dir.path(), &job, &expected);
    let listing = weir(&[
        "checkpoints",
        "list",
        dir.path().join("checkpoints").to_str().expect("utf-8"),
    ])
    .ok();
    assert!(
        listing.stdout().contains("crash-window"),
        "{}",
        listing.stdout()
    );
}

#[test]
fn a_job_with_an_operator_over_columns_killed_at_random_moments_gives_exactly_the_uninterrupted_output()
 {
    // The same window job with the map+filter over typed columns: the
    // source decodes into columns, the operator runs over them, the keyed
    // stage gets its rows as events.
    let dir = tempfile::tempdir().expect("tempdir");
    let input = transactions(dir.path());
    let job = window_job_with(dir.path(), &input, "map-filter-columns", "job.toml");
    let expected = reference(&job, dir.path(), &["sink", "late_output", "dead_letter"]);
    // The operator over events on the same input: the same windows.
    let events = window_job_with(dir.path(), &input, "map-filter", "events.toml");
    let events_out = dir.path().join("events-out");
    weir(&[
        "run",
        "-q",
        events.to_str().expect("utf-8"),
        "--fresh",
        "--set",
        &format!("sink.path={}/sink.jsonl", events_out.display()),
        "--set",
        &format!("late_output.path={}/late.jsonl", events_out.display()),
        "--set",
        &format!("dead_letter.path={}/dead.jsonl", events_out.display()),
        "--set",
        &format!("checkpoint.dir={}/events-checkpoints", dir.path().display()),
        "--set",
        &format!("state.path={}/events-state", dir.path().display()),
    ])
    .ok();
    assert!(
        bytes(&events_out.join("sink.jsonl")) == bytes(&expected.join("sink.jsonl")),
        "windows over columns differ from windows over events"
    );
    crash_window_job(dir.path(), &job, &expected);
}

#[test]
fn a_wasm_aggregate_over_columns_on_rocksdb_killed_at_random_moments_gives_exactly_the_uninterrupted_output()
 {
    // The window job with no operator and a Wasm aggregate over columns
    // (tests/operators/largest-columns): its accumulators are host-kept
    // bytes in RocksDB, in every checkpoint, restored after each kill.
    let dir = tempfile::tempdir().expect("tempdir");
    let input = transactions(dir.path());
    let job = window_job_with(dir.path(), &input, "map-filter", "job.toml");
    let text = std::fs::read_to_string(&job).expect("job");
    let aggregate = format!(
        r#"aggregate = {{ name = "largest", component = "{}" }}"#,
        operator("largest-columns")
    );
    let text = text
        .replace(
            &format!(
                "[[operators]]\nname = \"big-payments\"\ncomponent = \"{}\"\n",
                operator("map-filter")
            ),
            "",
        )
        .replace(
            r#"aggregates = [{ fn = "count" }, { fn = "sum", field = "cents" }]"#,
            &aggregate,
        );
    assert!(
        text.contains("largest-columns") && !text.contains("[[operators]]"),
        "{text}"
    );
    std::fs::write(&job, text).expect("job");
    let expected = reference(&job, dir.path(), &["sink", "late_output", "dead_letter"]);
    assert!(
        std::fs::read_to_string(expected.join("sink.jsonl"))
            .expect("results")
            .contains("\"top_merchant\""),
        "the aggregate's results"
    );
    crash_window_job(dir.path(), &job, &expected);
}

#[test]
fn a_keyed_operator_on_rocksdb_killed_at_random_moments_gives_exactly_the_uninterrupted_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let job = repo().join("examples/fraud/job.toml");
    let job_arg = job.to_str().expect("utf-8");
    let out = dir.path().join("alerts.jsonl");
    let expected = dir.path().join("expected.jsonl");
    let common = [
        "source.rows=400000".to_string(),
        "source.keys=2000".to_string(),
        "state.backend=rocksdb".to_string(),
        format!("state.path={}", dir.path().join("state").display()),
        "checkpoint.interval=100ms".to_string(),
        format!(
            "checkpoint.dir={}",
            dir.path().join("checkpoints").display()
        ),
    ];
    let mut args: Vec<String> = vec!["run".into(), "-q".into(), job_arg.into()];
    for s in &common {
        args.extend(["--set".into(), s.clone()]);
    }
    let mut reference = args.clone();
    reference.extend(["--set".into(), format!("sink.path={}", expected.display())]);
    reference.push("--fresh".into());
    weir(&reference.iter().map(String::as_str).collect::<Vec<_>>()).ok();
    args.extend(["--set".into(), format!("sink.path={}", out.display())]);
    args.extend(["--set".into(), "source.rate=60000".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let kills = kill_until_done(dir.path(), &args, 10);
    assert!(bytes(&expected).len() > 10_000);
    assert!(
        bytes(&out) == bytes(&expected),
        "alerts differ from the uninterrupted run after {kills} kills"
    );
}

/// Start a rate-limited run, wait until it has completed `n` checkpoints,
/// and kill it.
fn run_until_checkpoints(dir: &Path, args: &[&str], checkpoints: &Path, n: usize) {
    let mut child = spawn_weir(dir, args);
    let started = Instant::now();
    loop {
        let done = std::fs::read_dir(checkpoints)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with("chk-"))
                    .count()
            })
            .unwrap_or(0);
        if done >= n {
            break;
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            let out = child.wait_with_output().expect("output");
            panic!(
                "the job ended ({status}) before {n} checkpoints:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no checkpoints after 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
}

fn newest_checkpoint(dir: &Path) -> PathBuf {
    let mut all: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("checkpoint dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("chk-"))
        })
        .collect();
    all.sort();
    all.pop().expect("a checkpoint")
}

#[test]
fn damaged_checkpoints_are_skipped_with_a_warning_and_the_output_stays_exact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = transactions(dir.path());
    let job = window_job(dir.path(), &input);
    let expected = reference(&job, dir.path(), &["sink"]);
    let job_arg = job.to_str().expect("utf-8");
    let rate = format!("source.rate={RATE}");
    let run = [
        "run",
        job_arg,
        "--set",
        &rate,
        "--set",
        "checkpoint.retain=5",
    ];
    let checkpoints = dir.path().join("checkpoints");

    // Truncated metadata on the newest checkpoint.
    run_until_checkpoints(dir.path(), &run, &checkpoints, 4);
    let newest = newest_checkpoint(&checkpoints);
    let meta = newest.join("_metadata");
    let text = bytes(&meta);
    std::fs::write(&meta, &text[..text.len() / 2]).expect("truncate");
    run_until_checkpoints(dir.path(), &run, &checkpoints, 5);

    // A missing file of the newest checkpoint: the warning names it.
    let newest = newest_checkpoint(&checkpoints);
    std::fs::remove_file(newest.join("keyed-1/window.bin")).expect("remove");
    let name = newest
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let stderr = weir_in(dir.path(), &["run", job_arg]).ok().stderr();
    assert!(
        stderr.contains(&name)
            && stderr.contains("keyed-1/window.bin is missing")
            && stderr.contains("falling back"),
        "no clear warning about {name}:\n{stderr}"
    );
    assert!(
        bytes(&dir.path().join("out/windows.jsonl")) == bytes(&expected.join("sink.jsonl")),
        "output differs after falling back"
    );
}

#[test]
fn a_missing_sst_file_falls_back_to_the_previous_checkpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let job = repo().join("examples/fraud/job.toml");
    let job_arg = job.to_str().expect("utf-8");
    let sets = [
        "source.rows=300000".to_string(),
        "source.rate=50000".to_string(),
        "state.backend=rocksdb".to_string(),
        format!("state.path={}", dir.path().join("state").display()),
        "checkpoint.interval=200ms".to_string(),
        format!(
            "checkpoint.dir={}",
            dir.path().join("checkpoints").display()
        ),
        format!("sink.path={}", dir.path().join("alerts.jsonl").display()),
    ];
    let mut args = vec!["run", job_arg];
    for s in &sets {
        args.extend(["--set", s.as_str()]);
    }
    let checkpoints = dir.path().join("checkpoints");
    run_until_checkpoints(dir.path(), &args, &checkpoints, 3);
    let newest = newest_checkpoint(&checkpoints);
    let sst = std::fs::read_dir(newest.join("keyed-0/state"))
        .expect("RocksDB checkpoint")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "sst"))
        .expect("an SST file in the checkpoint");
    std::fs::remove_file(&sst).expect("remove SST");
    let stderr = weir_in(dir.path(), &args).ok().stderr();
    let name = newest
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(
        stderr.contains(&name)
            && stderr.contains(".sst is missing")
            && stderr.contains("falling back"),
        "no clear warning about the missing SST:\n{stderr}"
    );
    let expected = dir.path().join("expected.jsonl");
    let mut reference = vec!["run", "-q", job_arg, "--fresh"];
    let sink = format!("sink.path={}", expected.display());
    for s in sets.iter().take(1) {
        reference.extend(["--set", s.as_str()]);
    }
    reference.extend(["--set", &sink]);
    weir(&reference).ok();
    assert!(bytes(&dir.path().join("alerts.jsonl")) == bytes(&expected));
}

#[test]
fn a_clean_stop_resumes_where_it_left_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = transactions(dir.path());
    let job = window_job(dir.path(), &input);
    let expected = reference(&job, dir.path(), &["sink"]);
    let job_arg = job.to_str().expect("utf-8");
    let rate = format!("source.rate={RATE}");
    let child = spawn_weir(dir.path(), &["run", job_arg, "--set", &rate]);
    std::thread::sleep(Duration::from_millis(1500));
    // Ctrl-C.
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait");
    assert!(!out.status.success(), "an interrupted run reports it");
    let stderr = weir_in(dir.path(), &["run", job_arg]).ok().stderr();
    assert!(stderr.contains("resuming from checkpoint"), "{stderr}");
    assert!(bytes(&dir.path().join("out/windows.jsonl")) == bytes(&expected.join("sink.jsonl")));
}

#[test]
fn a_savepoint_rescales_from_two_subtasks_to_four_with_identical_results() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = transactions(dir.path());
    let job = window_job(dir.path(), &input);
    let expected = reference(&job, dir.path(), &["sink", "late_output"]);
    let job_arg = job.to_str().expect("utf-8");
    let rate = format!("source.rate={RATE}");
    let mut child = spawn_weir(
        dir.path(),
        &[
            "run",
            job_arg,
            "--set",
            &rate,
            "--set",
            "checkpoint.interval=1h",
        ],
    );
    std::thread::sleep(Duration::from_millis(1500));
    let sp = weir_in(dir.path(), &["savepoint", job_arg]).ok().stdout();
    let sp = sp.trim();
    assert!(sp.contains("savepoints/sp-"), "savepoint path: {sp}");
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    // The savepoint survives retention of ordinary checkpoints.
    assert!(Path::new(sp).join("_metadata").is_file());
    let stderr = weir_in(
        dir.path(),
        &[
            "run",
            job_arg,
            "--from-savepoint",
            sp,
            "--set",
            "parallelism=4",
        ],
    )
    .ok()
    .stderr();
    assert!(stderr.contains("resuming from savepoint"), "{stderr}");
    let out = dir.path().join("out");
    // Within one step the sink writes subtask 0's results, then subtask 1's,
    // …: the same records in another order when the parallelism differs.
    assert_eq!(
        canonical_lines(&out.join("windows.jsonl")),
        canonical_lines(&expected.join("sink.jsonl")),
        "rescaled run differs"
    );
    assert_eq!(
        canonical_lines(&out.join("late.jsonl")),
        canonical_lines(&expected.join("late_output.jsonl"))
    );
}

#[test]
fn an_incompatible_change_is_refused_unless_dropping_state_is_allowed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = transactions(dir.path());
    let job = window_job(dir.path(), &input);
    let job_arg = job.to_str().expect("utf-8");
    let rate = format!("source.rate={RATE}");
    run_until_checkpoints(
        dir.path(),
        &["run", job_arg, "--set", &rate],
        &dir.path().join("checkpoints"),
        2,
    );
    let changed = ["run", job_arg, "--set", "window.size=2m"];
    let err = weir_in(dir.path(), &changed).failed();
    assert!(
        err.contains("cannot resume")
            && err.contains("keyed stage")
            && err.contains("--allow-dropped-state"),
        "{err}"
    );
    let mut allowed = changed.to_vec();
    allowed.push("--allow-dropped-state");
    let stderr = weir_in(dir.path(), &allowed).ok().stderr();
    assert!(stderr.contains("dropping it as allowed"), "{stderr}");
}

#[test]
fn a_second_run_of_a_running_job_is_refused_and_fresh_forgets_old_checkpoints() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = transactions(dir.path());
    let job = window_job(dir.path(), &input);
    let job_arg = job.to_str().expect("utf-8");
    let rate = format!("source.rate={RATE}");
    let checkpoints = dir.path().join("checkpoints");
    let mut first = spawn_weir(dir.path(), &["run", job_arg, "--set", &rate]);
    std::thread::sleep(Duration::from_millis(800));
    let err = weir_in(dir.path(), &["run", job_arg]).failed();
    assert!(err.contains("already running"), "{err}");
    first.kill().expect("SIGKILL");
    first.wait().expect("reap");
    let before = epochs(&checkpoints);
    assert!(!before.is_empty(), "the first run wrote no checkpoint");
    let newest = *before.last().expect("one");
    let mut fresh = spawn_weir(dir.path(), &["run", job_arg, "--set", &rate, "--fresh"]);
    let started = Instant::now();
    while !epochs(&checkpoints).iter().any(|e| *e > newest) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the fresh run wrote no checkpoint"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    fresh.kill().expect("SIGKILL");
    fresh.wait().expect("reap");
    let after = epochs(&checkpoints);
    assert!(
        after.iter().all(|e| e > before.last().expect("one")),
        "a fresh run must not leave the earlier run's checkpoints behind: before {before:?}, after {after:?}"
    );
}

#[test]
fn keyed_rocksdb_state_moves_by_key_group_when_rescaling_from_a_savepoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let job = repo().join("examples/fraud/job.toml");
    let job_arg = job.to_str().expect("utf-8");
    let sets = [
        "source.rows=300000".to_string(),
        "source.keys=3000".to_string(),
        "state.backend=rocksdb".to_string(),
        format!("state.path={}", dir.path().join("state").display()),
        "checkpoint.interval=1h".to_string(),
        format!(
            "checkpoint.dir={}",
            dir.path().join("checkpoints").display()
        ),
        format!("sink.path={}", dir.path().join("alerts.jsonl").display()),
    ];
    let with = |extra: &[&str]| {
        let mut a: Vec<String> = vec!["run".into(), job_arg.into()];
        for s in &sets {
            a.extend(["--set".into(), s.clone()]);
        }
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let expected = dir.path().join("expected.jsonl");
    let reference = with(&[
        "--fresh",
        "--set",
        &format!("sink.path={}", expected.display()),
    ]);
    weir(&reference.iter().map(String::as_str).collect::<Vec<_>>()).ok();

    let slow = with(&["--set", "source.rate=60000"]);
    let child = spawn_weir(
        dir.path(),
        &slow.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    std::thread::sleep(Duration::from_millis(1500));
    let mut savepoint = vec!["savepoint", job_arg];
    for s in &sets {
        savepoint.extend(["--set", s.as_str()]);
    }
    let sp = weir_in(dir.path(), &savepoint)
        .ok()
        .stdout()
        .trim()
        .to_string();
    let mut child = child;
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    // Three subtasks instead of two, and the memory backend instead of RocksDB.
    let resumed = with(&[
        "--from-savepoint",
        &sp,
        "--set",
        "parallelism=3",
        "--set",
        "state.backend=memory",
    ]);
    weir_in(
        dir.path(),
        &resumed.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .ok();
    assert_eq!(
        canonical_lines(&dir.path().join("alerts.jsonl")),
        canonical_lines(&expected),
        "alerts differ after moving keyed state from 2 RocksDB subtasks to 3 in memory"
    );
}
