//! A job file whose query is SQL: `sql = """…"""` holds the script (its
//! tables and its `INSERT`), and the file's other keys set what a script
//! cannot — the job's limits, state backend, checkpoints, dead-letter
//! output — on top of the job the script makes.
//!
//! ```toml
//! name = "per-user"
//! sql = """
//! CREATE TABLE tx (ts TIMESTAMP(3), `user` STRING, amount DOUBLE,
//!   WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
//! WITH ('connector' = 'filesystem', 'path' = 'tx.jsonl', 'format' = 'json');
//! CREATE TABLE out_rows (`user` STRING, total DOUBLE)
//! WITH ('connector' = 'filesystem', 'path' = 'out.jsonl', 'format' = 'json');
//! INSERT INTO out_rows SELECT `user`, amount FROM tx WHERE amount > 100;
//! """
//! [limits]
//! memory = "128MiB"
//! [state]
//! backend = "rocksdb"
//! ```

use super::SqlError;
use crate::job::{JobSpec, LoadedJob};
use std::path::Path;

/// The keys a job file may set beside `sql` (the script declares the
/// sources, the sinks, the event time and the stages).
const BESIDE_SQL: &[&str] = &[
    "name",
    "parallelism",
    "batch_size",
    "limits",
    "state",
    "checkpoint",
    "dead_letter",
];

/// Does the job file `doc` hold its query as SQL?
pub fn holds_sql(doc: &toml::Table) -> bool {
    doc.contains_key("sql")
}

/// The job of the job file at `path` (its text `text`), whose `sql` holds
/// a script: the job the script makes, the file's other keys on top, then
/// the `--set` `overrides`.
pub fn load_job_file(path: &Path, text: &str, overrides: &[String]) -> Result<LoadedJob, SqlError> {
    let bad = |message: String| SqlError::JobFile {
        path: path.to_path_buf(),
        message,
    };
    let mut doc: toml::Table = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
    let Some(toml::Value::String(script)) = doc.remove("sql") else {
        return Err(bad(
            "`sql` holds the job's script as a string: sql = \"\"\"CREATE TABLE …; INSERT INTO … SELECT …\"\"\"".into(),
        ));
    };
    if let Some(key) = doc.keys().find(|k| !BESIDE_SQL.contains(&k.as_str())) {
        return Err(bad(format!(
            "`{key}` does not go with `sql`: the script declares the job's tables (its sources and sinks, their event time) and its query; beside it a job file may set {}",
            BESIDE_SQL.join(", ")
        )));
    }
    let spec = super::to_job(path, &script).map_err(|e| e.shifted(script_line(text)))?;
    let mut merged = toml::Table::try_from(&spec).map_err(|e| bad(e.to_string()))?;
    merge(&mut merged, doc);
    let spec: JobSpec = merged
        .try_into()
        .map_err(|e: toml::de::Error| bad(e.to_string()))?;
    Ok(crate::job::from_spec(spec, path, overrides)?)
}

/// `from`'s keys into `into`, tables key by key.
fn merge(into: &mut toml::Table, from: toml::Table) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

/// The lines of the file before its script's first (the script of
/// `sql = """` starts on the next line, as TOML drops that newline).
fn script_line(text: &str) -> u64 {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.strip_prefix("sql")
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map_or(0, |i| {
            let line = text.lines().nth(i).unwrap_or_default();
            // `sql = """` (or `'''`) with the script on the lines after it.
            let open = line.trim_end();
            if open.ends_with("\"\"\"") || open.ends_with("'''") {
                i as u64 + 1
            } else {
                i as u64
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = "CREATE TABLE tx (ts TIMESTAMP(3), `user` STRING, amount DOUBLE,
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH ('connector' = 'filesystem', 'path' = 'tx.jsonl', 'format' = 'json');
CREATE TABLE out_rows (`user` STRING, amount DOUBLE)
WITH ('connector' = 'filesystem', 'path' = 'out.jsonl', 'format' = 'json');
INSERT INTO out_rows SELECT `user`, amount FROM tx WHERE amount > 100;
";

    #[test]
    fn the_files_keys_go_on_top_of_the_scripts_job() {
        let text = format!(
            "name = \"big\"\nsql = \"\"\"\n{SCRIPT}\"\"\"\n[limits]\nmemory = \"96MiB\"\n[checkpoint]\ninterval = \"2s\"\n"
        );
        let job = load_job_file(Path::new("/jobs/big.toml"), &text, &[]).unwrap();
        assert_eq!(job.spec.name, "big");
        assert_eq!(job.spec.limits.memory, "96MiB");
        assert_eq!(job.spec.checkpoint.as_ref().unwrap().interval, "2s");
        assert_eq!(job.spec.stages.len(), 1);
        assert!(job.spec.event_time.is_some());
        // With --set overrides after it.
        let job = load_job_file(
            Path::new("/jobs/big.toml"),
            &text,
            &["parallelism=2".into()],
        )
        .unwrap();
        assert_eq!(job.spec.parallelism, 2);
    }

    #[test]
    fn keys_the_script_declares_are_refused_and_errors_point_into_the_file() {
        let text = format!("sql = \"\"\"\n{SCRIPT}\"\"\"\n[source]\ntype = \"stdin\"\n");
        let e = load_job_file(Path::new("j.toml"), &text, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("`source` does not go with `sql`"), "{e}");
        let text = format!(
            "name = \"x\"\nsql = \"\"\"\n{}\"\"\"\n",
            SCRIPT.replace("amount > 100", "nope > 100")
        );
        let e = load_job_file(Path::new("j.toml"), &text, &[])
            .unwrap_err()
            .to_string();
        // The INSERT is line 6 of the script, line 8 of the file.
        assert!(e.starts_with("j.toml:8:"), "{e}");
        let e = load_job_file(Path::new("j.toml"), "sql = 3\n", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("holds the job's script as a string"), "{e}");
    }
}
