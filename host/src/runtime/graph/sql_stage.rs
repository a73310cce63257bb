//! A stage that evaluates a SQL query — projections and filters — over
//! its input's columns ([`crate::sql::Select`]).
//!
//! The query is compiled for the schema of the first batch and again
//! whenever a batch comes with another schema (an inferred schema is the
//! first batch's; a declared one never changes). Rows that come as records
//! (from a stage that emits records, a join) are decoded into columns
//! first — with the stage's declared schema (`sql.schema`), else one
//! inferred from the first records — and a record that does not fit goes
//! to the dead-letter output. The stage
//! emits columns to readers that take columns; for readers that take
//! records (a sink that writes) it writes each row as Flink's `json`
//! format does — every column, a null one as `null` — at its input row's
//! event time. Rows that carry a change (a last column `_op`, from a
//! global window) keep it as a field, or are written as Debezium's JSON
//! (`sql.changelog = "debezium-json"`). It keeps no state. The Wasm
//! functions its query calls (`sql.functions`) have one instance per
//! subtask and argument types; a live swap of one replaces them between
//! two batches. A canary of one runs the query a second time as a shadow,
//! with the new version, over every batch, and compares its rows with the
//! running query's.

use super::operator::{Batch, Cx, Operator};
use crate::batch::JsonDecoder;
use crate::job::ChangelogFormat;
use crate::plan::{Plan, PlannedOperator};
use crate::runtime::RunError;
use crate::runtime::message::Columns;
use crate::runtime::swap::Swap;
use crate::sql::{FunctionSource, Functions, Select};
use crate::window::global::OP;
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use std::path::Path;
use std::sync::Arc;

/// The stage's operator.
pub(super) struct SqlStage {
    stage: String,
    query: String,
    table: String,
    /// Compiled for the schema of the last batch.
    select: Option<Select>,
    /// For input that comes as records.
    decoder: Option<Box<JsonDecoder>>,
    /// Its readers take columns.
    columns_out: bool,
    /// How it writes a changelog to a sink.
    changelog: Option<ChangelogFormat>,
    /// The Wasm functions its query may call.
    functions: Functions,
    /// A canary of one of them: the query with its new version, compiled
    /// at the next batch.
    shadow: Option<Shadow>,
}

/// A canary's shadow query.
struct Shadow {
    swap: Arc<Swap>,
    functions: Functions,
    select: Option<Select>,
}

impl SqlStage {
    /// The operator of stage `stage`, running `query` over its input read
    /// as `table`, whose records have `schema` if it is given (in job
    /// `job`).
    pub fn new(
        job: &str,
        stage: &str,
        query: &str,
        table: &str,
        schema: Option<SchemaRef>,
        columns_out: bool,
    ) -> Result<Self, RunError> {
        let decoder = match schema {
            Some(schema) => Some(Box::new(JsonDecoder::new(schema).map_err(|source| {
                RunError::Schema {
                    job: job.into(),
                    source,
                }
            })?)),
            None => None,
        };
        Ok(SqlStage {
            columns_out,
            stage: stage.into(),
            query: query.into(),
            table: table.into(),
            select: None,
            decoder,
            changelog: None,
            functions: Functions::default(),
            shadow: None,
        })
    }

    /// Writing rows as `changelog` says (to a sink).
    pub fn writing_changelog(mut self, changelog: Option<ChangelogFormat>) -> Self {
        self.changelog = changelog;
        self
    }

    /// Run a canary's shadow query over `input`, and compare its rows with
    /// the running query's `out`. The shadow failing (its function
    /// trapped, rejected a row, or cannot be called as the query does) is
    /// the canary's verdict, not the job's failure.
    fn run_shadow(&mut self, input: &RecordBatch, out: &crate::sql::Selected) {
        let Some(shadow) = &mut self.shadow else {
            return;
        };
        let Some(canary) = &shadow.swap.canary else {
            return;
        };
        if canary.stopped() {
            self.shadow = None;
            return;
        }
        let schema = input.schema();
        let compiled = match shadow.select.take() {
            Some(select) if select.input_schema() == &schema => Ok(select),
            _ => Select::compile_with(
                &self.stage,
                &self.query,
                &self.table,
                schema,
                &shadow.functions,
            ),
        };
        match compiled.and_then(|select| select.apply(input).map(|new| (select, new))) {
            Ok((select, new)) => {
                let same = new.batch == out.batch && new.kept == out.kept;
                canary.observe_outcome(input.num_rows(), same, 0);
                shadow.select = Some(select);
            }
            Err(e) => {
                canary.trap(e.to_string());
                self.shadow = None;
            }
        }
    }

    /// With the Wasm functions `functions` of `plan`, as subtask `subtask`
    /// runs them.
    pub fn calling(mut self, plan: &Plan, functions: &[PlannedOperator], subtask: usize) -> Self {
        self.functions = Functions::new(functions.iter().map(|f| {
            let spec = plan.instance_spec(f, subtask);
            (f.spec.name.clone(), FunctionSource::new(&spec, plan.engine))
        }));
        self
    }
}

/// Each row of `batch` as Debezium's JSON, as Flink's `debezium-json`
/// format writes it: an insert or an update's new row (`+I`, `+U` in
/// column [`OP`], or no such column) as `{"before":null,"after":row,
/// "op":"c"}`, an update's old row or a delete (`-U`, `-D`) as
/// `{"before":row,"after":null,"op":"d"}`; `row` has every other column,
/// a null one as `null`.
fn debezium_lines(batch: &RecordBatch) -> Result<Vec<Vec<u8>>, crate::batch::EncodeError> {
    use arrow_array::{Array, StringArray};
    let ops = batch
        .column_by_name(OP)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .cloned();
    let mut values = batch.clone();
    if let Ok(i) = batch.schema().index_of(OP) {
        values.remove_column(i);
    }
    let rows = crate::batch::json_lines_with_nulls(&values)?;
    Ok(rows
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            let retract = ops
                .as_ref()
                .is_some_and(|o| o.is_valid(i) && o.value(i).starts_with('-'));
            let mut line = Vec::with_capacity(row.len() + 40);
            if retract {
                line.extend_from_slice(b"{\"before\":");
                line.extend_from_slice(&row);
                line.extend_from_slice(b",\"after\":null,\"op\":\"d\"}");
            } else {
                line.extend_from_slice(b"{\"before\":null,\"after\":");
                line.extend_from_slice(&row);
                line.extend_from_slice(b",\"op\":\"c\"}");
            }
            line
        })
        .collect())
}

impl Operator for SqlStage {
    fn process_batch(&mut self, _input: usize, batch: Batch, cx: &mut Cx) -> Result<(), RunError> {
        let job = &cx.plan.job.spec.name;
        let sql_err = |source| RunError::Sql {
            job: job.clone(),
            source,
        };
        let cols = match batch.columns {
            Some(cols) => cols,
            None => {
                let name = format!("(stage `{}`)", self.stage);
                super::chain::events_as_columns(
                    job,
                    &name,
                    &mut self.decoder,
                    batch.records,
                    cx.side,
                    cx.epoch,
                )?
                .0
            }
        };
        if cols.is_empty() {
            return Ok(());
        }
        let schema = cols.batch.schema();
        if self
            .select
            .as_ref()
            .is_none_or(|s| s.input_schema() != &schema)
        {
            let select = Select::compile_with(
                &self.stage,
                &self.query,
                &self.table,
                schema,
                &self.functions,
            )
            .map_err(sql_err)?;
            self.select = Some(select);
        }
        let select = self.select.as_ref().expect("compiled above");
        let out = select.apply(&cols.batch).map_err(sql_err)?;
        self.run_shadow(&cols.batch, &out);
        // Bounded like an operator's output (its functions are bounded by
        // their input, so this is a second line).
        let bytes = out.batch.get_array_memory_size();
        let limit = cx.plan.limits.max_output_bytes;
        if bytes > limit {
            return Err(sql_err(crate::sql::SqlError::TooLarge {
                stage: self.stage.clone(),
                bytes,
                rows: cols.len(),
                limit,
            }));
        }
        let time = match out.kept {
            None => cols.time,
            Some(kept) => kept.iter().map(|&i| cols.time[i as usize]).collect(),
        };
        if out.batch.num_rows() == 0 {
            return Ok(());
        }
        if !self.columns_out {
            let lines = match self.changelog {
                Some(ChangelogFormat::DebeziumJson) => debezium_lines(&out.batch),
                None => crate::batch::json_lines_with_nulls(&out.batch),
            };
            let lines = lines.map_err(|source| RunError::Encode {
                job: job.clone(),
                operator: format!("(stage `{}`)", self.stage),
                source,
            })?;
            let records = lines
                .into_iter()
                .zip(time)
                .map(|(value, ts)| crate::event::event(value, ts))
                .collect();
            return cx.emit(records);
        }
        cx.emit_batch(Batch {
            records: Vec::new(),
            columns: Some(Columns {
                batch: out.batch,
                time,
            }),
        })
    }

    fn on_watermark(&mut self, _: &mut Cx) -> Result<(), RunError> {
        Ok(())
    }

    fn on_barrier(&mut self, _: &Path) -> Result<(), RunError> {
        Ok(())
    }

    fn on_swap(&mut self, plan: &Plan, subtask: usize, swap: &Arc<Swap>) -> Result<(), RunError> {
        if !self.functions.has(&swap.operator) {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let spec = plan.instance_spec(&swap.op, subtask);
        let source = FunctionSource::new(&spec, plan.engine);
        if swap.canary.is_some() {
            self.shadow = self
                .functions
                .with_version(&swap.operator, source)
                .map(|functions| Shadow {
                    swap: swap.clone(),
                    functions,
                    select: None,
                });
            return Ok(());
        }
        self.shadow = None;
        self.functions
            .swap(&swap.operator, source)
            .map_err(|e| RunError::Sql {
                job: plan.job.spec.name.clone(),
                source: crate::sql::SqlError::Swap {
                    stage: self.stage.clone(),
                    function: swap.operator.clone(),
                    error: Box::new(e),
                },
            })?;
        swap.switched(started.elapsed());
        tracing::debug!(function = %swap.operator, subtask, digest = %swap.op.component.digest, "swapped");
        Ok(())
    }
}
