//! Python operators over typed columns (the `weir` SDK) in real jobs
//! through the `weir` binary: the map+filter per row
//! (tests/operators/map-filter-py) and per batch
//! (tests/operators/map-filter-py-batch) held to the model
//! (tests/reference/map_filter.py); rows with nulls where the class allows
//! none, and rows a function raises on, rejected to the dead letters and
//! the rest kept (tests/operators/picky-py); a batch filter's selection,
//! and its exception failing the job (tests/operators/picky-py-batch).

#[path = "columns_jobs.rs"]
mod jobs;
use jobs::{input, job, model};
use std::path::{Path, PathBuf};
use weir_e2e::{canonical_lines, weir};

/// The map+filter in Python, per row (`@weir.map`, map-filter-py) and per
/// batch (`@weir.map_batch`, map-filter-py-batch), against the model.
#[test]
fn a_python_operator_over_columns_gives_what_the_model_gives() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let input = input(d, 12_000, 0);
    let expected_dead = model(&input, &d.join("expected.jsonl"));
    for (name, op) in [
        ("python", "map-filter-py"),
        ("batch", "map-filter-py-batch"),
    ] {
        let j = job(d, name, &input, op, "", 2);
        weir(&["run", "-q", j.to_str().expect("utf-8")]).ok();
        let out = canonical_lines(&d.join(format!("{name}-out.jsonl")));
        assert!(
            out.len() > 5_000,
            "{op}: only {} records came out",
            out.len()
        );
        assert_eq!(out, canonical_lines(&d.join("expected.jsonl")), "{op}");
        let dead = canonical_lines(&d.join(format!("{name}-dead.jsonl")));
        assert_eq!(dead.len(), expected_dead, "{op}: {dead:#?}");
    }
}

/// `rows` generated transactions (seed `seed`) with the merchant left out
/// of every `every`-th of the first `upto`, written to `input.jsonl` in
/// `dir`; the path and the records as written.
fn without_some_merchants(
    dir: &Path,
    rows: u64,
    seed: u64,
    every: usize,
    upto: usize,
) -> (PathBuf, Vec<serde_json::Value>) {
    let raw = weir_e2e::generate_transactions(dir, "raw", rows, 300, seed, 10, 0);
    let mut text = String::new();
    let mut records = Vec::new();
    for (i, line) in std::fs::read_to_string(raw)
        .expect("input")
        .lines()
        .enumerate()
    {
        let mut v: serde_json::Value = serde_json::from_str(line).expect("generated JSON");
        if i < upto && i % every == every / 2 {
            v.as_object_mut().expect("object").remove("merchant");
        }
        text.push_str(&v.to_string());
        text.push('\n');
        records.push(v);
    }
    let input = dir.join("input.jsonl");
    std::fs::write(&input, text).expect("write input");
    (input, records)
}

#[test]
fn a_python_operator_rejects_the_rows_it_raises_on_or_cannot_read_and_keeps_the_rest() {
    // tests/operators/picky-py raises for amounts over 95, drops those
    // under 10; a record without a merchant has a null where its class
    // allows none. Only the first half has such records, so the second
    // half's batches take the SDK's path for batches without nulls (the
    // rows looped in C), the first half's the one that checks each row.
    // The expected output and dead letters are the test's own reading of
    // the input.
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (input, records) = without_some_merchants(d, 6_000, 11, 51, 3_000);
    let (mut want, mut too_much, mut no_merchant, mut too_much_later) = (Vec::new(), 0, 0, 0);
    for (i, v) in records.iter().enumerate() {
        let amount = v["amount"].as_f64().expect("amount");
        if v.get("merchant").is_none() {
            no_merchant += 1;
        } else if amount > 95.0 {
            too_much += 1;
            too_much_later += usize::from(i >= 3_500);
        } else if amount >= 10.0 {
            want.push(
                serde_json::json!({"user": v["user"], "cents": (amount * 100.0) as i64, "merchant": v["merchant"]})
                    .to_string(),
            );
        }
    }
    assert!(
        too_much_later > 20 && no_merchant > 50,
        "{too_much_later} {no_merchant}"
    );
    for p in [1, 2] {
        let j = job(d, &format!("picky{p}"), &input, "picky-py", "", p);
        weir(&["run", "-q", j.to_str().expect("utf-8")]).ok();
        let out = canonical_lines(&d.join(format!("picky{p}-out.jsonl")));
        assert_eq!(out, weir_e2e::canonical(&want.join("\n")), "p{p}");
        let dead = canonical_lines(&d.join(format!("picky{p}-dead.jsonl")));
        let count = |what: &str| dead.iter().filter(|l| l.contains(what)).count();
        assert_eq!(count("is too much"), too_much, "p{p}");
        assert_eq!(count("field `merchant` is null"), no_merchant, "p{p}");
        assert_eq!(dead.len(), too_much + no_merchant, "p{p}");
    }
}

#[test]
fn a_python_batch_filter_keeps_what_it_selects_rejects_nulls_and_fails_loudly_when_it_raises() {
    // tests/operators/picky-py-batch keeps amounts from 10 to 95; a record
    // without a merchant has a null where its class allows none. The
    // expected output and dead letters are the test's own reading.
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (input, records) = without_some_merchants(d, 5_000, 13, 97, 5_000);
    let (mut want, mut no_merchant) = (Vec::new(), 0);
    for v in &records {
        let amount = v["amount"].as_f64().expect("amount");
        if v.get("merchant").is_none() {
            no_merchant += 1;
        } else if (10.0..=95.0).contains(&amount) {
            want.push(v.to_string());
        }
    }
    assert!(
        no_merchant > 40 && want.len() > 1_000,
        "{no_merchant} {}",
        want.len()
    );
    for p in [1, 2] {
        let j = job(d, &format!("batch{p}"), &input, "picky-py-batch", "", p);
        weir(&["run", "-q", j.to_str().expect("utf-8")]).ok();
        let out = canonical_lines(&d.join(format!("batch{p}-out.jsonl")));
        assert_eq!(out, weir_e2e::canonical(&want.join("\n")), "p{p}");
        let dead = canonical_lines(&d.join(format!("batch{p}-dead.jsonl")));
        let nulls = dead
            .iter()
            .filter(|l| l.contains("field `merchant` is null"));
        assert_eq!(nulls.count(), no_merchant, "p{p}");
        assert_eq!(dead.len(), no_merchant, "p{p}");
    }
    let j = job(d, "fails", &input, "picky-py-batch", "", 1);
    let text = std::fs::read_to_string(&j)
        .expect("job")
        .replace("[sink]", "config = { fail = true }\n[sink]");
    std::fs::write(&j, text).expect("job");
    let err = weir(&["run", "-q", j.to_str().expect("utf-8")]).failed();
    assert!(
        err.contains("`picky` raised ValueError: asked to fail on"),
        "{err}"
    );
}
