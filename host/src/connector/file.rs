//! JSON lines from a file: a bounded source. Blank lines are skipped.

use super::{ConnectorError, Poll, RawRecord, Source};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// Reads a JSON-lines file.
pub struct FileSource {
    path: PathBuf,
    reader: BufReader<File>,
    line: u64,
}

impl FileSource {
    /// Open `path`.
    pub fn open(path: &Path) -> Result<Self, ConnectorError> {
        let file = File::open(path).map_err(|e| ConnectorError::Read {
            source_name: path.display().to_string(),
            location: "open".into(),
            message: format!("{e} (check source.path in the job file; relative paths start at the job file's directory)"),
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(1 << 20, file),
            line: 0,
        })
    }
}

/// Read up to `max` non-blank lines from `reader`, counting lines in `line`.
pub(crate) fn read_lines(
    reader: &mut impl BufRead,
    line: &mut u64,
    max: usize,
) -> std::io::Result<Option<Vec<RawRecord>>> {
    let mut out = Vec::with_capacity(max.min(4096));
    let mut buf = Vec::new();
    while out.len() < max {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        *line += 1;
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        out.push(RawRecord {
            payload: std::mem::take(&mut buf),
            offset: *line,
        });
    }
    Ok((!out.is_empty()).then_some(out))
}

impl Source for FileSource {
    fn poll(&mut self, max: usize) -> Result<Poll, ConnectorError> {
        match read_lines(&mut self.reader, &mut self.line, max) {
            Ok(Some(records)) => Ok(Poll::Records(records)),
            Ok(None) => Ok(Poll::End),
            Err(e) => Err(ConnectorError::Read {
                source_name: self.path.display().to_string(),
                location: format!("line {}", self.line + 1),
                message: e.to_string(),
            }),
        }
    }

    fn location(&self, offset: u64) -> String {
        format!("{}:{offset}", self.path.display())
    }
}
