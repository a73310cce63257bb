#!/usr/bin/env python3
"""weir and Apache Flink 2.3 side by side, in one run, on the same file.

    python3 bench/flink/compare.py [--records 5000000] [--only stateless,sql,window,sql-window,sql-join,sql-group,sql-group-mb,sql-group-retract,sql-over,sql-topn,sql-topn-retract,sql-window-topn,python,python-batch] [--repeat 1]

Run from the repository root after `cargo build --release -p weir`. It
installs PyFlink (`apache-flink==2.3.0` from PyPI, with its Flink jars) into
~/.cache/weir/pyflink on first use — it needs Java 11 or newer — writes one
JSON-lines file of transactions with weir's generator, and runs each job on
it with both systems, parallelism 1:

- stateless: keep transactions of 50 or more, re-shaped in cents. weir: the
  Rust operator over columns (tests/operators/map-filter-columns); Flink:
  Flink SQL, filesystem/json source, blackhole sink.
- sql: the same Flink SQL script on both systems (`weir sql` runs it:
  DataFusion's expressions over weir's columns).
- window: a tumbling 10 s count and sum of amount per user (100k users).
  weir: its native window aggregates; Flink: a TUMBLE window TVF.
- sql-window: the same window as one Flink SQL query (a TUMBLE window TVF)
  on both systems; weir plans it onto its window stage. The DDL differs
  in one place: weir reads `ts`, ms since the epoch, as a TIMESTAMP(3)
  column, where Flink's json format needs a computed column
  (`TO_TIMESTAMP_LTZ(ts, 3)`).
- sql-join: an interval join of the transactions with themselves, one
  Flink SQL query on both systems: each transaction with the same user's
  transactions from 0 to 1 s after it (every row joins at least itself).
  weir plans it onto its interval join stage; the DDL differs as for
  sql-window.
- sql-group: an aggregation without a window, one Flink SQL query on both
  systems: count and sum of amount per user (100k users), an updating
  result (a changelog into a blackhole). Flink with its default settings
  (every record updates its user's row).
- sql-group-mb: the same, Flink with mini-batch aggregation on
  (`table.exec.mini-batch.*`: 1 s, 1000 rows), which updates each key once
  per batch, as weir does.
- sql-group-retract: an aggregation of an aggregation's changelog, one
  Flink SQL query on both systems: per count of transactions, how many
  users have it and the least and greatest of their totals (each user's
  old row taken back as its count grows: MIN and MAX keep every total
  with its count). Flink with mini-batch on, as for sql-group-mb.
- sql-over: an OVER aggregation, one Flink SQL query on both systems:
  each transaction with the sum and count of its user's last ten
  (`ROWS BETWEEN 9 PRECEDING AND CURRENT ROW`, 100k users). weir plans it
  onto its over stage; the DDL differs as for sql-window.
- sql-topn: a Top-N, one Flink SQL query on both systems: each user's
  three largest amounts with their place (`ROW_NUMBER() OVER (PARTITION
  BY user ORDER BY amount DESC) … WHERE rn <= 3`, 100k users), an
  updating result into a blackhole. Flink's `AppendOnlyTopNFunction`
  updates per record, weir's rank stage per batch (the same final table).
- sql-topn-retract: a Top-N of an aggregation's changelog, one Flink SQL
  query on both systems: each merchant's three users with the largest
  total (`ROW_NUMBER() OVER (PARTITION BY merchant ORDER BY total DESC)`
  over `SUM(amount) … GROUP BY merchant, user`): each user's old row is
  taken back as its total changes, so every row of a merchant is kept
  (Flink's `RetractableTopNFunction`, weir's rank stage with a sign).
  Flink with mini-batch on, as for sql-group-mb.
- sql-window-topn: a Window Top-N, one Flink SQL query on both systems:
  per 10-second tumbling window, the three users with the largest total,
  emitted when the window closes (Flink's `WindowRank`; weir's window
  stage, then its rank stage at the watermark).
- python: the stateless job with the logic in Python. weir: the Python SDK
  over columns (tests/operators/map-filter-py); Flink: Python scalar UDFs
  for the filter and the map.
- python-batch: the same with the logic called once per batch. weir: a
  batch function over one list per field (`@weir.map_batch`,
  tests/operators/map-filter-py-batch); Flink: vectorized (pandas) UDFs,
  its own batch form.

Times and CPU are net of start-up: each system first runs the job on a
one-line file, and that run's time and CPU are subtracted. CPU-seconds are
the whole machine's (/proc/stat, the machine otherwise idle), so they
include Flink's JVM and its Python workers; they are given per million
records. With `--repeat N` each job runs N times on each system,
alternating weir and Flink, and the table gives every run's rate and the
median ratio (this machine's noise moves either system by up to 2x
between runs of the same job). Prints a Markdown table for
BENCHMARKS.md.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = Path.home() / ".cache" / "weir" / "pyflink"
FLINK_VERSION = "2.3.0"
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/weir/target"))
WEIR = Path(os.environ.get("WEIR_BIN", TARGET / "release" / "weir"))


def cpu_seconds():
    """All CPUs' busy time so far, s (user + nice + system + irq + softirq)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:8]]
    user, nice, system, _idle, _iowait, irq, softirq = fields
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def measured(cmd, **kw):
    """Run `cmd`; (wall s, machine CPU s)."""
    c0, t0 = cpu_seconds(), time.monotonic()
    subprocess.run(cmd, check=True, **kw)
    return time.monotonic() - t0, cpu_seconds() - c0


def ensure_pyflink():
    py = VENV / "bin" / "python"
    ok = py.exists() and subprocess.run(
        [py, "-c", f"import pyflink.version as v; assert v.__version__ == '{FLINK_VERSION}'"],
        capture_output=True).returncode == 0
    if not ok:
        if shutil.which("java") is None:
            sys.exit("compare.py: Flink needs Java 11 or newer (Debian: apt-get install openjdk-17-jre-headless)")
        print(f"installing apache-flink=={FLINK_VERSION} into {VENV} (once)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", f"apache-flink=={FLINK_VERSION}"], check=True)
    return py


def generate(path, rows):
    job = path.with_suffix(".gen.toml")
    job.write_text(
        f'name = "flink-compare-gen"\n[source]\ntype = "datagen"\nschema = "transactions"\n'
        f'rows = {rows}\nkeys = 100000\nseed = 1\n[sink]\ntype = "file"\npath = "{path}"\n')
    subprocess.run([WEIR, "run", "-q", job], check=True, capture_output=True)


WEIR_JOBS = {
    "stateless": """[[operators]]
name = "map-filter"
component = "{columns}"
[sink]
type = "discard"
""",
    "window": """[event_time]
field = "ts"
[key_by]
field = "user"
[window]
type = "tumbling"
size = "10s"
aggregates = [{{ fn = "count" }}, {{ fn = "sum", field = "amount" }}]
[sink]
type = "discard"
[late_output]
type = "discard"
""",
    "python": """[[operators]]
name = "map-filter"
component = "{python}"
[sink]
type = "discard"
""",
    "python-batch": """[[operators]]
name = "map-filter"
component = "{python_batch}"
[sink]
type = "discard"
""",
}


SQL_SCRIPT = """CREATE TABLE src (ts BIGINT, `user` STRING, amount DOUBLE, merchant STRING)
    WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'json');
CREATE TABLE snk (`user` STRING, cents BIGINT, merchant STRING, ts BIGINT)
    WITH ('connector' = 'blackhole');
INSERT INTO snk SELECT `user`, CAST(ROUND(amount * 100, 0) AS BIGINT), merchant, ts
    FROM src WHERE amount >= 50;
"""


SQL_WINDOW_SCRIPT = """CREATE TABLE src (ts TIMESTAMP(3), `user` STRING, amount DOUBLE, merchant STRING,
    WATERMARK FOR ts AS ts)
    WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'json');
CREATE TABLE snk (`user` STRING, ws TIMESTAMP(3), we TIMESTAMP(3), n BIGINT, total DOUBLE)
    WITH ('connector' = 'blackhole');
INSERT INTO snk SELECT `user`, window_start, window_end, COUNT(*), SUM(amount)
    FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '10' SECOND))
    GROUP BY `user`, window_start, window_end;
"""


SQL_JOIN_SCRIPT = """CREATE TABLE src (ts TIMESTAMP(3), `user` STRING, amount DOUBLE, merchant STRING,
    WATERMARK FOR ts AS ts)
    WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'json');
CREATE TABLE snk (`user` STRING, a DOUBLE, b DOUBLE, ts TIMESTAMP(3))
    WITH ('connector' = 'blackhole');
INSERT INTO snk SELECT x.`user`, x.amount, y.amount, y.ts FROM src x, src y
    WHERE x.`user` = y.`user` AND y.ts BETWEEN x.ts AND x.ts + INTERVAL '1' SECOND;
"""


SQL_GROUP_SCRIPT = """CREATE TABLE src (ts BIGINT, `user` STRING, amount DOUBLE, merchant STRING)
    WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'json');
CREATE TABLE snk (`user` STRING, n BIGINT, total DOUBLE)
    WITH ('connector' = 'blackhole');
INSERT INTO snk SELECT `user`, COUNT(*), SUM(amount) FROM src GROUP BY `user`;
"""


SQL_GROUP_RETRACT_QUERY = """INSERT INTO snk SELECT cnt, COUNT(*), MIN(total), MAX(total) FROM (
    SELECT `user`, COUNT(*) AS cnt, SUM(amount) AS total FROM src GROUP BY `user`
) GROUP BY cnt"""

SQL_GROUP_RETRACT_SCRIPT = """CREATE TABLE src (ts BIGINT, `user` STRING, amount DOUBLE, merchant STRING)
    WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'json');
CREATE TABLE snk (cnt BIGINT, users BIGINT, least DOUBLE, most DOUBLE)
    WITH ('connector' = 'blackhole');
""" + SQL_GROUP_RETRACT_QUERY.replace("{", "{{").replace("}", "}}") + ";\n"


TOPN_RETRACT_QUERY = """INSERT INTO snk SELECT merchant, `user`, total, rn FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY merchant ORDER BY total DESC) AS rn
    FROM (SELECT merchant, `user`, SUM(amount) AS total FROM src GROUP BY merchant, `user`)
) WHERE rn <= 3"""

SQL_TOPN_RETRACT_SCRIPT = """CREATE TABLE src (ts BIGINT, `user` STRING, amount DOUBLE, merchant STRING)
    WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'json');
CREATE TABLE snk (merchant STRING, `user` STRING, total DOUBLE, rn BIGINT)
    WITH ('connector' = 'blackhole');
""" + TOPN_RETRACT_QUERY.replace("{", "{{").replace("}", "}}") + ";\n"


SQL_OVER_SCRIPT = """CREATE TABLE src (ts TIMESTAMP(3), `user` STRING, amount DOUBLE, merchant STRING,
    WATERMARK FOR ts AS ts)
    WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'json');
CREATE TABLE snk (`user` STRING, amount DOUBLE, last10 DOUBLE, n BIGINT)
    WITH ('connector' = 'blackhole');
INSERT INTO snk SELECT `user`, amount, SUM(amount) OVER w, COUNT(*) OVER w FROM src
    WINDOW w AS (PARTITION BY `user` ORDER BY ts ROWS BETWEEN 9 PRECEDING AND CURRENT ROW);
"""


SQL_TOPN_SCRIPT = """CREATE TABLE src (ts BIGINT, `user` STRING, amount DOUBLE, merchant STRING)
    WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'json');
CREATE TABLE snk (`user` STRING, amount DOUBLE, rn BIGINT)
    WITH ('connector' = 'blackhole');
INSERT INTO snk SELECT `user`, amount, rn FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY `user` ORDER BY amount DESC) AS rn FROM src
) WHERE rn <= 3;
"""


SQL_WINDOW_TOPN_SCRIPT = """CREATE TABLE src (ts TIMESTAMP(3), `user` STRING, amount DOUBLE, merchant STRING,
    WATERMARK FOR ts AS ts)
    WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'json');
CREATE TABLE snk (ws TIMESTAMP(3), we TIMESTAMP(3), `user` STRING, total DOUBLE, rn BIGINT)
    WITH ('connector' = 'blackhole');
INSERT INTO snk SELECT * FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY total DESC) AS rn
    FROM (SELECT window_start, window_end, `user`, SUM(amount) AS total
          FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '10' SECOND))
          GROUP BY window_start, window_end, `user`)
) WHERE rn <= 3;
"""


def run_weir(kind, input_path, work, components):
    if kind in ("sql", "sql-window", "sql-join", "sql-group", "sql-group-mb", "sql-group-retract",
                "sql-over", "sql-topn", "sql-topn-retract", "sql-window-topn"):
        script = work / f"weir-{kind}-{input_path.stem}.sql"
        text = {"sql": SQL_SCRIPT, "sql-window": SQL_WINDOW_SCRIPT, "sql-join": SQL_JOIN_SCRIPT,
                "sql-group": SQL_GROUP_SCRIPT, "sql-group-mb": SQL_GROUP_SCRIPT,
                "sql-group-retract": SQL_GROUP_RETRACT_SCRIPT,
                "sql-over": SQL_OVER_SCRIPT, "sql-topn": SQL_TOPN_SCRIPT,
                "sql-topn-retract": SQL_TOPN_RETRACT_SCRIPT,
                "sql-window-topn": SQL_WINDOW_TOPN_SCRIPT}[kind]
        script.write_text(text.format(path=input_path))
        return measured([WEIR, "sql", "-q", script], capture_output=True)
    job = work / f"weir-{kind}-{input_path.stem}.toml"
    job.write_text(f'name = "cmp-{kind}"\n[source]\ntype = "file"\npath = "{input_path}"\n'
                   + WEIR_JOBS[kind].format(**components))
    return measured([WEIR, "run", "-q", job], capture_output=True)


FLINK_JOB = r'''
import sys, time
from pyflink.table import EnvironmentSettings, TableEnvironment, DataTypes
from pyflink.table.udf import udf

kind, path = sys.argv[1], sys.argv[2]
env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
conf = env.get_config()
conf.set("parallelism.default", "1")
conf.set("table.exec.resource.default-parallelism", "1")
windowed = kind in ("window", "sql-window", "sql-join", "sql-over", "sql-window-topn")
time_attr = ", rt AS TO_TIMESTAMP_LTZ(ts, 3), WATERMARK FOR rt AS rt" if windowed else ""
env.execute_sql(f"""CREATE TABLE src (ts BIGINT, `user` STRING, amount DOUBLE, merchant STRING{time_attr})
    WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'json')""")
if kind in ("sql-group", "sql-group-mb"):
    if kind == "sql-group-mb":
        conf.set("table.exec.mini-batch.enabled", "true")
        conf.set("table.exec.mini-batch.allow-latency", "1 s")
        conf.set("table.exec.mini-batch.size", "1000")
    env.execute_sql("""CREATE TABLE snk (`user` STRING, n BIGINT, total DOUBLE)
        WITH ('connector' = 'blackhole')""")
    query = "INSERT INTO snk SELECT `user`, COUNT(*), SUM(amount) FROM src GROUP BY `user`"
elif kind == "sql-group-retract":
    conf.set("table.exec.mini-batch.enabled", "true")
    conf.set("table.exec.mini-batch.allow-latency", "1 s")
    conf.set("table.exec.mini-batch.size", "1000")
    env.execute_sql("""CREATE TABLE snk (cnt BIGINT, users BIGINT, least DOUBLE, most DOUBLE)
        WITH ('connector' = 'blackhole')""")
    query = """QUERY"""
elif kind == "sql-topn":
    env.execute_sql("""CREATE TABLE snk (`user` STRING, amount DOUBLE, rn BIGINT)
        WITH ('connector' = 'blackhole')""")
    query = """INSERT INTO snk SELECT `user`, amount, rn FROM (
        SELECT *, ROW_NUMBER() OVER (PARTITION BY `user` ORDER BY amount DESC) AS rn FROM src
    ) WHERE rn <= 3"""
elif kind == "sql-topn-retract":
    conf.set("table.exec.mini-batch.enabled", "true")
    conf.set("table.exec.mini-batch.allow-latency", "1 s")
    conf.set("table.exec.mini-batch.size", "1000")
    env.execute_sql("""CREATE TABLE snk (merchant STRING, `user` STRING, total DOUBLE, rn BIGINT)
        WITH ('connector' = 'blackhole')""")
    query = """RANKAGG"""
elif kind == "sql-window-topn":
    env.execute_sql("""CREATE TABLE snk (ws TIMESTAMP(3), we TIMESTAMP(3), `user` STRING, total DOUBLE, rn BIGINT)
        WITH ('connector' = 'blackhole')""")
    query = """INSERT INTO snk SELECT * FROM (
        SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY total DESC) AS rn
        FROM (SELECT window_start, window_end, `user`, SUM(amount) AS total
              FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(rt), INTERVAL '10' SECOND))
              GROUP BY window_start, window_end, `user`)
    ) WHERE rn <= 3"""
elif kind == "sql-over":
    env.execute_sql("""CREATE TABLE snk (`user` STRING, amount DOUBLE, last10 DOUBLE, n BIGINT)
        WITH ('connector' = 'blackhole')""")
    query = """INSERT INTO snk SELECT `user`, amount, SUM(amount) OVER w, COUNT(*) OVER w FROM src
        WINDOW w AS (PARTITION BY `user` ORDER BY rt ROWS BETWEEN 9 PRECEDING AND CURRENT ROW)"""
elif kind == "sql-join":
    env.execute_sql("""CREATE TABLE snk (`user` STRING, a DOUBLE, b DOUBLE, ts TIMESTAMP(3))
        WITH ('connector' = 'blackhole')""")
    query = """INSERT INTO snk SELECT x.`user`, x.amount, y.amount, y.rt FROM src x, src y
        WHERE x.`user` = y.`user` AND y.rt BETWEEN x.rt AND x.rt + INTERVAL '1' SECOND"""
elif windowed:
    env.execute_sql("""CREATE TABLE snk (`user` STRING, ws TIMESTAMP(3), we TIMESTAMP(3), n BIGINT, total DOUBLE)
        WITH ('connector' = 'blackhole')""")
    query = """INSERT INTO snk SELECT `user`, window_start, window_end, COUNT(*), SUM(amount)
        FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(rt), INTERVAL '10' SECOND))
        GROUP BY `user`, window_start, window_end"""
else:
    env.execute_sql("""CREATE TABLE snk (`user` STRING, cents BIGINT, merchant STRING, ts BIGINT)
        WITH ('connector' = 'blackhole')""")
    if kind == "python":
        @udf(result_type=DataTypes.BOOLEAN())
        def keep(amount):
            return amount is not None and amount >= 50.0

        @udf(result_type=DataTypes.BIGINT())
        def cents(amount):
            x = amount * 100.0
            r = float(int(x))
            if abs(x - r) >= 0.5:
                r += 1.0 if x > 0 else -1.0
            return int(r)

        env.create_temporary_function("keep", keep)
        env.create_temporary_function("cents", cents)
        query = "INSERT INTO snk SELECT `user`, cents(amount), merchant, ts FROM src WHERE keep(amount)"
    elif kind == "python-batch":
        import numpy as np

        @udf(result_type=DataTypes.BOOLEAN(), func_type="pandas")
        def keep(amount):
            return amount >= 50.0

        @udf(result_type=DataTypes.BIGINT(), func_type="pandas")
        def cents(amount):
            # half away from zero, as the per-row UDF and weir's operators
            x = amount * 100.0
            return (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype("int64")

        env.create_temporary_function("keep", keep)
        env.create_temporary_function("cents", cents)
        query = "INSERT INTO snk SELECT `user`, cents(amount), merchant, ts FROM src WHERE keep(amount)"
    else:  # stateless, sql: the query of SQL_SCRIPT
        query = """INSERT INTO snk SELECT `user`, CAST(ROUND(amount * 100, 0) AS BIGINT), merchant, ts
            FROM src WHERE amount >= 50"""
env.execute_sql(query).wait()
'''


def run_flink(py, kind, input_path, work):
    script = work / "flink_job.py"
    script.write_text(FLINK_JOB.replace("QUERY", SQL_GROUP_RETRACT_QUERY)
                      .replace("RANKAGG", TOPN_RETRACT_QUERY))
    return measured([py, script, kind, input_path], capture_output=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=5_000_000)
    ap.add_argument("--only", default="stateless,sql,window,sql-window,sql-join,sql-group,sql-group-mb,sql-group-retract,sql-over,sql-topn,sql-topn-retract,sql-window-topn,python,python-batch")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs of each job on each system, alternating; the ratio is the median")
    args = ap.parse_args()
    if not WEIR.exists():
        sys.exit(f"compare.py: no weir binary at {WEIR}; run `cargo build --release -p weir` first")
    py = ensure_pyflink()
    os.chdir(ROOT)
    built = subprocess.run([WEIR, "build", "tests/operators/map-filter-columns"],
                           check=True, capture_output=True, text=True).stdout.split()[0]
    components = {"columns": Path(built).resolve(), "python": ROOT / "tests/operators/map-filter-py",
                  "python_batch": ROOT / "tests/operators/map-filter-py-batch"}
    for op in ("python", "python_batch"):
        subprocess.run([WEIR, "build", components[op]], check=True, capture_output=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        big, tiny = work / "transactions.jsonl", work / "one.jsonl"
        generate(big, args.records)
        with open(big) as f:
            tiny.write_text(f.readline())
        print(f"| job ({args.records:,} transactions, one JSON-lines file, parallelism 1) | weir | weir CPU-s / M rec | Flink {FLINK_VERSION} | Flink CPU-s / M rec | weir ÷ Flink |")
        print("|---|---|---|---|---|---|")
        for kind in args.only.split(","):
            runs = []  # (weir rate, weir CPU, Flink rate, Flink CPU) per round
            for _ in range(max(args.repeat, 1)):
                rates, cpus = [], []
                for run in (lambda p: run_weir(kind, p, work, components),
                            lambda p: run_flink(py, kind, p, work)):
                    w0, c0 = run(tiny)
                    wall, cpu = run(big)
                    rates.append(args.records / max(wall - w0, 1e-9))
                    cpus.append(max(cpu - c0, 0.0) / (args.records / 1e6))
                runs.append((rates[0] / 1e6, cpus[0], rates[1] / 1e6, cpus[1]))
            col = lambda i, fmt: " / ".join(fmt.format(r[i]) for r in runs)
            ratios = [r[0] / r[2] for r in runs]
            median = statistics.median(ratios)
            each = f" (median of {', '.join(f'{x:.2f}×' for x in ratios)})" if len(runs) > 1 else ""
            print(f"| {kind} | {col(0, '{:.3f}')} M rec/s | {col(1, '{:.2f}')} | {col(2, '{:.3f}')} M rec/s | "
                  f"{col(3, '{:.2f}')} | **{median:.2f}×**{each} |", flush=True)


if __name__ == "__main__":
    main()
