"""Expected output of the fraud example: re-implements the `transactions`
generator (SplitMix64, see host/src/connector/datagen.rs) and the detector's
rules independently. Run: python3 examples/fraud/reference.py"""
import json, os

M = (1 << 64) - 1
HOUR = 3_600_000


class Rng:
    def __init__(self, seed):
        self.s = seed & M

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & M
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
        return z ^ (z >> 31)

    def below(self, n):
        return self.next() % max(n, 1)


def transactions(rows, keys, seed, step_ms, start=1_700_000_000_000):
    rng = Rng(seed ^ 0x5CA1AB1E)
    for row in range(rows):
        ts = start + row * step_ms
        key = rng.below(keys)
        r = rng.next()
        cents = (5 + (key * 7919) % 200) * 100 + (r >> 16) % 1000
        if (r >> 40) % 100 == 0:
            cents *= 25
        yield {"ts": ts, "user": f"user-{key}", "amount": float(f"{cents // 100}.{cents % 100:02}"),
               "merchant": f"m-{(r >> 8) % 50}"}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    txs = list(transactions(rows=20000, keys=40, seed=7, step_ms=60_000))
    state, timers, alerts = {}, set(), []
    for i in range(0, len(txs), 1024):             # the source's batches
        batch = txs[i:i + 1024]
        for t in batch:
            prev = state.get(t["user"])
            if prev is not None:
                if t["amount"] > 10 * prev[0]:
                    alerts.append({"user": t["user"], "amount": t["amount"], "previous": prev[0], "at": t["ts"]})
                timers.discard((prev[1] + HOUR, t["user"]))
            state[t["user"]] = (t["amount"], t["ts"])
            timers.add((t["ts"] + HOUR, t["user"]))
        watermark = max(t["ts"] for t in batch) - 1    # no out-of-orderness
        for due in sorted(x for x in timers if x[0] <= watermark):
            timers.discard(due)
            state.pop(due[1], None)                 # an hour of quiet: forget
    with open(os.path.join(here, "expected.jsonl"), "w") as f:
        for line in sorted(json.dumps(a, sort_keys=True, separators=(",", ":")) for a in alerts):
            f.write(line + "\n")
    print(f"{len(alerts)} alerts")


main()
