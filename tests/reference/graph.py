#!/usr/bin/env python3
"""Independent models of weir's job-graph tests (shares no code with weir).

Input: JSON lines of orders ({"kind":"order","ts","order","user","amount"})
and payments ({"kind":"payment","ts","order","user","paid"}), in arrival
order, late by at most the job's out-of-orderness (so no record is late).

  graph.py interval IN OUT LOWER_MS UPPER_MS
      every (order, payment) of the same order with
      order.ts + LOWER <= payment.ts <= order.ts + UPPER
      -> {"key": order, "left": <order>, "right": <payment>}
  graph.py window-join IN OUT SIZE_MS
      every (order, payment) of the same user in the same tumbling window
      -> {"key": user, "window_start", "window_end", "left", "right"}
  graph.py two-stage IN OUT SIZE_MS
      records per user per tumbling window (orders and payments together),
      then per window: users, their records summed, the busiest user's count
      -> {"key": "<window_start>", "window_start", "window_end",
          "users": n, "records": n, "busiest": n}

Joined and aggregated lines are written with sorted keys, one per line.
"""
import json
import sys
from collections import defaultdict


def read(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def write(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r, sort_keys=True) + "\n")


def interval(records, lower, upper):
    orders = [r for r in records if r["kind"] == "order"]
    payments = defaultdict(list)
    for p in records:
        if p["kind"] == "payment":
            payments[p["order"]].append(p)
    out = []
    for o in orders:
        for p in payments[o["order"]]:
            if o["ts"] + lower <= p["ts"] <= o["ts"] + upper:
                out.append({"key": o["order"], "left": o, "right": p})
    return out


def window_join(records, size):
    panes = defaultdict(lambda: ([], []))
    for r in records:
        start = r["ts"] - r["ts"] % size
        panes[(start, r["user"])][0 if r["kind"] == "order" else 1].append(r)
    out = []
    for (start, user), (lefts, rights) in panes.items():
        for left in lefts:
            for right in rights:
                out.append({"key": user, "window_start": start,
                            "window_end": start + size, "left": left, "right": right})
    return out


def two_stage(records, size):
    per_user = defaultdict(int)
    for r in records:
        per_user[(r["ts"] - r["ts"] % size, r["user"])] += 1
    per_window = defaultdict(list)
    for (start, _user), n in per_user.items():
        per_window[start].append(n)
    return [{"key": str(start), "window_start": start, "window_end": start + size,
             "users": len(ns), "records": sum(ns), "busiest": max(ns)}
            for start, ns in per_window.items()]


def main():
    what, src, dst, *args = sys.argv[1:]
    records = read(src)
    args = [int(a) for a in args]
    rows = {"interval": interval, "window-join": window_join,
            "two-stage": two_stage}[what](records, *args)
    write(dst, rows)
    print(len(rows))


if __name__ == "__main__":
    main()
