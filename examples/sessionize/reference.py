"""Expected output of the sessionize example, from the independent model in
tests/reference. Run: python3 examples/sessionize/reference.py"""
import os, sys
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "tests", "reference"))
from flink_model import Windows, batches, read_source, write_sorted

records, dead = read_source(os.path.join(here, "input.jsonl"), "ts")
w = Windows("session", gap=30_000, ooo=5_000)
for batch in batches(records, 4):
    for _, obj, ts in batch:
        w.observe(ts)
        w.add(obj["user"], ts, (ts, obj))
    w.advance(w.watermark())
w.advance(2**63 - 1)
results = []
for s, e, user, recs in w.results:
    clicks = sorted(recs, key=lambda r: r[0])   # stable: ties keep arrival order
    results.append({"user": user, "start": s, "end": e, "clicks": len(clicks),
                    "pages": [o["page"] for _, o in clicks]})
write_sorted(os.path.join(here, "expected.jsonl"), results)
write_sorted(os.path.join(here, "expected-late.jsonl"), [o for _, o in w.late])
print(f"{len(results)} sessions, {len(w.late)} late")
