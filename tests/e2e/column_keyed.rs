//! A keyed Wasm operator over typed columns (`weir:dataflow@0.2.0`: the
//! `count-columns` test operator, built from source): the stage hands it
//! the columns it named at `init` and each row's key; its state is the
//! host's. A running count per key must equal one counted here over the
//! good records in file order — at parallelism 1 and 2, as a one-chain job
//! and as a graph stage, with the stage decoding the records into the
//! operator's columns itself and with a source that declares its schema,
//! whose columns the stage hands on as they are — and records that do not
//! fit must go to the dead-letter output, saying why. The same in Python
//! (`tally-py`, the SDK's `@weir.keyed`) with value, list and map state.

use std::collections::BTreeMap;
use weir_e2e::{canonical_lines, operator, weir_bin};

/// Run `job` (written to `dir/job.toml`) with weir's info log: whether it
/// succeeded, and its log.
fn run_job(dir: &std::path::Path, job: &str) -> (bool, String) {
    let path = dir.join("job.toml");
    std::fs::write(&path, job).expect("job");
    let ran = std::process::Command::new(weir_bin())
        .args(["run", path.to_str().expect("utf-8")])
        .env("RUST_LOG", "warn,weir=info")
        .output()
        .expect("run weir");
    (
        ran.status.success(),
        String::from_utf8_lossy(&ran.stderr).into_owned(),
    )
}

/// Lines of the input; the good ones are `{"ts", "i", "user"}`.
fn input(n: u64) -> (String, Vec<(u64, String)>) {
    let mut text = String::new();
    let mut good = Vec::new();
    for i in 0..n {
        let user = format!("u{}", (i * 7 + i / 13) % 11);
        let ts = 1_700_000_000_000 + 10 * i;
        let line = match i {
            50 => "not JSON at all".to_string(),
            60 => format!(r#"{{"ts":{ts},"i":"sixty","user":"{user}"}}"#),
            70 => format!(r#"{{"ts":{ts},"user":"{user}"}}"#),
            _ => {
                good.push((i, user.clone()));
                format!(r#"{{"ts":{ts},"i":{i},"user":"{user}"}}"#)
            }
        };
        text.push_str(&line);
        text.push('\n');
    }
    (text, good)
}

/// The running count per key over `good`, in order: the rows the
/// operator must emit.
fn model(good: &[(u64, String)]) -> Vec<String> {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    let mut rows: Vec<String> = good
        .iter()
        .map(|(i, user)| {
            let n = counts.entry(user).or_default();
            *n += 1;
            serde_json::json!({"i": i, "key": user, "n": *n, "v": 3}).to_string()
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn a_keyed_operator_over_columns_counts_per_key_and_sets_bad_records_aside() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (text, good) = input(5_000);
    let inp = dir.path().join("input.jsonl");
    std::fs::write(&inp, text).expect("input");
    let want = model(&good);
    let op = operator("count-columns");
    for declared in [false, true] {
        for graph in [false, true] {
            for parallelism in [1, 2] {
                let what = format!("declared {declared}, graph {graph}, p{parallelism}");
                let run = dir.path().join(what.replace([' ', ','], "-"));
                std::fs::create_dir_all(&run).expect("run dir");
                let schema = if declared {
                    "[source.schema]\nts = \"int64\"\ni = \"int64\"\nuser = \"string\"\n"
                } else {
                    ""
                };
                let keyed = if graph {
                    format!(
                        "[[stages]]\nname = \"counts\"\ninputs = [\"source\"]\nkey_by = {{ field = \"user\" }}\nkeyed = {{ name = \"count\", component = \"{op}\" }}"
                    )
                } else {
                    format!(
                        "[key_by]\nfield = \"user\"\n[keyed]\nname = \"count\"\ncomponent = \"{op}\""
                    )
                };
                let job = format!(
                    r#"name = "keyed-columns"
parallelism = {parallelism}
batch_size = 256
[source]
type = "file"
path = "{inp}"
{schema}
[event_time]
field = "ts"
{keyed}
[sink]
type = "file"
path = "{out}/out.jsonl"
[dead_letter]
type = "file"
path = "{out}/dead.jsonl"
"#,
                    inp = inp.display(),
                    out = run.display(),
                );
                let (ok, log) = run_job(&run, &job);
                assert!(ok, "{what}: {log}");
                assert_eq!(
                    log.contains("the keyed operator over columns reads its input's typed columns"),
                    declared,
                    "{what}: whether the stage took the source's columns as they are: {log}"
                );
                assert_eq!(canonical_lines(&run.join("out.jsonl")), want, "{what}");
                let dead = canonical_lines(&run.join("dead.jsonl"));
                assert_eq!(dead.len(), 3, "{what}: {dead:?}");
                if !declared {
                    // The stage decodes: the two records that are JSON
                    // but lack an integer `i` are refused by it.
                    let refused = dead
                        .iter()
                        .filter(|l| {
                            l.contains("does not fit the columns keyed operator `count` reads")
                        })
                        .count();
                    assert_eq!(refused, 2, "{what}: {dead:?}");
                }
            }
        }
    }
}

/// What `tally-py` must emit for `good`: per key, in order, the count,
/// the last three `i`s, the count of `i`s of this one's parity, and how
/// many parities the key has seen.
fn tally_model(good: &[(u64, String)]) -> Vec<String> {
    #[derive(Default)]
    struct Key {
        n: u64,
        recent: Vec<u64>,
        parity: [u64; 2],
    }
    let mut keys: BTreeMap<&str, Key> = BTreeMap::new();
    let mut rows: Vec<String> = good
        .iter()
        .map(|(i, user)| {
            let k = keys.entry(user).or_default();
            k.n += 1;
            k.recent.push(*i);
            if k.recent.len() > 3 {
                k.recent.remove(0);
            }
            k.parity[(*i % 2) as usize] += 1;
            let recent: Vec<String> = k.recent.iter().map(u64::to_string).collect();
            serde_json::json!({
                "key": user, "i": i, "n": k.n, "recent": recent.join(","),
                "same_parity": k.parity[(*i % 2) as usize],
                "parities": k.parity.iter().filter(|c| **c > 0).count(),
            })
            .to_string()
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn a_python_keyed_operator_keeps_value_list_and_map_state_in_the_host() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (text, good) = input(3_000);
    let inp = dir.path().join("input.jsonl");
    std::fs::write(&inp, text).expect("input");
    for parallelism in [1, 2] {
        let run = dir.path().join(format!("p{parallelism}"));
        std::fs::create_dir_all(&run).expect("run dir");
        let job = format!(
            r#"name = "tally-py"
parallelism = {parallelism}
batch_size = 256
[source]
type = "file"
path = "{inp}"
[event_time]
field = "ts"
[key_by]
field = "user"
[keyed]
name = "tally"
component = "{op}"
[sink]
type = "file"
path = "{out}/out.jsonl"
[dead_letter]
type = "file"
path = "{out}/dead.jsonl"
[state]
backend = "rocksdb"
path = "{out}/state"
"#,
            inp = inp.display(),
            op = operator("tally-py"),
            out = run.display(),
        );
        let (ok, log) = run_job(&run, &job);
        assert!(ok, "p{parallelism}: {log}");
        assert_eq!(
            canonical_lines(&run.join("out.jsonl")),
            tally_model(&good),
            "p{parallelism}"
        );
        assert_eq!(canonical_lines(&run.join("dead.jsonl")).len(), 3);
    }
    // A None in a field that is not Optional fails the job, naming it,
    // rather than being written as "".
    let run = dir.path().join("broken");
    std::fs::create_dir_all(&run).expect("run dir");
    let job = format!(
        r#"name = "tally-py-broken"
[source]
type = "file"
path = "{inp}"
[key_by]
field = "user"
[keyed]
name = "tally"
component = "{op}"
config = {{ broken = true }}
[sink]
type = "file"
path = "{out}/out.jsonl"
[dead_letter]
type = "discard"
"#,
        inp = inp.display(),
        op = operator("tally-py"),
        out = run.display(),
    );
    let (ok, log) = run_job(&run, &job);
    assert!(!ok, "the job ran: {log}");
    assert!(
        log.contains("field `recent` of an output row is None"),
        "{log}"
    );
}
