"""Expected output of a window job with built-in aggregates (count, sum and
avg of `amount` per `user`), from the independent model in flink_model.py.

    python3 native_windows.py INPUT KIND SIZE SLIDE GAP OOO LATENESS BATCH OUT_DIR [FIELD]

FIELD (default `amount`) is the field the sum and the average add up.

writes OUT_DIR/expected.jsonl (results), expected-late.jsonl (late records)
and expected-dead.json (the dead letters' line numbers, by why).

What the model takes as given (the job's documented behaviour):
- a line that is not a JSON object, has no integer `ts`, or has an
  `amount` that is not a number does not fit the records' schema: a dead
  letter that the watermark never sees;
- a record without `user` (key-by) or without `amount` (the aggregates)
  is a dead letter too, but it was read: its time counts for the watermark;
- results print whole numbers without a fraction.
"""
import json
import os
import sys

from flink_model import Windows, batches, write_sorted


def number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def main():
    inp, kind, size, slide, gap, ooo, lateness, batch, out = sys.argv[1:10]
    field = sys.argv[10] if len(sys.argv) > 10 else "amount"
    size, slide, gap = int(size), int(slide), int(gap)
    w = Windows(kind, size=size, slide=slide, gap=gap, ooo=int(ooo), lateness=int(lateness))
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
                    or (field in obj and not number(obj[field])):
                dead["decode"].append(n)
                continue
            ts = obj["ts"]
            w.observe(ts)
            if "user" not in obj:
                dead["key_by"].append(n)
            elif field not in obj:
                dead["aggregate"].append(n)
            else:
                w.add(str(obj["user"]), ts, obj)
        w.advance(w.watermark())
    w.advance(2**63 - 1)

    def whole(x):
        return int(x) if float(x).is_integer() else x

    results = []
    for start, end, key, recs in w.results:
        total = 0.0
        for r in recs:
            total += r[field]
        results.append({
            "key": key, "window_start": start, "window_end": end,
            "count": len(recs), "sum_" + field: whole(total),
            "avg_" + field: whole(total / len(recs)),
        })
    write_sorted(os.path.join(out, "expected.jsonl"), results)
    write_sorted(os.path.join(out, "expected-late.jsonl"), w.late)
    with open(os.path.join(out, "expected-dead.json"), "w") as f:
        json.dump(dead, f)


if __name__ == "__main__":
    main()
