"""The map+filter benchmark operator in Python as a batch function: the
same logic as tests/operators/map-filter-py (keep payments of 50 or more,
in cents), over a whole batch's columns at once (`@weir.map_batch`);
tests/reference/map_filter.py is the model both are checked against.
"""
from dataclasses import dataclass
from typing import Optional

import weir


@dataclass
class Transaction:
    ts: int
    user: str
    amount: float
    merchant: str


@dataclass
class Payment:
    user: str
    cents: int
    merchant: str
    ts: int
    # The operator's config `tag`, when it has one (null: left out).
    by: Optional[str] = None


def cents(amount: float) -> int:
    """amount * 100 rounded half away from zero, as Rust's f64::round."""
    x = amount * 100.0
    r = float(int(x))  # truncated toward zero
    if abs(x - r) >= 0.5:
        r += 1.0 if x > 0 else -1.0
    return int(r)


@weir.map_batch
def big_payments(tx: weir.Batch[Transaction]) -> weir.Batch[Payment]:
    big = tx.where([a >= 50.0 for a in tx.amount])
    return big.to(
        Payment,
        user=big.user,
        cents=list(map(cents, big.amount)),
        merchant=big.merchant,
        ts=big.ts,
        by=weir.config().get("tag"),
    )
