"""The map+filter benchmark operator in Python, over typed columns: keep
payments of 50 or more, in cents (tests/operators/map-filter-columns in
Rust; tests/reference/map_filter.py is the model both are checked against).
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
    # The operator's config `tag`, when it has one (null: left out of the
    # JSON); the live-swap test tells the versions apart by it.
    by: Optional[str] = None


def cents(amount: float) -> int:
    """amount * 100 rounded half away from zero, as Rust's f64::round."""
    x = amount * 100.0
    r = float(int(x))  # truncated toward zero
    if abs(x - r) >= 0.5:
        r += 1.0 if x > 0 else -1.0
    return int(r)


@weir.map
def big_payments(tx: Transaction) -> Optional[Payment]:
    if tx.amount < 50.0:
        return None
    return Payment(tx.user, cents(tx.amount), tx.merchant, tx.ts, weir.config().get("tag"))
