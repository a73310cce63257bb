//! `weir sql` with no script: an interactive shell, like Flink's SQL
//! client in its tableau mode.
//!
//! Statements end with `;`. `CREATE TABLE` and `SET` are kept for the
//! session; a `SELECT` runs at once as a job of this process, its rows
//! printed as a table as they arrive (a window's rows when its watermark
//! passes; an updating query's changes, `+I`, `-U`, `+U`, `-D`, in a first
//! column `op`), until its input ends or Ctrl-C stops it; `INSERT INTO … SELECT
//! …` runs a job to its end. Relative paths in `WITH` options are read
//! from the current directory. Reads its statements from a pipe too.

use anyhow::Context;
use arrow_schema::{DataType, SchemaRef};
use std::io::{BufRead, IsTerminal, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use weir::checkpoint::recovery::RecoveryOptions;
use weir::runtime::{Metrics, StopSignal};
use weir::window::global::OP;

const HELP: &str = "\
weir SQL shell (Apache Flink's dialect). End each statement with `;`.
  CREATE TABLE … WITH (…);  SET 'key' = 'value';   kept for the session
  SELECT …;                 runs now; rows print as they arrive; Ctrl-C stops it
  INSERT INTO t SELECT …;   runs a job into table t, to its end
  HELP;  QUIT;  (or Ctrl-D)";

/// Run the shell over standard input.
pub fn shell() -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    if tty {
        eprintln!("{HELP}\n");
    }
    let mut session = Session::default();
    let mut buf = String::new();
    let mut lines = stdin.lock().lines();
    loop {
        if tty {
            eprint!(
                "{}",
                if buf.trim().is_empty() {
                    "weir> "
                } else {
                    "   -> "
                }
            );
            std::io::stderr().flush()?;
        }
        let Some(line) = lines.next() else { break };
        buf.push_str(&line.context("reading standard input")?);
        buf.push('\n');
        if !ends_statement(&buf) {
            continue;
        }
        let text = std::mem::take(&mut buf);
        let statement = text.trim().trim_end_matches(';').trim();
        let word = statement
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let done = match word.as_str() {
            "" => Ok(()),
            "QUIT" | "EXIT" => break,
            "HELP" => {
                println!("{HELP}");
                Ok(())
            }
            "CREATE" | "SET" => session.declare(statement),
            "SELECT" | "WITH" => session.select(statement),
            "INSERT" => session.insert(statement),
            _ => Err(anyhow::anyhow!(
                "`{word} …`: the shell runs CREATE TABLE, SET, SELECT and INSERT INTO (HELP; lists them)"
            )),
        };
        if let Err(e) = done {
            println!("[ERROR] {e:#}");
        }
    }
    if !buf.trim().is_empty() {
        println!(
            "[ERROR] the input ended inside a statement (no `;`): {}",
            buf.trim()
        );
    }
    Ok(())
}

/// What the session has declared.
#[derive(Default)]
struct Session {
    /// Its `CREATE TABLE`s and `SET`s, as a script.
    ddl: String,
    /// `SELECT`s run so far (names their output files).
    queries: u32,
}

impl Session {
    fn declare(&mut self, statement: &str) -> anyhow::Result<()> {
        let text = format!("{}{statement};\n", self.ddl);
        weir::sql::check_declarations(&text)?;
        self.ddl = text;
        println!("[INFO] Execute statement succeeded.");
        Ok(())
    }

    fn insert(&mut self, statement: &str) -> anyhow::Result<()> {
        let text = format!("{}{statement};\n", self.ddl);
        let spec = weir::sql::to_job(Path::new("(shell)"), &text)?;
        let summary = run(spec, false, || Ok(()))?;
        println!("[INFO] {summary}");
        Ok(())
    }

    fn select(&mut self, statement: &str) -> anyhow::Result<()> {
        self.queries += 1;
        let out = std::env::temp_dir().join(format!(
            "weir-shell-{}-{}.jsonl",
            std::process::id(),
            self.queries
        ));
        let (spec, schema) = weir::sql::select_job(&self.ddl, statement, &out)?;
        // An updating query's rows carry their change: shown first, as
        // Flink's client shows it (`op`: +I, -U, +U, -D).
        let changelog = spec
            .stages
            .iter()
            .any(|s| s.rank.is_some() || s.window.as_ref().is_some_and(|w| w.kind == "global"));
        let mut table = Table::new(schema, changelog);
        table.header();
        let mut tail = Tail::new(out.clone());
        let result = run(spec, true, || {
            for line in tail.lines()? {
                table.row(&line);
            }
            Ok(())
        });
        let _ = std::fs::remove_file(&out);
        table.footer();
        result.map(|_| ())
    }
}

/// Run `spec` in this process until it ends, or until Ctrl-C when
/// `interruptible`; `poll` is called every 100 ms and once at the end.
/// Returns the job's summary.
fn run(
    spec: weir::job::JobSpec,
    interruptible: bool,
    mut poll: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<String> {
    // Relative paths are the current directory's.
    let here = std::env::current_dir()?.join("(shell).sql");
    let loaded = weir::job::from_spec(spec, &here, &[])?;
    let recovery = RecoveryOptions {
        fresh: true,
        from_savepoint: None,
        allow_dropped_state: false,
    };
    let weir::control::start::Prepared { plan, mut ctx, .. } =
        weir::control::start::prepare(loaded, &recovery)?;
    let stop = Arc::new(StopSignal::default());
    ctx.stop = Some(stop.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let summary = rt.block_on(async {
        let metrics = Arc::new(Metrics::default());
        let mut job = tokio::task::spawn_blocking(move || weir::runtime::run(plan, metrics, ctx));
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                done = &mut job => break done.context("job thread")?.map_err(anyhow::Error::from),
                _ = tokio::signal::ctrl_c(), if interruptible => stop.stop("stopped with Ctrl-C"),
                _ = tick.tick() => poll()?,
            }
        }
    });
    rt.shutdown_background();
    poll()?;
    Ok(summary?.to_string())
}

/// The complete lines a file has gained since last read.
struct Tail {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl Tail {
    fn new(path: PathBuf) -> Self {
        Tail {
            path,
            offset: 0,
            partial: Vec::new(),
        }
    }

    fn lines(&mut self) -> anyhow::Result<Vec<String>> {
        let Ok(mut f) = std::fs::File::open(&self.path) else {
            return Ok(Vec::new());
        };
        f.seek(std::io::SeekFrom::Start(self.offset))?;
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)?;
        self.offset += bytes.len() as u64;
        self.partial.extend_from_slice(&bytes);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Ok(Vec::new());
        };
        let rest = self.partial.split_off(end + 1);
        let done = std::mem::replace(&mut self.partial, rest);
        Ok(String::from_utf8_lossy(&done)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(String::from)
            .collect())
    }
}

/// Rows printed as a table, as they come.
struct Table {
    columns: Vec<(String, usize)>,
    rows: u64,
}

impl Table {
    fn new(schema: SchemaRef, changelog: bool) -> Self {
        let mut columns: Vec<(String, usize)> = schema
            .fields()
            .iter()
            .map(|f| {
                let width = match f.data_type() {
                    DataType::Timestamp(..) => 23,
                    DataType::Int64 | DataType::Float64 => 20,
                    DataType::Int32 | DataType::Float32 => 11,
                    DataType::Boolean => 7,
                    _ => 20,
                };
                (f.name().clone(), width.max(f.name().chars().count()))
            })
            .collect();
        if changelog {
            columns.insert(0, (OP.into(), 2));
        }
        Table { columns, rows: 0 }
    }

    fn rule(&self) {
        let parts: Vec<String> = self
            .columns
            .iter()
            .map(|(_, w)| "-".repeat(w + 2))
            .collect();
        println!("+{}+", parts.join("+"));
    }

    fn header(&self) {
        self.rule();
        let names: Vec<String> = self
            .columns
            .iter()
            .map(|(n, w)| {
                let n = if n == OP { "op" } else { n };
                format!(" {n:>w$} ")
            })
            .collect();
        println!("|{}|", names.join("|"));
        self.rule();
    }

    fn row(&mut self, line: &str) {
        let value: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(_) => return,
        };
        let cells: Vec<String> = self
            .columns
            .iter()
            .map(|(n, w)| {
                let text = match value.get(n) {
                    None | Some(serde_json::Value::Null) => "<NULL>".to_string(),
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                };
                format!(" {text:>w$} ")
            })
            .collect();
        println!("|{}|", cells.join("|"));
        let _ = std::io::stdout().flush();
        self.rows += 1;
    }

    fn footer(&self) {
        self.rule();
        println!("Received a total of {} rows", self.rows);
    }
}

/// Whether `text` ends with a `;` that is not inside a string, a quoted
/// name or a comment.
fn ends_statement(text: &str) -> bool {
    let (mut quote, mut comment, mut last) = (None, false, None);
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if comment {
            comment = c != '\n';
        } else if let Some(q) = quote {
            if c == q {
                quote = None;
            }
        } else if c == '\'' || c == '`' || c == '"' {
            quote = Some(c);
            last = Some(c);
        } else if c == '-' && chars.get(i + 1) == Some(&'-') {
            comment = true;
        } else if !c.is_whitespace() {
            last = Some(c);
        }
        i += 1;
    }
    quote.is_none() && last == Some(';')
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_statement_ends_at_a_semicolon_outside_strings_and_comments() {
        use super::ends_statement as ends;
        assert!(ends("SELECT 1;\n"));
        assert!(ends("SELECT 1; -- done\n"));
        assert!(!ends("SELECT ';'\n"));
        assert!(!ends("SELECT 1 -- not yet;\n"));
        assert!(!ends("SELECT `a;\n"));
        assert!(ends("SELECT 'a;b' FROM t;"));
    }
}
