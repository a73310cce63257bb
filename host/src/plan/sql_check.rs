//! The queries of a job's SQL stages, compiled at planning when their
//! input's schema is known (declared by the source or the stage): their
//! errors come before the job starts.

use super::{PlanError, PlannedGraphStage, StageWork};
use crate::budget::Budgets;
use crate::job::JobSpec;
use crate::wasm::WasmEngine;
use crate::wasm::instance::CallLimits;
use arrow_schema::SchemaRef;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Compile each SQL stage's query whose input schema is known: `schema`,
/// the source's; `named`, the named sources'.
pub(super) fn queries(
    spec: &JobSpec,
    graph: &[PlannedGraphStage],
    schema: Option<&SchemaRef>,
    named: &BTreeMap<String, SchemaRef>,
    engine: &'static WasmEngine,
    limits: CallLimits,
    budgets: &Arc<Budgets>,
) -> Result<(), PlanError> {
    // A query over a source that declares its schema is compiled now: its
    // errors come before the job starts.
    for st in graph {
        if let (
            StageWork::Sql {
                query,
                table,
                schema: own,
                functions,
                ..
            },
            [input],
        ) = (&st.work, st.spec.inputs.as_slice())
        {
            let declared = if let Some(own) = own {
                Some(own.clone())
            } else if input == crate::job::SOURCE {
                schema.cloned()
            } else {
                named.get(input).cloned()
            };
            if let Some(declared) = declared {
                // (Its functions are instantiated for the check, and
                // dropped: each subtask makes its own.)
                let functions = crate::sql::Functions::new(functions.iter().map(|f| {
                    let spec = crate::wasm::instance::InstanceSpec {
                        engine,
                        component: &f.component,
                        id: crate::wasm::host::OperatorId {
                            job: spec.name.as_str().into(),
                            operator: f.component.operator.clone(),
                            subtask: 0,
                            busy_ns: Default::default(),
                        },
                        grants: &f.spec.grants,
                        limits,
                        config: &f.config,
                        budgets: budgets.clone(),
                    };
                    (
                        f.spec.name.clone(),
                        crate::sql::FunctionSource::new(&spec, engine),
                    )
                }));
                crate::sql::Select::compile_with(
                    &st.spec.name,
                    query,
                    table,
                    declared,
                    &functions,
                )?;
            }
        }
    }
    Ok(())
}
