//! Live swap: a new version of an operator goes live in a running job at a
//! checkpoint barrier, without losing or repeating a record.
//!
//! The new component is built, compiled and checked against the operator's
//! world *before* anything reaches the data path (by whoever asks for the
//! swap, see `weir swap`). It is then handed to the job's coordinator, which
//! makes the source trigger a checkpoint at once; right behind barrier `e`
//! the source sends [`super::Message::Swap`] on every channel, in the same
//! lockstep as barriers, so every task meets it at the same point of the
//! record order:
//!
//! - every record before barrier `e` was processed by the old version,
//!   every record after it by the new one;
//! - the task holding the operator replaces its instance when the message
//!   reaches it (chain subtasks: their transform; keyed subtasks: their
//!   keyed operator, whose state and timers live in the host's backend and
//!   simply stay there); the others forward it;
//! - checkpoint `e` records the new component's digest, so a job restarted
//!   from it continues with the version that processed the records after it.
//!
//! Only the instantiation of the new version happens on the data path (tens
//! of microseconds per subtask, see BENCHMARKS.md); compilation never does.

use crate::plan::PlannedOperator;
use std::sync::Mutex;
use std::time::Duration;

/// A new version of one operator, ready to instantiate.
pub struct Swap {
    /// Which swap this is (tasks act on the first copy of each).
    pub id: u64,
    /// The operator, by its name in the job.
    pub operator: String,
    /// The new version: the operator's spec and config with the new
    /// component, compiled and checked.
    pub op: PlannedOperator,
    /// How long each subtask that switched spent switching (its pause).
    pub pauses: Mutex<Vec<Duration>>,
}

impl Swap {
    /// A swap of `operator` to `op`.
    pub fn new(id: u64, operator: &str, op: PlannedOperator) -> Swap {
        Swap {
            id,
            operator: operator.into(),
            op,
            pauses: Mutex::new(Vec::new()),
        }
    }

    /// A subtask switched in `pause`.
    pub fn switched(&self, pause: Duration) {
        self.pauses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(pause);
    }
}

impl std::fmt::Debug for Swap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Swap")
            .field("id", &self.id)
            .field("operator", &self.operator)
            .field("digest", &self.op.component.digest)
            .finish()
    }
}
