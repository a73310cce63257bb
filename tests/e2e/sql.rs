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
use weir_e2e::{repo, weir};

fn suite() -> PathBuf {
    repo().join("tests/sql/conformance")
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

/// A JSON value with every number as an f64, so that Flink's `5000.0` and
/// weir's `5000` for a DOUBLE column compare by value.
fn by_value(v: Value) -> Value {
    match v {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, by_value(v))).collect()),
        Value::Array(a) => Value::Array(a.into_iter().map(by_value).collect()),
        other => other,
    }
}

/// The rows of a JSON-lines file, by value (`skip` header lines first).
fn rows(path: &Path, skip: usize) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .skip(skip)
        .filter(|l| !l.trim().is_empty())
        .map(|l| by_value(serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))))
        .collect()
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
    assert!(names.len() >= 10, "the suite has {} queries", names.len());
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
        let run = weir(&["sql", "-q", script.to_str().expect("utf-8")]);
        if !run.output.status.success() {
            failed.push(format!("{name}: weir failed: {}", run.stderr()));
            continue;
        }
        let got = rows(&dir.path().join(format!("{name}.out.jsonl")), 0);
        if got != expected {
            let first = got
                .iter()
                .zip(&expected)
                .position(|(g, e)| g != e)
                .unwrap_or(got.len().min(expected.len()));
            failed.push(format!(
                "{name}: {} rows, Flink {}; first difference at row {first}:\n  weir:  {}\n  flink: {}",
                got.len(),
                expected.len(),
                got.get(first).map_or("-".into(), Value::to_string),
                expected.get(first).map_or("-".into(), Value::to_string)
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn what_weir_does_not_run_is_refused_before_it_starts_with_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = std::fs::read_to_string(suite().join("queries/projection.sql")).expect("script");
    let cases = [
        (
            "SELECT `user`, merchant, COUNT(*) FROM tx GROUP BY `user`, merchant",
            "an aggregation",
        ),
        (
            "SELECT a.`user`, b.merchant, a.amount FROM tx a JOIN tx b ON a.`user` = b.`user`",
            "a join",
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
}
