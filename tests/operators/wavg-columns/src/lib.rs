//! `wavg(value, weight)`: a SQL aggregate function — the average of
//! `value` weighted by `weight`, `Σ value·weight / Σ weight`, and NULL
//! when the weights add up to 0. Written as a window aggregate over
//! columns: SQL passes the call's arguments as the columns `value`
//! (DOUBLE) and `weight` (BIGINT), and reads its one result column. A row
//! with a NULL argument is not added (neither column is an `Option`).
//! `tests/operators/wavg-py` is the same function in Python, and
//! `wavg-v2` its version 2 (rounded); tests/e2e/sql_aggregate_functions.rs
//! checks them against a model.

use weir_guest::Error;
use weir_guest::v2::{Aggregate, Window};

mod acc;
use acc::{Acc, Average, Weighted};

struct WeightedAverage;

#[weir_guest::v2::aggregate]
impl Aggregate for WeightedAverage {
    type In<'a> = Weighted;
    type Acc = Acc;
    type Out = Average;

    fn add(acc: &mut Acc, w: Weighted) -> Result<(), Error> {
        acc.add(&w);
        Ok(())
    }

    fn merge(a: Acc, b: Acc) -> Acc {
        Acc::merge(a, b)
    }

    fn finish(acc: Acc, _key: &[u8], _window: Window) -> Average {
        Average {
            wavg: acc.average(),
        }
    }
}
