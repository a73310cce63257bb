use super::*;
use crate::budget::Budgets;
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use std::sync::Arc;

/// A row of the tests: key, number (maybe none), and its place in the
/// input (to find it in the output).
#[derive(Debug, Clone)]
struct In {
    key: String,
    x: Option<i64>,
    id: i64,
}

fn batch(rows: &[In]) -> (RecordBatch, Vec<i64>) {
    let k: ArrayRef = Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.key)));
    let x: ArrayRef = Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.x)));
    let id: ArrayRef = Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.id)));
    let b = RecordBatch::try_from_iter([("k", k), ("x", x), ("id", id)]).unwrap();
    (b, rows.iter().map(|r| r.id * 10).collect())
}

/// A small deterministic generator (no dependency for tests).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn input(seed: u64, n: i64) -> Vec<In> {
    let mut g = Lcg(seed);
    (0..n)
        .map(|id| In {
            key: format!("k{}", g.next(5)),
            // Few values: many ties; some NULLs.
            x: (g.next(8) != 0).then(|| g.next(6) as i64),
            id,
        })
        .collect()
}

fn ranking(number: bool, ties: Ties, from: u64, to: u64, descending: bool) -> Ranking {
    Ranking {
        order: vec![SortColumn {
            field: "x".into(),
            descending,
            nulls_first: !descending,
        }],
        from,
        to,
        number: number.then(|| "rn".into()),
        ties,
        at_watermark: false,
        sign: None,
    }
}

/// The model: each key's rows sorted (stably, in arrival order or its
/// reverse for `Later` ties; NULL the least value), places `from..=to`,
/// as (id, place or 0).
fn model(rows: &[In], r: &Ranking) -> Vec<(i64, i64)> {
    let desc = r.order[0].descending;
    let mut keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for k in keys {
        let mut of_key: Vec<&In> = rows.iter().filter(|r| r.key == k).collect();
        if r.ties == Ties::Later {
            of_key.reverse();
        }
        // Option's order puts None first: the least value.
        of_key.sort_by(|a, b| if desc { b.x.cmp(&a.x) } else { a.x.cmp(&b.x) });
        for (i, row) in of_key.iter().enumerate() {
            let place = i as u64 + 1;
            if (r.from..=r.to).contains(&place) {
                out.push((row.id, if r.number.is_some() { place as i64 } else { 0 }));
            }
        }
    }
    out.sort();
    out
}

/// Apply the changes in `out` to `table`, checking each retraction
/// retracts a row the table has.
fn apply(table: &mut Vec<(i64, i64)>, out: &RecordBatch, number: bool) {
    let id = out
        .column_by_name("id")
        .unwrap()
        .as_primitive::<Int64Type>();
    let rn = out
        .column_by_name("rn")
        .map(|c| c.as_primitive::<Int64Type>());
    assert_eq!(rn.is_some(), number);
    let op = out.column_by_name("_op").unwrap().as_string::<i32>();
    for i in 0..out.num_rows() {
        let row = (id.value(i), rn.map_or(0, |r| r.value(i)));
        match op.value(i) {
            "+I" | "+U" => table.push(row),
            "-U" | "-D" => {
                let at = table
                    .iter()
                    .position(|r| *r == row)
                    .unwrap_or_else(|| panic!("retracts {row:?}, which is not in {table:?}"));
                table.swap_remove(at);
            }
            other => panic!("op {other}"),
        }
    }
}

fn budgets() -> Arc<Budgets> {
    Budgets::new("t", None, None, None)
}

#[test]
fn the_changes_leave_the_model_s_places_after_every_batch() {
    let rows = input(7, 400);
    for number in [true, false] {
        for ties in [Ties::Earlier, Ties::Later] {
            for (from, to) in [(1, 1), (1, 3), (2, 4)] {
                for desc in [false, true] {
                    let r = ranking(number, ties, from, to, desc);
                    let mut op = RankOperator::new(r.clone(), "k", budgets());
                    let mut table = Vec::new();
                    let mut g = Lcg(from * 31 + to);
                    let mut at = 0;
                    while at < rows.len() {
                        let n = (1 + g.next(40) as usize).min(rows.len() - at);
                        let (b, t) = batch(&rows[at..at + n]);
                        at += n;
                        if let Some((out, times)) = op.process(&b, &t).unwrap() {
                            assert_eq!(times.len(), out.num_rows());
                            apply(&mut table, &out, number);
                        }
                        table.sort();
                        assert_eq!(table, model(&rows[..at], &r), "{r:?} after {at} rows");
                    }
                    // Never more than `to` rows per key are kept.
                    assert!(op.kept() <= 5 * to as usize);
                }
            }
        }
    }
}

#[test]
fn a_row_moving_within_the_places_changes_nothing_without_numbers() {
    let r = ranking(false, Ties::Earlier, 1, 3, true);
    let mut op = RankOperator::new(r, "k", budgets());
    let row = |x, id| In {
        key: "a".into(),
        x: Some(x),
        id,
    };
    let (b, t) = batch(&[row(1, 0), row(2, 1)]);
    let out = op.process(&b, &t).unwrap().unwrap();
    assert_eq!(out.0.num_rows(), 2);
    // A new first row: the others move down but stay in the top 3.
    let (b, t) = batch(&[row(3, 2)]);
    let (out, _) = op.process(&b, &t).unwrap().unwrap();
    let op_col = out.column_by_name("_op").unwrap().as_string::<i32>();
    assert_eq!(out.num_rows(), 1);
    assert_eq!(op_col.value(0), "+I");
    // A row behind the top 3 changes nothing.
    let (b, t) = batch(&[row(0, 3)]);
    assert!(op.process(&b, &t).unwrap().is_none());
}

#[test]
fn a_restore_goes_on_where_the_snapshot_was_and_keeps_owned_keys() {
    let rows = input(11, 300);
    let r = ranking(true, Ties::Earlier, 1, 2, true);
    let dir = tempfile::tempdir().unwrap();
    let mut op = RankOperator::new(r.clone(), "k", budgets());
    let mut table = Vec::new();
    let (b, t) = batch(&rows[..150]);
    if let Some((out, _)) = op.process(&b, &t).unwrap() {
        apply(&mut table, &out, true);
    }
    op.snapshot_into(dir.path()).unwrap();
    drop(op);
    // Two subtasks after a rescale, each with half of the keys.
    type Owns<'a> = &'a dyn Fn(&[u8]) -> bool;
    let owners: [Owns; 2] = [&|k: &[u8]| k < &b"k2"[..], &|k: &[u8]| k >= &b"k2"[..]];
    for keeps in owners {
        let mut op = RankOperator::new(r.clone(), "k", budgets());
        op.restore_from(dir.path(), keeps).unwrap();
        let mine: Vec<In> = rows[150..]
            .iter()
            .filter(|r| keeps(r.key.as_bytes()))
            .cloned()
            .collect();
        for chunk in mine.chunks(17) {
            let (b, t) = batch(chunk);
            if let Some((out, _)) = op.process(&b, &t).unwrap() {
                apply(&mut table, &out, true);
            }
        }
    }
    table.sort();
    assert_eq!(table, model(&rows, &r));
}

#[test]
fn kept_rows_are_charged_to_the_memory_budget() {
    let budgets = Budgets::new("t", Some(4096), None, None);
    let mut op = RankOperator::new(ranking(false, Ties::Earlier, 1, 1000, false), "k", budgets);
    let rows = input(3, 2000);
    let (b, t) = batch(&rows);
    assert!(matches!(op.process(&b, &t), Err(RankError::OverBudget(_))));
}

#[test]
fn at_the_watermark_each_key_s_places_go_out_once_as_inserts() {
    // Keys are windows: their rows share one time (the key's number).
    let rows = input(5, 300);
    let mut r = ranking(true, Ties::Earlier, 1, 2, true);
    r.at_watermark = true;
    let mut op = RankOperator::new(r.clone(), "k", budgets());
    let time_of = |k: &str| k[1..].parse::<i64>().unwrap() * 100;
    let mut got = Vec::new();
    for chunk in rows.chunks(23) {
        let (b, _) = batch(chunk);
        let t: Vec<i64> = chunk.iter().map(|r| time_of(&r.key)).collect();
        assert!(
            op.process(&b, &t).unwrap().is_none(),
            "nothing before the watermark"
        );
    }
    // The watermark passes k0..k2 (times 0, 100, 200), then the rest.
    for watermark in [250, i64::MAX] {
        let (out, times) = op.advance(watermark).unwrap().expect("places");
        assert!(out.column_by_name("_op").is_none(), "inserts only");
        assert!(times.iter().all(|&t| t <= watermark));
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "earliest first");
        let id = out
            .column_by_name("id")
            .unwrap()
            .as_primitive::<Int64Type>();
        let rn = out
            .column_by_name("rn")
            .unwrap()
            .as_primitive::<Int64Type>();
        got.extend((0..out.num_rows()).map(|i| (id.value(i), rn.value(i))));
        assert!(op.advance(watermark).unwrap().is_none(), "each key once");
    }
    assert_eq!(op.kept(), 0, "keys are forgotten");
    got.sort();
    assert_eq!(got, model(&rows, &r));
}

/// Rows with their sign in `s` (an INT: the stage casts it).
fn signed(rows: &[(In, i64)]) -> (RecordBatch, Vec<i64>) {
    let plain: Vec<In> = rows.iter().map(|(r, _)| r.clone()).collect();
    let (b, t) = batch(&plain);
    let s: ArrayRef = Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1)));
    let mut columns = b.columns().to_vec();
    columns.insert(1, s);
    let names = ["k", "s", "x", "id"];
    let b = RecordBatch::try_from_iter(names.into_iter().zip(columns)).unwrap();
    (b, t)
}

#[test]
fn over_a_changelog_rows_taken_back_let_later_ones_move_up() {
    for number in [true, false] {
        for ties in [Ties::Earlier, Ties::Later] {
            for (from, to) in [(1, 1), (1, 3), (2, 4)] {
                let mut r = ranking(number, ties, from, to, true);
                r.sign = Some("s".into());
                let mut op = RankOperator::new(r.clone(), "k", budgets());
                // The model: the rows not taken back, in arrival order
                // (equal rows happen: few keys, values and ids).
                let mut live: Vec<In> = Vec::new();
                let mut g = Lcg(from * 7 + to + number as u64);
                let mut table = Vec::new();
                for _ in 0..60 {
                    let mut changes = Vec::new();
                    for _ in 0..1 + g.next(12) {
                        if !live.is_empty() && g.next(3) == 0 {
                            // The earliest equal row goes, in the model too.
                            let gone = live[g.next(live.len() as u64) as usize].clone();
                            let at = live
                                .iter()
                                .position(|l| (&l.key, l.x, l.id) == (&gone.key, gone.x, gone.id))
                                .unwrap();
                            live.remove(at);
                            changes.push((gone, -1));
                        } else {
                            let row = In {
                                key: format!("k{}", g.next(3)),
                                x: (g.next(8) != 0).then(|| g.next(5) as i64),
                                id: g.next(30) as i64,
                            };
                            live.push(row.clone());
                            changes.push((row, 1));
                        }
                    }
                    let (b, t) = signed(&changes);
                    if let Some((out, times)) = op.process(&b, &t).unwrap() {
                        assert_eq!(times.len(), out.num_rows());
                        assert!(out.column_by_name("s").is_none(), "the sign is not kept");
                        apply(&mut table, &out, number);
                    }
                    table.sort();
                    assert_eq!(table, model(&live, &r), "{r:?}");
                    assert_eq!(op.kept(), live.len(), "every row is kept");
                }
                // A snapshot brings back every row, and their order.
                let dir = tempfile::tempdir().unwrap();
                op.snapshot_into(dir.path()).unwrap();
                let mut back = RankOperator::new(r.clone(), "k", budgets());
                back.restore_from(dir.path(), &|_| true).unwrap();
                assert_eq!(back.kept(), live.len());
                for l in live.clone() {
                    let (b, t) = signed(&[(l.clone(), -1)]);
                    if let Some((out, _)) = back.process(&b, &t).unwrap() {
                        apply(&mut table, &out, number);
                    }
                    let at = live
                        .iter()
                        .position(|m| (&m.key, m.x, m.id) == (&l.key, l.x, l.id));
                    live.remove(at.unwrap());
                    table.sort();
                    assert_eq!(table, model(&live, &r), "{r:?} after a restore");
                }
                assert_eq!(back.kept(), 0);
            }
        }
    }
}

#[test]
fn over_a_changelog_a_row_never_added_or_without_a_sign_fails_the_stage() {
    let mut r = ranking(true, Ties::Earlier, 1, 3, true);
    r.sign = Some("s".into());
    let mut op = RankOperator::new(r, "k", budgets());
    let row = |id| In {
        key: "a".into(),
        x: Some(1),
        id,
    };
    let (b, t) = signed(&[(row(1), 1), (row(2), -1)]);
    assert!(matches!(op.process(&b, &t), Err(RankError::NotAdded { key }) if key == "a"));
    let (b, t) = signed(&[(row(3), 1)]);
    let s: ArrayRef = Arc::new(Int64Array::from(vec![None::<i64>]));
    let mut columns = b.columns().to_vec();
    columns[1] = s;
    let b = RecordBatch::try_new(
        Arc::new(arrow_schema::Schema::new(
            b.schema()
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_nullable(true))
                .collect::<Vec<_>>(),
        )),
        columns,
    )
    .unwrap();
    assert!(matches!(
        op.process(&b, &t),
        Err(RankError::NoSign { row: 0, .. })
    ));
}
