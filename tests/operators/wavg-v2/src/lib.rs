//! Version 2 of `wavg(value, weight)` (tests/operators/wavg-columns): the
//! same accumulator — so a live swap goes on from version 1's — and the
//! weighted average rounded to a whole number (half away from zero).

use weir_guest::Error;
use weir_guest::v2::{Aggregate, Window};

#[path = "../../wavg-columns/src/acc.rs"]
mod acc;
use acc::{Acc, Average, Weighted};

struct RoundedAverage;

#[weir_guest::v2::aggregate]
impl Aggregate for RoundedAverage {
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
            wavg: acc.average().map(f64::round),
        }
    }
}
