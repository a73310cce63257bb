//! Subcommands that need more than a few lines.

pub mod args;
pub mod client;
pub mod inspect;
pub mod nexmark_bench;
pub mod run;
pub mod savepoint;
pub mod serve;
pub mod sql_shell;
pub mod swap;

use std::path::Path;

/// The file is a SQL script (`.sql`), not a job file.
pub fn is_sql(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("sql"))
}

/// A job file, or a SQL script as the job it makes, with `--set`
/// overrides applied. A job file may hold its query as SQL (`sql =
/// """…"""`).
pub fn load_job(path: &Path, set: &[String]) -> anyhow::Result<weir::job::LoadedJob> {
    if is_sql(path) {
        return Ok(weir::sql::load(path, set)?);
    }
    let text = std::fs::read_to_string(path);
    if let Ok(text) = &text
        && toml::from_str::<toml::Table>(text).is_ok_and(|doc| weir::sql::holds_sql(&doc))
    {
        return Ok(weir::sql::load_job_file(path, text, set)?);
    }
    Ok(weir::job::load(path, set)?)
}
