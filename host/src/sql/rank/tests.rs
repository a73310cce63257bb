use super::*;
use crate::job::JobSpec;
use std::path::Path;

const TABLES: &str = "
CREATE TABLE tx (ts TIMESTAMP(3), `user` STRING, amount DOUBLE, n INT,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'filesystem', 'path' = 'tx.jsonl', 'format' = 'json');
CREATE TABLE big (`user` STRING, amount DOUBLE)
  WITH ('connector' = 'filesystem', 'path' = 'big.jsonl', 'format' = 'json');
";

/// The job of `q`, its rank stage, and the columns it makes.
fn lowered(q: &str) -> (JobSpec, RankSpec, SchemaRef) {
    let (job, schema) = crate::sql::select_job(TABLES, q, Path::new("out.jsonl"))
        .unwrap_or_else(|e| panic!("{q}: {e}"));
    let rank = job
        .stages
        .iter()
        .find_map(|s| s.rank.clone())
        .expect("a rank stage");
    (job, rank, schema)
}

fn refused(q: &str) -> String {
    match crate::sql::select_job(TABLES, q, Path::new("out.jsonl")) {
        Err(e) => e.to_string(),
        Ok((j, _)) => panic!("not refused: {q}: {:?}", j.stages),
    }
}

fn names(schema: &SchemaRef) -> Vec<&str> {
    schema.fields().iter().map(|f| f.name().as_str()).collect()
}

#[test]
fn a_top_n_becomes_a_filter_a_rank_stage_and_a_select() {
    let (job, rank, schema) = lowered(
        "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY `user` ORDER BY amount DESC) AS rn \
         FROM tx WHERE n > 0) WHERE rn <= 3",
    );
    let stages: Vec<&str> = job.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(stages, ["filter", "rank", "select"]);
    let pre = &job.stages[0].sql.as_ref().unwrap().query;
    assert!(pre.ends_with("WHERE n > 0"), "{pre}");
    assert_eq!(job.stages[1].key_by.as_ref().unwrap().field, window::KEY);
    assert_eq!((rank.from, rank.to), (1, 3));
    assert_eq!(rank.order_by[0].field, "amount");
    assert!(rank.order_by[0].desc);
    assert_eq!(rank.number.as_deref(), Some(NUMBER), "`*` reads the place");
    assert_eq!(rank.ties, "earlier");
    // The table's columns (not the key) and the place; the change rides
    // along in the rows' last column.
    assert_eq!(names(&schema), ["ts", "user", "amount", "n", "rn"]);
    let post = &job.stages[2].sql.as_ref().unwrap().query;
    assert!(post.contains("`_op` FROM"), "{post}");
}

#[test]
fn places_are_read_from_the_conditions_on_the_number() {
    let places = |cond: &str| {
        let (_, r, _) = lowered(&format!(
            "SELECT `user`, rn FROM (SELECT `user`, ROW_NUMBER() OVER (ORDER BY amount) AS rn FROM tx) \
             WHERE {cond}"
        ));
        (r.from, r.to)
    };
    assert_eq!(places("rn <= 5"), (1, 5));
    assert_eq!(places("rn < 5"), (1, 4));
    assert_eq!(places("rn = 2"), (2, 2));
    assert_eq!(places("rn BETWEEN 2 AND 6"), (2, 6));
    assert_eq!(places("rn > 1 AND rn <= 4"), (2, 4));
    assert_eq!(places("3 >= rn"), (1, 3));
    assert_eq!(places("(rn <= 8) AND rn <= 3"), (1, 3));
}

#[test]
fn other_conditions_filter_after_the_ranking() {
    let (job, _, schema) = lowered(
        "SELECT `user`, amount FROM (SELECT *, ROW_NUMBER() OVER (ORDER BY amount DESC) AS rn FROM tx) \
         WHERE rn <= 3 AND `user` <> 'u1'",
    );
    let post = job
        .stages
        .last()
        .unwrap()
        .sql
        .as_ref()
        .unwrap()
        .query
        .clone();
    assert!(post.contains("WHERE `user` <> 'u1'"), "{post}");
    assert_eq!(names(&schema), ["user", "amount"]);
}

#[test]
fn without_the_number_one_place_by_event_time_is_deduplication() {
    let dedup = |order: &str, cond: &str, items: &str| {
        let (_, r, _) = lowered(&format!(
            "SELECT {items} FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY `user` ORDER BY {order}) AS rn \
             FROM tx) WHERE {cond}"
        ));
        (r.number.is_some(), r.ties)
    };
    // Keeping the last row: a later row wins a tie (Flink's Deduplicate).
    assert_eq!(
        dedup("ts DESC", "rn = 1", "`user`, amount"),
        (false, "later".into())
    );
    assert_eq!(
        dedup("ts ASC", "rn = 1", "`user`, amount"),
        (false, "earlier".into())
    );
    // Not deduplication: a column that is not the event time, the number
    // read, more than one place.
    assert_eq!(
        dedup("amount DESC", "rn = 1", "`user`"),
        (false, "earlier".into())
    );
    assert_eq!(
        dedup("ts DESC", "rn = 1", "`user`, rn"),
        (true, "earlier".into())
    );
    assert_eq!(
        dedup("ts DESC", "rn <= 2", "`user`"),
        (false, "earlier".into())
    );
}

#[test]
fn what_flink_or_weir_does_not_rank_is_refused_by_name() {
    let q =
        |inner: &str, cond: &str| refused(&format!("SELECT `user` FROM ({inner}) WHERE {cond}"));
    let rn = "ROW_NUMBER() OVER (PARTITION BY `user` ORDER BY amount DESC) AS rn";
    for (inner, cond, says) in [
        (
            format!("SELECT *, {rn} FROM tx"),
            "rn >= 2",
            "without a last place",
        ),
        (
            format!("SELECT *, {rn} FROM tx"),
            "rn <> 2",
            "the condition rn <> 2",
        ),
        (
            format!("SELECT *, {rn} FROM tx"),
            "rn <= 3 OR amount > 1",
            "the condition",
        ),
        (
            format!("SELECT *, {rn} FROM tx"),
            "rn <= 2 AND rn >= 3",
            "keeps no row",
        ),
        (
            format!("SELECT `user`, COUNT(*) AS c, {rn} FROM tx GROUP BY `user`"),
            "rn <= 3",
            "of an aggregation",
        ),
        (
            "SELECT *, ROW_NUMBER() OVER (PARTITION BY `user` ORDER BY amount * 2) AS rn FROM tx"
                .into(),
            "rn <= 3",
            "ORDER BY amount * 2",
        ),
        (
            "SELECT *, ROW_NUMBER() OVER (PARTITION BY `user`) AS rn FROM tx".into(),
            "rn <= 3",
            "needs ORDER BY",
        ),
        // Flink 2.3 refuses RANK() and DENSE_RANK() on streaming tables.
        (
            "SELECT *, RANK() OVER (PARTITION BY `user` ORDER BY amount) AS rn FROM tx".into(),
            "rn <= 3",
            "RANK() is not supported over a streaming table, as in Flink",
        ),
        (
            "SELECT *, DENSE_RANK() OVER (PARTITION BY `user` ORDER BY amount) AS rn FROM tx"
                .into(),
            "rn <= 3",
            "rank with ROW_NUMBER()",
        ),
        (
            "SELECT *, ROW_NUMBER() OVER (PARTITION BY `user` ORDER BY amount) FROM tx".into(),
            "true",
            "without a name",
        ),
        (
            format!("SELECT *, {rn} FROM tx JOIN big ON tx.`user` = big.`user`"),
            "rn <= 3",
            "of a join",
        ),
    ] {
        let e = q(&inner, cond);
        assert!(e.contains(says), "{inner} WHERE {cond}: {e}");
    }
    // The sink must take updates.
    let e = crate::sql::to_job(
        Path::new("q.sql"),
        &format!(
            "{TABLES} INSERT INTO big SELECT `user`, amount FROM (SELECT *, {rn} FROM tx) WHERE rn <= 3"
        ),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("an updating query") && e.contains("debezium-json"),
        "{e}"
    );
}

#[test]
fn a_query_without_row_number_is_not_a_top_n() {
    let (job, _) = crate::sql::select_job(
        TABLES,
        "SELECT `user` FROM (SELECT `user`, amount FROM tx) WHERE amount > 1",
        Path::new("out.jsonl"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(job.stages.iter().all(|s| s.rank.is_none()));
}

const WINDOWED: &str = "SELECT window_start, window_end, `user`, SUM(amount) AS total \
    FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(ts), INTERVAL '10' SECOND)) \
    GROUP BY window_start, window_end, `user`";

#[test]
fn a_window_top_n_ranks_the_window_s_results_once_at_the_watermark() {
    let (job, rank, schema) = lowered(&format!(
        "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end \
         ORDER BY total DESC) AS rownum FROM ({WINDOWED})) WHERE rownum <= 2"
    ));
    let stages: Vec<&str> = job.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(stages, ["filter", "window", "windowed", "rank", "select"]);
    assert!(rank.at_watermark, "each window's places once");
    assert_eq!((rank.from, rank.to), (1, 2));
    // Inserts: no change column, so a sink of inserts takes them.
    assert_eq!(
        names(&schema),
        ["window_start", "window_end", "user", "total", "rownum"]
    );
    let post = &job.stages[4].sql.as_ref().unwrap().query;
    assert!(!post.contains("_op"), "{post}");
    // Flink ranks within a window: the partition names it.
    let e = refused(&format!(
        "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY `user` ORDER BY total DESC) AS rn \
         FROM ({WINDOWED})) WHERE rn <= 2"
    ));
    assert!(e.contains("PARTITION BY window_start, window_end"), "{e}");
}

#[test]
fn a_top_n_of_a_group_by_without_a_window_ranks_its_changelog() {
    let (job, rank, schema) = lowered(
        "SELECT n, `user`, c, rn FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY n ORDER BY c DESC) AS rn \
         FROM (SELECT n, `user`, COUNT(*) AS c FROM tx GROUP BY n, `user`) WHERE c > 1) WHERE rn <= 2",
    );
    let stages: Vec<&str> = job.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(stages, ["filter", "window", "windowed", "rank", "select"]);
    assert!(!rank.at_watermark, "the changes after each batch");
    assert_eq!(rank.sign.as_deref(), Some(SIGN));
    // The stage before gives each row its sign (and not its change: the
    // rank stage makes its own).
    let pre = &job.stages[2].sql.as_ref().unwrap().query;
    assert!(pre.contains(&format!("AS `{SIGN}`")), "{pre}");
    assert!(pre.ends_with("WHERE c > 1"), "{pre}");
    assert!(!pre.starts_with("SELECT *"), "{pre}");
    // Its rows are a changelog.
    assert_eq!(names(&schema), ["n", "user", "c", "rn"]);
    let post = &job.stages[4].sql.as_ref().unwrap().query;
    assert!(post.contains("`_op` FROM"), "{post}");
}
