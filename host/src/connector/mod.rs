//! Sources and sinks.
//!
//! A source yields raw payloads (JSON objects, or opaque bytes from a raw
//! Kafka topic) with their position (for error messages and checkpoints);
//! the runtime extracts event time and assigns watermarks per input
//! (partition). Sinks write payloads as JSON lines, or to Kafka.

pub mod datagen;
pub mod file;
pub mod kafka;
pub mod nexmark;
pub mod postgres;
pub mod rng;
pub mod sink;
pub mod staged_file;
pub mod stdin;
pub mod throttle;

pub use sink::{Sink, SinkStart};

use crate::job::{LoadedJob, SourceSpec};
use std::collections::BTreeMap;

/// One record as read, before decoding.
#[derive(Debug, Clone)]
pub struct RawRecord {
    /// The payload (one JSON line, without the newline; a Kafka value).
    pub payload: Vec<u8>,
    /// Position in the input: line number for files and stdin, row for
    /// datagen, offset in its partition for Kafka.
    pub offset: u64,
    /// Which of the source's inputs (Kafka partitions) it came from; each
    /// input has its own watermark. 0 for single-input sources.
    pub input: usize,
    /// The record's key, if the source has keys (Kafka).
    pub key: Option<Vec<u8>>,
    /// The source's own timestamp (Kafka), the event time when the job
    /// names no event-time field.
    pub timestamp: Option<i64>,
    /// Headers (Kafka), handed to operators and on to Kafka sinks.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl RawRecord {
    /// A line of a single-input source: no key, timestamp or headers.
    pub fn line(payload: Vec<u8>, offset: u64) -> Self {
        Self {
            payload,
            offset,
            input: 0,
            key: None,
            timestamp: None,
            headers: Vec::new(),
        }
    }
}

/// Lines of a line source (file, stdin) read into one buffer: a batch
/// without an allocation per record. A job whose source decodes columns
/// hands the buffer to the JSON decoder as it is.
#[derive(Debug, Default)]
pub struct Lines {
    data: Vec<u8>,
    /// Where each line is in `data`.
    spans: Vec<(usize, usize)>,
    /// Each line's number in the input (from 1).
    numbers: Vec<u64>,
}

impl Lines {
    /// Lines.
    pub fn len(&self) -> usize {
        self.spans.len()
    }
    /// No lines.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
    /// Line `i`'s bytes.
    pub fn line(&self, i: usize) -> &[u8] {
        let (a, b) = self.spans[i];
        &self.data[a..b]
    }
    /// Line `i`'s number in the input.
    pub fn number(&self, i: usize) -> u64 {
        self.numbers[i]
    }
    /// Every line's bytes, in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.spans.iter().map(|&(a, b)| &self.data[a..b])
    }
    /// Each line as a record of its own.
    pub fn into_records(self) -> Vec<RawRecord> {
        (0..self.len())
            .map(|i| RawRecord::line(self.line(i).to_vec(), self.numbers[i]))
            .collect()
    }
}

/// A batch a source read: records, or lines in one buffer, or typed
/// columns made by the source itself.
#[derive(Debug)]
pub enum SourceBatch {
    /// Records, each with its own payload.
    Records(Vec<RawRecord>),
    /// Lines of a line source.
    Lines(Lines),
    /// Typed columns (see [`Source::read_columns`]).
    Columns(arrow_array::RecordBatch),
}

impl SourceBatch {
    /// The host memory it takes: payloads, and per record its struct or
    /// its line's span and number.
    pub fn bytes(&self) -> u64 {
        match self {
            SourceBatch::Records(r) => r
                .iter()
                .map(|r| {
                    let headers: usize = r.headers.iter().map(|(k, v)| k.len() + v.len()).sum();
                    (std::mem::size_of::<RawRecord>()
                        + r.payload.len()
                        + r.key.as_ref().map_or(0, Vec::len)
                        + headers) as u64
                })
                .sum(),
            SourceBatch::Lines(l) => (l.data.len() + 24 * l.len()) as u64,
            SourceBatch::Columns(c) => c.get_array_memory_size() as u64,
        }
    }
    /// Records or lines in it.
    pub fn len(&self) -> usize {
        match self {
            SourceBatch::Records(r) => r.len(),
            SourceBatch::Lines(l) => l.len(),
            SourceBatch::Columns(c) => c.num_rows(),
        }
    }
    /// Nothing in it.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// As records, each with its own payload; columns as JSON objects
    /// (a source makes columns only when asked to, by a reader of columns
    /// alone, so this is a fallback).
    pub fn into_records(self) -> Vec<RawRecord> {
        match self {
            SourceBatch::Records(r) => r,
            SourceBatch::Lines(l) => l.into_records(),
            SourceBatch::Columns(c) => {
                let mut text = Vec::new();
                let mut w = arrow_json::LineDelimitedWriter::new(&mut text);
                // Writing generated columns (integers, text, timestamps)
                // into memory does not fail.
                let _ = w.write(&c).and_then(|()| w.finish());
                text.split(|&b| b == b'\n')
                    .filter(|l| !l.is_empty())
                    .zip(1..)
                    .map(|(l, n)| RawRecord::line(l.to_vec(), n))
                    .collect()
            }
        }
    }
}

/// What a poll found.
#[derive(Debug)]
pub enum Poll {
    /// Some records (never empty).
    Records(Vec<RawRecord>),
    /// Some lines of a line source, in one buffer (never empty).
    Lines(Lines),
    /// Some rows as typed columns (never empty), from a source that was
    /// asked for them ([`Source::read_columns`]).
    Columns(arrow_array::RecordBatch),
    /// Nothing right now: a blocking source waited a while for input.
    Idle,
    /// Nothing before this instant (a rate limit); for a source that says
    /// when it is [`Source::ready`], nothing now, and wait until then at
    /// most.
    Wait(std::time::Instant),
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
    /// A Kafka client failed, or Kafka refused what it was asked.
    #[error("Kafka {client} at {brokers}: {action}: {message}")]
    Kafka {
        /// `source orders`, `sink out`, …
        client: String,
        /// The bootstrap servers.
        brokers: String,
        /// What weir was doing, e.g. `committing the transaction of epoch 7`.
        action: String,
        /// Kafka's error, and what to do.
        message: String,
    },
    /// PostgreSQL refused what a sink asked, or could not be reached.
    #[error("sink {sink}: {action}: {message}")]
    Postgres {
        /// `postgres host:port/db table t` (never the password).
        sink: String,
        /// What weir was doing, e.g. `writing the rows of epoch 7`.
        action: String,
        /// The server's error.
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
    /// A file output grew past the job's disk budget.
    #[error(transparent)]
    OverBudget(#[from] crate::budget::OverBudget),
}

/// A source of records.
pub trait Source: Send {
    /// Up to `max` records, or idle/end.
    fn poll(&mut self, max: usize) -> Result<Poll, ConnectorError>;
    /// Whether `poll` blocks while it waits for input (up to about 100
    /// ms): the source task then polls it off the worker pool's threads.
    fn blocks(&self) -> bool {
        false
    }
    /// For a source whose `poll` never blocks: what tells that input may
    /// have come (Kafka: librdkafka's queue became non-empty). When a poll
    /// finds nothing, the source task waits for it — or a stop, a barrier,
    /// its next tick — holding no thread.
    fn ready(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        None
    }
    /// Make batches of typed columns from now on, with the fields of
    /// `schema` (by name; the reader casts them to its types), instead of
    /// records: the source task asks when every reader of the source
    /// reads only columns. Returns whether the source will: a generator
    /// that makes its values can put them in columns with no JSON text
    /// between (Nexmark's tables); other sources read bytes and decline.
    fn read_columns(&mut self, _schema: &arrow_schema::Schema) -> bool {
        false
    }
    /// Human-readable location of an offset of an input, e.g.
    /// `input.jsonl:17` or `orders[2]@1041`.
    fn location(&self, input: usize, offset: u64) -> String;
    /// How many inputs (partitions) the source has; each has its own
    /// watermark, and the source's is their minimum.
    fn inputs(&self) -> usize {
        1
    }
    /// Checkpoint with this position completed: a Kafka source commits
    /// the offsets to its consumer group (for monitoring and
    /// `start = "committed"`; weir resumes from its checkpoints). `last`:
    /// the job ends after this, so wait for the commit.
    fn checkpoint_complete(&mut self, _position: &SourcePosition, _last: bool) {}
    /// Records available but not read yet (Kafka consumer lag), if known.
    fn lag(&self) -> Option<u64> {
        None
    }
    /// The same per partition: (topic, partition, records not read yet).
    fn partition_lag(&self) -> Vec<(String, i32, u64)> {
        Vec::new()
    }
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
    /// Kafka: the next offset to read, per topic and partition.
    Kafka {
        /// Topic → `[partition, next offset]` pairs (pairs, not a map: JSON
        /// object keys are strings).
        offsets: BTreeMap<String, Vec<(i32, i64)>>,
    },
}

/// Open the job's source.
pub fn open_source(job: &LoadedJob) -> Result<Box<dyn Source>, ConnectorError> {
    open(job, &job.spec.source)
}

/// Open one of the job's sources: `[source]` or one of `[[sources]]`.
pub fn open(job: &LoadedJob, source: &SourceSpec) -> Result<Box<dyn Source>, ConnectorError> {
    Ok(match source {
        SourceSpec::File { path, rate, .. } => {
            Box::new(file::FileSource::open(&job.resolve(path), *rate)?)
        }
        SourceSpec::Stdin { .. } => Box::new(stdin::StdinSource::spawn()),
        SourceSpec::Datagen(spec) => Box::new(datagen::Datagen::new(spec.clone())),
        SourceSpec::Kafka(spec) => Box::new(kafka::KafkaSource::open(&job.spec.name, spec)?),
    })
}
