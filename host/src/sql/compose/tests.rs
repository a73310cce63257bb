use crate::job::JobSpec;
use crate::sql::{SqlError, to_job};
use std::path::Path;

const TABLES: &str = "
CREATE TABLE tx (ts TIMESTAMP(3), `user` STRING NOT NULL, amount DOUBLE, n INT)
  WITH ('connector' = 'filesystem', 'path' = 'tx.jsonl', 'format' = 'json');
CREATE TABLE clicks (ts TIMESTAMP(3), `user` STRING, page STRING)
  WITH ('connector' = 'filesystem', 'path' = 'clicks.jsonl', 'format' = 'json');
CREATE TABLE out_rows (k STRING, c BIGINT, s DOUBLE)
  WITH ('connector' = 'filesystem', 'path' = 'out.jsonl', 'format' = 'debezium-json');
";

fn job(select: &str) -> Result<JobSpec, SqlError> {
    to_job(
        Path::new("q.sql"),
        &format!("{TABLES}\nINSERT INTO out_rows {select};"),
    )
}

fn names(j: &JobSpec) -> Vec<&str> {
    j.stages.iter().map(|s| s.name.as_str()).collect()
}

#[test]
fn an_aggregation_over_a_join_aggregates_the_joins_rows() {
    let j = job(
        "SELECT t.`user`, COUNT(*), SUM(t.amount) FROM tx t JOIN clicks c \
         ON t.`user` = c.`user` WHERE c.page <> 'home' GROUP BY t.`user`",
    )
    .unwrap();
    assert_eq!(
        names(&j),
        [
            "inner_join_left",
            "inner_join_right",
            "inner_join",
            "inner_rows",
            "filter",
            "window",
            "select"
        ]
    );
    assert_eq!(j.stages[2].join.as_ref().unwrap().kind, "regular");
    // The join selects the columns the aggregation reads, and keeps the
    // WHERE.
    let rows = &j.stages[3].sql.as_ref().unwrap().query;
    assert!(rows.contains("AS `__c0`"), "{rows}");
    let right = &j.stages[1].sql.as_ref().unwrap().query;
    assert!(right.contains("page <> 'home'"), "{right}");
    assert_eq!(j.stages[4].inputs, ["inner_rows"]);
    assert_eq!(j.stages[5].window.as_ref().unwrap().kind, "global");
}

#[test]
fn an_aggregation_of_a_changelog_takes_rows_back() {
    let j = job("SELECT CAST(c AS STRING), COUNT(*), AVG(total) FROM (\
         SELECT `user`, COUNT(*) AS c, SUM(amount) AS total FROM tx GROUP BY `user`) per_user \
         GROUP BY c")
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
    // Each row counts and adds with its sign; a group with no rows left
    // is dropped after the window.
    let filter = &j.stages[3].sql.as_ref().unwrap().query;
    assert!(filter.contains("`_op` IN ('-U', '-D')"), "{filter}");
    let window = j.stages[4].window.as_ref().unwrap();
    assert_eq!(window.sign.as_deref(), Some("__sign"));
    let post = &j.stages[5].sql.as_ref().unwrap().query;
    assert!(post.contains("`__rows` <> 0"), "{post}");
}

#[test]
fn min_or_max_of_a_changelog_keeps_its_values_in_the_window() {
    let j = job("SELECT CAST(c AS STRING), COUNT(*), MAX(total) FROM (\
         SELECT `user`, COUNT(*) AS c, SUM(amount) AS total FROM tx GROUP BY `user`) per_user \
         GROUP BY c")
    .expect("MAX of a changelog");
    let window = j.stages[4].window.as_ref().unwrap();
    assert_eq!(window.sign.as_deref(), Some("__sign"));
    assert!(
        window.aggregates.iter().any(|a| a.function == "max"),
        "{:?}",
        window.aggregates
    );
}
