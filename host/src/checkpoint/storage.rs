//! A directory of checkpoints.
//!
//! ```text
//! DIR/chk-000000000042/_metadata     JSON, written last: what is in the checkpoint
//! DIR/chk-000000000042/<files>       operator state, RocksDB checkpoints, …
//! DIR/.pending-000000000043/         being written; never read, removed at open
//! ```
//!
//! A checkpoint is written under `.pending-…`, every file is fsynced, the
//! metadata goes to `_metadata.tmp`, is fsynced and renamed to `_metadata`,
//! and the directory is renamed to `chk-…` and its parent fsynced. So a crash
//! at any instant leaves either no checkpoint or a complete one. Restoring
//! still checks: a `_metadata` that does not parse, or a listed file that is
//! missing or has the wrong size, makes the checkpoint invalid, and the next
//! older one is used, with a warning that says why.
//!
//! RocksDB checkpoints are hard links to the database's immutable SST files,
//! so consecutive checkpoints share the files that did not change: they are
//! incremental on disk.

use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// What went wrong with checkpoint storage.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// File-system trouble, with the path.
    #[error("checkpoint storage {path}: {message}")]
    Io {
        /// Where.
        path: PathBuf,
        /// What.
        message: String,
    },
    /// A checkpoint is damaged.
    #[error("checkpoint {path} is invalid: {reason}")]
    Invalid {
        /// Which.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |e| StorageError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// One file of a checkpoint, as recorded in its metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the checkpoint directory.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
}

/// What a checkpoint holds, written last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// Format version of this structure.
    pub format: u32,
    /// The job.
    pub job: String,
    /// Checkpoint epoch (monotonic per job).
    pub epoch: u64,
    /// When it completed, ms since the epoch.
    pub completed_ms: i64,
    /// How long it took to write.
    pub duration_ms: u64,
    /// Every file, so a missing or truncated one is detected.
    pub files: Vec<FileEntry>,
    /// Job-level data (source positions, component digests, the job graph),
    /// free-form for the layers above.
    pub job_data: serde_json::Value,
}

const METADATA: &str = "_metadata";
const FORMAT: u32 = 1;

/// A summary of a complete checkpoint, for listings.
#[derive(Debug, Clone)]
pub struct CheckpointInfo {
    /// Its directory.
    pub path: PathBuf,
    /// Its metadata.
    pub metadata: Metadata,
    /// Bytes in its files (shared files count in every checkpoint holding them).
    pub size: u64,
}

/// A directory of one job's checkpoints.
pub struct CheckpointStore {
    dir: PathBuf,
    /// The job whose checkpoints these are; `None` when only listing.
    job: Option<String>,
}

fn name_of(epoch: u64) -> String {
    format!("chk-{epoch:012}")
}

fn epoch_of(name: &str) -> Option<u64> {
    name.strip_prefix("chk-")?.parse().ok()
}

fn fsync_dir(path: &Path) -> Result<(), StorageError> {
    File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(io(path))
}

impl CheckpointStore {
    /// Open (creating) `dir` for `job`, removing checkpoints that were being
    /// written when a previous run died.
    pub fn open(dir: &Path, job: &str) -> Result<Self, StorageError> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        for entry in fs::read_dir(dir).map_err(io(dir))?.flatten() {
            if entry.file_name().to_string_lossy().starts_with(".pending-") {
                fs::remove_dir_all(entry.path()).map_err(io(&entry.path()))?;
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            job: Some(job.into()),
        })
    }

    /// Look at `dir` without changing anything and without caring whose
    /// checkpoints they are (for `weir checkpoints list`).
    pub fn inspect(dir: &Path) -> Result<Self, StorageError> {
        if !dir.is_dir() {
            return Err(StorageError::Io {
                path: dir.to_path_buf(),
                message: "not a directory".into(),
            });
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            job: None,
        })
    }

    /// Start writing checkpoint `epoch`.
    pub fn begin(&self, epoch: u64) -> Result<PendingCheckpoint, StorageError> {
        let path = self.pending_dir(epoch);
        if path.exists() {
            fs::remove_dir_all(&path).map_err(io(&path))?;
        }
        fs::create_dir_all(&path).map_err(io(&path))?;
        Ok(PendingCheckpoint {
            store_dir: self.dir.clone(),
            path,
            job: self.job.clone().unwrap_or_default(),
            epoch,
            started: Instant::now(),
        })
    }

    /// The highest epoch of any checkpoint directory, complete or damaged:
    /// new epochs continue above it, so names never collide.
    pub fn highest_epoch(&self) -> Result<Option<u64>, StorageError> {
        Ok(self.epochs()?.first().copied())
    }

    /// Epochs of the directories that claim to be complete, newest first.
    fn epochs(&self) -> Result<Vec<u64>, StorageError> {
        let mut epochs: Vec<u64> = fs::read_dir(&self.dir)
            .map_err(io(&self.dir))?
            .flatten()
            .filter_map(|e| epoch_of(&e.file_name().to_string_lossy()))
            .collect();
        epochs.sort_unstable_by(|a, b| b.cmp(a));
        Ok(epochs)
    }

    /// Read and verify checkpoint `epoch`.
    pub fn load(&self, epoch: u64) -> Result<CheckpointInfo, StorageError> {
        load_dir(
            &self.dir.join(name_of(epoch)),
            Some(epoch),
            self.job.as_deref(),
        )
    }

    /// The directory a pending checkpoint's files go to (tasks write their
    /// state here before the checkpoint is committed).
    pub fn pending_dir(&self, epoch: u64) -> PathBuf {
        self.dir.join(format!(".pending-{epoch:012}"))
    }

    /// The checkpoint directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Copy complete checkpoint `epoch` to `to` as hard links (its files are
    /// never modified once written), so the copy survives retention.
    pub fn link_copy(&self, epoch: u64, to: &Path) -> Result<(), StorageError> {
        link_tree(&self.dir.join(name_of(epoch)), to)
    }

    /// Delete every checkpoint (not savepoints): a job that starts afresh
    /// must never later resume from an earlier run's state.
    pub fn clear(&self) -> Result<(), StorageError> {
        for epoch in self.epochs()? {
            let path = self.dir.join(name_of(epoch));
            fs::remove_dir_all(&path).map_err(io(&path))?;
        }
        Ok(())
    }

    /// Make the savepoint in `from` this job's checkpoint `epoch` (hard
    /// links), so a crash before the job's first own checkpoint resumes
    /// from the savepoint again.
    pub fn adopt(&self, from: &Path, epoch: u64) -> Result<(), StorageError> {
        link_tree(from, &self.dir.join(name_of(epoch)))
    }

    /// The newest valid checkpoint, and a warning for each newer one that
    /// was skipped because it is damaged.
    pub fn latest(&self) -> Result<(Option<CheckpointInfo>, Vec<String>), StorageError> {
        let mut warnings = Vec::new();
        for epoch in self.epochs()? {
            match self.load(epoch) {
                Ok(info) => return Ok((Some(info), warnings)),
                Err(e @ StorageError::Invalid { .. }) => {
                    warnings.push(format!("{e}; falling back to an older checkpoint"))
                }
                Err(e) => return Err(e),
            }
        }
        Ok((None, warnings))
    }

    /// Delete checkpoint `epoch`: it must never be resumed (its Kafka
    /// transaction was aborted).
    pub fn discard(&self, epoch: u64) -> Result<(), StorageError> {
        let path = self.dir.join(name_of(epoch));
        fs::remove_dir_all(&path).map_err(io(&path))
    }

    /// Every checkpoint directory, newest first, valid or not.
    pub fn list(&self) -> Result<Vec<Result<CheckpointInfo, StorageError>>, StorageError> {
        Ok(self.epochs()?.into_iter().map(|e| self.load(e)).collect())
    }

    /// Keep the newest `keep` checkpoints, delete older ones. (Files shared
    /// through hard links stay on disk while a kept checkpoint links them.)
    pub fn retain(&self, keep: usize) -> Result<(), StorageError> {
        for epoch in self.epochs()?.into_iter().skip(keep.max(1)) {
            let path = self.dir.join(name_of(epoch));
            fs::remove_dir_all(&path).map_err(io(&path))?;
        }
        Ok(())
    }
}

/// Hard-link the tree `from` to `to`, atomically (through `to.tmp`).
fn link_tree(from: &Path, to: &Path) -> Result<(), StorageError> {
    let tmp = to.with_extension("tmp");
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = from.join(&rel);
        fs::create_dir_all(tmp.join(&rel)).map_err(io(&tmp))?;
        for entry in fs::read_dir(&dir).map_err(io(&dir))?.flatten() {
            let rel = rel.join(entry.file_name());
            if entry.file_type().map_err(io(&entry.path()))?.is_dir() {
                stack.push(rel);
            } else {
                fs::hard_link(entry.path(), tmp.join(&rel)).map_err(io(&tmp.join(&rel)))?;
            }
        }
    }
    fsync_dir(&tmp)?;
    fs::rename(&tmp, to).map_err(io(to))?;
    if let Some(parent) = to.parent() {
        fsync_dir(parent)?;
    }
    Ok(())
}

/// Read and verify the checkpoint (or savepoint) in `path`: its metadata
/// parses, is of `epoch` and `job` when given, and every file it lists is
/// there with its size.
pub fn load_dir(
    path: &Path,
    epoch: Option<u64>,
    job: Option<&str>,
) -> Result<CheckpointInfo, StorageError> {
    let invalid = |reason: String| StorageError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let text = fs::read(path.join(METADATA))
        .map_err(|e| invalid(format!("no readable {METADATA}: {e}")))?;
    let metadata: Metadata = serde_json::from_slice(&text)
        .map_err(|e| invalid(format!("{METADATA} is damaged: {e}")))?;
    if metadata.format != FORMAT || epoch.is_some_and(|e| e != metadata.epoch) {
        return Err(invalid(format!(
            "{METADATA} is for epoch {} in format {}",
            metadata.epoch, metadata.format
        )));
    }
    if let Some(job) = job
        && metadata.job != job
    {
        return Err(invalid(format!(
            "it belongs to job `{}`, not `{job}`",
            metadata.job
        )));
    }
    let mut size = 0;
    for f in &metadata.files {
        // Only files inside the checkpoint: a damaged (or crafted) metadata
        // file must not point the restore anywhere else.
        let name = Path::new(&f.name);
        if f.name.is_empty()
            || f.name.contains('\0')
            || !name
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)))
        {
            return Err(invalid(format!(
                "it lists `{}`, which is not a file inside the checkpoint",
                f.name.escape_debug()
            )));
        }
        match fs::metadata(path.join(&f.name)) {
            Ok(m) if m.len() == f.size => size += f.size,
            Ok(m) => {
                return Err(invalid(format!(
                    "{} is {} bytes, expected {}",
                    f.name,
                    m.len(),
                    f.size
                )));
            }
            Err(_) => return Err(invalid(format!("{} is missing", f.name))),
        }
    }
    Ok(CheckpointInfo {
        path: path.to_path_buf(),
        metadata,
        size,
    })
}

/// A checkpoint being written.
pub struct PendingCheckpoint {
    store_dir: PathBuf,
    path: PathBuf,
    job: String,
    epoch: u64,
    started: Instant,
}

impl PendingCheckpoint {
    /// Its directory, for writers that create files themselves (RocksDB).
    pub fn dir(&self) -> &Path {
        &self.path
    }

    /// Write one file (durably) into the checkpoint.
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> Result<(), StorageError> {
        let path = self.path.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let mut f = File::create(&path).map_err(io(&path))?;
        std::io::Write::write_all(&mut f, bytes).map_err(io(&path))?;
        f.sync_all().map_err(io(&path))
    }

    /// Every file under the checkpoint directory, relative, with sizes.
    fn files(&self) -> Result<Vec<FileEntry>, StorageError> {
        let mut out = Vec::new();
        let mut stack = vec![self.path.clone()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).map_err(io(&dir))?.flatten() {
                let p = entry.path();
                let meta = entry.metadata().map_err(io(&p))?;
                if meta.is_dir() {
                    stack.push(p);
                } else {
                    let name = p
                        .strip_prefix(&self.path)
                        .unwrap_or(&p)
                        .to_string_lossy()
                        .into_owned();
                    out.push(FileEntry {
                        name,
                        size: meta.len(),
                    });
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Make the checkpoint durable and visible; returns its metadata.
    pub fn commit(self, job_data: serde_json::Value) -> Result<Metadata, StorageError> {
        let files = self.files()?;
        // Files written by others (RocksDB's checkpoint) get fsynced here.
        for f in &files {
            let p = self.path.join(&f.name);
            File::open(&p).and_then(|f| f.sync_all()).map_err(io(&p))?;
        }
        let metadata = Metadata {
            format: FORMAT,
            job: self.job.clone(),
            epoch: self.epoch,
            completed_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0),
            duration_ms: self.started.elapsed().as_millis() as u64,
            files,
            job_data,
        };
        let json = serde_json::to_vec_pretty(&metadata).map_err(|e| StorageError::Io {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        self.write_file("_metadata.tmp", &json)?;
        let (tmp, done) = (self.path.join("_metadata.tmp"), self.path.join(METADATA));
        fs::rename(&tmp, &done).map_err(io(&done))?;
        fsync_dir(&self.path)?;
        let final_path = self.store_dir.join(name_of(self.epoch));
        fs::rename(&self.path, &final_path).map_err(io(&final_path))?;
        fsync_dir(&self.store_dir)?;
        Ok(metadata)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, CheckpointStore) {
        let d = tempfile::tempdir().unwrap();
        let s = CheckpointStore::open(d.path(), "job").unwrap();
        (d, s)
    }

    fn write(s: &CheckpointStore, epoch: u64) {
        let p = s.begin(epoch).unwrap();
        p.write_file("ops/a.bin", format!("state {epoch}").as_bytes())
            .unwrap();
        p.commit(serde_json::json!({ "offset": epoch * 10 }))
            .unwrap();
    }

    #[test]
    fn only_committed_checkpoints_are_visible() {
        let (d, s) = store();
        let pending = s.begin(1).unwrap();
        pending.write_file("a", b"x").unwrap();
        assert!(
            s.latest().unwrap().0.is_none(),
            "a pending checkpoint must not be visible"
        );
        drop(pending);
        write(&s, 2);
        let (latest, warnings) = s.latest().unwrap();
        let latest = latest.unwrap();
        assert_eq!(latest.metadata.epoch, 2);
        assert_eq!(latest.metadata.job_data["offset"], 20);
        assert!(warnings.is_empty());
        // A new run removes what a crashed run left half-written.
        CheckpointStore::open(d.path(), "job").unwrap();
        assert!(!d.path().join(".pending-000000000001").exists());
    }

    #[test]
    fn damaged_checkpoints_fall_back_with_a_warning() {
        let (d, s) = store();
        for e in 1..=3 {
            write(&s, e);
        }
        // Truncated metadata in the newest, a missing file in the next.
        let meta = d.path().join("chk-000000000003/_metadata");
        let text = fs::read(&meta).unwrap();
        fs::write(&meta, &text[..text.len() / 2]).unwrap();
        fs::remove_file(d.path().join("chk-000000000002/ops/a.bin")).unwrap();
        let (latest, warnings) = s.latest().unwrap();
        assert_eq!(latest.unwrap().metadata.epoch, 1);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].contains("_metadata is damaged"),
            "{}",
            warnings[0]
        );
        assert!(
            warnings[1].contains("ops/a.bin is missing"),
            "{}",
            warnings[1]
        );
    }

    #[test]
    fn retention_keeps_the_newest() {
        let (_d, s) = store();
        for e in 1..=5 {
            write(&s, e);
        }
        s.retain(2).unwrap();
        let kept: Vec<u64> = s
            .list()
            .unwrap()
            .into_iter()
            .map(|c| c.unwrap().metadata.epoch)
            .collect();
        assert_eq!(kept, vec![5, 4]);
    }

    #[test]
    fn another_jobs_checkpoint_is_refused() {
        let (d, s) = store();
        write(&s, 1);
        let other = CheckpointStore::open(d.path(), "other-job").unwrap();
        let (latest, warnings) = other.latest().unwrap();
        assert!(latest.is_none());
        assert!(warnings[0].contains("belongs to job `job`"), "{warnings:?}");
    }
}
