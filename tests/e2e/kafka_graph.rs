//! A job graph writing two Kafka topics exactly-once ([sink] and a named
//! sink), against a real broker, through SIGKILLs while its input arrives:
//! both topics end with exactly what the same graph writes over a file,
//! uninterrupted. Once reading one topic, once reading two topics as two
//! sources (`[source]` and `[[sources]]`) with barriers aligned across
//! them.

use std::time::Duration;
use weir_e2e::kafka::{broker, committed_values, create_topic, unique_topic};
use weir_e2e::kafka_run::{
    flush_partitions, kill_while_producing, produce, transactions, wait_for,
};
use weir_e2e::{canonical_lines, operator, spawn_weir, weir};

/// A job graph with two sinks: the big payments (named sink `payments`)
/// and their windows per user (`[sink]`), from the union of `inputs`
/// (`"source"`, or sources named in `source`'s `[[sources]]` too).
fn two_sink_graph(
    name: &str,
    (source, inputs): (&str, &str),
    sink: &str,
    payments: &str,
) -> String {
    format!(
        r#"
name = "{name}"
parallelism = 2
batch_size = 200
{source}
[event_time]
field = "ts"
max_out_of_orderness = "5s"
[[stages]]
name = "big"
inputs = [{inputs}]
operators = [{{ name = "big-payments", component = "{op}" }}]
[[stages]]
name = "per-user"
inputs = ["big"]
key_by = {{ field = "user" }}
window = {{ type = "tumbling", size = "1m", aggregates = [{{ fn = "count" }}, {{ fn = "sum", field = "cents" }}] }}
[sink]
{sink}
[late_output]
type = "file"
path = "out/late.jsonl"
[[sinks]]
name = "payments"
input = "big"
{payments}
"#,
        op = operator("map-filter")
    )
}

/// The windows and the payments the graph writes over a file of
/// `lines`, uninterrupted: what both topics must hold.
fn reference(d: &std::path::Path, lines: &[String]) -> (Vec<String>, Vec<String>) {
    let input = d.join("reference-input.jsonl");
    std::fs::write(&input, lines.join("\n") + "\n").expect("write");
    let reference = d.join("reference.toml");
    let file = |path: &str| format!("type = \"file\"\npath = \"{path}\"");
    let source = format!("[source]\ntype = \"file\"\npath = \"{}\"", input.display());
    std::fs::write(
        &reference,
        two_sink_graph(
            "reference",
            (&source, "\"source\""),
            &file("expected/windows.jsonl"),
            &file("expected/payments.jsonl"),
        ),
    )
    .expect("write job");
    weir(&["run", "-q", reference.to_str().expect("utf-8")]).ok();
    let expected = canonical_lines(&d.join("expected/windows.jsonl"));
    let expected_payments = canonical_lines(&d.join("expected/payments.jsonl"));
    assert!(expected.len() > 500 && expected_payments.len() > 5000);
    (expected, expected_payments)
}

#[test]
fn a_graph_writing_two_topics_exactly_once_killed_at_random_moments_loses_and_repeats_nothing() {
    two_topics_out(false);
}

#[test]
fn a_graph_reading_two_topics_as_two_sources_killed_at_random_moments_loses_and_repeats_nothing() {
    two_topics_out(true);
}

/// Run the graph from one input topic, or (`two_sources`) from two, its
/// records split between them, killed again and again while they arrive.
fn two_topics_out(two_sources: bool) {
    let _serial = weir_e2e::kafka::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let lines = transactions(d, 20_000);
    let (expected, expected_payments) = reference(d, &lines);

    let (input, more, windows, payments) = (
        unique_topic("in"),
        unique_topic("more"),
        unique_topic("out"),
        unique_topic("paid"),
    );
    create_topic(&input, 3);
    create_topic(&more, 2);
    create_topic(&windows, 2);
    create_topic(&payments, 2);
    let b = broker();
    let kafka = |topic: &str| {
        format!(
            "type = \"kafka\"\nbrokers = \"{b}\"\ntopic = \"{topic}\"\ndelivery = \"exactly-once\""
        )
    };
    let job = d.join("two-sinks.toml");
    let mut source =
        format!("[source]\ntype = \"kafka\"\nbrokers = \"{b}\"\ntopics = [\"{input}\"]");
    let mut inputs = "\"source\"";
    // Every other record to the second topic (each in event-time order).
    let (mine, theirs): (Vec<String>, Vec<String>) = if two_sources {
        source.push_str(&format!(
            "\n[[sources]]\nname = \"more\"\ntype = \"kafka\"\nbrokers = \"{b}\"\ntopics = [\"{more}\"]"
        ));
        inputs = "\"source\", \"more\"";
        let (a, b): (Vec<_>, Vec<_>) = lines
            .iter()
            .cloned()
            .enumerate()
            .partition(|(i, _)| i % 2 == 0);
        (
            a.into_iter().map(|(_, l)| l).collect(),
            b.into_iter().map(|(_, l)| l).collect(),
        )
    } else {
        (lines.clone(), Vec::new())
    };
    let mut checkpointed = two_sink_graph(
        "two-sinks",
        (&source, inputs),
        &kafka(&windows),
        &kafka(&payments),
    );
    checkpointed.push_str("[checkpoint]\ninterval = \"200ms\"\ndir = \"checkpoints\"\n");
    std::fs::write(&job, checkpointed).expect("write job");
    let job_arg = job.to_str().expect("utf-8").to_string();

    let producer = {
        let (input, more) = (input.clone(), more.clone());
        std::thread::spawn(move || {
            let other = std::thread::spawn(move || {
                if !theirs.is_empty() {
                    produce(&more, 2, &theirs, Some(2_000))
                }
            });
            let rate = if two_sources { 2_000 } else { 4_000 };
            produce(&input, 3, &mine, Some(rate));
            other.join().expect("second producer");
        })
    };
    let kills = kill_while_producing(d, &job_arg, &producer);
    producer.join().expect("producer");
    flush_partitions(&input, 3);
    if two_sources {
        flush_partitions(&more, 2);
    }
    assert!(
        std::fs::read_dir(d.join("checkpoints"))
            .expect("checkpoints dir")
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("chk-")),
        "no checkpoint completed during {kills} runs: recovery was not exercised"
    );
    let mut last = spawn_weir(d, &["run", "-q", &job_arg]);
    wait_for(
        &windows,
        expected.len(),
        Duration::from_secs(120),
        &mut last,
    );
    wait_for(
        &payments,
        expected_payments.len(),
        Duration::from_secs(60),
        &mut last,
    );
    // Give duplicates, if any, time to show.
    std::thread::sleep(Duration::from_secs(2));
    let (got, got_payments) = (committed_values(&windows), committed_values(&payments));
    drop(last);
    assert_eq!(
        (got.len(), got_payments.len()),
        (expected.len(), expected_payments.len()),
        "after {kills} kills: (windows, payments) committed vs the uninterrupted run's"
    );
    assert!(got == expected, "after {kills} kills the windows differ");
    assert!(
        got_payments == expected_payments,
        "after {kills} kills the named sink's payments differ"
    );
}
