//! The exactly-once half of the producer: the commit marker that records
//! which epoch's transaction committed last (written into each
//! transaction, read back at recovery), and the transactional calls,
//! retried while the broker is away. The protocol is described in
//! [`super`].

use super::{CALL_TIMEOUT, Context, GIVE_UP_AFTER, KafkaProducer, STUCK_AFTER};
use crate::connector::ConnectorError;
use crate::connector::kafka::client_error;
use rdkafka::consumer::Consumer;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Whether Kafka calls `e` worth retrying (broker restarting, coordinator
/// moving).
fn retriable(e: &KafkaError) -> bool {
    match e {
        KafkaError::Transaction(t) => t.is_retriable(),
        other => other.rdkafka_error_code().is_some_and(|c| {
            matches!(
                c,
                RDKafkaErrorCode::OperationTimedOut
                    | RDKafkaErrorCode::BrokerTransportFailure
                    | RDKafkaErrorCode::AllBrokersDown
                    | RDKafkaErrorCode::CoordinatorNotAvailable
                    | RDKafkaErrorCode::NotCoordinator
                    | RDKafkaErrorCode::RequestTimedOut
            )
        }),
    }
}

impl KafkaProducer {
    /// Run a transactional call, retrying while Kafka calls the error
    /// retriable (broker restarting, coordinator moving), for up to
    /// [`GIVE_UP_AFTER`], with a log line per attempt.
    pub(super) fn retrying(
        &self,
        action: &str,
        call: impl Fn(&ThreadedProducer<Context>) -> Result<(), KafkaError>,
    ) -> Result<(), ConnectorError> {
        self.retrying_for(action, GIVE_UP_AFTER, call)?
            .map_err(|e| {
                self.error(
                    action,
                    format!("{e} (gave up after 5 minutes of retries; is the broker up?)"),
                )
            })
    }

    /// [`Self::retrying`] for up to `limit`: the last error when the call
    /// still failed then with an error Kafka calls retriable.
    pub(super) fn retrying_for(
        &self,
        action: &str,
        limit: Duration,
        call: impl Fn(&ThreadedProducer<Context>) -> Result<(), KafkaError>,
    ) -> Result<Result<(), KafkaError>, ConnectorError> {
        let started = Instant::now();
        let mut backoff = Duration::from_millis(100);
        loop {
            match call(&self.handle()) {
                Ok(()) => return Ok(Ok(())),
                Err(e) => {
                    let retriable = retriable(&e);
                    if !retriable {
                        return Err(self.error(action, e.to_string()));
                    }
                    if started.elapsed() > limit {
                        return Ok(Err(e));
                    }
                    tracing::warn!(sink = %self.client, brokers = %self.brokers, error = %e,
                        "Kafka sink: {action}: waiting for the broker, retrying in {backoff:?}");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// The commit of `epoch` is stuck: librdkafka goes on timing out after
    /// the broker is back (it lost the transaction coordinator across the
    /// restart). A new producer with the same transactional id fences the
    /// stuck one, and the broker completes the transaction if its commit
    /// had reached it, or aborts it. The commit marker says which: done,
    /// or the job fails and, run again, resumes from the checkpoint before
    /// and writes the epoch again (nothing lost, nothing twice).
    pub(super) fn reopen(&self, epoch: u64, action: &str) -> Result<(), ConnectorError> {
        tracing::warn!(sink = %self.client, brokers = %self.brokers, epoch,
            "Kafka sink: {action}: still timing out {STUCK_AFTER:?} on while the broker answers; replacing the producer (a new one with the same transactional id fences it, and the broker completes or aborts the transaction)");
        self.replace_producer()?;
        match self.committed_epoch()? {
            Some(c) if c >= epoch => {
                tracing::info!(sink = %self.client, epoch, "Kafka sink: the transaction was committed");
                Ok(())
            }
            _ => Err(self.error(
                action,
                format!(
                    "the broker aborted the transaction of epoch {epoch} after its checkpoint completed (it restarted during the commit); run the job again: it resumes from the checkpoint before and writes epoch {epoch} again"
                ),
            )),
        }
    }

    /// A new producer with the same transactional id in place of the one
    /// in use, which it fences (a call still blocked in the old one keeps
    /// it alive until the call returns).
    fn replace_producer(&self) -> Result<(), ConnectorError> {
        let fresh = super::create(&self.config, &self.failure, &self.stats.failed).map_err(
            client_error(&self.client, &self.brokers, "creating a new producer"),
        )?;
        let old = std::mem::replace(
            &mut *self.producer.write().unwrap_or_else(|p| p.into_inner()),
            Arc::new(fresh),
        );
        drop(old);
        self.retrying(
            "initialising transactions (fencing the stuck producer)",
            |p| p.init_transactions(CALL_TIMEOUT),
        )
    }

    /// The epoch of the last committed transaction, from the commit marker
    /// (`None`: none ever committed, or not exactly-once).
    pub fn committed_epoch(&self) -> Result<Option<u64>, ConnectorError> {
        let Some((consumer, topic)) = &self.marker else {
            return Ok(None);
        };
        let action = "reading the commit marker of the last transaction";
        let started = Instant::now();
        let mut backoff = Duration::from_millis(100);
        let tpl = loop {
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition(topic, 0);
            match consumer.committed_offsets(tpl, Duration::from_secs(30)) {
                Ok(tpl) => break tpl,
                // The group coordinator moving or loading (a broker just
                // started, or restarted) answers so for a moment.
                Err(e)
                    if started.elapsed() < Duration::from_secs(60)
                        && e.rdkafka_error_code().is_some_and(|c| {
                            matches!(
                                c,
                                RDKafkaErrorCode::NotCoordinator
                                    | RDKafkaErrorCode::CoordinatorLoadInProgress
                                    | RDKafkaErrorCode::CoordinatorNotAvailable
                                    | RDKafkaErrorCode::OperationTimedOut
                                    | RDKafkaErrorCode::RequestTimedOut
                            )
                        }) =>
                {
                    tracing::warn!(sink = %self.client, error = %e, "Kafka sink: {action}: retrying in {backoff:?}");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(client_error(&self.client, &self.brokers, action)(e)),
            }
        };
        Ok(match tpl.find_partition(topic, 0).map(|e| e.offset()) {
            Some(Offset::Offset(o)) if o >= 0 => Some(o as u64),
            _ => None,
        })
    }

    /// Exactly-once: add the commit marker of `epoch` to its transaction,
    /// just begun.
    pub(super) fn add_marker(&self, epoch: u64) -> Result<(), ConnectorError> {
        let Some((consumer, topic)) = &self.marker else {
            return Ok(());
        };
        let mut offsets = TopicPartitionList::new();
        offsets
            .add_partition_offset(topic, 0, Offset::Offset(epoch as i64))
            .map_err(|e| self.error("building the commit marker", e.to_string()))?;
        let action = format!("adding the commit marker of epoch {epoch} to its transaction");
        let started = Instant::now();
        let mut backoff = Duration::from_millis(100);
        loop {
            let group = consumer
                .group_metadata()
                .ok_or_else(|| self.error(&action, "no consumer group metadata".into()))?;
            // On a thread of its own: librdkafka can block in this call
            // past its timeout, for good, when the group coordinator is
            // lost across a broker restart (#5456, #5511).
            let (p, offsets) = (self.handle(), offsets.clone());
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::Builder::new()
                .name("weir-kafka-marker".into())
                .spawn(move || {
                    let _ = tx.send(p.send_offsets_to_transaction(&offsets, &group, CALL_TIMEOUT));
                })
                .map_err(|e| self.error(&action, format!("cannot start a thread: {e}")))?;
            match rx.recv_timeout(CALL_TIMEOUT + Duration::from_secs(5)) {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) if !retriable(&e) || started.elapsed() > GIVE_UP_AFTER => {
                    return Err(self.error(&action, e.to_string()));
                }
                Ok(Err(e)) => {
                    tracing::warn!(sink = %self.client, brokers = %self.brokers, error = %e,
                        "Kafka sink: {action}: waiting for the broker, retrying in {backoff:?}");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(_) if started.elapsed() > GIVE_UP_AFTER => {
                    return Err(self.error(
                        &action,
                        "blocked in librdkafka for 5 minutes; is the broker up?".into(),
                    ));
                }
                Err(_) => {
                    // Stuck. The transaction holds nothing yet (the marker
                    // comes first): replace the producer and begin again.
                    tracing::warn!(sink = %self.client, brokers = %self.brokers, epoch,
                        "Kafka sink: {action}: blocked past its timeout (librdkafka); replacing the producer and beginning the transaction again");
                    self.replace_producer()?;
                    self.handle().begin_transaction().map_err(|e| {
                        self.error(
                            &format!("beginning the transaction of epoch {epoch} again"),
                            e.to_string(),
                        )
                    })?;
                }
            }
        }
    }
}
