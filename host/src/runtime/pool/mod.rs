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
//! timer or blocking I/O costs no thread. Stage loops yield after every
//! step ([`yield_now`]), so a busy job gives the worker back between
//! batches and the scheduler decides who runs next. A Wasm call runs to
//! its end on its worker (bounded by its CPU deadline): calls are
//! synchronous, and a call's host functions may block (WASI streams block
//! on tokio from outside a runtime, which is why the workers are not
//! tokio's).
//!
//! Timers and blocking I/O use a small tokio runtime the pool owns (one
//! thread, plus blocking threads only while blocking work runs). Every
//! worker enters it, so `tokio::time::sleep` works in tasks.

mod sched;

pub use sched::Sched;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::task::{Context, Poll, Wake, Waker};

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

    /// CPU time its jobs' tasks used on the workers, in nanoseconds.
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
    /// CPU time the job's tasks used on the workers, in nanoseconds.
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

type Runnable = async_task::Runnable<Arc<JobAccount>>;

struct Shared {
    sched: Mutex<State>,
    wake: Condvar,
}

struct State {
    sched: Sched<Runnable>,
    /// Workers waiting for a task.
    idle: usize,
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
pub type JoinHandle<T> = async_task::Task<Result<T, Panicked>, Arc<JobAccount>>;

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
                idle: 0,
            }),
            wake: Condvar::new(),
        });
        for i in 0..workers {
            let (shared, handle) = (shared.clone(), io.handle().clone());
            std::thread::Builder::new()
                .name(format!("weir-worker-{i}"))
                .spawn(move || worker(&shared, &handle))?;
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
            let (tenant, job) = {
                let a = r.metadata();
                (a.tenant.id, a.id)
            };
            let mut s = shared.lock();
            s.push(tenant, job, r);
            let wake = s.idle > 0;
            drop(s);
            if wake {
                shared.wake.notify_one();
            }
        };
        let (runnable, handle) = async_task::Builder::new()
            .metadata(account.clone())
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

/// A worker: take the next task, run it, charge its CPU, again.
fn worker(shared: &Shared, io: &tokio::runtime::Handle) {
    let _io = io.enter();
    let mut charge: Option<(u64, u64, u64)> = None;
    loop {
        let (runnable, tenant, job) = {
            let mut s = shared.lock();
            if let Some((tenant, job, ns)) = charge.take() {
                s.charge(tenant, job, ns);
            }
            loop {
                if let Some(next) = s.pick() {
                    break next;
                }
                s.idle += 1;
                s = shared.wake.wait(s).unwrap_or_else(|p| p.into_inner());
                s.idle -= 1;
            }
        };
        let account = runnable.metadata().clone();
        let started = thread_cpu_ns();
        runnable.run();
        let ns = thread_cpu_ns().saturating_sub(started);
        account.cpu_ns.fetch_add(ns, Ordering::Relaxed);
        account.tenant.cpu_ns.fetch_add(ns, Ordering::Relaxed);
        charge = Some((tenant, job, ns));
        // The account may be the last one: it leaves the scheduler here,
        // outside its lock.
        drop(account);
    }
}

fn thread_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    (t.tv_sec.max(0) as u64) * 1_000_000_000 + t.tv_nsec.max(0) as u64
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
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn tasks_run_wait_for_each_other_and_report_panics() {
        let pool = Pool::new(2).unwrap();
        let account = pool.job(&pool.host_tenant(), "t");
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(1);
        let producer = pool.spawn(&account, async move {
            for i in 0..1000 {
                tx.send(i).await.unwrap();
                yield_now().await;
            }
        });
        let consumer = pool.spawn(&account, async move {
            let mut sum = 0;
            while let Some(i) = rx.recv().await {
                sum += i;
            }
            sum
        });
        assert_eq!(block_on(consumer).unwrap(), 499_500);
        block_on(producer).unwrap();
        let boom = pool.spawn(&account, async { panic!("boom") });
        assert_eq!(block_on(boom).unwrap_err().0, "boom");
        assert!(account.cpu_ns() > 0);
    }

    #[test]
    fn timers_and_blocking_work_cost_no_worker() {
        let pool = Arc::new(Pool::new(1).unwrap());
        let account = pool.job(&pool.host_tenant(), "t");
        // One worker; two tasks sleep and one blocks: all three wait at
        // once, or the last to start would see fewer in flight.
        let (in_flight, most) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let enter = {
            let (in_flight, most) = (in_flight.clone(), most.clone());
            move || {
                let n = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(n, Ordering::SeqCst);
            }
        };
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let (enter, in_flight) = (enter.clone(), in_flight.clone());
            tasks.push(pool.spawn(&account, async move {
                enter();
                tokio::time::sleep(Duration::from_millis(300)).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        let (p, in_flight2) = (pool.clone(), in_flight.clone());
        tasks.push(pool.spawn(&account, async move {
            enter();
            p.blocking(|| std::thread::sleep(Duration::from_millis(300)))
                .await;
            in_flight2.fetch_sub(1, Ordering::SeqCst);
        }));
        for t in tasks {
            block_on(t).unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_busy_tenant_with_many_jobs_does_not_starve_one_with_one() {
        let pool = Pool::new(2).unwrap();
        let (a, b) = (pool.tenant("a", 1), pool.tenant("b", 1));
        let spin = |account: Arc<JobAccount>| async move {
            let t = Instant::now();
            while t.elapsed() < Duration::from_millis(600) {
                let slice = Instant::now();
                while slice.elapsed() < Duration::from_micros(500) {
                    std::hint::black_box(0);
                }
                yield_now().await;
            }
            drop(account);
        };
        let mut tasks = Vec::new();
        for i in 0..10 {
            let acc = pool.job(&a, &format!("a{i}"));
            tasks.push(pool.spawn(&acc, spin(acc.clone())));
        }
        let acc = pool.job(&b, "b");
        // Its one job has two busy tasks, so it can use both workers.
        tasks.push(pool.spawn(&acc, spin(acc.clone())));
        tasks.push(pool.spawn(&acc, spin(acc.clone())));
        for t in tasks {
            block_on(t).unwrap();
        }
        let share = b.cpu_ns() as f64 / (a.cpu_ns() + b.cpu_ns()) as f64;
        assert!(share > 0.4, "tenant b got {share:.2} of the CPU");
    }
}
