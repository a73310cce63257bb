//! What a checkpoint records about the job besides operator state: where
//! the source was, what the sinks had published, which components were
//! live, and the shape of the job graph (to tell whether a changed job can
//! still use the state).

use crate::connector::SourcePosition;
use crate::plan::{Plan, PlannedStage, WindowAgg};
use crate::time::WatermarkTracker;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The job-level part of a checkpoint's metadata.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobData {
    /// The job ran to the end of its input; nothing is left to resume.
    pub finished: bool,
    /// Taken on request, kept apart from retention.
    pub savepoint: bool,
    /// Subtasks of the keyed stage that wrote state (`keyed-<j>/`).
    pub parallelism: usize,
    /// `memory` or `rocksdb`: the format of `keyed-<j>/state/`.
    pub state_backend: String,
    /// The job's shape when the checkpoint was taken.
    pub graph: JobGraph,
    /// Operator name → sha256 of the component that was live.
    pub components: BTreeMap<String, String>,
    /// Where the source continues.
    pub source: SourceState,
    /// Where each named source (`[[sources]]`) continues.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, SourceState>,
    /// Output name (`sink`, `late_output`, `dead_letter`) → what it had
    /// published, and the staged part that this checkpoint commits.
    pub sinks: BTreeMap<String, SinkPosition>,
    /// The Kafka transactional id whose transaction of this epoch commits
    /// the checkpoint's Kafka output (exactly-once). Such a checkpoint is
    /// only valid if that transaction committed: see
    /// [`crate::connector::kafka::producer`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka_transactions: Option<String>,
}

/// The source's part of a checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceState {
    /// Read position after the last batch before the barrier.
    pub position: SourcePosition,
    /// Watermark state at that point.
    pub watermark: WatermarkTracker,
}

/// What a two-phase file output holds at a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkPosition {
    /// Bytes of the output file published before this checkpoint.
    pub published: u64,
    /// Bytes of the staged part this checkpoint commits (published once the
    /// checkpoint is complete, or on recovery if the job died before that).
    pub staged: u64,
}

/// The shape of a job, as far as state depends on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobGraph {
    /// Source kind: `file`, `datagen`.
    pub source: String,
    /// Each named source's kind, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, String>,
    /// Stateless operators, in order (they hold no state; recorded for the
    /// record and for `weir checkpoints list`).
    pub chain: Vec<String>,
    /// Key-by field.
    pub key_by: Option<String>,
    /// The stateful stage and what its state means, e.g.
    /// `window Tumbling { size: 60000 } Event [count, sum_amount] on the heap`
    /// or `keyed fraud`;
    /// `None` without one. State is reusable only by an identical stage.
    pub stage: Option<String>,
    /// A job graph's stages, each with its inputs and what it does (its
    /// state is reusable only by the identical graph); empty for a
    /// one-chain job.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<String>,
}

impl JobGraph {
    /// The graph of a plan.
    pub fn of(plan: &Plan) -> JobGraph {
        let spec = &plan.job.spec;
        let stage = plan.stage.as_ref().map(|s| match s {
            PlannedStage::Keyed(op) => format!("keyed {}", op.spec.name),
            PlannedStage::Window {
                kind,
                mode,
                aggregate,
                ..
            } => {
                let agg = match aggregate {
                    WindowAgg::Native(specs) => format!(
                        "[{}]",
                        specs
                            .iter()
                            .map(crate::job::AggregateSpec::output_name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    WindowAgg::Wasm(op) => format!("wasm {}", op.spec.name),
                };
                // Where the contents live decides the checkpoint's format.
                let store = match spec.state.backend.as_str() {
                    "rocksdb" => "in rocksdb",
                    _ => "on the heap",
                };
                format!("window {kind:?} {mode:?} {agg} {store}")
            }
        });
        let kind = |s: &crate::job::SourceSpec| {
            match s {
                crate::job::SourceSpec::File { .. } => "file",
                crate::job::SourceSpec::Stdin { .. } => "stdin",
                crate::job::SourceSpec::Datagen(_) => "datagen",
                crate::job::SourceSpec::Kafka(_) => "kafka",
            }
            .to_string()
        };
        JobGraph {
            source: kind(&spec.source),
            sources: spec
                .sources
                .iter()
                .map(|s| (s.name.clone(), kind(&s.source)))
                .collect(),
            chain: spec.operators.iter().map(|o| o.name.clone()).collect(),
            key_by: spec.key_by.as_ref().map(|k| k.field.clone()),
            stage,
            stages: plan
                .graph
                .iter()
                .map(|s| {
                    let mut spec = s.spec.clone();
                    // Which version of an operator runs is not the graph's shape.
                    for op in &mut spec.operators {
                        op.component = Default::default();
                    }
                    let agg = spec.window.as_mut().and_then(|w| w.aggregate.as_mut());
                    for op in agg.into_iter().chain(spec.keyed.as_mut()) {
                        op.component = Default::default();
                    }
                    serde_json::to_string(&spec).unwrap_or_default()
                })
                .collect(),
        }
    }
}

/// Operator name → component digest, for every Wasm operator of a plan.
pub fn components_of(plan: &Plan) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = plan
        .chain
        .iter()
        .map(|op| (op.spec.name.clone(), op.component.digest.clone()))
        .collect();
    match &plan.stage {
        Some(PlannedStage::Keyed(op)) => {
            out.insert(op.spec.name.clone(), op.component.digest.clone());
        }
        Some(PlannedStage::Window {
            aggregate: WindowAgg::Wasm(op),
            ..
        }) => {
            out.insert(op.spec.name.clone(), op.component.digest.clone());
        }
        _ => {}
    }
    for st in &plan.graph {
        match &st.work {
            crate::plan::StageWork::Operators(ops) => {
                for op in ops {
                    out.insert(op.spec.name.clone(), op.component.digest.clone());
                }
            }
            crate::plan::StageWork::Keyed(PlannedStage::Window {
                aggregate: WindowAgg::Wasm(op),
                ..
            }) => {
                out.insert(op.spec.name.clone(), op.component.digest.clone());
            }
            crate::plan::StageWork::Keyed(PlannedStage::Keyed(op)) => {
                out.insert(op.spec.name.clone(), op.component.digest.clone());
            }
            _ => {}
        }
    }
    out
}
