//! Sinks: JSON lines to a file or stdout, or discarded.
//!
//! In a job with checkpoints a file sink is exactly-once: it writes through
//! a [`StagedFile`] (two-phase commit). Standard output cannot take back
//! what it printed, so after a restart it repeats the records since the last
//! checkpoint (at-least-once).

use super::ConnectorError;
use super::staged_file::StagedFile;
use crate::checkpoint::SinkPosition;
use crate::job::{LoadedJob, SinkSpec};
use std::io::{BufWriter, Write};

/// An open sink.
pub struct Sink {
    name: String,
    out: Out,
}

enum Out {
    Discard,
    Stream(Box<dyn Write + Send>),
    Staged(StagedFile),
}

/// How a sink starts.
#[derive(Debug, Clone, Copy)]
pub enum SinkStart {
    /// No checkpoints: files are truncated and written directly.
    Plain,
    /// Checkpoints, fresh start: files are truncated and staged per epoch.
    Fresh,
    /// Checkpoints, resuming from checkpoint `epoch`, which recorded the
    /// position (absent if the output was added to the job since).
    Resume(u64, Option<SinkPosition>),
}

impl Sink {
    /// Open a sink.
    pub fn open(
        job: &LoadedJob,
        spec: &SinkSpec,
        start: SinkStart,
    ) -> Result<Sink, ConnectorError> {
        let (name, out) = match spec {
            SinkSpec::File { path } => {
                let path = job.resolve(path);
                let name = path.display().to_string();
                let out = match start {
                    SinkStart::Plain => {
                        let err = |e: std::io::Error| ConnectorError::Write {
                            sink: name.clone(),
                            message: format!("cannot create: {e}"),
                        };
                        if let Some(dir) = path.parent() {
                            std::fs::create_dir_all(dir).map_err(err)?;
                        }
                        let f = std::fs::File::create(&path).map_err(err)?;
                        Out::Stream(Box::new(BufWriter::with_capacity(1 << 20, f)))
                    }
                    SinkStart::Fresh | SinkStart::Resume(_, None) => {
                        Out::Staged(StagedFile::create(&path)?)
                    }
                    SinkStart::Resume(epoch, Some(pos)) => {
                        Out::Staged(StagedFile::recover(&path, epoch, pos)?)
                    }
                };
                (name, out)
            }
            SinkSpec::Stdout {} => (
                "stdout".into(),
                Out::Stream(Box::new(BufWriter::new(std::io::stdout()))),
            ),
            SinkSpec::Discard {} => ("discard".into(), Out::Discard),
        };
        Ok(Sink { name, out })
    }

    /// Write one payload as a line, as part of `epoch`.
    pub fn write(&mut self, epoch: u64, payload: &[u8]) -> Result<(), ConnectorError> {
        match &mut self.out {
            Out::Discard => Ok(()),
            Out::Stream(out) => out
                .write_all(payload)
                .and_then(|()| out.write_all(b"\n"))
                .map_err(|e| ConnectorError::Write {
                    sink: self.name.clone(),
                    message: e.to_string(),
                }),
            Out::Staged(f) => f.write(epoch, payload),
        }
    }

    /// Phase one of a checkpoint: make `epoch`'s output durable. `None` for
    /// outputs that are not transactional.
    pub fn pre_commit(&mut self, epoch: u64) -> Result<Option<SinkPosition>, ConnectorError> {
        match &mut self.out {
            Out::Staged(f) => f.pre_commit(epoch).map(Some),
            _ => self.flush().map(|()| None),
        }
    }

    /// Phase two: the checkpoint is complete; publish `epoch`'s output.
    pub fn publish(&mut self, epoch: u64) -> Result<(), ConnectorError> {
        match &mut self.out {
            Out::Staged(f) => f.publish(epoch),
            _ => Ok(()),
        }
    }

    /// Flush buffered lines (plain outputs).
    pub fn flush(&mut self) -> Result<(), ConnectorError> {
        if let Out::Stream(out) = &mut self.out {
            out.flush().map_err(|e| ConnectorError::Write {
                sink: self.name.clone(),
                message: e.to_string(),
            })?;
        }
        Ok(())
    }
}
