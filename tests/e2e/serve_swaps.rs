//! Live swaps through `weir serve`'s API, as users drive them with the
//! CLI: a window aggregate swapped with its open windows carried over, and
//! a canary that traps, rolled back automatically, then a manual rollback.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use weir_e2e::serve::Server;
use weir_e2e::tag::versions_by_record;
use weir_e2e::{canonical, operator};

const LONG: Duration = Duration::from_secs(180);

/// A tag job (see [`weir_e2e::tag`]) checkpointing every 200 ms: its job
/// file's name in `dir`.
fn tag_job(dir: &Path, name: &str, rows: usize, rate: u64, config: &str) -> String {
    weir_e2e::tag::tag_job(dir, name, rows, rate, "200ms", config);
    format!("{name}.toml")
}

#[test]
fn a_window_aggregate_swapped_through_the_host_carries_its_open_windows_over() {
    let s = Server::start(&[("acme", "")]);
    let dir = tempfile::tempdir().expect("tempdir");
    let rows = 30_000i64;
    let ts0 = 1_700_000_000_000i64;
    let record = |i: i64| (format!("u{}", i % 5), i % 7 + 1, ts0 + i * 10);
    let input: String = (0..rows)
        .map(|i| {
            let (user, amount, ts) = record(i);
            format!("{{\"i\":{i},\"user\":\"{user}\",\"amount\":{amount},\"ts\":{ts}}}\n")
        })
        .collect();
    std::fs::write(dir.path().join("input.jsonl"), input).expect("input");
    std::fs::write(
        dir.path().join("tally.toml"),
        format!(
            r#"name = "tally"
parallelism = 2
# Barriers come between batches: 73 records never end a 500-record window
# within the input, so the switch always falls inside open windows.
batch_size = 73
[source]
type = "file"
path = "input.jsonl"
rate = 6000
[event_time]
field = "ts"
[key_by]
field = "user"
[window]
type = "tumbling"
size = "5s"
[window.aggregate]
name = "tally"
component = "{v1}"
[sink]
type = "file"
path = "out.jsonl"
[late_output]
type = "file"
path = "late.jsonl"
[state]
backend = "rocksdb"
[checkpoint]
interval = "200ms"
"#,
            v1 = operator("tally-v1")
        ),
    )
    .expect("job");
    s.cli_in(dir.path(), "acme", &["submit", "tally.toml"]).ok();
    s.wait_for("acme", "tally", LONG, "checkpointed", |st| {
        st["last_checkpoint"]["epoch"].as_u64().is_some()
    });
    // Another world (a transform for an aggregate): refused, the old
    // version keeps running.
    let refused = s
        .cli("acme", &["swap", "tally", "tally", &operator("tag-v2")])
        .failed();
    assert!(
        refused.contains("refused") && refused.contains("world"),
        "{refused}"
    );
    let swapped = s
        .cli("acme", &["swap", "tally", "tally", &operator("tally-v2")])
        .ok()
        .stdout();
    assert!(
        swapped.contains("live after checkpoint barrier"),
        "{swapped}"
    );
    let st = s.wait_ended("acme", "tally", LONG);
    assert_eq!(st["state"], "finished", "{st:#}");
    let versions = st["operators"][0]["versions"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(versions, 2, "{st:#}");

    // One switch point S explains every window: records before it were
    // added by v1 (amount × 1), records from it on by v2 (amount × 10), and
    // windows open at the switch hold both, in one accumulator.
    let out = s.cli("acme", &["output", "tally"]).ok().stdout();
    let mut got: BTreeMap<(String, i64), (i64, i64, i64)> = BTreeMap::new();
    for l in canonical(&out) {
        let v: serde_json::Value = serde_json::from_str(&l).expect("JSON");
        let key = (
            v["key"].as_str().expect("key").to_string(),
            v["start"].as_i64().expect("start"),
        );
        let row = (
            v["by_v1"].as_i64().expect("by_v1"),
            v["by_v2"].as_i64().expect("by_v2"),
            v["total"].as_i64().expect("total"),
        );
        assert!(got.insert(key, row).is_none(), "a window fired twice");
    }
    let switch: i64 = got.values().map(|r| r.0).sum();
    assert!(
        switch > 0 && switch < rows,
        "the swap went live mid-stream: {switch}"
    );
    let mut want: BTreeMap<(String, i64), (i64, i64, i64)> = BTreeMap::new();
    for i in 0..rows {
        let (user, amount, ts) = record(i);
        let w = want.entry((user, ts - ts.rem_euclid(5000))).or_default();
        if i < switch {
            w.0 += 1;
            w.2 += amount;
        } else {
            w.1 += 1;
            w.2 += 10 * amount;
        }
    }
    assert_eq!(
        got, want,
        "the output is not v1 up to record {switch} and v2 after it"
    );
    assert!(
        got.values().filter(|r| r.0 > 0 && r.1 > 0).count() >= 1,
        "no window was open across the switch at record {switch}"
    );
}

#[test]
fn a_canary_that_traps_is_rolled_back_automatically_and_rollback_restores_the_previous_version() {
    let s = Server::start(&[("acme", "")]);
    let dir = tempfile::tempdir().expect("tempdir");
    let rows = 60_000;
    let job = tag_job(
        dir.path(),
        "canary",
        rows,
        6_000,
        "config = { mode = \"trap\" }",
    );
    s.cli_in(dir.path(), "acme", &["submit", &job]).ok();
    s.wait_for("acme", "canary", LONG, "checkpointed", |st| {
        st["last_checkpoint"]["epoch"].as_u64().is_some()
    });
    let rolled_back = s
        .cli(
            "acme",
            &[
                "swap",
                "canary",
                "tag",
                &operator("misbehave"),
                "--canary",
                "500",
            ],
        )
        .failed();
    assert!(
        rolled_back.contains("canary rolled back") && rolled_back.contains("operator bug"),
        "{rolled_back}"
    );
    let st = s.status("acme", "canary");
    assert_eq!(st["state"], "running", "{st:#}");
    assert_eq!(
        st["operators"][0]["versions"]
            .as_array()
            .map_or(0, Vec::len),
        1
    );

    // A canary judged by time: promoted after 500 ms of shadowing.
    let promoted = s
        .cli(
            "acme",
            &[
                "swap",
                "canary",
                "tag",
                &operator("tag-v2"),
                "--canary-for",
                "500ms",
            ],
        )
        .ok()
        .stdout();
    assert!(
        promoted.contains("promoted after") && promoted.contains("live after checkpoint barrier"),
        "{promoted}"
    );
    std::thread::sleep(Duration::from_millis(500));
    let back = s.cli("acme", &["rollback", "canary", "tag"]).ok().stdout();
    assert!(back.contains("live after checkpoint barrier"), "{back}");
    let st = s.wait_ended("acme", "canary", LONG);
    assert_eq!(st["state"], "finished", "{st:#}");
    let origins: Vec<&str> = st["operators"][0]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["origin"].as_str())
        .collect();
    assert_eq!(origins, ["job-file", "swap", "rollback"], "{st:#}");

    let by_i = versions_by_record(&s.cli("acme", &["output", "canary"]).ok().stdout());
    assert_eq!(by_i.len(), rows, "records lost or repeated");
    let mut runs: Vec<i64> = by_i.iter().map(|(_, v)| *v).collect();
    runs.dedup();
    assert_eq!(runs, vec![1, 2, 1], "versions in source order");
}
