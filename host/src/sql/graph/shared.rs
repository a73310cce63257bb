//! Sub-plan reuse: stages that compute the same rows run once.
//!
//! A query that reads the same table the same way twice — Nexmark q5
//! counts each auction's bids per HOP window once for its rows and once
//! more for the windows' maximum — lowers to two chains of stages that
//! begin alike: the same filter of the same source, the same window
//! aggregation of it. Two stages with the same work and the same inputs
//! make the same rows, so the second one is dropped and its readers read
//! the first (a stage may have several readers: each gets every row), as
//! Flink's planner reuses a common sub-plan. Merging goes on until no two
//! stages are alike, so whole chains fold: once the filters are one, the
//! windows over them read the same input and fold too.
//!
//! ```text
//! source ─ filter ─ window ─ rows ─ join_left ┐        source ─ filter ─ window ┬ rows ─ join_left ┐
//! source ─ filter ─ window ─ rows ─ … ─ join_right ┴ join   ⇒              └ rows ─ … ─ join_right ┴ join
//! ```

use crate::job::StageSpec;

/// Drop every stage that does what an earlier one does with the same
/// inputs, and point its readers (and `last_input`, what the last stage
/// reads) at the earlier one.
pub(in crate::sql) fn share_common_stages(stages: &mut Vec<StageSpec>, last_input: &mut String) {
    while let Some((kept, dropped)) = twins(stages) {
        let gone = stages.remove(dropped);
        let to = stages[kept].name.clone();
        for s in stages.iter_mut() {
            let join = s.join.as_mut().map(|j| [&mut j.left, &mut j.right]);
            for input in s.inputs.iter_mut().chain(join.into_iter().flatten()) {
                if *input == gone.name {
                    input.clone_from(&to);
                }
            }
        }
        if *last_input == gone.name {
            *last_input = to;
        }
    }
}

/// The first two stages that are alike (every setting but the name) and
/// not read by one same stage: a self-join's two sides stay two inputs.
fn twins(stages: &[StageSpec]) -> Option<(usize, usize)> {
    let work: Vec<Option<serde_json::Value>> = stages.iter().map(work).collect();
    for (i, a) in work.iter().enumerate() {
        let Some(a) = a else { continue };
        for (j, b) in work.iter().enumerate().skip(i + 1) {
            if b.as_ref() == Some(a) && !read_together(stages, &stages[i].name, &stages[j].name) {
                return Some((i, j));
            }
        }
    }
    None
}

/// Does one stage read both `a` and `b`?
fn read_together(stages: &[StageSpec], a: &str, b: &str) -> bool {
    stages.iter().any(|s| {
        let join = s.join.as_ref().map(|j| [j.left.as_str(), j.right.as_str()]);
        let reads: Vec<&str> = s
            .inputs
            .iter()
            .map(String::as_str)
            .chain(join.into_iter().flatten())
            .collect();
        reads.contains(&a) && reads.contains(&b)
    })
}

/// What a stage does and reads: its settings without its name.
fn work(stage: &StageSpec) -> Option<serde_json::Value> {
    let mut v = serde_json::to_value(stage).ok()?;
    v.as_object_mut()?.remove("name");
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::SqlStageSpec;

    fn sql(name: &str, input: &str, query: &str) -> StageSpec {
        StageSpec {
            sql: Some(SqlStageSpec {
                query: query.into(),
                ..Default::default()
            }),
            ..crate::sql::graph::stage(name, input)
        }
    }

    fn names(stages: &[StageSpec]) -> Vec<(String, Vec<String>)> {
        stages
            .iter()
            .map(|s| (s.name.clone(), s.inputs.clone()))
            .collect()
    }

    #[test]
    fn alike_chains_fold_and_their_readers_read_the_first() {
        let mut stages = vec![
            sql("a_filter", "source", "SELECT x FROM t"),
            sql("a_agg", "a_filter", "SELECT SUM(x) FROM t"),
            sql("a_rows", "a_agg", "SELECT 1 FROM t"),
            sql("b_filter", "source", "SELECT x FROM t"),
            sql("b_agg", "b_filter", "SELECT SUM(x) FROM t"),
            sql("b_rows", "b_agg", "SELECT 2 FROM t"),
        ];
        let mut last = "b_agg".to_string();
        share_common_stages(&mut stages, &mut last);
        let n = |s: &str, i: &str| (s.to_string(), vec![i.to_string()]);
        assert_eq!(
            names(&stages),
            vec![
                n("a_filter", "source"),
                n("a_agg", "a_filter"),
                n("a_rows", "a_agg"),
                n("b_rows", "a_agg"),
            ]
        );
        assert_eq!(last, "a_agg");
    }

    #[test]
    fn the_two_inputs_of_one_stage_stay_two() {
        let mut stages = vec![
            sql("left", "source", "SELECT x FROM t"),
            sql("right", "source", "SELECT x FROM t"),
            StageSpec {
                inputs: vec!["left".into(), "right".into()],
                ..crate::sql::graph::stage("union", "")
            },
        ];
        let mut last = "union".to_string();
        share_common_stages(&mut stages, &mut last);
        assert_eq!(stages.len(), 3);
    }

    #[test]
    fn stages_that_differ_in_work_or_input_stay() {
        let mut stages = vec![
            sql("a", "source", "SELECT x FROM t"),
            sql("b", "source", "SELECT y FROM t"),
            sql("c", "a", "SELECT x FROM t"),
        ];
        let mut last = "c".to_string();
        share_common_stages(&mut stages, &mut last);
        assert_eq!(stages.len(), 3);
        assert_eq!(last, "c");
    }
}
