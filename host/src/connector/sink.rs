//! Sinks: JSON lines to a file or stdout, or discarded.

use super::ConnectorError;
use crate::job::{LoadedJob, SinkSpec};
use std::io::{BufWriter, Write};

/// An open sink.
pub struct Sink {
    name: String,
    out: Option<Box<dyn Write + Send>>,
}

impl Sink {
    /// Open (create or truncate) a sink.
    pub fn open(job: &LoadedJob, spec: &SinkSpec) -> Result<Sink, ConnectorError> {
        let (name, out): (String, Option<Box<dyn Write + Send>>) = match spec {
            SinkSpec::File { path } => {
                let path = job.resolve(path);
                let err = |e: std::io::Error| ConnectorError::Write {
                    sink: path.display().to_string(),
                    message: format!("cannot create: {e}"),
                };
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(err)?;
                }
                let f = std::fs::File::create(&path).map_err(err)?;
                (
                    path.display().to_string(),
                    Some(Box::new(BufWriter::with_capacity(1 << 20, f))),
                )
            }
            SinkSpec::Stdout {} => (
                "stdout".into(),
                Some(Box::new(BufWriter::new(std::io::stdout()))),
            ),
            SinkSpec::Discard {} => ("discard".into(), None),
        };
        Ok(Sink { name, out })
    }

    /// Write one payload as a line.
    pub fn write(&mut self, payload: &[u8]) -> Result<(), ConnectorError> {
        if let Some(out) = &mut self.out {
            out.write_all(payload)
                .and_then(|()| out.write_all(b"\n"))
                .map_err(|e| ConnectorError::Write {
                    sink: self.name.clone(),
                    message: e.to_string(),
                })?;
        }
        Ok(())
    }

    /// Flush buffered lines.
    pub fn flush(&mut self) -> Result<(), ConnectorError> {
        if let Some(out) = &mut self.out {
            out.flush().map_err(|e| ConnectorError::Write {
                sink: self.name.clone(),
                message: e.to_string(),
            })?;
        }
        Ok(())
    }
}
