//! Which task runs next: weighted fair queueing, tenants first, then jobs.
//!
//! Every tenant has a virtual time: the CPU its jobs' tasks used, divided
//! by its share. A free worker takes the ready tenant with the least
//! virtual time, then, within it, the ready job that used the least CPU,
//! then that job's oldest ready task. So a tenant with 100 busy jobs gets
//! no more than one with a single busy job (at equal shares), and jobs of
//! one tenant share its time evenly.
//!
//! A tenant or job that was idle (nothing ready, nothing running) comes
//! back at the current virtual time (`floor`), not below it: idling saves
//! up no credit. One that used more than its share keeps its debt. A task
//! that is running is not idle: a job whose one busy task runs while its
//! others wait keeps the credit it is owed.
//!
//! ```
//! # use weir::runtime::pool::Sched;
//! let mut s = Sched::default();
//! s.add_tenant(1, 1);
//! s.add_tenant(2, 1);
//! s.push(1, 10, "a1");
//! s.push(1, 11, "a2");
//! s.push(2, 20, "b");
//! let (first, t, j) = s.pick().unwrap();
//! s.charge(t, j, 1_000_000); // the first task ran 1 ms (and waits now)
//! // Tenant 1 ran first (ties go to the oldest); tenant 2 is next.
//! assert_eq!((first, s.pick().unwrap().0), ("a1", "b"));
//! ```

use rustc_hash::FxHashMap as HashMap;
use std::collections::VecDeque;

/// Fixed-point scale of virtual times (CPU ns × SCALE / share).
const SCALE: u128 = 1 << 16;

/// How well a task fits the worker picking.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fit {
    /// It ran on this worker last.
    Preferred,
    /// It may run here.
    Any,
    /// It is left for another worker.
    No,
}

/// The run queues of every tenant and job, and their virtual times.
pub struct Sched<T> {
    tenants: HashMap<u64, Tenant<T>>,
    /// Tenants with a ready task, in the order they became ready.
    ready: Vec<u64>,
    /// The virtual time of the last tenant picked.
    floor: u128,
}

struct Tenant<T> {
    share: u64,
    vtime: u128,
    /// Its tasks running now.
    running: usize,
    jobs: HashMap<u64, Job<T>>,
    /// Jobs with a ready task.
    ready: Vec<u64>,
    /// The CPU time of the last job picked.
    floor: u128,
}

struct Job<T> {
    cpu: u128,
    running: usize,
    queue: VecDeque<T>,
}

/// The index of the first item of `items` with the least `key` among
/// those `allowed`. Looks at keys alone first: the first least one is
/// nearly always allowed (a worker leaves only a task another worker was
/// woken for), and then no other item's tasks need be looked at.
fn first_min(
    items: &[u64],
    key: impl Fn(&u64) -> u128,
    allowed: impl Fn(&u64) -> bool,
) -> Option<usize> {
    let (i, _) = items.iter().enumerate().min_by_key(|(_, id)| key(id))?;
    if allowed(&items[i]) {
        return Some(i);
    }
    items
        .iter()
        .enumerate()
        .filter(|(_, id)| allowed(id))
        .min_by_key(|(_, id)| key(id))
        .map(|(i, _)| i)
}

impl<T> Default for Sched<T> {
    fn default() -> Self {
        Self {
            tenants: HashMap::default(),
            ready: Vec::new(),
            floor: 0,
        }
    }
}

impl<T> Sched<T> {
    /// Register a tenant with its share (≥ 1), or change its share.
    pub fn add_tenant(&mut self, tenant: u64, share: u64) {
        self.tenant(tenant).share = share.max(1);
    }

    /// Tenant `id`, registered with share 1 (at the current virtual time)
    /// if it was not.
    fn tenant(&mut self, id: u64) -> &mut Tenant<T> {
        let floor = self.floor;
        self.tenants.entry(id).or_insert_with(|| Tenant {
            share: 1,
            vtime: floor,
            running: 0,
            jobs: HashMap::default(),
            ready: Vec::new(),
            floor: 0,
        })
    }

    /// Forget a tenant (it has no job left).
    pub fn remove_tenant(&mut self, tenant: u64) {
        self.tenants.remove(&tenant);
        self.ready.retain(|t| *t != tenant);
    }

    /// Forget a job (none of its tasks is left, so none is queued).
    pub fn remove_job(&mut self, tenant: u64, job: u64) {
        if let Some(t) = self.tenants.get_mut(&tenant) {
            t.jobs.remove(&job);
            t.ready.retain(|j| *j != job);
            if t.ready.is_empty() {
                self.ready.retain(|x| *x != tenant);
            }
        }
    }

    /// A task of `job` (of `tenant`) is ready to run.
    pub fn push(&mut self, tenant: u64, job: u64, task: T) {
        let floor = self.floor;
        let t = self.tenant(tenant);
        let job_floor = t.floor;
        let j = t.jobs.entry(job).or_insert_with(|| Job {
            cpu: job_floor,
            running: 0,
            queue: VecDeque::new(),
        });
        j.queue.push_back(task);
        if j.queue.len() == 1 {
            if j.running == 0 {
                j.cpu = j.cpu.max(job_floor);
            }
            t.ready.push(job);
            if t.ready.len() == 1 {
                if t.running == 0 {
                    t.vtime = t.vtime.max(floor);
                }
                self.ready.push(tenant);
            }
        }
    }

    /// The next task to run, with its tenant and job.
    pub fn pick(&mut self) -> Option<(T, u64, u64)> {
        self.pick_where(|_| Fit::Any)
    }

    /// The next task to run of those `fit` allows: the fairest tenant and
    /// job that have one, and in that job the first task `fit` prefers,
    /// else its first allowed one. (A worker prefers the tasks it ran
    /// last, whose data its cache holds, and leaves a task to the worker
    /// that was woken for it.)
    pub fn pick_where(&mut self, fit: impl Fn(&T) -> Fit) -> Option<(T, u64, u64)> {
        let allowed = |j: &Job<T>| j.queue.iter().any(|t| fit(t) != Fit::No);
        let tenants = &self.tenants;
        let tenant_allowed = |id: &u64| {
            let t = &tenants[id];
            t.ready.iter().any(|j| allowed(&t.jobs[j]))
        };
        let ti = first_min(&self.ready, |id| tenants[id].vtime, tenant_allowed)?;
        let tenant = self.ready[ti];
        let t = self.tenants.get_mut(&tenant)?;
        let jobs = &t.jobs;
        let ji = first_min(&t.ready, |id| jobs[id].cpu, |id| allowed(&jobs[id]))?;
        let job = t.ready[ji];
        let j = t.jobs.get_mut(&job)?;
        let at = j
            .queue
            .iter()
            .position(|t| fit(t) == Fit::Preferred)
            .or_else(|| j.queue.iter().position(|t| fit(t) == Fit::Any))?;
        let task = j.queue.remove(at)?;
        j.running += 1;
        t.running += 1;
        t.floor = t.floor.max(j.cpu);
        if j.queue.is_empty() {
            t.ready.remove(ji);
        }
        self.floor = self.floor.max(t.vtime);
        if t.ready.is_empty() {
            self.ready.remove(ti);
        }
        Some((task, tenant, job))
    }

    /// A task of `job` that [`Self::pick`] gave ran for `ns` of CPU (and
    /// is ready again, if it is, already).
    pub fn charge(&mut self, tenant: u64, job: u64, ns: u64) {
        if let Some(t) = self.tenants.get_mut(&tenant) {
            t.vtime += ns as u128 * SCALE / t.share as u128;
            t.running = t.running.saturating_sub(1);
            if let Some(j) = t.jobs.get_mut(&job) {
                j.cpu += ns as u128;
                j.running = j.running.saturating_sub(1);
            }
        }
    }

    /// Whether any task is ready.
    pub fn is_empty(&self) -> bool {
        self.ready.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run `rounds` picks where every task costs `cost(tenant)` ns and is
    /// ready again at once; return the CPU each tenant got.
    fn simulate(
        s: &mut Sched<(u64, u64)>,
        rounds: usize,
        cost: impl Fn(u64) -> u64,
    ) -> HashMap<u64, u64> {
        let mut got = HashMap::default();
        for _ in 0..rounds {
            let ((t, j), tenant, job) = s.pick().expect("always something ready");
            let ns = cost(t);
            s.push(t, j, (t, j));
            s.charge(tenant, job, ns);
            *got.entry(t).or_insert(0) += ns;
        }
        got
    }

    /// Tenant 1 with twenty ready jobs, tenant 2 with one; equal shares.
    fn twenty_and_one() -> Sched<(u64, u64)> {
        let mut s = Sched::default();
        s.add_tenant(1, 1);
        s.add_tenant(2, 1);
        for j in 0..20 {
            s.push(1, 100 + j, (1, 100 + j));
        }
        s.push(2, 200, (2, 200));
        s
    }

    #[test]
    fn a_tenant_with_one_job_gets_as_much_as_one_with_twenty() {
        let mut s = twenty_and_one();
        let got = simulate(&mut s, 10_000, |_| 1_000_000);
        let share = got[&2] as f64 / (got[&1] + got[&2]) as f64;
        assert!((0.49..=0.51).contains(&share), "{share}");
    }

    #[test]
    fn shares_weigh_tenants_and_jobs_of_a_tenant_share_evenly() {
        let mut s = Sched::default();
        s.add_tenant(1, 3);
        s.add_tenant(2, 1);
        for j in 0..3 {
            s.push(1, 10 + j, (1, 10 + j));
        }
        s.push(2, 20, (2, 20));
        // Tasks of tenant 2 are ten times as long: the time still splits 3:1.
        let mut per_job: HashMap<u64, u64> = HashMap::default();
        let mut got: HashMap<u64, u64> = HashMap::default();
        for _ in 0..20_000 {
            let ((t, j), tenant, job) = s.pick().unwrap();
            let ns = if t == 2 { 10_000 } else { 1_000 };
            s.push(t, j, (t, j));
            s.charge(tenant, job, ns);
            *got.entry(t).or_default() += ns;
            *per_job.entry(j).or_default() += ns;
        }
        let share = got[&1] as f64 / (got[&1] + got[&2]) as f64;
        assert!((0.74..=0.76).contains(&share), "{share}");
        let (lo, hi) = (10..13)
            .map(|j| per_job[&j])
            .fold((u64::MAX, 0), |(lo, hi), x| (lo.min(x), hi.max(x)));
        assert!(hi - lo <= 10_000, "{lo}..{hi}");
    }

    #[test]
    fn an_idle_tenant_saves_up_no_credit() {
        let mut s = Sched::default();
        s.add_tenant(1, 1);
        s.add_tenant(2, 1);
        s.push(1, 10, (1, 10));
        // Tenant 1 runs alone for a long time.
        simulate(&mut s, 1_000, |_| 1_000_000);
        // Then tenant 2 wakes up: it does not get the next second to itself.
        s.push(2, 20, (2, 20));
        let got = simulate(&mut s, 100, |_| 1_000_000);
        assert!(got[&1] >= 45_000_000, "{got:?}");
    }

    /// Two workers; tenant 2's job is a pipeline of two tasks that wake
    /// each other, so it has a task ready only while the other runs: it
    /// still gets its half.
    #[test]
    fn a_pipeline_that_is_never_ready_twice_keeps_its_credit() {
        let mut s = twenty_and_one();
        let mut got: HashMap<u64, u64> = HashMap::default();
        // Each worker runs a task for 1 ms; they finish alternately.
        let mut running = [s.pick().unwrap(), s.pick().unwrap()];
        for round in 0..20_000 {
            let w = round % 2;
            let ((t, j), tenant, job) = running[w];
            // A task of tenant 2 hands over to its other stage as it ends.
            s.push(t, j, (t, j));
            s.charge(tenant, job, 1_000_000);
            *got.entry(t).or_default() += 1_000_000;
            running[w] = s.pick().unwrap();
        }
        let share = got[&2] as f64 / (got[&1] + got[&2]) as f64;
        assert!(share > 0.45, "{share}");
    }

    #[test]
    fn a_worker_takes_its_own_task_first_and_leaves_others_theirs() {
        let mut s = Sched::default();
        // Job 10's tasks, by the worker they ran on last.
        s.push(1, 10, 'x'); // worker 0
        s.push(1, 10, 'y'); // worker 1
        s.push(1, 10, 'z'); // worker 1
        let home = |t: &char| if *t == 'x' { 0 } else { 1 };
        // Worker 1 takes its own first, in order.
        let fit1 = |t: &char| {
            if home(t) == 1 {
                Fit::Preferred
            } else {
                Fit::Any
            }
        };
        assert_eq!(s.pick_where(fit1).map(|p| p.0), Some('y'));
        // Worker 0, while worker 1 was woken for its own: only `x`.
        let fit0 = |t: &char| {
            if home(t) == 0 {
                Fit::Preferred
            } else {
                Fit::No
            }
        };
        assert_eq!(s.pick_where(fit0).map(|p| p.0), Some('x'));
        assert!(s.pick_where(fit0).is_none());
        // With nothing preferred, any task that may run here.
        assert_eq!(s.pick_where(|_| Fit::Any).map(|p| p.0), Some('z'));
    }

    #[test]
    fn tasks_of_one_job_run_in_order_and_removal_forgets_them() {
        let mut s = Sched::default();
        s.push(1, 10, 'a');
        s.push(1, 10, 'b');
        assert_eq!(s.pick().map(|p| p.0), Some('a'));
        assert_eq!(s.pick().map(|p| p.0), Some('b'));
        assert!(s.pick().is_none() && s.is_empty());
        s.push(1, 11, 'c');
        s.remove_job(1, 11);
        assert!(s.is_empty() && s.pick().is_none());
        s.remove_tenant(1);
        s.charge(1, 11, 5);
    }
}
