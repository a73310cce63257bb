//! Stages that read a changelog — MIN and MAX of an aggregation's
//! results, a Top-N of them — killed with SIGKILL again and again after
//! their checkpoints (at least 10 kills, each after the run published
//! rows): the table they leave is what an independent model computes
//! from the input.

use serde_json::Value;
use std::collections::BTreeMap;
use weir_e2e::rows::{by_value, final_table, rows};

/// MIN and MAX of an aggregation's changelog (per transaction count: the
/// least and greatest total of the users who have it), in RocksDB at
/// parallelism 2, killed with SIGKILL again and again after its
/// checkpoints: each count's totals, kept with their counts so that a
/// user's old total can leave its old group, go through every checkpoint,
/// and the table it leaves is the model's (every retraction takes back a
/// row the table has: `final_table` checks).
#[test]
fn min_and_max_of_a_changelog_killed_at_random_moments_leave_the_models_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let mut rng = weir_e2e::TestRng::from_env();
    let mut input = String::new();
    let mut per_user: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for i in 0..16_000 {
        let user = format!("u{}", rng.between(0, 300));
        let amount = rng.between(0, 1000) as i64 - 200;
        input.push_str(&format!(
            "{{\"id\":{i},\"user\":\"{user}\",\"amount\":{amount}}}\n"
        ));
        let u = per_user.entry(user).or_default();
        u.0 += 1;
        u.1 += amount;
    }
    std::fs::write(d.join("tx.jsonl"), input).expect("input");
    // The model: each count's users, least and greatest total.
    let mut per_count: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for (cnt, total) in per_user.values() {
        per_count.entry(*cnt).or_default().push(*total);
    }
    let mut want: Vec<String> = per_count
        .iter()
        .map(|(cnt, totals)| {
            by_value(serde_json::json!({
                "cnt": cnt,
                "users": totals.len(),
                "least": totals.iter().min(),
                "most": totals.iter().max(),
            }))
            .to_string()
        })
        .collect();
    std::fs::write(
        d.join("minmax.sql"),
        "SET 'parallelism.default' = '2';
         SET 'execution.checkpointing.interval' = '100 ms';
         SET 'state.backend.type' = 'rocksdb';
         CREATE TABLE tx (id BIGINT, `user` STRING, amount BIGINT)
           WITH ('connector' = 'filesystem', 'path' = 'tx.jsonl', 'format' = 'json');
         CREATE TABLE out_rows (cnt BIGINT, users BIGINT, least BIGINT, most BIGINT)
           WITH ('connector' = 'filesystem', 'path' = 'out.jsonl', 'format' = 'debezium-json');
         INSERT INTO out_rows
         SELECT cnt, COUNT(*), MIN(total), MAX(total) FROM (
           SELECT `user`, COUNT(*) AS cnt, SUM(amount) AS total FROM tx GROUP BY `user`
         ) per_user GROUP BY cnt;",
    )
    .expect("script");
    let kills = weir_e2e::crash::kill_sql_script(d, "minmax.sql", &["--set", "batch_size=50"]);
    let changes = rows(&d.join("out.jsonl"), 0);
    let mut got: Vec<String> = final_table(&changes).iter().map(Value::to_string).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "the table after {kills} kills vs the model's");
}

/// A Top-N of an aggregation (per category, the three users with the
/// largest total, with their place) at parallelism 2, killed with SIGKILL
/// again and again after its checkpoints: every user's row of a category
/// is kept (a total can shrink, so a user that fell behind comes back),
/// goes through every checkpoint, and the table the changelog leaves is
/// the model's. Ties in the total go to the user first by name.
#[test]
fn a_top_n_of_an_aggregation_killed_at_random_moments_leaves_the_models_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let mut rng = weir_e2e::TestRng::from_env();
    let mut input = String::new();
    let mut totals: BTreeMap<(String, String), i64> = BTreeMap::new();
    for i in 0..16_000 {
        let user = format!("u{}", rng.between(0, 60));
        let cat = format!("c{}", rng.between(0, 4));
        // Totals go up and down: rows leave the top and come back.
        let amount = rng.between(0, 1000) as i64 - 450;
        input.push_str(&format!(
            "{{\"id\":{i},\"user\":\"{user}\",\"cat\":\"{cat}\",\"amount\":{amount}}}\n"
        ));
        *totals.entry((cat, user)).or_default() += amount;
    }
    std::fs::write(d.join("tx.jsonl"), input).expect("input");
    let mut per_cat: BTreeMap<&str, Vec<(i64, &str)>> = BTreeMap::new();
    for ((cat, user), total) in &totals {
        per_cat.entry(cat).or_default().push((*total, user));
    }
    let mut want: Vec<String> = Vec::new();
    for (cat, mut users) in per_cat {
        // The largest total first; of two equal, the user first by name.
        users.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        for (place, (total, user)) in users.iter().take(3).enumerate() {
            want.push(
                by_value(serde_json::json!({
                    "cat": cat, "user": user, "total": total, "rn": place + 1,
                }))
                .to_string(),
            );
        }
    }
    std::fs::write(
        d.join("top.sql"),
        "SET 'parallelism.default' = '2';
         SET 'execution.checkpointing.interval' = '100 ms';
         CREATE TABLE tx (id BIGINT, `user` STRING, cat STRING, amount BIGINT)
           WITH ('connector' = 'filesystem', 'path' = 'tx.jsonl', 'format' = 'json');
         CREATE TABLE out_rows (cat STRING, `user` STRING, total BIGINT, rn BIGINT)
           WITH ('connector' = 'filesystem', 'path' = 'out.jsonl', 'format' = 'debezium-json');
         INSERT INTO out_rows
         SELECT cat, `user`, total, rn FROM (
           SELECT *, ROW_NUMBER() OVER (PARTITION BY cat ORDER BY total DESC, `user`) AS rn
           FROM (SELECT cat, `user`, SUM(amount) AS total FROM tx GROUP BY cat, `user`)
         ) WHERE rn <= 3;",
    )
    .expect("script");
    let kills = weir_e2e::crash::kill_sql_script(d, "top.sql", &["--set", "batch_size=50"]);
    let changes = rows(&d.join("out.jsonl"), 0);
    let mut got: Vec<String> = final_table(&changes).iter().map(Value::to_string).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "the table after {kills} kills vs the model's");
}
