//! The Kafka source: every partition of the job's topics, read by one
//! consumer with manual assignment.
//!
//! weir does not let Kafka decide where reading resumes: offsets live in the
//! job's checkpoints and are assigned from them on restore, so the source's
//! position, the operators' state and the sinks' output of one checkpoint
//! always belong together (auto-commit is off). After each completed
//! checkpoint the offsets are also committed to the consumer group, for lag
//! monitoring and for `start = "committed"`.
//!
//! Each partition is one *input* of the source with its own watermark; the
//! source's watermark is the minimum over partitions (an idle partition
//! drops out after `event_time.idle_timeout`), as in Flink's Kafka source.
//! Start positions are resolved to concrete offsets when the job starts, so
//! the very first checkpoint already names where every partition stands.
//!
//! A `bounded` source captures each partition's end offset at start and
//! stops when it has read up to it (or the partition reports its end).

use super::{QuietLog, client_error, consumer_config};
use crate::connector::{ConnectorError, Poll, RawRecord, Source, SourcePosition};
use crate::job::{KafkaSourceSpec, KafkaStart};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientContext, Offset, Statistics, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long metadata and offset look-ups may take before the job fails
/// with a clear error (the broker is unreachable or the topic is missing).
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the source task waits, when a poll found nothing, before it
/// polls again without being told of input: librdkafka's statistics
/// (every second) and every record, error or end of a partition wake it
/// sooner ([`Source::ready`]).
const IDLE_WAIT: Duration = Duration::from_secs(1);
/// Empty answers in a row after which a poll takes librdkafka's queue for
/// empty (an answer is also empty when a poll only served an event).
const QUIET_POLLS: u32 = 8;

/// The end of each partition as librdkafka last saw it: (topic,
/// partition) → last stable offset (what a `read_committed` reader can read).
type Ends = Arc<Mutex<BTreeMap<(String, i32), i64>>>;

/// Consumer callbacks: partition ends from librdkafka's statistics (for
/// the lag), errors to the log.
struct Context {
    ends: Ends,
    quiet: QuietLog,
}

impl ClientContext for Context {
    fn stats(&self, statistics: Statistics) {
        let mut ends = self.ends.lock().unwrap_or_else(|p| p.into_inner());
        for t in statistics.topics.values() {
            for p in t.partitions.values().filter(|p| p.partition >= 0) {
                let end = if p.ls_offset >= 0 {
                    p.ls_offset
                } else {
                    p.hi_offset
                };
                if end >= 0 {
                    ends.insert((t.topic.clone(), p.partition), end);
                }
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // Reaching the end of a partition is no error.
        if !matches!(error, KafkaError::PartitionEOF(_))
            && error.rdkafka_error_code() != Some(RDKafkaErrorCode::PartitionEOF)
        {
            self.quiet.error(&error, reason);
        }
    }

    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
        self.quiet.log(level, fac, message);
    }
}

impl ConsumerContext for Context {}

type Index = BTreeMap<String, BTreeMap<i32, usize>>;

/// One partition being read.
struct Partition {
    topic: String,
    partition: i32,
    /// Next offset to read.
    next: i64,
    /// With `bounded`: the end offset captured at start.
    end: Option<i64>,
}

/// A Kafka source.
pub struct KafkaSource {
    consumer: BaseConsumer<Context>,
    spec: KafkaSourceSpec,
    client: String,
    partitions: Vec<Partition>,
    /// Topic → partition → index in `partitions` (the watermark input);
    /// looked up per record without allocating.
    index: Index,
    ends: Ends,
    last_error_log: Option<Instant>,
    /// Notified by librdkafka when its queue becomes non-empty.
    ready: Arc<tokio::sync::Notify>,
}

impl KafkaSource {
    /// Connect, find every partition of the topics and resolve the start
    /// offsets (a later [`Source::seek`] replaces them with a checkpoint's).
    pub fn open(job: &str, spec: &KafkaSourceSpec) -> Result<KafkaSource, ConnectorError> {
        let client = format!("source {}", spec.topics.join(","));
        let err = |action: &str| {
            client_error(
                &format!("source {}", spec.topics.join(",")),
                &spec.brokers,
                action,
            )
        };
        let group = spec.group.clone().unwrap_or_else(|| format!("weir.{job}"));
        let ends = Ends::default();
        let client_id = format!("weir.{job}.source");
        let mut consumer: BaseConsumer<Context> = consumer_config(
            &spec.brokers,
            &group,
            &client_id,
            &spec.properties,
            &[
                ("statistics.interval.ms", "1000"),
                // A checkpointed offset that retention already deleted must
                // fail the job, not silently skip to another offset.
                ("auto.offset.reset", "error"),
                (
                    "enable.partition.eof",
                    if spec.bounded { "true" } else { "false" },
                ),
            ],
        )
        .create_with_context(Context {
            ends: ends.clone(),
            quiet: QuietLog::new("source"),
        })
        .map_err(err("creating the consumer"))?;
        // Polls never block: the source task waits for this instead, so an
        // idle Kafka job holds no thread.
        let ready = Arc::new(tokio::sync::Notify::new());
        {
            let ready = ready.clone();
            consumer.set_nonempty_callback(move || ready.notify_one());
        }
        let mut partitions = Vec::new();
        for topic in &spec.topics {
            let metadata = consumer
                .fetch_metadata(Some(topic), LOOKUP_TIMEOUT)
                .map_err(err(&format!(
                    "looking up topic `{topic}` (is the broker reachable?)"
                )))?;
            let t = metadata
                .topics()
                .iter()
                .find(|t| t.name() == topic)
                .filter(|t| t.error().is_none() && !t.partitions().is_empty())
                .ok_or_else(|| ConnectorError::Kafka {
                    client: client.clone(),
                    brokers: spec.brokers.clone(),
                    action: format!("looking up topic `{topic}`"),
                    message: "the topic does not exist; create it (kafka-topics --create) or check the name".into(),
                })?;
            let mut ids: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
            ids.sort_unstable();
            for p in ids {
                partitions.push(Partition {
                    topic: topic.clone(),
                    partition: p,
                    next: 0,
                    end: None,
                });
            }
        }
        let mut source = KafkaSource {
            index: {
                let mut index = Index::new();
                for (i, p) in partitions.iter().enumerate() {
                    index
                        .entry(p.topic.clone())
                        .or_default()
                        .insert(p.partition, i);
                }
                index
            },
            consumer,
            spec: spec.clone(),
            client,
            partitions,
            ends,
            last_error_log: None,
            ready,
        };
        source.resolve_start()?;
        if spec.bounded {
            for i in 0..source.partitions.len() {
                let (topic, p) = (
                    source.partitions[i].topic.clone(),
                    source.partitions[i].partition,
                );
                let (_, high) = source
                    .consumer
                    .fetch_watermarks(&topic, p, LOOKUP_TIMEOUT)
                    .map_err(err(&format!("reading the end offset of {topic}[{p}]")))?;
                source.partitions[i].end = Some(high);
            }
        }
        source.assign()?;
        Ok(source)
    }

    fn err(&self, action: &str) -> impl FnOnce(KafkaError) -> ConnectorError + use<> {
        client_error(&self.client, &self.spec.brokers, action)
    }

    /// Turn `start` into a concrete offset per partition.
    fn resolve_start(&mut self) -> Result<(), ConnectorError> {
        let mut tpl = TopicPartitionList::new();
        for p in &self.partitions {
            tpl.add_partition(&p.topic, p.partition);
        }
        let resolved: Option<TopicPartitionList> = match self.spec.start {
            KafkaStart::Earliest | KafkaStart::Latest => None,
            KafkaStart::Committed => Some(
                self.consumer
                    .committed_offsets(tpl, LOOKUP_TIMEOUT)
                    .map_err(self.err("reading the group's committed offsets"))?,
            ),
            KafkaStart::Timestamp => {
                let ts = self.spec.start_timestamp.unwrap_or(0);
                let mut times = TopicPartitionList::new();
                for p in &self.partitions {
                    times
                        .add_partition_offset(&p.topic, p.partition, Offset::Offset(ts))
                        .map_err(self.err("building the timestamp look-up"))?;
                }
                Some(
                    self.consumer
                        .offsets_for_times(times, LOOKUP_TIMEOUT)
                        .map_err(self.err("looking up offsets for start_timestamp"))?,
                )
            }
        };
        for i in 0..self.partitions.len() {
            let (topic, p) = (
                self.partitions[i].topic.clone(),
                self.partitions[i].partition,
            );
            let (low, high) = self
                .consumer
                .fetch_watermarks(&topic, p, LOOKUP_TIMEOUT)
                .map_err(self.err(&format!("reading the offsets of {topic}[{p}]")))?;
            let found = resolved
                .as_ref()
                .and_then(|r| r.find_partition(&topic, p))
                .map(|e| e.offset());
            self.partitions[i].next = match (self.spec.start, found) {
                (KafkaStart::Latest, _) => high,
                (_, Some(Offset::Offset(o))) => o.clamp(low, high),
                // No committed offset, or no record at/after the timestamp.
                (KafkaStart::Timestamp, _) => high,
                _ => low,
            };
        }
        Ok(())
    }

    fn assign(&self) -> Result<(), ConnectorError> {
        let mut tpl = TopicPartitionList::new();
        for p in &self.partitions {
            tpl.add_partition_offset(&p.topic, p.partition, Offset::Offset(p.next))
                .map_err(self.err("building the assignment"))?;
        }
        self.consumer
            .assign(&tpl)
            .map_err(self.err("assigning partitions"))
    }

    fn finished(&self) -> bool {
        self.partitions
            .iter()
            .all(|p| p.end.is_some_and(|end| p.next >= end))
    }

    /// librdkafka reports that partition `p` is read up to its current end,
    /// which is at or past the end captured at start. (The end offset may
    /// lie past the last record: a transactional producer's commit marker
    /// takes an offset that is never delivered.) The report names only the
    /// partition number, so it is used when one topic has that number;
    /// otherwise the partition finishes when its offset reaches the end.
    fn reached_end(&mut self, p: i32) {
        let mut same = self.partitions.iter_mut().filter(|x| x.partition == p);
        if let (Some(part), None) = (same.next(), same.next())
            && let Some(end) = part.end
        {
            part.next = part.next.max(end);
        }
    }
}

/// The record of message `m`, advancing its partition's position. (A free
/// function: `m` borrows the consumer while the partitions change.)
fn record(
    index: &Index,
    partitions: &mut [Partition],
    m: &rdkafka::message::BorrowedMessage<'_>,
) -> Option<RawRecord> {
    {
        let input = *index.get(m.topic())?.get(&m.partition())?;
        let part = &mut partitions[input];
        // A record before the assigned offset cannot happen; one we have
        // already passed (a duplicate after a librdkafka retry) is skipped.
        if m.offset() < part.next {
            return None;
        }
        part.next = m.offset() + 1;
        let headers = m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
                    .collect()
            })
            .unwrap_or_default();
        Some(RawRecord {
            payload: m.payload().unwrap_or_default().to_vec(),
            offset: m.offset() as u64,
            input,
            key: m.key().map(<[u8]>::to_vec),
            timestamp: m.timestamp().to_millis(),
            headers,
        })
    }
}

impl Source for KafkaSource {
    fn ready(&self) -> Option<Arc<tokio::sync::Notify>> {
        Some(self.ready.clone())
    }

    fn poll(&mut self, max: usize) -> Result<Poll, ConnectorError> {
        if self.finished() {
            return Ok(Poll::End);
        }
        let mut out = Vec::new();
        let mut quiet = 0;
        while out.len() < max {
            let Some(result) = self.consumer.poll(Duration::ZERO) else {
                // Nothing — or an event librdkafka handled itself (an
                // offset commit, statistics) with records still queued
                // behind it: its queue is then not empty, so it will not
                // tell us of them. Only a few empty answers in a row mean
                // the queue is.
                quiet += 1;
                if quiet >= QUIET_POLLS {
                    break;
                }
                continue;
            };
            quiet = 0;
            match result {
                Ok(m) => {
                    if let Some(r) = record(&self.index, &mut self.partitions, &m) {
                        out.push(r);
                    }
                }
                Err(KafkaError::PartitionEOF(p)) => self.reached_end(p),
                Err(e) if fatal(&e) => {
                    let action = if e.rdkafka_error_code()
                        == Some(RDKafkaErrorCode::OffsetOutOfRange)
                    {
                        "reading (the offsets to resume from are gone, deleted by retention: start afresh with --fresh, or from a later savepoint)"
                    } else {
                        "reading"
                    };
                    return Err(self.err(action)(e));
                }
                Err(e) => {
                    // Transient (broker down, leader moving): librdkafka
                    // retries; say so now and then, not on every poll.
                    if self
                        .last_error_log
                        .is_none_or(|t| t.elapsed() > Duration::from_secs(5))
                    {
                        tracing::warn!(source = %self.client, brokers = %self.spec.brokers, error = %e, "Kafka source: waiting for the broker");
                        self.last_error_log = Some(Instant::now());
                    }
                    // Records may be queued behind it.
                    quiet += 1;
                    if quiet >= QUIET_POLLS {
                        break;
                    }
                }
            }
        }
        if out.is_empty() {
            return Ok(if self.finished() {
                Poll::End
            } else {
                Poll::Wait(Instant::now() + IDLE_WAIT)
            });
        }
        Ok(Poll::Records(out))
    }

    fn location(&self, input: usize, offset: u64) -> String {
        match self.partitions.get(input) {
            Some(p) => format!("{}[{}]@{offset}", p.topic, p.partition),
            None => format!("offset {offset}"),
        }
    }

    fn inputs(&self) -> usize {
        self.partitions.len()
    }

    fn position(&self) -> Option<SourcePosition> {
        let mut offsets: BTreeMap<String, Vec<(i32, i64)>> = BTreeMap::new();
        for p in &self.partitions {
            offsets
                .entry(p.topic.clone())
                .or_default()
                .push((p.partition, p.next));
        }
        Some(SourcePosition::Kafka { offsets })
    }

    fn seek(&mut self, position: &SourcePosition) -> Result<(), ConnectorError> {
        let SourcePosition::Kafka { offsets } = position else {
            return Err(ConnectorError::Position {
                source_name: self.client.clone(),
                message: "the checkpoint holds a position of another kind of source".into(),
            });
        };
        for p in &mut self.partitions {
            // A partition added since the checkpoint keeps its start offset.
            if let Some((_, o)) = offsets
                .get(&p.topic)
                .and_then(|t| t.iter().find(|(q, _)| *q == p.partition))
            {
                p.next = *o;
            }
        }
        let known: usize = offsets.values().map(Vec::len).sum();
        let have = self.partitions.len();
        if known > have {
            tracing::warn!(source = %self.client, "the checkpoint knows {known} partitions, the topics now have {have}; reading those that exist");
        }
        self.assign()
    }

    fn checkpoint_complete(&mut self, position: &SourcePosition, last: bool) {
        let SourcePosition::Kafka { offsets } = position else {
            return;
        };
        let mut tpl = TopicPartitionList::new();
        for (topic, parts) in offsets {
            for (p, o) in parts {
                let _ = tpl.add_partition_offset(topic, *p, Offset::Offset(*o));
            }
        }
        // Monitoring only: weir resumes from its checkpoints, so a failed
        // commit (broker briefly away) is logged, not fatal.
        let mode = if last {
            CommitMode::Sync
        } else {
            CommitMode::Async
        };
        if let Err(e) = self.consumer.commit(&tpl, mode) {
            tracing::debug!(source = %self.client, error = %e, "committing offsets to the group failed");
        }
    }

    fn lag(&self) -> Option<u64> {
        let ends = self.ends.lock().unwrap_or_else(|p| p.into_inner());
        if ends.is_empty() {
            return None;
        }
        Some(
            self.partitions
                .iter()
                .filter_map(|p| {
                    ends.get(&(p.topic.clone(), p.partition))
                        .map(|e| (e - p.next).max(0))
                })
                .sum::<i64>() as u64,
        )
    }

    fn partition_lag(&self) -> Vec<(String, i32, u64)> {
        let ends = self.ends.lock().unwrap_or_else(|p| p.into_inner());
        self.partitions
            .iter()
            .filter_map(|p| {
                let end = ends.get(&(p.topic.clone(), p.partition))?;
                Some((p.topic.clone(), p.partition, (end - p.next).max(0) as u64))
            })
            .collect()
    }
}

/// Errors after which reading cannot go on.
fn fatal(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::UnknownTopicOrPartition
                | RDKafkaErrorCode::TopicAuthorizationFailed
                | RDKafkaErrorCode::GroupAuthorizationFailed
                | RDKafkaErrorCode::OffsetOutOfRange
                | RDKafkaErrorCode::Fatal
        )
    )
}
