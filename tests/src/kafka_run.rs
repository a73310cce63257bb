//! Running jobs against Kafka in tests: input produced round-robin over
//! partitions (each in event-time order), jobs killed again and again while
//! it arrives, and waiting for their committed output.

use crate::kafka::{TestProducer, committed_values};
use crate::{TestRng, spawn_weir};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

/// Transactions from weir's generator, in event-time order, as lines.
pub fn transactions(dir: &Path, rows: u64) -> Vec<String> {
    let path = crate::generate_transactions(dir, "transactions", rows, 300, 5, 50, 0);
    std::fs::read_to_string(path)
        .expect("generated")
        .lines()
        .map(String::from)
        .collect()
}

/// Records that advance every partition's event time far past the data
/// (and are dropped by the operator: amount < 50), so an unbounded job
/// fires every window of the data.
pub fn flush_line() -> String {
    r#"{"ts":9000000000000,"user":"flush","amount":0,"merchant":"none"}"#.to_string()
}

/// Send `lines` round-robin over `partitions` partitions (so each
/// partition stays in event-time order), optionally at `rate` lines/s.
pub fn produce(topic: &str, partitions: i32, lines: &[String], rate: Option<u64>) {
    let p = TestProducer::new();
    let started = Instant::now();
    for (i, line) in lines.iter().enumerate() {
        p.send(topic, i as i32 % partitions, None, line.as_bytes(), None);
        if let Some(rate) = rate
            && i % 100 == 99
        {
            let due = Duration::from_secs_f64(i as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }
    p.flush();
}

/// One record per partition far past the data, so an unbounded job fires
/// every window of it.
pub fn flush_partitions(topic: &str, partitions: i32) {
    let p = TestProducer::new();
    for part in 0..partitions {
        p.send(topic, part, None, flush_line().as_bytes(), None);
    }
    p.flush();
}

/// Wait until `topic` holds at least `n` committed records; return them.
pub fn wait_for(topic: &str, n: usize, within: Duration, job: &mut Child) -> Vec<String> {
    let started = Instant::now();
    loop {
        let got = committed_values(topic);
        if got.len() >= n {
            return got;
        }
        if let Some(status) = job.try_wait().expect("try_wait") {
            let mut err = String::new();
            if let Some(mut e) = job.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            panic!(
                "the job exited ({status}) with {} of {n} results:\n{err}",
                got.len()
            );
        }
        assert!(
            started.elapsed() < within,
            "only {} of {n} results in {topic} after {within:?}",
            got.len()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Start the unbounded job `job_arg` again and again, killing it with
/// SIGKILL after 0.3-1.5 s each time, at least 10 times and until
/// `producer` has sent its input. Returns the number of kills.
pub fn kill_while_producing(
    dir: &Path,
    job_arg: &str,
    producer: &std::thread::JoinHandle<()>,
) -> usize {
    let mut rng = TestRng::from_env();
    let mut kills = 0;
    let started = Instant::now();
    while kills < 10 || !producer.is_finished() {
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "kill loop took too long"
        );
        let mut child = spawn_weir(dir, &["run", "-q", job_arg]);
        std::thread::sleep(Duration::from_millis(rng.between(300, 1500)));
        if let Some(status) = child.try_wait().expect("try_wait") {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            panic!("an unbounded job exited by itself ({status}):\n{err}");
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        kills += 1;
    }
    kills
}
