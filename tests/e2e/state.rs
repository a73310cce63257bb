//! Keyed state in RocksDB: same results as in memory, and memory bounded by
//! the configured cache however large the state grows.

use weir::state::{KeyedStateBackend, RocksMemory, RocksStore, StateKind, state_key};
use weir_e2e::{canonical_lines, repo, weir};

#[test]
fn fraud_on_rocksdb_matches_the_reference_at_any_parallelism() {
    for parallelism in [1, 4] {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("alerts.jsonl");
        weir(&[
            "run",
            "-q",
            "examples/fraud/job.toml",
            "--set",
            "state.backend=rocksdb",
            "--set",
            &format!("state.path={}", dir.path().join("state").display()),
            "--set",
            "state.block_cache=8MiB",
            "--set",
            "state.write_buffer=4MiB",
            "--set",
            &format!("parallelism={parallelism}"),
            "--set",
            &format!("sink.path={}", out.display()),
        ])
        .ok();
        assert!(
            dir.path().join("state/subtask-0/CURRENT").is_file(),
            "no RocksDB at state.path"
        );
        assert_eq!(
            canonical_lines(&out),
            canonical_lines(&repo().join("examples/fraud/expected.jsonl")),
            "parallelism {parallelism}"
        );
    }
}

/// Resident memory of this process, from /proc.
/// Held by the tests that run RocksDB in this process: two of them measure
/// its resident memory, which is the whole process's, so a test beside
/// them would be counted as theirs (a CI run once saw 65 MiB against a
/// bound of 64).
static IN_PROCESS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    IN_PROCESS.lock().unwrap_or_else(|e| e.into_inner())
}

fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kb * 1024
}

#[test]
fn state_far_larger_than_the_cache_keeps_memory_bounded() {
    let _alone = alone();
    let dir = tempfile::tempdir().expect("tempdir");
    let memory = RocksMemory::new(8 << 20, 4 << 20);
    let store = RocksStore::open_fresh(&dir.path().join("db"), &memory).expect("open");
    let mut backend = store.backend();
    let value = |i: u32| {
        // Incompressible enough that LZ4 does not hide the size.
        let mut v = Vec::with_capacity(256);
        let mut x = i.wrapping_mul(2_654_435_761) | 1;
        while v.len() < 256 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            v.extend_from_slice(&x.to_le_bytes());
        }
        v
    };
    let before = rss_bytes();
    let n: u32 = 1_000_000; // ~256 MB of values: 32x the cache
    for i in 0..n {
        backend
            .put(state_key(StateKind::Value, "v", &i.to_be_bytes()), value(i))
            .expect("put");
    }
    for i in (0..n).step_by(9973) {
        let got = backend
            .get(&state_key(StateKind::Value, "v", &i.to_be_bytes()))
            .expect("get");
        assert_eq!(got, Some(value(i)), "key {i}");
    }
    let grown = rss_bytes().saturating_sub(before);
    let on_disk: u64 = std::fs::read_dir(dir.path().join("db"))
        .expect("db dir")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    eprintln!(
        "{} MiB of state on disk; resident memory grew {} MiB (cache 8 MiB)",
        on_disk >> 20,
        grown >> 20
    );
    assert!(
        on_disk > 200 << 20,
        "only {on_disk} bytes on disk: the state is not larger than the cache"
    );
    assert!(
        grown < 128 << 20,
        "resident memory grew by {} MiB for {} MiB of state with an 8 MiB cache",
        grown >> 20,
        on_disk >> 20
    );
}

/// (device, inode, size) of every file under `dir`.
fn files(dir: &std::path::Path) -> Vec<(u64, u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let m = e.metadata().expect("metadata");
            if m.is_dir() {
                stack.push(e.path());
            } else {
                out.push((m.dev(), m.ino(), m.len()));
            }
        }
    }
    out
}

#[test]
fn rocksdb_checkpoints_share_unchanged_files_and_are_listed() {
    let _alone = alone();
    use weir::checkpoint::CheckpointStore;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = RocksStore::open_fresh(&dir.path().join("db"), &RocksMemory::new(8 << 20, 4 << 20))
        .expect("open");
    let mut backend = store.backend();
    let key = |i: u32| state_key(StateKind::Value, "v", &i.to_be_bytes());
    let value = |i: u32, round: u32| format!("{i:08}-{round}-{}", "x".repeat(90)).into_bytes();
    for i in 0..200_000 {
        backend.put(key(i), value(i, 0)).expect("put");
    }
    // Checkpoints share files only until a compaction rewrites them; settle
    // the loaded state first so a background compaction cannot land between
    // the two checkpoints and make the measurement depend on timing.
    store.compact();
    let checkpoints =
        CheckpointStore::open(&dir.path().join("checkpoints"), "incremental").expect("store");
    let take = |epoch: u64| {
        let pending = checkpoints.begin(epoch).expect("begin");
        store
            .checkpoint_into(&pending.dir().join("rocksdb"))
            .expect("rocksdb checkpoint");
        pending.commit(serde_json::json!({})).expect("commit")
    };
    take(1);
    for i in (0..200_000).step_by(100) {
        backend.put(key(i), value(i, 1)).expect("put"); // 1% of the keys change
    }
    take(2);
    let first = files(&dir.path().join("checkpoints/chk-000000000001"));
    let second = files(&dir.path().join("checkpoints/chk-000000000002"));
    let total: u64 = second.iter().map(|f| f.2).sum();
    let new: u64 = second
        .iter()
        .filter(|f| !first.iter().any(|g| (g.0, g.1) == (f.0, f.1)))
        .map(|f| f.2)
        .sum();
    eprintln!("second checkpoint: {total} bytes, of which {new} not shared with the first");
    assert!(
        total > 1 << 20,
        "checkpoint too small to mean anything: {total} bytes"
    );
    assert!(
        new * 10 < total,
        "{new} of {total} bytes were copied for a 1% change"
    );
    // Restoring reads back the second state.
    let (latest, warnings) = checkpoints.latest().expect("latest");
    assert_eq!(latest.expect("a checkpoint").metadata.epoch, 2);
    assert!(warnings.is_empty());

    let listing = weir(&[
        "checkpoints",
        "list",
        &dir.path().join("checkpoints").display().to_string(),
    ])
    .ok()
    .stdout();
    let rows: Vec<&str> = listing
        .lines()
        .filter(|l| l.contains("incremental"))
        .collect();
    assert_eq!(rows.len(), 2, "{listing}");
    assert!(
        rows[0].trim_start().starts_with('2') && rows[1].trim_start().starts_with('1'),
        "{listing}"
    );
}

#[test]
fn window_contents_far_larger_than_the_cache_keep_memory_bounded() {
    let _alone = alone();
    use weir::Event;
    use weir::job::AggregateSpec;
    use weir::window::aggregate::Aggregation;
    use weir::window::operator::{WindowOperator, WindowOutput};
    use weir::window::{TimeMode, WindowKind};

    let dir = tempfile::tempdir().expect("tempdir");
    let memory = RocksMemory::new(8 << 20, 4 << 20);
    let store = RocksStore::open_fresh(&dir.path().join("db"), &memory).expect("open");
    let count = AggregateSpec {
        function: "count".into(),
        field: None,
        output: None,
    };
    let mut op = WindowOperator::in_backend(
        WindowKind::Tumbling { size: 86_400_000 },
        TimeMode::Event,
        0,
        Aggregation::native(&[count]),
        Box::new(store.backend()),
        0,
        1,
    );
    // One day-long window over 600k distinct 200-byte keys: ~120 MB of
    // window contents, 15x the cache.
    let key = |i: u32| {
        let mut k = format!("user-{i:08}-").into_bytes();
        let mut x = i.wrapping_mul(2_654_435_761) | 1;
        while k.len() < 200 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            k.push(b'a' + (x % 26) as u8);
        }
        k
    };
    let before = rss_bytes();
    let n: u32 = 600_000;
    let mut out = WindowOutput::default();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let batch: Vec<Event> = chunk
            .iter()
            .map(|&i| Event {
                key: Some(key(i)),
                value: b"{}".to_vec(),
                timestamp: i64::from(i),
                headers: vec![],
            })
            .collect();
        op.process_batch(batch, 0, &mut out).expect("batch");
    }
    let grown = rss_bytes().saturating_sub(before);
    eprintln!("resident memory grew by {} MiB", grown >> 20);
    assert!(
        grown < 64 << 20,
        "resident memory grew by {} MiB for ~120 MB of window contents with an 8 MiB cache",
        grown >> 20
    );
    // And the window still holds every key.
    op.advance(i64::MAX, &mut out).expect("fire");
    assert_eq!(out.results.len(), n as usize);
    assert!(
        out.results
            .iter()
            .all(|e| String::from_utf8_lossy(&e.value).ends_with("\"count\":1}")),
        "{:?}",
        String::from_utf8_lossy(&out.results[0].value)
    );
}
