"""The `largest` window aggregate in Python, over typed columns: per key and
window, how many payments, their total, the largest and whose it was (on
equal amounts, the merchant first in byte order). The same logic as
tests/operators/largest-columns in Rust; tests/reference/largest_windows.py
is the model both are checked against.
"""
from dataclasses import dataclass

import weir


@dataclass
class Payment:
    amount: float
    merchant: str


@dataclass
class Largest:
    payments: int
    total: float
    largest: float
    top_merchant: str


def beats(amount, merchant, best):
    return best is None or amount > best[0] or (
        amount == best[0] and merchant.encode() < best[1].encode())


@weir.aggregate
class LargestPayment:
    def create(self):
        return [0, 0.0, None]  # payments, total, (largest, merchant)

    def add(self, acc, p: Payment):
        acc[0] += 1
        acc[1] += p.amount
        if beats(p.amount, p.merchant, acc[2]):
            acc[2] = (p.amount, p.merchant)

    def merge(self, a, b):
        a[0] += b[0]
        a[1] += b[1]
        if b[2] is not None and beats(b[2][0], b[2][1], a[2]):
            a[2] = b[2]
        return a

    def finish(self, acc, key: bytes, start: int, end: int) -> Largest:
        largest, merchant = acc[2] if acc[2] is not None else (0.0, "")
        return Largest(acc[0], acc[1], largest, merchant)
