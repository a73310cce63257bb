//! Job files: TOML that describes source → operator chain → key-by → window
//! or keyed operator → sink, documented in the README.
//!
//! [`load`] parses a file (applying `--set` overrides), and [`validate`]
//! checks it, reporting *every* problem with the place it was found, so a user
//! fixes a job in one round instead of one error at a time.

mod checks;
mod fields;
mod graph;
pub mod kafka_properties;
mod named;
mod operators;
mod order;
mod spec;
mod stages;
mod validate;
mod whole;

pub use checks::Problem;
pub use graph::{keyed_stages, last_stage, valid_name};
pub use named::{NamedSinkSpec, NamedSourceSpec};
pub(crate) use operators::operator_names;
pub use order::topological_order;
pub use spec::*;
pub use stages::{
    ChangelogFormat, JoinSpec, MAX_RANK, OverSpec, Preceding, RankOrderSpec, RankSpec, SOURCE,
    SqlStageSpec, StageSpec, parse_signed_duration_ms,
};
pub use validate::validate;
pub use whole::JobSpec;

use std::path::{Path, PathBuf};

/// Why a job file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The file could not be read.
    #[error("cannot read job file {path}: {source}")]
    Read {
        /// The job file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed or does not match the job schema.
    #[error("{path}: {message}")]
    Parse {
        /// The job file.
        path: PathBuf,
        /// What is wrong, with line and column.
        message: String,
    },
    /// A `--set key=value` override is malformed.
    #[error("--set {setting}: {message}")]
    Override {
        /// The override as given.
        setting: String,
        /// What is wrong.
        message: String,
    },
    /// The job is well-formed but not valid.
    #[error("{path}: {} problem(s):\n{}", problems.len(), problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// The job file.
        path: PathBuf,
        /// Every problem found.
        problems: Vec<Problem>,
    },
}

/// A job file, loaded: the spec and the directory relative paths start from.
#[derive(Debug, Clone)]
pub struct LoadedJob {
    /// The job as written (after overrides).
    pub spec: JobSpec,
    /// The file it came from.
    pub path: PathBuf,
    /// Its directory: relative paths in the job are relative to it.
    pub base_dir: PathBuf,
}

impl LoadedJob {
    /// Resolve a path written in the job file.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }
}

/// A job name made safe as a file name: anything but letters, digits, `-`
/// and `_` becomes `_`.
///
/// ```
/// assert_eq!(weir::job::file_safe("word count/v2"), "word_count_v2");
/// ```
pub fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Read, override, parse and validate a job file.
pub fn load(path: &Path, overrides: &[String]) -> Result<LoadedJob, JobError> {
    let text = std::fs::read_to_string(path).map_err(|source| JobError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let parse_err = |message: String| JobError::Parse {
        path: path.to_path_buf(),
        message,
    };
    // Parsed from the text, errors point at a line; overrides need a table.
    let spec: JobSpec = if overrides.is_empty() {
        toml::from_str(&text).map_err(|e| parse_err(e.to_string()))?
    } else {
        let mut doc: toml::Table = toml::from_str(&text).map_err(|e| parse_err(e.to_string()))?;
        for setting in overrides {
            apply_override(&mut doc, setting)?;
        }
        doc.try_into()
            .map_err(|e: toml::de::Error| parse_err(format!("{e} (after the --set overrides)")))?
    };
    checked(spec, path)
}

/// A job made by other means than a job file (a SQL script at `path`),
/// with `--set` overrides applied and validated like a job file's.
pub fn from_spec(spec: JobSpec, path: &Path, overrides: &[String]) -> Result<LoadedJob, JobError> {
    let parse_err = |message: String| JobError::Parse {
        path: path.to_path_buf(),
        message,
    };
    let spec = if overrides.is_empty() {
        spec
    } else {
        let mut doc = toml::Table::try_from(&spec).map_err(|e| parse_err(e.to_string()))?;
        for setting in overrides {
            apply_override(&mut doc, setting)?;
        }
        doc.try_into()
            .map_err(|e: toml::de::Error| parse_err(format!("{e} (after the --set overrides)")))?
    };
    checked(spec, path)
}

/// `spec`, from `path`, validated.
fn checked(spec: JobSpec, path: &Path) -> Result<LoadedJob, JobError> {
    let problems = validate(&spec);
    if !problems.is_empty() {
        return Err(JobError::Invalid {
            path: path.to_path_buf(),
            problems,
        });
    }
    let base_dir = path
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    Ok(LoadedJob {
        spec,
        path: path.to_path_buf(),
        base_dir,
    })
}

/// Apply `a.b.c=value`; the value is TOML (`4`, `"text"`, `true`), and a
/// bare word that is not valid TOML is taken as a string.
fn apply_override(doc: &mut toml::Table, setting: &str) -> Result<(), JobError> {
    let err = |message: &str| JobError::Override {
        setting: setting.to_owned(),
        message: message.to_owned(),
    };
    let (key, raw) = setting
        .split_once('=')
        .ok_or_else(|| err("expected KEY=VALUE, e.g. parallelism=4"))?;
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()));
    let parts: Vec<&str> = key.trim().split('.').collect();
    let (last, parents) = parts.split_last().ok_or_else(|| err("empty key"))?;
    let mut table = doc;
    for part in parents {
        table = table
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or_else(|| err(&format!("`{part}` is not a table")))?;
    }
    table.insert(last.to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_set_nested_values() {
        let mut doc: toml::Table =
            toml::from_str("parallelism = 1\n[sink]\ntype = \"stdout\"").unwrap();
        apply_override(&mut doc, "parallelism=4").unwrap();
        apply_override(&mut doc, "sink.path=out/x.jsonl").unwrap();
        assert_eq!(doc["parallelism"].as_integer(), Some(4));
        assert_eq!(doc["sink"]["path"].as_str(), Some("out/x.jsonl"));
        assert!(apply_override(&mut doc, "nonsense").is_err());
    }
}
