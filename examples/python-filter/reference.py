"""Expected output of the python-filter example, computed in plain Python.
Run: python3 examples/python-filter/reference.py"""
import json, os
here = os.path.dirname(os.path.abspath(__file__))
kept, dead = [], []
with open(os.path.join(here, "input.jsonl")) as f:
    for line in f:
        amount = json.loads(line).get("amount")
        if isinstance(amount, bool) or not isinstance(amount, (int, float)):
            dead.append(line)
        elif amount >= 100:
            kept.append(line)
with open(os.path.join(here, "expected.jsonl"), "w") as f:
    f.writelines(kept)
print(f"{len(kept)} kept, {len(dead)} rejected")
