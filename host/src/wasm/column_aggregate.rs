//! An instance of a window aggregate over columns (`weir:dataflow@0.2.0`).
//!
//! At `init` the aggregate names the columns it reads (by name and type)
//! and the columns of its results. A flush hands it one batch of exactly
//! those columns and, per (key, window), its accumulator and the rows to
//! add — one call for every accumulator a batch touched, one copy per
//! column, and the accumulators and rows as flat lists with offsets (no
//! allocation per accumulator on either side of the call). At firing it
//! answers with result columns, which the window puts after its own
//! `key`, `window_start` and `window_end`.

use super::WasmError;
use super::bindings::v2::weir::dataflow::types as wit;
use super::bindings::v2_aggregate;
use super::columns::{self, ColumnError};
use super::instance::{Guarded, InstanceSpec};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;

/// The window's own result columns, which an aggregate's may not be named.
pub const WINDOW_COLUMNS: [&str; 3] = ["key", "window_start", "window_end"];

/// One accumulator and the rows of a batch to add to it.
#[derive(Debug, Clone, Default)]
pub struct Group {
    /// The accumulator so far; `None` for a new one.
    pub acc: Option<Vec<u8>>,
    /// Rows of the batch, in arrival order.
    pub rows: Vec<u32>,
}

/// One window result to produce.
#[derive(Debug, Clone)]
pub struct Fired {
    /// The window's key.
    pub key: Vec<u8>,
    /// Window start (inclusive), ms.
    pub start: i64,
    /// Window end (exclusive), ms.
    pub end: i64,
    /// Its accumulator.
    pub acc: Vec<u8>,
}

/// A window aggregate function instance over columns.
pub struct ColumnAggregateInstance {
    g: Guarded,
    bindings: v2_aggregate::Aggregate,
    /// The columns it reads, in order.
    input: SchemaRef,
    /// The columns of its results.
    output: SchemaRef,
}

impl ColumnAggregateInstance {
    /// Instantiate and `init` with the aggregate's config.
    pub fn new(spec: &InstanceSpec<'_>) -> Result<Self, WasmError> {
        let (mut g, bindings) = Guarded::instantiate(spec, None, |pre, store| {
            v2_aggregate::AggregatePre::new(pre)?.instantiate(store)
        })?;
        let answer = g.call("init", |s| {
            bindings
                .weir_dataflow_aggregator()
                .call_init(s, spec.config)
        })?;
        let schema = |what: &str, fields: &[wit::Field]| {
            columns::from_wit_schema(fields).map_err(|e| format!("its {what} schema: {e}"))
        };
        let checked = schema("input", &answer.input).and_then(|input| {
            let output = schema("output", &answer.output)?;
            match output
                .fields()
                .iter()
                .find(|f| WINDOW_COLUMNS.contains(&f.name().as_str()))
            {
                Some(f) => Err(format!(
                    "its output names column `{}`, which the window writes itself (key, window_start, window_end)",
                    f.name()
                )),
                None => Ok((input, output)),
            }
        });
        let (input, output) = checked.map_err(|message| g.contract("init", message))?;
        Ok(Self {
            g,
            bindings,
            input,
            output,
        })
    }

    /// The share of its memory limit its linear memory has grown to.
    pub fn memory_share(&self) -> f64 {
        self.g.memory_share()
    }

    /// The columns it reads, in the order it reads them.
    pub fn input_schema(&self) -> &SchemaRef {
        &self.input
    }

    /// The columns of its results.
    pub fn output_schema(&self) -> &SchemaRef {
        &self.output
    }

    /// Add each group's rows of `batch` (of [`Self::input_schema`]) to its
    /// accumulator: the new accumulators, one per group.
    pub fn add(
        &mut self,
        batch: &RecordBatch,
        time: &[i64],
        groups: Vec<Group>,
    ) -> Result<Vec<Vec<u8>>, WasmError> {
        let all: Vec<usize> = (0..batch.num_columns()).collect();
        let input = columns::to_wit_batch(batch, time, &all, false)
            .map_err(|e| self.g.contract("add", e.to_string()))?;
        let n = groups.len();
        let mut row_offsets = Vec::with_capacity(n + 1);
        row_offsets.push(0u32);
        let mut rows = Vec::with_capacity(groups.iter().map(|g| g.rows.len()).sum());
        for g in &groups {
            rows.extend_from_slice(&g.rows);
            row_offsets.push(rows.len() as u32);
        }
        let flat = wit::Groups {
            accs: var_data(groups.iter().map(|g| g.acc.as_deref().unwrap_or_default())),
            rows,
            row_offsets,
        };
        drop(groups);
        let b = &self.bindings;
        let out = self.g.call("add", |s| {
            b.weir_dataflow_aggregator().call_add(s, &input, &flat)
        })?;
        split(out, n).map_err(|m| self.g.contract("add", m))
    }

    /// Merged accumulators, one per pair.
    pub fn merge(&mut self, pairs: &[(Vec<u8>, Vec<u8>)]) -> Result<Vec<Vec<u8>>, WasmError> {
        let left = var_data(pairs.iter().map(|p| p.0.as_slice()));
        let right = var_data(pairs.iter().map(|p| p.1.as_slice()));
        let b = &self.bindings;
        let out = self.g.call("merge", |s| {
            b.weir_dataflow_aggregator().call_merge(s, &left, &right)
        })?;
        split(out, pairs.len()).map_err(|m| self.g.contract("merge", m))
    }

    /// The result columns (of [`Self::output_schema`]), one row per input.
    pub fn finish(&mut self, fired: Vec<Fired>) -> Result<Vec<ArrayRef>, WasmError> {
        let rows = fired.len();
        let input = wit::Fired {
            keys: var_data(fired.iter().map(|f| f.key.as_slice())),
            window_starts: fired.iter().map(|f| f.start).collect(),
            window_ends: fired.iter().map(|f| f.end).collect(),
            accs: var_data(fired.iter().map(|f| f.acc.as_slice())),
        };
        drop(fired);
        let b = &self.bindings;
        let out = self.g.call("finish", |s| {
            b.weir_dataflow_aggregator().call_finish(s, &input)
        })?;
        let contract = |g: &Guarded, e: ColumnError| g.contract("finish", e.to_string());
        if out.len() != self.output.fields().len() {
            return Err(self.g.contract(
                "finish",
                format!(
                    "it answered {} columns; its output schema has {}",
                    out.len(),
                    self.output.fields().len()
                ),
            ));
        }
        let none = RecordBatch::new_empty(std::sync::Arc::new(arrow_schema::Schema::empty()));
        self.output
            .fields()
            .iter()
            .zip(out)
            .map(|(f, c)| columns::from_wit_column(f, c, rows, &none, None))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| contract(&self.g, e))
    }
}

/// Byte strings in one buffer with offsets.
pub(super) fn var_data<'a>(values: impl Iterator<Item = &'a [u8]> + Clone) -> wit::VarData {
    let mut data = Vec::with_capacity(values.clone().map(<[u8]>::len).sum());
    let mut offsets = vec![0u32];
    for v in values {
        data.extend_from_slice(v);
        offsets.push(data.len() as u32);
    }
    wit::VarData { offsets, data }
}

/// A guest's `n` byte strings, one `Vec` each, checked.
fn split(v: wit::VarData, n: usize) -> Result<Vec<Vec<u8>>, String> {
    let o = &v.offsets;
    let ok = o.len() == n + 1
        && o.first() == Some(&0)
        && o.windows(2).all(|w| w[0] <= w[1])
        && o.last().is_some_and(|l| *l as usize <= v.data.len());
    if !ok {
        return Err(format!(
            "it answered {} offsets into {} bytes for {n} accumulators; expected {} non-decreasing offsets from 0",
            o.len(),
            v.data.len(),
            n + 1
        ));
    }
    Ok(o.windows(2)
        .map(|w| v.data[w[0] as usize..w[1] as usize].to_vec())
        .collect())
}
