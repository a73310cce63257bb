use super::*;
use crate::budget::Budgets;
use crate::join::IntervalJoin;
use crate::join::testing::{ev, pairs};
use crate::state::{KeyGroups, MemoryBackend};

fn fresh(ttl: Option<i64>, budgets: Arc<Budgets>) -> RegularJoin {
    RegularJoin::new(ttl, JoinState::in_memory(budgets)).unwrap()
}

use std::sync::Arc;

#[test]
fn pairs_every_row_of_a_key_whatever_the_times_and_the_watermark() {
    let mut j = fresh(None, Budgets::unbounded());
    let mut out = JoinOutput::default();
    j.process(
        Side::Left,
        vec![ev("a", 1_000_000, 1), ev("b", 5, 2)],
        &mut out,
    )
    .unwrap();
    j.advance(2_000_000);
    j.process(
        Side::Right,
        vec![ev("a", 3, 10), ev("a", 5_000_000, 11), ev("c", 3, 12)],
        &mut out,
    )
    .unwrap();
    j.process(Side::Left, vec![ev("a", i64::MIN + 1, 3)], &mut out)
        .unwrap();
    j.process(Side::Right, vec![ev("b", i64::MAX, 13)], &mut out)
        .unwrap();
    assert!(out.late.is_empty());
    assert_eq!(
        pairs(&out),
        vec![(1, 10), (1, 11), (2, 13), (3, 10), (3, 11)]
    );
    let times: Vec<i64> = out.results.iter().map(|e| e.timestamp).collect();
    assert!(times.contains(&5_000_000) && times.contains(&i64::MAX));
    assert_eq!(j.buffered(), 7, "every row kept");
}

/// `(op, left v, right v)` of each change an outer join made, in order.
fn changes_of(out: &JoinOutput) -> Vec<(String, Option<i64>, Option<i64>)> {
    out.results
        .iter()
        .map(|e| {
            let v: serde_json::Value = serde_json::from_slice(&e.value).unwrap();
            (
                v["_op"].as_str().unwrap().to_string(),
                v["left"]["v"].as_i64(),
                v["right"]["v"].as_i64(),
            )
        })
        .collect()
}

fn outer(setting: &str, ttl: Option<i64>) -> RegularJoin {
    let outer = Outer::parse(Some(setting)).unwrap();
    RegularJoin::outer(ttl, outer, JoinState::in_memory(Budgets::unbounded())).unwrap()
}

fn c(op: &str, l: Option<i64>, r: Option<i64>) -> (String, Option<i64>, Option<i64>) {
    (op.to_string(), l, r)
}

#[test]
fn a_left_join_pads_a_lonely_row_and_retracts_it_at_its_first_partner() {
    let mut j = outer("left", None);
    let mut out = JoinOutput::default();
    j.process(Side::Left, vec![ev("a", 5, 1), ev("a", 6, 2)], &mut out)
        .unwrap();
    // A right row with no partner is not kept whole: nothing.
    j.process(Side::Right, vec![ev("b", 7, 10)], &mut out)
        .unwrap();
    j.process(Side::Right, vec![ev("a", 8, 11)], &mut out)
        .unwrap();
    j.process(Side::Right, vec![ev("a", 9, 12)], &mut out)
        .unwrap();
    j.process(Side::Left, vec![ev("a", 3, 3)], &mut out)
        .unwrap();
    assert_eq!(
        changes_of(&out),
        vec![
            c("+I", Some(1), None),
            c("+I", Some(2), None),
            c("-D", Some(1), None),
            c("-D", Some(2), None),
            c("+I", Some(1), Some(11)),
            c("+I", Some(2), Some(11)),
            // Retracted once only.
            c("+I", Some(1), Some(12)),
            c("+I", Some(2), Some(12)),
            c("+I", Some(3), Some(11)),
            c("+I", Some(3), Some(12)),
        ]
    );
    // A pair's time is the later row's; a padded row's its own.
    let times: Vec<i64> = out.results.iter().map(|e| e.timestamp).collect();
    assert_eq!(times, vec![5, 6, 5, 6, 8, 8, 9, 9, 8, 9]);
}

#[test]
fn right_and_full_joins_pad_their_kept_sides() {
    let mut j = outer("right", None);
    let mut out = JoinOutput::default();
    j.process(Side::Left, vec![ev("a", 0, 1)], &mut out)
        .unwrap();
    j.process(Side::Right, vec![ev("b", 0, 10)], &mut out)
        .unwrap();
    j.process(Side::Left, vec![ev("b", 0, 2)], &mut out)
        .unwrap();
    assert_eq!(
        changes_of(&out),
        vec![
            c("+I", None, Some(10)),
            c("-D", None, Some(10)),
            c("+I", Some(2), Some(10)),
        ]
    );
    let mut j = outer("full", None);
    let mut out = JoinOutput::default();
    j.process(Side::Left, vec![ev("a", 0, 1)], &mut out)
        .unwrap();
    j.process(Side::Right, vec![ev("b", 0, 10), ev("a", 0, 11)], &mut out)
        .unwrap();
    j.process(Side::Left, vec![ev("b", 0, 2)], &mut out)
        .unwrap();
    assert_eq!(
        changes_of(&out),
        vec![
            c("+I", Some(1), None),
            c("+I", None, Some(10)),
            c("-D", Some(1), None),
            c("+I", Some(1), Some(11)),
            c("-D", None, Some(10)),
            c("+I", Some(2), Some(10)),
        ]
    );
}

#[test]
fn a_row_whose_partners_lived_out_their_time_is_not_padded_again() {
    let mut j = outer("left", Some(100));
    let mut out = JoinOutput::default();
    j.process_at(Side::Left, vec![ev("a", 0, 1)], 1_000, &mut out)
        .unwrap();
    j.process_at(Side::Right, vec![ev("a", 0, 10)], 1_010, &mut out)
        .unwrap();
    j.process_at(Side::Left, vec![ev("a", 0, 2)], 1_090, &mut out)
        .unwrap();
    // At 1,150 the right row is gone, the second left row is not.
    j.process_at(Side::Right, vec![ev("a", 0, 11)], 1_150, &mut out)
        .unwrap();
    assert_eq!(
        changes_of(&out),
        vec![
            c("+I", Some(1), None),
            c("-D", Some(1), None),
            c("+I", Some(1), Some(10)),
            c("+I", Some(2), Some(10)),
            c("+I", Some(2), Some(11)),
        ]
    );
}

#[test]
fn a_checkpoint_keeps_which_rows_had_a_partner() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = outer("full", None);
    let mut out = JoinOutput::default();
    j.process(Side::Left, vec![ev("a", 0, 1), ev("b", 0, 2)], &mut out)
        .unwrap();
    j.process(Side::Right, vec![ev("a", 0, 10), ev("c", 0, 11)], &mut out)
        .unwrap();
    let saved = j.snapshot_into(dir.path()).unwrap();
    let outer = Outer::parse(Some("full")).unwrap();
    let mut k = RegularJoin::outer(None, outer, restored_state(dir.path(), 0, 1)).unwrap();
    k.restore(&saved).unwrap();
    let mut out = JoinOutput::default();
    k.process(Side::Right, vec![ev("a", 0, 12), ev("b", 0, 13)], &mut out)
        .unwrap();
    k.process(Side::Left, vec![ev("c", 0, 3)], &mut out)
        .unwrap();
    assert_eq!(
        changes_of(&out),
        vec![
            // `1` had a partner before the checkpoint: no retraction.
            c("+I", Some(1), Some(12)),
            c("-D", Some(2), None),
            c("+I", Some(2), Some(13)),
            c("-D", None, Some(11)),
            c("+I", Some(3), Some(11)),
        ]
    );
}

#[test]
fn rows_live_their_time_to_live_in_processing_time_and_give_back_their_memory() {
    let budgets = Budgets::unbounded();
    let mut j = fresh(Some(100), budgets.clone());
    let mut out = JoinOutput::default();
    j.process_at(Side::Left, vec![ev("a", 0, 1)], 1_000, &mut out)
        .unwrap();
    j.process_at(Side::Left, vec![ev("a", 0, 2)], 1_050, &mut out)
        .unwrap();
    assert!(budgets.memory.used() > 0);
    // At 1,099 the first has 1 ms left.
    j.process_at(Side::Right, vec![ev("a", 0, 10)], 1_099, &mut out)
        .unwrap();
    assert_eq!(pairs(&out), vec![(1, 10), (2, 10)]);
    // At 1,100 it is gone; the second is not.
    let mut out = JoinOutput::default();
    j.process_at(Side::Right, vec![ev("a", 0, 11)], 1_100, &mut out)
        .unwrap();
    assert_eq!(pairs(&out), vec![(2, 11)]);
    // A clock that goes back drops nothing that came later early.
    let mut out = JoinOutput::default();
    j.process_at(Side::Right, vec![ev("a", 0, 12)], 900, &mut out)
        .unwrap();
    assert_eq!(pairs(&out), vec![(2, 12)]);
    let mut out = JoinOutput::default();
    j.process_at(Side::Left, vec![], 5_000, &mut out).unwrap();
    assert_eq!(j.buffered(), 0);
    assert!(j.keys.is_empty());
    assert_eq!(budgets.memory.used(), 0, "every byte given back");
}

#[test]
fn a_row_past_the_budget_fails_the_join_and_dropping_it_gives_all_back() {
    let budgets = Budgets::new("j", Some(10_000), None, None);
    let mut j = fresh(None, budgets.clone());
    let mut out = JoinOutput::default();
    let many = (0..1000).map(|i| ev(&format!("k{i}"), 0, i)).collect();
    let e = j.process(Side::Left, many, &mut out).unwrap_err();
    assert!(matches!(e, JoinError::OverBudget(_)), "{e}");
    drop(j);
    assert_eq!(budgets.memory.used(), 0);
}

/// The checkpoint of `j` restored into subtask `subtask` of `n`.
fn restored_state(dir: &Path, subtask: usize, n: usize) -> JoinState {
    let budgets = Budgets::unbounded();
    let all = MemoryBackend::restore(&dir.join("state"), budgets.clone()).unwrap();
    // Keep the subtask's key groups, as a restore at another
    // parallelism does.
    let mut mine = MemoryBackend::with_budget(budgets.clone());
    let kg = KeyGroups { parallelism: n };
    for (k, v) in crate::state::KeyedStateBackend::scan_prefix(&all, &[]).unwrap() {
        let group = u16::from_be_bytes([k[0], k[1]]);
        if kg.subtask_of(group) == subtask {
            crate::state::KeyedStateBackend::put(&mut mine, k, v).unwrap();
        }
    }
    JoinState::new(Box::new(mine), subtask, n, budgets)
}

#[test]
fn a_checkpoint_restores_at_another_parallelism_and_into_the_ordered_layout() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = fresh(None, Budgets::unbounded());
    let mut out = JoinOutput::default();
    let keys: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
    // Two left rows per key, in this order.
    for v in [1, 2] {
        let rows = keys.iter().map(|k| ev(k, 10, v)).collect();
        j.process(Side::Left, rows, &mut out).unwrap();
    }
    let saved = j.snapshot_into(dir.path()).unwrap();
    let mut found = Vec::new();
    for subtask in 0..2 {
        let mut k = RegularJoin::new(None, restored_state(dir.path(), subtask, 2)).unwrap();
        k.restore(&saved).unwrap();
        assert_eq!(k.state.backend.len(), 0, "the rows moved into the map");
        let kg = KeyGroups { parallelism: 2 };
        let mine: Vec<Event> = keys
            .iter()
            .filter(|k| kg.subtask_of_key(k.as_bytes()) == subtask)
            .map(|k| ev(k, 12, 5))
            .collect();
        let mut out = JoinOutput::default();
        k.process(Side::Right, mine.clone(), &mut out).unwrap();
        assert_eq!(out.results.len(), 2 * mine.len());
        // Each key's rows in arrival order.
        for pair in out.results.chunks(2) {
            assert_eq!(pair[0].key, pair[1].key);
            assert_eq!(
                pairs(&JoinOutput {
                    results: pair.to_vec(),
                    late: vec![]
                }),
                vec![(1, 5), (2, 5)]
            );
        }
        found.extend(out.results.into_iter().map(|e| e.key.unwrap()));
    }
    found.sort();
    found.dedup();
    assert_eq!(found.len(), keys.len(), "every key restored once");
    // The same checkpoint goes on as an ordered-layout regular join
    // (RocksDB's).
    let mut i = IntervalJoin::regular(None, restored_state(dir.path(), 0, 1));
    i.restore(&saved).unwrap();
    let mut out = JoinOutput::default();
    i.process(Side::Right, vec![ev("k3", 0, 9)], &mut out)
        .unwrap();
    assert_eq!(pairs(&out), vec![(1, 9), (2, 9)]);
}

#[test]
fn a_restored_time_to_live_keeps_each_rows_drop_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = fresh(Some(100), Budgets::unbounded());
    let mut out = JoinOutput::default();
    j.process_at(Side::Left, vec![ev("a", 0, 1)], 1_000, &mut out)
        .unwrap();
    j.process_at(Side::Left, vec![ev("a", 0, 2)], 1_050, &mut out)
        .unwrap();
    let saved = j.snapshot_into(dir.path()).unwrap();
    let mut k = RegularJoin::new(Some(100), restored_state(dir.path(), 0, 1)).unwrap();
    k.restore(&saved).unwrap();
    let mut out = JoinOutput::default();
    k.process_at(Side::Right, vec![ev("a", 0, 10)], 1_120, &mut out)
        .unwrap();
    assert_eq!(pairs(&out), vec![(2, 10)], "the first was due at 1,100");
    // And in the ordered layout, whose drops go by whole seconds.
    let mut i = IntervalJoin::regular(Some(100), restored_state(dir.path(), 0, 1));
    i.restore(&saved).unwrap();
    let mut out = JoinOutput::default();
    i.process_at(Side::Right, vec![ev("a", 0, 10)], 2_000, &mut out)
        .unwrap();
    assert_eq!(pairs(&out), vec![]);
}
