//! The version history of a job's operators, kept next to its checkpoints.
//!
//! Every version that goes live — the job file's at start, each swap, each
//! rollback — is appended to `versions.json`, and its component is kept
//! under `components/<sha256>.wasm` (content-addressed, so a version is
//! stored once however often it comes back). That gives:
//!
//! - `weir rollback JOB OPERATOR`: swap back to the version before the
//!   current one, from the store (no rebuild);
//! - restarts that keep the swapped version: a job resumed from a
//!   checkpoint taken after a swap runs the version that checkpoint
//!   recorded, as long as the job file still names the version the swap
//!   replaced (a job file naming a different component wins: that is an
//!   upgrade by restart, and its state carries over as always).

use crate::wasm::LoadedComponent;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why a version could not be recorded or found.
#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    /// Reading or writing the history or the store failed.
    #[error("version history in {path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What happened.
        message: String,
    },
    /// Nothing to roll back to.
    #[error("operator `{operator}` has no earlier version to roll back to (history: {history})")]
    NoEarlier {
        /// The operator.
        operator: String,
        /// What the history holds.
        history: String,
    },
}

/// How a version came to be live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Named by the job file when the job started.
    JobFile,
    /// Put live by `weir swap` (or a promoted canary).
    Swap,
    /// Put back by `weir rollback`.
    Rollback,
}

/// One version of one operator.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Version {
    /// SHA-256 of the component.
    pub digest: String,
    /// How it went live.
    pub origin: Origin,
    /// The checkpoint barrier it followed (swaps and rollbacks).
    pub after_epoch: Option<u64>,
    /// When, ms since the Unix epoch.
    pub at_ms: i64,
}

/// A job's version history and component store.
pub struct Versions {
    dir: PathBuf,
}

impl Versions {
    /// The history in the job's checkpoint directory `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    fn file(&self) -> PathBuf {
        self.dir.join("versions.json")
    }

    fn io(&self, path: &Path) -> impl FnOnce(std::io::Error) -> VersionError + use<> {
        let path = path.to_path_buf();
        move |e| VersionError::Io {
            path,
            message: e.to_string(),
        }
    }

    /// Operator → its versions, oldest first.
    pub fn read(&self) -> Result<BTreeMap<String, Vec<Version>>, VersionError> {
        let path = self.file();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| VersionError::Io {
                path,
                message: format!("damaged: {e}"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(self.io(&path)(e)),
        }
    }

    /// The stored component with `digest`.
    pub fn component(&self, digest: &str) -> PathBuf {
        self.dir.join("components").join(format!("{digest}.wasm"))
    }

    /// Record that `component` went live for `operator` (storing it).
    pub fn record(
        &self,
        operator: &str,
        component: &LoadedComponent,
        origin: Origin,
        after_epoch: Option<u64>,
    ) -> Result<(), VersionError> {
        let stored = self.component(&component.digest);
        if !stored.exists() {
            let dir = self.dir.join("components");
            std::fs::create_dir_all(&dir).map_err(self.io(&dir))?;
            let tmp = stored.with_extension("tmp");
            std::fs::copy(&component.path, &tmp).map_err(self.io(&tmp))?;
            std::fs::rename(&tmp, &stored).map_err(self.io(&stored))?;
        }
        let mut all = self.read()?;
        let history = all.entry(operator.to_string()).or_default();
        if origin == Origin::JobFile
            && history
                .iter()
                .rev()
                .find(|v| v.origin == Origin::JobFile)
                .is_some_and(|v| v.digest == component.digest)
        {
            return Ok(()); // the same job file started again
        }
        history.push(Version {
            digest: component.digest.clone(),
            origin,
            after_epoch,
            at_ms: crate::time::now_ms(),
        });
        let path = self.file();
        let tmp = path.with_extension("tmp");
        let bytes = serde_json::to_vec_pretty(&all).map_err(|e| VersionError::Io {
            path: path.clone(),
            message: e.to_string(),
        })?;
        std::fs::write(&tmp, bytes).map_err(self.io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(self.io(&path))
    }

    /// The version before the live one, for a rollback.
    pub fn previous(&self, operator: &str) -> Result<Version, VersionError> {
        let all = self.read()?;
        let history = all.get(operator).cloned().unwrap_or_default();
        let live = history.last().map(|v| v.digest.clone());
        history
            .iter()
            .rev()
            .find(|v| Some(&v.digest) != live.as_ref())
            .cloned()
            .ok_or_else(|| VersionError::NoEarlier {
                operator: operator.into(),
                history: format!("{} version(s)", history.len()),
            })
    }

    /// The component a resumed job should run for `operator`: the stored
    /// version its checkpoint recorded (`checkpoint_digest`), if that went
    /// live by a swap or rollback after the job file's version `file_digest`
    /// started. `None`: run what the job file names.
    pub fn resumed(
        &self,
        operator: &str,
        file_digest: &str,
        checkpoint_digest: &str,
    ) -> Result<Option<PathBuf>, VersionError> {
        if file_digest == checkpoint_digest {
            return Ok(None);
        }
        let all = self.read()?;
        let Some(history) = all.get(operator) else {
            return Ok(None);
        };
        let last_file = history.iter().rposition(|v| v.origin == Origin::JobFile);
        let Some(last_file) = last_file else {
            return Ok(None);
        };
        if history[last_file].digest != file_digest {
            return Ok(None);
        }
        let swapped_since = history[last_file + 1..]
            .iter()
            .any(|v| v.digest == checkpoint_digest);
        let stored = self.component(checkpoint_digest);
        Ok((swapped_since && stored.exists()).then_some(stored))
    }
}
