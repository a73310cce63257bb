#!/usr/bin/env python3
"""An independent model of the map+filter test operators (tests/operators/
map-filter and map-filter-columns): shares no code with weir.

    map_filter.py INPUT.jsonl OUTPUT.jsonl

Reads JSON lines of transactions {ts, user, amount, merchant}; a line that
is not a JSON object, or whose ts is not an integer or amount not a number,
is set aside (counted on stdout as `dead N`); every other transaction of 50
or more is written as {user, cents, merchant, ts}, with cents = amount * 100
rounded half away from zero (Rust's f64::round).
"""
import json
import sys
from decimal import ROUND_HALF_UP, Decimal


def number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def main(src, dst):
    dead = 0
    with open(src) as f, open(dst, "w") as out:
        for line in f:
            line = line.rstrip("\n")
            try:
                tx = json.loads(line)
            except ValueError:
                dead += 1
                continue
            if not isinstance(tx, dict):
                dead += 1
                continue
            ts, amount = tx.get("ts"), tx.get("amount")
            if not (isinstance(ts, int) and not isinstance(ts, bool)) or not number(amount):
                dead += 1
                continue
            if amount < 50:
                continue
            # The float product, rounded exactly as Rust rounds it.
            cents = int(Decimal(float(amount) * 100.0).quantize(Decimal(1), rounding=ROUND_HALF_UP))
            out.write(json.dumps({"user": tx["user"], "cents": cents,
                                  "merchant": tx["merchant"], "ts": ts}) + "\n")
    print(f"dead {dead}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
