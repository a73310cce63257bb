use super::*;

fn job(text: &str) -> Result<JobSpec, SqlError> {
    to_job(Path::new("q.sql"), text)
}

const TABLES: &str = "
CREATE TABLE tx (ts BIGINT, `user` STRING, amount DOUBLE, n INT)
  WITH ('connector' = 'filesystem', 'path' = 'tx.jsonl', 'format' = 'json');
CREATE TABLE big (`user` STRING, cents BIGINT)
  WITH ('connector' = 'filesystem', 'path' = 'out.jsonl', 'format' = 'json');
";

#[test]
fn an_insert_becomes_a_source_a_stage_and_a_sink() {
    let j = job(&format!(
        "{TABLES} SET 'pipeline.name' = 'big payments'; SET 'parallelism.default' = '2';
         INSERT INTO big SELECT `user`, n * 100 FROM tx WHERE amount >= 50;"
    ))
    .unwrap();
    assert_eq!(j.name, "big_payments");
    assert_eq!(j.parallelism, 2);
    let crate::job::SourceSpec::File { path, schema, .. } = &j.source else {
        panic!("{:?}", j.source)
    };
    assert_eq!(path, Path::new("tx.jsonl"));
    assert_eq!(schema.as_ref().unwrap()["n"], "int32");
    let sql = j.stages[0].sql.as_ref().unwrap();
    assert_eq!(sql.table.as_deref(), Some("tx"));
    // INT widens to the sink's BIGINT; the columns take the sink's names.
    assert!(
        sql.query.contains("CAST(`cents` AS BIGINT)"),
        "{}",
        sql.query
    );
    assert!(
        sql.query.ends_with("AS `q` (`user`, `cents`)"),
        "{}",
        sql.query
    );
    assert!(crate::job::validate(&j).is_empty());
}

#[test]
fn flinks_state_backend_setting_picks_rocksdb_or_memory() {
    let insert = "INSERT INTO big SELECT `user`, n FROM tx;";
    assert_eq!(
        job(&format!("{TABLES} {insert}")).unwrap().state.backend,
        "memory"
    );
    for set in [
        "SET 'state.backend.type' = 'rocksdb';",
        "SET 'state.backend' = 'RocksDB';",
    ] {
        let j = job(&format!("{TABLES} {set} {insert}")).unwrap();
        assert_eq!(j.state.backend, "rocksdb", "{set}");
    }
    let j = job(&format!(
        "{TABLES} SET 'state.backend.type' = 'hashmap'; {insert}"
    ))
    .unwrap();
    assert_eq!(j.state.backend, "memory");
    let e = job(&format!(
        "{TABLES} SET 'state.backend.type' = 'forst'; {insert}"
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("'forst'") && e.contains("rocksdb"), "{e}");
}

#[test]
fn a_group_by_without_a_window_is_a_global_window_whose_changes_reach_the_sink() {
    let j = job(&format!(
        "{TABLES}
         CREATE TABLE changes (`user` STRING, n BIGINT)
           WITH ('connector' = 'filesystem', 'path' = 'c.jsonl', 'format' = 'debezium-json');
         CREATE TABLE pg (`user` STRING, n BIGINT, PRIMARY KEY (`user`) NOT ENFORCED)
           WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://h/db', 'table-name' = 'pg');
         INSERT INTO changes SELECT `user`, COUNT(*) FROM tx WHERE n > 0 GROUP BY `user` HAVING SUM(amount) > 10;"
    ))
    .unwrap();
    let window = j.stages.iter().find_map(|s| s.window.as_ref()).unwrap();
    assert_eq!(window.kind, "global");
    assert_eq!(window.ttl, None);
    let last = j.stages.last().unwrap().sql.as_ref().unwrap();
    assert_eq!(last.changelog, Some(ChangelogFormat::DebeziumJson));
    assert!(
        last.query.ends_with("(`user`, `n`, `_op`)"),
        "{}",
        last.query
    );
    assert!(
        crate::job::validate(&j).is_empty(),
        "{:?}",
        crate::job::validate(&j)
    );
    // Into PostgreSQL: rows keep their change, applied by the key.
    let j = job(&format!(
        "{TABLES}
         CREATE TABLE pg (`user` STRING, n BIGINT, PRIMARY KEY (`user`) NOT ENFORCED)
           WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://h/db', 'table-name' = 'pg');
         INSERT INTO pg SELECT `user`, COUNT(*) FROM tx GROUP BY `user`;"
    ))
    .unwrap();
    let crate::job::SinkSpec::Postgres(p) = &j.sink else {
        panic!("{:?}", j.sink)
    };
    assert!(p.changelog);
    assert_eq!(
        j.stages.last().unwrap().sql.as_ref().unwrap().changelog,
        None
    );
}

#[test]
fn what_is_not_supported_is_refused_with_its_line() {
    let e = job(&format!(
        "{TABLES}\nINSERT INTO big SELECT `user`, COUNT(*) FROM tx GROUP BY `user`;"
    ))
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("q.sql:7:1")
            && e.contains(
                "an updating query (a GROUP BY without a window, a Top-N or an outer join) into table `big`"
            )
            && e.contains("'format' = 'debezium-json'"),
        "{e}"
    );
    let e = job(&format!(
        "{TABLES}\nCREATE TABLE pg (`user` STRING, n BIGINT) WITH ('connector' = 'jdbc', \
         'url' = 'jdbc:postgresql://h/db', 'table-name' = 'pg');\n\
         INSERT INTO pg SELECT `user`, COUNT(*) FROM tx GROUP BY `user`;"
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("no PRIMARY KEY"), "{e}");
    let e = job("CREATE TABLE t (d DECIMAL(40, 2)) WITH ('connector' = 'print');")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("q.sql:1:17") && e.contains("DECIMAL(40,2)"),
        "{e}"
    );
}

#[test]
fn a_query_that_does_not_fit_its_sink_is_refused() {
    let e = job(&format!("{TABLES} INSERT INTO big SELECT `user` FROM tx;"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("1 columns, table `big` has 2"), "{e}");
    let e = job(&format!(
        "{TABLES} INSERT INTO big SELECT `user`, amount FROM tx;"
    ))
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("`amount`) is Float64") && e.contains("CAST it"),
        "{e}"
    );
    let e = job(&format!(
        "{TABLES} INSERT INTO big SELECT `user`, nope FROM tx;"
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("nope"), "{e}");
}

#[test]
fn a_watermark_becomes_the_sources_event_time() {
    let j = job(
        "CREATE TABLE t (ts TIMESTAMP(3), v BIGINT, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
           WITH ('connector' = 'filesystem', 'path' = 'in', 'format' = 'json');
         CREATE TABLE s (v BIGINT) WITH ('connector' = 'blackhole');
         INSERT INTO s SELECT v FROM t;",
    )
    .unwrap();
    let et = j.event_time.unwrap();
    assert_eq!(et.field.as_deref(), Some("ts"));
    assert_eq!(et.max_out_of_orderness, "5000ms");
    let e = job(
        "CREATE TABLE t (ts TIMESTAMP(3), WATERMARK FOR ts AS ts + INTERVAL '5' SECOND)
           WITH ('connector' = 'filesystem', 'path' = 'in', 'format' = 'json');
         CREATE TABLE s (ts TIMESTAMP(3)) WITH ('connector' = 'blackhole');
         INSERT INTO s SELECT ts FROM t;",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("q.sql:1:34") && e.contains("not supported"),
        "{e}"
    );
}

#[test]
fn the_state_ttl_is_the_global_windows_time_to_live() {
    let script = |ttl: &str| {
        format!(
            "{TABLES}
             CREATE TABLE changes (`user` STRING, n BIGINT)
               WITH ('connector' = 'filesystem', 'path' = 'c.jsonl', 'format' = 'debezium-json');
             SET 'table.exec.state.ttl' = '{ttl}';
             INSERT INTO changes SELECT `user`, COUNT(*) FROM tx GROUP BY `user`;"
        )
    };
    let ttl = |text: &str| {
        let j = job(text).unwrap();
        assert!(crate::job::validate(&j).is_empty());
        j.stages.iter().find_map(|s| s.window.clone()).unwrap().ttl
    };
    assert_eq!(ttl(&script("1 h")), Some("1h".to_string()));
    // Flink's default, 0: kept for ever.
    assert_eq!(ttl(&script("0 ms")), None);
    let e = job(&script("soon")).unwrap_err().to_string();
    assert!(e.contains("table.exec.state.ttl"), "{e}");
}

#[test]
fn a_function_in_another_language_or_with_a_taken_name_is_refused_with_its_line() {
    let insert = "INSERT INTO big SELECT `user`, n FROM tx;";
    let cases = [
        (
            "CREATE FUNCTION tier AS 'com.example.Tier' LANGUAGE JAVA;",
            "function `tier` in LANGUAGE JAVA is not supported",
        ),
        (
            "CREATE TEMPORARY SYSTEM FUNCTION IF NOT EXISTS tier AS 'com.example.Tier';",
            "function `tier` without a LANGUAGE",
        ),
        (
            "CREATE FUNCTION Upper AS 'f.wasm' LANGUAGE WASM;",
            "function `Upper` has the name of a built-in function",
        ),
        (
            "CREATE FUNCTION f AS 'a.wasm' LANGUAGE WASM; CREATE FUNCTION F AS 'b.wasm' LANGUAGE wasm;",
            "a second function `F`",
        ),
    ];
    for (create, want) in cases {
        let e = job(&format!("{TABLES}\n{create}\n{insert}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("q.sql:7:") && e.contains(want), "{create}: {e}");
    }
    // A component that is not there: refused with the function's line.
    let e = job(&format!(
        "{TABLES}\nCREATE FUNCTION f AS 'no/such.wasm' LANGUAGE WASM;\n{insert}"
    ))
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("q.sql:7:1") && e.contains("function `f`") && e.contains("no/such.wasm"),
        "{e}"
    );
}

/// nexmark-flink's q12 adds its processing time in a subquery: the same
/// job as the column declared in the table.
#[test]
fn a_proctime_added_in_a_subquery_is_the_tables_computed_column() {
    let script = |declared: &str, from: &str| {
        format!(
            "CREATE TABLE bid (bidder BIGINT, price BIGINT{declared})
               WITH ('connector' = 'filesystem', 'path' = 'bid.jsonl', 'format' = 'json');
             CREATE TABLE out_rows (bidder BIGINT, n BIGINT, s TIMESTAMP(3))
               WITH ('connector' = 'blackhole');
             INSERT INTO out_rows
             SELECT B.bidder, COUNT(*), TUMBLE_START(B.p_time, INTERVAL '10' SECOND)
             FROM {from}
             GROUP BY B.bidder, TUMBLE(B.p_time, INTERVAL '10' SECOND);"
        )
    };
    let toml = |j: JobSpec| toml::to_string(&j).unwrap();
    let declared = job(&script(", p_time AS PROCTIME()", "bid B")).unwrap();
    let inline = job(&script("", "(SELECT *, PROCTIME() AS p_time FROM bid) B")).unwrap();
    assert_eq!(toml(inline), toml(declared));
    assert!(
        toml(
            job(&script(
                "",
                "(SELECT *, PROCTIME() AS p_time FROM bid) AS B"
            ))
            .unwrap()
        )
        .contains("time = \"processing\"")
    );
    // A column of that name already: said.
    let e = job(&script(
        ", p_time BIGINT",
        "(SELECT *, PROCTIME() AS p_time FROM bid) B",
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("has a column `p_time` already"), "{e}");
    // Another subquery is not this one: refused as before.
    assert!(
        job(&script(
            "",
            "(SELECT bidder, PROCTIME() AS p_time FROM bid) B"
        ))
        .is_err()
    );
}
