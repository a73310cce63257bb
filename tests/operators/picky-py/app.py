"""A Python map over columns that rejects some rows: it raises for a
payment over 95 and (through the SDK) is never given a row with a null
merchant; payments under 10 are dropped, the rest go on in cents
(truncated). tests/e2e/columns.rs holds it to its own reading of the input.
"""
from dataclasses import dataclass
from typing import Optional

import weir


@dataclass
class Transaction:
    user: str
    amount: float
    merchant: str


@dataclass
class Cents:
    user: str
    cents: int
    merchant: str


@weir.map
def picky(tx: Transaction) -> Optional[Cents]:
    if tx.amount > 95.0:
        raise ValueError(f"{tx.amount} is too much")
    if tx.amount < 10.0:
        return None
    return Cents(tx.user, int(tx.amount * 100.0), tx.merchant)
