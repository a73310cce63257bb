//! `CREATE FUNCTION f AS 'component' LANGUAGE WASM`: a script's Wasm
//! functions, checked and loaded when the script is planned (so that a
//! query's call is type-checked against the function's own `init`), and
//! carried into the job as operators of the stage whose query calls them
//! (so that the job's admission, limits, checkpoints and live swap treat
//! them as every other component).

use super::SqlError;
use super::parse::FunctionDef;
use super::udaf::AggregateFunction;
use super::udf::{FunctionSource, Functions};
use crate::job::OperatorSpec;
use crate::wasm::column_aggregate::ColumnAggregateInstance;
use crate::wasm::host::OperatorId;
use crate::wasm::instance::{CallLimits, InstanceSpec};
use crate::wasm::{LoadedComponent, WasmEngine, WasmError, World};
use datafusion_sql::sqlparser::ast::{Expr, Query, visit_expressions};
use std::ops::ControlFlow;
use std::path::Path;

/// Why a function's component could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Its project did not build.
    #[error(transparent)]
    Build(#[from] crate::build::BuildError),
    /// It is not a component of the `transform` or the `aggregate` world
    /// over columns.
    #[error(transparent)]
    Wasm(#[from] WasmError),
    /// An aggregate whose columns a SQL call cannot pass or take.
    #[error("it is an aggregate function SQL cannot call: {0}")]
    Aggregate(String),
}

/// Check the `CREATE FUNCTION`s of the script at `path`: `LANGUAGE WASM`,
/// one of each name, none named as a built-in function.
pub(super) fn check(path: &Path, defs: &[FunctionDef]) -> Result<(), SqlError> {
    for (i, d) in defs.iter().enumerate() {
        let unsupported = |what: String, hint: &str| SqlError::Unsupported {
            path: path.to_path_buf(),
            at: d.at,
            what,
            hint: hint.into(),
        };
        let invalid = |message: String| SqlError::Invalid {
            path: path.to_path_buf(),
            at: d.at,
            message,
        };
        match d.language.as_deref() {
            Some(l) if l.eq_ignore_ascii_case("wasm") => {}
            Some(l) => {
                return Err(unsupported(
                    format!("function `{}` in LANGUAGE {l}", d.name),
                    ": weir runs functions as WebAssembly components, LANGUAGE WASM (a .wasm \
                     file, or a Rust or Python project weir builds)",
                ));
            }
            None => {
                return Err(unsupported(
                    format!(
                        "function `{}` without a LANGUAGE (Flink's default is JAVA)",
                        d.name
                    ),
                    ": write `LANGUAGE WASM`, with a .wasm component or a Rust or Python project",
                ));
            }
        }
        if defs[..i]
            .iter()
            .any(|o| o.name.eq_ignore_ascii_case(&d.name))
        {
            return Err(invalid(format!("a second function `{}`", d.name)));
        }
        if super::catalog::is_builtin(&d.name.to_ascii_lowercase()) {
            return Err(invalid(format!(
                "function `{}` has the name of a built-in function; name it otherwise",
                d.name
            )));
        }
        if d.name.is_empty()
            || !d
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(invalid(format!(
                "function name `{}`: use letters, digits and `_`",
                d.name
            )));
        }
    }
    Ok(())
}

/// The functions `defs` of the script at `path`, loaded for planning, and
/// as the operators a job runs them by (component paths relative to the
/// script, as a job file's are to it).
pub(super) fn load(
    path: &Path,
    defs: &[FunctionDef],
) -> Result<(Functions, Vec<OperatorSpec>), SqlError> {
    if defs.is_empty() {
        return Ok((Functions::default(), Vec::new()));
    }
    let err = |d: &FunctionDef, source: LoadError| SqlError::Function {
        path: path.to_path_buf(),
        at: d.at,
        name: d.name.clone(),
        source: Box::new(source),
    };
    let engine = WasmEngine::shared().map_err(|e| err(&defs[0], e.into()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut sources = Vec::new();
    let mut aggregates = Vec::new();
    let mut specs = Vec::new();
    for d in defs {
        let name = d.name.to_ascii_lowercase();
        let spec = OperatorSpec {
            name: name.clone(),
            component: d.component.clone().into(),
            config: toml::Table::new(),
            grants: Vec::new(),
        };
        let file = dir.join(&d.component);
        let wasm = if file.is_dir() {
            crate::build::build(&file, World::Columns).map_err(|e| err(d, e.into()))?
        } else {
            file
        };
        let component = LoadedComponent::load_any(
            engine,
            &name,
            &wasm,
            &[World::Columns, World::ColumnAggregate],
        )
        .map_err(|e| err(d, e.into()))?;
        let budgets = crate::budget::Budgets::unbounded();
        let instance = InstanceSpec {
            engine,
            component: &component,
            id: OperatorId {
                job: "(planning)".into(),
                operator: name.as_str().into(),
                subtask: 0,
                busy_ns: Default::default(),
            },
            grants: &[],
            limits: PLANNING_LIMITS,
            config: "{}",
            budgets,
        };
        if component.world == World::ColumnAggregate {
            let agg = ColumnAggregateInstance::new(&instance).map_err(|e| err(d, e.into()))?;
            let output = match agg.output_schema().fields().as_ref() {
                [one] => (**one).clone(),
                other => {
                    return Err(err(
                        d,
                        LoadError::Aggregate(format!(
                            "its init declared {} result columns; an aggregate function \
                             called in SQL declares exactly one",
                            other.len()
                        )),
                    ));
                }
            };
            let f = AggregateFunction::new(&name, agg.input_schema().clone(), output, spec)
                .map_err(|m| err(d, LoadError::Aggregate(m)))?;
            aggregates.push(f);
            continue;
        }
        sources.push((name, FunctionSource::new(&instance, engine)));
        specs.push(spec);
    }
    Ok((Functions::new(sources).with_aggregates(aggregates), specs))
}

/// Limits of the instances planning asks for return types.
const PLANNING_LIMITS: CallLimits = CallLimits {
    memory_bytes: 64 << 20,
    timeout_ms: 10_000,
    max_output_per_record: 1,
    max_output_bytes: 64 << 20,
};

/// The functions of `wasm` that `query` calls, lower case, in order of
/// name.
pub(super) fn called(query: &Query, wasm: &Functions) -> Vec<String> {
    let mut names = std::collections::BTreeSet::new();
    let _ = visit_expressions(query, |e| {
        if let Expr::Function(f) = e {
            let name = f.name.to_string().to_ascii_lowercase();
            if wasm.has(&name) {
                names.insert(name);
            }
        }
        ControlFlow::<()>::Continue(())
    });
    names.into_iter().collect()
}
