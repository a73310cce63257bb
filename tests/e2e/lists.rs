//! List columns (`list<string>` in a schema, `Vec<String>` / `list[str]`
//! fields) in real jobs: JSON arrays decoded once into a list column,
//! read and written by operators over columns in Rust and in Python
//! (`examples/sessionize/rename`, `examples/sessionize/python/rename`,
//! built from source) and by a window aggregate (`tests/operators/
//! tags-columns`), checked against the test's own reading of the input; a
//! record whose list holds a null, or whose list is not a list, goes to
//! the dead-letter output with the reason, and nothing is lost.

use serde_json::{Value, json};
use std::path::Path;
use weir_e2e::{TestRng, canonical, canonical_lines, repo, weir};

/// Lines shaped like a session window's results, some unfit: the count of
/// each kind of unfit line is returned with the text.
fn input(rows: u64) -> (String, usize, usize) {
    let mut text = String::new();
    let (mut null_items, mut not_lists) = (0, 0);
    let mut rng = TestRng::from_env();
    let mut next = |n: u64| rng.between(0, n);
    for i in 0..rows {
        let pages: Vec<Value> = (0..next(5))
            .map(|_| json!(format!("/page/{}", next(40))))
            .collect();
        let mut pages = Value::Array(pages);
        if i % 97 == 13 {
            pages.as_array_mut().expect("array").push(Value::Null);
            null_items += 1;
        } else if i % 131 == 7 {
            pages = json!("not a list");
            not_lists += 1;
        }
        let start = (i as i64) * 1000;
        let line = json!({
            "ts": start + 5,
            "key": format!("user-{}", next(50)),
            "window_start": start,
            "window_end": start + 30_000,
            "clicks": next(9),
            "pages": pages,
        });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    (text, null_items, not_lists)
}

/// What the rename map makes of the lines that fit, by the test's own
/// reading of them.
fn model(text: &str) -> Vec<String> {
    let rows = text.lines().filter_map(|l| {
        let v: Value = serde_json::from_str(l).ok()?;
        let pages = v["pages"].as_array()?;
        if pages.iter().any(Value::is_null) {
            return None;
        }
        Some(
            json!({
                "user": v["key"], "start": v["window_start"], "end": v["window_end"],
                "clicks": v["clicks"], "pages": pages,
            })
            .to_string(),
        )
    });
    canonical(&rows.collect::<Vec<_>>().join("\n"))
}

/// A job over `input.jsonl` in `dir`: `parallelism`, the source's
/// `schema` section (or none), then `stages` (the sections between event
/// time and the outputs); results and dead letters to `{name}-*.jsonl`.
fn job(dir: &Path, name: &str, parallelism: usize, schema: &str, stages: &str) -> String {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"name = "{name}"
parallelism = {parallelism}
batch_size = 256
[source]
type = "file"
path = "input.jsonl"
{schema}
[event_time]
field = "ts"
{stages}
[sink]
type = "file"
path = "{name}-out.jsonl"
[dead_letter]
type = "file"
path = "{name}-dead.jsonl"
"#
        ),
    )
    .expect("write job");
    path.display().to_string()
}

/// The rename map of `component` (a path under the repository).
fn rename(component: &str) -> String {
    format!(
        "[[operators]]\nname = \"rename\"\ncomponent = \"{}\"",
        repo().join(component).display()
    )
}

#[test]
fn list_columns_cross_to_rust_and_python_operators_and_unfit_lists_go_to_dead_letters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (text, null_items, not_lists) = input(5_000);
    assert!(null_items > 10 && not_lists > 10);
    std::fs::write(d.join("input.jsonl"), &text).expect("write input");
    let expected = model(&text);
    assert_eq!(expected.len(), 5_000 - null_items - not_lists);
    let declared = r#"[source.schema]
ts = "int"
key = "string"
window_start = "int"
window_end = "int"
clicks = "int"
pages = "list<string>""#;
    for (name, component, p, schema) in [
        ("rust", "examples/sessionize/rename", 1, ""),
        ("rust-p2", "examples/sessionize/rename", 2, ""),
        ("rust-declared", "examples/sessionize/rename", 1, declared),
        ("python", "examples/sessionize/python/rename", 2, ""),
    ] {
        let j = job(d, name, p, schema, &rename(component));
        weir(&["run", "-q", &j]).ok();
        assert_eq!(
            canonical_lines(&d.join(format!("{name}-out.jsonl"))),
            expected,
            "{name}"
        );
        let dead: Vec<Value> = canonical_lines(&d.join(format!("{name}-dead.jsonl")))
            .iter()
            .map(|l| serde_json::from_str(l).expect("JSON"))
            .collect();
        let first = dead.first().map(Value::to_string).unwrap_or_default();
        assert_eq!(dead.len(), null_items + not_lists, "{name}: {first}");
        let reason = |d: &Value| d["reason"].as_str().unwrap_or_default().to_string();
        assert!(
            dead.iter().all(|d| reason(d).contains("pages")),
            "{name}: a reason that does not name the column: {first}"
        );
        // The inferred schema lets a null item through the source, and the
        // operator is not given it; a declared `list<string>` stops it at
        // the source.
        let held_null = |d: &Value| {
            let record: Value = serde_json::from_str(d["record"].as_str().unwrap_or("{}"))
                .expect("the record as it came");
            record["pages"]
                .as_array()
                .is_some_and(|p| p.contains(&Value::Null))
        };
        assert_eq!(
            dead.iter().filter(|d| held_null(d)).count(),
            null_items,
            "{name}"
        );
        assert!(
            dead.iter()
                .filter(|d| held_null(d))
                .all(|d| reason(d).contains("`pages` holds a null inside its list")),
            "{name}: {first}"
        );
        let by_operator = dead
            .iter()
            .filter(|d| held_null(d) && d["stage"] == "operator")
            .count();
        let want = if schema.is_empty() { null_items } else { 0 };
        assert_eq!(by_operator, want, "{name}: {first}");
    }
}

/// `n` tagged records 50 ms apart, in order, over 10 users; every 89th
/// has a null among its tags. Returns the text and how many have one.
fn tagged(n: u64) -> (String, usize) {
    let start = 1_700_000_000_000i64;
    let mut text = String::new();
    let mut nulls = 0;
    let mut rng = TestRng::from_env();
    let mut next = |n: u64| rng.between(0, n);
    for i in 0..n {
        let mut tags: Vec<Value> = (0..next(4))
            .map(|_| json!(format!("t{}", next(10))))
            .collect();
        if i % 89 == 44 {
            tags.push(Value::Null);
            nulls += 1;
        }
        let line =
            json!({"ts": start + 50 * i as i64, "user": format!("u{}", next(10)), "tags": tags});
        text.push_str(&line.to_string());
        text.push('\n');
    }
    (text, nulls)
}

/// Per user and 10 s window, the number of tags and the distinct ones, by
/// the test's own count over the records without a null tag.
fn tag_windows(text: &str) -> Vec<String> {
    let mut windows: std::collections::BTreeMap<(String, i64), Vec<String>> = Default::default();
    for l in text.lines() {
        let v: Value = serde_json::from_str(l).expect("JSON");
        let tags = v["tags"].as_array().expect("tags");
        if tags.contains(&Value::Null) {
            continue;
        }
        let ts = v["ts"].as_i64().expect("ts");
        let start = ts - ts.rem_euclid(10_000);
        let user = v["user"].as_str().expect("user").to_string();
        windows
            .entry((user, start))
            .or_default()
            .extend(tags.iter().map(|t| t.as_str().expect("text").to_string()));
    }
    let rows = windows.into_iter().map(|((user, start), mut tags)| {
        let count = tags.len();
        tags.sort();
        tags.dedup();
        json!({"key": user, "window_start": start, "window_end": start + 10_000, "count": count, "distinct": tags})
            .to_string()
    });
    canonical(&rows.collect::<Vec<_>>().join("\n"))
}

#[test]
fn a_window_aggregate_reads_a_list_column_and_a_record_with_a_null_tag_goes_to_dead_letters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (text, nulls) = tagged(4_000);
    assert!(nulls > 20);
    std::fs::write(d.join("input.jsonl"), &text).expect("write input");
    let expected = tag_windows(&text);
    let op = weir_e2e::operator("tags-columns");
    let declared = "[source.schema]\nts = \"int\"\nuser = \"string\"\ntags = \"list<string>\"";
    for (name, p, schema) in [
        ("inferred", 1, ""),
        ("inferred-p2", 2, ""),
        ("declared", 2, declared),
    ] {
        let stages = format!(
            r#"[key_by]
field = "user"
[window]
type = "tumbling"
size = "10s"
aggregate = {{ name = "tags", component = "{op}" }}
[late_output]
type = "discard"   # the records are in order: none is late"#
        );
        let job = job(d, name, p, schema, &stages);
        weir(&["run", "-q", &job]).ok();
        assert_eq!(
            canonical_lines(&d.join(format!("{name}-out.jsonl"))),
            expected,
            "{name}"
        );
        let dead = canonical_lines(&d.join(format!("{name}-dead.jsonl")));
        assert_eq!(dead.len(), nulls, "{name}: {:?}", dead.first());
        assert!(
            dead.iter()
                .all(|l| l.contains("`tags` holds a null inside its list")),
            "{name}: {:?}",
            dead.first()
        );
    }
}
