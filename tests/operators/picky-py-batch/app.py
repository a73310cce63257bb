"""A Python batch filter (`@weir.filter_batch`): keeps payments from 10 to
95; the SDK rejects a row with a null merchant before the function sees
the batch. With config `fail = true` it raises, which fails the operator
(a batch function's exception is not one row's fault).
tests/e2e/columns.rs holds it to its own reading of the input.
"""
from dataclasses import dataclass

import weir


@dataclass
class Transaction:
    amount: float
    merchant: str


@weir.filter_batch
def picky(tx: weir.Batch[Transaction]) -> list[bool]:
    if weir.config().get("fail"):
        raise ValueError(f"asked to fail on {len(tx)} rows")
    return [10.0 <= a <= 95.0 for a in tx.amount]
