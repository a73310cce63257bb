//! Sources and sinks.
//!
//! A source yields raw JSON-lines payloads with their position (for error
//! messages); the runtime extracts event time and assigns watermarks. Sinks
//! write payloads as JSON lines. Kafka joins them in a later version.

pub mod datagen;
pub mod file;
pub mod sink;
pub mod staged_file;
pub mod stdin;
pub mod throttle;

pub use sink::{Sink, SinkStart};

use crate::job::{LoadedJob, SourceSpec};

/// One record as read, before decoding.
#[derive(Debug, Clone)]
pub struct RawRecord {
    /// The payload (one JSON line, without the newline).
    pub payload: Vec<u8>,
    /// Position in the input: line number for files and stdin, row for datagen.
    pub offset: u64,
}

/// What a poll found.
#[derive(Debug)]
pub enum Poll {
    /// Some records (never empty).
    Records(Vec<RawRecord>),
    /// Nothing right now (waiting for input, or rate-limited).
    Idle,
    /// The input is exhausted.
    End,
}

/// Why a connector failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// Reading the input failed.
    #[error("source {source_name}: cannot read at {location}: {message}")]
    Read {
        /// The source, e.g. the file.
        source_name: String,
        /// Where.
        location: String,
        /// The I/O error.
        message: String,
    },
    /// A checkpointed position does not fit this source.
    #[error("source {source_name}: cannot resume: {message}")]
    Position {
        /// The source.
        source_name: String,
        /// Why.
        message: String,
    },
    /// Writing an output failed.
    #[error("sink {sink}: {message}")]
    Write {
        /// The sink.
        sink: String,
        /// What happened.
        message: String,
    },
}

/// A source of records.
pub trait Source: Send {
    /// Up to `max` records, or idle/end.
    fn poll(&mut self, max: usize) -> Result<Poll, ConnectorError>;
    /// Human-readable location of an offset, e.g. `input.jsonl:17`.
    fn location(&self, offset: u64) -> String;
    /// Where the source is now, for a checkpoint: reading again from here
    /// yields exactly the records after the last one polled. `None` for a
    /// source that cannot be read again (stdin).
    fn position(&self) -> Option<SourcePosition>;
    /// Continue from a position `position` returned (in an earlier run).
    fn seek(&mut self, position: &SourcePosition) -> Result<(), ConnectorError>;
}

/// A source's position in a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SourcePosition {
    /// A file: byte offset of the next line, and lines read before it.
    File {
        /// Next byte to read.
        byte: u64,
        /// Lines read so far (for error locations).
        line: u64,
    },
    /// The generator: rows produced and the random state after them.
    Datagen {
        /// Rows produced.
        row: u64,
        /// SplitMix64 state.
        rng: u64,
    },
}

/// Open the job's source.
pub fn open_source(job: &LoadedJob) -> Result<Box<dyn Source>, ConnectorError> {
    Ok(match &job.spec.source {
        SourceSpec::File { path, rate } => {
            Box::new(file::FileSource::open(&job.resolve(path), *rate)?)
        }
        SourceSpec::Stdin {} => Box::new(stdin::StdinSource::spawn()),
        SourceSpec::Datagen(spec) => Box::new(datagen::Datagen::new(spec.clone())),
    })
}
