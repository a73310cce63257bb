use crate::job::JobSpec;
use crate::sql::{SqlError, to_job};
use std::path::Path;

const TABLES: &str = "
CREATE TABLE tx (ts TIMESTAMP(3), `user` STRING NOT NULL, amount DOUBLE, n INT,
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
  WITH ('connector' = 'filesystem', 'path' = 'tx.jsonl', 'format' = 'json');
CREATE TABLE out_rows (ws TIMESTAMP(3), `user` STRING, c BIGINT, s DOUBLE)
  WITH ('connector' = 'filesystem', 'path' = 'out.jsonl', 'format' = 'json');
";

fn job(select: &str) -> Result<JobSpec, SqlError> {
    to_job(
        Path::new("q.sql"),
        &format!("{TABLES}\nINSERT INTO out_rows {select};"),
    )
}

fn refused(select: &str) -> String {
    job(select).expect_err(select).to_string()
}

#[test]
fn a_tumbling_aggregation_becomes_filter_window_and_select_stages() {
    let j = job("SELECT window_start, `user`, COUNT(*), SUM(amount) \
         FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(ts), INTERVAL '10' SECOND)) \
         WHERE n > 0 GROUP BY window_start, window_end, `user`")
    .unwrap();
    let names: Vec<&str> = j.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["filter", "window", "select"]);
    let pre = &j.stages[0].sql.as_ref().unwrap().query;
    assert!(
        pre.contains("`user` AS `__key`"),
        "a NOT NULL key as it is: {pre}"
    );
    assert!(pre.ends_with("WHERE n > 0"), "{pre}");
    assert!(
        pre.contains("COALESCE(CAST((amount) AS DOUBLE), 0e0)"),
        "{pre}"
    );
    let w = &j.stages[1];
    assert_eq!(w.key_by.as_ref().unwrap().field, "__key");
    let window = w.window.as_ref().unwrap();
    assert_eq!(
        (window.kind.as_str(), window.size.as_deref()),
        ("tumbling", Some("10000ms"))
    );
    let fns: Vec<&str> = window
        .aggregates
        .iter()
        .map(|a| a.function.as_str())
        .collect();
    // COUNT(*); then SUM(amount): the amounts that are not NULL, and their sum.
    assert_eq!(fns, ["count", "sum", "sum"]);
    let post = &j.stages[2].sql.as_ref().unwrap();
    assert_eq!(post.table.as_deref(), Some("__window"));
    assert!(
        post.query.contains("to_timestamp_millis(`window_start`)"),
        "{}",
        post.query
    );
    assert!(
        post.query
            .contains("CAST((CASE WHEN `__n1` = 0 THEN NULL ELSE `__s1` END) AS DOUBLE)"),
        "SUM of no amounts is NULL: {}",
        post.query
    );
    assert_eq!(j.event_time.as_ref().unwrap().field.as_deref(), Some("ts"));
}

#[test]
fn hop_and_session_map_to_sliding_and_session_windows() {
    let j = job("SELECT window_start, `user`, COUNT(*), MAX(amount) \
         FROM TABLE(HOP(TABLE tx, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '1' MINUTE)) \
         GROUP BY window_start, window_end, `user`")
    .unwrap();
    let w = j.stages[1].window.as_ref().unwrap();
    assert_eq!(
        (w.kind.as_str(), w.slide.as_deref(), w.size.as_deref()),
        ("sliding", Some("5000ms"), Some("60000ms"))
    );
    let j = job("SELECT window_start, `user`, COUNT(*), AVG(amount) \
         FROM TABLE(SESSION(TABLE tx PARTITION BY `user`, DESCRIPTOR(ts), INTERVAL '30' SECOND)) \
         GROUP BY window_start, window_end, `user`")
    .unwrap();
    let w = j.stages[1].window.as_ref().unwrap();
    assert_eq!(
        (w.kind.as_str(), w.gap.as_deref()),
        ("session", Some("30000ms"))
    );
    let j = job("SELECT window_start, `user`, COUNT(*), SUM(amount) \
         FROM TABLE(CUMULATE(TABLE tx, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '10' SECOND)) \
         GROUP BY window_start, window_end, `user`")
    .unwrap();
    let w = j.stages[1].window.as_ref().unwrap();
    assert_eq!(
        (w.kind.as_str(), w.step.as_deref(), w.size.as_deref()),
        ("cumulate", Some("2000ms"), Some("10000ms"))
    );
}

#[test]
fn what_windows_do_not_run_yet_is_refused_by_name() {
    let tvf = "FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(ts), INTERVAL '10' SECOND))";
    let cases = [
        (
            "SELECT window_start, `user`, COUNT(*), SUM(amount) FROM TABLE(CUMULATE(TABLE tx, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '10' SECOND, INTERVAL '1' SECOND)) GROUP BY window_start, window_end, `user`".to_string(),
            "an offset of CUMULATE windows",
        ),
        (
            format!("SELECT window_start, `user`, COUNT(DISTINCT n), SUM(DISTINCT amount) {tvf} GROUP BY window_start, window_end, `user`"),
            "DISTINCT aggregates of different values",
        ),
        (
            format!("SELECT window_start, `user`, COUNT(*), SUM(amount) {tvf} GROUP BY window_start, window_end, `user`, amount"),
            "grouping by `amount`, a Float64",
        ),
        (
            format!("SELECT window_start, `user`, COUNT(*), SUM(amount) {tvf} GROUP BY window_start, `user`"),
            "not grouped by both window_start and window_end",
        ),
        (
            format!("SELECT window_start, `user`, COUNT(*), STDDEV(amount) {tvf} GROUP BY window_start, window_end, `user`"),
            "STDDEV",
        ),
        (
            "SELECT window_start, `user`, COUNT(*), SUM(amount) FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(amount), INTERVAL '10' SECOND)) GROUP BY window_start, window_end, `user`".to_string(),
            "not the event-time column",
        ),
        (
            "SELECT window_start, `user`, COUNT(*), SUM(amount) FROM TABLE(SESSION(TABLE tx, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end, `user`".to_string(),
            "PARTITION BY",
        ),
        (
            format!("SELECT window_start, `user`, COUNT(*), amount {tvf} GROUP BY window_start, window_end, `user`"),
            "amount",
        ),
        (
            format!("SELECT window_start, CAST(amount AS STRING), COUNT(*), SUM(n) {tvf} GROUP BY window_start, window_end, amount"),
            "grouping by `amount`, a Float64",
        ),
    ];
    for (select, says) in cases {
        let err = refused(&select);
        assert!(err.contains(says), "{select}: {err}");
        assert!(err.contains("q.sql:8:1"), "the INSERT's line: {err}");
    }
}

#[test]
fn a_key_of_several_columns_is_one_text_read_back_column_by_column() {
    let j = job("SELECT window_start, `user`, COUNT(*), SUM(amount) \
         FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(ts), INTERVAL '10' SECOND)) \
         GROUP BY window_start, window_end, `user`, n")
    .unwrap();
    let pre = &j.stages[0].sql.as_ref().unwrap().query;
    // Each column marked NULL or not and prefixed by its length, so that
    // ("a:1", 2) and ("a", 12) are two keys.
    assert!(
        pre.contains("CAST(character_length(CASE WHEN `user` IS NULL THEN 'n' ELSE 'v' || CAST(`user` AS STRING) END) AS STRING) || ':'"),
        "{pre}"
    );
    let post = &j.stages[2].sql.as_ref().unwrap().query;
    assert!(
        post.contains("AS `__kt1`"),
        "one subquery per column: {post}"
    );
    assert!(
        post.contains("CAST(NULLIF(SUBSTR(`__kt1`, 2), '') AS INT) END AS `n`"),
        "{post}"
    );
}

/// A window aggregation of a HOP aggregation's results, grouped by its
/// renamed bounds.
const CASCADE: &str = "SELECT s, 'all', MAX(c), SUM(t) FROM (\
     SELECT window_start AS s, window_end AS e, `user`, COUNT(*) AS c, SUM(amount) AS t \
     FROM TABLE(HOP(TABLE tx, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND)) \
     GROUP BY window_start, window_end, `user`) AS w GROUP BY s, e";

#[test]
fn a_window_of_windows_is_a_tumbling_window_one_step_long_over_the_inner_results() {
    let j = job(CASCADE).unwrap();
    let names: Vec<&str> = j.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "inner_filter",
            "inner_window",
            "inner_rows",
            "filter",
            "window",
            "select"
        ]
    );
    let inner = j.stages[1].window.as_ref().unwrap();
    assert_eq!(
        (inner.kind.as_str(), inner.slide.as_deref()),
        ("sliding", Some("5000ms"))
    );
    // The inner aggregation's rows, as its query names them, are what the
    // outer one's filter reads.
    let rows = j.stages[2].sql.as_ref().unwrap();
    assert_eq!(j.stages[2].inputs, ["inner_window"]);
    assert!(rows.query.contains("AS s"), "{}", rows.query);
    let filter = j.stages[3].sql.as_ref().unwrap();
    assert_eq!(filter.table.as_deref(), Some("w"));
    assert_eq!(j.stages[3].inputs, ["inner_rows"]);
    // One tumbling window per inner window end: the HOP's slide.
    let outer = j.stages[4].window.as_ref().unwrap();
    assert_eq!(
        (
            outer.kind.as_str(),
            outer.size.as_deref(),
            outer.time.as_str()
        ),
        ("tumbling", Some("5000ms"), "event")
    );
    // The bounds come back from the window's end: the start is the HOP's
    // size before it.
    let post = &j.stages[5].sql.as_ref().unwrap().query;
    assert!(
        post.contains("to_timestamp_millis(`window_end` - 10000) AS `s`"),
        "{post}"
    );
    assert!(
        post.contains("to_timestamp_millis(`window_end`) AS `e`"),
        "{post}"
    );
}

#[test]
fn an_aggregation_of_windows_not_grouped_by_their_bounds_updates() {
    let j = to_job(
        Path::new("q.sql"),
        "CREATE TABLE tx (ts TIMESTAMP(3), `user` STRING NOT NULL, amount DOUBLE,
           WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
           WITH ('connector' = 'filesystem', 'path' = 'tx.jsonl', 'format' = 'json');
         CREATE TABLE per_user (`user` STRING, windows BIGINT)
           WITH ('connector' = 'filesystem', 'path' = 'o.jsonl', 'format' = 'debezium-json');
         INSERT INTO per_user SELECT `user`, COUNT(*) FROM (
           SELECT window_start, `user`, COUNT(*) AS c
           FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(ts), INTERVAL '10' SECOND))
           GROUP BY window_start, window_end, `user`) AS w GROUP BY `user`;",
    )
    .unwrap();
    let outer = j.stages[4].window.as_ref().unwrap();
    assert_eq!(outer.kind, "global");
}

#[test]
fn a_window_of_session_windows_or_of_one_bound_is_refused() {
    let session = refused(
        "SELECT s, 'x', COUNT(*), 0e0 FROM (\
         SELECT window_start AS s, window_end AS e, `user`, COUNT(*) AS c \
         FROM TABLE(SESSION(TABLE tx PARTITION BY `user`, DESCRIPTOR(ts), INTERVAL '5' SECOND)) \
         GROUP BY window_start, window_end, `user`) AS w GROUP BY s, e",
    );
    assert!(session.contains("session windows"), "{session}");
    let one = refused(
        "SELECT s, 'x', COUNT(*), 0e0 FROM (\
         SELECT window_start AS s, window_end AS e, `user`, COUNT(*) AS c \
         FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(ts), INTERVAL '5' SECOND)) \
         GROUP BY window_start, window_end, `user`) AS w GROUP BY s",
    );
    assert!(one.contains("one of their bounds"), "{one}");
}
