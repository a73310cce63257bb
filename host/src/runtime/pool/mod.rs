//! The worker pool: every task of every job (sources, stages, sinks) is a
//! future run by a few threads, about one per core, picked fairly across
//! tenants and jobs ([`Sched`]).
//!
//! ```text
//!  job tasks (futures) ──wake──▶ Sched (tenant vtime, job CPU) ──▶ worker 0..N
//!                                                                   │ poll, timed by the
//!                                                                   ▼ thread's CPU clock
//!                                                   charge the job and its tenant
//! ```
//!
//! A task holds a worker only while it has work: waiting for a channel, a
//! timer or blocking I/O costs no thread. Stage loops offer the worker back
//! between steps ([`yield_if_long`]): a task that has run for a
//! [`QUANTUM`] since it last waited goes to the back of the queue, and the
//! scheduler decides who runs next.
//!
//! A long poll (a guest call that runs for a while, up to its CPU
//! deadline) cannot hold a worker from everyone else: a monitor notices a
//! poll running longer than [`STUCK`] and lets a stand-in worker run the
//! other tasks until it ends — at most one stand-in per worker, so at most
//! twice as many threads as cores ever run tasks (Go's runtime hands off a
//! processor from a blocked thread the same way). Stand-in threads start
//! the first time they are needed and wait, costing nothing, after.
//!
//! A worker prefers, within the job the scheduler chose, the task it ran
//! last (its data is in that core's cache), and leaves a task to the
//! worker that was woken for it: a pipeline of source, stage and sink then
//! settles on the cores as threads would, without migrating every batch.
//! Timers of idle sources fire on a [`TIMER_GRID`], so a thousand slow jobs
//! wake together a few times a second rather than each on its own.
//!
//! A poll is charged the wall time it took on its worker (the monotonic
//! clock is read in user space; the thread CPU clock is a system call,
//! which cost a quarter of an idle host's worker time). With about one
//! worker per core the two agree, unless the machine runs more than weir. A Wasm call runs to
//! its end on its worker (bounded by its CPU deadline): calls are
//! synchronous, and a call's host functions may block (WASI streams block
//! on tokio from outside a runtime, which is why the workers are not
//! tokio's).
//!
//! Timers and blocking I/O use a small tokio runtime the pool owns (one
//! thread, plus blocking threads only while blocking work runs). Every
//! worker enters it, so `tokio::time::sleep` works in tasks.

mod sched;

pub use sched::{Fit, Sched};

use crate::activity::Activity;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// A poll running this long lets a stand-in worker take the other tasks.
pub const STUCK: Duration = Duration::from_millis(20);

/// A poll running this long is reported in the log, once per poll: a
/// call that blocks this long is waiting for something outside weir (or
/// hangs), which the log should show.
pub const HUNG: Duration = Duration::from_secs(30);

/// How long a task may keep its worker before it offers it back.
pub const QUANTUM: Duration = Duration::from_millis(2);

thread_local! {
    /// When the poll running on this worker began.
    static POLL_STARTED: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) };
}

/// A tenant's account: its share of the workers and the CPU its jobs used.
pub struct Tenant {
    id: u64,
    name: String,
    cpu_ns: AtomicU64,
    pool: Weak<Shared>,
}

impl Tenant {
    /// The tenant's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Time its jobs' tasks ran on the workers, in nanoseconds.
    pub fn cpu_ns(&self) -> u64 {
        self.cpu_ns.load(Ordering::Relaxed)
    }

    /// Change its share (relative to other tenants'; ≥ 1).
    pub fn set_share(&self, share: u64) {
        if let Some(p) = self.pool.upgrade() {
            p.lock().add_tenant(self.id, share);
        }
    }
}

impl Drop for Tenant {
    fn drop(&mut self) {
        if let Some(p) = self.pool.upgrade() {
            p.lock().remove_tenant(self.id);
        }
    }
}

/// A job's account: its tasks are scheduled and charged under it.
pub struct JobAccount {
    id: u64,
    job: String,
    tenant: Arc<Tenant>,
    cpu_ns: AtomicU64,
    pool: Weak<Shared>,
}

impl JobAccount {
    /// Time the job's tasks ran on the workers, in nanoseconds.
    pub fn cpu_ns(&self) -> u64 {
        self.cpu_ns.load(Ordering::Relaxed)
    }

    /// The job's name.
    pub fn job(&self) -> &str {
        &self.job
    }

    /// Its tenant.
    pub fn tenant(&self) -> &Arc<Tenant> {
        &self.tenant
    }
}

impl Drop for JobAccount {
    fn drop(&mut self) {
        if let Some(p) = self.pool.upgrade() {
            p.lock().remove_job(self.tenant.id, self.id);
        }
    }
}

/// What the pool keeps with each task.
pub struct TaskMeta {
    account: Arc<JobAccount>,
    /// The worker that ran it last (`usize::MAX`: none yet).
    home: AtomicUsize,
}

type Runnable = async_task::Runnable<TaskMeta>;

struct Shared {
    sched: Mutex<State>,
    /// One per worker slot (the workers, then their stand-ins): a task for
    /// it is queued, or a stand-in may run.
    wake: Vec<Condvar>,
    /// Per slot: when its poll in progress began (ns since `origin`, + 1),
    /// or 0.
    polls: Vec<AtomicU64>,
    origin: Instant,
    /// Regular workers; slots from here on are stand-ins.
    workers: usize,
    /// `State::standins`, read without the lock.
    standins: AtomicUsize,
    /// Polls running now: the monitor sleeps while none does.
    polling: Activity,
}

struct State {
    sched: Sched<Runnable>,
    /// Workers waiting for a task.
    idle: Vec<bool>,
    /// Workers woken for a task, not picking yet: the tasks that last ran
    /// on them are left to them.
    claimed: Vec<bool>,
    /// Stand-ins allowed to run now (one per stuck poll).
    standins: usize,
    /// Stand-in threads started so far.
    started: usize,
}

impl State {
    /// Wake a waiting worker for a task that last ran on `home`: that one
    /// if it waits, else any that waits and was not woken already.
    /// A retired stand-in (one whose stuck poll ended) is never woken for
    /// a task: it would go back to sleep with the task still queued.
    fn wake(&mut self, home: usize, shared: &Shared) {
        let active = shared.workers + self.standins;
        let free = |w: usize| w < active && self.idle[w] && !self.claimed[w];
        let w = if free(home) {
            Some(home)
        } else {
            (0..active).find(|w| free(*w))
        };
        if let Some(w) = w {
            self.claimed[w] = true;
            shared.wake[w].notify_one();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.sched.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl std::ops::Deref for State {
    type Target = Sched<Runnable>;
    fn deref(&self) -> &Sched<Runnable> {
        &self.sched
    }
}

impl std::ops::DerefMut for State {
    fn deref_mut(&mut self) -> &mut Sched<Runnable> {
        &mut self.sched
    }
}

/// The pool: its workers, its scheduler and its timer runtime.
pub struct Pool {
    shared: Arc<Shared>,
    io: tokio::runtime::Runtime,
    workers: usize,
    ids: AtomicU64,
    host: OnceLock<Arc<Tenant>>,
}

/// A task that panicked: its message.
#[derive(Debug)]
pub struct Panicked(pub String);

/// A spawned task: await it for its output (dropping it cancels the task).
pub type JoinHandle<T> = async_task::Task<Result<T, Panicked>, TaskMeta>;

impl Pool {
    /// The host's pool: one worker per core (at least two), started on
    /// first use.
    pub fn global() -> &'static Pool {
        static POOL: OnceLock<Pool> = OnceLock::new();
        POOL.get_or_init(|| {
            let n = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
            Pool::new(n).expect("cannot start the worker pool's threads")
        })
    }

    /// A pool of `workers` threads.
    pub fn new(workers: usize) -> std::io::Result<Pool> {
        let io = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("weir-io")
            .thread_keep_alive(std::time::Duration::from_secs(10))
            .enable_all()
            .build()?;
        let shared = Arc::new(Shared {
            sched: Mutex::new(State {
                sched: Sched::default(),
                idle: vec![false; 2 * workers],
                claimed: vec![false; 2 * workers],
                standins: 0,
                started: 0,
            }),
            wake: (0..2 * workers).map(|_| Condvar::new()).collect(),
            polls: (0..2 * workers).map(|_| AtomicU64::new(0)).collect(),
            origin: Instant::now(),
            workers,
            standins: AtomicUsize::new(0),
            polling: Activity::default(),
        });
        for i in 0..workers {
            let (shared, handle) = (shared.clone(), io.handle().clone());
            std::thread::Builder::new()
                .name(format!("weir-worker-{i}"))
                .spawn(move || worker(i, &shared, &handle))?;
        }
        {
            let (shared, handle) = (Arc::downgrade(&shared), io.handle().clone());
            std::thread::Builder::new()
                .name("weir-pool-monitor".into())
                .spawn(move || monitor(&shared, &handle))?;
        }
        Ok(Pool {
            shared,
            io,
            workers,
            ids: AtomicU64::new(1),
            host: OnceLock::new(),
        })
    }

    /// How many workers run tasks.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// A new tenant account with `share` (≥ 1).
    pub fn tenant(&self, name: &str, share: u64) -> Arc<Tenant> {
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        self.shared.lock().add_tenant(id, share);
        Arc::new(Tenant {
            id,
            name: name.into(),
            cpu_ns: AtomicU64::new(0),
            pool: Arc::downgrade(&self.shared),
        })
    }

    /// The tenant of jobs run outside `weir serve` (`weir run`, benches).
    pub fn host_tenant(&self) -> Arc<Tenant> {
        self.host.get_or_init(|| self.tenant("host", 1)).clone()
    }

    /// A new account for a run of `job`, charged to `tenant`.
    pub fn job(&self, tenant: &Arc<Tenant>, job: &str) -> Arc<JobAccount> {
        Arc::new(JobAccount {
            id: self.ids.fetch_add(1, Ordering::Relaxed),
            job: job.into(),
            tenant: tenant.clone(),
            cpu_ns: AtomicU64::new(0),
            pool: Arc::downgrade(&self.shared),
        })
    }

    /// Run `task` on the workers under `account`.
    pub fn spawn<F>(&self, account: &Arc<JobAccount>, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let shared = Arc::downgrade(&self.shared);
        let schedule = move |r: Runnable| {
            let Some(shared) = shared.upgrade() else {
                return;
            };
            let m = r.metadata();
            let (tenant, job) = (m.account.tenant.id, m.account.id);
            let home = m.home.load(Ordering::Relaxed);
            let mut s = shared.lock();
            s.push(tenant, job, r);
            s.wake(home, &shared);
        };
        let (runnable, handle) = async_task::Builder::new()
            .metadata(TaskMeta {
                account: account.clone(),
                home: AtomicUsize::new(usize::MAX),
            })
            .spawn(move |_| CatchUnwind(Box::pin(task)), schedule);
        runnable.schedule();
        handle
    }

    /// Run blocking work (a blocking read, a Kafka poll, a transaction
    /// commit) off the workers, and wait for it.
    pub async fn blocking<R, F>(&self, f: F) -> R
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        match self.io.spawn_blocking(f).await {
            Ok(r) => r,
            Err(e) => match e.try_into_panic() {
                Ok(p) => std::panic::resume_unwind(p),
                Err(e) => panic!("blocking work was cancelled: {e}"),
            },
        }
    }
}

/// Worker `me`: take the next task, run it, charge its time, again.
fn worker(me: usize, shared: &Shared, io: &tokio::runtime::Handle) {
    let _io = io.enter();
    let mut charge: Option<(u64, u64, u64)> = None;
    loop {
        let (runnable, tenant, job) = {
            let mut s = shared.lock();
            if let Some((tenant, job, ns)) = charge.take() {
                s.charge(tenant, job, ns);
            }
            loop {
                // A stand-in runs only while a poll is stuck.
                if me >= shared.workers && me - shared.workers >= s.standins {
                    s.idle[me] = false;
                    // Woken for a task just as it retired: pass it on.
                    if std::mem::take(&mut s.claimed[me]) && !s.is_empty() {
                        s.wake(usize::MAX, shared);
                    }
                    s = shared.wake[me].wait(s).unwrap_or_else(|p| p.into_inner());
                    continue;
                }
                let st = &mut *s;
                let claimed = &st.claimed;
                let fit = |r: &Runnable| match r.metadata().home.load(Ordering::Relaxed) {
                    h if h == me => Fit::Preferred,
                    h if claimed.get(h).is_some_and(|c| *c) => Fit::No,
                    _ => Fit::Any,
                };
                let next = st.sched.pick_where(fit);
                s.claimed[me] = false;
                if let Some(next) = next {
                    // More is ready: another waiting worker may take it.
                    if !s.is_empty() {
                        s.wake(usize::MAX, shared);
                    }
                    break next;
                }
                s.idle[me] = true;
                s = shared.wake[me].wait(s).unwrap_or_else(|p| p.into_inner());
                s.idle[me] = false;
            }
        };
        let account = runnable.metadata().account.clone();
        runnable.metadata().home.store(me, Ordering::Relaxed);
        let started = Instant::now();
        POLL_STARTED.set(Some(started));
        let stamp = started.saturating_duration_since(shared.origin).as_nanos() as u64 + 1;
        shared.polls[me].store(stamp, Ordering::Relaxed);
        shared.polling.start();
        runnable.run();
        shared.polling.end();
        shared.polls[me].store(0, Ordering::Relaxed);
        POLL_STARTED.set(None);
        let ns = started.elapsed().as_nanos() as u64;
        account.cpu_ns.fetch_add(ns, Ordering::Relaxed);
        account.tenant.cpu_ns.fetch_add(ns, Ordering::Relaxed);
        charge = Some((tenant, job, ns));
        // The account may be the last one: it leaves the scheduler here,
        // outside its lock.
        drop(account);
    }
}

/// Every few milliseconds: one stand-in may run per poll running longer
/// than [`STUCK`]. Ends with the pool.
fn monitor(shared: &Weak<Shared>, io: &tokio::runtime::Handle) {
    // Per slot: the start stamp of the poll last reported as hung.
    let mut reported: Vec<u64> = Vec::new();
    loop {
        std::thread::sleep(STUCK / 2);
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let now = shared.origin.elapsed().as_nanos() as u64 + 1;
        reported.resize(shared.polls.len(), 0);
        for (slot, p) in shared.polls.iter().enumerate() {
            let t = p.load(Ordering::Relaxed);
            if t != 0 && t != reported[slot] && now.saturating_sub(t) >= HUNG.as_nanos() as u64 {
                reported[slot] = t;
                tracing::warn!(
                    worker = slot,
                    "a task has held its worker for {} s in one call that blocks (a Kafka \
                     client waiting for its broker, blocking I/O); the other tasks run on \
                     a stand-in worker meanwhile",
                    HUNG.as_secs()
                );
            }
        }
        let stuck = shared
            .polls
            .iter()
            .map(|p| p.load(Ordering::Relaxed))
            .filter(|&t| t != 0 && now.saturating_sub(t) >= STUCK.as_nanos() as u64)
            .count()
            .min(shared.workers);
        // Most ticks change nothing: no lock then.
        if shared.standins.load(Ordering::Relaxed) == stuck {
            if stuck == 0 {
                // Nothing to watch until a poll starts (looking again in a
                // while: the pool may have ended).
                shared.polling.wait_for_work(Duration::from_secs(1));
            }
            continue;
        }
        let mut s = shared.lock();
        let before = s.standins;
        s.standins = stuck;
        for k in before..stuck {
            let slot = shared.workers + k;
            if k >= s.started {
                s.started = k + 1;
                let (weak, handle) = (Arc::downgrade(&shared), io.clone());
                let spawned = std::thread::Builder::new()
                    .name(format!("weir-standin-{k}"))
                    .spawn(move || {
                        if let Some(shared) = weak.upgrade() {
                            worker(slot, &shared, &handle)
                        }
                    });
                if let Err(e) = spawned {
                    tracing::warn!("cannot start a stand-in worker: {e}");
                    s.started = k;
                    s.standins = k;
                    break;
                }
            } else {
                shared.wake[slot].notify_one();
            }
        }
        shared.standins.store(s.standins, Ordering::Relaxed);
    }
}

/// A task's future, with a panic turned into its output.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Panicked>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(panic) => Poll::Ready(Err(Panicked(
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default(),
            ))),
        }
    }
}

/// Timers of idle tasks fire on this grid, so that many slow jobs wake
/// together, once per tick, rather than each on its own.
pub const TIMER_GRID: Duration = Duration::from_millis(50);

/// `t` rounded up to the [`TIMER_GRID`].
pub fn on_grid(t: Instant) -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    let origin = *ORIGIN.get_or_init(Instant::now);
    let grid = TIMER_GRID.as_nanos();
    let since = t.saturating_duration_since(origin).as_nanos();
    let ticks = since.div_ceil(grid);
    origin + Duration::from_nanos((ticks * grid) as u64)
}

/// Give the worker back if this poll has run for a [`QUANTUM`]: a task
/// that finds its next input waiting would otherwise keep its worker.
pub async fn yield_if_long() {
    if POLL_STARTED.get().is_some_and(|t| t.elapsed() >= QUANTUM) {
        yield_now().await
    }
}

/// Give the worker back: the task runs again when the scheduler picks it.
pub async fn yield_now() {
    struct YieldNow(bool);
    impl Future for YieldNow {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
    YieldNow(false).await
}

/// Wait for a future on this thread (a thread outside the pool: the CLI,
/// a control thread, a test).
pub fn block_on<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[cfg(test)]
mod tests;
