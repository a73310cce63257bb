"""Expected output of a window job whose aggregate is the `largest-columns`
test operator (a Wasm aggregate over columns): per `user` and window, the
number of payments, their total, the largest amount and its merchant (on
equal amounts, the merchant first in byte order). From the independent
model in flink_model.py.

    python3 largest_windows.py INPUT KIND SIZE SLIDE GAP OOO LATENESS BATCH OUT_DIR [declared]

writes OUT_DIR/expected.jsonl (results), expected-late.jsonl (late records)
and expected-dead.json (the dead letters' line numbers, by why).

What the model takes as given (the job's documented behaviour):
- a line that is not a JSON object or has no integer `ts` is a dead letter
  that the watermark never sees;
- a record without `user` (key-by) is a dead letter, but it was read: its
  time counts for the watermark;
- so is a record the aggregate cannot read: `amount` missing or not a
  number, or `merchant` missing or not text;
- with `declared` (the source declares `amount` a double), an `amount`
  that is there but not a number does not fit the source's schema: a
  dead letter of the source, which the watermark never sees.
"""
import json
import os
import sys

from flink_model import Windows, batches, write_sorted


def number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def main():
    inp, kind, size, slide, gap, ooo, lateness, batch, out = sys.argv[1:10]
    declared = sys.argv[10:11] == ["declared"]
    w = Windows(kind, size=int(size), slide=int(slide), gap=int(gap), ooo=int(ooo),
                lateness=int(lateness))
    lines = []
    with open(inp) as f:
        for n, line in enumerate(f, 1):
            lines.append((n, line.strip()))
    dead = {"decode": [], "key_by": [], "aggregate": []}
    for chunk in batches(lines, int(batch)):
        for n, line in chunk:
            try:
                obj = json.loads(line)
            except ValueError:
                obj = None
            if not isinstance(obj, dict) or not isinstance(obj.get("ts"), int) \
                    or isinstance(obj.get("ts"), bool) \
                    or (declared and "amount" in obj and not number(obj["amount"])):
                dead["decode"].append(n)
                continue
            ts = obj["ts"]
            w.observe(ts)
            if "user" not in obj:
                dead["key_by"].append(n)
            elif not number(obj.get("amount")) or not isinstance(obj.get("merchant"), str):
                dead["aggregate"].append(n)
            else:
                w.add(str(obj["user"]), ts, obj)
        w.advance(w.watermark())
    w.advance(2**63 - 1)

    results = []
    for start, end, key, recs in w.results:
        total = 0.0
        best = None
        for r in recs:
            total += r["amount"]
            a, m = float(r["amount"]), r["merchant"]
            if best is None or a > best[0] or (a == best[0] and m.encode() < best[1].encode()):
                best = (a, m)
        results.append({
            "key": key, "window_start": start, "window_end": end,
            "payments": len(recs), "total": total,
            "largest": best[0], "top_merchant": best[1],
        })
    write_sorted(os.path.join(out, "expected.jsonl"), results)
    write_sorted(os.path.join(out, "expected-late.jsonl"), w.late)
    with open(os.path.join(out, "expected-dead.json"), "w") as f:
        json.dump(dead, f)


if __name__ == "__main__":
    main()
