"""`wavg(value, weight)`, the SQL aggregate function of
tests/operators/wavg-columns, in Python: the average of `value` weighted
by `weight`, and None (NULL) when the weights add up to 0. SQL passes the
call's arguments as the fields of `Weighted`, in order."""
from dataclasses import dataclass
from typing import Optional

import weir


@dataclass
class Weighted:
    value: float
    weight: int


@dataclass
class Average:
    wavg: Optional[float]


@weir.aggregate
class WeightedAverage:
    def create(self):
        return [0.0, 0]  # Σ value·weight, Σ weight, in arrival order

    def add(self, acc, w: Weighted):
        acc[0] += w.value * w.weight
        acc[1] += w.weight

    def merge(self, a, b):
        return [a[0] + b[0], a[1] + b[1]]

    def finish(self, acc, key: bytes, start: int, end: int) -> Average:
        return Average(acc[0] / acc[1] if acc[1] != 0 else None)
