#!/usr/bin/env python3
"""Writes tests/sql/conformance/input/tx.jsonl, the conformance queries'
input: 400 transactions with a fixed seed, some fields null or missing;
and tx_time.jsonl, the same rows with `ts` as Flink's SQL text for a
TIMESTAMP(3) (`2023-11-14 22:13:20.265`, UTC), which window queries read
as their event time; and clicks_time.jsonl, 250 clicks by the same users
over the same time (their own seed, so tx.jsonl stays as it is), their
time in `click_time`, which the join queries join with the transactions.
And nexmark_person/auction/bid.jsonl: the first 2,500 of Nexmark's events
(a quarter of a second of event time) as weir's generator makes them (datagen
schemas nexmark-person, nexmark-auction, nexmark-bid, seed 0), for the
Nexmark queries (examples/nexmark); this part runs `weir` (built with
`cargo build --release -p weir`, or WEIR_BIN).
Re-run it only to change the input (and then re-make the expected files
with tests/sql/flink/expected.py)."""
import json
import os
import subprocess
import tempfile
import random
from datetime import datetime, timezone
from pathlib import Path

rng = random.Random(13)
out = Path(__file__).parent / "input" / "tx.jsonl"
out.parent.mkdir(exist_ok=True)
timed = out.parent / "tx_time.jsonl"
with out.open("w") as f, timed.open("w") as g:
    ts = 1_700_000_000_000
    for i in range(400):
        ts += rng.randint(0, 900)
        row = {
            "ts": ts,
            "user": f"u{rng.randint(1, 25)}",
            "amount": round(rng.uniform(-20, 180), rng.choice([0, 1, 2, 3])),
            "merchant": f"m{rng.randint(1, 6)}",
            "n": rng.randint(-5, 40),
            "flag": rng.random() < 0.4,
        }
        if i % 17 == 3:
            row["merchant"] = None
        if i % 23 == 5:
            del row["amount"]
        if i % 29 == 7:
            row["n"] = None
        f.write(json.dumps(row) + "\n")
        when = datetime.fromtimestamp(ts / 1000, timezone.utc)
        row["ts"] = when.strftime("%Y-%m-%d %H:%M:%S.") + f"{ts % 1000:03d}"
        g.write(json.dumps(row) + "\n")

rng = random.Random(14)
with (out.parent / "clicks_time.jsonl").open("w") as f:
    ts = 1_700_000_000_000
    for i in range(250):
        ts += rng.randint(0, 1400)
        when = datetime.fromtimestamp(ts / 1000, timezone.utc)
        row = {
            "click_time": when.strftime("%Y-%m-%d %H:%M:%S.") + f"{ts % 1000:03d}",
            "user": f"u{rng.randint(1, 25)}",
            "page": rng.choice(["home", "cart", "item", "help"]),
            "ms": rng.randint(50, 9000),
        }
        if i % 19 == 4:
            row["user"] = None
        if i % 13 == 6:
            row["ms"] = None
        f.write(json.dumps(row) + "\n")

# Nexmark's events, by weir's own generator: what is tested is that weir's
# queries over them give Flink's rows, so the generator only has to be
# deterministic (its own tests check its shape).
EVENTS = 2500
WEIR = os.environ.get("WEIR_BIN") or str(
    Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/weir/target")) / "release/weir")
with tempfile.TemporaryDirectory() as tmp:
    for table, share in [("person", 1), ("auction", 3), ("bid", 46)]:
        job = Path(tmp) / f"{table}.toml"
        job.write_text(
            f'name = "nexmark-{table}"\n[source]\ntype = "datagen"\nschema = "nexmark-{table}"\n'
            f'rows = {EVENTS // 50 * share}\n[sink]\ntype = "file"\n'
            f'path = "{out.parent / f"nexmark_{table}.jsonl"}"\n'
            f'[checkpoint]\ndir = "{tmp}/ckpt-{table}"\n')
        subprocess.run([WEIR, "run", "-q", job], check=True, capture_output=True)
