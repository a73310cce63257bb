"""An independent model of weir's semantics, used to produce the examples'
expected outputs. It shares no code with weir: if both agree, the engine is
right or both are wrong in the same way, and the model is short enough to
check by reading.

Semantics (Flink DataStream, with the watermark advancing between batches of
`batch_size` source records, as weir does):
- watermark after a batch = max(previous, highest timestamp seen - out_of_orderness - 1);
- a window [start, end) fires when the watermark reaches end - 1;
- a record is late when all its windows have end - 1 + allowed_lateness <= watermark;
- session windows [ts, ts + gap) merge when they overlap or touch;
- end of input fires everything.
"""
import json

MIN = -(2**63)


def read_source(path, time_field):
    """(records, dead) where records = [(line_no, obj, ts)] in file order."""
    out, dead = [], []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                dead.append(n)
                out.append((n, None, None))
                continue
            ts = obj.get(time_field) if isinstance(obj, dict) else None
            if not isinstance(ts, int):
                dead.append(n)
                out.append((n, None, None))
                continue
            out.append((n, obj, ts))
    return out, dead


def batches(records, size):
    for i in range(0, len(records), size):
        yield records[i:i + size]


class Windows:
    """Keyed windows with built-in or custom aggregation."""

    def __init__(self, kind, size=None, gap=None, ooo=0, lateness=0, slide=None):
        self.kind, self.size, self.gap, self.slide = kind, size, gap, slide
        self.ooo, self.lateness = ooo, lateness
        self.wm = MIN
        self.max_ts = None
        self.panes = {}      # (start, end, key) -> list of records
        self.fired = set()
        self.results, self.late = [], []

    def assign(self, ts):
        start = ts - (ts % self.size)
        return (start, start + self.size)

    def add(self, key, ts, rec):
        if self.kind == "sliding":
            # Each window on its own: a record is late only when it is late
            # for every window it belongs to (Flink's WindowOperator).
            accepted = False
            start = ts - (ts % self.slide)
            while start > ts - self.size:
                w = (start, start + self.size)
                start -= self.slide
                if w[1] - 1 + self.lateness <= self.wm:
                    continue
                accepted = True
                self.panes.setdefault((w[0], w[1], key), []).append(rec)
                if w[1] - 1 <= self.wm:
                    self.emit(w[0], w[1], key)
            if not accepted:
                self.late.append(rec)
        elif self.kind == "tumbling":
            w = self.assign(ts)
            if w[1] - 1 + self.lateness <= self.wm:
                self.late.append(rec)
                return
            self.panes.setdefault((w[0], w[1], key), []).append(rec)
            if w[1] - 1 <= self.wm:
                self.emit(w[0], w[1], key)
        else:
            new = (ts, ts + self.gap)
            mine = [p for p in self.panes if p[2] == key]
            merged, absorbed = new, []
            changed = True
            while changed:
                changed = False
                for p in mine:
                    if p not in absorbed and p[0] <= merged[1] and p[1] >= merged[0]:
                        merged = (min(p[0], merged[0]), max(p[1], merged[1]))
                        absorbed.append(p)
                        changed = True
            if merged[1] - 1 + self.lateness <= self.wm:
                self.late.append(rec)
                return
            recs = []
            for p in absorbed:
                recs += self.panes.pop(p)
                self.fired.discard(p)
            self.panes[(merged[0], merged[1], key)] = recs + [rec]
            if merged[1] - 1 <= self.wm:
                self.emit(merged[0], merged[1], key)

    def emit(self, start, end, key):
        self.fired.add((start, end, key))
        self.results.append((start, end, key, list(self.panes[(start, end, key)])))

    def advance(self, wm):
        if wm <= self.wm:
            return
        self.wm = wm
        for p in sorted(self.panes, key=lambda p: (p[1], p[0], p[2])):
            if p[1] - 1 <= wm and p not in self.fired:
                self.emit(*p)
        for p in list(self.panes):
            if p[1] - 1 + self.lateness <= wm:
                del self.panes[p]
                self.fired.discard(p)

    def observe(self, ts):
        self.max_ts = ts if self.max_ts is None else max(self.max_ts, ts)

    def watermark(self):
        return MIN if self.max_ts is None else self.max_ts - self.ooo - 1


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def write_sorted(path, objs):
    with open(path, "w") as f:
        for line in sorted(canonical(o) for o in objs):
            f.write(line + "\n")
