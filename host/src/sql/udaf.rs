//! Aggregate functions written as Wasm components: `CREATE FUNCTION f AS
//! 'path' LANGUAGE WASM` where the component implements the `aggregate`
//! world over columns (`#[weir_guest::v2::aggregate]`, or Python's
//! `@weir.aggregate`), callable where an aggregate is.
//!
//! No second contract: the function is the window stage's aggregate, as a
//! job file's `[window.aggregate]` is. Its `init` (called once, when the
//! script is planned) names the columns it reads — the call's arguments,
//! in order — and its one result column:
//!
//! ```text
//!  SELECT window_start, `user`, wavg(amount, qty) AS w
//!  FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(ts), INTERVAL '10' SECOND))
//!  GROUP BY window_start, window_end, `user`
//!     filter: __key, CAST(amount AS DOUBLE) AS value, CAST(qty AS BIGINT) AS weight
//!     window: keyed by __key, aggregate `wavg` (its accumulators kept by the host)
//!     select: `user`, window_start, `wavg` AS w
//! ```
//!
//! DataFusion sees a [`WasmAggregate`] only while planning: its signature
//! is the argument types `init` declared (an argument of another type is
//! cast to it where SQL's implicit casts allow, else refused), and its
//! return type is the result column's. It is never evaluated by
//! DataFusion: the window stage calls the component once per batch.
//!
//! A row whose argument is NULL where the function declared a column that
//! cannot be NULL (a Rust `f64`, not an `Option<f64>`) is not added, as
//! the built-in aggregates skip NULLs.

use crate::job::OperatorSpec;
use arrow_schema::{DataType, Field, SchemaRef};
use datafusion_common::{Result, not_impl_err};
use datafusion_expr::function::AccumulatorArgs;
use datafusion_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};
use std::sync::Arc;

/// A Wasm aggregate function, as its `init` described it.
#[derive(Debug)]
pub struct AggregateFunction {
    /// Its name, lower case.
    pub name: String,
    /// The columns it reads: the call's arguments, in order.
    pub input: SchemaRef,
    /// Its one result column.
    pub output: Field,
    /// The operator the window stage runs it as.
    pub spec: OperatorSpec,
    udaf: Arc<AggregateUDF>,
}

impl AggregateFunction {
    /// The function `name` reading `input` and making `output`, run as
    /// `spec`. A type SQL has no name for (a list, bytes) is refused:
    /// `Err` says which.
    pub fn new(
        name: &str,
        input: SchemaRef,
        output: Field,
        spec: OperatorSpec,
    ) -> std::result::Result<Self, String> {
        if let Some(f) = input
            .fields()
            .iter()
            .find(|f| cast_type(f.data_type()).is_none())
        {
            return Err(format!(
                "its init reads column `{}` as {}, which no SQL argument is; an aggregate \
                 function in SQL reads BOOLEAN, INT, BIGINT, FLOAT, DOUBLE, STRING or \
                 TIMESTAMP(3) columns",
                f.name(),
                f.data_type()
            ));
        }
        if cast_type(output.data_type()).is_none() {
            return Err(format!(
                "its result `{}` is {}, which SQL cannot hold; return a BOOLEAN, INT, BIGINT, \
                 FLOAT, DOUBLE, STRING or TIMESTAMP(3)",
                output.name(),
                output.data_type()
            ));
        }
        if let Some(f) = input
            .fields()
            .iter()
            .chain([&Arc::new(output.clone())])
            .find(|f| f.name().starts_with("__"))
        {
            return Err(format!(
                "its init names column `{}`: names that begin with `__` are weir's own",
                f.name()
            ));
        }
        let types: Vec<DataType> = input
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        let signature = if types.is_empty() {
            Signature::nullary(Volatility::Volatile)
        } else {
            Signature::exact(types, Volatility::Volatile)
        };
        let udaf = AggregateUDF::new_from_impl(WasmAggregate {
            name: name.to_string(),
            signature,
            returns: output.data_type().clone(),
        });
        Ok(AggregateFunction {
            name: name.to_string(),
            input,
            output,
            spec,
            udaf: Arc::new(udaf),
        })
    }

    /// What DataFusion's planner is given.
    pub(super) fn udaf(&self) -> Arc<AggregateUDF> {
        self.udaf.clone()
    }
}

/// The type a SQL `CAST` names for the column types an aggregate may
/// read or make; `None` for those SQL has no type for.
pub(super) fn cast_type(ty: &DataType) -> Option<&'static str> {
    Some(match ty {
        DataType::Boolean => "BOOLEAN",
        DataType::Int32 => "INT",
        DataType::Int64 => "BIGINT",
        DataType::Float32 => "FLOAT",
        DataType::Float64 => "DOUBLE",
        DataType::Utf8 => "STRING",
        DataType::Timestamp(arrow_schema::TimeUnit::Millisecond, None) => "TIMESTAMP(3)",
        _ => return None,
    })
}

/// A Wasm aggregate function as DataFusion's planner sees it.
#[derive(Debug, PartialEq, Eq, Hash)]
struct WasmAggregate {
    name: String,
    signature: Signature,
    returns: DataType,
}

impl AggregateUDFImpl for WasmAggregate {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _types: &[DataType]) -> Result<DataType> {
        Ok(self.returns.clone())
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        // The window stage runs it; a plan that would evaluate it here is
        // a bug in weir's lowering, said as such.
        not_impl_err!(
            "Wasm aggregate function `{}` evaluated by DataFusion: it runs in a window stage",
            self.name
        )
    }
}
