use crate::job::JobSpec;
use crate::sql::{SqlError, to_job};
use std::path::Path;

const TABLES: &str = "
CREATE TABLE tx (ts TIMESTAMP(3), `user` STRING NOT NULL, amount DOUBLE, n INT, merchant STRING,
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
  WITH ('connector' = 'filesystem', 'path' = 'tx.jsonl', 'format' = 'json');
";

fn job(sink: &str, select: &str) -> Result<JobSpec, SqlError> {
    to_job(
        Path::new("q.sql"),
        &format!(
            "{TABLES}\nCREATE TABLE out_rows ({sink}) WITH ('connector' = 'filesystem', \
             'path' = 'o.jsonl', 'format' = 'debezium-json');\nINSERT INTO out_rows {select};"
        ),
    )
}

fn names(j: &JobSpec) -> Vec<&str> {
    j.stages.iter().map(|s| s.name.as_str()).collect()
}

#[test]
fn a_distinct_count_over_a_window_is_a_window_of_the_windows_of_each_value() {
    let j = job(
        "ws TIMESTAMP(3), u STRING, m BIGINT, c BIGINT, a DOUBLE",
        "SELECT window_start, `user`, COUNT(DISTINCT merchant), COUNT(*), AVG(amount) \
         FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(ts), INTERVAL '10' SECOND)) \
         GROUP BY window_start, window_end, `user`",
    )
    .unwrap();
    assert_eq!(
        names(&j),
        [
            "inner_filter",
            "inner_window",
            "inner_rows",
            "filter",
            "window",
            "select"
        ]
    );
    // The inner aggregation groups by the merchant too; the outer one is
    // a tumbling window over its windows.
    let inner = &j.stages[0].sql.as_ref().unwrap().query;
    assert!(inner.contains("merchant"), "{inner}");
    let outer = j.stages[4].window.as_ref().unwrap();
    assert_eq!(
        (outer.kind.as_str(), outer.size.as_deref()),
        ("tumbling", Some("10000ms"))
    );
    // AVG is the partial sums over the partial counts, in its type.
    let post = &j.stages[5].sql.as_ref().unwrap().query;
    assert!(post.contains("AS DOUBLE"), "{post}");
}

#[test]
fn a_distinct_count_without_a_window_aggregates_a_changelog() {
    let j = job(
        "m STRING, u BIGINT, t DOUBLE",
        "SELECT merchant, COUNT(DISTINCT `user`), SUM(amount) FROM tx GROUP BY merchant",
    )
    .unwrap();
    let filter = &j.stages[3].sql.as_ref().unwrap().query;
    assert!(filter.contains("`_op` IN ('-U', '-D')"), "{filter}");
    assert_eq!(j.stages[4].window.as_ref().unwrap().kind, "global");
}

#[test]
fn what_a_distinct_split_cannot_run_is_refused_by_name() {
    for (select, says) in [
        (
            "SELECT merchant, COUNT(DISTINCT `user`), COUNT(DISTINCT n) FROM tx GROUP BY merchant",
            "DISTINCT aggregates of different values",
        ),
        (
            "SELECT UPPER(merchant), COUNT(DISTINCT `user`) FROM tx GROUP BY UPPER(merchant)",
            "beside a DISTINCT aggregate",
        ),
        (
            "SELECT `user`, COUNT(DISTINCT merchant) \
             FROM TABLE(SESSION(TABLE tx PARTITION BY `user`, DESCRIPTOR(ts), INTERVAL '5' SECOND)) \
             GROUP BY window_start, window_end, `user`",
            "over a SESSION window",
        ),
    ] {
        let e = job("a STRING, b BIGINT", select)
            .expect_err(select)
            .to_string();
        assert!(e.contains(says), "{select}\n  said: {e}\n  not: {says}");
    }
}
