//! The operators of graph stages: Wasm transforms, keyed operators,
//! windows and joins,
//! each opened (and restored) for one subtask.

use super::keyed_stage::Keyed;
use super::operator::{Batch, Cx, Operator, keyed_events, write_state};
use super::window_stage::{GuestInput, Window};
use crate::join::{IntervalJoin, JoinError, JoinOutput, JoinState, RegularJoin, Side, WindowJoin};
use crate::plan::{JoinKind, Plan, PlannedGraphStage, PlannedStage, StageWork, WindowAgg};
use crate::runtime::RunError;
use crate::runtime::keyed_operator::KeyedOperator;
use crate::runtime::swap::Swap;
use crate::state::StateStore;
use crate::wasm::World;
use crate::wasm::column_aggregate::ColumnAggregateInstance;
use crate::wasm::instance::AggregateInstance;
use crate::window::aggregate::Aggregation;
use crate::window::operator::WindowOperator;
use crate::window::snapshot::WINDOW_FILE;
use std::path::Path;
use std::sync::Arc;

/// The join state file in a subtask's checkpoint directory.
const JOIN_FILE: &str = "join.bin";

/// Where a subtask's state comes from when the job resumes.
pub(super) struct Restore<'a> {
    /// The checkpoint.
    pub point: &'a crate::checkpoint::RestorePoint,
    /// `<checkpoint>/<stage>-<old subtask>` of every old subtask whose
    /// state may hold keys this one owns.
    pub dirs: Vec<std::path::PathBuf>,
    /// Whether this subtask owns a key.
    pub keeps: &'a dyn Fn(&[u8]) -> bool,
    /// Makes the error of a state that cannot be read.
    pub error: &'a dyn Fn(String) -> RunError,
}

impl Restore<'_> {
    fn each<E: std::fmt::Display>(
        &self,
        file: &str,
        mut f: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), RunError> {
        for dir in &self.dirs {
            let path = dir.join(file);
            let bytes = std::fs::read(&path)
                .map_err(|e| (self.error)(format!("{}: {e}", path.display())))?;
            f(&bytes).map_err(|e| (self.error)(format!("{}: {e}", path.display())))?;
        }
        Ok(())
    }
}

/// Open stage `stage`'s operator for `subtask`, its state in `store`;
/// `columns_out`: every reader of the stage takes columns.
pub(super) fn open(
    plan: &Plan,
    stage: &PlannedGraphStage,
    subtask: usize,
    store: &StateStore,
    restore: Option<&Restore>,
    columns_out: bool,
) -> Result<Box<dyn Operator>, RunError> {
    let name = stage.spec.name.as_str();
    let n = plan.job.spec.parallelism;
    // The subtask's state backend: its working copy, or the checkpoint's.
    // A one-chain job's keyed stage keeps its working copies where it
    // always has: `subtask-<n>`.
    let working = if plan.graph.is_empty() {
        "subtask"
    } else {
        name
    };
    let backend = || match restore {
        Some(r) => store.restore_stage_backend(
            name,
            working,
            subtask,
            n,
            &r.point.info.path,
            r.point.data.parallelism,
            &r.point.data.state_backend,
        ),
        None => store.stage_backend(working, subtask),
    };
    Ok(match &stage.work {
        StageWork::Pass => Box::new(super::operator::Pass),
        StageWork::Sql {
            query,
            table,
            schema,
            changelog,
            functions,
        } => Box::new(
            super::sql_stage::SqlStage::new(
                &plan.job.spec.name,
                &stage.spec.name,
                query,
                table,
                schema.clone(),
                columns_out,
            )?
            .writing_changelog(*changelog)
            .calling(plan, functions, subtask),
        ),
        StageWork::Operators(ops) => {
            Box::new(super::chain::Chain::new(plan, ops, subtask, columns_out)?)
        }
        StageWork::Keyed(PlannedStage::Window {
            kind,
            mode,
            lateness_ms,
            aggregate,
            beside,
            skip_nulls,
        }) => {
            let mut guest = None;
            let (agg, agg_name, fields) = match aggregate {
                WindowAgg::Native(specs) => (
                    Aggregation::native(specs),
                    None,
                    Some(specs.iter().map(|a| a.field.clone()).collect()),
                ),
                WindowAgg::Wasm(op) if op.component.world == World::ColumnAggregate => {
                    let i = ColumnAggregateInstance::new(&plan.instance_spec(op, subtask))?;
                    let schema = i.input_schema().clone();
                    guest = Some(GuestInput::new(
                        schema,
                        &plan.job.spec.name,
                        (**op).clone(),
                        subtask,
                        *skip_nulls,
                    )?);
                    (
                        Aggregation::columns(i, beside),
                        Some(op.spec.name.clone()),
                        // The fields of the built-ins beside it.
                        Some(beside.iter().map(|a| a.field.clone()).collect()),
                    )
                }
                WindowAgg::Wasm(op) => (
                    Aggregation::Wasm(Box::new(AggregateInstance::new(
                        &plan.instance_spec(op, subtask),
                    )?)),
                    Some(op.spec.name.clone()),
                    None,
                ),
            };
            let mut w = match store {
                // Window contents in RocksDB: larger than memory is fine.
                StateStore::Rocks { .. } => WindowOperator::in_backend(
                    *kind,
                    *mode,
                    *lateness_ms,
                    agg,
                    backend()?,
                    subtask,
                    n,
                ),
                StateStore::Memory { budgets } => {
                    WindowOperator::new(*kind, *mode, *lateness_ms, agg, budgets.clone())
                }
            };
            if let Some(r) = restore {
                r.each(WINDOW_FILE, |bytes| w.restore(bytes, r.keeps))?;
            }
            if columns_out {
                w.results_as_columns();
            }
            Box::new(Window {
                w: Box::new(w),
                mode: *mode,
                agg_name,
                key_field: stage
                    .spec
                    .key_by
                    .as_ref()
                    .map(|k| k.field.clone())
                    .unwrap_or_default(),
                fields,
                guest,
                said: false,
            })
        }
        StageWork::Keyed(PlannedStage::Keyed(op)) => Box::new(Keyed::new(
            KeyedOperator::new(plan, op, subtask, backend()?)?,
            stage.spec.key_by.as_ref().map(|k| k.field.clone()),
            columns_out,
            &plan.job.spec.name,
        )?),
        StageWork::Over {
            frame,
            aggregates,
            processing,
        } => {
            let key = stage.spec.key_by.as_ref().map_or("", |k| k.field.as_str());
            let mut o = super::over_stage::Over {
                o: {
                    let o = crate::over::OverOperator::new(
                        *frame,
                        aggregates.clone(),
                        key,
                        store.budgets().clone(),
                    );
                    if *processing { o.in_arrival_order() } else { o }
                },
                processing: *processing,
                job: plan.job.spec.name.clone(),
                stage: name.to_string(),
            };
            if let Some(r) = restore {
                for dir in &r.dirs {
                    o.o.restore_from(dir, r.keeps)
                        .map_err(|e| (r.error)(format!("{}: {e}", dir.display())))?;
                }
            }
            Box::new(o)
        }
        StageWork::Rank(ranking) => {
            let key = stage.spec.key_by.as_ref().map_or("", |k| k.field.as_str());
            let mut r = super::rank_stage::Rank {
                r: crate::rank::RankOperator::new(ranking.clone(), key, store.budgets().clone()),
                job: plan.job.spec.name.clone(),
                stage: name.to_string(),
            };
            if let Some(restore) = restore {
                for dir in &restore.dirs {
                    r.r.restore_from(dir, restore.keeps)
                        .map_err(|e| (restore.error)(format!("{}: {e}", dir.display())))?;
                }
            }
            Box::new(r)
        }
        StageWork::Join(kind) => {
            // The buffers in the stage's backend, like a keyed operator's
            // state: RocksDB holds joins larger than memory.
            let state = JoinState::new(backend()?, subtask, n, store.budgets().clone());
            let mut j = match *kind {
                JoinKind::Window(k) => Joiner::Window(WindowJoin::new(k, state)),
                JoinKind::Interval { lower, upper } => {
                    Joiner::Interval(IntervalJoin::new(lower, upper, state))
                }
                // In memory, a regular join's rows in a hash map; in RocksDB,
                // in the backend's ordered layout.
                JoinKind::Regular { ttl, outer } => match store {
                    StateStore::Memory { .. } => {
                        Joiner::Regular(RegularJoin::outer(ttl, outer, state)?)
                    }
                    // (Validation refuses this first.)
                    StateStore::Rocks { .. } if outer.any() => {
                        return Err(RunError::State(crate::state::StateError::Backend {
                            backend: "join",
                            message: "an outer join keeps its rows in memory so far".into(),
                        }));
                    }
                    StateStore::Rocks { .. } => Joiner::Interval(IntervalJoin::regular(ttl, state)),
                },
            };
            if let Some(r) = restore {
                r.each(JOIN_FILE, |bytes| match &mut j {
                    Joiner::Window(w) => w.restore(bytes),
                    Joiner::Interval(i) => i.restore(bytes),
                    Joiner::Regular(r) => r.restore(bytes),
                })?;
            }
            Box::new(Join {
                j,
                keys: (0..2)
                    .map(|k| stage.spec.key_of_input(k).map(str::to_string))
                    .collect(),
            })
        }
    })
}

/// A join of the stage's two inputs.
struct Join {
    j: Joiner,
    /// Each input's key field.
    keys: Vec<Option<String>>,
}

/// A window join, an interval join (or a regular join in RocksDB), or a
/// regular join in memory.
enum Joiner {
    Window(WindowJoin),
    Interval(IntervalJoin),
    Regular(RegularJoin),
}

impl Join {
    fn emit(out: JoinOutput, cx: &mut Cx) -> Result<(), RunError> {
        cx.side.late(cx.epoch, &out.late)?;
        cx.emit(out.results)
    }
}

impl From<JoinError> for RunError {
    fn from(e: JoinError) -> Self {
        match e {
            JoinError::OverBudget(o) => RunError::OverBudget(o),
            JoinError::State(e) => RunError::State(e),
            other => RunError::State(crate::state::StateError::Backend {
                backend: "join",
                message: other.to_string(),
            }),
        }
    }
}

impl Operator for Join {
    fn process_batch(&mut self, input: usize, batch: Batch, cx: &mut Cx) -> Result<(), RunError> {
        let key = self.keys.get(input).cloned().flatten();
        let records = keyed_events(batch, key.as_deref(), cx)?;
        let side = if input == 0 { Side::Left } else { Side::Right };
        let mut out = JoinOutput::default();
        match &mut self.j {
            Joiner::Window(j) => j.process(side, records, &mut out)?,
            Joiner::Interval(j) => j.process(side, records, &mut out)?,
            Joiner::Regular(j) => j.process(side, records, &mut out)?,
        }
        Self::emit(out, cx)
    }
    fn on_watermark(&mut self, cx: &mut Cx) -> Result<(), RunError> {
        let mut out = JoinOutput::default();
        match &mut self.j {
            Joiner::Window(j) => j.advance(cx.watermark, &mut out)?,
            Joiner::Interval(j) => j.advance(cx.watermark)?,
            Joiner::Regular(j) => j.advance(cx.watermark),
        }
        Self::emit(out, cx)
    }
    fn on_barrier(&mut self, dir: &Path) -> Result<(), RunError> {
        let bytes = match &mut self.j {
            Joiner::Window(j) => j.snapshot_into(dir)?,
            Joiner::Interval(j) => j.snapshot_into(dir)?,
            Joiner::Regular(j) => j.snapshot_into(dir)?,
        };
        write_state(dir, JOIN_FILE, &bytes)
    }
    fn on_swap(&mut self, _: &Plan, _: usize, _: &Arc<Swap>) -> Result<(), RunError> {
        Ok(())
    }
}
