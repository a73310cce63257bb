// The arguments, accumulator and sums of the `wavg` SQL aggregate
// function, shared by version 1 (`wavg-columns`) and version 2
// (`wavg-v2`, `#[path]`-included), so that a live swap hands version 2
// the accumulators version 1 left.

use weir_guest::v2::Record;

/// The call's arguments.
#[derive(Record)]
pub struct Weighted {
    pub value: f64,
    pub weight: i64,
}

/// The result.
#[derive(Record)]
pub struct Average {
    pub wavg: Option<f64>,
}

/// Sums in arrival order, as the host adds a group's rows.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct Acc {
    pub weighted: f64,
    pub weights: i64,
}

impl Acc {
    /// Add one row.
    pub fn add(&mut self, w: &Weighted) {
        self.weighted += w.value * w.weight as f64;
        self.weights += w.weight;
    }

    /// Two windows' sums as one (session windows that merge).
    pub fn merge(a: Acc, b: Acc) -> Acc {
        Acc {
            weighted: a.weighted + b.weighted,
            weights: a.weights + b.weights,
        }
    }

    /// `Σ value·weight / Σ weight`; `None` when the weights add up to 0.
    pub fn average(&self) -> Option<f64> {
        (self.weights != 0).then(|| self.weighted / self.weights as f64)
    }
}
