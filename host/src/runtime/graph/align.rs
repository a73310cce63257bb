//! Reading a subtask's inputs: in step where they come from one source,
//! as they come where they do not, with barriers aligned across them.
//!
//! Inputs that all descend from one source without passing a stage that
//! reads another are in step (see [`super::edges`]): one read from each
//! gives the same step of the source. They form a **group**, read one step
//! at a time as a whole. Inputs of different groups (other sources, or a
//! stage that merged several) run at their own pace, so the reader takes
//! a step from whichever group has one ready.
//!
//! Control messages are aligned the way Flink aligns barriers: once a
//! group delivered a barrier (or a swap), it is not read again until
//! every group that has not ended delivered the same one. Its channels
//! fill meanwhile and hold back what feeds them, which bounds the memory
//! this takes. Then the control message goes to the operator once, and
//! every group is read again. A group that ended takes no part.
//!
//! The watermark of a step is the lowest of the groups' latest (a group
//! that delivered nothing yet holds it back), as in Flink, where an
//! operator's watermark is the minimum over its input channels.
//!
//! ```text
//!   orders ─┐ group 0 ──▶ ┐
//!           │             ├─▶ read: (0, batch) (1, batch) (0, batch) …
//!   clicks ─┘ group 1 ──▶ ┘   barrier e from 0: hold 0 until 1 has e too
//! ```

use super::edges::{At, Input, Step};
use super::operator::Batch;
use crate::event::Timestamp;
use crate::runtime::{Message, RunError};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

/// Inputs read in step: each with its index among the reader's inputs.
pub(in crate::runtime) type Group = Vec<(usize, Input)>;

/// What a reader gets next (and what one group's step is).
pub(in crate::runtime) enum Read {
    /// One step of one group: each of its live inputs' batch, by input
    /// index, in index order.
    Batch {
        parts: Vec<(usize, Batch)>,
        /// The lowest of every live group's latest watermark (of a group's
        /// step: the lowest of its inputs').
        watermark: Timestamp,
        /// When the step's records were read.
        processing_time: i64,
    },
    /// A barrier or swap, aligned across the groups.
    Control(Message),
    /// Every input ended.
    End,
}

/// One group and where its inputs stand.
struct GroupState {
    inputs: Group,
    ended: Vec<bool>,
    job: Arc<str>,
    stage: Arc<str>,
}

type Reading = Pin<Box<dyn Future<Output = (GroupState, Result<Read, RunError>)> + Send>>;

enum Slot {
    /// Not being read (ready to be).
    Idle(GroupState),
    /// A step being read.
    Reading(Reading),
    /// Delivered a control message; waits for the other groups'.
    Held(GroupState, Message),
    /// Every input ended.
    Ended,
}

/// The inputs of one subtask (or of the sink task), by group.
pub(in crate::runtime) struct Aligner {
    slots: Vec<Slot>,
    /// Each group's latest watermark.
    watermarks: Vec<Timestamp>,
    /// The group polled first next time (so a busy group cannot starve
    /// the others).
    first: usize,
    job: Arc<str>,
    stage: Arc<str>,
    /// When the first group's control message of the one being aligned
    /// arrived.
    holding_since: Option<std::time::Instant>,
    /// How long the last control message released waited for every
    /// group's (taken by [`Aligner::take_alignment`]).
    aligned: Option<std::time::Duration>,
}

impl Aligner {
    /// The reader of `groups`, for stage `stage` of job `job` (errors).
    pub(in crate::runtime) fn new(groups: Vec<Group>, job: &str, stage: &str) -> Aligner {
        let (job, stage): (Arc<str>, Arc<str>) = (job.into(), stage.into());
        Aligner {
            watermarks: vec![Timestamp::MIN; groups.len()],
            slots: groups
                .into_iter()
                .map(|inputs| {
                    Slot::Idle(GroupState {
                        ended: vec![false; inputs.len()],
                        inputs,
                        job: job.clone(),
                        stage: stage.clone(),
                    })
                })
                .collect(),
            first: 0,
            job,
            stage,
            holding_since: None,
            aligned: None,
        }
    }

    /// How long the control message just returned waited between the
    /// first group's copy and the last's (a checkpoint barrier's
    /// alignment), once.
    pub(in crate::runtime) fn take_alignment(&mut self) -> Option<std::time::Duration> {
        self.aligned.take()
    }

    fn out_of_step(&self) -> RunError {
        RunError::OutOfStep {
            job: self.job.to_string(),
            stage: self.stage.to_string(),
        }
    }

    /// The next step of any group, an aligned control message, or the end.
    pub(in crate::runtime) async fn next(&mut self) -> Result<Read, RunError> {
        loop {
            for slot in &mut self.slots {
                if matches!(slot, Slot::Idle(_)) {
                    let Slot::Idle(g) = std::mem::replace(slot, Slot::Ended) else {
                        unreachable!("matched above")
                    };
                    *slot = Slot::Reading(Box::pin(read_step(g)));
                }
            }
            let n = self.slots.len();
            let first = self.first;
            let (k, (group, step)) = std::future::poll_fn(|cx| {
                for i in 0..n {
                    let k = (first + i) % n;
                    if let Slot::Reading(f) = &mut self.slots[k]
                        && let Poll::Ready(done) = f.as_mut().poll(cx)
                    {
                        return Poll::Ready((k, done));
                    }
                }
                Poll::Pending
            })
            .await;
            self.first = (k + 1) % n;
            match step? {
                Read::Batch {
                    parts,
                    watermark,
                    processing_time,
                } => {
                    self.slots[k] = Slot::Idle(group);
                    self.watermarks[k] = watermark;
                    return Ok(Read::Batch {
                        parts,
                        watermark: self.watermark(),
                        processing_time,
                    });
                }
                Read::Control(m) => {
                    self.holding_since
                        .get_or_insert_with(std::time::Instant::now);
                    self.slots[k] = Slot::Held(group, m);
                }
                Read::End => {
                    self.slots[k] = Slot::Ended;
                    if self.slots.iter().all(|s| matches!(s, Slot::Ended)) {
                        return Ok(Read::End);
                    }
                }
            }
            if let Some(m) = self.release()? {
                self.aligned = self.holding_since.take().map(|t| t.elapsed());
                return Ok(Read::Control(m));
            }
        }
    }

    /// The lowest watermark of the groups that have not ended.
    fn watermark(&self) -> Timestamp {
        self.slots
            .iter()
            .zip(&self.watermarks)
            .filter(|(s, _)| !matches!(s, Slot::Ended))
            .map(|(_, w)| *w)
            .min()
            .unwrap_or(Timestamp::MAX)
    }

    /// Once every live group holds a control message (the same one),
    /// read them all again and return it.
    fn release(&mut self) -> Result<Option<Message>, RunError> {
        let live = self.slots.iter().filter(|s| !matches!(s, Slot::Ended));
        if live.clone().count() == 0 || !live.clone().all(|s| matches!(s, Slot::Held(..))) {
            return Ok(None);
        }
        let mut first: Option<Message> = None;
        for slot in &mut self.slots {
            if !matches!(slot, Slot::Held(..)) {
                continue;
            }
            let Slot::Held(g, m) = std::mem::replace(slot, Slot::Ended) else {
                unreachable!("matched above")
            };
            *slot = Slot::Idle(g);
            match &first {
                None => first = Some(m),
                Some(f) if same(f, &m) => {}
                Some(_) => return Err(self.out_of_step()),
            }
        }
        Ok(first)
    }
}

/// Whether two groups' control messages are the same one.
fn same(a: &Message, b: &Message) -> bool {
    match (a, b) {
        (Message::Barrier { epoch: x }, Message::Barrier { epoch: y }) => x == y,
        (Message::Swap(x), Message::Swap(y)) => x.id == y.id,
        _ => false,
    }
}

/// Read one step of a group: one message from each input that has not
/// ended. Inputs end one by one (each stage flushes what it holds as one
/// more batch before its end, so an input through more stages ends a step
/// later); nothing but batches follows an end within a group.
async fn read_step(mut g: GroupState) -> (GroupState, Result<Read, RunError>) {
    let step = read_inputs(&mut g).await;
    (g, step)
}

async fn read_inputs(g: &mut GroupState) -> Result<Read, RunError> {
    let at = At {
        job: &g.job,
        stage: &g.stage,
    };
    let mut steps = Vec::with_capacity(g.inputs.len());
    for ((index, input), done) in g.inputs.iter_mut().zip(g.ended.iter_mut()) {
        if *done {
            continue;
        }
        match input.next(at).await? {
            Step::Control(Message::EndOfData) => *done = true,
            step => steps.push((*index, step)),
        }
    }
    if steps.is_empty() {
        return Ok(Read::End);
    }
    let controls = steps
        .iter()
        .filter(|(_, s)| matches!(s, Step::Control(_)))
        .count();
    let out_of_step = || RunError::OutOfStep {
        job: g.job.to_string(),
        stage: g.stage.to_string(),
    };
    if controls > 0 {
        if controls != steps.len() {
            return Err(out_of_step());
        }
        let Some((_, Step::Control(m))) = steps.into_iter().next() else {
            return Err(out_of_step());
        };
        return Ok(Read::Control(m));
    }
    let (mut watermark, mut processing_time) = (Timestamp::MAX, i64::MIN);
    let mut parts = Vec::with_capacity(steps.len());
    for (index, step) in steps {
        let Step::Batch {
            rows,
            watermark: w,
            processing_time: p,
        } = step
        else {
            return Err(out_of_step());
        };
        watermark = watermark.min(w);
        processing_time = processing_time.max(p);
        parts.push((index, rows));
    }
    Ok(Read::Batch {
        parts,
        watermark,
        processing_time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Tx;

    fn batch(tx: &Tx, watermark: Timestamp) {
        let budgets = crate::budget::Budgets::unbounded();
        let m = Message::batch(&budgets, Vec::new(), watermark, 0).unwrap();
        tx.try_send(m).unwrap();
    }

    fn control(tx: &Tx, m: Message) {
        tx.try_send(m).unwrap();
    }

    /// What the reader gets: `Some(watermark)` per batch, `None` for the
    /// barrier (of epoch 5: the only one sent).
    async fn read_all(mut a: Aligner) -> Vec<Option<Timestamp>> {
        let mut seen = Vec::new();
        loop {
            match a.next().await.unwrap() {
                Read::Batch { watermark, .. } => seen.push(Some(watermark)),
                Read::Control(Message::Barrier { epoch: 5 }) => seen.push(None),
                Read::Control(other) => panic!("unexpected {other:?}"),
                Read::End => return seen,
            }
        }
    }

    #[test]
    fn a_group_past_a_barrier_waits_for_the_others_and_the_watermark_is_the_lowest() {
        let ((tx0, rx0), (tx1, rx1)) = (crate::runtime::channel(), crate::runtime::channel());
        // Group 0 is a step ahead: its batch after the barrier is ready
        // before group 1 has reached the barrier.
        batch(&tx0, 10);
        control(&tx0, Message::Barrier { epoch: 5 });
        batch(&tx0, 40);
        control(&tx0, Message::EndOfData);
        batch(&tx1, 20);
        batch(&tx1, 30);
        control(&tx1, Message::Barrier { epoch: 5 });
        control(&tx1, Message::EndOfData);
        let groups = vec![vec![(0, Input::One(rx0))], vec![(1, Input::One(rx1))]];
        let seen = crate::runtime::pool::block_on(read_all(Aligner::new(groups, "j", "s")));
        // One barrier, once both groups brought it: group 1's three
        // batches before it, group 0's last after it.
        let barrier = seen.iter().position(Option::is_none).expect("the barrier");
        assert_eq!(seen.iter().filter(|s| s.is_none()).count(), 1, "{seen:?}");
        assert_eq!((barrier, seen.len()), (3, 5), "{seen:?}");
        // Before it, the watermark is the lowest of the groups' latest:
        // never above group 0's 10 (and at the start while a group has
        // delivered nothing). After it, at least group 1's last, 30.
        assert!(seen[..3].iter().all(|w| w.unwrap() <= 10), "{seen:?}");
        assert_eq!(seen[0], Some(Timestamp::MIN), "{seen:?}");
        assert!(seen[4].unwrap() >= 30, "{seen:?}");
    }

    #[test]
    fn different_barriers_from_two_groups_are_a_bug_reported_as_out_of_step() {
        let ((tx0, rx0), (tx1, rx1)) = (crate::runtime::channel(), crate::runtime::channel());
        control(&tx0, Message::Barrier { epoch: 5 });
        control(&tx1, Message::Barrier { epoch: 6 });
        let groups = vec![vec![(0, Input::One(rx0))], vec![(1, Input::One(rx1))]];
        let mut a = Aligner::new(groups, "j", "s");
        let e = crate::runtime::pool::block_on(async move { a.next().await.err() });
        assert!(matches!(e, Some(RunError::OutOfStep { .. })), "{e:?}");
    }
}
