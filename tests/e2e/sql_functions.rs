//! Wasm scalar functions in SQL (`CREATE FUNCTION f AS 'project' LANGUAGE
//! WASM`), built from source by the test (`tests/operators/tier-v1`,
//! `tier-v2`): called in a projection and a filter, their rows checked
//! against a model written here (it shares no code with weir); refused
//! when they cannot be called as written (arity, types, language); called
//! in an aggregation and a Top-N, before and after the stateful stage; a
//! row they reject fails the job with their reason. Their live swaps:
//! `sql_swaps.rs`.

use serde_json::Value;
use weir_e2e::rows::final_table;
use weir_e2e::sql_tier::{lines, script, tier_v1, tier_v2};
use weir_e2e::{operator, repo, weir};

#[test]
fn a_wasm_function_in_a_projection_and_a_filter_gives_the_models_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = script(
        dir.path(),
        "tiers",
        "CREATE FUNCTION tier AS '{tier}' LANGUAGE WASM;
CREATE TABLE out_rows (`user` STRING, t STRING, amount DOUBLE)
  WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');
INSERT INTO out_rows
SELECT `user`, TIER(amount, `user`) AS t, amount FROM tx
WHERE amount >= 0 AND (tier(amount, `user`) <> CONCAT(`user`, ':small') OR amount < 20);
",
        None,
    );
    let run = weir(&["sql", "-q", path.to_str().expect("utf-8")]);
    assert!(run.output.status.success(), "{}", run.stderr());
    let got = lines(&dir.path().join("tiers.out.jsonl"));

    // The model: SQL's three-valued logic over the input, row by row.
    let input = lines(&repo().join("tests/sql/conformance/input/tx.jsonl"));
    let mut want = Vec::new();
    for r in &input {
        let user = r["user"].as_str().expect("user");
        let Some(amount) = r["amount"].as_f64() else {
            continue; // NULL >= 0 is not true
        };
        if amount < 0.0 {
            continue;
        }
        let t = tier_v1(amount, user);
        if t != format!("{user}:small") || amount < 20.0 {
            want.push(serde_json::json!({"user": user, "t": t, "amount": amount}));
        }
    }
    assert!(
        want.len() > 50 && want.len() < input.len(),
        "{}",
        want.len()
    );
    let by_value = |v: &Value| {
        let mut v = v.clone();
        v["amount"] = serde_json::json!(v["amount"].as_f64());
        v
    };
    let got: Vec<Value> = got.iter().map(by_value).collect();
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "row {i}");
    }
}

#[test]
fn a_wasm_function_is_not_called_for_a_null_argument_and_its_row_is_null() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = script(
        dir.path(),
        "nulls",
        "CREATE FUNCTION tier AS '{tier}' LANGUAGE WASM;
CREATE TABLE out_rows (ts BIGINT, t STRING)
  WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');
INSERT INTO out_rows SELECT ts, tier(amount, `user`) FROM tx WHERE amount IS NULL OR amount >= 0;
",
        None,
    );
    let run = weir(&["sql", "-q", path.to_str().expect("utf-8")]);
    assert!(run.output.status.success(), "{}", run.stderr());
    let got = lines(&dir.path().join("nulls.out.jsonl"));
    let input = lines(&repo().join("tests/sql/conformance/input/tx.jsonl"));
    let want: Vec<Value> = input
        .iter()
        .filter(|r| r["amount"].as_f64().is_none_or(|a| a >= 0.0))
        .map(|r| {
            let t = r["amount"]
                .as_f64()
                .map(|a| tier_v1(a, r["user"].as_str().expect("user")));
            serde_json::json!({"ts": r["ts"], "t": t})
        })
        .collect();
    assert!(
        want.iter().any(|r| r["t"].is_null()),
        "the input has NULL amounts"
    );
    assert_eq!(got, want);
}

#[test]
fn a_row_the_function_rejects_fails_the_job_with_its_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = script(
        dir.path(),
        "negative",
        "CREATE FUNCTION tier AS '{tier}' LANGUAGE WASM;
CREATE TABLE out_rows (t STRING)
  WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');
INSERT INTO out_rows SELECT tier(amount, `user`) FROM tx;
",
        None,
    );
    let err = weir(&["sql", "-q", path.to_str().expect("utf-8")]).failed();
    assert!(
        err.contains("function `tier` failed on row") && err.contains("has no tier"),
        "{err}"
    );
}

#[test]
fn a_function_that_cannot_be_called_as_written_is_refused_before_the_job_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = "CREATE TABLE out_rows (t STRING) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');\n";
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "arity",
            "CREATE FUNCTION tier AS '{tier}' LANGUAGE WASM;\nINSERT INTO out_rows SELECT tier(amount) FROM tx;",
            &[
                "function `tier` cannot be called with arguments (Float64)",
                "takes 2 argument(s); it was called with 1",
            ],
        ),
        (
            "types",
            "CREATE FUNCTION tier AS '{tier}' LANGUAGE WASM;\nINSERT INTO out_rows SELECT tier(`user`, amount) FROM tx;",
            &[
                "function `tier` cannot be called with arguments (Utf8, Float64)",
                "arg0",
            ],
        ),
        (
            "java",
            "CREATE FUNCTION tier AS 'com.example.Tier' LANGUAGE JAVA;\nINSERT INTO out_rows SELECT `user` FROM tx;",
            &[
                "function `tier` in LANGUAGE JAVA is not supported",
                "LANGUAGE WASM",
            ],
        ),
        (
            "no-language",
            "CREATE FUNCTION tier AS 'com.example.Tier';\nINSERT INTO out_rows SELECT `user` FROM tx;",
            &["without a LANGUAGE", "LANGUAGE WASM"],
        ),
        (
            "builtin",
            "CREATE FUNCTION upper AS '{tier}' LANGUAGE WASM;\nINSERT INTO out_rows SELECT `user` FROM tx;",
            &["has the name of a built-in function"],
        ),
        (
            "missing",
            "CREATE FUNCTION tier AS 'no/such/component.wasm' LANGUAGE WASM;\nINSERT INTO out_rows SELECT `user` FROM tx;",
            &["function `tier`", "no/such/component.wasm"],
        ),
    ];
    for (name, text, wants) in cases {
        let path = script(dir.path(), name, &format!("{out}{text}\n"), None);
        let err = weir(&["sql", "-q", path.to_str().expect("utf-8")]).failed();
        for want in *wants {
            assert!(err.contains(want), "{name}: `{want}` not in: {err}");
        }
        assert!(
            !dir.path().join(format!("{name}.out.jsonl")).exists(),
            "{name}: the job ran"
        );
    }
}

#[test]
fn a_python_function_gives_the_models_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = script(
        dir.path(),
        "python",
        &"CREATE FUNCTION tier AS '{py}' LANGUAGE WASM;
CREATE TABLE out_rows (ts BIGINT, t STRING)
  WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');
INSERT INTO out_rows SELECT ts, tier(amount, `user`) FROM tx;
"
        .replace("{py}", &operator("tier-py")),
        None,
    );
    let run = weir(&["sql", "-q", path.to_str().expect("utf-8")]);
    assert!(run.output.status.success(), "{}", run.stderr());
    let got = lines(&dir.path().join("python.out.jsonl"));
    let input = lines(&repo().join("tests/sql/conformance/input/tx.jsonl"));
    let want: Vec<Value> = input
        .iter()
        .map(|r| {
            let t = r["amount"]
                .as_f64()
                .map(|a| tier_v2(a, r["user"].as_str().expect("user")));
            serde_json::json!({"ts": r["ts"], "t": t})
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn a_wasm_function_runs_before_and_after_an_aggregation_and_a_top_n() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = lines(&repo().join("tests/sql/conformance/input/tx.jsonl"));
    // Rows whose tier is small: an amount (not NULL, and the function
    // rejects negative ones) from 0 to below 100.
    let small: Vec<(&str, f64)> = input
        .iter()
        .filter_map(|r| Some((r["user"].as_str()?, r["amount"].as_f64()?)))
        .filter(|&(user, amount)| amount >= 0.0 && tier_v1(amount, user).ends_with(":small"))
        .collect();
    let run = |name: &str, query: &str, columns: &str| {
        let path = script(
            dir.path(),
            name,
            &format!(
                "CREATE FUNCTION tier AS '{{tier}}' LANGUAGE WASM;
CREATE TABLE out_rows ({columns})
  WITH ('connector' = 'filesystem', 'path' = '{{output}}', 'format' = 'debezium-json');
INSERT INTO out_rows {query};
"
            ),
            None,
        );
        let run = weir(&[
            "sql",
            "-q",
            "--set",
            "batch_size=16",
            path.to_str().expect("utf-8"),
        ]);
        assert!(run.output.status.success(), "{name}: {}", run.stderr());
        let mut table = final_table(&lines(&dir.path().join(format!("{name}.out.jsonl"))));
        table.sort_by_key(Value::to_string);
        table
    };

    // In the WHERE (the stage before the aggregation) and over the
    // aggregates (the stage after it).
    let got = run(
        "grouped",
        "SELECT `user`, COUNT(*) AS cnt, tier(SUM(amount), `user`) AS t FROM tx \
         WHERE amount >= 0 AND tier(amount, `user`) LIKE '%:small' GROUP BY `user`",
        "`user` STRING, cnt BIGINT, t STRING, PRIMARY KEY (`user`) NOT ENFORCED",
    );
    let mut groups: std::collections::BTreeMap<&str, (i64, f64)> = Default::default();
    for &(user, amount) in &small {
        let g = groups.entry(user).or_default();
        g.0 += 1;
        g.1 += amount;
    }
    let mut want: Vec<Value> = groups
        .iter()
        .map(|(user, (cnt, sum))| {
            serde_json::json!({"user": user, "cnt": cnt, "t": tier_v1(*sum, user)})
        })
        .collect();
    want.sort_by_key(Value::to_string);
    assert!(
        want.iter()
            .any(|w| w["t"].as_str().is_some_and(|t| t.ends_with(":big")))
    );
    assert_eq!(got, want);

    // In the inner WHERE (before the ranking) and the SELECT list (after).
    let got = run(
        "top",
        "SELECT `user`, amount, tier(amount, `user`) AS t FROM ( \
           SELECT *, ROW_NUMBER() OVER (PARTITION BY `user` ORDER BY amount DESC) AS rn \
           FROM tx WHERE amount >= 0 AND tier(amount, `user`) LIKE '%:small' \
         ) WHERE rn = 1",
        "`user` STRING, amount DOUBLE, t STRING",
    );
    let mut best: std::collections::BTreeMap<&str, f64> = Default::default();
    for &(user, amount) in &small {
        let b = best.entry(user).or_insert(amount);
        if amount > *b {
            *b = amount;
        }
    }
    let mut want: Vec<Value> = best
        .iter()
        .map(|(user, amount)| {
            serde_json::json!({"user": user, "amount": amount, "t": tier_v1(*amount, user)})
        })
        .collect();
    want.sort_by_key(Value::to_string);
    assert_eq!(got, want);
}
