//! Where a job's records become typed columns, decided once at planning.
//!
//! A source decodes each batch of JSON records into columns **once** when
//! a stage reads its columns: a one-chain job whose chain starts with an
//! operator over columns, or whose built-in window reads the source
//! straight; in a job graph, a stage that reads only that source and
//! starts with an operator over columns, or is a window with built-in
//! aggregates keyed off it. After that, stages pass columns on to the
//! readers that take them (see `runtime::graph::columns_out`).
//!
//! A window whose Wasm aggregate reads columns has its source decode them
//! when the source declares its schema.
//!
//! A window decoded for alone forces its types on an inferred schema: the
//! key text, the aggregated fields doubles, so that the first batch cannot
//! fix a narrower type than later records need (an `amount` of whole
//! numbers first, fractions after). Where an operator over columns reads
//! the source too, it is told the schema as inferred, and a window reads
//! the columns of a batch whose types fit it, else that batch's records.

use super::{PlannedGraphStage, PlannedOperator, PlannedStage, StageWork, WindowAgg};
use crate::batch::rows::{field_type, is_key_type, is_number_type};
use crate::job::{AggregateSpec, JobSpec, KafkaFormat, SOURCE, SourceSpec};
use crate::wasm::World;
use arrow_schema::{DataType, Schema, SchemaRef};
use std::collections::BTreeMap;

/// Types forced on fields of an inferred schema.
pub type ForcedTypes = Vec<(String, DataType)>;

/// How a named source (`[[sources]]`) decodes its records into columns.
#[derive(Debug, Clone, Default)]
pub struct SourceColumns {
    /// The schema it declares; `None`: inferred from its first records.
    pub schema: Option<SchemaRef>,
    /// Types forced on an inferred schema (see the module docs).
    pub types: ForcedTypes,
    /// It keeps each record's bytes, key and headers beside the columns.
    pub keep_records: bool,
}

/// What [`plan`] decides.
pub(super) struct ColumnPlan {
    /// `[source]` decodes columns.
    pub columns: bool,
    /// It keeps each record's bytes, key and headers beside them.
    pub keeps_records: bool,
    /// Types forced on `[source]`'s inferred schema.
    pub column_types: ForcedTypes,
    /// A one-chain job's window reads `[source]`'s columns.
    pub window_columns: bool,
    /// The named sources that decode columns.
    pub source_columns: BTreeMap<String, SourceColumns>,
}

/// How a graph's stages read source `name`'s columns: the types forced
/// on its inferred schema, and whether it keeps its records beside them;
/// `None` when no stage reads its columns.
fn graph_source(
    spec: &JobSpec,
    name: &str,
    source: &SourceSpec,
    declared: Option<&Schema>,
    graph: &[PlannedGraphStage],
) -> Option<(ForcedTypes, bool)> {
    let alone = |st: &PlannedGraphStage| st.spec.input_names() == [name];
    let operators = graph.iter().any(|st| {
        alone(st)
            && match &st.work {
                StageWork::Operators(ops) => {
                    st.spec.key_by.is_none()
                        && ops
                            .first()
                            .is_some_and(|op| op.component.world == World::Columns)
                }
                StageWork::Sql { .. } => st.spec.key_by.is_none(),
                // An OVER or rank stage reads only columns.
                StageWork::Over { .. } | StageWork::Rank(_) => true,
                _ => false,
            }
    });
    let window = |st: &PlannedGraphStage| match (&st.work, &st.spec.key_by) {
        (
            StageWork::Keyed(PlannedStage::Window {
                aggregate: WindowAgg::Native(aggs),
                ..
            }),
            Some(key),
        ) if alone(st) => window_types(source, &key.field, aggs, declared),
        (
            StageWork::Keyed(PlannedStage::Window {
                aggregate: WindowAgg::Wasm(op),
                ..
            }),
            Some(_),
        ) if alone(st) => guest_types(source, op, declared),
        (StageWork::Keyed(PlannedStage::Keyed(op)), Some(_)) if alone(st) => {
            guest_types(source, op, declared)
        }
        _ => None,
    };
    let windows: Vec<ForcedTypes> = graph.iter().filter_map(window).collect();
    // The records themselves are needed unless only such windows and SQL
    // stages (which make their rows from the columns) read the source and
    // late records are dropped (late records keep their bytes); a keyed
    // operator passes the rows it selects on as they came.
    let keep = !graph
        .iter()
        .filter(|st| st.spec.input_names().contains(&name))
        .all(|st| {
            (window(st).is_some() && !matches!(st.work, StageWork::Keyed(PlannedStage::Keyed(_))))
                || (alone(st)
                    && matches!(
                        st.work,
                        StageWork::Sql { .. } | StageWork::Over { .. } | StageWork::Rank(_)
                    ))
        })
        || !matches!(
            spec.late_output,
            None | Some(crate::job::SinkSpec::Discard {})
        );
    if operators {
        return Some((Vec::new(), keep));
    }
    // Windows alone: their types, unless two disagree about a field.
    let mut types: BTreeMap<String, DataType> = BTreeMap::new();
    for (field, ty) in windows.iter().flatten() {
        if types
            .insert(field.clone(), ty.clone())
            .is_some_and(|t| t != *ty)
        {
            return None;
        }
    }
    (!windows.is_empty()).then(|| (types.into_iter().collect(), keep))
}

/// Decide where `spec`'s records become columns: its one-chain `chain`
/// and keyed `stage`, or its `graph`; `declared` is `[source]`'s schema.
pub(super) fn plan(
    spec: &JobSpec,
    chain: &[PlannedOperator],
    stage: Option<&PlannedStage>,
    graph: &[PlannedGraphStage],
    declared: Option<&Schema>,
    named: impl Fn(&str) -> Option<SchemaRef>,
) -> ColumnPlan {
    let one_chain_window = window_columns(spec, chain, stage, declared);
    let graph_main = graph_source(spec, SOURCE, &spec.source, declared, graph);
    let mut source_columns = BTreeMap::new();
    for s in &spec.sources {
        let schema = named(&s.name);
        if let Some((types, keep_records)) =
            graph_source(spec, &s.name, &s.source, schema.as_deref(), graph)
        {
            let c = SourceColumns {
                schema,
                types,
                keep_records,
            };
            source_columns.insert(s.name.clone(), c);
        }
    }
    let columns = one_chain_window.is_some()
        || graph_main.is_some()
        || chain
            .first()
            .is_some_and(|op| op.component.world == World::Columns);
    let keeps_records = match (&one_chain_window, &graph_main) {
        (_, Some((_, keep))) => *keep,
        // The window's input records are seen again only as late records;
        // a keyed operator passes the rows it selects on as they came.
        (Some(_), None) => {
            matches!(stage, Some(PlannedStage::Keyed(_)))
                || !matches!(
                    spec.late_output,
                    None | Some(crate::job::SinkSpec::Discard {})
                )
        }
        // A window with built-in aggregates after the operators takes
        // their rows as columns (typed columns between stages).
        (None, None) => {
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
    ColumnPlan {
        columns,
        keeps_records,
        window_columns: one_chain_window.is_some(),
        column_types: one_chain_window
            .or(graph_main.map(|(types, _)| types))
            .unwrap_or_default(),
        source_columns,
    }
}

/// Whether a one-chain job's window reads columns: a built-in window
/// straight over a JSON source has the source decode each batch into
/// columns once, and takes keys, event time and aggregated fields from
/// them instead of scanning every record's bytes again. Returns the types
/// an inferred schema must give the key and the aggregated fields; `None`
/// keeps the window over events: operators before it, a Wasm aggregate,
/// a job graph, or what [`window_types`] refuses.
fn window_columns(
    spec: &JobSpec,
    chain: &[PlannedOperator],
    stage: Option<&PlannedStage>,
    declared: Option<&Schema>,
) -> Option<ForcedTypes> {
    if !chain.is_empty() || !spec.stages.is_empty() {
        return None;
    }
    match stage? {
        PlannedStage::Window {
            aggregate: WindowAgg::Native(aggs),
            ..
        } => window_types(&spec.source, &spec.key_by.as_ref()?.field, aggs, declared),
        PlannedStage::Window {
            aggregate: WindowAgg::Wasm(op),
            ..
        } => guest_types(&spec.source, op, declared),
        PlannedStage::Keyed(op) => guest_types(&spec.source, op, declared),
    }
}

/// A window whose aggregate reads columns (`weir:dataflow@0.2`), or a
/// keyed operator over columns, reads its source's columns when the source
/// declares its schema: the stage takes the fields the guest names from
/// them (else it decodes each batch's records into exactly those fields
/// itself — an inferred schema could fix a narrower type than it reads).
fn guest_types(
    source: &SourceSpec,
    op: &PlannedOperator,
    declared: Option<&Schema>,
) -> Option<ForcedTypes> {
    let raw = matches!(source, SourceSpec::Kafka(k) if k.format == KafkaFormat::Raw);
    let columns = matches!(
        op.component.world,
        World::ColumnAggregate | World::ColumnKeyed
    );
    (columns && declared.is_some() && !raw).then(Vec::new)
}

/// The types a window keyed by `key` with built-in aggregates `aggs`
/// needs of its source's columns: with a declared schema, none (`None`
/// if the key or an aggregated field is absent or of another type);
/// inferred, the key text and the fields doubles (`None` for a nested
/// field, or a key that is also aggregated: one column cannot be both).
/// `None` for a raw Kafka source: nothing to decode.
fn window_types(
    source: &SourceSpec,
    key: &str,
    aggs: &[AggregateSpec],
    declared: Option<&Schema>,
) -> Option<ForcedTypes> {
    let raw = matches!(source, SourceSpec::Kafka(k) if k.format == KafkaFormat::Raw);
    let fields: Vec<String> = aggs.iter().filter_map(|a| a.field.clone()).collect();
    if raw || fields.iter().any(|f| f == key) {
        return None;
    }
    match declared {
        Some(schema) => {
            let fits = field_type(schema, key).is_some_and(|t| is_key_type(&t))
                && fields
                    .iter()
                    .all(|f| field_type(schema, f).is_some_and(|t| is_number_type(&t)));
            fits.then(Vec::new)
        }
        None => {
            if key.contains('.') || fields.iter().any(|f| f.contains('.')) {
                return None;
            }
            let mut types = vec![(key.to_string(), DataType::Utf8)];
            types.extend(fields.into_iter().map(|f| (f, DataType::Float64)));
            Some(types)
        }
    }
}
