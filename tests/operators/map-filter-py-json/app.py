"""The map+filter benchmark operator in Python over JSON events
(weir:dataflow@0.1.0, written against the generated bindings): the
baseline the operator over columns (tests/operators/map-filter-py) is
measured against in `weir bench --only python`.
"""
import json

from wit_world import exports
from wit_world.imports.types import Event, Output, Rejection


def cents(amount: float) -> int:
    """amount * 100 rounded half away from zero, as Rust's f64::round."""
    x = amount * 100.0
    r = float(int(x))
    if abs(x - r) >= 0.5:
        r += 1.0 if x > 0 else -1.0
    return int(r)


class Transformer(exports.Transformer):
    def init(self, config: str) -> None:
        pass

    def process(self, batch):
        out, rejected = [], []
        for i, e in enumerate(batch):
            try:
                tx = json.loads(e.value)
                amount = tx["amount"]
                if amount < 50.0:
                    continue
                value = json.dumps(
                    {"user": tx["user"], "cents": cents(amount), "merchant": tx["merchant"], "ts": tx["ts"]},
                    separators=(",", ":"),
                ).encode()
            except (ValueError, KeyError, TypeError) as err:
                rejected.append(Rejection(i, f"{type(err).__name__}: {err}"))
                continue
            out.append(Event(e.key, value, e.timestamp, e.headers))
        return Output(out, rejected)
