//! Wasm aggregate functions in SQL (`CREATE FUNCTION wavg AS 'project'
//! LANGUAGE WASM`, a component of the `aggregate` world), built from
//! source by the test: `tests/operators/wavg-columns` in Rust and
//! `tests/operators/wavg-py` in Python, the average of a value weighted by
//! an integer. Their windows' rows are checked against a model written
//! here (it shares no code with weir) over the conformance suite's
//! `tx.jsonl`, whose rows come in time order (none is late), beside
//! built-in aggregates; what weir cannot run yet around them is refused
//! before the job starts; a live swap (`tests/operators/wavg-v2`) and
//! SIGKILLs mid-run (`sql_crash.rs`) keep every window's result the
//! model's. Without a
//! window (`GROUP BY user`), the function's result is updated per user as
//! its rows come, and a user forgotten after the state's time to live
//! starts again.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use weir_e2e::sql_tier::lines;
use weir_e2e::{operator, repo, weir};

/// A script in `dir` over `tx.jsonl` (or `input`) as table `tx` with
/// event time `t` (its `ts`, watermarked 2 s behind), with `wavg` the
/// aggregate function built from `component`.
fn script(dir: &Path, name: &str, component: &str, text: &str, input: Option<&Path>) -> PathBuf {
    let table = "CREATE TABLE tx (
  ts BIGINT,
  `user` STRING,
  amount DOUBLE,
  merchant STRING,
  n INT,
  flag BOOLEAN,
  t AS TO_TIMESTAMP_LTZ(ts, 3),
  WATERMARK FOR t AS t - INTERVAL '2' SECOND
) WITH ('connector' = 'filesystem', 'path' = '{input}', 'format' = 'json');
";
    let text = format!("CREATE FUNCTION wavg AS '{component}' LANGUAGE WASM;\n{text}");
    weir_e2e::sql_tier::script_over(dir, name, table, &text, input)
}

/// A row's arguments: (amount, n), NULLs as `None`.
type Args = (Option<f64>, Option<i64>);

/// The input's rows: (ts, user, amount, n), NULLs as `None`.
fn input() -> Vec<(i64, String, Option<f64>, Option<i64>)> {
    lines(&repo().join("tests/sql/conformance/input/tx.jsonl"))
        .iter()
        .map(|r| {
            (
                r["ts"].as_i64().expect("ts"),
                r["user"].as_str().expect("user").to_string(),
                r["amount"].as_f64(),
                r["n"].as_i64(),
            )
        })
        .collect()
}

/// The model's weighted average of a window's rows (amount, n), in
/// order: a row with a NULL is in its window but not added; NULL when the
/// weights add up to 0 (or no row was added).
fn wavg(rows: &[Args]) -> Option<f64> {
    let (mut weighted, mut weights) = (0.0, 0i64);
    for (a, n) in rows {
        if let (Some(a), Some(n)) = (a, n) {
            weighted += a * *n as f64;
            weights += n;
        }
    }
    (weights != 0).then(|| weighted / weights as f64)
}

/// Rows `(user, window_start ms, window_end ms) → wavg` of the output.
fn by_window(rows: &[Value]) -> BTreeMap<(String, i64, i64), Option<f64>> {
    let mut got = BTreeMap::new();
    for r in rows {
        let k = (
            r["user"].as_str().expect("user").to_string(),
            r["ws"].as_i64().expect("ws"),
            r["we"].as_i64().expect("we"),
        );
        assert!(
            got.insert(k.clone(), r["w"].as_f64()).is_none(),
            "two rows for {k:?}"
        );
    }
    got
}

fn assert_same(
    got: &BTreeMap<(String, i64, i64), Option<f64>>,
    want: &BTreeMap<(String, i64, i64), Option<f64>>,
) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (k, w) in want {
        match (got[k], w) {
            (Some(g), Some(w)) => assert!(
                (g - w).abs() <= 1e-9 * w.abs().max(1.0),
                "{k:?}: {g} != {w}"
            ),
            (g, w) => assert_eq!(g, *w, "{k:?}"),
        }
    }
}

const OUT: &str = "CREATE TABLE out_rows (`user` STRING, ws BIGINT, we BIGINT, w DOUBLE)
  WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');
";

#[test]
fn a_rust_aggregate_function_beside_built_ins_over_tumbling_windows_gives_the_models_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = script(
        dir.path(),
        "tumble",
        &operator("wavg-columns"),
        "CREATE TABLE out_rows (`user` STRING, ws BIGINT, we BIGINT, c BIGINT, w DOUBLE,
  mx DOUBLE)
  WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');
INSERT INTO out_rows
SELECT `user`, CAST(window_start AS BIGINT) AS ws, CAST(window_end AS BIGINT) AS we,
  COUNT(*) AS c, WAVG(amount, n) AS w, MAX(amount) AS mx
FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(t), INTERVAL '10' SECOND))
WHERE `user` <> 'u3'
GROUP BY window_start, window_end, `user`;
",
        None,
    );
    for parallelism in ["1", "2"] {
        let run = weir(&[
            "sql",
            "-q",
            "--fresh",
            "--set",
            &format!("parallelism={parallelism}"),
            "--set",
            "batch_size=7",
            path.to_str().expect("utf-8"),
        ]);
        assert!(run.output.status.success(), "{}", run.stderr());
        let out = lines(&dir.path().join("tumble.out.jsonl"));
        let got = by_window(&out);

        // The model: 10 s windows from the epoch, per user but u3.
        let mut groups: BTreeMap<(String, i64, i64), Vec<Args>> = BTreeMap::new();
        for (ts, user, amount, n) in input() {
            if user == "u3" {
                continue;
            }
            let start = ts - ts.rem_euclid(10_000);
            groups
                .entry((user, start, start + 10_000))
                .or_default()
                .push((amount, n));
        }
        // Windows none of whose rows have both arguments: the empty
        // accumulator's result.
        let unadded = groups
            .values()
            .filter(|rows| rows.iter().all(|(a, n)| a.is_none() || n.is_none()))
            .count();
        assert!(unadded > 0, "no window of NULL arguments only");
        let want: BTreeMap<_, _> = groups
            .into_iter()
            .map(|(k, rows)| (k, wavg(&rows)))
            .collect();
        assert!(want.len() > 50, "{}", want.len());
        assert_same(&got, &want);
        // The built-ins beside it: every row counted, the largest amount.
        for r in &out {
            let user = r["user"].as_str().expect("user");
            let ws = r["ws"].as_i64().expect("ws");
            let rows: Vec<_> = input()
                .into_iter()
                .filter(|(ts, u, _, _)| u == user && ts - ts.rem_euclid(10_000) == ws)
                .collect();
            assert_eq!(r["c"].as_u64(), Some(rows.len() as u64), "{r}");
            let mx = rows
                .iter()
                .filter_map(|r| r.2)
                .fold(None, |m: Option<f64>, a| Some(m.map_or(a, |m| m.max(a))));
            assert_eq!(r["mx"].as_f64(), mx, "{r}");
        }
    }
}

#[test]
fn a_python_aggregate_function_over_session_windows_gives_the_models_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = script(
        dir.path(),
        "session",
        &operator("wavg-py"),
        &format!(
            "{OUT}INSERT INTO out_rows
SELECT `user`, CAST(window_start AS BIGINT), CAST(window_end AS BIGINT), wavg(amount, n)
FROM TABLE(SESSION(TABLE tx PARTITION BY `user`, DESCRIPTOR(t), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, `user`;
"
        ),
        None,
    );
    let run = weir(&["sql", "-q", path.to_str().expect("utf-8")]);
    assert!(run.output.status.success(), "{}", run.stderr());
    let got = by_window(&lines(&dir.path().join("session.out.jsonl")));

    // The model: per user, a session goes on while the next row comes
    // less than 10 s after the last; it ends 10 s after its last row.
    let mut per_user: BTreeMap<String, Vec<(i64, Args)>> = BTreeMap::new();
    for (ts, user, amount, n) in input() {
        per_user.entry(user).or_default().push((ts, (amount, n)));
    }
    let mut want = BTreeMap::new();
    for (user, rows) in per_user {
        let mut session: Vec<(i64, Args)> = Vec::new();
        let mut close = |session: &mut Vec<(i64, Args)>| {
            if let (Some(first), Some(last)) = (session.first(), session.last()) {
                let rows: Vec<Args> = session.iter().map(|&(_, args)| args).collect();
                want.insert((user.clone(), first.0, last.0 + 10_000), wavg(&rows));
            }
            session.clear();
        };
        for r in rows {
            if session.last().is_some_and(|l| r.0 >= l.0 + 10_000) {
                close(&mut session);
            }
            session.push(r);
        }
        close(&mut session);
    }
    assert!(want.len() > 20, "{}", want.len());
    // Sessions that merged rows: the function's merge ran.
    assert!(want.len() < input().len() / 2, "{}", want.len());
    assert_same(&got, &want);
}

/// The changelog of `path` (Debezium's JSON), checked as it is read:
/// every update changes its row (no `-U`/`+U` of equal rows, as in
/// Flink) and takes back a row the table has; the table it leaves, and
/// how many updates made it.
fn changelog_table(path: &Path) -> (Vec<Value>, usize) {
    let changes = lines(path);
    let mut removed = 0;
    for pair in changes.windows(2) {
        if pair[0]["op"] == "d" && pair[1]["op"] == "c" {
            removed += 1;
            assert_ne!(
                pair[0]["before"], pair[1]["after"],
                "an update that changes nothing"
            );
        }
    }
    (weir_e2e::rows::final_table(&changes), removed)
}

/// The model's (count, weighted average) of each user's rows.
fn per_user(
    rows: &[(i64, String, Option<f64>, Option<i64>)],
) -> BTreeMap<String, (u64, Option<f64>)> {
    let mut groups: BTreeMap<String, Vec<Args>> = BTreeMap::new();
    for (_, user, amount, n) in rows {
        groups.entry(user.clone()).or_default().push((*amount, *n));
    }
    groups
        .into_iter()
        .map(|(u, rows)| (u, (rows.len() as u64, wavg(&rows))))
        .collect()
}

/// `(user, c, w)` of a table's rows, compared with `want` (floats within
/// an ulp or so of the model's).
fn assert_table(table: &[Value], want: &BTreeMap<String, (u64, Option<f64>)>) {
    let got: BTreeMap<(String, u64), Option<f64>> = table
        .iter()
        .map(|r| {
            (
                (
                    r["user"].as_str().expect("user").to_string(),
                    r["c"].as_u64().expect("c"),
                ),
                r["w"].as_f64(),
            )
        })
        .collect();
    assert_eq!(got.len(), table.len(), "a user twice: {table:?}");
    let as_windows =
        |m: BTreeMap<(String, u64), Option<f64>>| -> BTreeMap<(String, i64, i64), Option<f64>> {
            m.into_iter()
                .map(|((u, c), w)| ((u, c as i64, 0), w))
                .collect()
        };
    let want: BTreeMap<(String, u64), Option<f64>> = want
        .iter()
        .map(|(u, (c, w))| ((u.clone(), *c), *w))
        .collect();
    assert_same(&as_windows(got), &as_windows(want));
}

#[test]
fn a_rust_aggregate_function_without_a_window_updates_each_users_row_as_the_model_says() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = script(
        dir.path(),
        "global",
        &operator("wavg-columns"),
        "CREATE TABLE out_rows (`user` STRING, c BIGINT, w DOUBLE)
  WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'debezium-json');
INSERT INTO out_rows SELECT `user`, COUNT(*) AS c,
  wavg(amount, CASE WHEN `user` = 'u3' THEN CAST(NULL AS INT) ELSE n END) AS w
FROM tx GROUP BY `user`;
",
        None,
    );
    // u3's weights are all NULL: its rows are counted, not added.
    let mut rows = input();
    for r in &mut rows {
        if r.1 == "u3" {
            r.3 = None;
        }
    }
    let want = per_user(&rows);
    assert_eq!(want["u3"].1, None);
    for sets in [
        &["parallelism=1"][..],
        &["parallelism=2", "batch_size=7"],
        &["state.backend=rocksdb", "batch_size=7"],
    ] {
        let mut args = vec!["sql", "-q", "--fresh"];
        for s in sets {
            args.extend(["--set", s]);
        }
        args.push(path.to_str().expect("utf-8"));
        let run = weir(&args);
        assert!(run.output.status.success(), "{sets:?}: {}", run.stderr());
        let (table, updates) = changelog_table(&dir.path().join("global.out.jsonl"));
        assert_table(&table, &want);
        // One batch of 1024 rows inserts each user once; batches of 7
        // update them.
        assert_eq!(updates > 0, sets.contains(&"batch_size=7"), "{sets:?}");
    }
}

/// With a time to live, a user not updated for that long is forgotten
/// (no change is written for it, as in Flink), and its next row starts
/// it again: its Wasm accumulator starts empty, beside a count from 1.
/// Processing time: the rows of one user between come for 3 s (a rate
/// limit), three times the time to live.
#[test]
fn a_user_forgotten_after_the_time_to_live_starts_its_aggregate_function_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = 1_700_000_000_000i64;
    let mut rows = Vec::new();
    for (user, count) in [("a", 200), ("b", 3000), ("a", 100)] {
        for _ in 0..count {
            let i = rows.len() as i64;
            rows.push((
                base + i,
                user.to_string(),
                Some((i % 97) as f64),
                Some(i % 4),
            ));
        }
    }
    let text: String = rows
        .iter()
        .map(|(ts, user, amount, n)| {
            format!(
                "{{\"ts\":{ts},\"user\":\"{user}\",\"amount\":{},\"merchant\":\"m\",\"n\":{},\"flag\":true}}\n",
                amount.expect("amount"),
                n.expect("n")
            )
        })
        .collect();
    let input_path = dir.path().join("ttl.jsonl");
    std::fs::write(&input_path, text).expect("input");
    let path = script(
        dir.path(),
        "ttl",
        &operator("wavg-columns"),
        "SET 'table.exec.state.ttl' = '1 s';
CREATE TABLE out_rows (`user` STRING, c BIGINT, w DOUBLE)
  WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'debezium-json');
INSERT INTO out_rows SELECT `user`, COUNT(*) AS c, wavg(amount, n) AS w FROM tx GROUP BY `user`;
",
        Some(&input_path),
    );
    let run = weir(&[
        "sql",
        "-q",
        "--fresh",
        "--set",
        "source.rate=1000",
        "--set",
        "batch_size=50",
        path.to_str().expect("utf-8"),
    ]);
    assert!(run.output.status.success(), "{}", run.stderr());
    let (table, _) = changelog_table(&dir.path().join("ttl.out.jsonl"));
    // The first 200 rows of a stay as they were last written; the last
    // 100 make a row of their own.
    let (first, rest) = rows.split_at(200);
    let (between, last) = rest.split_at(3000);
    let mut a = table
        .iter()
        .filter(|r| r["user"] == "a")
        .cloned()
        .collect::<Vec<_>>();
    a.sort_by_key(|r| r["c"].as_u64());
    let b: Vec<Value> = table.iter().filter(|r| r["user"] == "b").cloned().collect();
    assert_eq!(a.len(), 2, "{table:?}");
    assert_table(&a[1..], &per_user(first));
    assert_table(&a[..1], &per_user(last));
    assert_table(&b, &per_user(between));
}

#[test]
fn what_weir_cannot_run_around_an_aggregate_function_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let window = "FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(t), INTERVAL '10' SECOND)) \
                  GROUP BY window_start, window_end, `user`";
    let cases = [
        (
            format!("SELECT `user`, 0, 0, wavg(amount, n) + wavg(n, n) {window}"),
            vec!["a second Wasm aggregate call (`wavg` beside `wavg`)"],
        ),
        (
            "SELECT `user`, 0, 0, wavg(c, CAST(c AS BIGINT)) FROM (SELECT `user`, CAST(COUNT(*) AS DOUBLE) AS c \
             FROM tx GROUP BY `user`) GROUP BY `user`"
                .to_string(),
            vec!["the Wasm aggregate function `wavg` over an updating query's rows"],
        ),
        (
            format!("SELECT `user`, 0, 0, wavg(amount) {window}"),
            vec!["wavg"],
        ),
        (
            format!("SELECT `user`, 0, 0, wavg(`user`, n) {window}"),
            vec!["wavg", "Utf8"],
        ),
    ];
    for (i, (select, want)) in cases.iter().enumerate() {
        let path = script(
            dir.path(),
            &format!("refused{i}"),
            &operator("wavg-columns"),
            &format!("{OUT}INSERT INTO out_rows {select};\n"),
            None,
        );
        let run = weir(&["sql", "-q", "--fresh", path.to_str().expect("utf-8")]);
        let err = run.stderr();
        assert!(!run.output.status.success(), "{select}: ran");
        for w in want {
            assert!(err.contains(w), "{select}: {err}");
        }
    }
}

#[test]
fn an_aggregate_function_swapped_in_a_running_sql_job_finishes_every_window_after_the_barrier() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 24 s of event time, one row a millisecond, 7 users; 1 s windows.
    let rows = 24_000i64;
    let base = 1_700_000_000_000i64;
    let record = |i: i64| {
        (
            format!("u{}", i % 7),
            ((i * 37) % 150) as f64 + 0.25,
            i % 5 + 1,
        )
    };
    let input: String = (0..rows)
        .map(|i| {
            let (user, amount, n) = record(i);
            format!(
                "{{\"ts\":{},\"user\":\"{user}\",\"amount\":{amount},\"merchant\":\"m\",\"n\":{n},\"flag\":true}}\n",
                base + i
            )
        })
        .collect();
    let input_path = dir.path().join("swap.jsonl");
    std::fs::write(&input_path, input).expect("input");
    let path = script(
        dir.path(),
        "swap",
        &operator("wavg-columns"),
        &format!(
            "CREATE TABLE out_rows (`user` STRING, ws BIGINT, we BIGINT, c BIGINT, w DOUBLE)
  WITH ('connector' = 'filesystem', 'path' = '{{output}}', 'format' = 'json');
SET 'execution.checkpointing.interval' = '200ms';
SET 'execution.checkpointing.dir' = '{}';
INSERT INTO out_rows
SELECT `user`, CAST(window_start AS BIGINT), CAST(window_end AS BIGINT), COUNT(*),
  wavg(amount, n)
FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(t), INTERVAL '1' SECOND))
GROUP BY window_start, window_end, `user`;
",
            dir.path().join("checkpoints").display()
        ),
        Some(&input_path),
    );
    let script_arg = path.to_str().expect("utf-8");
    // Version 2 built first, so that the swap takes no build time.
    let built = weir(&["build", &operator("wavg-v2")]);
    assert!(built.output.status.success(), "{}", built.stderr());
    let mut job = weir_e2e::spawn_weir(
        dir.path(),
        &["run", "-q", "--set", "source.rate=4000", script_arg],
    );
    weir_e2e::sql_tier::wait_checkpointed(dir.path(), &mut job);
    // Some windows fired (by version 1) before the swap.
    let output = dir.path().join("swap.out.jsonl");
    let started = std::time::Instant::now();
    while std::fs::metadata(&output).map_or(0, |m| m.len()) == 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "no window fired"
        );
        if let Ok(Some(status)) = job.try_wait() {
            panic!("the job ended ({status}) before the swap");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let swapped = weir_e2e::weir_in(
        dir.path(),
        &["swap", script_arg, "wavg", &operator("wavg-v2")],
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

    // The model: each (user, window)'s weighted average (v1) and that
    // rounded (v2); the output, in the order written, switches once; the
    // COUNT(*) beside the function counts every row, across the swap.
    let mut sums: BTreeMap<(String, i64), (f64, i64, u64)> = BTreeMap::new();
    for i in 0..rows {
        let (user, amount, n) = record(i);
        let ts = base + i;
        let s = sums.entry((user, ts - ts.rem_euclid(1000))).or_default();
        s.0 += amount * n as f64;
        s.1 += n;
        s.2 += 1;
    }
    let got = lines(&dir.path().join("swap.out.jsonl"));
    assert_eq!(got.len(), sums.len(), "windows lost or repeated");
    let mut switched_at = None;
    for (k, r) in got.iter().enumerate() {
        let user = r["user"].as_str().expect("user").to_string();
        let (weighted, weights, count) = sums[&(user.clone(), r["ws"].as_i64().expect("ws"))];
        assert_eq!(r["c"].as_u64(), Some(count), "row {k}: {r}");
        let v1 = weighted / weights as f64;
        let w = r["w"].as_f64().expect("w");
        let by_v2 = w == v1.round() && v1 != v1.round();
        assert!(
            (w - v1).abs() <= 1e-9 * v1.abs() || w == v1.round(),
            "row {k} ({user}): {w} is neither {v1} nor its rounding"
        );
        match switched_at {
            None if by_v2 => switched_at = Some(k),
            Some(s) => assert!(w == v1.round(), "row {k} by v1 after the switch at row {s}"),
            None => {}
        }
    }
    let s = switched_at.expect("some windows by v2");
    assert!(s > 0, "some windows by v1");
}
