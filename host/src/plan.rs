//! From a validated job to something runnable: components built or loaded,
//! checked against the world each operator needs, limits parsed.

mod columns;
mod sql_check;
mod stages;

pub use columns::{ForcedTypes, SourceColumns};

use crate::budget::Budgets;
use crate::build::{self, BuildError};
use crate::job::{AggregateSpec, JobSpec, LoadedJob, OperatorSpec, config_json, parse_bytes};
use crate::time::parse_duration_ms;
use crate::wasm::host::OperatorId;
use crate::wasm::instance::{CallLimits, InstanceSpec};
use crate::wasm::{LoadedComponent, WasmEngine, WasmError, World};
use crate::window::{TimeMode, WindowKind};
use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

/// Why a job could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// An operator's project failed to build.
    #[error("operator `{operator}`: {source}")]
    Build {
        /// Operator.
        operator: String,
        /// The build error.
        source: BuildError,
    },
    /// A component failed to load or is of the wrong world.
    #[error(transparent)]
    Wasm(#[from] WasmError),
    /// The source's declared schema is not valid.
    #[error("[source.schema]: {0}")]
    Schema(#[from] crate::batch::SchemaError),
    /// A stage's SQL query does not compile for the schema its input
    /// declares.
    #[error(transparent)]
    Sql(#[from] crate::sql::SqlError),
    /// Built-in aggregates beside a Wasm aggregate over JSON events.
    #[error(
        "window aggregate `{operator}` is over JSON events (weir:dataflow@0.1); built-in \
         aggregates (`aggregates`) go beside a Wasm aggregate over columns (0.2) only: \
         rebuild it with the 0.2 SDK, or compute them in a stage of their own"
    )]
    BesideEvents {
        /// The Wasm aggregate.
        operator: String,
    },
    /// A global window (updates per key) of a Wasm aggregate over JSON
    /// events.
    #[error(
        "window aggregate `{operator}` is over JSON events (weir:dataflow@0.1); a global \
         window's updates are made of a Wasm aggregate over columns (0.2) only: rebuild it \
         with the 0.2 SDK"
    )]
    GlobalOverEvents {
        /// The Wasm aggregate.
        operator: String,
    },
}

/// A Wasm operator, ready to instantiate.
#[derive(Clone)]
pub struct PlannedOperator {
    /// As written in the job.
    pub spec: OperatorSpec,
    /// Compiled and checked.
    pub component: LoadedComponent,
    /// Its config as JSON, for `init`.
    pub config: String,
}

/// What a window computes.
#[derive(Clone)]
pub enum WindowAgg {
    /// Built-ins.
    Native(Vec<AggregateSpec>),
    /// A Wasm aggregate function.
    Wasm(Box<PlannedOperator>),
}

/// The keyed stage.
#[derive(Clone)]
pub enum PlannedStage {
    /// A window.
    Window {
        /// Assigner.
        kind: WindowKind,
        /// Event or processing time.
        mode: TimeMode,
        /// Allowed lateness.
        lateness_ms: i64,
        /// Aggregation.
        aggregate: WindowAgg,
        /// Built-in aggregates beside a Wasm aggregate over columns.
        beside: Vec<AggregateSpec>,
        /// A Wasm aggregate's rows with a NULL it cannot take are assigned
        /// but not added ([`crate::job::WindowSpec::skip_nulls`]).
        skip_nulls: bool,
    },
    /// A keyed Wasm operator.
    Keyed(PlannedOperator),
}

/// What a stage of a job graph does.
// One per stage, planned once: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub enum StageWork {
    /// Nothing: a union of its inputs, or a key-by.
    Pass,
    /// Stateless Wasm operators over events, in order.
    Operators(Vec<PlannedOperator>),
    /// A window or a keyed Wasm operator (the keyed stage of a one-chain
    /// job, as a stage).
    Keyed(PlannedStage),
    /// A join of its two inputs.
    Join(JoinKind),
    /// An OVER aggregation of its one input, keyed.
    Over {
        /// Which rows each row's aggregates cover.
        frame: crate::over::Frame,
        /// The aggregates, each a column added to the row.
        aggregates: Vec<crate::over::OverAggregate>,
        /// Rows are ordered as they come, by processing time.
        processing: bool,
    },
    /// A Top-N of its one input, keyed.
    Rank(crate::rank::Ranking),
    /// A SQL query (projections and filters) over its one input, which it
    /// reads as table `table`.
    Sql {
        /// The query.
        query: String,
        /// The input's name in it.
        table: String,
        /// The input's schema, when the stage declares it (`sql.schema`).
        schema: Option<arrow_schema::SchemaRef>,
        /// How it writes a changelog to a sink (`sql.changelog`).
        changelog: Option<crate::job::ChangelogFormat>,
        /// The Wasm scalar functions its query calls (`sql.functions`).
        functions: Vec<PlannedOperator>,
    },
}

/// Which join.
#[derive(Debug, Clone, Copy)]
pub enum JoinKind {
    /// Pairs in the same window.
    Window(WindowKind),
    /// Right records in `[left.ts + lower, left.ts + upper]`.
    Interval {
        /// Lower bound, ms.
        lower: i64,
        /// Upper bound, ms.
        upper: i64,
    },
    /// Every pair with equal keys; records kept for ever or `ttl` ms
    /// (processing time).
    Regular {
        /// Time to live, ms.
        ttl: Option<i64>,
        /// The sides an outer join keeps whole.
        outer: crate::join::Outer,
    },
}

/// A stage of a job graph, ready to run.
#[derive(Clone)]
pub struct PlannedGraphStage {
    /// As written.
    pub spec: crate::job::StageSpec,
    /// Its subtasks see every step of the source (its input is
    /// partitioned by key), rather than taking turns.
    pub keyed: bool,
    /// What it does.
    pub work: StageWork,
}

/// A runnable job.
pub struct Plan {
    /// The job.
    pub job: LoadedJob,
    /// The engine instances are created in.
    pub engine: &'static WasmEngine,
    /// Stateless operators, in order: those over columns first.
    pub chain: Vec<PlannedOperator>,
    /// The chain starts with operators over columns: the source decodes
    /// its records into columnar batches once.
    pub columns: bool,
    /// With `columns`: some stage after the operators over columns takes
    /// the records themselves (an operator over events, the keyed stage, a
    /// sink that writes), so the source keeps each record's bytes, key and
    /// headers beside the columns. A job whose operators over columns feed
    /// a discard sink only needs the columns.
    pub keeps_records: bool,
    /// The schema the source declares (`[source.schema]`); `None`: inferred
    /// from the first records.
    pub schema: Option<arrow_schema::SchemaRef>,
    /// Types an inferred schema gives these top-level fields whatever the
    /// first records hold (see [`columns`]).
    pub column_types: ForcedTypes,
    /// The named sources (`[[sources]]`) that decode their records into
    /// columns once, as `[source]` does for `columns`. They keep each
    /// record's bytes too.
    pub source_columns: BTreeMap<String, SourceColumns>,
    /// The keyed stage is a built-in window that reads the source's
    /// columns (see [`columns`]); other windows read the columns of the
    /// stage or source before them when it has them.
    pub window_columns: bool,
    /// Stages pass rows on as typed columns to readers that take them
    /// (see `runtime::graph::columns_out`); `false` writes them as JSON
    /// events between stages, as before typed columns between stages (a
    /// benchmark's baseline, never set by a job).
    pub stage_columns: bool,
    /// The keyed stage, if any.
    pub stage: Option<PlannedStage>,
    /// A job graph's stages (`[[stages]]`), inputs before the stages that
    /// read them; empty for a one-chain job.
    pub graph: Vec<PlannedGraphStage>,
    /// Per-instance limits.
    pub limits: CallLimits,
    /// What the job may make the host spend (memory, disk, log), shared
    /// by all its tasks.
    pub budgets: Arc<Budgets>,
    /// Busy time per operator name, ns.
    busy: Mutex<BTreeMap<String, Arc<AtomicU64>>>,
}

impl Plan {
    /// The busy-time counter of operator `name` (created on first use;
    /// every version of an operator adds to the same one).
    pub fn busy(&self, name: &str) -> Arc<AtomicU64> {
        self.busy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(name.to_string())
            .or_default()
            .clone()
    }

    /// Busy time so far of each operator, ns.
    pub fn busy_ns(&self) -> Vec<(String, u64)> {
        self.busy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.load(std::sync::atomic::Ordering::Relaxed)))
            .collect()
    }

    /// The Wasm operators of a job graph's stages, with their worlds.
    pub fn graph_operators(&self) -> Vec<(&PlannedOperator, World)> {
        let mut out = Vec::new();
        for st in &self.graph {
            match &st.work {
                StageWork::Operators(ops) => out.extend(ops.iter().map(|o| (o, World::Transform))),
                StageWork::Keyed(PlannedStage::Window {
                    aggregate: WindowAgg::Wasm(op),
                    ..
                }) => out.push((&**op, World::Aggregate)),
                StageWork::Keyed(PlannedStage::Keyed(op)) => out.push((op, World::Keyed)),
                StageWork::Sql { functions, .. } => {
                    out.extend(functions.iter().map(|o| (o, World::Columns)));
                }
                _ => {}
            }
        }
        out
    }

    /// What subtask `subtask` needs to instantiate `op`.
    pub fn instance_spec<'a>(
        &'a self,
        op: &'a PlannedOperator,
        subtask: usize,
    ) -> InstanceSpec<'a> {
        InstanceSpec {
            engine: self.engine,
            component: &op.component,
            id: OperatorId {
                job: self.job.spec.name.as_str().into(),
                operator: op.component.operator.clone(),
                subtask,
                busy_ns: self.busy(&op.spec.name),
            },
            grants: &op.spec.grants,
            limits: self.limits,
            config: &op.config,
            budgets: self.budgets.clone(),
        }
    }
}

/// The component file of operator `op`: built first if it is a project
/// (for `world`: a Python project is built against that world's WIT).
fn component_file(
    job: &LoadedJob,
    op: &OperatorSpec,
    world: World,
) -> Result<std::path::PathBuf, PlanError> {
    let path = job.resolve(&op.component);
    if !path.is_dir() {
        return Ok(path);
    }
    tracing::info!(operator = %op.name, project = %path.display(), "building operator");
    build::build(&path, world).map_err(|source| PlanError::Build {
        operator: op.name.clone(),
        source,
    })
}

/// [`Plan::graph_operators`], mutable (a resumed job runs the versions
/// its checkpoint recorded).
pub fn graph_operators_mut(graph: &mut [PlannedGraphStage]) -> Vec<(&mut PlannedOperator, World)> {
    let mut out = Vec::new();
    for st in graph {
        match &mut st.work {
            StageWork::Operators(ops) => out.extend(ops.iter_mut().map(|o| (o, World::Transform))),
            StageWork::Keyed(PlannedStage::Window {
                aggregate: WindowAgg::Wasm(op),
                ..
            }) => out.push((&mut **op, World::Aggregate)),
            StageWork::Keyed(PlannedStage::Keyed(op)) => out.push((op, World::Keyed)),
            StageWork::Sql { functions, .. } => {
                out.extend(functions.iter_mut().map(|o| (o, World::Columns)));
            }
            _ => {}
        }
    }
    out
}

/// Build (if it is a project) and load the component of operator `op` of
/// `job`, checked against `world` — or, for a transform, a keyed operator
/// or an aggregate,
/// against the same world over columns (`weir:dataflow@0.2`) when that is
/// what the component implements. Also used for a live swap's new version.
pub fn load_operator(
    job: &LoadedJob,
    engine: &'static WasmEngine,
    op: &OperatorSpec,
    world: World,
) -> Result<PlannedOperator, PlanError> {
    let wasm = component_file(job, op, world)?;
    let over_columns = match world {
        World::Transform => Some(World::Columns),
        World::Aggregate => Some(World::ColumnAggregate),
        World::Keyed => Some(World::ColumnKeyed),
        _ => None,
    };
    let component = match (
        LoadedComponent::load(engine, &op.name, &wasm, world),
        over_columns,
    ) {
        (Err(WasmError::Version { found, .. }), Some(columns))
            if crate::wasm::compatible(&found, columns.version()) =>
        {
            LoadedComponent::load(engine, &op.name, &wasm, columns)?
        }
        (other, _) => other?,
    };
    Ok(PlannedOperator {
        component,
        config: config_json(&op.config),
        spec: op.clone(),
    })
}

/// Load a chained operator: a transform over JSON events (0.1) or over
/// columns (0.2), whichever its component implements.
pub fn load_chained(
    job: &LoadedJob,
    engine: &'static WasmEngine,
    op: &OperatorSpec,
) -> Result<PlannedOperator, PlanError> {
    load_operator(job, engine, op, World::Transform)
}

/// Build (if needed) and load every component of `job`.
pub fn prepare(job: LoadedJob, engine: &'static WasmEngine) -> Result<Plan, PlanError> {
    let load = |op: &OperatorSpec, world: World| load_operator(&job, engine, op, world);
    let spec: &JobSpec = &job.spec;
    let chain: Vec<PlannedOperator> = spec
        .operators
        .iter()
        .map(|op| load_chained(&job, engine, op))
        .collect::<Result<_, _>>()?;
    let schema = spec
        .source
        .schema()
        .map(|s| crate::batch::schema_of(s).map(std::sync::Arc::new))
        .transpose()?;
    let dur = |s: &str| parse_duration_ms(s).unwrap_or(0);
    let stage = if let Some(k) = &spec.keyed {
        Some(PlannedStage::Keyed(load(k, World::Keyed)?))
    } else if let Some(w) = &spec.window {
        Some(stages::window_stage(&job, engine, w)?)
    } else {
        None
    };
    let graph = stages::graph_stages(&job, engine)?;
    let mut named_schemas = BTreeMap::new();
    for named in &spec.sources {
        if let Some(s) = named.source.schema() {
            named_schemas.insert(
                named.name.clone(),
                std::sync::Arc::new(crate::batch::schema_of(s)?),
            );
        }
    }
    let l = &spec.limits;
    let bytes = |s: &Option<String>| {
        s.as_deref()
            .and_then(|s| parse_bytes(s).ok())
            .map(|b| b as u64)
    };
    let limits = CallLimits {
        memory_bytes: parse_bytes(&l.memory).unwrap_or(64 << 20),
        timeout_ms: dur(&l.call_timeout).max(1) as u64,
        max_output_per_record: l.max_output_per_record,
        max_output_bytes: parse_bytes(&l.max_output_bytes).unwrap_or(64 << 20),
    };
    let budgets = Budgets::new(
        &spec.name,
        bytes(&l.host_memory),
        bytes(&l.disk),
        bytes(&l.log_rate),
    );
    sql_check::queries(
        spec,
        &graph,
        schema.as_ref(),
        &named_schemas,
        engine,
        limits,
        &budgets,
    )?;
    let columns::ColumnPlan {
        columns,
        keeps_records,
        column_types,
        window_columns,
        source_columns,
    } = columns::plan(
        spec,
        &chain,
        stage.as_ref(),
        &graph,
        schema.as_deref(),
        |name| named_schemas.get(name).cloned(),
    );
    Ok(Plan {
        job,
        engine,
        chain,
        columns,
        keeps_records,
        schema,
        column_types,
        source_columns,
        window_columns,
        stage_columns: true,
        stage,
        graph,
        limits,
        budgets,
        busy: Mutex::default(),
    })
}

/// The watermark delay and the idle-input timeout (ms) of an event-time
/// spec (validated: a bad duration cannot reach here).
pub fn watermark_ms(et: Option<&crate::job::EventTimeSpec>) -> (i64, Option<i64>) {
    let dur = |s: &str| parse_duration_ms(s).unwrap_or(0);
    (
        et.map_or(0, |e| dur(&e.max_out_of_orderness)),
        et.and_then(|e| e.idle_timeout.as_deref()).map(dur),
    )
}
