//! Side outputs: late records and dead letters.
//!
//! Both are low-volume, so the tasks that produce them write through a
//! shared lock instead of a channel. Without a dead-letter output, a bad
//! record fails the job with its location: data is never dropped silently.
//!
//! Every write carries the epoch of the task that makes it (the next
//! barrier it will see), so with checkpoints a side output is committed
//! with the checkpoint that covers the record, exactly once, like the main
//! sink. Within one epoch, records from parallel tasks interleave in no
//! fixed order.

use super::RunError;
use crate::checkpoint::SinkPosition;
use crate::connector::Sink;
use crate::event::Event;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where a bad record was caught.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading the source (not JSON, no event time).
    Decode,
    /// A chained operator or the keyed operator rejected it.
    Operator,
    /// The key-by field is missing.
    KeyBy,
    /// A built-in aggregate's field is missing or not a number.
    Aggregate,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Decode => "decode",
            Stage::Operator => "operator",
            Stage::KeyBy => "key_by",
            Stage::Aggregate => "aggregate",
        }
    }
}

/// The job's late and dead-letter outputs.
pub struct SideOutputs {
    job: String,
    late: Option<Mutex<Sink>>,
    dead: Option<Mutex<Sink>>,
    /// Late records so far.
    pub late_count: AtomicU64,
    /// Dead letters so far.
    pub dead_count: AtomicU64,
}

impl SideOutputs {
    /// Side outputs over optional sinks.
    pub fn new(job: &str, late: Option<Sink>, dead: Option<Sink>) -> Self {
        Self {
            job: job.into(),
            late: late.map(Mutex::new),
            dead: dead.map(Mutex::new),
            late_count: AtomicU64::new(0),
            dead_count: AtomicU64::new(0),
        }
    }

    /// Records that arrived after their windows closed, as
    /// `{"timestamp","key","record"}` lines: the record as the window saw it
    /// (after the chain's operators), with the event time and key that made
    /// it late. (Validation makes sure event-time windows have a late output.)
    pub fn late(&self, epoch: u64, records: &[Event]) -> Result<(), RunError> {
        if records.is_empty() {
            return Ok(());
        }
        self.late_count
            .fetch_add(records.len() as u64, Ordering::Relaxed);
        if let Some(sink) = &self.late {
            let mut sink = sink.lock().unwrap_or_else(|p| p.into_inner());
            for r in records {
                sink.write(epoch, late_line(r).as_bytes())?;
            }
        }
        Ok(())
    }

    /// A record that cannot be processed: to the dead-letter output as
    /// `{"stage","operator","location","reason","record"}`, or a job failure.
    pub fn dead_letter(
        &self,
        epoch: u64,
        stage: Stage,
        operator: Option<&str>,
        location: Option<String>,
        reason: &str,
        payload: &[u8],
    ) -> Result<(), RunError> {
        let Some(sink) = &self.dead else {
            let mut preview = String::from_utf8_lossy(payload).into_owned();
            if preview.len() > 200 {
                let mut cut = 200;
                while !preview.is_char_boundary(cut) {
                    cut -= 1;
                }
                preview.truncate(cut);
                preview.push('…');
            }
            return Err(RunError::BadRecord(Box::new(super::BadRecord {
                job: self.job.clone(),
                stage: stage.name(),
                operator: operator.map(Into::into),
                location,
                reason: reason.into(),
                record: preview,
            })));
        };
        self.dead_count.fetch_add(1, Ordering::Relaxed);
        let line = serde_json::json!({
            "stage": stage.name(),
            "operator": operator,
            "location": location,
            "reason": reason,
            "record": String::from_utf8_lossy(payload),
        });
        let mut headers = vec![("weir.stage".to_string(), stage.name().as_bytes().to_vec())];
        for (k, v) in [
            ("weir.operator", operator),
            ("weir.location", location.as_deref()),
        ] {
            if let Some(v) = v {
                headers.push((k.to_string(), v.as_bytes().to_vec()));
            }
        }
        headers.push(("weir.reason".to_string(), reason.as_bytes().to_vec()));
        headers.push(("weir.job".to_string(), self.job.as_bytes().to_vec()));
        let mut sink = sink.lock().unwrap_or_else(|p| p.into_inner());
        sink.write_dead_letter(epoch, line.to_string().as_bytes(), payload, &headers)?;
        Ok(())
    }

    /// Phase one of checkpoint `epoch` for both outputs: what they hold.
    pub fn pre_commit(
        &self,
        epoch: u64,
        positions: &mut BTreeMap<String, SinkPosition>,
    ) -> Result<(), RunError> {
        for (name, s) in [("late_output", &self.late), ("dead_letter", &self.dead)] {
            if let Some(s) = s
                && let Some(p) = s
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .pre_commit(epoch)?
            {
                positions.insert(name.into(), p);
            }
        }
        Ok(())
    }

    /// Phase two: checkpoint `epoch` is complete; publish.
    pub fn publish(&self, epoch: u64) -> Result<(), RunError> {
        for s in [&self.late, &self.dead].into_iter().flatten() {
            s.lock().unwrap_or_else(|p| p.into_inner()).publish(epoch)?;
        }
        Ok(())
    }

    /// Flush both outputs.
    pub fn flush(&self) -> Result<(), RunError> {
        for s in [&self.late, &self.dead].into_iter().flatten() {
            s.lock().unwrap_or_else(|p| p.into_inner()).flush()?;
        }
        Ok(())
    }
}

fn late_line(r: &Event) -> String {
    let record = match serde_json::from_slice::<&serde_json::value::RawValue>(&r.value) {
        Ok(raw) => raw.get().to_string(),
        Err(_) => serde_json::to_string(&String::from_utf8_lossy(&r.value)).unwrap_or_default(),
    };
    let key = r
        .key
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    format!(
        "{{\"timestamp\":{},\"key\":{},\"record\":{record}}}",
        r.timestamp,
        serde_json::to_string(&key).unwrap_or_default()
    )
}
