//! SQL jobs killed with SIGKILL again and again after their checkpoints
//! (at least 10 kills, each after the run published rows): what they
//! wrote in the end is what an independent model computes from the input.
//! Among them, a Wasm aggregate function over session windows and
//! without a window.

use serde_json::Value;
use std::collections::BTreeMap;
use weir_e2e::rows::{by_value, final_table, rows};

/// An OVER query (each transaction with the sum and count of its user's
/// last four) killed with SIGKILL again and again after its checkpoints:
/// its rows waiting for the watermark and its frames go through every
/// checkpoint, and what it wrote in the end is exactly the rows an
/// independent model computes from the input, each once.
#[test]
fn an_over_query_killed_at_random_moments_writes_the_models_rows_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // In time order, 50 ms apart, 40 users.
    let rows = 16_000;
    let mut input = String::new();
    let mut expected: Vec<Value> = Vec::new();
    let mut last: std::collections::BTreeMap<String, Vec<i64>> = Default::default();
    let mut rng = weir_e2e::TestRng::from_env();
    for i in 0..rows {
        let ms = 50 * i as u64;
        let ts = format!(
            "2024-01-01 {:02}:{:02}:{:02}.{:03}",
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        );
        // As Flink writes a TIMESTAMP(3): no trailing zeros in the fraction.
        let written = ts.trim_end_matches('0').trim_end_matches('.').to_string();
        let user = format!("u{}", rng.between(0, 40));
        let amount = rng.between(0, 1000) as i64 - 200;
        input.push_str(&format!(
            "{{\"ts\":\"{ts}\",\"user\":\"{user}\",\"amount\":{amount}}}\n"
        ));
        let frame = last.entry(user.clone()).or_default();
        frame.push(amount);
        if frame.len() > 4 {
            frame.remove(0);
        }
        expected.push(serde_json::json!({
            "ts": written, "user": user, "amount": amount,
            "last4": frame.iter().sum::<i64>(), "n": frame.len(),
        }));
    }
    std::fs::write(d.join("tx.jsonl"), input).expect("input");
    std::fs::write(
        d.join("over.sql"),
        "SET 'parallelism.default' = '2';
         SET 'execution.checkpointing.interval' = '100 ms';
         CREATE TABLE tx (ts TIMESTAMP(3), `user` STRING, amount INT,
           WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
           WITH ('connector' = 'filesystem', 'path' = 'tx.jsonl', 'format' = 'json');
         CREATE TABLE out_rows (ts TIMESTAMP(3), `user` STRING, amount INT, last4 INT, n BIGINT)
           WITH ('connector' = 'filesystem', 'path' = 'out.jsonl', 'format' = 'json');
         INSERT INTO out_rows
         SELECT ts, `user`, amount, SUM(amount) OVER w, COUNT(*) OVER w FROM tx
         WINDOW w AS (PARTITION BY `user` ORDER BY ts ROWS BETWEEN 3 PRECEDING AND CURRENT ROW);",
    )
    .expect("script");
    // Each kill lands after the run published rows: after a checkpoint
    // that held frames and waiting rows.
    let kills = weir_e2e::crash::kill_sql_script(d, "over.sql", &[]);
    let text = std::fs::read_to_string(d.join("out.jsonl")).expect("output");
    let mut got: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json").to_string())
        .collect();
    let mut want: Vec<String> = expected.iter().map(Value::to_string).collect();
    got.sort();
    want.sort();
    assert_eq!(
        got.len(),
        want.len(),
        "rows after {kills} kills vs the model's"
    );
    let first = got.iter().zip(&want).position(|(g, w)| g != w);
    assert!(
        first.is_none(),
        "after {kills} kills the rows differ from the model's: weir {}, model {}",
        got[first.unwrap_or(0)],
        want[first.unwrap_or(0)]
    );
}

/// A Top-N query (each user's three largest amounts, with their place)
/// killed with SIGKILL again and again after its checkpoints: its kept
/// rows go through every checkpoint, and the table its changelog leaves
/// is the one an independent model computes from the input (of two equal
/// amounts, the earlier keeps the better place, as in Flink).
#[test]
fn a_top_n_query_killed_at_random_moments_leaves_the_models_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let records = 16_000;
    let mut input = String::new();
    let mut top: std::collections::BTreeMap<String, Vec<(i64, usize)>> = Default::default();
    let mut rng = weir_e2e::TestRng::from_env();
    for i in 0..records {
        let user = format!("u{}", rng.between(0, 40));
        // Few values near the top: ties.
        let amount = rng.between(0, 1000) as i64;
        input.push_str(&format!(
            "{{\"id\":{i},\"user\":\"{user}\",\"amount\":{amount}}}\n"
        ));
        let t = top.entry(user).or_default();
        t.push((amount, i));
        // Greatest first; of equal amounts, the earlier.
        t.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        t.truncate(3);
    }
    let mut want: Vec<String> = top
        .iter()
        .flat_map(|(user, t)| {
            t.iter().enumerate().map(move |(place, (amount, id))| {
                by_value(
                    serde_json::json!({"id": id, "user": user, "amount": amount, "rn": place + 1}),
                )
                .to_string()
            })
        })
        .collect();
    std::fs::write(d.join("tx.jsonl"), input).expect("input");
    std::fs::write(
        d.join("top.sql"),
        "SET 'parallelism.default' = '2';
         SET 'execution.checkpointing.interval' = '100 ms';
         CREATE TABLE tx (id BIGINT, `user` STRING, amount BIGINT)
           WITH ('connector' = 'filesystem', 'path' = 'tx.jsonl', 'format' = 'json');
         CREATE TABLE out_rows (id BIGINT, `user` STRING, amount BIGINT, rn BIGINT)
           WITH ('connector' = 'filesystem', 'path' = 'out.jsonl', 'format' = 'debezium-json');
         INSERT INTO out_rows
         SELECT id, `user`, amount, rn FROM (
           SELECT *, ROW_NUMBER() OVER (PARTITION BY `user` ORDER BY amount DESC) AS rn FROM tx
         ) WHERE rn <= 3;",
    )
    .expect("script");
    // Each kill lands after the run published rows: after a checkpoint
    // that held kept rows.
    let kills = weir_e2e::crash::kill_sql_script(d, "top.sql", &["--set", "batch_size=50"]);
    let changes = rows(&d.join("out.jsonl"), 0);
    // Every retraction retracts a row the table has (`final_table` checks).
    let mut got: Vec<String> = final_table(&changes).iter().map(Value::to_string).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "the table after {kills} kills vs the model's");
}

/// A regular join (each transaction with every later one of the same
/// key, a self-join without time bounds) killed with SIGKILL again and
/// again after its checkpoints: both sides' kept rows go through every
/// checkpoint, and it wrote in the end every pair the model finds, each
/// once.
#[test]
fn a_regular_join_killed_at_random_moments_writes_every_pair_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let records = 16_000;
    let mut input = String::new();
    let mut by_key: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    let mut rng = weir_e2e::TestRng::from_env();
    for i in 0..records {
        let k = format!("k{}", rng.between(0, 1_600));
        input.push_str(&format!("{{\"id\":{i},\"k\":\"{k}\"}}\n"));
        by_key.entry(k).or_default().push(i);
    }
    let mut want: Vec<String> = Vec::new();
    for (k, ids) in &by_key {
        for (n, a) in ids.iter().enumerate() {
            for b in &ids[n + 1..] {
                want.push(by_value(serde_json::json!({"a": a, "b": b, "k": k})).to_string());
            }
        }
    }
    std::fs::write(d.join("tx.jsonl"), input).expect("input");
    std::fs::write(
        d.join("pairs.sql"),
        "SET 'parallelism.default' = '2';
         SET 'execution.checkpointing.interval' = '100 ms';
         CREATE TABLE tx (id BIGINT, k STRING)
           WITH ('connector' = 'filesystem', 'path' = 'tx.jsonl', 'format' = 'json');
         CREATE TABLE out_rows (a BIGINT, b BIGINT, k STRING)
           WITH ('connector' = 'filesystem', 'path' = 'out.jsonl', 'format' = 'json');
         INSERT INTO out_rows
         SELECT x.id, y.id, x.k FROM tx x JOIN tx y ON x.k = y.k WHERE x.id < y.id;",
    )
    .expect("script");
    let kills = weir_e2e::crash::kill_sql_script(d, "pairs.sql", &["--set", "batch_size=50"]);
    let mut got: Vec<String> = rows(&d.join("out.jsonl"), 0)
        .into_iter()
        .map(|v| by_value(v).to_string())
        .collect();
    got.sort();
    want.sort();
    assert_eq!(
        got.len(),
        want.len(),
        "pairs after {kills} kills vs the model's"
    );
    assert_eq!(got, want, "the pairs after {kills} kills vs the model's");
}

/// A FULL OUTER join of two tables killed with SIGKILL again and again
/// after its checkpoints: both sides' rows, and which of them ever had a
/// partner, go through every checkpoint. The table its changelog leaves
/// is the model's: every pair of a key both tables have, and each row of
/// a key only one has, padded with NULLs; every retraction of a padded
/// row retracts one the table has (a row padded again after a restore, or
/// retracted twice, would fail).
#[test]
fn a_full_outer_join_killed_at_random_moments_leaves_the_models_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let records = 12_000;
    let mut rng = weir_e2e::TestRng::from_env();
    // Keys 0..2000 on the left, 1000..3000 on the right.
    let mut sides: [std::collections::BTreeMap<u64, Vec<usize>>; 2] = Default::default();
    for (i, (file, base)) in [("a.jsonl", 0), ("b.jsonl", 1000)].into_iter().enumerate() {
        let mut input = String::new();
        for id in 0..records {
            let k = base + rng.between(0, 2000);
            input.push_str(&format!("{{\"id\":{id},\"k\":\"k{k}\"}}\n"));
            sides[i].entry(k).or_default().push(id);
        }
        std::fs::write(d.join(file), input).expect("input");
    }
    let row = |a: Option<usize>, b: Option<usize>, k: u64| {
        let (ka, kb) = (a.map(|_| format!("k{k}")), b.map(|_| format!("k{k}")));
        by_value(serde_json::json!({"a": a, "ka": ka, "b": b, "kb": kb})).to_string()
    };
    let mut want: Vec<String> = Vec::new();
    let empty = Vec::new();
    for k in 0..3000u64 {
        let (l, r) = (
            sides[0].get(&k).unwrap_or(&empty),
            sides[1].get(&k).unwrap_or(&empty),
        );
        match (l.is_empty(), r.is_empty()) {
            (false, false) => {
                for a in l {
                    for b in r {
                        want.push(row(Some(*a), Some(*b), k));
                    }
                }
            }
            (false, true) => want.extend(l.iter().map(|a| row(Some(*a), None, k))),
            (true, false) => want.extend(r.iter().map(|b| row(None, Some(*b), k))),
            (true, true) => {}
        }
    }
    std::fs::write(
        d.join("full.sql"),
        "SET 'parallelism.default' = '2';
         SET 'execution.checkpointing.interval' = '100 ms';
         CREATE TABLE a (id BIGINT, k STRING)
           WITH ('connector' = 'filesystem', 'path' = 'a.jsonl', 'format' = 'json');
         CREATE TABLE b (id BIGINT, k STRING)
           WITH ('connector' = 'filesystem', 'path' = 'b.jsonl', 'format' = 'json');
         CREATE TABLE out_rows (a BIGINT, ka STRING, b BIGINT, kb STRING)
           WITH ('connector' = 'filesystem', 'path' = 'out.jsonl', 'format' = 'debezium-json');
         INSERT INTO out_rows
         SELECT a.id, a.k, b.id, b.k FROM a FULL OUTER JOIN b ON a.k = b.k;",
    )
    .expect("script");
    let kills = weir_e2e::crash::kill_sql_script(d, "full.sql", &["--set", "batch_size=50"]);
    let changes = rows(&d.join("out.jsonl"), 0);
    // Retractions happened: rows were padded, then paired.
    assert!(
        changes.iter().any(|c| c["op"] == "d"),
        "no padded row was ever retracted"
    );
    let mut got: Vec<String> = final_table(&changes)
        .into_iter()
        .map(|v| by_value(v).to_string())
        .collect();
    got.sort();
    want.sort();
    assert_eq!(
        got.len(),
        want.len(),
        "rows after {kills} kills vs the model's"
    );
    assert_eq!(got, want, "the table after {kills} kills vs the model's");
}

/// Run `script` in `d` (which calls the `wavg-columns` aggregate function,
/// built first so that a restart takes no build time), 2000 rows a second
/// with `extra` settings, killing it with SIGKILL after each time its
/// `out.jsonl` grew, at least 10 times; then let it finish. The kills.
fn kill_wavg_script(d: &std::path::Path, script: &str, extra: &[&str]) -> usize {
    let built = weir_e2e::weir(&["build", &weir_e2e::operator("wavg-columns")]);
    assert!(built.output.status.success(), "{}", built.stderr());
    weir_e2e::crash::kill_sql_script(d, script, extra)
}

/// A Wasm aggregate function beside COUNT(*) over session windows, at
/// parallelism 2, killed with SIGKILL again and again after its
/// checkpoints: the sessions' accumulators (the function's bytes and the
/// built-ins' numbers, in one slot) go through every checkpoint and
/// merge across them, and what it wrote in the end is exactly the model's
/// sessions, each once. Amounts and weights are whole numbers, so the
/// sums are exact in any order of merging.
#[test]
fn an_aggregate_function_over_sessions_killed_at_random_moments_writes_the_models_rows_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // In time order, 50 ms apart, 30 users; a session ends after more
    // than 5 s without a row of its user.
    let rows = 12_000u64;
    let base = 1_700_000_000_000i64;
    let mut rng = weir_e2e::TestRng::from_env();
    let mut input = String::new();
    let mut per_user: BTreeMap<String, Vec<(i64, i64, i64)>> = BTreeMap::new();
    for i in 0..rows {
        let ts = base + 50 * i as i64;
        let user = format!("u{}", rng.between(0, 30));
        let amount = rng.between(0, 1000) as i64 - 200;
        let n = rng.between(1, 6) as i64;
        input.push_str(&format!(
            "{{\"ts\":{ts},\"user\":\"{user}\",\"amount\":{amount},\"merchant\":\"m\",\"n\":{n},\"flag\":true}}\n"
        ));
        per_user.entry(user).or_default().push((ts, amount, n));
    }
    std::fs::write(d.join("tx.jsonl"), input).expect("input");
    // (user, start, end, count) → the weighted average.
    let mut want: BTreeMap<(String, i64, i64, u64), f64> = BTreeMap::new();
    for (user, rows) in &per_user {
        let mut sessions: Vec<Vec<(i64, i64, i64)>> = Vec::new();
        for &r in rows {
            match sessions.last_mut() {
                // As in Flink, windows [a, a + gap) and [a + gap, …) touch,
                // and merge.
                Some(s) if r.0 <= s.last().expect("a row").0 + 5_000 => s.push(r),
                _ => sessions.push(vec![r]),
            }
        }
        for s in sessions {
            let weighted: i64 = s.iter().map(|r| r.1 * r.2).sum();
            let weights: i64 = s.iter().map(|r| r.2).sum();
            want.insert(
                (
                    user.clone(),
                    s[0].0,
                    s[s.len() - 1].0 + 5_000,
                    s.len() as u64,
                ),
                weighted as f64 / weights as f64,
            );
        }
    }
    std::fs::write(
        d.join("sessions.sql"),
        format!(
            "SET 'parallelism.default' = '2';
SET 'execution.checkpointing.interval' = '100 ms';
CREATE FUNCTION wavg AS '{}' LANGUAGE WASM;
CREATE TABLE tx (ts BIGINT, `user` STRING, amount DOUBLE, merchant STRING, n INT, flag BOOLEAN,
  t AS TO_TIMESTAMP_LTZ(ts, 3), WATERMARK FOR t AS t - INTERVAL '1' SECOND)
  WITH ('connector' = 'filesystem', 'path' = 'tx.jsonl', 'format' = 'json');
CREATE TABLE out_rows (`user` STRING, ws BIGINT, we BIGINT, c BIGINT, w DOUBLE)
  WITH ('connector' = 'filesystem', 'path' = 'out.jsonl', 'format' = 'json');
INSERT INTO out_rows
SELECT `user`, CAST(window_start AS BIGINT), CAST(window_end AS BIGINT), COUNT(*), wavg(amount, n)
FROM TABLE(SESSION(TABLE tx PARTITION BY `user`, DESCRIPTOR(t), INTERVAL '5' SECOND))
GROUP BY window_start, window_end, `user`;
",
            weir_e2e::operator("wavg-columns")
        ),
    )
    .expect("script");
    let kills = kill_wavg_script(d, "sessions.sql", &[]);
    let mut got: BTreeMap<(String, i64, i64, u64), f64> = BTreeMap::new();
    for r in weir_e2e::sql_tier::lines(&d.join("out.jsonl")) {
        let k = (
            r["user"].as_str().expect("user").to_string(),
            r["ws"].as_i64().expect("ws"),
            r["we"].as_i64().expect("we"),
            r["c"].as_u64().expect("c"),
        );
        let w = r["w"].as_f64().expect("w");
        assert!(
            got.insert(k.clone(), w).is_none(),
            "{k:?} twice after {kills} kills"
        );
    }
    assert!(want.len() > 300, "{}", want.len());
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "sessions after {kills} kills vs the model's"
    );
    // (serde_json reads a double to within an ulp.)
    for (k, w) in &want {
        assert!(
            (got[k] - w).abs() <= 1e-12 * w.abs().max(1.0),
            "after {kills} kills, {k:?}: weir {}, model {w}",
            got[k]
        );
    }
}

/// A Wasm aggregate function beside COUNT(*) without a window (`GROUP BY
/// user`, a global window), at parallelism 2 with its state in RocksDB,
/// killed with SIGKILL again and again after its checkpoints: each user's
/// accumulator (the function's bytes beside the count) goes through every
/// checkpoint, every update after a restore takes back the row the table
/// has, and the table left in the end is the model's. Whole amounts and
/// weights: the sums are exact.
#[test]
fn an_aggregate_function_without_a_window_killed_at_random_moments_leaves_the_models_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let records = 12_000u64;
    let mut rng = weir_e2e::TestRng::from_env();
    let mut input = String::new();
    let mut per_user: BTreeMap<String, (u64, i64, i64)> = BTreeMap::new();
    for i in 0..records {
        let user = format!("u{}", rng.between(0, 40));
        let amount = rng.between(0, 1000) as i64 - 200;
        let n = rng.between(1, 6) as i64;
        input.push_str(&format!(
            "{{\"ts\":{i},\"user\":\"{user}\",\"amount\":{amount},\"n\":{n}}}\n"
        ));
        let u = per_user.entry(user).or_default();
        u.0 += 1;
        u.1 += amount * n;
        u.2 += n;
    }
    std::fs::write(d.join("tx.jsonl"), input).expect("input");
    std::fs::write(
        d.join("totals.sql"),
        format!(
            "SET 'parallelism.default' = '2';
SET 'execution.checkpointing.interval' = '100 ms';
CREATE FUNCTION wavg AS '{}' LANGUAGE WASM;
CREATE TABLE tx (ts BIGINT, `user` STRING, amount DOUBLE, n INT)
  WITH ('connector' = 'filesystem', 'path' = 'tx.jsonl', 'format' = 'json');
CREATE TABLE out_rows (`user` STRING, c BIGINT, w DOUBLE)
  WITH ('connector' = 'filesystem', 'path' = 'out.jsonl', 'format' = 'debezium-json');
INSERT INTO out_rows SELECT `user`, COUNT(*), wavg(amount, n) FROM tx GROUP BY `user`;
",
            weir_e2e::operator("wavg-columns")
        ),
    )
    .expect("script");
    let kills = kill_wavg_script(
        d,
        "totals.sql",
        &["--set", "state.backend=rocksdb", "--set", "batch_size=50"],
    );
    // (final_table panics at a change that takes back a row the table
    // does not have: one written twice, or lost.)
    let table = final_table(&weir_e2e::sql_tier::lines(&d.join("out.jsonl")));
    let got: BTreeMap<String, (u64, f64)> = table
        .iter()
        .map(|r| {
            (
                r["user"].as_str().expect("user").to_string(),
                (r["c"].as_u64().expect("c"), r["w"].as_f64().expect("w")),
            )
        })
        .collect();
    assert_eq!(got.len(), table.len(), "a user twice after {kills} kills");
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        per_user.keys().collect::<Vec<_>>(),
        "users after {kills} kills"
    );
    for (user, &(c, weighted, weights)) in &per_user {
        let w = weighted as f64 / weights as f64;
        assert_eq!(got[user].0, c, "after {kills} kills, {user}'s count");
        assert!(
            (got[user].1 - w).abs() <= 1e-12 * w.abs().max(1.0),
            "after {kills} kills, {user}: weir {}, model {w}",
            got[user].1
        );
    }
}
