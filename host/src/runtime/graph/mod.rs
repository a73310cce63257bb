//! Running a job graph (`[[stages]]`): one task per subtask of each stage,
//! wired by the edges the stages' inputs declare.
//!
//! ```text
//! source ──turns──▶ source fan[0..N] ──▶ stage ──▶ … ──▶ stage ──▶ sink
//!                    (one per lane)      forward, or by key (N×N)
//! ```
//!
//! The source deals its batches to N lanes as in a one-chain job; a fan
//! subtask per lane sends each batch to every stage that reads `source`.
//! An edge is forward (subtask i to subtask i) or, where the reading stage
//! partitions by key, from every subtask to every subtask. See
//! [`edges`] for why every step stays aligned, and [`operator`] for the one
//! trait every stage's work implements.

mod align;
mod chain;
mod driver;
mod edges;
mod fit;
mod keyed_stage;
mod operator;
mod over_stage;
mod rank_stage;
mod shape;
mod sql_stage;
mod stage_ops;
mod window_stage;

use super::{RunContext, RunError, Rx};
use crate::checkpoint::CheckpointError;
use crate::job::SOURCE;
use crate::job::StageSpec;
use crate::plan::{Plan, PlannedGraphStage, StageWork};
use crate::runtime::side::SideOutputs;
use crate::state::{KeyGroups, StateStore};
pub(super) use align::{Aligner, Group, Read};
use edges::Input;
use edges::{Output, Outputs};
pub(super) use operator::{At, Batch};
pub use shape::{Shape, ShapeInput, ShapeSink, ShapeStage, shape};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A task to spawn: its name and body.
pub(super) type Task = (
    String,
    Pin<Box<dyn Future<Output = Result<(), RunError>> + Send>>,
);

/// The stages a plan runs: a job graph's, or a one-chain job's as a
/// graph — `chain` (its operators, reading the source) and, when it has
/// one, `keyed` (its window or keyed operator, keyed by `key_by`), whose
/// checkpoint directories `keyed-<n>` are the ones one-chain jobs always
/// wrote.
pub(super) fn stages_of(plan: &Plan) -> Vec<PlannedGraphStage> {
    if !plan.graph.is_empty() {
        return plan.graph.clone();
    }
    let stage = |name: &str, input: &str, key_by: Option<crate::job::KeyBySpec>| StageSpec {
        name: name.into(),
        inputs: vec![input.into()],
        key_by,
        operators: Vec::new(),
        window: None,
        keyed: None,
        join: None,
        over: None,
        rank: None,
        sql: None,
    };
    let mut out = vec![PlannedGraphStage {
        spec: stage("chain", SOURCE, None),
        keyed: false,
        work: if plan.chain.is_empty() {
            StageWork::Pass
        } else {
            StageWork::Operators(plan.chain.clone())
        },
    }];
    if let Some(keyed) = &plan.stage {
        out.push(PlannedGraphStage {
            spec: stage("keyed", "chain", plan.job.spec.key_by.clone()),
            keyed: true,
            work: StageWork::Keyed(keyed.clone()),
        });
    }
    out
}

/// The stages the job's sinks write, `[sink]`'s first: the stage that no
/// other stage and no named sink reads (a one-chain job's last), then each
/// named sink's input.
pub(super) fn sink_stages(plan: &Plan, stages: &[PlannedGraphStage]) -> Vec<String> {
    let spec = &plan.job.spec;
    let main = if plan.graph.is_empty() {
        stages.last().map(|s| s.spec.name.clone())
    } else {
        crate::job::last_stage(spec).map(|s| s.name.clone())
    };
    main.into_iter()
        .chain(spec.sinks.iter().map(|s| s.input.clone()))
        .collect()
}

/// The stages that send their rows on as typed columns when they have
/// them: those whose every reader takes columns — a stage that starts
/// with an operator over columns, a window with built-in aggregates or an
/// aggregate over columns, a discard sink, or a stage that passes rows on
/// to such readers. Other
/// readers (operators over events, keyed operators, joins, sinks that
/// write) get records, written as JSON once by the stage before them.
/// Without [`Plan::stage_columns`] (a benchmark's baseline) only a stage
/// that feeds a discard sink alone sends columns.
pub(super) fn columns_out(
    plan: &Plan,
    stages: &[PlannedGraphStage],
    sink_stages: &[String],
) -> BTreeSet<String> {
    use crate::job::SinkSpec;
    use crate::plan::{PlannedStage, WindowAgg};
    use crate::wasm::World;
    let spec = &plan.job.spec;
    // The sinks in `sink_stages`' order: `[sink]` when a stage feeds it,
    // then the named ones.
    let main = sink_stages.len() > spec.sinks.len();
    let sinks: Vec<(&str, bool)> = main
        .then_some(&spec.sink)
        .into_iter()
        .chain(spec.sinks.iter().map(|s| &s.sink))
        .zip(sink_stages)
        .map(|(sink, stage)| (stage.as_str(), matches!(sink, SinkSpec::Discard {})))
        .collect();
    let mut out = BTreeSet::new();
    for st in stages.iter().rev() {
        let name = st.spec.name.as_str();
        let stage_readers = stages
            .iter()
            .filter(|r| r.spec.input_names().contains(&name))
            .map(|r| {
                plan.stage_columns
                    && match &r.work {
                        StageWork::Operators(ops) => ops
                            .first()
                            .is_some_and(|op| op.component.world == World::Columns),
                        StageWork::Keyed(PlannedStage::Window {
                            aggregate: WindowAgg::Native(_),
                            ..
                        }) => true,
                        StageWork::Keyed(PlannedStage::Window {
                            aggregate: WindowAgg::Wasm(op),
                            ..
                        }) => op.component.world == World::ColumnAggregate,
                        StageWork::Keyed(PlannedStage::Keyed(op)) => {
                            op.component.world == World::ColumnKeyed
                        }
                        StageWork::Pass => out.contains(&r.spec.name),
                        StageWork::Sql { .. } | StageWork::Over { .. } | StageWork::Rank(_) => true,
                        _ => false,
                    }
            });
        let sink_readers = sinks.iter().filter(|(s, _)| *s == name).map(|(_, d)| *d);
        let mut readers = stage_readers.chain(sink_readers).peekable();
        if readers.peek().is_some() && readers.all(|takes| takes) {
            out.insert(name.to_string());
        }
    }
    out
}

/// What every task of a run shares.
pub(super) struct Env<'a> {
    /// Late records and dead letters.
    pub side: &'a Arc<SideOutputs>,
    /// Keyed state.
    pub store: &'a Arc<StateStore>,
    /// Checkpoints, swaps, the restore point.
    pub ctx: &'a RunContext,
    /// The job's counters (each stage's are made here).
    pub metrics: &'a Arc<crate::runtime::metrics::Metrics>,
    /// The epoch of the first records, read once before any task starts:
    /// a task that read it itself could start after the source triggered
    /// the first checkpoint, and miss that barrier.
    pub first_epoch: u64,
}

/// Where a stage's or source's steps come from: one source's dealing
/// (`Some(name)`: its subtasks' steps are in step with that source's), or
/// several sources' (`None`: each subtask at its own pace).
type Domain = Option<String>;

/// A reader's inputs being wired: groups in step by domain, and inputs
/// read each on its own (see [`align`]).
#[derive(Default)]
struct Wiring {
    in_step: BTreeMap<String, Group>,
    alone: Vec<Group>,
}

impl Wiring {
    fn add(&mut self, domain: &Domain, input: usize, edge: Input) {
        match domain {
            Some(d) => self
                .in_step
                .entry(d.clone())
                .or_default()
                .push((input, edge)),
            None => self.alone.push(vec![(input, edge)]),
        }
    }
    fn groups(self) -> Vec<Group> {
        self.in_step.into_values().chain(self.alone).collect()
    }
}

/// The tasks of a job graph, wired from the sources' lanes (by source
/// name) to the sinks: with the sink task's inputs, input `k` the records
/// of `sink_stages[k]` (see [`sink_stages`]).
pub(super) fn tasks(
    plan: &Arc<Plan>,
    stages: Arc<Vec<PlannedGraphStage>>,
    from_sources: Vec<(String, Vec<Rx>)>,
    sink_stages: &[String],
    env: &Env,
) -> (Vec<Task>, Aligner) {
    let (side, store, ctx, first_epoch): (&Arc<SideOutputs>, &Arc<StateStore>, &RunContext, u64) =
        (env.side, env.store, env.ctx, env.first_epoch);
    let metrics = env.metrics;
    let n = plan.job.spec.parallelism;
    let job = plan.job.spec.name.as_str();
    let empty = || (0..n).map(|_| Vec::new()).collect::<Vec<Vec<Output>>>();
    let mut outs: BTreeMap<String, Vec<Vec<Output>>> = BTreeMap::new();
    let mut keyed: BTreeMap<String, bool> = BTreeMap::new();
    let mut domains: BTreeMap<String, Domain> = BTreeMap::new();
    for (name, _) in &from_sources {
        outs.insert(name.clone(), empty());
        keyed.insert(name.clone(), false);
        domains.insert(name.clone(), Some(name.clone()));
    }
    // A source's lanes go straight to the one stage that reads it without
    // a key, if only one does; otherwise a fan subtask per lane hands each
    // batch to every stage that reads it.
    let direct = |source: &str| {
        let keys: Vec<Option<&str>> = stages
            .iter()
            .flat_map(|st| {
                let names = st.spec.input_names();
                (0..names.len())
                    .filter(|k| names[*k] == source)
                    .map(|k| st.spec.key_of_input(k))
                    .collect::<Vec<_>>()
            })
            .collect();
        matches!(keys.as_slice(), [None])
    };
    let mut lanes_of: BTreeMap<String, Vec<Rx>> = BTreeMap::new();
    let mut fans: Vec<(String, Vec<Rx>)> = Vec::new();
    for (name, lanes) in from_sources {
        if direct(&name) {
            lanes_of.insert(name, lanes);
        } else {
            fans.push((name, lanes));
        }
    }
    let mut ins: Vec<Vec<Wiring>> = Vec::with_capacity(stages.len());
    for st in stages.iter() {
        let mut mine: Vec<Wiring> = (0..n).map(|_| Wiring::default()).collect();
        let mut domain: Option<Domain> = None;
        for (k, input) in st.spec.input_names().into_iter().enumerate() {
            let senders = outs.get_mut(input).expect("inputs come first");
            let from = domains.get(input).cloned().flatten();
            domain = Some(match domain {
                None => from.clone(),
                Some(d) if d == from => d,
                Some(_) => None,
            });
            match st.spec.key_of_input(k) {
                Some(field) => {
                    let mut lanes: Vec<Vec<Rx>> = (0..n).map(|_| Vec::new()).collect();
                    for sender in senders.iter_mut() {
                        let (txs, rxs) = super::channels(n);
                        sender.push(Output::ByKey {
                            txs,
                            field: field.to_string(),
                        });
                        for (b, rx) in rxs.into_iter().enumerate() {
                            lanes[b].push(rx);
                        }
                    }
                    let all = keyed.get(input).copied().unwrap_or(false);
                    for (b, lanes) in lanes.into_iter().enumerate() {
                        if from.is_none() {
                            // Senders at their own pace: each on its own.
                            for rx in lanes {
                                mine[b].add(&None, k, Input::One(rx));
                            }
                        } else if all {
                            mine[b].add(&from, k, Input::All(lanes));
                        } else {
                            mine[b].add(&from, k, Input::Turns { lanes, turn: 0 });
                        }
                    }
                }
                None if lanes_of.contains_key(input) => {
                    let lanes = lanes_of.remove(input).expect("one stage reads it");
                    for (a, rx) in lanes.into_iter().enumerate() {
                        mine[a].add(&from, k, Input::One(rx));
                    }
                }
                None => {
                    for (a, sender) in senders.iter_mut().enumerate() {
                        let (tx, rx) = super::channel();
                        sender.push(Output::Forward(tx));
                        mine[a].add(&from, k, Input::One(rx));
                    }
                }
            }
        }
        outs.insert(st.spec.name.clone(), empty());
        keyed.insert(st.spec.name.clone(), st.keyed);
        domains.insert(st.spec.name.clone(), domain.flatten());
        ins.push(mine);
    }
    // A sink reads a stage's subtasks in turn, or one step from each when
    // they all see every step, or each on its own when they are not in
    // step.
    let mut sink_wiring = Wiring::default();
    for (k, stage) in sink_stages.iter().enumerate() {
        let senders = outs.get_mut(stage).expect("validated: sinks read stages");
        let (txs, rxs) = super::channels(n);
        for (sender, tx) in senders.iter_mut().zip(txs) {
            sender.push(Output::Forward(tx));
        }
        let from = domains.get(stage).cloned().flatten();
        if from.is_none() {
            for rx in rxs {
                sink_wiring.add(&None, k, Input::One(rx));
            }
        } else if keyed.get(stage).copied().unwrap_or(false) {
            sink_wiring.add(&from, k, Input::All(rxs));
        } else {
            sink_wiring.add(
                &from,
                k,
                Input::Turns {
                    lanes: rxs,
                    turn: 0,
                },
            );
        }
    }
    let sink_inputs = Aligner::new(sink_wiring.groups(), job, "sink");
    let columns_out = Arc::new(columns_out(plan, &stages, sink_stages));
    let mut tasks: Vec<Task> = Vec::new();
    let mut task = |name: String,
                    stage: Option<usize>,
                    subtask: usize,
                    inputs: Vec<Group>,
                    edges: Vec<Output>| {
        let (plan, side, ctx, store) = (plan.clone(), side.clone(), ctx.clone(), store.clone());
        let stages = stages.clone();
        let columns_out = stage.is_some_and(|i| columns_out.contains(&stages[i].spec.name));
        let fan_of = name.rsplit_once("-fan-").map(|(s, _)| s.to_string());
        let stage_metrics = stage.map(|i| metrics.stage(&stages[i].spec.name, n));
        let body = async move {
            let (stage_name, op) = match stage {
                None => (
                    fan_of.as_deref().unwrap_or(SOURCE),
                    Box::new(operator::Pass) as Box<dyn operator::Operator>,
                ),
                Some(i) => {
                    let st = &stages[i];
                    (
                        st.spec.name.as_str(),
                        open(&plan, st, subtask, &store, &ctx, columns_out)?,
                    )
                }
            };
            let outputs = Outputs {
                edges,
                budgets: plan.budgets.clone(),
                job: plan.job.spec.name.clone(),
                stage: stage_name.to_string(),
            };
            let inputs = Aligner::new(inputs, &plan.job.spec.name, stage_name);
            driver::run(driver::StageTask {
                plan: &plan,
                stage: stage_name,
                subtask,
                op,
                inputs,
                outputs,
                side: &side,
                coordinator: ctx.coordinator.as_deref(),
                first_epoch,
                metrics: stage_metrics,
            })
            .await
        };
        tasks.push((name, Box::pin(body)));
    };
    for (name, lanes) in fans {
        let fan = outs.remove(&name).expect("inserted above");
        for (a, (rx, edges)) in lanes.into_iter().zip(fan).enumerate() {
            task(
                format!("{name}-fan-{a}"),
                None,
                a,
                vec![vec![(0, Input::One(rx))]],
                edges,
            );
        }
    }
    for (i, (st, inputs)) in stages.iter().zip(ins).enumerate() {
        let edges = outs.remove(&st.spec.name).expect("inserted above");
        for (a, (inputs, edges)) in inputs.into_iter().zip(edges).enumerate() {
            task(
                format!("{}-{a}", st.spec.name),
                Some(i),
                a,
                inputs.groups(),
                edges,
            );
        }
    }
    (tasks, sink_inputs)
}

/// Open stage `st`'s operator for `subtask`, with its state from the
/// checkpoint the job resumes from.
fn open(
    plan: &Plan,
    st: &PlannedGraphStage,
    subtask: usize,
    store: &StateStore,
    ctx: &RunContext,
    columns_out: bool,
) -> Result<Box<dyn operator::Operator>, RunError> {
    let n = plan.job.spec.parallelism;
    let Some(point) = ctx.restore.as_deref().filter(|r| !r.drop_stage_state) else {
        return stage_ops::open(plan, st, subtask, store, None, columns_out);
    };
    let old = point.data.parallelism;
    let dirs = if old == n {
        vec![point.info.path.join(format!("{}-{subtask}", st.spec.name))]
    } else {
        (0..old)
            .map(|o| point.info.path.join(format!("{}-{o}", st.spec.name)))
            .collect()
    };
    let keeps = |key: &[u8]| KeyGroups { parallelism: n }.subtask_of_key(key) == subtask;
    let error = |message: String| {
        RunError::Checkpoint(CheckpointError::TaskState {
            job: plan.job.spec.name.clone(),
            epoch: point.epoch(),
            task: format!("{}-{subtask}", st.spec.name),
            message,
        })
    };
    let restore = stage_ops::Restore {
        point,
        dirs,
        keeps: &keeps,
        error: &error,
    };
    stage_ops::open(plan, st, subtask, store, Some(&restore), columns_out)
}
