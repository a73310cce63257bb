//! Windows over processing time (`pt AS PROCTIME()` in `CREATE TABLE`):
//! a row is in the windows of the wall-clock time the window stage reads
//! it, and a window fires once that clock passes its end (or the input
//! ends). Which window a row lands in depends on the clock, so the test
//! checks what does not: every row is counted in exactly as many windows
//! as its kind gives it (one for TUMBLE, size / slide for HOP), per user
//! as the test counts the input; windows are aligned to their size (or
//! slide) from the epoch, lie within the run's wall-clock time, and there
//! are several (the input is read at a fixed rate over about two seconds).
//! Nexmark's q12 (`examples/nexmark/q12.sql`) counts every bid once.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};
use weir_e2e::sql_tier::lines;

/// Wall-clock milliseconds since the epoch.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

/// `rows` transactions of 5 users in `dir`/tx.jsonl; how many each user has.
fn input(dir: &Path, rows: u64) -> BTreeMap<String, u64> {
    let mut rng = weir_e2e::TestRng::from_env();
    let mut text = String::new();
    let mut per_user = BTreeMap::new();
    for i in 0..rows {
        let user = format!("u{}", rng.between(0, 5));
        text.push_str(&format!(
            "{{\"ts\":{i},\"user\":\"{user}\",\"amount\":{}}}\n",
            rng.between(0, 100)
        ));
        *per_user.entry(user).or_insert(0) += 1;
    }
    std::fs::write(dir.join("tx.jsonl"), text).expect("input");
    per_user
}

/// Run `select` (its rows: `user`, `ws`, `we`, `c`) over table `tx`, whose
/// `pt` is its processing time, reading 2000 rows a second; the rows it
/// wrote, and the wall-clock time around the run.
fn run(dir: &Path, name: &str, select: &str) -> (Vec<Value>, i64, i64) {
    let script = dir.join(format!("{name}.sql"));
    std::fs::write(
        &script,
        format!(
            "CREATE TABLE tx (ts BIGINT, `user` STRING, amount DOUBLE, pt AS PROCTIME())
  WITH ('connector' = 'filesystem', 'path' = 'tx.jsonl', 'format' = 'json');
CREATE TABLE out_rows (`user` STRING, ws BIGINT, we BIGINT, c BIGINT)
  WITH ('connector' = 'filesystem', 'path' = '{name}.out.jsonl', 'format' = 'json');
INSERT INTO out_rows {select};
"
        ),
    )
    .expect("script");
    let before = now_ms();
    let run = weir_e2e::weir_in(
        dir,
        &[
            "sql",
            "-q",
            "--set",
            "source.rate=2000",
            "--set",
            "batch_size=100",
            script.to_str().expect("utf-8"),
        ],
    );
    let after = now_ms();
    assert!(run.output.status.success(), "{name}: {}", run.stderr());
    (lines(&dir.join(format!("{name}.out.jsonl"))), before, after)
}

/// Check `rows` of windows `size` long every `slide` against `per_user`:
/// each row counted in `size / slide` windows.
fn check(
    what: &str,
    (rows, before, after): (Vec<Value>, i64, i64),
    (size, slide): (i64, i64),
    per_user: &BTreeMap<String, u64>,
) {
    let mut counted: BTreeMap<String, u64> = BTreeMap::new();
    let mut windows = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for r in &rows {
        let user = r["user"].as_str().expect("user").to_string();
        let (ws, we) = (r["ws"].as_i64().expect("ws"), r["we"].as_i64().expect("we"));
        assert_eq!(we - ws, size, "{what}: {r}");
        assert_eq!(ws.rem_euclid(slide), 0, "{what}: {r}");
        // The window holds a moment of the run.
        assert!(
            we > before && ws <= after,
            "{what}: {r} is not within the run ({before}..{after})"
        );
        assert!(seen.insert((user.clone(), ws)), "{what}: {r} twice");
        *counted.entry(user).or_insert(0) += r["c"].as_u64().expect("c");
        windows.insert(ws);
    }
    let want: BTreeMap<String, u64> = per_user
        .iter()
        .map(|(u, n)| (u.clone(), n * (size / slide) as u64))
        .collect();
    assert_eq!(counted, want, "{what}: rows counted per user");
    // About 2 s of reading: rows in at least two windows of a second.
    assert!(windows.len() >= 2, "{what}: windows {windows:?}");
}

#[test]
fn tumbling_and_hopping_windows_over_processing_time_count_every_row_as_their_kind_says() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let per_user = input(d, 4_000);
    let tvf = run(
        d,
        "tumble",
        "SELECT `user`, CAST(window_start AS BIGINT), CAST(window_end AS BIGINT), COUNT(*)
FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(pt), INTERVAL '1' SECOND))
GROUP BY window_start, window_end, `user`",
    );
    check("TUMBLE", tvf, (1_000, 1_000), &per_user);
    // Flink's group window form, as Nexmark's q12 writes it.
    let group = run(
        d,
        "group",
        "SELECT `user`, CAST(TUMBLE_START(pt, INTERVAL '1' SECOND) AS BIGINT),
  CAST(TUMBLE_END(pt, INTERVAL '1' SECOND) AS BIGINT), COUNT(*)
FROM tx GROUP BY `user`, TUMBLE(pt, INTERVAL '1' SECOND)",
    );
    check("group TUMBLE", group, (1_000, 1_000), &per_user);
    let hop = run(
        d,
        "hop",
        "SELECT `user`, CAST(window_start AS BIGINT), CAST(window_end AS BIGINT), COUNT(*)
FROM TABLE(HOP(TABLE tx, DESCRIPTOR(pt), INTERVAL '500' MILLISECOND, INTERVAL '1' SECOND))
GROUP BY window_start, window_end, `user`",
    );
    check("HOP", hop, (1_000, 500), &per_user);
}

/// Nexmark's q12 as `examples/nexmark/q12.sql` writes it, over fewer
/// bids and into a file: every bid is counted once, in windows of 10 s.
#[test]
fn nexmark_q12_counts_every_bid_once_in_ten_second_windows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let bids = 200_000;
    let text = std::fs::read_to_string(weir_e2e::repo().join("examples/nexmark/q12.sql"))
        .expect("q12.sql");
    let text = text
        .replace(
            "'number-of-rows' = '9200000'",
            &format!("'number-of-rows' = '{bids}'"),
        )
        .replace(
            "'connector' = 'blackhole'",
            "'connector' = 'filesystem', 'path' = 'q12.out.jsonl', 'format' = 'json'",
        );
    assert!(text.contains(&format!("'{bids}'")) && text.contains("q12.out.jsonl"));
    std::fs::write(d.join("q12.sql"), text).expect("script");
    let run = weir_e2e::weir_in(d, &["sql", "-q", "q12.sql"]);
    assert!(run.output.status.success(), "{}", run.stderr());
    let rows = lines(&d.join("q12.out.jsonl"));
    let mut seen = BTreeSet::new();
    let mut counted = 0;
    for r in &rows {
        let (start, end) = (
            r["starttime"].as_str().expect("starttime"),
            r["endtime"].as_str().expect("endtime"),
        );
        // `yyyy-mm-dd hh:mm:s0` to `… hh:mm:(s+1)0`, or across a minute.
        assert!(start.ends_with('0') && end.ends_with('0'), "{r}");
        assert!(
            seen.insert((r["bidder"].as_i64().expect("bidder"), start.to_string())),
            "{r} twice"
        );
        counted += r["bid_count"].as_u64().expect("bid_count");
    }
    assert_eq!(counted, bids, "bids counted");
}

/// `OVER (PARTITION BY user ORDER BY pt ROWS BETWEEN 2 PRECEDING AND
/// CURRENT ROW)` over a processing time: each row goes out as it comes,
/// with the sum and count of its user's last three rows in the order they
/// came — the file's order, which the model follows (it shares no code
/// with weir). At parallelism 1 and 2 (one reader: a user's rows keep
/// their order across the exchange), in batches that share a millisecond.
#[test]
fn an_over_window_ordered_by_processing_time_takes_rows_in_the_order_they_come() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    input(d, 3_000);
    let text = std::fs::read_to_string(d.join("tx.jsonl")).expect("input");
    // The model: per user, in file order, the last three amounts.
    let mut last: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut want: Vec<(i64, f64, u64)> = Vec::new();
    for l in text.lines() {
        let r: Value = serde_json::from_str(l).expect("json");
        let user = r["user"].as_str().expect("user").to_string();
        let frame = last.entry(user).or_default();
        frame.push(r["amount"].as_f64().expect("amount"));
        if frame.len() > 3 {
            frame.remove(0);
        }
        want.push((
            r["ts"].as_i64().expect("ts"),
            frame.iter().sum(),
            frame.len() as u64,
        ));
    }
    std::fs::write(
        d.join("over.sql"),
        "CREATE TABLE tx (ts BIGINT, `user` STRING, amount DOUBLE, pt AS PROCTIME())
  WITH ('connector' = 'filesystem', 'path' = 'tx.jsonl', 'format' = 'json');
CREATE TABLE out_rows (ts BIGINT, `user` STRING, s DOUBLE, c BIGINT)
  WITH ('connector' = 'filesystem', 'path' = 'over.out.jsonl', 'format' = 'json');
INSERT INTO out_rows SELECT ts, `user`,
  SUM(amount) OVER w, COUNT(*) OVER w
FROM tx WINDOW w AS (PARTITION BY `user` ORDER BY pt ROWS BETWEEN 2 PRECEDING AND CURRENT ROW);
",
    )
    .expect("script");
    for parallelism in ["1", "2"] {
        let run = weir_e2e::weir_in(
            d,
            &[
                "sql",
                "-q",
                "--fresh",
                "--set",
                &format!("parallelism={parallelism}"),
                "--set",
                "batch_size=7",
                "over.sql",
            ],
        );
        assert!(run.output.status.success(), "{}", run.stderr());
        let mut got: Vec<(i64, f64, u64)> = lines(&d.join("over.out.jsonl"))
            .iter()
            .map(|r| {
                (
                    r["ts"].as_i64().expect("ts"),
                    r["s"].as_f64().expect("s"),
                    r["c"].as_u64().expect("c"),
                )
            })
            .collect();
        got.sort_by_key(|r| r.0);
        assert_eq!(got, want, "parallelism {parallelism}");
    }
}
