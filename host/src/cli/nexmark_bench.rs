//! `weir bench --only nexmark`: the Nexmark queries of `examples/nexmark`
//! on weir and on Apache Flink 2.3, side by side in one run, on the same
//! events.
//!
//! weir's generator writes `--records` Nexmark events once, as three
//! JSON-lines files (person, auction, bid; `dateTime` as SQL text, which
//! both systems read as a `TIMESTAMP(3)`). Each query file's tables over
//! the generator are replaced by filesystem tables over those files — the
//! same DDL for both systems — and the script runs as it is: on weir by
//! `weir sql` (this binary), on Flink by PyFlink's `TableEnvironment` (a
//! MiniCluster, streaming mode) with nexmark-flink's settings (mini-batch
//! on: 2 s, 50,000 rows), at each `--parallelism`.
//!
//! Times and CPU are net of start-up: each system first runs the query on
//! one event of each table, and that run's time and CPU are subtracted.
//! CPU-seconds are the whole machine's (`/proc/stat`, the machine
//! otherwise idle), so Flink's include its JVM and Python driver. Rates
//! are events of the whole stream per second (Nexmark's measure), though
//! a query reads only the tables it names — on both systems alike.
//!
//! PyFlink (`apache-flink==2.3.0` from PyPI, with its jars) is installed
//! on first use into `~/.cache/weir/pyflink`, as `bench/flink/compare.py`
//! does; Flink needs Java 11 or newer.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use weir::connector::nexmark::{Table, write_row};

/// The benchmark's name in `--only`.
pub const NAME: &str = "nexmark";

const FLINK_VERSION: &str = "2.3.0";
const QUERIES: &str = "examples/nexmark";

/// Flink's side: runs a script's statements, waiting for the INSERT.
const FLINK_RUNNER: &str = r#"
import sys
from pyflink.table import EnvironmentSettings, TableEnvironment
script, parallelism = open(sys.argv[1]).read(), sys.argv[2]
env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
conf = env.get_config()
conf.set("parallelism.default", parallelism)
conf.set("table.exec.resource.default-parallelism", parallelism)
conf.set("table.local-time-zone", "UTC")
# nexmark-flink's own settings (its flink-conf.yaml).
conf.set("table.exec.mini-batch.enabled", "true")
conf.set("table.exec.mini-batch.allow-latency", "2 s")
conf.set("table.exec.mini-batch.size", "50000")
for statement in [s.strip() for s in script.split(";")]:
    if statement:
        result = env.execute_sql(statement)
        if statement.upper().startswith("INSERT"):
            result.wait()
"#;

/// One round of a query: (wall s, CPU s) on weir, then on Flink.
type Round = ((f64, f64), (f64, f64));

/// What to run.
#[derive(Debug)]
pub struct Options {
    /// Events of the Nexmark stream.
    pub events: u64,
    /// Parallelisms to run each query at.
    pub parallelism: Vec<usize>,
    /// Queries by name (`q0`, …); empty: every file in examples/nexmark.
    pub queries: Vec<String>,
    /// Runs of each query on each system, alternating; the ratio is the
    /// median.
    pub repeat: usize,
}

/// Run the benchmark and print its Markdown table.
pub fn run(options: &Options) -> anyhow::Result<()> {
    let dir = Path::new(QUERIES);
    if !dir.is_dir() {
        bail!(
            "the Nexmark queries are in {QUERIES}: run `weir bench --only nexmark` from the repository root"
        );
    }
    let queries = queries(dir, &options.queries)?;
    let python = ensure_pyflink()?;
    let weir = std::env::current_exe().context("this binary's path")?;
    let work = tempfile::tempdir()?;
    let (big, tiny) = (work.path().join("events"), work.path().join("one"));
    generate(&big, options.events)?;
    generate(&tiny, 50)?;
    let runner = work.path().join("flink_runner.py");
    std::fs::write(&runner, FLINK_RUNNER)?;
    println!(
        "| Nexmark ({} events) | parallelism | weir | weir CPU-s / M events | Flink {FLINK_VERSION} | Flink CPU-s / M events | weir ÷ Flink |",
        options.events
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, text) in &queries {
        for &p in &options.parallelism {
            let mut rounds = Vec::new();
            for _ in 0..options.repeat.max(1) {
                let script = |events: &Path, system: &str| -> anyhow::Result<PathBuf> {
                    let path = work.path().join(format!("{name}-{system}-{p}.sql"));
                    std::fs::write(&path, over_files(text, events))?;
                    Ok(path)
                };
                let on_weir = |events: &Path| -> anyhow::Result<(f64, f64)> {
                    let path = script(events, "weir")?;
                    measured(
                        Command::new(&weir)
                            .args(["sql", "-q", "--fresh", "--set"])
                            .arg(format!("parallelism={p}"))
                            .arg(&path)
                            .current_dir(work.path()),
                    )
                    .with_context(|| format!("weir on {name}"))
                };
                let on_flink = |events: &Path| -> anyhow::Result<(f64, f64)> {
                    let path = script(events, "flink")?;
                    measured(
                        Command::new(&python)
                            .arg(&runner)
                            .arg(&path)
                            .arg(p.to_string()),
                    )
                    .with_context(|| format!("Flink on {name}"))
                };
                let (w, f) = (net(&on_weir, &big, &tiny)?, net(&on_flink, &big, &tiny)?);
                rounds.push((w, f));
            }
            let millions = options.events as f64 / 1e6;
            let rate = |wall: f64| millions / wall.max(1e-9);
            let col =
                |f: &dyn Fn(&Round) -> String| rounds.iter().map(f).collect::<Vec<_>>().join(" / ");
            let mut ratios: Vec<f64> = rounds
                .iter()
                .map(|((w, _), (f, _))| rate(*w) / rate(*f))
                .collect();
            ratios.sort_by(f64::total_cmp);
            let median = ratios[ratios.len() / 2];
            println!(
                "| {name} | {p} | {} M events/s | {} | {} M events/s | {} | **{median:.2}×** |",
                col(&|((w, _), _)| format!("{:.3}", rate(*w))),
                col(&|((_, c), _)| format!("{:.2}", c / millions)),
                col(&|(_, (f, _))| format!("{:.3}", rate(*f))),
                col(&|(_, (_, c))| format!("{:.2}", c / millions)),
            );
        }
    }
    Ok(())
}

/// The query files to run: `wanted` by name, or all, by query number.
fn queries(dir: &Path, wanted: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "sql")
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            all.push((stem.to_string(), std::fs::read_to_string(&path)?));
        }
    }
    all.sort_by_key(|(name, _)| {
        name.trim_start_matches('q')
            .parse::<u32>()
            .unwrap_or(u32::MAX)
    });
    if let Some(unknown) = wanted.iter().find(|w| !all.iter().any(|(n, _)| n == *w)) {
        let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
        bail!(
            "no query `{unknown}` in {QUERIES} (there are: {})",
            names.join(", ")
        );
    }
    all.retain(|(n, _)| wanted.is_empty() || wanted.contains(n));
    Ok(all)
}

/// Write the first `events` Nexmark events as `dir/{person,auction,bid}.jsonl`.
fn generate(dir: &Path, events: u64) -> anyhow::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    for table in [Table::Person, Table::Auction, Table::Bid] {
        let file = std::fs::File::create(dir.join(format!("{}.jsonl", table_name(table))))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        let mut line = Vec::with_capacity(1024);
        for row in 0..table.rows_in(events) {
            line.clear();
            write_row(table, row, 0, 1_700_000_000_000, &mut line);
            line.push(b'\n');
            out.write_all(&line)?;
        }
        out.flush()?;
    }
    Ok(())
}

fn table_name(table: Table) -> &'static str {
    match table {
        Table::Person => "person",
        Table::Auction => "auction",
        Table::Bid => "bid",
    }
}

/// `text` (a query file) with comments dropped and its Nexmark tables
/// over the generator replaced by filesystem tables over `dir`'s files.
fn over_files(text: &str, dir: &Path) -> String {
    let text: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut out = String::new();
    for statement in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let table = [Table::Person, Table::Auction, Table::Bid]
            .into_iter()
            .find(|t| {
                let words: Vec<&str> = statement.split_whitespace().take(3).collect();
                words.len() == 3
                    && words[0].eq_ignore_ascii_case("CREATE")
                    && words[1].eq_ignore_ascii_case("TABLE")
                    && words[2].trim_end_matches('(') == table_name(*t)
            });
        match table {
            Some(t) => out += &file_table(t, dir, &processing_times(statement)),
            None => out += statement,
        }
        out += ";\n";
    }
    out
}

/// The processing-time columns a table's DDL declares (`p_time AS
/// PROCTIME()`, q12's): kept in the table over the file.
fn processing_times(statement: &str) -> Vec<String> {
    statement
        .lines()
        .map(|l| l.trim().trim_end_matches(','))
        .filter(|l| {
            l.to_ascii_uppercase()
                .replace(' ', "")
                .ends_with("ASPROCTIME()")
        })
        .map(|l| format!("  {l}"))
        .collect()
}

/// The DDL of Nexmark's `table` over its file in `dir`, with the
/// `computed` columns after its own.
fn file_table(table: Table, dir: &Path, computed: &[String]) -> String {
    let mut columns: Vec<String> = table
        .columns()
        .iter()
        .map(|(name, ty)| {
            let ty = match *ty {
                "int" => "BIGINT",
                "timestamp" => "TIMESTAMP(3)",
                _ => "STRING",
            };
            format!("  `{name}` {ty}")
        })
        .collect();
    columns.extend_from_slice(computed);
    let name = table_name(table);
    format!(
        "CREATE TABLE {name} (\n{},\n  WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND\n) \
         WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json')",
        columns.join(",\n"),
        dir.join(format!("{name}.jsonl")).display()
    )
}

/// (wall s, machine CPU s) of `run` on `big`, less its run on `tiny`.
fn net(
    run: &dyn Fn(&Path) -> anyhow::Result<(f64, f64)>,
    big: &Path,
    tiny: &Path,
) -> anyhow::Result<(f64, f64)> {
    let (w0, c0) = run(tiny)?;
    let (w, c) = run(big)?;
    Ok(((w - w0).max(1e-9), (c - c0).max(0.0)))
}

/// All CPUs' busy time so far, s (user + nice + system + irq + softirq).
fn cpu_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let fields: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .take(7)
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    let busy = fields
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4);
    Ok(busy.map(|(_, v)| v).sum::<f64>() / clock_ticks())
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`; 100 on Linux).
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Run `cmd` to its end; (wall s, machine CPU s). Its output is kept for
/// the error when it fails.
fn measured(cmd: &mut Command) -> anyhow::Result<(f64, f64)> {
    let (c0, t0) = (cpu_seconds()?, Instant::now());
    let out = cmd.output().with_context(|| format!("starting {cmd:?}"))?;
    let wall = t0.elapsed().as_secs_f64();
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(30).collect();
        bail!(
            "{cmd:?} failed ({}):\n{}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    Ok((wall, cpu_seconds()? - c0))
}

/// PyFlink in its own virtualenv under ~/.cache/weir; its Python.
fn ensure_pyflink() -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("HOME").context("HOME is not set")?;
    let venv = Path::new(&home).join(".cache/weir/pyflink");
    let python = venv.join("bin/python");
    let check = format!("import pyflink.version as v; assert v.__version__ == '{FLINK_VERSION}'");
    let ok = || {
        Command::new(&python)
            .args(["-c", &check])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if ok() {
        return Ok(python);
    }
    if Command::new("java").arg("-version").output().is_err() {
        bail!("Flink needs Java 11 or newer (Debian: apt-get install openjdk-17-jre-headless)");
    }
    eprintln!(
        "installing apache-flink=={FLINK_VERSION} into {} (once)",
        venv.display()
    );
    let status = Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(&venv)
        .status()?;
    if !status.success() {
        bail!("python3 -m venv {} failed", venv.display());
    }
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "-q",
            &format!("apache-flink=={FLINK_VERSION}"),
        ])
        .status()?;
    if !status.success() || !ok() {
        bail!(
            "installing apache-flink=={FLINK_VERSION} into {} failed",
            venv.display()
        );
    }
    Ok(python)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_reads_the_same_files_on_both_systems() {
        let text = "-- q2; a comment\nCREATE TABLE bid (\n  auction BIGINT\n) WITH ('connector' = 'datagen');\n\
                    CREATE TABLE out (a BIGINT) WITH ('connector' = 'blackhole');\n\
                    INSERT INTO out SELECT auction FROM bid;\n";
        let script = over_files(text, Path::new("/data"));
        assert!(
            !script.contains("datagen") && !script.contains("q2"),
            "{script}"
        );
        assert!(script.contains("'path' = '/data/bid.jsonl'"), "{script}");
        assert!(script.contains("`dateTime` TIMESTAMP(3)"), "{script}");
        assert!(script.contains("CREATE TABLE out (a BIGINT) WITH ('connector' = 'blackhole');"));
        assert!(!script.contains("PROCTIME"), "{script}");
        // A processing time declared in the table (q12) stays.
        let text = text.replace(
            "auction BIGINT\n",
            "auction BIGINT,\n  p_time AS PROCTIME()\n",
        );
        let script = over_files(&text, Path::new("/data"));
        assert!(
            script.contains("  p_time AS PROCTIME(),\n  WATERMARK"),
            "{script}"
        );
        assert!(
            script
                .trim_end()
                .ends_with("INSERT INTO out SELECT auction FROM bid;")
        );
    }
}
