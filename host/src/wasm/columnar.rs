//! An instance of a transform over columns (`weir:dataflow@0.2.0`): at
//! creation it is told its input schema and answers with the columns it
//! reads and the schema it emits; per batch it gets those columns and
//! answers with a selection of rows or new columns (see [`super::columns`]).

use super::WasmError;
use super::bindings::{v2, v2_transform};
use super::columns::{self, ColumnError};
use super::instance::{Guarded, InstanceSpec};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

pub use super::columns::Rows;

/// What a batch call made.
#[derive(Debug)]
pub struct ColumnOutput {
    /// The output rows, with where each came from.
    pub rows: Rows,
    /// Input rows the operator rejected, with why.
    pub rejected: Vec<(u32, String)>,
}

/// A map / filter instance over columns.
pub struct ColumnTransformInstance {
    g: Guarded,
    bindings: v2_transform::Transform,
    /// Input columns it reads, in the order it reads them.
    projection: Vec<usize>,
    /// It asked for its input packed (`column-data.packed`).
    packed: bool,
    /// What it emits; `None`: it selects input rows.
    output: Option<SchemaRef>,
    /// What it was told it gets.
    input: SchemaRef,
}

impl ColumnTransformInstance {
    /// Instantiate and `init` with the operator's config and its input schema.
    pub fn new(spec: &InstanceSpec<'_>, input: &SchemaRef) -> Result<Self, WasmError> {
        let (mut g, bindings) = Guarded::instantiate(spec, None, |pre, store| {
            v2_transform::TransformPre::new(pre)?.instantiate(store)
        })?;
        let schema =
            columns::to_wit_schema(input).map_err(|e| g.contract("init", e.to_string()))?;
        let answer = g.call("init", |s| {
            bindings
                .weir_dataflow_transformer()
                .call_init(s, spec.config, &schema)
        })?;
        let packed = answer.packed;
        let (projection, output) = agreed(&g, answer, input)?;
        Ok(Self {
            g,
            bindings,
            projection,
            packed,
            output,
            input: input.clone(),
        })
    }

    /// The share of its memory limit its linear memory has grown to.
    pub fn memory_share(&self) -> f64 {
        self.g.memory_share()
    }

    /// The schema it was made for.
    pub fn input_schema(&self) -> &SchemaRef {
        &self.input
    }

    /// The schema of what it emits (`None`: its input's).
    pub fn output_schema(&self) -> Option<&SchemaRef> {
        self.output.as_ref()
    }

    /// Process one batch with its event times. Rows it cannot be given (a
    /// null inside a list it reads) come back rejected, with why.
    pub fn process(
        &mut self,
        batch: &RecordBatch,
        time: &[i64],
    ) -> Result<ColumnOutput, WasmError> {
        let unfit = columns::rows_with_null_items(batch, &self.projection);
        if unfit.is_empty() {
            return self.call(batch, time);
        }
        let mut next = unfit.iter().map(|(r, _)| *r).peekable();
        let keep: Vec<u32> = (0..batch.num_rows() as u32)
            .filter(|r| next.next_if_eq(r).is_none())
            .collect();
        let idx = arrow_array::UInt32Array::from(keep.clone());
        let sub = arrow_select::take::take_record_batch(batch, &idx)
            .map_err(|e| self.g.contract("process", e.to_string()))?;
        let sub_time: Vec<i64> = keep.iter().map(|&r| time[r as usize]).collect();
        let mut out = self.call(&sub, &sub_time)?;
        // Back to the rows of `batch`.
        out.rows.parents = Some(match out.rows.parents.take() {
            Some(p) => p.into_iter().map(|i| keep[i as usize]).collect(),
            None => keep.clone(),
        });
        for r in &mut out.rejected {
            r.0 = keep[r.0 as usize];
        }
        out.rejected.extend(unfit.into_iter().map(|(row, column)| {
            (
                row,
                format!("column `{column}` holds a null inside its list; an operator over columns is never given a null list item"),
            )
        }));
        out.rejected.sort_by_key(|r| r.0);
        Ok(out)
    }

    fn call(&mut self, batch: &RecordBatch, time: &[i64]) -> Result<ColumnOutput, WasmError> {
        let contract = |g: &Guarded, e: ColumnError| g.contract("process", e.to_string());
        let input = columns::to_wit_batch(batch, time, &self.projection, self.packed)
            .map_err(|e| contract(&self.g, e))?;
        let b = &self.bindings;
        let out = self.g.call("process", |s| {
            b.weir_dataflow_transformer().call_process(s, &input)
        })?;
        drop(input);
        answered(&self.g, out, self.output.as_ref(), batch, time)
    }
}

/// What an operator's `init` answer agrees to for `input`: the input
/// columns it reads, by index, and the schema it emits (`None`: it selects
/// rows).
pub(super) fn agreed(
    g: &Guarded,
    answer: v2::weir::dataflow::types::OperatorSpec,
    input: &SchemaRef,
) -> Result<(Vec<usize>, Option<SchemaRef>), WasmError> {
    let n = input.fields().len();
    let projection: Vec<usize> = match answer.projection {
        Some(p) => p.into_iter().map(|i| i as usize).collect(),
        None => (0..n).collect(),
    };
    if let Some(bad) = projection.iter().find(|i| **i >= n) {
        return Err(g.contract(
            "init",
            format!("it asked for input column {bad}; the input has {n}"),
        ));
    }
    let output = answer
        .output
        .map(|fields| columns::from_wit_schema(&fields))
        .transpose()
        .map_err(|e| g.contract("init", e.to_string()))?;
    Ok((projection, output))
}

/// A `process` call's answer for `batch` (with event times `time`), checked:
/// rejections inside the batch, no more rows than the output limit, and
/// rows of the declared `output` schema (or a selection).
pub(super) fn answered(
    g: &Guarded,
    out: v2::weir::dataflow::types::TransformOutput,
    output: Option<&SchemaRef>,
    batch: &RecordBatch,
    time: &[i64],
) -> Result<ColumnOutput, WasmError> {
    use v2::weir::dataflow::types::Answer;
    let contract = |e: ColumnError| g.contract("process", e.to_string());
    let n = batch.num_rows() as u32;
    if let Some(r) = out.rejected.iter().find(|r| r.index >= n) {
        return Err(g.contract(
            "process",
            format!("rejected record {} of a batch of {n}", r.index),
        ));
    }
    let rejected = out
        .rejected
        .into_iter()
        .map(|r| (r.index, r.reason))
        .collect();
    let rows = match (out.answer, output) {
        (Answer::Select(s), _) => columns::from_wit_selection(s, batch, time),
        (Answer::Emit(o), Some(schema)) => {
            check_flood(g, "process", o.rows, n)?;
            columns::from_wit_output(o, schema, batch, time)
        }
        (Answer::Emit(_), None) => Err(ColumnError::Contract(
            "it emitted rows, but declared no output schema at init".into(),
        )),
    }
    .map_err(contract)?;
    Ok(ColumnOutput { rows, rejected })
}

/// Refuse more output rows than `limits.max_output_per_record` per input.
pub(super) fn check_flood(
    g: &Guarded,
    call: &'static str,
    rows: u32,
    inputs: u32,
) -> Result<(), WasmError> {
    let per = g.limits.max_output_per_record;
    let limit = (inputs as usize).max(1).saturating_mul(per);
    if rows as usize > limit {
        return Err(g.contract(
            call,
            format!(
                "output flood: {rows} rows for {inputs}, more than limits.max_output_per_record = {per} per record"
            ),
        ));
    }
    Ok(())
}
