//! Sinks: JSON lines to a file or stdout, records to Kafka, or discarded.
//!
//! In a job with checkpoints a file sink is exactly-once: it writes through
//! a [`StagedFile`] (two-phase commit). Standard output cannot take back
//! what it printed, so after a restart it repeats the records since the last
//! checkpoint (at-least-once). A Kafka sink is what its `delivery` says (see
//! [`super::kafka::producer`]).

use super::ConnectorError;
use super::kafka::producer::Outgoing;
use super::kafka::{KafkaOutputs, KafkaProducer};
use super::postgres::{self, PostgresSink};
use super::staged_file::StagedFile;
use crate::budget::Budgets;
use crate::checkpoint::SinkPosition;
use crate::event::Event;
use crate::job::{KafkaSinkSpec, LoadedJob, SinkSpec};
use std::io::{BufWriter, Write};
use std::sync::Arc;

/// An open sink.
pub struct Sink {
    name: String,
    out: Out,
    /// File outputs charge the bytes they write to the job's disk budget.
    disk: Option<Arc<Budgets>>,
}

/// What file outputs are called in a budget refusal.
const WHAT: &str = "file outputs";

enum Out {
    Discard,
    Stream(Box<dyn Write + Send>),
    Staged(StagedFile),
    Kafka(KafkaOut),
    Postgres(Box<PostgresSink>),
}

/// A Kafka output: the job's shared producer and where records go.
struct KafkaOut {
    producer: Arc<KafkaProducer>,
    spec: KafkaSinkSpec,
}

impl KafkaOut {
    fn send(
        &self,
        epoch: u64,
        value: &[u8],
        key: Option<&[u8]>,
        headers: &[(String, Vec<u8>)],
    ) -> Result<(), ConnectorError> {
        let field_key;
        let key = match &self.spec.key_field {
            Some(f) => {
                field_key = crate::json::key(value, f);
                field_key.as_deref()
            }
            None => key,
        };
        let field_topic;
        let topic = match &self.spec.topic_field {
            Some(f) => {
                field_topic = crate::json::key(value, f)
                    .and_then(|t| String::from_utf8(t).ok())
                    .filter(|t| !t.is_empty());
                field_topic.as_deref().unwrap_or(&self.spec.topic)
            }
            None => &self.spec.topic,
        };
        self.producer.send(
            epoch,
            &Outgoing {
                topic,
                key,
                value,
                headers,
            },
        )
    }
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
    /// Open a sink, the job's output `output` (its key in a checkpoint:
    /// `sink`, `sinks.<name>`, …); a file output charges what it holds and
    /// writes to `budgets`' disk.
    pub fn open(
        job: &LoadedJob,
        output: &str,
        spec: &SinkSpec,
        start: SinkStart,
        kafka: &KafkaOutputs,
        budgets: &Arc<Budgets>,
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
            SinkSpec::Kafka(k) => {
                let producer = kafka
                    .producer()
                    .cloned()
                    .ok_or_else(|| ConnectorError::Write {
                        sink: format!("kafka {}", k.topic),
                        message: "the job's Kafka producer was not opened".into(),
                    })?;
                (
                    format!("kafka {}", k.topic),
                    Out::Kafka(KafkaOut {
                        producer,
                        spec: k.clone(),
                    }),
                )
            }
            SinkSpec::Postgres(p) => {
                let dir = crate::checkpoint::coordinator::checkpoint_dir(job);
                let start = match (start, &dir) {
                    (SinkStart::Plain, _) | (_, None) => postgres::Start::Direct,
                    (SinkStart::Fresh, Some(d)) => postgres::Start::Fresh(d),
                    (SinkStart::Resume(e, _), Some(d)) => postgres::Start::Resume(d, e),
                };
                let sink = PostgresSink::open(&job.spec.name, output, p, start, budgets)?;
                (
                    format!("postgres {}", postgres::address(&p.url)),
                    Out::Postgres(Box::new(sink)),
                )
            }
        };
        let disk = match spec {
            SinkSpec::File { path } => {
                // What a resumed output already holds counts too.
                let held = std::fs::metadata(job.resolve(path)).map_or(0, |m| m.len());
                budgets.disk.charge(WHAT, held)?;
                Some(budgets.clone())
            }
            _ => None,
        };
        Ok(Sink { name, out, disk })
    }

    /// Whether it drops what it is given (a `discard` sink only counts).
    pub fn discards(&self) -> bool {
        matches!(self.out, Out::Discard)
    }

    /// Write one payload as a line, as part of `epoch`.
    pub fn write(&mut self, epoch: u64, payload: &[u8]) -> Result<(), ConnectorError> {
        if let Some(b) = &self.disk {
            b.disk.charge(WHAT, payload.len() as u64 + 1)?;
        }
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
            Out::Kafka(k) => k.send(epoch, payload, None, &[]),
            Out::Postgres(p) => p.write(epoch, payload),
        }
    }

    /// Write a record of the main output: a Kafka sink keeps its key and
    /// headers; other sinks write its value as a line.
    pub fn write_event(&mut self, epoch: u64, event: &Event) -> Result<(), ConnectorError> {
        match &mut self.out {
            Out::Kafka(k) => k.send(epoch, &event.value, event.key.as_deref(), &event.headers),
            _ => self.write(epoch, &event.value),
        }
    }

    /// Write a dead letter: to Kafka the record itself with the error in
    /// headers (`weir.stage`, `weir.reason`, …), elsewhere the JSON `line`.
    pub fn write_dead_letter(
        &mut self,
        epoch: u64,
        line: &[u8],
        record: &[u8],
        headers: &[(String, Vec<u8>)],
    ) -> Result<(), ConnectorError> {
        match &mut self.out {
            Out::Kafka(k) => k.send(epoch, record, None, headers),
            _ => self.write(epoch, line),
        }
    }

    /// Phase one of a checkpoint: make `epoch`'s output durable. `None` for
    /// outputs that are not transactional.
    pub fn pre_commit(&mut self, epoch: u64) -> Result<Option<SinkPosition>, ConnectorError> {
        match &mut self.out {
            Out::Staged(f) => f.pre_commit(epoch).map(Some),
            Out::Kafka(k) => k.producer.prepare(epoch).map(|()| None),
            Out::Postgres(p) => p.pre_commit(epoch).map(|()| None),
            _ => self.flush().map(|()| None),
        }
    }

    /// Phase two: the checkpoint is complete; publish `epoch`'s output.
    pub fn publish(&mut self, epoch: u64) -> Result<(), ConnectorError> {
        match &mut self.out {
            Out::Staged(f) => f.publish(epoch),
            Out::Kafka(k) => k.producer.commit(epoch),
            Out::Postgres(p) => p.publish(epoch),
            _ => Ok(()),
        }
    }

    /// Flush buffered lines (plain outputs).
    pub fn flush(&mut self) -> Result<(), ConnectorError> {
        match &mut self.out {
            Out::Stream(out) => out.flush().map_err(|e| ConnectorError::Write {
                sink: self.name.clone(),
                message: e.to_string(),
            }),
            Out::Kafka(k) => k.producer.finish(),
            Out::Postgres(p) => p.flush(),
            _ => Ok(()),
        }
    }
}
