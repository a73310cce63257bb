//! Subcommands that need more than a few lines.

pub mod client;
pub mod inspect;
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
/// overrides applied.
pub fn load_job(path: &Path, set: &[String]) -> anyhow::Result<weir::job::LoadedJob> {
    Ok(if is_sql(path) {
        weir::sql::load(path, set)?
    } else {
        weir::job::load(path, set)?
    })
}
