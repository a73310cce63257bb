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
//! Neither compilation nor instantiation happens on the data path: the
//! requester also creates (and `init`s) one instance of a new transform or
//! aggregate per subtask beforehand ([`Swap::prepare`]), and a subtask
//! meeting the swap only takes its instance — the pause is a lock and a
//! move (see BENCHMARKS.md). A keyed operator's instance is created at the
//! switch, over the state context it takes from the old one.
//!
//! # Canary
//!
//! A swap with a [`Canary`] does not switch: the chain subtasks holding the
//! operator start the new version *beside* the old one and hand it a copy
//! of every batch the old one processes. Its output is compared and thrown
//! away; only the old version's output flows on, so a new version that traps
//! or rejects records costs the job nothing. Whoever asked for the canary
//! watches its counters and decides: promote (an ordinary swap at the next
//! barrier) or roll back (the shadows are dropped). Canaries run for
//! stateless operators only: a keyed shadow would write the state the old
//! version reads.

use crate::checkpoint::Coordinator;
use crate::event::Event;
use crate::plan::{Plan, PlannedOperator};
use crate::wasm::WasmError;
use crate::wasm::instance::{AggregateInstance, TransformInstance};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
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
    /// Run the new version in shadow instead of switching.
    pub canary: Option<Canary>,
    /// Instances made before the barrier, by subtask (see [`Swap::prepare`]).
    ready: Mutex<Vec<Option<Ready>>>,
}

/// The live swaps of one run: the one waiting for the next barrier, and
/// when each went live. The source sends the waiting one right behind the
/// barrier it triggers ([`Swaps::take`]); checkpoints from that epoch on
/// record the new version.
#[derive(Default)]
pub struct Swaps {
    waiting: Mutex<Option<Arc<Swap>>>,
    /// Swap id → the epoch whose barrier it follows.
    went_live: Mutex<std::collections::BTreeMap<u64, u64>>,
    /// The canary being judged, if one is (for status pages).
    judging: Mutex<Option<Judging>>,
}

/// A canary being judged, and what it is judged by.
#[derive(Clone)]
pub struct Judging {
    /// The canary's swap (its counters are in `canary`).
    pub swap: Arc<Swap>,
    /// Records it must see (0: judged by time only).
    pub records: u64,
    /// Or how long it runs, ms.
    pub duration_ms: Option<u64>,
    /// When judging started, ms since the epoch.
    pub started_ms: i64,
}

impl Swaps {
    /// Put a new version of an operator live at the next barrier, asking
    /// `coordinator` for one. A swap still waiting is replaced.
    pub fn request(&self, coordinator: &Coordinator, swap: Swap) -> Arc<Swap> {
        let swap = Arc::new(swap);
        *lock(&self.waiting) = Some(swap.clone());
        coordinator.want_barrier();
        swap
    }

    /// The swap to send right behind barrier `epoch` (the source calls
    /// this after triggering it).
    pub fn take(&self, coordinator: &Coordinator, epoch: u64) -> Option<Arc<Swap>> {
        let swap = lock(&self.waiting).take()?;
        if swap.canary.is_none() {
            coordinator.set_component(&swap.operator, &swap.op.component.digest);
        }
        lock(&self.went_live).insert(swap.id, epoch);
        tracing::info!(operator = %swap.operator, epoch,
            digest = %swap.op.component.digest, "new operator version goes live after this barrier");
        Some(swap)
    }

    /// Canary `swap` is being judged: status pages show its progress
    /// until [`Swaps::judged`].
    pub fn judging(&self, j: Judging) {
        *lock(&self.judging) = Some(j);
    }

    /// The canary being judged is decided.
    pub fn judged(&self) {
        *lock(&self.judging) = None;
    }

    /// The canary being judged, if one is.
    pub fn judged_now(&self) -> Option<Judging> {
        lock(&self.judging).clone()
    }

    /// The epoch after whose barrier swap `id` went live, once it has.
    pub fn swapped_at(&self, id: u64) -> Option<u64> {
        lock(&self.went_live).get(&id).copied()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// An instance of the new version, made off the data path.
pub enum Ready {
    /// Of a transform.
    Transform(Box<TransformInstance>),
    /// Of a window aggregate.
    Aggregate(Box<AggregateInstance>),
    /// Of a window aggregate over columns.
    ColumnAggregate(Box<crate::wasm::column_aggregate::ColumnAggregateInstance>),
}

/// What a canary has seen so far, shared by the subtasks running it.
#[derive(Debug, Default)]
pub struct Canary {
    /// Records handed to the shadow.
    pub records: AtomicU64,
    /// Records the shadow rejected (errors).
    pub errors: AtomicU64,
    /// Batches whose output differed from the old version's.
    pub differing_batches: AtomicU64,
    /// Batches compared.
    pub batches: AtomicU64,
    /// The shadow trapped (panic, limit): why.
    pub trapped: Mutex<Option<String>>,
    /// The decision is made: subtasks drop their shadows.
    pub stop: AtomicBool,
}

impl Canary {
    /// One batch: the old version's output and the shadow's.
    pub fn observe(&self, input: usize, old: &[Event], new: &[Event], errors: usize) {
        let same = old.len() == new.len()
            && old.iter().zip(new).all(|(a, b)| {
                a.value == b.value
                    && a.key == b.key
                    && a.timestamp == b.timestamp
                    && a.headers == b.headers
            });
        self.observe_outcome(input, same, errors);
    }

    /// The shadow processed a batch of `input` records: its output was
    /// the `same` as the running version's or not, with `errors` records
    /// it rejected.
    pub fn observe_outcome(&self, input: usize, same: bool, errors: usize) {
        self.records.fetch_add(input as u64, Ordering::Relaxed);
        self.errors.fetch_add(errors as u64, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        if !same {
            self.differing_batches.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The shadow failed outright.
    pub fn trap(&self, why: String) {
        let mut t = self.trapped.lock().unwrap_or_else(|p| p.into_inner());
        t.get_or_insert(why);
    }

    /// Has the decision been made?
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

impl Swap {
    /// A swap of `operator` to `op`.
    pub fn new(id: u64, operator: &str, op: PlannedOperator) -> Swap {
        Swap {
            id,
            operator: operator.into(),
            op,
            pauses: Mutex::new(Vec::new()),
            canary: None,
            ready: Mutex::new(Vec::new()),
        }
    }

    /// Create and `init` the new version's instances for every subtask of
    /// `plan` now, off the data path, so that the switch only takes them.
    /// (A keyed operator's are made at the switch: they need the old
    /// instance's state context.) An instance that fails to start fails
    /// the swap here, before the job is touched.
    pub fn prepare(&self, plan: &Plan) -> Result<(), WasmError> {
        let world = self.op.component.world;
        let mut made = Vec::new();
        for subtask in 0..plan.job.spec.parallelism {
            let spec = plan.instance_spec(&self.op, subtask);
            made.push(match world {
                crate::wasm::World::Transform => {
                    Some(Ready::Transform(Box::new(TransformInstance::new(&spec)?)))
                }
                crate::wasm::World::Aggregate => {
                    Some(Ready::Aggregate(Box::new(AggregateInstance::new(&spec)?)))
                }
                crate::wasm::World::ColumnAggregate => Some(Ready::ColumnAggregate(Box::new(
                    crate::wasm::column_aggregate::ColumnAggregateInstance::new(&spec)?,
                ))),
                // A keyed operator's instance needs the old one's state
                // context; a transform over columns is made at its first
                // batch, for that batch's schema.
                crate::wasm::World::Keyed
                | crate::wasm::World::ColumnKeyed
                | crate::wasm::World::Columns => None,
            });
        }
        *self.ready.lock().unwrap_or_else(|p| p.into_inner()) = made;
        Ok(())
    }

    /// Subtask `subtask`'s instance made by [`Swap::prepare`], if any.
    pub fn take_ready(&self, subtask: usize) -> Option<Ready> {
        self.ready
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(subtask)
            .and_then(Option::take)
    }

    /// A canary of `operator`'s new version `op` (see [`Canary`]).
    pub fn canary(id: u64, operator: &str, op: PlannedOperator) -> Swap {
        Swap {
            canary: Some(Canary::default()),
            ..Swap::new(id, operator, op)
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
