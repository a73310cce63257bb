//! JSON lines from standard input, bounded by end of input.
//!
//! A reader thread feeds a channel so that, while stdin is quiet, the job
//! still sees time pass (processing-time windows fire, idle inputs stop
//! holding the watermark back).

use super::{ConnectorError, Lines, Poll, Source, SourcePosition};
use std::io::BufReader;
use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};
use std::time::Duration;

/// How long a poll waits for input before reporting idle.
const POLL_WAIT: Duration = Duration::from_millis(100);

/// Reads stdin on a background thread.
pub struct StdinSource {
    rx: Receiver<Result<Lines, ReadFailed>>,
}

/// Reading stdin failed at a line.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {error}")]
struct ReadFailed {
    line: u64,
    error: std::io::Error,
}

impl StdinSource {
    /// Start reading stdin.
    pub fn spawn() -> Self {
        let (tx, rx) = sync_channel(4);
        std::thread::spawn(move || {
            let mut reader = BufReader::new(std::io::stdin().lock());
            let (mut line, mut byte) = (0, 0);
            loop {
                let msg = match super::file::read_lines(&mut reader, &mut line, &mut byte, 1024) {
                    Ok(Some(batch)) => Ok(batch),
                    Ok(None) => break,
                    Err(error) => Err(ReadFailed {
                        line: line + 1,
                        error,
                    }),
                };
                let failed = msg.is_err();
                if tx.send(msg).is_err() || failed {
                    break;
                }
            }
        });
        Self { rx }
    }
}

impl Source for StdinSource {
    fn blocks(&self) -> bool {
        true
    }

    fn poll(&mut self, _max: usize) -> Result<Poll, ConnectorError> {
        match self.rx.recv_timeout(POLL_WAIT) {
            Ok(Ok(batch)) => Ok(Poll::Lines(batch)),
            Ok(Err(failed)) => Err(ConnectorError::Read {
                source_name: "stdin".into(),
                location: "stdin".into(),
                message: failed.to_string(),
            }),
            Err(RecvTimeoutError::Timeout) => Ok(Poll::Idle),
            Err(RecvTimeoutError::Disconnected) => Ok(Poll::End),
        }
    }

    fn location(&self, _input: usize, offset: u64) -> String {
        format!("stdin:{offset}")
    }

    fn position(&self) -> Option<SourcePosition> {
        None
    }

    fn seek(&mut self, _: &SourcePosition) -> Result<(), ConnectorError> {
        Err(ConnectorError::Position {
            source_name: "stdin".into(),
            message: "standard input cannot be read again".into(),
        })
    }
}
