//! Scalar functions written as Wasm components: `CREATE FUNCTION f AS
//! 'path' LANGUAGE WASM`, callable anywhere an expression is.
//!
//! A scalar function is a map over columns (`weir:dataflow@0.2.0`, world
//! `transform`) whose input columns are its arguments — `arg0`, `arg1`, …
//! in order — and whose output is one column, one row per input row
//! (`#[weir_guest::v2::scalar]` writes that glue around a plain Rust
//! function). No second contract: building, sandboxing, limits and live
//! swap are a transform's.
//!
//! DataFusion sees a [`WasmFunction`]: planning asks it for its return
//! type, which it gets by instantiating the component and calling `init`
//! with the argument types (so a type error is refused before the job
//! starts, in the function's own words); evaluation hands it a batch of
//! argument columns and it answers with one column — one Wasm call per
//! batch, never per row. Each call shape (argument types) keeps its own
//! instance.
//!
//! Like Flink's functions over primitive types, a function is not called
//! for a row with a NULL argument: that row's result is NULL. A row the
//! function rejects (`Err`) fails the job with the function's reason, as
//! an exception in a Flink function does: a query has no dead-letter
//! output for half a row.
//!
//! ```text
//!  SELECT tier(amount, `user`) FROM tx
//!     └─ batch of 1000 rows ─▶ columns [arg0: f64, arg1: utf8]
//!                              ─▶ one `process` call ─▶ [result: utf8]
//! ```
//!
//! A live swap ([`Functions::swap`]) re-creates every call shape's
//! instance with the new version, checks it returns the same type, and
//! replaces them between two batches.

use super::udaf::AggregateFunction;
use crate::budget::Budgets;
use crate::wasm::columnar::ColumnTransformInstance;
use crate::wasm::host::OperatorId;
use crate::wasm::instance::{CallLimits, InstanceSpec};
use crate::wasm::{LoadedComponent, WasmEngine, WasmError};
use arrow_array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use datafusion_common::{DataFusionError, Result};
use datafusion_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// What makes instances of one function: owned, since DataFusion's
/// function objects live as long as the plans that call them.
#[derive(Clone)]
pub struct FunctionSource {
    engine: &'static WasmEngine,
    component: LoadedComponent,
    id: OperatorId,
    grants: Vec<String>,
    limits: CallLimits,
    config: String,
    budgets: Arc<Budgets>,
}

impl FunctionSource {
    /// Instances like those `spec` describes.
    pub fn new(spec: &InstanceSpec<'_>, engine: &'static WasmEngine) -> Self {
        FunctionSource {
            engine,
            component: spec.component.clone(),
            id: spec.id.clone(),
            grants: spec.grants.to_vec(),
            limits: spec.limits,
            config: spec.config.to_string(),
            budgets: spec.budgets.clone(),
        }
    }

    /// The component's digest.
    pub fn digest(&self) -> &str {
        &self.component.digest
    }

    fn instance(&self, args: &SchemaRef) -> Result<ColumnTransformInstance, WasmError> {
        let spec = InstanceSpec {
            engine: self.engine,
            component: &self.component,
            id: self.id.clone(),
            grants: &self.grants,
            limits: self.limits,
            config: &self.config,
            budgets: self.budgets.clone(),
        };
        ColumnTransformInstance::new(&spec, args)
    }
}

/// An instance for one set of argument types, and the type it returns.
struct Bound {
    types: Vec<DataType>,
    args: SchemaRef,
    instance: ColumnTransformInstance,
    returns: DataType,
}

/// A function's version and its instances.
struct State {
    name: String,
    source: FunctionSource,
    bound: Vec<Bound>,
}

impl State {
    /// The instance for arguments of `types`, made (and `init`ed) the first
    /// time they are seen.
    fn bind(&mut self, types: &[DataType]) -> Result<&mut Bound> {
        if let Some(i) = self.bound.iter().position(|b| b.types == types) {
            return Ok(&mut self.bound[i]);
        }
        let b = bind(&self.name, &self.source, types)?;
        self.bound.push(b);
        Ok(self.bound.last_mut().expect("pushed"))
    }
}

/// An instance of `source` for arguments of `types`.
fn bind(name: &str, source: &FunctionSource, types: &[DataType]) -> Result<Bound> {
    let args: SchemaRef = Arc::new(Schema::new(
        types
            .iter()
            .enumerate()
            .map(|(i, t)| Field::new(format!("arg{i}"), t.clone(), true))
            .collect::<Vec<_>>(),
    ));
    let shown = || {
        types
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let instance = source.instance(&args).map_err(|e| {
        DataFusionError::Plan(format!(
            "function `{name}` cannot be called with arguments ({}): {e}",
            shown()
        ))
    })?;
    let returns = match instance.output_schema().map(|s| s.fields().len()) {
        Some(1) => instance
            .output_schema()
            .expect("one field")
            .field(0)
            .data_type()
            .clone(),
        other => {
            return Err(DataFusionError::Plan(format!(
                "function `{name}` is not a scalar function: its init declared {} output \
                 column(s); a scalar function declares exactly one (write it with \
                 #[weir_guest::v2::scalar])",
                other.unwrap_or(0)
            )));
        }
    };
    Ok(Bound {
        types: types.to_vec(),
        args,
        instance,
        returns,
    })
}

/// A Wasm function, as DataFusion's planner and evaluator see it.
pub struct WasmFunction {
    name: String,
    signature: Signature,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for WasmFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmFunction")
            .field("name", &self.name)
            .finish()
    }
}

impl PartialEq for WasmFunction {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.state, &other.state)
    }
}

impl Eq for WasmFunction {}

impl std::hash::Hash for WasmFunction {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.name.hash(h);
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ScalarUDFImpl for WasmFunction {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, types: &[DataType]) -> Result<DataType> {
        Ok(lock(&self.state).bind(types)?.returns.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let arrays: Vec<ArrayRef> = args
            .args
            .into_iter()
            .map(|a| a.into_array(n))
            .collect::<Result<_>>()?;
        let types: Vec<DataType> = arrays.iter().map(|a| a.data_type().clone()).collect();
        let mut state = lock(&self.state);
        let bound = state.bind(&types)?;
        // Rows with a NULL argument are not called: their result is NULL.
        let called: Option<Vec<u32>> = arrays.iter().any(|a| a.null_count() > 0).then(|| {
            (0..n as u32)
                .filter(|&r| arrays.iter().all(|a| a.is_valid(r as usize)))
                .collect()
        });
        let arrays = match &called {
            None => arrays,
            Some(rows) => {
                let idx = UInt32Array::from(rows.clone());
                arrays
                    .iter()
                    .map(|a| arrow_select::take::take(a, &idx, None))
                    .collect::<std::result::Result<_, _>>()?
            }
        };
        let k = called.as_ref().map_or(n, Vec::len);
        let batch = RecordBatch::try_new_with_options(
            bound.args.clone(),
            arrays,
            &arrow_array::RecordBatchOptions::new().with_row_count(Some(k)),
        )?;
        let out = bound
            .instance
            .process(&batch, &vec![0; k])
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let input_row = |r: u32| called.as_ref().map_or(r, |rows| rows[r as usize]);
        if let Some((row, reason)) = out.rejected.first() {
            return Err(DataFusionError::Execution(format!(
                "function `{}` failed on row {} of a batch of {n}: {reason}",
                self.name,
                input_row(*row)
            )));
        }
        let same = out
            .rows
            .parents
            .as_ref()
            .is_none_or(|p| p.len() == k && p.iter().enumerate().all(|(i, &r)| i as u32 == r));
        if out.rows.selected || !same || out.rows.batch.num_rows() != k {
            return Err(DataFusionError::Execution(format!(
                "function `{}` answered {} row(s) for {k}: a scalar function answers one \
                 value per row, in order",
                self.name,
                out.rows.batch.num_rows()
            )));
        }
        let values = out.rows.batch.column(0).clone();
        if values.data_type() != &bound.returns {
            return Err(DataFusionError::Execution(format!(
                "function `{}` answered {} values; its init declared {}",
                self.name,
                values.data_type(),
                bound.returns
            )));
        }
        Ok(ColumnarValue::Array(match called {
            None => values,
            Some(rows) => {
                // Back to every row: a NULL where it was not called.
                let mut at = rows.iter().copied().enumerate().peekable();
                let idx: UInt32Array = (0..n as u32)
                    .map(|r| at.next_if(|&(_, row)| row == r).map(|(i, _)| i as u32))
                    .collect();
                arrow_select::take::take(&values, &idx, None)?
            }
        }))
    }
}

/// The Wasm functions a query may call, by name (lower case): what the
/// planner is given, and what a live swap replaces.
#[derive(Clone, Default)]
pub struct Functions {
    by_name: BTreeMap<String, (Arc<ScalarUDF>, Arc<Mutex<State>>)>,
    /// Aggregate functions ([`super::udaf`]), which window stages run.
    aggregates: BTreeMap<String, Arc<AggregateFunction>>,
}

impl Functions {
    /// Functions `name → source`.
    pub fn new(sources: impl IntoIterator<Item = (String, FunctionSource)>) -> Self {
        let by_name = sources
            .into_iter()
            .map(|(name, source)| {
                let name = name.to_ascii_lowercase();
                let state = Arc::new(Mutex::new(State {
                    name: name.clone(),
                    source,
                    bound: Vec::new(),
                }));
                let udf = ScalarUDF::new_from_impl(WasmFunction {
                    name: name.clone(),
                    // Any arguments (the function's init checks them);
                    // volatile, so that the planner never folds a call
                    // into a constant: a swap may change what it answers.
                    signature: Signature::one_of(
                        vec![TypeSignature::Nullary, TypeSignature::VariadicAny],
                        Volatility::Volatile,
                    ),
                    state: state.clone(),
                });
                (name, (Arc::new(udf), state))
            })
            .collect();
        Functions {
            by_name,
            aggregates: BTreeMap::new(),
        }
    }

    /// With the aggregate functions `aggregates` too.
    pub fn with_aggregates(
        mut self,
        aggregates: impl IntoIterator<Item = AggregateFunction>,
    ) -> Self {
        self.aggregates.extend(
            aggregates
                .into_iter()
                .map(|a| (a.name.clone(), Arc::new(a))),
        );
        self
    }

    /// The aggregate functions' names, lower case.
    pub(super) fn aggregate_names(&self) -> impl Iterator<Item = &str> {
        self.aggregates.keys().map(String::as_str)
    }

    /// The aggregate function called `name` (any case).
    pub(super) fn aggregate(&self, name: &str) -> Option<&Arc<AggregateFunction>> {
        self.aggregates.get(&name.to_ascii_lowercase())
    }

    /// The function called `name` (any case).
    pub(super) fn get(&self, name: &str) -> Option<Arc<ScalarUDF>> {
        self.by_name
            .get(&name.to_ascii_lowercase())
            .map(|(f, _)| f.clone())
    }

    /// The scalar functions' names, lower case.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Is there a scalar function called `name` (any case)?
    pub fn has(&self, name: &str) -> bool {
        self.by_name.contains_key(&name.to_ascii_lowercase())
    }

    /// These functions with `source` as function `name` (the others
    /// shared): what a canary's shadow query calls. `None`: no function
    /// has that name.
    pub fn with_version(&self, name: &str, source: FunctionSource) -> Option<Functions> {
        let name = name.to_ascii_lowercase();
        if !self.by_name.contains_key(&name) {
            return None;
        }
        let mut by_name = self.by_name.clone();
        by_name.extend(Functions::new([(name, source)]).by_name);
        Some(Functions {
            by_name,
            aggregates: self.aggregates.clone(),
        })
    }

    /// Put `source` live as function `name`: every argument types it was
    /// called with gets an instance of the new version first — which must
    /// return the same type — then all are replaced at once. `Ok(false)`:
    /// no function has that name.
    pub fn swap(&self, name: &str, source: FunctionSource) -> Result<bool, DataFusionError> {
        let Some((_, state)) = self.by_name.get(&name.to_ascii_lowercase()) else {
            return Ok(false);
        };
        let mut state = lock(state);
        let mut bound = Vec::with_capacity(state.bound.len());
        for old in &state.bound {
            let new = bind(&state.name, &source, &old.types)?;
            if new.returns != old.returns {
                return Err(DataFusionError::Plan(format!(
                    "the new version of function `{}` returns {} for the arguments it is \
                     called with; the running one returns {}",
                    state.name, new.returns, old.returns
                )));
            }
            bound.push(new);
        }
        state.bound = bound;
        state.source = source;
        Ok(true)
    }
}
