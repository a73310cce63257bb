use super::*;
use crate::job::AggregateSpec;

fn op(kind: WindowKind, lateness: i64) -> WindowOperator {
    let count = AggregateSpec {
        function: "count".into(),
        field: None,
        output: None,
    };
    WindowOperator::new(
        kind,
        TimeMode::Event,
        lateness,
        Aggregation::native(&[count]),
        Budgets::unbounded(),
    )
}

fn rec(key: &str, ts: i64) -> Event {
    Event {
        key: Some(key.as_bytes().to_vec()),
        value: b"{}".to_vec(),
        timestamp: ts,
        headers: vec![],
    }
}

fn lines(out: &WindowOutput) -> Vec<String> {
    out.results
        .iter()
        .map(|e| String::from_utf8(e.value.clone()).unwrap())
        .collect()
}

#[test]
fn tumbling_fires_at_end_minus_one_and_sends_late_records_aside() {
    let mut w = op(WindowKind::Tumbling { size: 10 }, 0);
    let mut out = WindowOutput::default();
    w.process_batch(vec![rec("a", 1), rec("a", 9), rec("b", 10)], 0, &mut out)
        .unwrap();
    w.advance(8, &mut out).unwrap();
    assert!(out.results.is_empty());
    w.advance(9, &mut out).unwrap();
    assert_eq!(
        lines(&out),
        vec![r#"{"key":"a","window_start":0,"window_end":10,"count":2}"#]
    );
    w.process_batch(vec![rec("a", 5)], 0, &mut out).unwrap();
    assert_eq!(out.late.len(), 1);
}

#[test]
fn allowed_lateness_fires_again_with_the_update() {
    let mut w = op(WindowKind::Tumbling { size: 10 }, 5);
    let mut out = WindowOutput::default();
    w.process_batch(vec![rec("a", 1)], 0, &mut out).unwrap();
    w.advance(12, &mut out).unwrap();
    w.process_batch(vec![rec("a", 2)], 0, &mut out).unwrap();
    assert_eq!(out.late.len(), 0);
    assert_eq!(
        lines(&out)[1],
        r#"{"key":"a","window_start":0,"window_end":10,"count":2}"#
    );
    w.advance(14, &mut out).unwrap(); // 9 + 5 <= 14: window dropped
    w.process_batch(vec![rec("a", 3)], 0, &mut out).unwrap();
    assert_eq!(out.late.len(), 1);
    assert_eq!(w.open_windows(), 0);
}

#[test]
fn sessions_merge_when_they_touch() {
    let mut w = op(WindowKind::Session { gap: 10 }, 0);
    let mut out = WindowOutput::default();
    w.process_batch(
        vec![rec("a", 0), rec("a", 20), rec("a", 10), rec("b", 5)],
        0,
        &mut out,
    )
    .unwrap();
    w.advance(i64::MAX, &mut out).unwrap();
    assert_eq!(
        lines(&out),
        vec![
            r#"{"key":"b","window_start":5,"window_end":15,"count":1}"#,
            r#"{"key":"a","window_start":0,"window_end":30,"count":3}"#,
        ]
    );
}

#[test]
fn sliding_counts_a_record_in_every_window() {
    let mut w = op(WindowKind::Sliding { size: 10, slide: 5 }, 0);
    let mut out = WindowOutput::default();
    w.process_batch(vec![rec("a", 7)], 0, &mut out).unwrap();
    w.advance(i64::MAX, &mut out).unwrap();
    assert_eq!(out.results.len(), 2);
}

#[test]
fn cumulate_counts_a_record_in_every_later_window_of_its_period_and_a_late_one_in_those_not_fired()
{
    let mut w = op(WindowKind::Cumulate { size: 10, step: 5 }, 0);
    let mut out = WindowOutput::default();
    w.process_batch(vec![rec("a", 2), rec("a", 7), rec("a", 12)], 0, &mut out)
        .unwrap();
    w.advance(4, &mut out).unwrap();
    assert_eq!(
        lines(&out),
        vec![r#"{"key":"a","window_start":0,"window_end":5,"count":1}"#]
    );
    // Late for [0, 5), not for [0, 10): it counts there only.
    w.process_batch(vec![rec("a", 3)], 0, &mut out).unwrap();
    assert!(out.late.is_empty());
    w.advance(i64::MAX, &mut out).unwrap();
    assert_eq!(
        lines(&out)[1..],
        [
            r#"{"key":"a","window_start":0,"window_end":10,"count":3}"#,
            r#"{"key":"a","window_start":10,"window_end":15,"count":1}"#,
            r#"{"key":"a","window_start":10,"window_end":20,"count":1}"#,
        ]
    );
}

#[test]
fn a_global_window_never_fires_and_updates_each_key_once_per_batch() {
    let mut w = op(WindowKind::Global { ttl: None }, 0);
    let mut out = WindowOutput::default();
    w.process_batch(vec![rec("a", 1), rec("b", 2), rec("a", 3)], 0, &mut out)
        .unwrap();
    assert_eq!(
        lines(&out),
        [
            r#"{"key":"a","window_start":-9223372036854775808,"window_end":9223372036854775807,"count":2,"_op":"+I"}"#,
            r#"{"key":"b","window_start":-9223372036854775808,"window_end":9223372036854775807,"count":1,"_op":"+I"}"#,
        ]
    );
    let mut out = WindowOutput::default();
    w.advance(crate::event::MAX_WATERMARK, &mut out).unwrap();
    assert!(out.results.is_empty(), "a global window never fires");
    w.process_batch(vec![rec("b", 4)], 0, &mut out).unwrap();
    let got: Vec<String> = lines(&out)
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!("{} {} {}", v["_op"].as_str().unwrap(), v["key"], v["count"])
        })
        .collect();
    assert_eq!(got, [r#"-U "b" 1"#, r#"+U "b" 2"#]);
    assert_eq!(out.results[1].timestamp, 4);
}

/// An update whose results are those the key had is none, as in Flink
/// (which compares a group's results, not its accumulators): an average
/// and a maximum that stay the same though a row was added.
#[test]
fn a_global_window_writes_no_update_for_results_that_did_not_change() {
    let spec = |function: &str| AggregateSpec {
        function: function.into(),
        field: Some("x".into()),
        output: Some(function.into()),
    };
    let agg = Aggregation::native(&[spec("avg"), spec("max")]);
    let mut w = WindowOperator::new(
        WindowKind::Global { ttl: None },
        TimeMode::Processing,
        0,
        agg,
        Budgets::unbounded(),
    );
    let x = |key: &str, x: f64| Event {
        value: format!(r#"{{"x":{x}}}"#).into_bytes(),
        ..rec(key, 0)
    };
    let mut out = WindowOutput::default();
    w.process_batch(vec![x("a", 2.0), x("b", 1.0)], 0, &mut out)
        .unwrap();
    // a's average and maximum stay 2; b's change.
    w.process_batch(vec![x("a", 2.0), x("b", 3.0)], 0, &mut out)
        .unwrap();
    let got: Vec<String> = lines(&out)
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!(
                "{} {} {} {}",
                v["_op"].as_str().unwrap(),
                v["key"],
                v["avg"],
                v["max"]
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            r#"+I "a" 2.0 2.0"#,
            r#"+I "b" 1.0 1.0"#,
            r#"-U "b" 1.0 1.0"#,
            r#"+U "b" 2.0 3.0"#
        ]
    );
}

/// A global window counting per key, forgetting keys after 10 s; on the
/// heap, or in a state backend.
fn global_with_ttl(backend: bool) -> WindowOperator {
    let kind = WindowKind::Global { ttl: Some(10_000) };
    let count = || {
        Aggregation::native(&[AggregateSpec {
            function: "count".into(),
            field: None,
            output: None,
        }])
    };
    if backend {
        let state = Box::new(crate::state::MemoryBackend::new());
        WindowOperator::in_backend(kind, TimeMode::Processing, 0, count(), state, 0, 1)
    } else {
        WindowOperator::new(kind, TimeMode::Processing, 0, count(), Budgets::unbounded())
    }
}

#[test]
fn a_global_window_forgets_keys_not_updated_for_its_time_to_live() {
    for backend in [false, true] {
        let mut w = global_with_ttl(backend);
        let summary = |out: &WindowOutput| -> Vec<String> {
            lines(out)
                .iter()
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).unwrap();
                    format!("{} {} {}", v["_op"].as_str().unwrap(), v["key"], v["count"])
                })
                .collect()
        };
        let mut out = WindowOutput::default();
        w.process_batch(vec![rec("a", 0), rec("b", 0)], 0, &mut out)
            .unwrap();
        // b is updated at 8 s; a is not, and is forgotten at the sweep
        // after 10 s (sweeps come at most every 2.5 s).
        w.process_batch(vec![rec("b", 0)], 8_000, &mut out).unwrap();
        w.process_batch(vec![rec("c", 0)], 12_000, &mut out)
            .unwrap();
        if !backend {
            assert_eq!(w.open_windows(), 2, "a is forgotten, b and c are kept");
        }
        let mut out = WindowOutput::default();
        w.process_batch(vec![rec("a", 0), rec("b", 0)], 12_500, &mut out)
            .unwrap();
        // a starts again (no retraction of its old row, as in Flink); b
        // goes on.
        assert_eq!(
            summary(&out),
            [r#"+I "a" 1"#, r#"-U "b" 2"#, r#"+U "b" 3"#],
            "backend: {backend}"
        );
    }
}
