//! What DataFusion's planner may see: the tables a query reads, with their
//! Arrow schemas, and the functions it may call (DataFusion's built-in
//! scalar and aggregate functions, and the script's Wasm functions; no
//! table functions, no variables).

use arrow_schema::{DataType, SchemaRef};
use datafusion_common::config::ConfigOptions;
use datafusion_common::{DataFusionError, Result, TableReference, plan_err};
use datafusion_expr::logical_plan::builder::LogicalTableSource;
use datafusion_expr::planner::{ContextProvider, ExprPlanner};
use datafusion_expr::{AggregateUDF, HigherOrderUDF, ScalarUDF, TableSource, WindowUDF};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// DataFusion's built-in functions, by every name they answer to.
struct Functions {
    scalar: HashMap<String, Arc<ScalarUDF>>,
    aggregate: HashMap<String, Arc<AggregateUDF>>,
    planners: Vec<Arc<dyn ExprPlanner>>,
}

fn functions() -> &'static Functions {
    static F: OnceLock<Functions> = OnceLock::new();
    F.get_or_init(|| {
        let mut scalar = HashMap::new();
        let nested = datafusion_functions_nested::all_default_nested_functions();
        for f in datafusion_functions::all_default_functions()
            .into_iter()
            .chain(nested)
        {
            for name in std::iter::once(f.name()).chain(f.aliases().iter().map(String::as_str)) {
                scalar.insert(name.to_string(), f.clone());
            }
        }
        let mut aggregate = HashMap::new();
        for f in datafusion_functions_aggregate::all_default_aggregate_functions() {
            for name in std::iter::once(f.name()).chain(f.aliases().iter().map(String::as_str)) {
                aggregate.insert(name.to_string(), f.clone());
            }
        }
        Functions {
            scalar,
            aggregate,
            planners: vec![
                Arc::new(datafusion_functions::core::planner::CoreFunctionPlanner::default()),
                Arc::new(datafusion_functions::unicode::planner::UnicodeFunctionPlanner),
                Arc::new(datafusion_functions::datetime::planner::DatetimeFunctionPlanner),
                Arc::new(datafusion_functions_aggregate::planner::AggregateFunctionPlanner),
                // `a[i]`: the i-th item of an array (from 1, NULL past its end).
                Arc::new(datafusion_functions_nested::planner::FieldAccessPlanner),
            ],
        }
    })
}

/// Is `name` (lower case) one of DataFusion's aggregate functions?
pub(super) fn is_aggregate(name: &str) -> bool {
    functions().aggregate.contains_key(name)
}

/// Is `name` (lower case) one of DataFusion's functions (allowed or not)?
pub(super) fn is_builtin(name: &str) -> bool {
    functions().scalar.contains_key(name) || functions().aggregate.contains_key(name)
}

/// The tables of a script or a stage, for DataFusion's planner.
pub(super) struct Catalog {
    tables: HashMap<String, SchemaRef>,
    options: ConfigOptions,
    wasm: super::udf::Functions,
}

impl Catalog {
    /// A catalog of `tables` (name → schema).
    pub fn new(tables: impl IntoIterator<Item = (String, SchemaRef)>) -> Self {
        let mut options = ConfigOptions::default();
        // Flink's identifiers are case-sensitive, as written.
        options.sql_parser.enable_ident_normalization = false;
        // STRING and VARCHAR are Utf8, the string type of weir's columns.
        options.sql_parser.map_string_types_to_utf8view = false;
        Catalog {
            tables: tables.into_iter().collect(),
            options,
            wasm: super::udf::Functions::default(),
        }
    }

    /// With the Wasm functions `wasm` too.
    pub fn with_functions(mut self, wasm: &super::udf::Functions) -> Self {
        self.wasm = wasm.clone();
        self
    }
}

impl ContextProvider for Catalog {
    fn get_table_source(&self, name: TableReference) -> Result<Arc<dyn TableSource>> {
        match self.tables.get(name.table()) {
            Some(schema) => Ok(Arc::new(LogicalTableSource::new(schema.clone()))),
            None => {
                let mut known: Vec<&str> = self.tables.keys().map(String::as_str).collect();
                known.sort_unstable();
                plan_err!(
                    "no table `{}`: a query reads the tables the script declares with CREATE TABLE ({})",
                    name.table(),
                    known.join(", ")
                )
            }
        }
    }

    fn get_function_meta(&self, name: &str) -> Option<Arc<ScalarUDF>> {
        if let Some(f) = self.wasm.get(name) {
            return Some(f);
        }
        if name == super::decimal::NAME {
            return Some(super::decimal::udf());
        }
        if name == super::proctime::NAME {
            return Some(super::proctime::udf());
        }
        super::functions::scalar_allowed(name)
            .then(|| functions().scalar.get(name).cloned())
            .flatten()
    }

    fn get_higher_order_meta(&self, _name: &str) -> Option<Arc<HigherOrderUDF>> {
        None
    }

    fn get_aggregate_meta(&self, name: &str) -> Option<Arc<AggregateUDF>> {
        if let Some(f) = self.wasm.aggregate(name) {
            return Some(f.udaf());
        }
        functions().aggregate.get(name).cloned()
    }

    fn get_window_meta(&self, _name: &str) -> Option<Arc<WindowUDF>> {
        None
    }

    fn get_variable_type(&self, _variable_names: &[String]) -> Option<DataType> {
        None
    }

    fn options(&self) -> &ConfigOptions {
        &self.options
    }

    fn udf_names(&self) -> Vec<String> {
        functions()
            .scalar
            .keys()
            .filter(|n| super::functions::scalar_allowed(n))
            .cloned()
            .chain(self.wasm.names().map(str::to_string))
            .collect()
    }

    fn higher_order_function_names(&self) -> Vec<String> {
        Vec::new()
    }

    fn udaf_names(&self) -> Vec<String> {
        functions()
            .aggregate
            .keys()
            .cloned()
            .chain(self.wasm.aggregate_names().map(str::to_string))
            .collect()
    }

    fn udwf_names(&self) -> Vec<String> {
        Vec::new()
    }

    fn get_expr_planners(&self) -> &[Arc<dyn ExprPlanner>] {
        &functions().planners
    }
}

/// A query as DataFusion's analyzed logical plan over `catalog`: planned,
/// then type-coerced (DataFusion's analyzer), so that its expressions can
/// be evaluated as they are.
pub(super) fn plan_query(
    catalog: &Catalog,
    mut query: datafusion_sql::sqlparser::ast::Query,
) -> Result<datafusion_expr::LogicalPlan> {
    if let Some(name) = super::functions::refused(&query, |n| {
        functions().aggregate.contains_key(n)
            || catalog.wasm.has(n)
            || catalog.wasm.aggregate(n).is_some()
    }) {
        if matches!(name.as_str(), "rank" | "dense_rank") {
            return plan_err!(
                "{}() is not supported over a streaming table, as in Flink (2.3 refuses it \
                 too): rank with ROW_NUMBER() — `ROW_NUMBER() OVER (PARTITION BY … ORDER BY …) \
                 AS rn … WHERE rn <= N`, a Top-N",
                name.to_ascii_uppercase()
            );
        }
        return plan_err!(
            "function `{name}` is not available in weir's SQL: a query runs in the host, and \
             only functions whose output is bounded by their input may be called \
             (see host/src/sql/functions.rs for the list)"
        );
    }
    super::flink::rewrite(&mut query);
    let planner = datafusion_sql::planner::SqlToRel::new(catalog);
    let plan = planner.sql_statement_to_plan(datafusion_sql::sqlparser::ast::Statement::Query(
        Box::new(query),
    ))?;
    let plan = datafusion_optimizer::Analyzer::new().execute_and_check(
        plan,
        &catalog.options,
        |_, _| {},
    )?;
    let plan = super::decimal::flink_division(plan)?;
    // Simplified: some functions (COALESCE, NVL…) are evaluated only in
    // the forms the simplifier rewrites them to.
    let plan = datafusion_optimizer::Optimizer::with_rules(vec![Arc::new(
        datafusion_optimizer::simplify_expressions::SimplifyExpressions::new(),
    )])
    .optimize(
        plan,
        &datafusion_optimizer::OptimizerContext::new(),
        |_, _| {},
    )?;
    // Each node's schema again from its simplified expressions: a type
    // can depend on a literal argument that type coercion had wrapped in
    // a cast and the simplifier folded back (`ROUND(d, 1)` of a DECIMAL
    // has scale 1), and the evaluation makes the simplified type.
    use datafusion_common::tree_node::{Transformed, TreeNode};
    plan.transform_up(|p| p.recompute_schema().map(Transformed::yes))
        .map(|t| t.data)
}

/// A `DataFusionError` boxed, for [`super::SqlError`]'s variants.
pub(super) fn boxed(e: DataFusionError) -> Box<DataFusionError> {
    Box::new(e)
}
