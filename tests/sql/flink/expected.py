#!/usr/bin/env python3
"""Makes the SQL conformance suite's expected outputs with Apache Flink itself.

    python3 tests/sql/flink/expected.py [NAME ...]

For each script tests/sql/conformance/queries/NAME.sql (all of them by
default) it runs the script on Apache Flink 2.3 — PyFlink from PyPI, a local
MiniCluster, streaming mode, parallelism 1 — over the committed input files
in tests/sql/conformance/input, and writes what the script's sink table got
to tests/sql/conformance/expected/NAME.jsonl. The first line of that file
names the Flink version and this command; the rest are the rows, one JSON
object per line, in the order Flink wrote them.

In a script, `{input}` stands for the input directory and `{output}` for
the sink's path (for Flink, a directory it writes part files into; for
weir, a file). weir's test (tests/e2e/sql.rs) runs the same scripts and
compares its rows with these files; it never compares weir with weir.

PyFlink is installed on first use into ~/.cache/weir/pyflink (as
bench/flink/compare.py does); Flink needs Java 11 or newer.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SUITE = ROOT / "tests" / "sql" / "conformance"
sys.path.insert(0, str(ROOT / "bench" / "flink"))
from compare import FLINK_VERSION, ensure_pyflink  # noqa: E402

RUNNER = r'''
import sys
from pyflink.table import EnvironmentSettings, TableEnvironment
script = open(sys.argv[1]).read()
env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
conf = env.get_config()
conf.set("parallelism.default", "1")
# The filesystem sink commits its files at checkpoints; a bounded job
# takes a last one when its input ends.
conf.set("execution.checkpointing.interval", "200 ms")
conf.set("table.local-time-zone", "UTC")
# Comment lines out first (they may hold a `;`), then one statement per `;`.
script = "\n".join(l for l in script.splitlines() if not l.strip().startswith("--"))
for statement in [s.strip() for s in script.split(";")]:
    if not statement:
        continue
    try:
        result = env.execute_sql(statement)
    except Exception:
        print("Flink refused:\n" + statement, file=sys.stderr)
        raise
    if statement.upper().startswith("INSERT"):
        result.wait()
'''


def part_order(path):
    """Flink's part files (part-<uuid>-<subtask>-<n>) in the order written."""
    m = re.search(r"-(\d+)-(\d+)$", path.name)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def run(py, name):
    script = (SUITE / "queries" / f"{name}.sql").read_text()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        text = script.replace("{input}", str(SUITE / "input")).replace("{output}", str(out))
        (Path(tmp) / "q.sql").write_text(text)
        (Path(tmp) / "run.py").write_text(RUNNER)
        subprocess.run([py, Path(tmp) / "run.py", Path(tmp) / "q.sql"], check=True,
                       stdout=subprocess.DEVNULL)
        parts = sorted((p for p in out.rglob("part-*") if not p.name.startswith(".")),
                       key=part_order)
        if not parts:
            sys.exit(f"{name}: Flink wrote no part files under {out}")
        rows = [line for p in parts for line in p.read_text().splitlines() if line.strip()]
    header = {"flink": FLINK_VERSION,
              "made_by": f"python3 tests/sql/flink/expected.py {name}",
              "rows": len(rows)}
    dest = SUITE / "expected" / f"{name}.jsonl"
    dest.write_text(json.dumps(header) + "\n" + "".join(r + "\n" for r in rows))
    print(f"{name}: {len(rows)} rows -> {dest.relative_to(ROOT)}")


def main():
    names = sys.argv[1:] or sorted(p.stem for p in (SUITE / "queries").glob("*.sql"))
    py = ensure_pyflink()
    for name in names:
        run(py, name)


if __name__ == "__main__":
    main()
