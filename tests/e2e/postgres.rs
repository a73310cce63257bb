//! The PostgreSQL sink against a real PostgreSQL server (Debian's package,
//! started by `scripts/postgres.sh`; never a mock):
//! - a SQL window aggregation into a `'connector' = 'jdbc'` table with a
//!   primary key holds exactly the rows Apache Flink 2.3 computed for the
//!   same query, and a second, fresh run upserts them again without a
//!   duplicate;
//! - an updating `GROUP BY` whose `HAVING` retracts rows leaves in a
//!   table with a primary key the table Flink's changelog leaves, its
//!   deletes applied;
//! - a job killed with SIGKILL at random moments after its checkpoints (at
//!   least 10 times) and restarted until it finishes leaves every input row
//!   in a table without a primary key exactly once (the expected rows are
//!   the input file's, read by the test, not weir's output).

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use weir_e2e::crash::kill_after_progress_until_done;
use weir_e2e::postgres::{client, server, unique_table};
use weir_e2e::{generate_transactions, repo, weir};

fn conformance() -> std::path::PathBuf {
    repo().join("tests/sql/conformance")
}

/// A number printed the way both sides agree on (Flink's DOUBLE text and
/// PostgreSQL's `double precision` can differ in the last digits).
fn num(v: f64) -> String {
    format!("{v:.6}")
}

#[test]
fn a_sql_window_aggregation_upserts_flinks_rows_into_a_postgres_table() {
    let table = unique_table("tumble_per_user");
    let mut db = client();
    db.batch_execute(&format!(
        "CREATE TABLE {table} (window_start timestamp(3), window_end timestamp(3), \"user\" text, \
         cnt bigint, total double precision, PRIMARY KEY (window_start, \"user\"))"
    ))
    .expect("create the table");

    // The conformance query, its output table now in PostgreSQL.
    let query = std::fs::read_to_string(conformance().join("queries/tumble_per_user.sql"))
        .expect("the conformance query");
    let (ddl, insert) = query.split_at(query.find("CREATE TABLE out_rows").expect("sink DDL"));
    let insert = &insert[insert.find("INSERT INTO").expect("insert")..];
    let name = format!("pg-{table}");
    let url = server().replace("postgresql://", "jdbc:postgresql://");
    let script = format!(
        "SET 'pipeline.name' = '{name}';\nSET 'execution.checkpointing.interval' = '100ms';\n{ddl}\
         CREATE TABLE out_rows (\n  window_start TIMESTAMP(3),\n  window_end TIMESTAMP(3),\n  `user` STRING,\n  \
         cnt BIGINT,\n  total DOUBLE,\n  PRIMARY KEY (window_start, `user`) NOT ENFORCED\n) WITH (\n  \
         'connector' = 'jdbc', 'url' = '{url}', 'table-name' = '{table}',\n  'sink.buffer-flush.max-rows' = '50'\n);\n\n{insert}"
    )
    .replace(
        "{input}",
        conformance().join("input").to_str().expect("utf-8"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("to_postgres.sql");
    std::fs::write(&path, &script).expect("write the script");
    let checkpoints = dir.path().join("checkpoints");
    let dir_setting = format!("checkpoint.dir={}", checkpoints.display());
    let path = path.to_str().expect("utf-8");

    // Flink's rows, by (window_start, user).
    let expected_text =
        std::fs::read_to_string(conformance().join("expected/tumble_per_user.jsonl"))
            .expect("expected rows");
    let mut expected = BTreeMap::new();
    for line in expected_text.lines().skip(1) {
        let v: Value = serde_json::from_str(line).expect("json");
        let key = (
            v["window_start"].as_str().expect("ts").to_string(),
            v["user"].as_str().unwrap_or("<null>").to_string(),
        );
        let row = (
            v["window_end"].as_str().expect("ts").to_string(),
            v["cnt"].as_i64().expect("cnt"),
            v["total"].as_f64().map(num),
        );
        assert!(
            expected.insert(key, row).is_none(),
            "Flink's keys are unique"
        );
    }
    assert!(expected.len() > 100, "{}", expected.len());

    for run in 0..2 {
        weir(&["run", "-q", path, "--fresh", "--set", &dir_setting]).ok();
        let rows = db
            .query(
                &format!(
                    "SELECT to_char(window_start, 'YYYY-MM-DD HH24:MI:SS'), \
                     to_char(window_end, 'YYYY-MM-DD HH24:MI:SS'), \"user\", cnt, total FROM {table}"
                ),
                &[],
            )
            .expect("read the table");
        let mut got = BTreeMap::new();
        for r in &rows {
            let key = (
                r.get::<_, String>(0),
                r.get::<_, Option<String>>(2)
                    .unwrap_or_else(|| "<null>".into()),
            );
            let row = (
                r.get::<_, String>(1),
                r.get::<_, i64>(3),
                r.get::<_, Option<f64>>(4).map(num),
            );
            got.insert(key, row);
        }
        assert_eq!(rows.len(), expected.len(), "run {run}: row count");
        assert_eq!(
            got, expected,
            "run {run}: the table differs from Flink's rows"
        );
    }
    // Both runs moved this output's progress row (the second from a fresh
    // start: its epochs began again).
    let epoch: i64 = db
        .query_one(
            "SELECT epoch FROM weir_sink_progress WHERE job = $1 AND sink = 'sink'",
            &[&name],
        )
        .expect("the progress row")
        .get(0);
    assert!(epoch >= 1, "{epoch}");
}

/// The table a changelog in Debezium's JSON leaves, by its first column:
/// each `after` row put, each `before` row's key removed.
fn final_table(changes: &str, columns: &[&str]) -> BTreeMap<String, Vec<String>> {
    let mut table = BTreeMap::new();
    for line in changes.lines().skip(1) {
        let c: Value = serde_json::from_str(line).expect("json");
        let cell = |row: &Value, col: &str| match &row[col] {
            Value::Number(n) => num(n.as_f64().expect("number")),
            Value::Null => "<null>".into(),
            other => other
                .as_str()
                .map_or_else(|| other.to_string(), String::from),
        };
        if !c["before"].is_null() {
            let key = cell(&c["before"], columns[0]);
            assert!(table.remove(&key).is_some(), "{line}: no such row");
        }
        if !c["after"].is_null() {
            let row = columns.iter().map(|col| cell(&c["after"], col)).collect();
            table.insert(cell(&c["after"], columns[0]), row);
        }
    }
    table
}

#[test]
fn an_updating_group_by_leaves_flinks_final_table_in_postgres_deletes_included() {
    let table = unique_table("group_retract");
    let mut db = client();
    db.batch_execute(&format!(
        "CREATE TABLE {table} (\"user\" text PRIMARY KEY, cnt bigint, total double precision)"
    ))
    .expect("create the table");
    let query = std::fs::read_to_string(conformance().join("queries/group_retract.sql"))
        .expect("the conformance query");
    let (ddl, insert) = query.split_at(query.find("CREATE TABLE out_rows").expect("sink DDL"));
    let insert = &insert[insert.find("INSERT INTO").expect("insert")..];
    let url = server().replace("postgresql://", "jdbc:postgresql://");
    let script = format!(
        "SET 'pipeline.name' = 'pg-{table}';\nSET 'execution.checkpointing.interval' = '100ms';\n{ddl}\
         CREATE TABLE out_rows (`user` STRING, cnt BIGINT, total DOUBLE, PRIMARY KEY (`user`) NOT ENFORCED) \
         WITH ('connector' = 'jdbc', 'url' = '{url}', 'table-name' = '{table}', 'sink.buffer-flush.max-rows' = '5');\n{insert}"
    )
    .replace(
        "{input}",
        conformance().join("input").to_str().expect("utf-8"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("group_to_postgres.sql");
    std::fs::write(&path, &script).expect("write the script");
    let dir_setting = format!(
        "checkpoint.dir={}",
        dir.path().join("checkpoints").display()
    );

    let columns = ["user", "cnt", "total"];
    let expected = final_table(
        &std::fs::read_to_string(conformance().join("expected/group_retract.jsonl"))
            .expect("expected rows"),
        &columns,
    );
    // Some users were retracted for good: the table has fewer rows than
    // the input has users.
    let input = std::fs::read_to_string(conformance().join("input/tx_time.jsonl")).expect("input");
    let users: std::collections::BTreeSet<String> = input
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json")["user"].to_string())
        .collect();
    assert!(
        !expected.is_empty() && expected.len() < users.len(),
        "{} of {}",
        expected.len(),
        users.len()
    );
    // In batches of 7 records, so that rows are updated and deleted
    // across batches and checkpoints, at parallelism 1 and 2.
    for parallelism in ["parallelism=1", "parallelism=2"] {
        db.batch_execute(&format!("DELETE FROM {table}"))
            .expect("empty the table");
        let run = weir(&[
            "run",
            "-q",
            path.to_str().expect("utf-8"),
            "--fresh",
            "--set",
            &dir_setting,
            "--set",
            "batch_size=7",
            "--set",
            parallelism,
        ]);
        assert!(run.output.status.success(), "{}", run.stderr());
        let rows = db
            .query(&format!("SELECT \"user\", cnt, total FROM {table}"), &[])
            .expect("read the table");
        let got: BTreeMap<String, Vec<String>> = rows
            .iter()
            .map(|r| {
                let user: String = r.get(0);
                let cnt: i64 = r.get(1);
                let total: Option<f64> = r.get(2);
                let row = vec![
                    user.clone(),
                    num(cnt as f64),
                    total.map_or_else(|| "<null>".into(), num),
                ];
                (user, row)
            })
            .collect();
        assert_eq!(
            got, expected,
            "{parallelism}: the table differs from Flink's"
        );
    }
}

/// Rows of the crash test: at `RATE` rows/s a run needs 6 s of
/// processing, so kills at most 400 ms after a checkpoint need many
/// restarts.
const ROWS: u64 = 300_000;
const RATE: u64 = 50_000;

#[test]
fn a_job_killed_at_random_moments_writes_every_row_to_postgres_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = generate_transactions(dir.path(), "tx", ROWS, 5000, 17, 20, 60_000);
    let table = unique_table("crash");
    let mut db = client();
    db.batch_execute(&format!(
        "CREATE TABLE {table} (ts bigint, \"user\" text, amount numeric(12,2), merchant text)"
    ))
    .expect("create the table");
    let job = dir.path().join("job.toml");
    std::fs::write(
        &job,
        format!(
            r#"name = "pg-crash-{table}"
parallelism = 2
batch_size = 500
[source]
type = "file"
path = "{input}"
rate = {RATE}
[sink]
type = "postgres"
url = "{url}"
table = "{table}"
columns = ["ts", "user", "amount", "merchant"]
batch_rows = 2000
[checkpoint]
interval = "100ms"
dir = "checkpoints"
retain = 3
"#,
            input = input.display(),
            url = server(),
        ),
    )
    .expect("write the job");
    // Each kill lands after the run committed rows to the table: after a
    // checkpoint that held some, not one taken while it was starting.
    let counter = std::cell::RefCell::new(client());
    let rows = || {
        let n: i64 = counter
            .borrow_mut()
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .expect("count the rows")
            .get(0);
        n as u64
    };
    let args = ["run", "-q", job.to_str().expect("utf-8")];
    let kills = kill_after_progress_until_done(dir.path(), &args, &rows, 10);
    assert!(kills >= 10, "{kills}");

    // Every input row, as many times as the input holds it.
    let mut expected: BTreeMap<(i64, String, String, String), u32> = BTreeMap::new();
    for line in std::fs::read_to_string(&input).expect("input").lines() {
        let v: Value = serde_json::from_str(line).expect("json");
        let amount = line
            .split("\"amount\":")
            .nth(1)
            .and_then(|r| r.split([',', '}']).next())
            .expect("amount")
            .to_string();
        let key = (
            v["ts"].as_i64().expect("ts"),
            v["user"].as_str().expect("user").to_string(),
            amount,
            v["merchant"].as_str().expect("merchant").to_string(),
        );
        *expected.entry(key).or_default() += 1;
    }
    let mut got: BTreeMap<(i64, String, String, String), u32> = BTreeMap::new();
    for r in db
        .query(
            &format!("SELECT ts, \"user\", amount::text, merchant FROM {table}"),
            &[],
        )
        .expect("read the table")
    {
        *got.entry((r.get(0), r.get(1), r.get(2), r.get(3)))
            .or_default() += 1;
    }
    let lost = expected
        .iter()
        .filter(|(k, n)| got.get(*k).copied().unwrap_or(0) < **n)
        .count();
    let repeated = got
        .iter()
        .filter(|(k, n)| expected.get(*k).copied().unwrap_or(0) < **n)
        .count();
    assert_eq!(
        (lost, repeated),
        (0, 0),
        "after {kills} kills: rows lost, rows written more than once"
    );
    assert_eq!(got, expected);
    assert_no_parts_left(&dir.path().join("checkpoints"));
}

/// Every part the sink staged was published and deleted.
fn assert_no_parts_left(checkpoints: &Path) {
    let parts = checkpoints.join("postgres-sink");
    let left: Vec<_> = std::fs::read_dir(&parts)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "parts left in {}: {left:?}",
        parts.display()
    );
}
