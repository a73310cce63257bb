"""Keep transactions of at least `min_amount` (from the job's config).

A weir `transform` operator in Python, built with componentize-py against the
same WIT contract as the Rust operators: `weir build filter --world transform`.
The host calls `process` once per batch; records whose amount is not a number
are rejected (they go to the job's dead-letter output), not dropped.
"""
import json

from wit_world import exports
from wit_world.imports import log
from wit_world.imports.types import Output, Rejection

# Configuration, not state: the host passes it again to every new instance.
MIN_AMOUNT = 100.0


class Transformer(exports.Transformer):
    def init(self, config: str) -> None:
        global MIN_AMOUNT
        MIN_AMOUNT = float(json.loads(config).get("min_amount", MIN_AMOUNT))
        log.log(log.Level.INFO, f"python filter: min_amount = {MIN_AMOUNT}")

    def process(self, batch):
        kept, rejected = [], []
        for i, event in enumerate(batch):
            try:
                amount = json.loads(event.value)["amount"]
                if isinstance(amount, bool) or not isinstance(amount, (int, float)):
                    raise TypeError(f"amount is {amount!r}")
            except (ValueError, KeyError, TypeError) as e:
                rejected.append(Rejection(i, f"no numeric amount: {e}"))
                continue
            if amount >= MIN_AMOUNT:
                kept.append(event)
        return Output(kept, rejected)
