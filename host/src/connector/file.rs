//! JSON lines from a file: a bounded source. Blank lines are skipped.

use super::throttle::Throttle;
use super::{ConnectorError, Poll, RawRecord, Source, SourcePosition};
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Reads a JSON-lines file.
pub struct FileSource {
    path: PathBuf,
    reader: BufReader<File>,
    line: u64,
    /// Bytes consumed: the position of the next line.
    byte: u64,
    /// Non-blank lines released (what the rate limit counts).
    released: u64,
    throttle: Throttle,
}

impl FileSource {
    /// Open `path`, to be read at most `rate` records/s (0: unlimited).
    pub fn open(path: &Path, rate: u64) -> Result<Self, ConnectorError> {
        let file = File::open(path).map_err(|e| ConnectorError::Read {
            source_name: path.display().to_string(),
            location: "open".into(),
            message: format!("{e} (check source.path in the job file; relative paths start at the job file's directory)"),
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(1 << 20, file),
            line: 0,
            byte: 0,
            released: 0,
            throttle: Throttle::new(rate),
        })
    }
}

/// Read up to `max` non-blank lines from `reader`, counting lines in `line`
/// and bytes in `byte`.
pub(crate) fn read_lines(
    reader: &mut impl BufRead,
    line: &mut u64,
    byte: &mut u64,
    max: usize,
) -> std::io::Result<Option<Vec<RawRecord>>> {
    let mut out = Vec::with_capacity(max.min(4096));
    let mut buf = Vec::new();
    while out.len() < max {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        *byte += n as u64;
        *line += 1;
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        // One exact allocation per line; `buf` keeps its capacity (taking
        // it would make every next line grow a new buffer from nothing).
        out.push(RawRecord::line(buf.as_slice().to_vec(), *line));
    }
    Ok((!out.is_empty()).then_some(out))
}

impl Source for FileSource {
    fn poll(&mut self, max: usize) -> Result<Poll, ConnectorError> {
        if !self.throttle.ready(self.released, max as u64) {
            return Ok(Poll::Idle);
        }
        match read_lines(&mut self.reader, &mut self.line, &mut self.byte, max) {
            Ok(Some(records)) => {
                self.released += records.len() as u64;
                Ok(Poll::Records(records))
            }
            Ok(None) => Ok(Poll::End),
            Err(e) => Err(ConnectorError::Read {
                source_name: self.path.display().to_string(),
                location: format!("line {}", self.line + 1),
                message: e.to_string(),
            }),
        }
    }

    fn location(&self, _input: usize, offset: u64) -> String {
        format!("{}:{offset}", self.path.display())
    }

    fn position(&self) -> Option<SourcePosition> {
        Some(SourcePosition::File {
            byte: self.byte,
            line: self.line,
        })
    }

    fn seek(&mut self, position: &SourcePosition) -> Result<(), ConnectorError> {
        let SourcePosition::File { byte, line } = *position else {
            return Err(ConnectorError::Position {
                source_name: self.path.display().to_string(),
                message: format!("a checkpoint of another kind of source: {position:?}"),
            });
        };
        let len = self
            .reader
            .get_ref()
            .metadata()
            .map(|m| m.len())
            .unwrap_or(0);
        if byte > len {
            return Err(ConnectorError::Position {
                source_name: self.path.display().to_string(),
                message: format!(
                    "the checkpoint is at byte {byte}, but the file has only {len} bytes: it was replaced or truncated since; start afresh with --fresh"
                ),
            });
        }
        self.reader
            .seek(SeekFrom::Start(byte))
            .map_err(|e| ConnectorError::Read {
                source_name: self.path.display().to_string(),
                location: format!("byte {byte}"),
                message: e.to_string(),
            })?;
        (self.byte, self.line) = (byte, line);
        // Blank lines are not records, but the rate is approximate anyway.
        self.released = line;
        self.throttle.resume(line);
        Ok(())
    }
}
