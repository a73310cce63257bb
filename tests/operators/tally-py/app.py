"""A keyed operator in Python over typed columns (the SDK's @weir.keyed)
that uses every kind of host-owned state: per key, a running count
(ValueState), the last three `i`s (ListState, trimmed by clearing and
re-adding) and a count per parity of `i` (MapState, with `entries`).
tests/e2e/column_keyed.rs checks its rows against its own model. With
config `broken = true` it leaves `recent`, which is not Optional, None:
the SDK must fail the call naming the field."""
from dataclasses import dataclass

import weir


@dataclass
class In:
    i: int


@dataclass
class Out:
    key: str
    i: int
    n: int
    recent: str
    same_parity: int
    parities: int


@weir.keyed(emits=Out)
class Tally:
    count = weir.ValueState("count")
    recent = weir.ListState("recent")
    parity = weir.MapState("parity")

    def process(self, ctx, r: In):
        n = (self.count.get() or 0) + 1
        self.count.set(n)
        self.recent.add(r.i)
        last = self.recent.get()
        if len(last) > 3:
            last = last[-3:]
            self.recent.clear()
            for x in last:
                self.recent.add(x)
        p = r.i % 2
        seen = (self.parity.get(p) or 0) + 1
        self.parity.put(p, seen)
        entries = self.parity.entries()
        if sum(v for _, v in entries) != n:
            raise ValueError(f"parity counts {entries} do not add up to {n}")
        recent = None if weir.config().get("broken") else ",".join(map(str, last))
        ctx.emit(Out(ctx.key.decode(), r.i, n, recent, seen, len(entries)))
