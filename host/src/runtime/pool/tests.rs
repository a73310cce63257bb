//! The pool's behaviour: tasks wait for each other, panics are reported,
//! timers and blocking work hold no worker, tenants share fairly, and a
//! long poll does not hold the only worker.

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
fn a_long_poll_does_not_hold_the_only_worker_from_others() {
    let pool = Pool::new(1).unwrap();
    let tenant = pool.host_tenant();
    let (a, b) = (pool.job(&tenant, "a"), pool.job(&tenant, "b"));
    // A poll that holds its worker 600 ms (a long guest call).
    let long = pool.spawn(&a, async {
        std::thread::sleep(Duration::from_millis(600));
    });
    std::thread::sleep(Duration::from_millis(50));
    let t = Instant::now();
    block_on(pool.spawn(&b, async {})).unwrap();
    let waited = t.elapsed();
    block_on(long).unwrap();
    // Without a stand-in, the other job waits for the rest of the 600.
    assert!(waited < Duration::from_millis(300), "{waited:?}");
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

#[test]
fn a_task_last_run_by_a_stand_in_runs_after_the_stand_in_is_retired() {
    let pool = Pool::new(1).unwrap();
    let account = pool.job(&pool.host_tenant(), "t");
    // The only worker is stuck for 150 ms: a stand-in starts and runs the
    // waiting task's first poll, so the stand-in is that task's home.
    let long = pool.spawn(&account, async {
        std::thread::sleep(Duration::from_millis(150));
    });
    let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(1);
    let waiting = pool.spawn(&account, async move { rx.recv().await });
    block_on(long).unwrap();
    // The monitor retires the stand-in once nothing is stuck.
    std::thread::sleep(Duration::from_millis(100));
    tx.try_send(7).unwrap();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || done_tx.send(block_on(waiting).unwrap()));
    let got = done_rx.recv_timeout(Duration::from_secs(2));
    assert_eq!(got, Ok(Some(7)), "the woken task never ran");
}
