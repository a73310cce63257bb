//! A PostgreSQL table as a sink: rows upserted by the table's primary key
//! (inserted, when it has none), many rows per statement, exactly-once with
//! checkpoints.
//!
//! Rows arrive as JSON objects (the sink's input rows, keys = column
//! names). PostgreSQL itself turns a batch of them into the table's types:
//! one statement per batch takes the whole batch as one JSON array,
//! `json_populate_recordset(NULL::table, $1)`, so a value is converted by
//! the server's own input functions (`'2024-01-01 00:00:10.000'` into a
//! `timestamp`, `12.50` into a `numeric(10,2)`), exactly as `INSERT`
//! would. With a primary key the statement is an upsert (`ON CONFLICT (pk)
//! DO UPDATE`) of the batch's last row per key. The rows of an updating
//! query carry their change in a field `_op`: the batch's last change per
//! key is applied, a `-U` or `-D` as a delete by the key, in the same
//! statement.
//!
//! ## Exactly-once
//!
//! In a job with checkpoints, the rows of epoch `e` (written before barrier
//! `e`) go to a part file in the job's checkpoint directory
//! (`postgres-<output>/part-<e>`, charged to the job's disk budget). At
//! barrier `e` the part is fsynced (pre-commit); once checkpoint `e` is
//! complete it is written to PostgreSQL in **one transaction** that also
//! moves this output's row in `weir_sink_progress` (job, sink, epoch) to
//! `e`, and only if it held an older epoch. When it already holds `e` or
//! later, the epoch was written before (a crash after the commit, before
//! the part was deleted) and the transaction is rolled back. So:
//! - a crash before the checkpoint completes replays the epoch from the
//!   previous checkpoint, and the part (newer than that checkpoint) is
//!   deleted at restart;
//! - a crash after it completes, before the commit, publishes the part at
//!   restart;
//! - a crash after the commit skips the part at restart.
//!
//! Why not idempotent upserts alone: a table without a primary key has
//! nothing to make a replay idempotent, and a replayed delete (retraction)
//! can undo a later upsert. Why not two-phase commit (`PREPARE
//! TRANSACTION`, Flink's XA sink): it needs `max_prepared_transactions >
//! 0`, which most managed servers leave at 0, and a dead job leaves its
//! prepared transactions holding locks.
//!
//! A fresh start (no checkpoint to resume) forgets this output's progress
//! row and leftover parts; it does not empty the table (neither does
//! Flink's JDBC sink). Without checkpoints rows are written as batches fill,
//! each batch in its own transaction.

use super::ConnectorError;
use crate::budget::Budgets;
use crate::job::PostgresSinkSpec;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What part files are called in a budget refusal.
const WHAT: &str = "PostgreSQL sink parts";

/// The table that holds each output's last written epoch.
const PROGRESS: &str = "weir_sink_progress";

/// An open PostgreSQL sink.
pub struct PostgresSink {
    spec: PostgresSinkSpec,
    /// `postgres host:port/db table` (no password), for errors.
    name: String,
    /// The job and the output's key in a checkpoint: this output's
    /// progress row.
    job: String,
    output: String,
    /// Connected at the first write to the server.
    client: Option<postgres::Client>,
    /// The batch statement, made for the spec once.
    statement: String,
    mode: Mode,
    disk: Arc<Budgets>,
}

enum Mode {
    /// No checkpoints: rows go out as batches fill.
    Direct { rows: Vec<String> },
    /// Checkpoints: a part file per epoch, published after its checkpoint.
    Staged {
        dir: PathBuf,
        open: BTreeMap<u64, BufWriter<File>>,
        /// Pre-committed parts not yet published: epoch → bytes.
        committed: BTreeMap<u64, u64>,
    },
}

/// How the sink starts (see `super::SinkStart`).
pub enum Start<'a> {
    /// No checkpoints.
    Direct,
    /// Checkpoints, fresh: parts and progress are forgotten.
    Fresh(&'a Path),
    /// Resuming from checkpoint `epoch`: parts up to it are published,
    /// later ones deleted.
    Resume(&'a Path, u64),
}

/// Quote an identifier (`name` or `schema.name`) for PostgreSQL.
fn ident(name: &str) -> String {
    name.split('.')
        .map(|p| format!("\"{}\"", p.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(".")
}

/// The statement that writes one batch (a JSON array of objects, `$1`).
pub fn batch_statement(spec: &PostgresSinkSpec) -> String {
    let table = ident(&spec.table);
    let cols: Vec<String> = spec.columns.iter().map(|c| ident(c)).collect();
    let cols = cols.join(", ");
    let rows = format!("json_populate_recordset(NULL::{table}, $1::text::json)");
    if spec.primary_key.is_empty() {
        return format!("INSERT INTO {table} ({cols}) SELECT {cols} FROM {rows}");
    }
    let pk: Vec<String> = spec.primary_key.iter().map(|c| ident(c)).collect();
    let pk = pk.join(", ");
    let set: Vec<String> = spec
        .columns
        .iter()
        .filter(|c| !spec.primary_key.contains(c))
        .map(|c| format!("{0} = EXCLUDED.{0}", ident(c)))
        .collect();
    let action = if set.is_empty() {
        "DO NOTHING".to_string()
    } else {
        format!("DO UPDATE SET {}", set.join(", "))
    };
    if spec.changelog {
        return changelog_statement(spec, &table, &cols, &pk, &action);
    }
    // One statement may not update a row twice: the batch's last row per key.
    format!(
        "INSERT INTO {table} ({cols}) SELECT {cols} FROM \
         (SELECT DISTINCT ON ({pk}) {cols} FROM {rows} WITH ORDINALITY AS r \
         ORDER BY {pk}, ordinality DESC) AS s ON CONFLICT ({pk}) {action}"
    )
}

/// The statement that applies one batch of changes (rows with a field
/// `_op`: `+I`, `+U` upsert by the primary key, `-U`, `-D` delete by it;
/// a row without one is an insert): each key's last change in the batch,
/// the deletes and the upserts in one statement.
fn changelog_statement(
    spec: &PostgresSinkSpec,
    table: &str,
    cols: &str,
    pk: &str,
    action: &str,
) -> String {
    let matches: Vec<String> = spec
        .primary_key
        .iter()
        .map(|c| format!("t.{0} = l.{0}", ident(c)))
        .collect();
    format!(
        "WITH \"weir batch\" AS (SELECT r.*, left(coalesce(e.v->>'_op', '+I'), 1) = '-' AS \"weir retract\", \
         e.n AS \"weir n\" FROM json_array_elements($1::text::json) WITH ORDINALITY AS e(v, n), \
         LATERAL json_populate_record(NULL::{table}, e.v) AS r), \
         \"weir last\" AS (SELECT DISTINCT ON ({pk}) * FROM \"weir batch\" ORDER BY {pk}, \"weir n\" DESC), \
         \"weir gone\" AS (DELETE FROM {table} AS t USING \"weir last\" AS l WHERE {} AND l.\"weir retract\") \
         INSERT INTO {table} ({cols}) SELECT {cols} FROM \"weir last\" WHERE NOT \"weir retract\" \
         ON CONFLICT ({pk}) {action}",
        matches.join(" AND ")
    )
}

/// Where the server is, without the password: `host:port/db`.
pub fn address(url: &str) -> String {
    let url = url.strip_prefix("jdbc:").unwrap_or(url);
    match url.parse::<postgres::Config>() {
        Ok(c) => {
            let host = match c.get_hosts().first() {
                Some(postgres::config::Host::Tcp(h)) => h.clone(),
                #[cfg(unix)]
                Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
                None => "localhost".into(),
            };
            let port = c.get_ports().first().copied().unwrap_or(5432);
            format!("{host}:{port}/{}", c.get_dbname().unwrap_or("postgres"))
        }
        Err(_) => "(an unreadable URL)".into(),
    }
}

impl PostgresSink {
    /// Open the sink of `job`'s output `output` (its key in a checkpoint).
    pub fn open(
        job: &str,
        output: &str,
        spec: &PostgresSinkSpec,
        start: Start<'_>,
        disk: &Arc<Budgets>,
    ) -> Result<PostgresSink, ConnectorError> {
        let part_dir = |dir: &Path| dir.join(format!("postgres-{output}"));
        let mode = match start {
            Start::Direct => Mode::Direct { rows: Vec::new() },
            Start::Fresh(dir) | Start::Resume(dir, _) => Mode::Staged {
                dir: part_dir(dir),
                open: BTreeMap::new(),
                committed: BTreeMap::new(),
            },
        };
        let mut sink = PostgresSink {
            name: format!("postgres {} table {}", address(&spec.url), spec.table),
            spec: spec.clone(),
            job: job.to_string(),
            output: output.to_string(),
            client: None,
            statement: batch_statement(spec),
            mode,
            disk: disk.clone(),
        };
        sink.check_table()?;
        match start {
            Start::Direct => {}
            Start::Fresh(_) => {
                sink.remove_parts(|_| true)?;
                let (job, output) = (sink.job.clone(), sink.output.clone());
                let forgot = sink.client()?.execute(
                    &format!("DELETE FROM {PROGRESS} WHERE job = $1 AND sink = $2"),
                    &[&job, &output],
                );
                forgot
                    .map_err(|e| sink.pg_error("forgetting the progress of an earlier run", &e))?;
            }
            Start::Resume(_, epoch) => {
                sink.remove_parts(|e| e > epoch)?;
                for (e, _) in sink.parts()? {
                    sink.publish_part(e)?;
                }
            }
        }
        Ok(sink)
    }

    fn error(&self, action: &str, e: impl std::fmt::Display) -> ConnectorError {
        ConnectorError::Postgres {
            sink: self.name.clone(),
            action: action.to_string(),
            message: e.to_string(),
        }
    }

    fn pg_error(&self, action: &str, e: &postgres::Error) -> ConnectorError {
        self.error(action, describe(e))
    }

    fn io_error(&self, what: &str, e: std::io::Error) -> ConnectorError {
        ConnectorError::Write {
            sink: self.name.clone(),
            message: format!("{what}: {e}"),
        }
    }

    /// The connection, made (and the progress table created) the first
    /// time.
    fn client(&mut self) -> Result<&mut postgres::Client, ConnectorError> {
        if self.client.is_none() {
            let url = self
                .spec
                .url
                .strip_prefix("jdbc:")
                .unwrap_or(&self.spec.url);
            let mut config = url
                .parse::<postgres::Config>()
                .map_err(|e| self.error("reading the URL", e))?;
            if let Some(u) = &self.spec.user {
                config.user(u);
            }
            if let Some(p) = &self.spec.password {
                config.password(p);
            }
            let mut client = config
                .connect(postgres::NoTls)
                .map_err(|e| self.pg_error("connecting", &e))?;
            let create = format!(
                "CREATE TABLE IF NOT EXISTS {PROGRESS} (job text NOT NULL, sink text NOT NULL, \
                 epoch bigint NOT NULL, PRIMARY KEY (job, sink))"
            );
            if let Err(e) = client.batch_execute(&create) {
                // Two jobs creating it at once: one wins, the other sees it.
                let exists = client
                    .query_opt("SELECT to_regclass($1)::text", &[&PROGRESS])
                    .ok()
                    .flatten()
                    .and_then(|r| r.get::<_, Option<String>>(0))
                    .is_some();
                if !exists {
                    return Err(self.pg_error(&format!("creating table {PROGRESS}"), &e));
                }
            }
            self.client = Some(client);
        }
        Ok(self.client.as_mut().expect("connected above"))
    }

    /// The table exists and has every column written, or the job does not
    /// start.
    fn check_table(&mut self) -> Result<(), ConnectorError> {
        let table = ident(&self.spec.table);
        let action = "checking the table";
        let rows = self
            .client()?
            .query(
                "SELECT attname::text FROM pg_attribute WHERE attrelid = to_regclass($1) \
                 AND attnum > 0 AND NOT attisdropped",
                &[&table],
            )
            .map_err(|e| self.pg_error(action, &e))?;
        let have: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        if have.is_empty() {
            return Err(self.error(
                action,
                format!("there is no table {table}: the sink writes to an existing table, create it first"),
            ));
        }
        let missing: Vec<&str> = (self.spec.columns.iter())
            .filter(|c| !have.contains(c))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(self.error(
                action,
                format!(
                    "table {table} has no column {} (it has {})",
                    missing.join(", "),
                    have.join(", ")
                ),
            ));
        }
        Ok(())
    }

    /// Part files on disk, by epoch.
    fn parts(&self) -> Result<BTreeMap<u64, PathBuf>, ConnectorError> {
        let Mode::Staged { dir, .. } = &self.mode else {
            return Ok(BTreeMap::new());
        };
        let mut out = BTreeMap::new();
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(self.io_error(&format!("cannot list {}", dir.display()), e)),
        };
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if let Some(epoch) = file.strip_prefix("part-").and_then(|e| e.parse().ok()) {
                out.insert(epoch, entry.path());
            }
        }
        Ok(out)
    }

    fn remove_parts(&self, which: impl Fn(u64) -> bool) -> Result<(), ConnectorError> {
        for (e, path) in self.parts()? {
            if which(e) {
                fs::remove_file(&path).map_err(|err| {
                    self.io_error(&format!("cannot delete {}", path.display()), err)
                })?;
            }
        }
        Ok(())
    }

    fn part_path(dir: &Path, epoch: u64) -> PathBuf {
        dir.join(format!("part-{epoch:012}"))
    }

    /// Write one row (a JSON object) as part of `epoch`.
    pub fn write(&mut self, epoch: u64, row: &[u8]) -> Result<(), ConnectorError> {
        let text = std::str::from_utf8(row).map_err(|e| ConnectorError::Write {
            sink: self.name.clone(),
            message: format!("a row is not UTF-8 text: {e}"),
        })?;
        match &mut self.mode {
            Mode::Direct { rows } => {
                rows.push(text.to_string());
                if rows.len() >= self.spec.batch_rows {
                    self.flush()?;
                }
                Ok(())
            }
            Mode::Staged { dir, open, .. } => {
                self.disk.disk.charge(WHAT, row.len() as u64 + 1)?;
                let out = match open.entry(epoch) {
                    std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                    std::collections::btree_map::Entry::Vacant(v) => {
                        fs::create_dir_all(&*dir).map_err(|e| ConnectorError::Write {
                            sink: self.name.clone(),
                            message: format!("cannot create {}: {e}", dir.display()),
                        })?;
                        let path = Self::part_path(dir, epoch);
                        let f = File::create(&path).map_err(|e| ConnectorError::Write {
                            sink: self.name.clone(),
                            message: format!("cannot create {}: {e}", path.display()),
                        })?;
                        v.insert(BufWriter::with_capacity(1 << 20, f))
                    }
                };
                out.write_all(row)
                    .and_then(|()| out.write_all(b"\n"))
                    .map_err(|e| ConnectorError::Write {
                        sink: self.name.clone(),
                        message: format!("cannot write the part of epoch {epoch}: {e}"),
                    })
            }
        }
    }

    /// Phase one of checkpoint `epoch`: its rows (and any earlier epoch's
    /// still open) are on disk, fsynced.
    pub fn pre_commit(&mut self, epoch: u64) -> Result<(), ConnectorError> {
        let Mode::Staged {
            open, committed, ..
        } = &mut self.mode
        else {
            return self.flush();
        };
        let later = open.split_off(&(epoch + 1));
        let due = std::mem::replace(open, later);
        for (e, out) in due {
            let f = out.into_inner().map_err(|e| e.into_error()).and_then(|f| {
                f.sync_all()?;
                Ok(f)
            });
            let f = f.map_err(|err| ConnectorError::Write {
                sink: self.name.clone(),
                message: format!("cannot make the part of epoch {e} durable: {err}"),
            })?;
            let bytes = f.metadata().map_or(0, |m| m.len());
            committed.insert(e, bytes);
        }
        Ok(())
    }

    /// Phase two: checkpoint `epoch` is complete; write its rows (and
    /// earlier ones') to PostgreSQL.
    pub fn publish(&mut self, epoch: u64) -> Result<(), ConnectorError> {
        let Mode::Staged { committed, .. } = &mut self.mode else {
            return Ok(());
        };
        let later = committed.split_off(&(epoch + 1));
        let due = std::mem::replace(committed, later);
        for (e, bytes) in due {
            self.publish_part(e)?;
            self.disk.disk.release(bytes);
        }
        Ok(())
    }

    /// Write part `epoch` in one transaction with the progress row, unless
    /// the progress row says it was written; then delete the part.
    fn publish_part(&mut self, epoch: u64) -> Result<(), ConnectorError> {
        let Mode::Staged { dir, .. } = &self.mode else {
            return Ok(());
        };
        let path = Self::part_path(dir, epoch);
        let file = File::open(&path)
            .map_err(|e| self.io_error(&format!("cannot read {}", path.display()), e))?;
        let (job, output, statement) = (
            self.job.clone(),
            self.output.clone(),
            self.statement.clone(),
        );
        let batch_rows = self.spec.batch_rows;
        let name = self.name.clone();
        let action = format!("writing the rows of epoch {epoch}");
        let fail = |e: &postgres::Error| ConnectorError::Postgres {
            sink: name.clone(),
            action: action.clone(),
            message: describe(e),
        };
        let client = self.client()?;
        let mut tx = client.transaction().map_err(|e| fail(&e))?;
        let moved = tx
            .execute(
                &format!(
                    "INSERT INTO {PROGRESS} (job, sink, epoch) VALUES ($1, $2, $3) \
                     ON CONFLICT (job, sink) DO UPDATE SET epoch = EXCLUDED.epoch \
                     WHERE {PROGRESS}.epoch < EXCLUDED.epoch"
                ),
                &[&job, &output, &(epoch as i64)],
            )
            .map_err(|e| fail(&e))?;
        if moved == 1 {
            let mut rows = Vec::with_capacity(batch_rows);
            for line in BufReader::new(file).lines() {
                let line = line.map_err(|e| read_error(&name, &path, e))?;
                rows.push(line);
                if rows.len() >= batch_rows {
                    write_batch(&mut tx, &statement, &mut rows).map_err(|e| fail(&e))?;
                }
            }
            write_batch(&mut tx, &statement, &mut rows).map_err(|e| fail(&e))?;
            tx.commit().map_err(|e| fail(&e))?;
        } else {
            tx.rollback().map_err(|e| fail(&e))?;
        }
        fs::remove_file(&path)
            .map_err(|e| self.io_error(&format!("cannot delete {}", path.display()), e))
    }

    /// Write the rows held (no checkpoints).
    pub fn flush(&mut self) -> Result<(), ConnectorError> {
        let Mode::Direct { rows } = &mut self.mode else {
            return Ok(());
        };
        if rows.is_empty() {
            return Ok(());
        }
        let mut rows = std::mem::take(rows);
        let statement = self.statement.clone();
        let name = self.name.clone();
        let fail = |e: postgres::Error| ConnectorError::Postgres {
            sink: name.clone(),
            action: "writing rows".into(),
            message: describe(&e),
        };
        let client = self.client()?;
        let mut tx = client.transaction().map_err(fail)?;
        write_batch(&mut tx, &statement, &mut rows).map_err(fail)?;
        tx.commit().map_err(fail)
    }
}

/// PostgreSQL's own words for an error: the server's message, detail
/// and hint, or the client's error and its cause.
fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut m = format!("{} ({})", db.message(), db.code().code());
        if let Some(d) = db.detail() {
            m.push_str(&format!("; {d}"));
        }
        if let Some(h) = db.hint() {
            m.push_str(&format!("; hint: {h}"));
        }
        if db.code() == &postgres::error::SqlState::UNDEFINED_TABLE {
            m.push_str("; the sink writes to an existing table: create it first");
        }
        return m;
    }
    let mut m = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        m.push_str(&format!(": {c}"));
        cause = c.source();
    }
    m
}

fn read_error(sink: &str, path: &Path, e: std::io::Error) -> ConnectorError {
    ConnectorError::Write {
        sink: sink.to_string(),
        message: format!("cannot read {}: {e}", path.display()),
    }
}

/// One statement for `rows` (JSON objects), which it empties.
fn write_batch(
    tx: &mut postgres::Transaction<'_>,
    statement: &str,
    rows: &mut Vec<String>,
) -> Result<(), postgres::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut array = String::with_capacity(rows.iter().map(|r| r.len() + 1).sum::<usize>() + 2);
    array.push('[');
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            array.push(',');
        }
        array.push_str(r);
    }
    array.push(']');
    rows.clear();
    tx.execute(statement, &[&array]).map(|_| ())
}

#[cfg(test)]
mod tests;
