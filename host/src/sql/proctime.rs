//! `PROCTIME()`: the processing time, as a computed column declares it
//! (`pt AS PROCTIME()`): the wall clock when the row is evaluated, a
//! TIMESTAMP(3) in UTC (Flink's is a TIMESTAMP_LTZ(3) shown in the
//! session's time zone; weir's is UTC).
//!
//! Volatile, so DataFusion never folds it into one constant at planning
//! (its `now()` is the query's start, for every row): each batch reads
//! the clock once, and its rows share that time.
//!
//! A window over it (`TUMBLE(TABLE t, DESCRIPTOR(pt), …)`) runs on
//! processing time ([`super::tvf`]); an `OVER … ORDER BY pt` takes rows
//! in the order they come ([`super::over`]).

use arrow_array::TimestampMillisecondArray;
use arrow_schema::{DataType, TimeUnit};
use datafusion_common::Result;
use datafusion_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use std::sync::{Arc, OnceLock};

/// Its name as a script calls it (lower case).
pub(super) const NAME: &str = "proctime";

/// The function, for the catalog.
pub(super) fn udf() -> Arc<ScalarUDF> {
    static F: OnceLock<Arc<ScalarUDF>> = OnceLock::new();
    F.get_or_init(|| {
        Arc::new(ScalarUDF::new_from_impl(ProcTime {
            signature: Signature::exact(Vec::new(), Volatility::Volatile),
        }))
    })
    .clone()
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ProcTime {
    signature: Signature,
}

impl ScalarUDFImpl for ProcTime {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Timestamp(TimeUnit::Millisecond, None))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let now = crate::time::now_ms();
        Ok(ColumnarValue::Array(Arc::new(
            TimestampMillisecondArray::from_value(now, args.number_rows),
        )))
    }
}
