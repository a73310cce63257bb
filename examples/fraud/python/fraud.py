"""The fraud detector of `../operator` in Python, over typed columns: it
flags a payment more than 10x the same user's previous one. The previous
payment lives in host-owned value state (JSON, as the Rust operators store
it); an event-time timer clears it after an hour without payments."""

from dataclasses import dataclass

import weir

HOUR = 60 * 60 * 1000


@dataclass
class Payment:
    amount: float
    ts: int


@dataclass
class Alert:
    user: str
    amount: float
    previous: float
    at: int


@weir.keyed(emits=Alert)
class Fraud:
    last = weir.ValueState("last")

    def process(self, ctx, p: Payment):
        prev = self.last.get()
        if prev is not None:
            if p.amount > 10 * prev["amount"]:
                ctx.emit(Alert(ctx.key.decode(), p.amount, prev["amount"], p.ts))
            ctx.delete_event_timer(prev["at"] + HOUR)
        self.last.set({"amount": p.amount, "at": p.ts})
        ctx.register_event_timer(p.ts + HOUR)

    def on_timer(self, ctx, at, domain):
        self.last.clear()
