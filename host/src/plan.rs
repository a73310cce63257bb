//! From a validated job to something runnable: components built or loaded,
//! checked against the world each operator needs, limits parsed.

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
    /// first records hold (see [`window_columns`]).
    pub column_types: Vec<(String, arrow_schema::DataType)>,
    /// The named sources (`[[sources]]`) that decode their records into
    /// columns once, as `[source]` does for `columns`, with the schema
    /// each declares (`None`: inferred from its first records). They keep
    /// each record's bytes too.
    pub source_columns: std::collections::BTreeMap<String, Option<arrow_schema::SchemaRef>>,
    /// The keyed stage is a built-in window that reads the source's
    /// columns (see [`window_columns`]); other windows read the columns
    /// of the stage before them when it has them.
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
    /// Watermark delay.
    pub out_of_orderness_ms: i64,
    /// Idle-input timeout.
    pub idle_timeout_ms: Option<i64>,
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
            _ => {}
        }
    }
    out
}

/// Build (if it is a project) and load the component of operator `op` of
/// `job`, checked against `world`. Also used for a live swap's new version.
pub fn load_operator(
    job: &LoadedJob,
    engine: &'static WasmEngine,
    op: &OperatorSpec,
    world: World,
) -> Result<PlannedOperator, PlanError> {
    let wasm = component_file(job, op, world)?;
    Ok(PlannedOperator {
        component: LoadedComponent::load(engine, &op.name, &wasm, world)?,
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
    let wasm = component_file(job, op, World::Transform)?;
    let component = match LoadedComponent::load(engine, &op.name, &wasm, World::Transform) {
        Err(WasmError::Version { found, .. })
            if crate::wasm::compatible(&found, World::Columns.version()) =>
        {
            LoadedComponent::load(engine, &op.name, &wasm, World::Columns)?
        }
        other => other?,
    };
    Ok(PlannedOperator {
        component,
        config: config_json(&op.config),
        spec: op.clone(),
    })
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
        Some(window_stage(&job, engine, w)?)
    } else {
        None
    };
    let graph = graph_stages(&job, engine)?;
    let column_types = window_columns(spec, &chain, stage.as_ref(), schema.as_deref());
    // The source decodes columns for a stage that reads only it, without a
    // key, and starts with an operator over columns; operators over
    // columns elsewhere decode the events they are given.
    let reads_columns = |source: &str| {
        graph.iter().any(|st| {
            st.spec.input_names() == [source]
                && st.spec.key_by.is_none()
                && matches!(&st.work, StageWork::Operators(ops)
                    if ops.first().is_some_and(|op| op.component.world == World::Columns))
        })
    };
    let graph_columns = reads_columns(crate::job::SOURCE);
    let mut source_columns = std::collections::BTreeMap::new();
    for named in &spec.sources {
        if reads_columns(&named.name) {
            let schema = named
                .source
                .schema()
                .map(|s| crate::batch::schema_of(s).map(std::sync::Arc::new))
                .transpose()?;
            source_columns.insert(named.name.clone(), schema);
        }
    }
    let columns = column_types.is_some()
        || graph_columns
        || chain
            .first()
            .is_some_and(|op| op.component.world == World::Columns);
    let keeps_records = match column_types {
        // Stages of a graph may read the source's records themselves.
        _ if graph_columns => true,
        // The window's input records are seen again only as late records.
        Some(_) => !matches!(
            spec.late_output,
            None | Some(crate::job::SinkSpec::Discard {})
        ),
        // A window with built-in aggregates after the operators takes
        // their rows as columns (typed columns between stages).
        None => {
            !columns
                || chain.iter().any(|op| op.component.world != World::Columns)
                || spec.keyed.is_some()
                || matches!(
                    stage,
                    Some(PlannedStage::Window {
                        aggregate: WindowAgg::Wasm(_),
                        ..
                    })
                )
                || (stage.is_none() && !matches!(spec.sink, crate::job::SinkSpec::Discard {}))
        }
    };
    let window_columns = column_types.is_some();
    let column_types = column_types.unwrap_or_default();
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
    let et = spec.event_time.as_ref();
    Ok(Plan {
        out_of_orderness_ms: et.map(|e| dur(&e.max_out_of_orderness)).unwrap_or(0),
        idle_timeout_ms: et.and_then(|e| e.idle_timeout.as_deref()).map(dur),
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

/// Whether a one-chain job's window reads columns: a built-in window
/// straight over a JSON source has the source decode each batch into
/// columns once, and takes keys, event time and aggregated fields from
/// them instead of scanning every record's bytes again. Returns the types
/// an inferred schema must give the key (text) and the aggregated fields
/// (numbers); `None` keeps the window over events: operators before it,
/// a Wasm aggregate, a raw Kafka source, a job graph, a declared schema
/// whose key or aggregated field is absent or of another type, or a
/// nested field without a declared schema.
fn window_columns(
    spec: &JobSpec,
    chain: &[PlannedOperator],
    stage: Option<&PlannedStage>,
    declared: Option<&arrow_schema::Schema>,
) -> Option<Vec<(String, arrow_schema::DataType)>> {
    use crate::batch::rows::{field_type, is_key_type, is_number_type};
    use arrow_schema::DataType;
    let raw = matches!(&spec.source, crate::job::SourceSpec::Kafka(k) if k.format == crate::job::KafkaFormat::Raw);
    let Some(PlannedStage::Window {
        aggregate: WindowAgg::Native(aggs),
        ..
    }) = stage
    else {
        return None;
    };
    if raw || !chain.is_empty() || !spec.stages.is_empty() || fields_overlap(spec, aggs) {
        return None;
    }
    let key = spec.key_by.as_ref()?.field.clone();
    let fields: Vec<String> = aggs.iter().filter_map(|a| a.field.clone()).collect();
    match declared {
        Some(schema) => {
            let fits = field_type(schema, &key).is_some_and(|t| is_key_type(&t))
                && fields
                    .iter()
                    .all(|f| field_type(schema, f).is_some_and(|t| is_number_type(&t)));
            fits.then(Vec::new)
        }
        None => {
            if key.contains('.') || fields.iter().any(|f| f.contains('.')) {
                return None;
            }
            let mut types = vec![(key, DataType::Utf8)];
            types.extend(fields.into_iter().map(|f| (f, DataType::Float64)));
            Some(types)
        }
    }
}

/// The key is also an aggregated field: one column cannot be text and
/// numbers.
fn fields_overlap(spec: &JobSpec, aggs: &[AggregateSpec]) -> bool {
    let key = spec.key_by.as_ref().map(|k| k.field.as_str());
    aggs.iter()
        .any(|a| a.field.as_deref().is_some() && a.field.as_deref() == key)
}

/// A window, planned: its assigner, time, lateness and aggregation.
fn window_stage(
    job: &LoadedJob,
    engine: &'static WasmEngine,
    w: &crate::job::WindowSpec,
) -> Result<PlannedStage, PlanError> {
    let dur = |s: &str| parse_duration_ms(s).unwrap_or(0);
    let opt = |s: &Option<String>| s.as_deref().map(dur).unwrap_or(0);
    let kind = match w.kind.as_str() {
        "tumbling" => WindowKind::Tumbling { size: opt(&w.size) },
        "sliding" => WindowKind::Sliding {
            size: opt(&w.size),
            slide: opt(&w.slide),
        },
        _ => WindowKind::Session { gap: opt(&w.gap) },
    };
    let aggregate = match &w.aggregate {
        Some(a) => WindowAgg::Wasm(Box::new(load_operator(job, engine, a, World::Aggregate)?)),
        None => WindowAgg::Native(w.aggregates.clone()),
    };
    Ok(PlannedStage::Window {
        kind,
        mode: if w.time == "processing" {
            TimeMode::Processing
        } else {
            TimeMode::Event
        },
        lateness_ms: dur(&w.allowed_lateness),
        aggregate,
    })
}

/// The stages of a job graph, in an order where inputs come first
/// (validation has refused cycles).
fn graph_stages(
    job: &LoadedJob,
    engine: &'static WasmEngine,
) -> Result<Vec<PlannedGraphStage>, PlanError> {
    let stages = &job.spec.stages;
    let order = crate::job::topological_order(stages).unwrap_or_default();
    let keyed = crate::job::keyed_stages(stages);
    let dur = |s: &Option<String>| {
        s.as_deref()
            .and_then(|s| crate::job::parse_signed_duration_ms(s).ok())
            .unwrap_or(0)
    };
    let mut out = Vec::with_capacity(order.len());
    for i in order {
        let s = &stages[i];
        let work = if let Some(j) = &s.join {
            StageWork::Join(match j.kind.as_str() {
                "interval" => JoinKind::Interval {
                    lower: dur(&j.lower),
                    upper: dur(&j.upper),
                },
                _ if j.window == "sliding" => JoinKind::Window(WindowKind::Sliding {
                    size: dur(&j.size),
                    slide: dur(&j.slide),
                }),
                _ => JoinKind::Window(WindowKind::Tumbling { size: dur(&j.size) }),
            })
        } else if let Some(w) = &s.window {
            StageWork::Keyed(window_stage(job, engine, w)?)
        } else if let Some(k) = &s.keyed {
            StageWork::Keyed(PlannedStage::Keyed(load_operator(
                job,
                engine,
                k,
                World::Keyed,
            )?))
        } else if !s.operators.is_empty() {
            StageWork::Operators(
                s.operators
                    .iter()
                    .map(|op| load_chained(job, engine, op))
                    .collect::<Result<_, _>>()?,
            )
        } else {
            StageWork::Pass
        };
        out.push(PlannedGraphStage {
            keyed: keyed.get(&s.name).copied().unwrap_or(false),
            spec: s.clone(),
            work,
        });
    }
    Ok(out)
}
