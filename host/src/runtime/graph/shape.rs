//! A job's graph as a status page draws it: its sources, its stages with
//! their inputs (and the key each input is partitioned by), its sinks.
//!
//! A one-chain job is shown as the graph it runs as: `chain` (its
//! stateless operators) and, when it has one, `keyed` (its window or keyed
//! operator).

use crate::job::SinkSpec;
use crate::plan::{Plan, StageWork};
use serde::Serialize;

/// The graph of a job.
#[derive(Debug, Clone, Serialize)]
pub struct Shape {
    /// The sources' names (`source` for `[source]`).
    pub sources: Vec<String>,
    /// The stages, each after the stages it reads.
    pub stages: Vec<ShapeStage>,
    /// The sinks, each with the stage it writes.
    pub sinks: Vec<ShapeSink>,
}

/// A stage of [`Shape`].
#[derive(Debug, Clone, Serialize)]
pub struct ShapeStage {
    /// Its name.
    pub name: String,
    /// What it does, in a word (`operators`, `window`, `join`, `sql`, …).
    pub kind: String,
    /// What it does, in a few more (its operators, its query).
    pub detail: String,
    /// The sources and stages it reads.
    pub inputs: Vec<ShapeInput>,
    /// Subtasks.
    pub parallelism: usize,
}

/// An input of a stage.
#[derive(Debug, Clone, Serialize)]
pub struct ShapeInput {
    /// The source or stage.
    pub from: String,
    /// The field rows are partitioned by on this edge; `None`: forward.
    pub key: Option<String>,
}

/// A sink of [`Shape`].
#[derive(Debug, Clone, Serialize)]
pub struct ShapeSink {
    /// `sink`, or `sinks.<name>`.
    pub name: String,
    /// Where it writes: `file`, `kafka`, `postgres`, `stdout`, `discard`.
    pub kind: String,
    /// The stage it writes.
    pub input: String,
}

/// The graph `plan` runs.
pub fn shape(plan: &Plan) -> Shape {
    let stages = super::stages_of(plan);
    let sink_stages = super::sink_stages(plan, &stages);
    let spec = &plan.job.spec;
    let sources = spec
        .all_sources()
        .into_iter()
        .map(|(name, ..)| name.to_string())
        .collect();
    let stage_list = stages
        .iter()
        .map(|st| {
            let names = st.spec.input_names();
            ShapeStage {
                name: st.spec.name.clone(),
                kind: kind(&st.work, st.spec.kind()),
                detail: detail(&st.work),
                inputs: (0..names.len())
                    .map(|i| ShapeInput {
                        from: names[i].to_string(),
                        key: st.spec.key_of_input(i).map(str::to_string),
                    })
                    .collect(),
                parallelism: spec.parallelism,
            }
        })
        .collect();
    // `sink_stages` has `[sink]`'s stage first when a stage feeds it.
    let main = sink_stages.len() > spec.sinks.len();
    let sinks = main
        .then(|| ("sink".to_string(), &spec.sink))
        .into_iter()
        .chain(
            spec.sinks
                .iter()
                .map(|s| (format!("sinks.{}", s.name), &s.sink)),
        )
        .zip(&sink_stages)
        .map(|((name, sink), input)| ShapeSink {
            name,
            kind: sink_kind(sink).into(),
            input: input.clone(),
        })
        .collect();
    Shape {
        sources,
        stages: stage_list,
        sinks,
    }
}

/// What the stage does, from its work (a one-chain job's stages declare
/// nothing themselves).
fn kind(work: &StageWork, declared: &str) -> String {
    use crate::plan::PlannedStage;
    match work {
        StageWork::Pass => declared,
        StageWork::Operators(_) => "operators",
        StageWork::Keyed(PlannedStage::Window { .. }) => "window",
        StageWork::Keyed(PlannedStage::Keyed(_)) => "keyed",
        StageWork::Join(_) => "join",
        StageWork::Over { .. } => "over",
        StageWork::Rank(_) => "rank",
        StageWork::Sql { .. } => "sql",
    }
    .into()
}

fn detail(work: &StageWork) -> String {
    use crate::plan::{JoinKind, PlannedStage, WindowAgg};
    match work {
        StageWork::Pass => String::new(),
        StageWork::Operators(ops) => ops
            .iter()
            .map(|o| o.spec.name.as_str())
            .collect::<Vec<_>>()
            .join(" → "),
        StageWork::Keyed(PlannedStage::Window {
            kind, aggregate, ..
        }) => {
            let agg = match aggregate {
                WindowAgg::Native(aggs) => {
                    let sign = crate::window::aggregate::SIGN;
                    let n = aggs.iter().filter(|a| a.function != sign).count();
                    if n < aggs.len() {
                        format!("{n} aggregates over a changelog")
                    } else {
                        format!("{n} aggregates")
                    }
                }
                WindowAgg::Wasm(op) => op.spec.name.clone(),
            };
            format!("{}, {agg}", window_kind(kind))
        }
        StageWork::Keyed(PlannedStage::Keyed(op)) => op.spec.name.clone(),
        StageWork::Join(JoinKind::Window(k)) => format!("window join, {}", window_kind(k)),
        StageWork::Join(JoinKind::Interval { lower, upper }) => {
            format!("interval join, [{lower} ms, {upper} ms]")
        }
        StageWork::Join(JoinKind::Regular { ttl, outer }) => {
            let kind = match outer.setting() {
                Some(side) => format!("{side} outer join"),
                None => "regular join".into(),
            };
            match ttl {
                Some(t) => format!("{kind}, ttl {t} ms"),
                None => kind,
            }
        }
        StageWork::Over { aggregates, .. } => format!("{} aggregates", aggregates.len()),
        StageWork::Rank(_) => "top-n".into(),
        StageWork::Sql { query, .. } => query.clone(),
    }
}

fn window_kind(k: &crate::window::WindowKind) -> String {
    use crate::window::WindowKind;
    match k {
        WindowKind::Tumbling { size } => format!("tumbling {size} ms"),
        WindowKind::Sliding { size, slide } => format!("sliding {size} ms / {slide} ms"),
        WindowKind::Cumulate { size, step } => format!("cumulate {size} ms / {step} ms"),
        WindowKind::Session { gap } => format!("session, gap {gap} ms"),
        WindowKind::Global { ttl: None } => "global".into(),
        WindowKind::Global { ttl: Some(t) } => format!("global, ttl {t} ms"),
    }
}

fn sink_kind(s: &SinkSpec) -> &'static str {
    match s {
        SinkSpec::File { .. } => "file",
        SinkSpec::Stdout {} => "stdout",
        SinkSpec::Discard {} => "discard",
        SinkSpec::Kafka(_) => "kafka",
        SinkSpec::Postgres(_) => "postgres",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two sources, two joins, a window over one join, a union of the
    /// three, and a named sink over the second source keyed by user.
    const JOB: &str = r#"name = "shape"
parallelism = 2
[source]
type = "datagen"
schema = "transactions"
rows = 10
[[sources]]
name = "payments"
type = "datagen"
schema = "transactions"
rows = 10
[event_time]
field = "ts"
[sink]
type = "discard"
[late_output]
type = "discard"

[[stages]]
name = "paid"
join = { type = "interval", left = "source", right = "payments", left_key = "user", right_key = "user", lower = "-1s", upper = "5s" }

[[stages]]
name = "per-user"
join = { type = "window", size = "10s", left = "source", right = "payments", left_key = "user", right_key = "user" }

[[stages]]
name = "counted"
inputs = ["paid"]
key_by = { field = "left.user" }
window = { type = "tumbling", size = "10s", aggregates = [{ fn = "count" }] }

[[stages]]
name = "all"
inputs = ["paid", "per-user", "counted"]

[[stages]]
name = "by-user"
inputs = ["payments"]
key_by = { field = "user" }

[[sinks]]
name = "payments"
input = "by-user"
type = "discard"
"#;

    #[test]
    fn a_graph_is_shown_with_its_stages_edges_keys_and_sinks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("shape.toml");
        std::fs::write(&path, JOB).expect("job");
        let job = crate::job::load(&path, &[]).expect("a valid job");
        let engine = crate::wasm::WasmEngine::shared().expect("engine");
        let plan = crate::plan::prepare(job, engine).expect("planned");
        let s = shape(&plan);
        assert_eq!(s.sources, ["source", "payments"]);
        let stage = |n: &str| s.stages.iter().find(|st| st.name == n).expect(n);
        let paid = stage("paid");
        assert_eq!(paid.kind, "join");
        assert_eq!(paid.detail, "interval join, [-1000 ms, 5000 ms]");
        let edges: Vec<(&str, Option<&str>)> = paid
            .inputs
            .iter()
            .map(|i| (i.from.as_str(), i.key.as_deref()))
            .collect();
        assert_eq!(
            edges,
            [("source", Some("user")), ("payments", Some("user"))]
        );
        assert_eq!(stage("per-user").detail, "window join, tumbling 10000 ms");
        let counted = stage("counted");
        assert_eq!(counted.kind, "window");
        assert_eq!(counted.inputs[0].key.as_deref(), Some("left.user"));
        assert_eq!(stage("all").kind, "union");
        assert_eq!(stage("all").inputs.len(), 3);
        assert_eq!(stage("by-user").kind, "key_by");
        assert!(s.stages.iter().all(|st| st.parallelism == 2));
        let sinks: Vec<(&str, &str, &str)> = s
            .sinks
            .iter()
            .map(|k| (k.name.as_str(), k.kind.as_str(), k.input.as_str()))
            .collect();
        assert_eq!(
            sinks,
            [
                ("sink", "discard", "all"),
                ("sinks.payments", "discard", "by-user")
            ]
        );
    }
}
