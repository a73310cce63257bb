use crate::job::{JobSpec, StageSpec};
use crate::sql::{SqlError, to_job};
use std::path::Path;

const TABLES: &str = "
CREATE TABLE orders (ts TIMESTAMP(3), id BIGINT, amount DOUBLE, region STRING,
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
  WITH ('connector' = 'filesystem', 'path' = 'orders.jsonl', 'format' = 'json');
CREATE TABLE shipments (ts TIMESTAMP(3), order_id INT, region STRING, carrier STRING,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
  WITH ('connector' = 'filesystem', 'path' = 'shipments.jsonl', 'format' = 'json');
CREATE TABLE plain (id BIGINT, ts TIMESTAMP(3))
  WITH ('connector' = 'filesystem', 'path' = 'plain.jsonl', 'format' = 'json');
CREATE TABLE out_rows (id BIGINT, amount DOUBLE, carrier STRING)
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

fn stage<'a>(j: &'a JobSpec, name: &str) -> &'a StageSpec {
    j.stages.iter().find(|s| s.name == name).unwrap()
}

fn query<'a>(j: &'a JobSpec, name: &str) -> &'a str {
    &stage(j, name).sql.as_ref().unwrap().query
}

#[test]
fn an_interval_join_becomes_a_stage_per_table_the_join_and_a_select() {
    let j = job(
        "SELECT o.id, o.amount, s.carrier FROM orders o, shipments s \
         WHERE o.id = s.order_id AND s.ts BETWEEN o.ts AND o.ts + INTERVAL '4' HOUR \
         AND o.amount > 10 AND s.region <> o.region",
    )
    .unwrap();
    let names: Vec<&str> = j.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["join_left", "join_right", "join", "select"]);
    // Each table its own source, with its own watermark.
    assert_eq!(j.sources.len(), 1);
    assert_eq!(j.sources[0].name, "shipments");
    let et = j.sources[0].event_time.as_ref().unwrap();
    assert_eq!(et.max_out_of_orderness, "5000ms");
    assert_eq!(
        j.event_time.as_ref().unwrap().max_out_of_orderness,
        "2000ms"
    );
    // The keys in one type (INT and BIGINT: BIGINT); the condition on one
    // table where that table is read; NULL keys stop there.
    let left = query(&j, "join_left");
    assert!(
        left.contains("CAST(CAST((o.id) AS BIGINT) AS STRING) AS `__key`"),
        "{left}"
    );
    assert!(left.contains("(o.id) IS NOT NULL"), "{left}");
    assert!(left.contains("(o.amount > 10)"), "{left}");
    let right = query(&j, "join_right");
    assert!(
        right.contains("CAST(CAST((s.order_id) AS BIGINT) AS STRING)"),
        "{right}"
    );
    assert_eq!(stage(&j, "join_right").inputs, ["shipments"]);
    // The bounds on shipments.ts - orders.ts, in ms.
    let join = stage(&j, "join").join.as_ref().unwrap();
    assert_eq!(join.kind, "interval");
    assert_eq!(
        (join.lower.as_deref(), join.upper.as_deref()),
        (Some("0ms"), Some("14400000ms"))
    );
    // The condition across both tables after the join, over its rows.
    let post = query(&j, "select");
    assert!(post.contains("(`__r_region` <> `__l_region`)"), "{post}");
    let schema = stage(&j, "select")
        .sql
        .as_ref()
        .unwrap()
        .schema
        .clone()
        .unwrap();
    assert_eq!(schema["left.amount"], "double");
    assert_eq!(schema["right.region"], "string");
    // Only the columns read after the join are read from its rows (the
    // key and the times are the join's).
    let fields: Vec<&str> = schema.keys().map(String::as_str).collect();
    assert_eq!(
        fields,
        [
            "left.amount",
            "left.id",
            "left.region",
            "right.carrier",
            "right.region"
        ]
    );
    // Rows that come after the watermark passed them are dropped.
    assert!(matches!(
        j.late_output,
        Some(crate::job::SinkSpec::Discard {})
    ));
}

#[test]
fn bounds_are_read_either_way_round_and_strict_ones_by_a_millisecond() {
    let bounds = |cond: &str| {
        let j = job(&format!(
            "SELECT o.id, o.amount, s.carrier FROM orders o JOIN shipments s ON o.id = s.order_id AND {cond}"
        ))
        .unwrap();
        let join = stage(&j, "join").join.clone().unwrap();
        (join.lower.unwrap(), join.upper.unwrap())
    };
    let ms = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        bounds("o.ts > s.ts AND o.ts < s.ts + INTERVAL '8' SECOND"),
        ms("-7999ms", "-1ms")
    );
    assert_eq!(
        bounds("o.ts BETWEEN s.ts - INTERVAL '1' MINUTE AND s.ts"),
        ms("0ms", "60000ms")
    );
    assert_eq!(
        bounds("s.ts >= o.ts - INTERVAL '5' SECOND AND s.ts <= o.ts + INTERVAL '5' SECOND"),
        ms("-5000ms", "5000ms")
    );
    assert_eq!(bounds("o.ts = s.ts"), ms("0ms", "0ms"));
}

#[test]
fn a_window_join_joins_windows_of_both_tables() {
    let j = job("SELECT L.id, L.amount, R.carrier \
         FROM (SELECT * FROM TABLE(HOP(TABLE orders, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND)) WHERE amount > 0) L \
         JOIN (SELECT * FROM TABLE(HOP(TABLE shipments, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND))) R \
         ON L.id = R.order_id AND L.region = R.region \
         AND L.window_start = R.window_start AND L.window_end = R.window_end")
    .unwrap();
    let join = stage(&j, "join").join.as_ref().unwrap();
    assert_eq!(join.kind, "window");
    assert_eq!(
        (
            join.window.as_str(),
            join.size.as_deref(),
            join.slide.as_deref()
        ),
        ("sliding", Some("10000ms"), Some("5000ms"))
    );
    let left = query(&j, "join_left");
    // Two keys: each prefixed by its length, so ("a:b", "c") and ("a", "b:c") differ.
    assert!(left.contains("character_length("), "{left}");
    assert!(left.contains("(amount > 0)"), "{left}");
    let post = query(&j, "select");
    assert!(
        post.contains("to_timestamp_millis(`window_start`)"),
        "{post}"
    );
}

#[test]
fn a_join_not_bounded_both_ways_in_time_is_a_regular_join() {
    let regular = |select: &str| {
        let j = job(select).unwrap();
        assert!(
            crate::job::validate(&j).is_empty(),
            "{:?}",
            crate::job::validate(&j)
        );
        let join = stage(&j, "join").join.clone().unwrap();
        assert_eq!(join.kind, "regular", "{select}");
        assert_eq!((join.lower, join.upper, join.ttl), (None, None, None));
        query(&j, "select").to_string()
    };
    regular("SELECT o.id, o.amount, s.carrier FROM orders o, shipments s WHERE o.id = s.order_id");
    // One bound only: a filter after the join, as in Flink.
    let post = regular(
        "SELECT o.id, o.amount, s.carrier FROM orders o JOIN shipments s \
         ON o.id = s.order_id WHERE s.ts >= o.ts + INTERVAL '1' SECOND",
    );
    assert!(post.contains("INTERVAL"), "{post}");
    // A table without a WATERMARK has no event time: a regular join too.
    regular(
        "SELECT o.id, o.amount, CAST(s.id AS STRING) FROM orders o, plain s WHERE o.id = s.id AND s.ts = o.ts",
    );
    // Its rows live `table.exec.state.ttl` when one is set.
    let j = to_job(
        Path::new("q.sql"),
        &format!(
            "{TABLES}\nSET 'table.exec.state.ttl' = '1 h';\nINSERT INTO out_rows \
             SELECT o.id, o.amount, s.carrier FROM orders o, shipments s WHERE o.id = s.order_id;"
        ),
    )
    .unwrap();
    let join = stage(&j, "join").join.clone().unwrap();
    assert_eq!(join.ttl.as_deref(), Some("1h"));
    assert!(crate::job::validate(&j).is_empty());
}

#[test]
fn a_window_aggregation_joins_as_its_results_through_its_own_stages() {
    let j = job(
        "SELECT o.id, o.amount, CAST(m.n AS STRING) FROM orders o JOIN ( \
           SELECT order_id, COUNT(*) AS n, window_end AS wend \
           FROM TABLE(TUMBLE(TABLE shipments, DESCRIPTOR(ts), INTERVAL '10' SECOND)) \
           GROUP BY order_id, window_start, window_end) m \
         ON o.id = m.order_id WHERE o.ts < m.wend",
    )
    .unwrap();
    assert!(
        crate::job::validate(&j).is_empty(),
        "{:?}",
        crate::job::validate(&j)
    );
    let names: Vec<&str> = j.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "join_left",
            "join_right_filter",
            "join_right_window",
            "join_right_rows",
            "join_right",
            "join",
            "select"
        ]
    );
    // The aggregation reads its own table's source; its results are read
    // by a name of their own; the join is regular (no time attribute).
    assert_eq!(stage(&j, "join_right_filter").inputs, ["shipments"]);
    assert!(stage(&j, "join_right_window").window.is_some());
    assert_eq!(stage(&j, "join_right").inputs, ["join_right_rows"]);
    assert!(
        query(&j, "join_right").contains("FROM `join_right_rows` AS `m`"),
        "{}",
        query(&j, "join_right")
    );
    assert_eq!(stage(&j, "join").join.as_ref().unwrap().kind, "regular");
    assert!(
        query(&j, "select").contains("wend"),
        "{}",
        query(&j, "select")
    );
    for (select, says) in [
        (
            "SELECT o.id, o.amount, o.region FROM orders o JOIN ( \
               SELECT order_id, COUNT(*) AS n FROM shipments GROUP BY order_id) m \
             ON o.id = m.order_id",
            "an aggregation without a window",
        ),
        (
            "SELECT o.id, o.amount, o.region FROM orders o JOIN ( \
               SELECT order_id, window_end FROM TABLE(TUMBLE(TABLE shipments, DESCRIPTOR(ts), INTERVAL '10' SECOND)) \
               GROUP BY order_id, window_start, window_end) \
             ON o.id = order_id",
            "needs a name",
        ),
    ] {
        let e = refused(select);
        assert!(e.contains(says), "{select}\n  said: {e}\n  not: {says}");
    }
}

/// `select` into a table that takes a changelog.
fn changelog_job(select: &str) -> Result<JobSpec, SqlError> {
    to_job(
        Path::new("q.sql"),
        &format!(
            "{TABLES}\nCREATE TABLE changes (id BIGINT, amount DOUBLE, carrier STRING) \
             WITH ('connector' = 'filesystem', 'path' = 'changes.jsonl', 'format' = 'debezium-json');\n\
             INSERT INTO changes {select};"
        ),
    )
}

#[test]
fn an_outer_join_is_a_regular_join_keeping_its_sides_whole_and_a_changelog() {
    let j = changelog_job(
        "SELECT o.id, o.amount, s.carrier FROM orders o LEFT JOIN shipments s \
         ON o.id = s.order_id AND s.carrier <> 'x' AND o.amount > 5 \
         WHERE o.region = 'eu' AND s.region IS NULL",
    )
    .unwrap();
    let join = stage(&j, "join").join.as_ref().unwrap();
    assert_eq!(join.kind, "regular");
    assert_eq!(join.outer.as_deref(), Some("left"));
    // The left table kept whole: no row left out for a NULL key or for
    // failing its ON condition, which only stops it pairing; its WHERE
    // condition filters it (it is never padded with NULLs).
    let left = query(&j, "join_left");
    assert!(
        left.contains("CASE WHEN (o.id) IS NOT NULL AND (o.amount > 5) IS TRUE THEN '=' ||"),
        "{left}"
    );
    assert!(left.contains("ELSE '<' END"), "{left}");
    assert!(left.contains("WHERE (o.region = 'eu')"), "{left}");
    // The right table padded with NULLs: its ON condition filters it.
    let right = query(&j, "join_right");
    assert!(right.contains("'=' || CAST("), "{right}");
    assert!(right.contains("(s.carrier <> 'x')"), "{right}");
    assert!(!right.contains("region"), "{right}");
    // The WHERE on the padded table is after the join; the change passes.
    let select = query(&j, "select");
    assert!(select.contains("`__r_region` IS NULL"), "{select}");
    assert!(select.contains("`_op`"), "{select}");
    // A FULL join keeps both whole: a WHERE on either is after the join.
    let j = changelog_job(
        "SELECT o.id, o.amount, s.carrier FROM orders o FULL OUTER JOIN shipments s \
         ON o.id = s.order_id WHERE o.amount > 5",
    )
    .unwrap();
    assert_eq!(
        stage(&j, "join").join.as_ref().unwrap().outer.as_deref(),
        Some("full")
    );
    assert!(!query(&j, "join_left").contains("amount"));
    assert!(query(&j, "select").contains("`__l_amount` > 5"));
    let j = changelog_job(
        "SELECT o.id, o.amount, s.carrier FROM orders o RIGHT JOIN shipments s ON o.id = s.order_id",
    )
    .unwrap();
    assert_eq!(
        stage(&j, "join").join.as_ref().unwrap().outer.as_deref(),
        Some("right")
    );
    // Its rows are a changelog: a sink of inserts is refused.
    let e = refused(
        "SELECT o.id, o.amount, s.carrier FROM orders o LEFT JOIN shipments s ON o.id = s.order_id",
    );
    assert!(e.contains("updating"), "{e}");
}

#[test]
fn what_joins_do_not_run_yet_is_refused_by_name() {
    for (select, says) in [
        (
            "SELECT o.id, o.amount, s.carrier FROM orders o LEFT JOIN shipments s ON o.id = s.order_id AND o.ts = s.ts",
            "`o.ts = s.ts` in the ON of a LEFT OUTER JOIN",
        ),
        (
            "SELECT o.id, o.amount, s.carrier FROM orders o FULL JOIN shipments s ON o.id = s.order_id AND o.region <> s.region",
            "in the ON of a FULL OUTER JOIN",
        ),
        (
            "SELECT o.id, o.amount, s.carrier FROM orders o RIGHT JOIN shipments s USING (region)",
            "a join with USING",
        ),
        (
            "SELECT L.id, L.amount, R.carrier \
             FROM (SELECT * FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(ts), INTERVAL '5' SECOND))) L \
             LEFT JOIN (SELECT * FROM TABLE(TUMBLE(TABLE shipments, DESCRIPTOR(ts), INTERVAL '5' SECOND))) R \
             ON L.id = R.order_id AND L.window_start = R.window_start AND L.window_end = R.window_end",
            "a LEFT OUTER window join",
        ),
        (
            "SELECT o.id, o.amount, s.carrier FROM orders o, shipments s WHERE o.ts = s.ts",
            "without an equality",
        ),
        (
            "SELECT o.id, o.amount, s.carrier FROM orders o, shipments s WHERE o.id = s.order_id AND s.ts BETWEEN o.ts + INTERVAL '1' SECOND AND o.ts",
            "leave no interval",
        ),
        (
            "SELECT DISTINCT o.id FROM orders o, shipments s WHERE o.id = s.order_id AND o.ts = s.ts",
            "SELECT DISTINCT over a join",
        ),
        (
            "SELECT id, amount, carrier FROM orders, shipments WHERE id = order_id AND ts = ts",
            "Ambiguous reference",
        ),
        (
            "SELECT o.id, o.amount, s.carrier FROM orders o, shipments s WHERE o.id = s.region AND o.ts = s.ts",
            "CAST one of them",
        ),
        (
            "SELECT L.id, L.amount, R.carrier \
             FROM (SELECT * FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(ts), INTERVAL '5' SECOND))) L \
             JOIN (SELECT * FROM TABLE(TUMBLE(TABLE shipments, DESCRIPTOR(ts), INTERVAL '5' SECOND))) R \
             ON L.id = R.order_id AND L.window_start = R.window_start",
            "window_start and window_end",
        ),
        (
            "SELECT L.id, L.amount, R.carrier \
             FROM (SELECT * FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(ts), INTERVAL '5' SECOND))) L \
             JOIN (SELECT * FROM TABLE(TUMBLE(TABLE shipments, DESCRIPTOR(ts), INTERVAL '10' SECOND))) R \
             ON L.id = R.order_id AND L.window_start = R.window_start AND L.window_end = R.window_end",
            "two different windows",
        ),
        (
            "SELECT o.id, o.amount, s.carrier FROM orders o, shipments s, plain p WHERE o.id = s.order_id",
            "more than two tables",
        ),
    ] {
        let e = refused(select);
        assert!(e.contains(says), "{select}\n  said: {e}\n  not: {says}");
        assert!(e.contains("q.sql:"), "with where: {e}");
    }
}

#[test]
fn a_column_the_tables_do_not_have_is_datafusions_error_in_the_users_words() {
    let e = refused(
        "SELECT o.id, o.amount, s.nope FROM orders o, shipments s \
         WHERE o.id = s.order_id AND o.ts = s.ts",
    );
    assert!(e.contains("nope"), "{e}");
}
