//! What the source tasks of one job share: who triggers a checkpoint, the
//! barrier every source then injects, and which sources still run.
//!
//! A job may read several sources (`[source]` and `[[sources]]`), each in
//! its own task. A checkpoint is one epoch for all of them: whichever
//! source finds a barrier due triggers it; every source that has not
//! ended records its position and injects the barrier (and the live swap
//! behind it, if one waits) at its next batch boundary. Stages align the
//! barriers of their inputs (see `graph::align`). One checkpoint is in
//! flight at a time, so a source only ever has the latest epoch to catch
//! up with.
//!
//! A source that ends records its final position once, for every later
//! checkpoint; the last one to end triggers the final checkpoint.

use super::RunError;
use super::swap::{Swap, Swaps};
use crate::checkpoint::{Coordinator, SourceState};
use std::sync::{Arc, Mutex};

/// The shared part of a job's source tasks.
pub(super) struct SourceSet {
    inner: Mutex<Shared>,
    /// The latest epoch triggered (0: none yet).
    triggered: tokio::sync::watch::Sender<u64>,
}

struct Shared {
    /// Sources that have not ended.
    live: usize,
    /// The swap that rides behind the latest barrier, if one does.
    swap: Option<(u64, Arc<Swap>)>,
}

/// What a source does next at a batch boundary.
pub(super) enum Next {
    /// Record its position and inject this barrier (and swap).
    Barrier(u64, Option<Arc<Swap>>),
    /// Nothing to inject.
    Nothing,
}

impl SourceSet {
    /// The set of `sources` tasks.
    pub(super) fn new(sources: usize) -> SourceSet {
        SourceSet {
            inner: Mutex::new(Shared {
                live: sources,
                swap: None,
            }),
            triggered: tokio::sync::watch::Sender::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Trigger a checkpoint if one is due, then say what a source whose
    /// records now belong to `epoch` has to inject.
    pub(super) fn next(
        &self,
        c: &Coordinator,
        swaps: &Swaps,
        epoch: u64,
    ) -> Result<Next, RunError> {
        let mut shared = self.lock();
        if c.due() {
            let e = c.trigger(false)?;
            shared.swap = swaps.take(c, e).map(|s| (e, s));
            self.triggered.send_replace(e);
        }
        Ok(self.pending(&shared, epoch))
    }

    fn pending(&self, shared: &Shared, epoch: u64) -> Next {
        let latest = *self.triggered.borrow();
        if latest >= epoch && latest != 0 {
            let swap = match &shared.swap {
                Some((e, s)) if *e == latest => Some(s.clone()),
                _ => None,
            };
            Next::Barrier(latest, swap)
        } else {
            Next::Nothing
        }
    }

    /// A source reached its end at `state`, its records in `epoch`:
    /// `Ok(Some(barrier))` when one was triggered that it
    /// must inject first; otherwise it is counted out, and if it was the
    /// last, the final checkpoint is triggered with its position.
    pub(super) fn end(
        &self,
        c: Option<&Coordinator>,
        name: &str,
        epoch: u64,
        state: impl FnOnce() -> SourceState,
    ) -> Result<Option<Next>, RunError> {
        let mut shared = self.lock();
        if c.is_some()
            && let next @ Next::Barrier(..) = self.pending(&shared, epoch)
        {
            return Ok(Some(next));
        }
        shared.live -= 1;
        if let Some(c) = c {
            if shared.live == 0 {
                // The final checkpoint: the sink commits the rest of the
                // output with it.
                let e = c.trigger(true)?;
                c.record_source(e, name, state());
            } else {
                c.source_ended(name, state());
            }
        }
        Ok(None)
    }

    /// Wait until barrier `epoch` (or a later one) is triggered.
    pub(super) async fn triggered(&self, epoch: u64) {
        let mut rx = self.triggered.subscribe();
        let _ = rx.wait_for(|e| *e >= epoch).await;
    }
}
