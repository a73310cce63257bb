//! SQL in Flink's dialect, checked against Apache Flink itself: each
//! script under tests/sql/conformance/queries runs through `weir sql`, and
//! its rows must equal, row for row, what Flink 2.3 wrote for the same
//! script over the same input (tests/sql/conformance/expected, made by
//! tests/sql/flink/expected.py; each file's first line says so). Never
//! compared with weir's own earlier output.
//!
//! Also: what weir does not run is refused before it starts, with the
//! construct and its line; a job file's stage may hold a query; `weir run`
//! takes a `.sql` script.

use serde_json::Value;
use std::path::{Path, PathBuf};
use weir_e2e::rows::{close, final_table, rounded, rows};
use weir_e2e::{repo, weir};

fn suite() -> PathBuf {
    repo().join("tests/sql/conformance")
}

/// A Nexmark query's script with each table read from weir's generator
/// (`datagen`, as many rows as its input file has) instead of the file;
/// `None` for a script that reads no Nexmark file.
fn nexmark_generated(text: &str) -> Option<String> {
    let mut out = text.to_string();
    for table in ["person", "auction", "bid"] {
        let file = format!("nexmark_{table}.jsonl");
        let options =
            format!("'connector' = 'filesystem', 'path' = '{{input}}/{file}', 'format' = 'json'");
        let rows = std::fs::read_to_string(suite().join("input").join(&file))
            .expect("Nexmark input")
            .lines()
            .count();
        out = out.replace(
            &options,
            &format!(
                "'connector' = 'datagen', 'schema' = 'nexmark-{table}', 'number-of-rows' = '{rows}'"
            ),
        );
    }
    (out != text).then_some(out)
}

/// `script` with its placeholders filled in, written into `dir`.
fn script_in(dir: &Path, name: &str, text: &str) -> PathBuf {
    let text = text
        .replace("{input}", suite().join("input").to_str().expect("utf-8"))
        .replace(
            "{output}",
            dir.join(format!("{name}.out.jsonl"))
                .to_str()
                .expect("utf-8"),
        );
    let path = dir.join(format!("{name}.sql"));
    std::fs::write(&path, text).expect("write script");
    path
}

#[test]
fn every_conformance_query_gives_flinks_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut names: Vec<String> = std::fs::read_dir(suite().join("queries"))
        .expect("queries")
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "sql").then(|| p.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    names.sort();
    assert!(names.len() >= 30, "the suite has {} queries", names.len());
    let mut failed = Vec::new();
    for name in &names {
        let expected_path = suite().join("expected").join(format!("{name}.jsonl"));
        let header: Value = serde_json::from_str(
            std::fs::read_to_string(&expected_path)
                .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()))
                .lines()
                .next()
                .expect("a header line"),
        )
        .expect("header");
        assert!(
            header["flink"]
                .as_str()
                .is_some_and(|v| v.starts_with("2.3")),
            "{name}: the expected rows must come from Flink 2.3: {header}"
        );
        let expected = rows(&expected_path, 1);
        assert_eq!(Some(expected.len() as u64), header["rows"].as_u64());
        let text = std::fs::read_to_string(suite().join("queries").join(format!("{name}.sql")))
            .expect("script");
        let script = script_in(dir.path(), name, &text);
        // A Nexmark query runs again over weir's generator itself (the
        // input files are its rows): the generator makes typed columns
        // straight when nothing reads the rows' text, and they must give
        // Flink's rows too.
        let generated = format!("{name}.generated");
        let generated = nexmark_generated(&text).map(|t| script_in(dir.path(), &generated, &t));
        let as_changelog = text.contains("-- rows: as a changelog");
        let as_set = as_changelog || text.contains("-- rows: as a set");
        let expected = if as_changelog {
            final_table(&expected)
        } else {
            expected
        };
        let mut settings: Vec<Vec<&str>> = if as_changelog {
            vec![
                vec!["parallelism=1"],
                vec!["parallelism=2", "batch_size=7"],
                vec!["parallelism=1", "batch_size=7"],
            ]
        } else if as_set {
            vec![vec!["parallelism=1"], vec!["parallelism=2"]]
        } else {
            vec![vec!["parallelism=1"]]
        };
        // A script may ask for more: `-- also with: state.backend=rocksdb`.
        settings.extend(
            text.lines()
                .filter_map(|l| l.strip_prefix("-- also with:"))
                .map(|l| l.split_whitespace().collect()),
        );
        let runs = settings.iter().map(|sets| (sets, &script, "")).chain(
            generated
                .iter()
                .flat_map(|g| settings.iter().map(move |sets| (sets, g, ", generated"))),
        );
        for (sets, script, how) in runs {
            let set = format!("{}{how}", sets.join(" "));
            let mut args = vec!["sql", "-q"];
            for s in sets.iter() {
                args.extend(["--set", s]);
            }
            args.push(script.to_str().expect("utf-8"));
            let run = weir(&args);
            if !run.output.status.success() {
                failed.push(format!("{name} ({set}): weir failed: {}", run.stderr()));
                continue;
            }
            let mut got = rows(&script.with_extension("out.jsonl"), 0);
            if as_changelog {
                got = final_table(&got);
            }
            // A window fires its keys in no fixed order, in Flink and in weir:
            // such a query says so, and its rows compare as a set.
            let mut expected = expected.clone();
            if as_set {
                let key = |v: &Value| rounded(v).to_string();
                got.sort_by_key(key);
                expected.sort_by_key(key);
            }
            if got.len() != expected.len() || got.iter().zip(&expected).any(|(g, e)| !close(g, e)) {
                let first = got
                    .iter()
                    .zip(&expected)
                    .position(|(g, e)| !close(g, e))
                    .unwrap_or(got.len().min(expected.len()));
                failed.push(format!(
                "{name} ({set}): {} rows, Flink {}; first difference at row {first}:\n  weir:  {}\n  flink: {}",
                got.len(),
                expected.len(),
                got.get(first).map_or("-".into(), Value::to_string),
                expected.get(first).map_or("-".into(), Value::to_string)
            ));
            }
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn what_weir_does_not_run_is_refused_before_it_starts_with_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = std::fs::read_to_string(suite().join("queries/projection.sql")).expect("script");
    let cases = [
        // An updating query into a sink that takes only inserts.
        (
            "SELECT `user`, merchant, COUNT(*) FROM tx GROUP BY `user`, merchant",
            "an updating query (a GROUP BY without a window, a Top-N or an outer join) into table `out_rows`",
        ),
        (
            "SELECT a.`user`, b.merchant, a.amount FROM tx a LEFT JOIN tx b ON a.`user` = b.`user`",
            "an updating query (a GROUP BY without a window, a Top-N or an outer join) into table `out_rows`",
        ),
        (
            "SELECT a.`user`, b.merchant, a.amount FROM tx a LEFT JOIN tx b ON a.`user` = b.`user` AND a.amount < b.amount",
            "`a.amount < b.amount` in the ON of a LEFT OUTER JOIN",
        ),
        (
            "SELECT `user`, merchant, amount FROM tx ORDER BY ts",
            "ORDER BY",
        ),
        ("SELECT `user`, merchant, nope FROM tx", "nope"),
        // Its output would grow with an argument: the host could be made
        // to allocate without bound.
        (
            "SELECT REPEAT(`user`, 1000000000), merchant, amount FROM tx",
            "function `repeat` is not available",
        ),
    ];
    for (query, says) in cases {
        let text = base.replace("SELECT `user`, merchant, amount FROM tx", query);
        let script = script_in(dir.path(), "refused", &text);
        let err = weir(&["sql", "-q", script.to_str().expect("utf-8")]).failed();
        assert!(err.contains(says), "{query}: {err}");
        // The INSERT starts on the script's line 17.
        assert!(err.contains("refused.sql:17:1"), "{query}: {err}");
        assert!(
            !dir.path().join("refused.out.jsonl").exists(),
            "{query}: nothing may run"
        );
    }
}

#[test]
fn weir_run_takes_a_script_and_print_job_shows_the_job_it_makes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(suite().join("queries/filter.sql")).expect("script");
    let script = script_in(dir.path(), "filter", &text);
    let job = weir(&["sql", "--print-job", script.to_str().expect("utf-8")])
        .ok()
        .stdout();
    assert!(
        job.contains("[[stages]]") && job.contains("amount >= 50"),
        "{job}"
    );
    // The job file it prints runs as a job file, with the same rows.
    let job_path = dir.path().join("filter.toml");
    std::fs::write(&job_path, &job).expect("write job");
    weir(&["run", "-q", job_path.to_str().expect("utf-8")]).ok();
    let from_toml = rows(&dir.path().join("filter.out.jsonl"), 0);
    std::fs::remove_file(dir.path().join("filter.out.jsonl")).expect("rm");
    weir(&["run", "-q", script.to_str().expect("utf-8")]).ok();
    let from_sql = rows(&dir.path().join("filter.out.jsonl"), 0);
    assert!(!from_sql.is_empty());
    assert_eq!(from_sql, from_toml);
    assert_eq!(from_sql, rows(&suite().join("expected/filter.jsonl"), 1));
    // A job file may hold the script itself, its other keys on top.
    std::fs::remove_file(dir.path().join("filter.out.jsonl")).expect("rm");
    let holding = dir.path().join("holding.toml");
    let script_text = std::fs::read_to_string(&script).expect("script");
    std::fs::write(
        &holding,
        format!(
            "name = \"holding\"\nsql = '''\n{script_text}'''\n[limits]\nhost_memory = \"200MiB\"\n"
        ),
    )
    .expect("write job");
    let shown = weir(&["validate", holding.to_str().expect("utf-8")])
        .ok()
        .stdout();
    assert!(shown.contains("holding"), "{shown}");
    weir(&["run", "-q", holding.to_str().expect("utf-8")]).ok();
    assert_eq!(rows(&dir.path().join("filter.out.jsonl"), 0), from_sql);
}

#[test]
fn weir_submit_takes_a_script_and_the_host_gives_flinks_rows() {
    let s = weir_e2e::serve::Server::start(&[("acme", "")]);
    let dir = tempfile::tempdir().expect("tempdir");
    // The script as a user writes it: its input beside it.
    std::fs::copy(
        suite().join("input/tx_time.jsonl"),
        dir.path().join("tx_time.jsonl"),
    )
    .expect("copy input");
    let text = std::fs::read_to_string(suite().join("queries/tumble_per_user.sql"))
        .expect("script")
        .replace("{input}/", "")
        .replace("{output}", "out.jsonl");
    std::fs::write(dir.path().join("per_user.sql"), text).expect("write script");
    let said = s
        .cli_in(dir.path(), "acme", &["submit", "per_user.sql"])
        .ok()
        .stdout();
    assert!(said.contains("submitted job `per_user`"), "{said}");
    let st = s.wait_ended("acme", "per_user", std::time::Duration::from_secs(120));
    assert_eq!(st["state"], "finished", "{st:#}");
    let out = s.cli("acme", &["output", "per_user"]).ok().stdout();
    let key = |v: &Value| rounded(v).to_string();
    let mut got: Vec<Value> = out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a JSON row"))
        .collect();
    let mut expected = rows(&suite().join("expected/tumble_per_user.jsonl"), 1);
    got.sort_by_key(key);
    expected.sort_by_key(key);
    assert_eq!(got.len(), expected.len());
    assert!(
        got.iter().zip(&expected).all(|(g, e)| close(g, e)),
        "weir's rows through the host differ from Flink's"
    );
}

/// The cells of a table the shell printed: one row per `| … |` line
/// after the header.
fn table_rows(out: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = out.lines().filter(|l| l.starts_with('|')).map(|l| {
        l.trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect::<Vec<_>>()
    });
    let header = lines.next().unwrap_or_default();
    (header, lines.collect())
}

/// A row of Flink's expected file as the shell's cells: strings as they
/// are, NULL as `<NULL>`, numbers by value.
fn cells_of(row: &Value, columns: &[String]) -> Vec<String> {
    columns
        .iter()
        .map(|c| match &row[c] {
            Value::Null => "<NULL>".into(),
            Value::String(s) => s.clone(),
            Value::Number(n) => n.as_f64().expect("a number").to_string(),
            other => other.to_string(),
        })
        .collect()
}

/// What the shell prints for `input`, its statements, run in the input
/// directory; it must end well.
fn shell(input: &str) -> String {
    let mut child = std::process::Command::new(weir_e2e::weir_bin())
        .arg("sql")
        .current_dir(suite().join("input"))
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("weir sql");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write statements");
    let output = child.wait_with_output().expect("weir sql ends");
    let out = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

#[test]
fn the_shell_keeps_tables_and_prints_a_selects_rows_as_a_table() {
    let script =
        std::fs::read_to_string(suite().join("queries/tumble_per_user.sql")).expect("script");
    // The script's source table, declared in the shell with a path
    // relative to the shell's directory; then the query as a SELECT.
    let ddl_start = script.find("CREATE TABLE tx").expect("tx");
    let ddl_end = ddl_start + script[ddl_start..].find(");\n").expect("end of tx") + 2;
    let ddl = script[ddl_start..ddl_end].replace("{input}/", "");
    let select = &script[script.find("SELECT window_start").expect("select")..];
    let input = format!(
        "HELP;\nCREATE TABLE nope (a DECIMAL(10, 2)) WITH ('connector' = 'blackhole');\n{ddl}\n\
         SELECT nothing FROM tx;\n{}\nQUIT;\n",
        select.replace(
            "COUNT(*), SUM(amount)",
            "COUNT(*) AS cnt, SUM(amount) AS total"
        )
    );
    let out = shell(&input);
    assert!(out.contains("CREATE TABLE … WITH"), "HELP: {out}");
    // A table of a type weir does not read is refused where it is
    // declared, a query of an unknown column where it is run; the session
    // goes on.
    assert!(out.contains("[ERROR]") && out.contains("nothing"), "{out}");
    let (header, mut got) = table_rows(&out);
    assert_eq!(
        header,
        ["window_start", "window_end", "user", "cnt", "total"],
        "{out}"
    );
    let mut expected: Vec<Vec<String>> = rows(&suite().join("expected/tumble_per_user.jsonl"), 1)
        .iter()
        .map(|r| cells_of(r, &header))
        .collect();
    let by_value = |rows: &mut Vec<Vec<String>>| {
        for r in rows.iter_mut() {
            for c in r.iter_mut() {
                // To 10 digits: see `close`.
                if let Ok(x) = c.parse::<f64>() {
                    *c = format!("{x:.9e}");
                }
            }
        }
        rows.sort();
    };
    by_value(&mut got);
    by_value(&mut expected);
    assert_eq!(got.len(), expected.len(), "{out}");
    assert_eq!(got, expected);
    assert!(
        out.contains(&format!("Received a total of {} rows", expected.len())),
        "{out}"
    );
}

#[test]
fn the_shell_shows_an_updating_querys_changes_in_an_op_column() {
    shell_leaves_flinks_table(
        "group_per_user",
        "SELECT `user`, COUNT(*) AS cnt, SUM(amount) AS total, MAX(amount) AS biggest \
         FROM tx GROUP BY `user`",
        &["op", "user", "cnt", "total", "biggest"],
    );
    shell_leaves_flinks_table(
        "topn_per_merchant",
        "SELECT ts, merchant, `user`, amount, rn FROM ( \
           SELECT *, ROW_NUMBER() OVER (PARTITION BY merchant ORDER BY amount DESC) AS rn FROM tx \
         ) WHERE rn <= 3",
        &["op", "ts", "merchant", "user", "amount", "rn"],
    );
}

/// `query` over conformance query `name`'s table `tx`, in the shell:
/// its changes (columns `columns`, `op` first) leave the table Flink's
/// changelog for `name` leaves.
fn shell_leaves_flinks_table(name: &str, query: &str, columns: &[&str]) {
    let script =
        std::fs::read_to_string(suite().join(format!("queries/{name}.sql"))).expect("script");
    let ddl_start = script.find("CREATE TABLE tx").expect("tx");
    let ddl_end = ddl_start + script[ddl_start..].find(");\n").expect("end of tx") + 2;
    let ddl = script[ddl_start..ddl_end].replace("{input}/", "");
    let input = format!("{ddl}\n{query};\nQUIT;\n");
    let out = shell(&input);
    let (header, got) = table_rows(&out);
    assert_eq!(header, columns, "{out}");
    // The table the changes leave is the one Flink's changelog leaves.
    let mut table: Vec<Vec<String>> = Vec::new();
    for row in got {
        let (op, cells) = row.split_first().expect("cells");
        match op.as_str() {
            "+I" | "+U" => table.push(cells.to_vec()),
            "-U" | "-D" => {
                let at = table
                    .iter()
                    .position(|r| r == cells)
                    .expect("a row to retract");
                table.swap_remove(at);
            }
            other => panic!("op {other}: {out}"),
        }
    }
    let columns = &header[1..];
    let numbers = |cells: Vec<String>| -> Vec<String> {
        cells
            .into_iter()
            .map(|c| c.parse::<f64>().map_or(c, |x| x.to_string()))
            .collect()
    };
    let mut table: Vec<Vec<String>> = table.into_iter().map(numbers).collect();
    let mut expected: Vec<Vec<String>> =
        final_table(&rows(&suite().join(format!("expected/{name}.jsonl")), 1))
            .iter()
            .map(|r| numbers(cells_of(r, columns)))
            .collect();
    table.sort();
    expected.sort();
    assert_eq!(table, expected);
}

/// ms since the epoch of Flink's text of a TIMESTAMP(3) (`2026-12-05
/// 00:44:55.62`), in UTC (days from the civil date, Hinnant's algorithm).
fn epoch_ms(text: &str) -> i64 {
    let n: Vec<i64> = text
        .split(['-', ' ', ':', '.'])
        .map(|p| p.parse().unwrap_or_else(|e| panic!("{text}: {e}")))
        .collect();
    let frac = text.rsplit_once('.').map_or(0, |(_, f)| {
        format!("{f:0<3}")[..3].parse::<i64>().expect("ms")
    });
    let (y, m, d) = (if n[1] <= 2 { n[0] - 1 } else { n[0] }, n[1], n[2]);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 24 + n[3]) * 60 + n[4]) * 60_000 + n[5] * 1000 + frac
}

#[test]
fn a_proctime_column_is_the_wall_clock_when_its_rows_are_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "CREATE TABLE tx (ts BIGINT, `user` STRING, amount DOUBLE, pt AS PROCTIME()) \
         WITH ('connector' = 'filesystem', 'path' = '{input}/tx.jsonl', 'format' = 'json');\n\
         CREATE TABLE out_rows (`user` STRING, pt TIMESTAMP(3)) \
         WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');\n\
         INSERT INTO out_rows SELECT `user`, pt FROM tx WHERE amount > 170;\n";
    let script = script_in(dir.path(), "proctime", text);
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let run = weir(&["sql", "-q", script.to_str().expect("utf-8")]);
    let after = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    assert!(run.output.status.success(), "{}", run.stderr());
    // The rows the filter keeps, counted from the input by the test.
    let input = rows(&suite().join("input/tx.jsonl"), 0);
    let kept = input
        .iter()
        .filter(|r| r["amount"].as_f64().is_some_and(|a| a > 170.0))
        .count();
    let got = rows(&dir.path().join("proctime.out.jsonl"), 0);
    assert!(kept > 0);
    assert_eq!(epoch_ms("2023-11-14 22:13:20.265"), 1_700_000_000_265);
    assert_eq!(got.len(), kept);
    for r in &got {
        let pt = epoch_ms(r["pt"].as_str().expect("a timestamp"));
        assert!(
            (before..=after).contains(&pt),
            "{r}: not between {before} and {after}"
        );
    }
    // (Windows and OVER over it: `sql_processing_time.rs`.) A WATERMARK
    // on a computed column other than a TIMESTAMP of ms is refused.
    let text = text
        .replace(
            "pt AS PROCTIME())",
            "ms AS TO_TIMESTAMP_LTZ(ts, 0), WATERMARK FOR ms AS ms)",
        )
        .replace("SELECT `user`, pt FROM tx", "SELECT `user`, ms FROM tx");
    let script = script_in(dir.path(), "refused", &text);
    let err = weir(&["sql", "-q", script.to_str().expect("utf-8")]).failed();
    assert!(
        err.contains("WATERMARK FOR `ms`: the computed column `TO_TIMESTAMP_LTZ(ts, 0)` is not an event time weir reads"),
        "{err}"
    );
}
