"""Expected output of the wordcount example, from the independent model in
tests/reference. Run: python3 examples/wordcount/reference.py"""
import os, re, sys
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "tests", "reference"))
from flink_model import Windows, batches, read_source, write_sorted

records, dead = read_source(os.path.join(here, "input.jsonl"), "ts")
w = Windows("tumbling", size=10_000, ooo=2_000)
for batch in batches(records, 8):
    for _, obj, ts in batch:
        if obj is None:
            continue
        w.observe(ts)
        for word in re.split(r"[^0-9A-Za-z]+", obj["text"]):
            if word:
                w.add(word.lower(), ts, {"word": word.lower()})
    w.advance(w.watermark())
w.advance(2**63 - 1)
write_sorted(os.path.join(here, "expected.jsonl"),
             [{"key": k, "window_start": s, "window_end": e, "count": len(r)} for s, e, k, r in w.results])
write_sorted(os.path.join(here, "expected-late.jsonl"), w.late)
print(f"{len(w.results)} results, {len(w.late)} late, {len(dead)} dead letters (lines {dead})")
