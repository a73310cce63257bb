use super::*;
use crate::budget::Budgets;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray};
use std::sync::Arc;

/// A row of the tests: key, time, number (maybe none), and its place in
/// the input (to find it in the output).
#[derive(Debug, Clone)]
struct In {
    key: String,
    time: i64,
    x: Option<f64>,
    id: i64,
}

fn batch(rows: &[In]) -> (RecordBatch, Vec<i64>) {
    let k: ArrayRef = Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.key)));
    let x: ArrayRef = Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.x)));
    let id: ArrayRef = Arc::new(arrow_array::Int64Array::from_iter_values(
        rows.iter().map(|r| r.id),
    ));
    let b = RecordBatch::try_from_iter([("k", k), ("x", x), ("id", id)]).unwrap();
    (b, rows.iter().map(|r| r.time).collect())
}

fn aggs() -> Vec<OverAggregate> {
    let a = |func, field: Option<&str>, output: &str| OverAggregate {
        func,
        field: field.map(Into::into),
        output: output.into(),
    };
    vec![
        a(OverFunc::Count, None, "rows"),
        a(OverFunc::Count, Some("x"), "xs"),
        a(OverFunc::Sum, Some("x"), "sum"),
        a(OverFunc::Min, Some("x"), "min"),
        a(OverFunc::Max, Some("x"), "max"),
    ]
}

/// Per output row (by id): rows, xs, sum, min, max.
type Out = std::collections::BTreeMap<i64, (i64, i64, Option<f64>, Option<f64>, Option<f64>)>;

fn read(out: &RecordBatch, into: &mut Out) {
    let id = out
        .column_by_name("id")
        .unwrap()
        .as_primitive::<Int64Type>();
    let int = |n: &str| {
        out.column_by_name(n)
            .unwrap()
            .as_primitive::<Int64Type>()
            .clone()
    };
    let num = |n: &str| {
        out.column_by_name(n)
            .unwrap()
            .as_primitive::<Float64Type>()
            .clone()
    };
    let (rows, xs, sum, min, max) = (int("rows"), int("xs"), num("sum"), num("min"), num("max"));
    let opt = |a: &Float64Array, i: usize| a.is_valid(i).then(|| a.value(i));
    for i in 0..out.num_rows() {
        let row = (
            rows.value(i),
            xs.value(i),
            opt(&sum, i),
            opt(&min, i),
            opt(&max, i),
        );
        assert!(
            into.insert(id.value(i), row).is_none(),
            "row {} twice",
            id.value(i)
        );
    }
}

/// The frame of each row by its definition: the key's rows in time order
/// (in input order within one time), then the rows the frame takes.
fn model(input: &[In], frame: Frame) -> Out {
    let mut out = Out::new();
    for r in input {
        let mut mine: Vec<&In> = input.iter().filter(|o| o.key == r.key).collect();
        mine.sort_by_key(|o| o.time); // stable: input order within a time
        let pos = mine.iter().position(|o| o.id == r.id).unwrap();
        let framed: Vec<&In> = match frame {
            Frame::Rows(n) => {
                let from = n.map_or(0, |n| pos.saturating_sub(n as usize));
                mine[from..=pos].to_vec()
            }
            Frame::Range(ms) => mine
                .iter()
                .filter(|o| o.time <= r.time && ms.is_none_or(|ms| r.time - o.time <= ms))
                .copied()
                .collect(),
        };
        let xs: Vec<f64> = framed.iter().filter_map(|o| o.x).collect();
        let some = |v: f64| (!xs.is_empty()).then_some(v);
        out.insert(
            r.id,
            (
                framed.len() as i64,
                xs.len() as i64,
                some(xs.iter().sum()),
                some(xs.iter().copied().fold(f64::INFINITY, f64::min)),
                some(xs.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
            ),
        );
    }
    out
}

/// Batches of rows: batch `i` has times in `[10 i, 10 i + 9]` in no
/// order, ties included, three keys, some numbers missing; the
/// watermark after batch `i` is `10 i + 4`, so no row is late.
fn input(batches: usize) -> Vec<Vec<In>> {
    let mut seed = 7u64;
    let mut next = move |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let mut id = 0;
    (0..batches)
        .map(|b| {
            (0..12)
                .map(|_| {
                    id += 1;
                    In {
                        key: format!("k{}", next(3)),
                        time: 10 * b as i64 + next(10) as i64,
                        x: (next(5) != 0).then(|| next(100) as f64 - 30.0),
                        id,
                    }
                })
                .collect()
        })
        .collect()
}

fn run(frame: Frame, batches: &[Vec<In>]) -> Out {
    let mut op = OverOperator::new(frame, aggs(), "k", Budgets::unbounded());
    let mut out = Out::new();
    for (i, rows) in batches.iter().enumerate() {
        let (b, t) = batch(rows);
        assert!(op.process(&b, &t).unwrap().is_empty(), "nothing is late");
        if let Some((o, times)) = op.advance(10 * i as i64 + 4).unwrap() {
            assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order");
            read(&o, &mut out);
        }
    }
    if let Some((o, _)) = op.advance(i64::MAX).unwrap() {
        read(&o, &mut out);
    }
    assert_eq!(op.waiting(), 0);
    out
}

#[test]
fn every_frame_gives_each_row_the_aggregates_its_definition_says() {
    let batches = input(12);
    let all: Vec<In> = batches.concat();
    for frame in [
        Frame::Rows(Some(0)),
        Frame::Rows(Some(2)),
        Frame::Rows(None),
        Frame::Range(Some(0)),
        Frame::Range(Some(7)),
        Frame::Range(None),
    ] {
        let got = run(frame, &batches);
        let want = model(&all, frame);
        assert_eq!(got.len(), all.len(), "{frame:?}: every row once");
        for (id, w) in &want {
            let g = &got[id];
            let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) => (a - b).abs() < 1e-9,
                (a, b) => a == b,
            };
            assert!(
                g.0 == w.0 && g.1 == w.1 && close(g.2, w.2) && close(g.3, w.3) && close(g.4, w.4),
                "{frame:?}, row {id}: got {g:?}, want {w:?}"
            );
        }
    }
}

#[test]
fn lateness_is_flinks_the_watermark_unbounded_the_keys_last_time_bounded() {
    let row = |key: &str, time, id| In {
        key: key.into(),
        time,
        x: Some(1.0),
        id,
    };
    for (frame, late) in [
        // Unbounded: behind the watermark (50) is late, for any key.
        (Frame::Rows(None), vec![3, 4]),
        // Bounded: behind the last time of its key (a: 20) only.
        (Frame::Rows(Some(1)), vec![3]),
    ] {
        let mut op = OverOperator::new(frame, aggs(), "k", Budgets::unbounded());
        let (b, t) = batch(&[row("a", 10, 1), row("a", 20, 2)]);
        assert!(op.process(&b, &t).unwrap().is_empty());
        op.advance(50).unwrap().unwrap();
        let (b, t) = batch(&[
            row("a", 60, 10),
            row("x", 70, 11),
            row("a", 15, 3),
            row("b", 30, 4),
        ]);
        let got: Vec<usize> = op.process(&b, &t).unwrap();
        let got: Vec<i64> = got.iter().map(|&i| [10, 11, 3, 4][i]).collect();
        assert_eq!(got, late, "{frame:?}");
    }
}

#[test]
fn a_restore_keeps_the_keys_a_subtask_owns_frames_and_waiting_rows() {
    let batches = input(6);
    let frame = Frame::Rows(Some(2));
    let want = run(frame, &batches);
    // Run to the middle, checkpoint, restore as two subtasks by key.
    let dir = tempfile::tempdir().unwrap();
    let mut op = OverOperator::new(frame, aggs(), "k", Budgets::unbounded());
    let mut got = Out::new();
    for (i, rows) in batches[..3].iter().enumerate() {
        let (b, t) = batch(rows);
        op.process(&b, &t).unwrap();
        if let Some((o, _)) = op.advance(10 * i as i64 + 4).unwrap() {
            read(&o, &mut got);
        }
    }
    assert!(op.waiting() > 0, "rows wait at the checkpoint");
    op.snapshot_into(dir.path()).unwrap();
    drop(op);
    type Owns<'a> = &'a dyn Fn(&[u8]) -> bool;
    let owners: [Owns; 2] = [&|k| k == b"k1", &|k| k != b"k1"];
    for keeps in owners {
        let mut op = OverOperator::new(frame, aggs(), "k", Budgets::unbounded());
        op.restore_from(dir.path(), keeps).unwrap();
        for (i, rows) in batches.iter().enumerate().skip(3) {
            let mine: Vec<In> = rows
                .iter()
                .filter(|r| keeps(r.key.as_bytes()))
                .cloned()
                .collect();
            let (b, t) = batch(&mine);
            assert!(op.process(&b, &t).unwrap().is_empty());
            if let Some((o, _)) = op.advance(10 * i as i64 + 4).unwrap() {
                read(&o, &mut got);
            }
        }
        if let Some((o, _)) = op.advance(i64::MAX).unwrap() {
            read(&o, &mut got);
        }
    }
    assert_eq!(got, want);
}

#[test]
fn what_it_holds_is_charged_to_the_jobs_memory_budget() {
    let budgets = Budgets::new("j", Some(4096), None, None);
    let mut op = OverOperator::new(Frame::Range(None), aggs(), "k", budgets.clone());
    let rows: Vec<In> = input(40).concat();
    let (b, t) = batch(&rows);
    let err = op.process(&b, &t).unwrap_err();
    assert!(matches!(err, OverError::OverBudget(_)), "{err}");
    let mut op = OverOperator::new(Frame::Range(None), aggs(), "k", Budgets::unbounded());
    op.process(&b, &t).unwrap();
    op.advance(i64::MAX).unwrap();
    assert_eq!(op.waiting(), 0);
}
