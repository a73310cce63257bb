//! An instance of a keyed operator over columns (`weir:dataflow@0.2.0`).
//!
//! Like an aggregate over columns, it names at `init` the columns it reads
//! and the columns it emits, so it exists before any record arrives; per
//! batch it gets those columns and each row's key, and answers with a
//! selection of rows or new rows that name their parents. Its state and
//! timers are the host's, in a [`KeyedCtx`] as a 0.1 keyed operator's are
//! (one code path for both contracts), so a checkpoint, a rescale or a
//! swap never asks the guest for anything.

use super::WasmError;
use super::bindings::v2::weir::dataflow::types as wit;
use super::bindings::v2_keyed;
use super::column_aggregate::var_data;
use super::columnar::{ColumnOutput, answered, check_flood};
use super::columns::{self, Rows};
use super::host::KeyedCtx;
use super::instance::{Guarded, InstanceSpec};
use crate::state::timers::Domain;
use arrow_array::{RecordBatch, RecordBatchOptions};
use arrow_schema::{Schema, SchemaRef};
use std::sync::Arc;

/// A timer that fired.
#[derive(Debug, Clone)]
pub struct Fired {
    /// Its key.
    pub key: Vec<u8>,
    /// The time it was registered for.
    pub at: i64,
    /// Its clock.
    pub domain: Domain,
}

/// A keyed operator instance over columns, with its state and timers in
/// the store.
pub struct ColumnKeyedInstance {
    g: Guarded,
    bindings: v2_keyed::Keyed,
    /// The columns it reads, in order.
    input: SchemaRef,
    /// The columns of the rows it emits.
    output: SchemaRef,
}

impl ColumnKeyedInstance {
    /// Instantiate over a state context and `init` with the operator's
    /// config.
    pub fn new(spec: &InstanceSpec<'_>, keyed: KeyedCtx) -> Result<Self, WasmError> {
        let (mut g, bindings) = Guarded::instantiate(spec, Some(keyed), |pre, store| {
            v2_keyed::KeyedPre::new(pre)?.instantiate(store)
        })?;
        let answer = g.call("init", |s| {
            bindings
                .weir_dataflow_keyed_processor()
                .call_init(s, spec.config)
        })?;
        let schema = |what: &str, fields: &[wit::Field]| {
            columns::from_wit_schema(fields).map_err(|e| format!("its {what} schema: {e}"))
        };
        let (input, output) = schema("input", &answer.input)
            .and_then(|input| Ok((input, schema("output", &answer.output)?)))
            .map_err(|message| g.contract("init", message))?;
        Ok(Self {
            g,
            bindings,
            input,
            output,
        })
    }

    /// Give up the instance, keeping its state context (for a new
    /// version, or a fresh instance, over the same state).
    pub fn into_ctx(self) -> KeyedCtx {
        self.g.into_keyed_ctx()
    }

    /// The state, timers and clocks of this instance.
    pub fn ctx(&mut self) -> &mut KeyedCtx {
        self.g.keyed_ctx()
    }

    /// The share of its memory limit its linear memory has grown to.
    pub fn memory_share(&self) -> f64 {
        self.g.memory_share()
    }

    /// The columns it reads, in the order it reads them.
    pub fn input_schema(&self) -> &SchemaRef {
        &self.input
    }

    /// The columns of the rows it emits.
    pub fn output_schema(&self) -> &SchemaRef {
        &self.output
    }

    /// Process one batch of [`Self::input_schema`] with its event times and
    /// each row's key. A selection's rows are input rows (`selected`).
    pub fn process(
        &mut self,
        batch: &RecordBatch,
        time: &[i64],
        keys: Vec<Vec<u8>>,
    ) -> Result<ColumnOutput, WasmError> {
        let all: Vec<usize> = (0..batch.num_columns()).collect();
        let input = columns::to_wit_batch(batch, time, &all, false)
            .map_err(|e| self.g.contract("process", e.to_string()))?;
        let wit_keys = var_data(keys.iter().map(Vec::as_slice));
        self.g.begin_keys(keys);
        let b = &self.bindings;
        let out = self.g.call("process", |s| {
            b.weir_dataflow_keyed_processor()
                .call_process(s, &input, &wit_keys)
        })?;
        drop(input);
        answered(&self.g, out, Some(&self.output), batch, time)
    }

    /// Deliver fired timers: the rows they made, each naming its timer as
    /// its parent (the row takes the timer's key, and its time unless the
    /// operator gave one).
    pub fn on_timer(&mut self, fired: &[Fired]) -> Result<Rows, WasmError> {
        let n = fired.len();
        let timers = wit::FiredTimers {
            keys: var_data(fired.iter().map(|f| f.key.as_slice())),
            at: fired.iter().map(|f| f.at).collect(),
            domains: fired
                .iter()
                .map(|f| match f.domain {
                    Domain::EventTime => wit::TimeDomain::EventTime,
                    Domain::ProcessingTime => wit::TimeDomain::ProcessingTime,
                })
                .collect(),
        };
        self.g
            .begin_keys(fired.iter().map(|f| f.key.clone()).collect());
        let b = &self.bindings;
        let out = self.g.call("on-timer", |s| {
            b.weir_dataflow_keyed_processor().call_on_timer(s, &timers)
        })?;
        check_flood(&self.g, "on-timer", out.rows, n as u32)?;
        // No input row: `input(k)` columns find nothing to take.
        let none = RecordBatch::try_new_with_options(
            Arc::new(Schema::empty()),
            Vec::new(),
            &RecordBatchOptions::new().with_row_count(Some(n)),
        )
        .expect("an empty schema with a row count is a valid batch");
        let at: Vec<i64> = fired.iter().map(|f| f.at).collect();
        columns::from_wit_output(out, &self.output, &none, &at)
            .map_err(|e| self.g.contract("on-timer", e.to_string()))
    }
}
