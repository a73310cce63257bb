//! A stage's query — projections and filters over its one input —
//! compiled for the input's schema into DataFusion physical expressions,
//! and evaluated batch by batch.
//!
//! ```
//! use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
//! use std::sync::Arc;
//! let input = RecordBatch::try_from_iter([
//!     ("user", Arc::new(StringArray::from(vec!["a", "b", "c"])) as ArrayRef),
//!     ("amount", Arc::new(Int64Array::from(vec![10, 70, 55])) as ArrayRef),
//! ]).unwrap();
//! let q = "SELECT upper(`user`) AS who, amount * 100 AS cents FROM tx WHERE amount >= 50";
//! let select = weir::sql::Select::compile("big", q, "tx", input.schema()).unwrap();
//! let out = select.apply(&input).unwrap();
//! assert_eq!(out.kept, Some(vec![1, 2]));
//! let cents = out.batch.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
//! assert_eq!(cents.values(), &[7000, 5500]);
//! ```

use super::SqlError;
use super::catalog::{Catalog, boxed, plan_query};
use super::parse::FlinkDialect;
use super::udf::Functions;
use arrow_array::{Array, BooleanArray, RecordBatch};
use arrow_schema::SchemaRef;
use datafusion_common::DataFusionError;
use datafusion_expr::LogicalPlan;
use datafusion_expr::execution_props::ExecutionProps;
use datafusion_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion_physical_expr::{PhysicalExpr, create_physical_expr};
use datafusion_sql::sqlparser::ast::Statement;
use datafusion_sql::sqlparser::parser::Parser;
use std::sync::Arc;

/// One step of a compiled query, applied bottom-up.
#[derive(Debug)]
enum Step {
    /// Keep the rows where the predicate is true (not false, not null).
    Filter(Arc<dyn PhysicalExpr>),
    /// Compute the columns of `schema`.
    Project(Vec<Arc<dyn PhysicalExpr>>, SchemaRef),
}

/// A query compiled for one input schema.
#[derive(Debug)]
pub struct Select {
    stage: String,
    query: String,
    steps: Vec<Step>,
    input: SchemaRef,
    schema: SchemaRef,
}

/// What a query made of a batch.
#[derive(Debug)]
pub struct Selected {
    /// The rows.
    pub batch: RecordBatch,
    /// The input row each comes from, when some were filtered out
    /// (`None`: every input row, in order).
    pub kept: Option<Vec<u32>>,
}

impl Select {
    /// Compile `query`, which reads its input as table `table`, for input
    /// rows of `schema`; `stage` names it in errors.
    pub fn compile(
        stage: &str,
        query: &str,
        table: &str,
        schema: SchemaRef,
    ) -> Result<Select, SqlError> {
        Self::compile_with(stage, query, table, schema, &Functions::default())
    }

    /// [`Select::compile`], where the query may also call the Wasm
    /// functions `wasm`.
    pub fn compile_with(
        stage: &str,
        query: &str,
        table: &str,
        schema: SchemaRef,
        wasm: &Functions,
    ) -> Result<Select, SqlError> {
        let compile_err = |source: DataFusionError| SqlError::Compile {
            stage: stage.into(),
            query: query.into(),
            schema: crate::batch::describe(&schema),
            error: boxed(source),
        };
        let mut statements = Parser::parse_sql(&FlinkDialect, query)
            .map_err(|e| compile_err(DataFusionError::SQL(Box::new(e), None)))?;
        let Some(Statement::Query(q)) = statements.pop().filter(|_| statements.is_empty()) else {
            return Err(compile_err(DataFusionError::Plan(
                "a stage's `sql` is one SELECT query".into(),
            )));
        };
        let catalog = Catalog::new([(table.to_string(), schema.clone())]).with_functions(wasm);
        let input = schema.clone();
        let plan = plan_query(&catalog, *q).map_err(compile_err)?;
        let mut steps = Vec::new();
        compile_steps(&plan, &mut steps).map_err(compile_err)?;
        Ok(Select {
            stage: stage.into(),
            query: query.into(),
            schema: plan.schema().inner().clone(),
            input,
            steps,
        })
    }

    /// The schema of the rows it was compiled for.
    pub fn input_schema(&self) -> &SchemaRef {
        &self.input
    }

    /// The schema of the rows it makes.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The query's rows for `batch`.
    pub fn apply(&self, batch: &RecordBatch) -> Result<Selected, SqlError> {
        let err = |source: DataFusionError| SqlError::Evaluate {
            stage: self.stage.clone(),
            query: self.query.clone(),
            error: boxed(source),
        };
        let mut batch = batch.clone();
        let mut kept: Option<Vec<u32>> = None;
        for step in &self.steps {
            match step {
                Step::Filter(p) => {
                    let mask = p
                        .evaluate(&batch)
                        .and_then(|v| v.into_array(batch.num_rows()))
                        .map_err(err)?;
                    let mask = mask
                        .as_any()
                        .downcast_ref::<BooleanArray>()
                        .ok_or_else(|| {
                            err(DataFusionError::Plan("a filter that is not boolean".into()))
                        })?;
                    let picked: Vec<u32> = (0..mask.len())
                        .filter(|&i| mask.is_valid(i) && mask.value(i))
                        .map(|i| i as u32)
                        .collect();
                    batch = arrow_select::filter::filter_record_batch(&batch, mask)
                        .map_err(|e| err(e.into()))?;
                    kept = Some(match kept {
                        None => picked,
                        Some(before) => picked.iter().map(|&i| before[i as usize]).collect(),
                    });
                }
                Step::Project(exprs, schema) => {
                    let n = batch.num_rows();
                    let columns = exprs
                        .iter()
                        .map(|e| e.evaluate(&batch).and_then(|v| v.into_array(n)))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(err)?;
                    batch = RecordBatch::try_new_with_options(
                        schema.clone(),
                        columns,
                        &arrow_array::RecordBatchOptions::new().with_row_count(Some(n)),
                    )
                    .map_err(|e| err(e.into()))?;
                }
            }
        }
        Ok(Selected { batch, kept })
    }
}

/// The steps of `plan`, bottom-up; a plan node that is not a projection, a
/// filter, an alias or the scan of the input is refused, by name.
fn compile_steps(plan: &LogicalPlan, steps: &mut Vec<Step>) -> Result<(), DataFusionError> {
    let props = ExecutionProps::new();
    let ctx = PhysicalPlanningContext::default();
    match plan {
        LogicalPlan::Projection(p) => {
            compile_steps(&p.input, steps)?;
            let exprs = p
                .expr
                .iter()
                .map(|e| create_physical_expr(e, p.input.schema(), &props, &ctx))
                .collect::<Result<_, _>>()?;
            steps.push(Step::Project(exprs, p.schema.inner().clone()));
        }
        LogicalPlan::Filter(f) => {
            compile_steps(&f.input, steps)?;
            // `a AND b AND …` as one filter after another, each over the
            // rows the ones before kept: a later condition (a function
            // that refuses some rows) is not evaluated for rows an earlier
            // one dropped, as in Flink, and costs less.
            for c in datafusion_expr::utils::split_conjunction(&f.predicate) {
                steps.push(Step::Filter(create_physical_expr(
                    c,
                    f.input.schema(),
                    &props,
                    &ctx,
                )?));
            }
        }
        LogicalPlan::SubqueryAlias(a) => compile_steps(&a.input, steps)?,
        LogicalPlan::TableScan(s)
            if s.projection.is_none() && s.filters.is_empty() && s.fetch.is_none() => {}
        other => {
            return Err(DataFusionError::NotImplemented(format!(
                "{} in a stage's query (a stage evaluates projections and filters)",
                super::compose::construct(other)
            )));
        }
    }
    Ok(())
}
