#!/usr/bin/env python3
"""Writes tests/sql/conformance/input/carts.jsonl, the input of the
conformance queries over arrays: 150 shopping carts with a fixed seed,
each an ARRAY<STRING> of items and an ARRAY<INT> of quantities (some
empty, some missing). Re-run it only to change the input (and then
re-make the expected files with tests/sql/flink/expected.py)."""
import json
import random
from pathlib import Path

rng = random.Random(29)
out = Path(__file__).parent / "input" / "carts.jsonl"
fruit = ["apple", "pear", "plum", "fig", "kiwi", "lime"]
with out.open("w") as f:
    ts = 1_700_000_000_000
    for i in range(150):
        ts += rng.randint(0, 700)
        n = rng.randint(0, 4)
        row = {"ts": ts, "user": f"u{rng.randint(1, 12)}",
               "items": [rng.choice(fruit) for _ in range(n)],
               "qty": [rng.randint(1, 9) for _ in range(n)]}
        if i % 13 == 5:
            del row["items"]
        if i % 17 == 8:
            row["qty"] = None
        f.write(json.dumps(row) + "\n")
