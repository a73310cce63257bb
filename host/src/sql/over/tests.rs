use super::*;
use crate::job::JobSpec;
use std::path::Path;

const TABLES: &str = "
CREATE TABLE tx (ts TIMESTAMP(3), `user` STRING, amount DOUBLE, n INT,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'filesystem', 'path' = 'tx.jsonl', 'format' = 'json');
CREATE TABLE plain (ts TIMESTAMP(3), `user` STRING, n INT)
  WITH ('connector' = 'filesystem', 'path' = 'plain.jsonl', 'format' = 'json');
";

/// The job of `q`, its OVER stage, and the columns it makes.
fn lowered(q: &str) -> Result<(JobSpec, OverSpec, SchemaRef), crate::sql::SqlError> {
    let (job, schema) = crate::sql::select_job(TABLES, q, Path::new("out.jsonl"))?;
    let over = job
        .stages
        .iter()
        .find_map(|s| s.over.clone())
        .expect("an over stage");
    Ok((job, over, schema))
}

fn refused(q: &str) -> String {
    match crate::sql::select_job(TABLES, q, Path::new("out.jsonl")) {
        Err(e) => e.to_string(),
        Ok((j, _)) => panic!("not refused: {q}: {:?}", j.stages),
    }
}

#[test]
fn a_rows_window_becomes_a_filter_an_over_stage_and_a_select() {
    let (job, over, schema) = lowered(
        "SELECT ts, `user`, SUM(n) OVER w AS s, COUNT(*) OVER w AS c FROM tx WHERE amount > 0 \
         WINDOW w AS (PARTITION BY `user` ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)",
    )
    .unwrap();
    let names: Vec<&str> = job.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["filter", "over", "select"]);
    let pre = &job.stages[0].sql.as_ref().unwrap().query;
    assert!(pre.ends_with("WHERE amount > 0"), "{pre}");
    assert_eq!(job.stages[1].key_by.as_ref().unwrap().field, window::KEY);
    assert!(job.late_output.is_some(), "late rows go somewhere named");
    assert_eq!(over.frame, "rows");
    assert_eq!(over.preceding, Some(Preceding::Rows(2)));
    let fns: Vec<&str> = over
        .aggregates
        .iter()
        .map(|a| a.function.as_str())
        .collect();
    assert_eq!(
        fns,
        ["sum", "sum", "count"],
        "SUM(n): its count and sum; COUNT(*)"
    );
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["ts", "user", "s", "c"]);
    assert_eq!(
        schema.field(2).data_type(),
        &DataType::Int32,
        "SUM of an INT is an INT"
    );
    assert_eq!(schema.field(3).data_type(), &DataType::Int64);
}

#[test]
fn frames_are_read_as_flink_reads_them() {
    let frame = |over: &str| {
        let (_, o, _) = lowered(&format!("SELECT AVG(amount) OVER ({over}) FROM tx")).unwrap();
        (o.frame, o.preceding)
    };
    let by = "PARTITION BY `user` ORDER BY ts";
    assert_eq!(frame(by), ("range".into(), None));
    assert_eq!(
        frame(&format!(
            "{by} RANGE BETWEEN INTERVAL '10' SECOND PRECEDING AND CURRENT ROW"
        )),
        ("range".into(), Some(Preceding::Time("10000ms".into())))
    );
    assert_eq!(
        frame(&format!(
            "{by} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
        )),
        ("rows".into(), None)
    );
    assert_eq!(
        frame("ORDER BY ts ROWS BETWEEN CURRENT ROW AND CURRENT ROW"),
        ("rows".into(), Some(Preceding::Rows(0)))
    );
}

#[test]
fn what_flink_or_weir_does_not_run_is_refused_by_name() {
    for (q, says) in [
        (
            "SELECT SUM(n) OVER (PARTITION BY `user` ORDER BY ts ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM tx",
            "ends at CURRENT ROW",
        ),
        (
            "SELECT SUM(n) OVER (PARTITION BY `user` ORDER BY amount) FROM tx",
            "not the event-time column",
        ),
        ("SELECT SUM(n) OVER (ORDER BY ts) FROM plain", "WATERMARK"),
        ("SELECT SUM(n) OVER (ORDER BY ts DESC) FROM tx", "ascending"),
        (
            "SELECT SUM(n) OVER (PARTITION BY `user` ORDER BY ts), COUNT(*) OVER (ORDER BY ts) FROM tx",
            "share one window",
        ),
        (
            "SELECT ROW_NUMBER() OVER (PARTITION BY `user` ORDER BY ts) FROM tx",
            "Top-N",
        ),
        (
            "SELECT `user`, SUM(n) OVER (ORDER BY ts) FROM tx GROUP BY `user`",
            "not both",
        ),
        (
            "SELECT SUM(n) OVER (PARTITION BY upper(`user`) ORDER BY ts) FROM tx",
            "PARTITION BY upper",
        ),
        (
            "SELECT SUM(n) OVER (ORDER BY ts) FROM tx ORDER BY ts",
            "ORDER BY or LIMIT",
        ),
        (
            "SELECT SUM(n) OVER (ORDER BY ts GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM tx",
            "GROUPS",
        ),
        (
            "SELECT SUM(t.n) OVER (ORDER BY t.ts) FROM tx t, tx u WHERE t.`user` = u.`user`",
            "several tables",
        ),
        ("SELECT SUM(nope) OVER (ORDER BY ts) FROM tx", "nope"),
    ] {
        let r = refused(q);
        assert!(r.contains(says), "{q}\n  said: {r}\n  expected: {says}");
    }
}

#[test]
fn a_query_without_over_is_not_an_over_aggregation() {
    let (job, _) =
        crate::sql::select_job(TABLES, "SELECT `user`, n FROM tx", Path::new("o")).unwrap();
    assert!(job.stages.iter().all(|s| s.over.is_none()));
}
