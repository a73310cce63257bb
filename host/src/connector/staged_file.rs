//! An output file with exactly-once, two-phase commit.
//!
//! Records of epoch `e` (written before barrier `e`) go to a hidden part
//! file next to the output, `.<name>.part-<e>`. At barrier `e` the part is
//! flushed and fsynced (*pre-commit*) and its length goes into the
//! checkpoint; once the checkpoint is complete, the part is appended to the
//! output file and deleted (*publish*). Readers of the output only ever see
//! committed records.
//!
//! A crash can happen between any two steps. On restart from checkpoint `e`
//! the output is made to hold exactly what `e` says was published plus what
//! it committed: a longer file (a later epoch that was published but whose
//! checkpoint is being discarded) is truncated, a part that was committed
//! but not yet (or only partly) appended is appended again, and every other
//! part is deleted. So a restarted job's output is byte-for-byte that of an
//! uninterrupted run.

use super::ConnectorError;
use crate::checkpoint::SinkPosition;
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A two-phase-commit output file.
pub struct StagedFile {
    path: PathBuf,
    output: File,
    published: u64,
    open: BTreeMap<u64, BufWriter<File>>,
    /// Pre-committed parts awaiting publication: epoch → length.
    committed: BTreeMap<u64, u64>,
}

impl StagedFile {
    fn error(&self, message: String) -> ConnectorError {
        err(&self.path, message)
    }

    fn part_path(path: &Path, epoch: u64) -> PathBuf {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        path.with_file_name(format!(".{name}.part-{epoch:012}"))
    }

    /// Part files of `path` on disk, by epoch.
    fn parts_on_disk(path: &Path) -> Result<BTreeMap<u64, PathBuf>, ConnectorError> {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let prefix = format!(".{name}.part-");
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut out = BTreeMap::new();
        for entry in fs::read_dir(&dir)
            .map_err(|e| err(path, format!("cannot list {}: {e}", dir.display())))?
            .flatten()
        {
            let file = entry.file_name().to_string_lossy().into_owned();
            if let Some(epoch) = file.strip_prefix(&prefix).and_then(|e| e.parse().ok()) {
                out.insert(epoch, entry.path());
            }
        }
        Ok(out)
    }

    fn open_output(path: &Path, truncate: bool) -> Result<File, ConnectorError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| err(path, format!("cannot create: {e}")))?;
        }
        OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(truncate)
            .open(path)
            .map_err(|e| err(path, format!("cannot create: {e}")))
    }

    /// Start a fresh output: empty file, leftover parts removed.
    pub fn create(path: &Path) -> Result<StagedFile, ConnectorError> {
        let output = Self::open_output(path, true)?;
        for (_, part) in Self::parts_on_disk(path)? {
            fs::remove_file(&part)
                .map_err(|e| err(path, format!("removing {}: {e}", part.display())))?;
        }
        Ok(StagedFile {
            output,
            path: path.to_path_buf(),
            published: 0,
            open: BTreeMap::new(),
            committed: BTreeMap::new(),
        })
    }

    /// Continue after checkpoint `epoch`, which recorded `position`: finish
    /// what it committed, drop what came after it.
    pub fn recover(
        path: &Path,
        epoch: u64,
        position: SinkPosition,
    ) -> Result<StagedFile, ConnectorError> {
        let mut output = Self::open_output(path, false)?;
        let len = output
            .metadata()
            .map_err(|e| err(path, e.to_string()))?
            .len();
        let target = position.published + position.staged;
        let parts = Self::parts_on_disk(path)?;
        if len < position.published {
            return Err(err(
                path,
                format!(
                    "the checkpoint says {} bytes were published, but the file has {len}: it was changed outside weir; start afresh with --fresh",
                    position.published
                ),
            ));
        }
        if len < target {
            // Committed but not (completely) published: append the parts again.
            output
                .set_len(position.published)
                .and_then(|()| output.seek(SeekFrom::End(0)).map(drop))
                .map_err(|e| err(path, e.to_string()))?;
            let mut remaining = position.staged;
            for (_, part) in parts.range(..=epoch) {
                let f = File::open(part).map_err(|e| err(path, e.to_string()))?;
                remaining -= std::io::copy(&mut f.take(remaining), &mut output)
                    .map_err(|e| err(path, e.to_string()))?;
            }
            if remaining > 0 {
                return Err(err(
                    path,
                    format!(
                        "checkpoint {epoch} committed {} staged bytes, but {remaining} of them are missing from the part files; start afresh with --fresh",
                        position.staged
                    ),
                ));
            }
        }
        output
            .set_len(target)
            .and_then(|()| output.sync_all())
            .and_then(|()| output.seek(SeekFrom::End(0)).map(drop))
            .map_err(|e| err(path, e.to_string()))?;
        for part in parts.values() {
            fs::remove_file(part).map_err(|e| err(path, e.to_string()))?;
        }
        Ok(StagedFile {
            path: path.to_path_buf(),
            output,
            published: target,
            open: BTreeMap::new(),
            committed: BTreeMap::new(),
        })
    }

    /// Write a line belonging to `epoch`.
    pub fn write(&mut self, epoch: u64, payload: &[u8]) -> Result<(), ConnectorError> {
        let part = match self.open.get_mut(&epoch) {
            Some(p) => p,
            None => {
                let path = Self::part_path(&self.path, epoch);
                let f = File::create(&path).map_err(|e| {
                    self.error(format!("cannot create part {}: {e}", path.display()))
                })?;
                self.open
                    .entry(epoch)
                    .or_insert(BufWriter::with_capacity(1 << 20, f))
            }
        };
        part.write_all(payload)
            .and_then(|()| part.write_all(b"\n"))
            .map_err(|e| err(&self.path, e.to_string()))
    }

    /// Phase one at barrier `epoch`: make every part up to `epoch` durable;
    /// returns what the checkpoint must record.
    pub fn pre_commit(&mut self, epoch: u64) -> Result<SinkPosition, ConnectorError> {
        let later = self.open.split_off(&(epoch + 1));
        for (e, part) in std::mem::replace(&mut self.open, later) {
            let file = part
                .into_inner()
                .map_err(|e| self.error(e.error().to_string()))?;
            file.sync_all().map_err(|e| self.error(e.to_string()))?;
            let len = file
                .metadata()
                .map_err(|e| self.error(e.to_string()))?
                .len();
            self.committed.insert(e, len);
        }
        Ok(SinkPosition {
            published: self.published,
            staged: self.committed.range(..=epoch).map(|(_, len)| len).sum(),
        })
    }

    /// Phase two, once checkpoint `epoch` is complete: append its parts to
    /// the output and delete them.
    pub fn publish(&mut self, epoch: u64) -> Result<(), ConnectorError> {
        let later = self.committed.split_off(&(epoch + 1));
        let done = std::mem::replace(&mut self.committed, later);
        for e in done.keys() {
            let part = Self::part_path(&self.path, *e);
            let mut f = File::open(&part).map_err(|e| self.error(e.to_string()))?;
            self.published += std::io::copy(&mut f, &mut self.output)
                .map_err(|e| self.error(format!("publishing {}: {e}", part.display())))?;
        }
        if !done.is_empty() {
            self.output
                .sync_data()
                .map_err(|e| self.error(e.to_string()))?;
            for e in done.keys() {
                let part = Self::part_path(&self.path, *e);
                fs::remove_file(&part)
                    .map_err(|e| self.error(format!("removing {}: {e}", part.display())))?;
            }
        }
        Ok(())
    }
}

fn err(path: &Path, message: String) -> ConnectorError {
    ConnectorError::Write {
        sink: path.display().to_string(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(p: &Path) -> String {
        fs::read_to_string(p).unwrap()
    }

    #[test]
    fn only_published_epochs_are_visible() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.jsonl");
        let mut f = StagedFile::create(&out).unwrap();
        f.write(1, b"a").unwrap();
        f.write(2, b"b").unwrap();
        let pos = f.pre_commit(1).unwrap();
        assert_eq!(
            pos,
            SinkPosition {
                published: 0,
                staged: 2
            }
        );
        assert_eq!(read(&out), "");
        f.publish(1).unwrap();
        assert_eq!(read(&out), "a\n");
        assert_eq!(StagedFile::parts_on_disk(&out).unwrap().len(), 1);
    }

    #[test]
    fn recovery_finishes_a_commit_and_drops_later_epochs() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.jsonl");
        let mut f = StagedFile::create(&out).unwrap();
        f.write(1, b"one").unwrap();
        let p1 = f.pre_commit(1).unwrap();
        f.publish(1).unwrap();
        f.write(2, b"two").unwrap();
        let p2 = f.pre_commit(2).unwrap();
        // Died after checkpoint 2 completed, before publishing it; epoch 3 was under way.
        f.write(3, b"three").unwrap();
        drop(f);
        let f = StagedFile::recover(&out, 2, p2).unwrap();
        drop(f);
        assert_eq!(read(&out), "one\ntwo\n");
        assert!(StagedFile::parts_on_disk(&out).unwrap().is_empty());
        // Going back to checkpoint 1 (say 2 turned out damaged) truncates.
        StagedFile::recover(&out, 1, p1).unwrap();
        assert_eq!(read(&out), "one\n");
    }

    #[test]
    fn a_missing_committed_part_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.jsonl");
        let mut f = StagedFile::create(&out).unwrap();
        f.write(1, b"one").unwrap();
        let p1 = f.pre_commit(1).unwrap();
        drop(f);
        fs::remove_file(StagedFile::part_path(&out, 1)).unwrap();
        let e = StagedFile::recover(&out, 1, p1).err().unwrap().to_string();
        assert!(e.contains("missing from the part files"), "{e}");
    }
}
