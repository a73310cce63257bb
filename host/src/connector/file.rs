//! JSON lines from a file: a bounded source. Blank lines are skipped.

use super::throttle::Throttle;
use super::{ConnectorError, Lines, Poll, Source, SourcePosition};
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

/// Read up to `max` non-blank lines from `reader` into one buffer,
/// counting lines in `line` and bytes in `byte`.
pub(crate) fn read_lines(
    reader: &mut impl BufRead,
    line: &mut u64,
    byte: &mut u64,
    max: usize,
) -> std::io::Result<Option<Lines>> {
    let mut out = Lines::default();
    out.data.reserve(64 << 10);
    while out.len() < max {
        let start = out.data.len();
        let n = reader.read_until(b'\n', &mut out.data)?;
        if n == 0 {
            break;
        }
        *byte += n as u64;
        *line += 1;
        let mut end = out.data.len();
        while end > start && matches!(out.data[end - 1], b'\n' | b'\r') {
            end -= 1;
        }
        if out.data[start..end].iter().all(u8::is_ascii_whitespace) {
            out.data.truncate(start);
            continue;
        }
        out.data.truncate(end);
        out.spans.push((start, end));
        out.numbers.push(*line);
    }
    Ok((!out.is_empty()).then_some(out))
}

impl Source for FileSource {
    fn poll(&mut self, max: usize) -> Result<Poll, ConnectorError> {
        if let Err(due) = self.throttle.ready(self.released, max as u64) {
            return Ok(Poll::Wait(due));
        }
        match read_lines(&mut self.reader, &mut self.line, &mut self.byte, max) {
            Ok(Some(lines)) => {
                self.released += lines.len() as u64;
                Ok(Poll::Lines(lines))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_share_one_buffer_skip_blanks_and_keep_their_numbers() {
        let text = b"{\"a\":1}\r\n\n   \n{\"a\":2}\n{\"a\":3}";
        let mut reader = std::io::Cursor::new(&text[..]);
        let (mut line, mut byte) = (0, 0);
        let first = read_lines(&mut reader, &mut line, &mut byte, 2)
            .unwrap()
            .unwrap();
        assert_eq!(
            first.iter().collect::<Vec<_>>(),
            [&b"{\"a\":1}"[..], b"{\"a\":2}"]
        );
        assert_eq!((first.number(0), first.number(1)), (1, 4));
        let rest = read_lines(&mut reader, &mut line, &mut byte, 2)
            .unwrap()
            .unwrap();
        assert_eq!(rest.line(0), b"{\"a\":3}");
        assert_eq!(rest.number(0), 5);
        assert_eq!(byte, text.len() as u64);
        assert!(
            read_lines(&mut reader, &mut line, &mut byte, 2)
                .unwrap()
                .is_none()
        );
        let records = first.into_records();
        assert_eq!(
            (records[1].payload.as_slice(), records[1].offset),
            (&b"{\"a\":2}"[..], 4)
        );
    }
}
