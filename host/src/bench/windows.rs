//! Windows side by side with hand-written single-threaded loops over the
//! same records: tumbling 10 min (`window`), and the issue's shapes
//! (`window-kinds`): tumbling 10 s, sliding 10 s / 2 s, session (gap 10 s),
//! count+sum per user.

use super::{datagen_batches, rate, run_timed};
use crate::wasm::WasmEngine;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::time::Instant;

/// A job of `source` → key_by user → `window` → discard.
fn job_from(source: &str, window: &str) -> String {
    format!(
        r#"name = "bench-window-kinds"
batch_size = 1000
[source]
{source}
[event_time]
field = "ts"
[key_by]
field = "user"
[window]
{window}
aggregates = [{{ fn = "count" }}, {{ fn = "sum", field = "amount" }}]
[sink]
type = "discard"
[late_output]
type = "discard"
"#
    )
}

/// A job of datagen → key_by user → `window` → discard.
fn job(records: u64, keys: u64, window: &str) -> String {
    job_from(
        &format!(
            "type = \"datagen\"\nschema = \"transactions\"\nrows = {records}\nkeys = {keys}\nseed = 1\nstep_ms = 1"
        ),
        window,
    )
}

/// The three fields every loop reads, as the window operator does.
fn fields(e: &crate::Event) -> (i64, Vec<u8>, f64) {
    (
        crate::json::integer(&e.value, "ts").unwrap_or(0),
        crate::json::key(&e.value, "user").unwrap_or_default(),
        crate::json::number(&e.value, "amount").unwrap_or(0.0),
    )
}

/// Sliding windows by hand: panes by start, fired when time passes their end.
fn sliding_loop(batches: &[Vec<crate::Event>], size: i64, slide: i64) -> u64 {
    let mut panes: BTreeMap<i64, FxHashMap<Vec<u8>, (u64, f64)>> = BTreeMap::new();
    let mut fired = 0u64;
    for e in batches.iter().flatten() {
        let (ts, key, amount) = fields(e);
        while let Some(entry) = panes.first_entry() {
            if *entry.key() + size > ts {
                break;
            }
            fired += entry.remove().len() as u64;
        }
        let mut start = ts - ts.rem_euclid(slide);
        while start > ts - size {
            let slot = panes
                .entry(start)
                .or_default()
                .entry(key.clone())
                .or_insert((0, 0.0));
            slot.0 += 1;
            slot.1 += amount;
            start -= slide;
        }
    }
    fired + panes.values().map(|p| p.len() as u64).sum::<u64>()
}

/// Sessions by hand: one open session per key, closed by a record after
/// the gap.
fn session_loop(batches: &[Vec<crate::Event>], gap: i64) -> u64 {
    let mut open: FxHashMap<Vec<u8>, (i64, u64, f64)> = FxHashMap::default();
    let mut fired = 0u64;
    for e in batches.iter().flatten() {
        let (ts, key, amount) = fields(e);
        let s = open.entry(key).or_insert((ts, 0, 0.0));
        if ts > s.0 + gap {
            fired += 1;
            *s = (ts, 0, 0.0);
        }
        s.0 = s.0.max(ts);
        s.1 += 1;
        s.2 += amount;
    }
    fired + open.len() as u64
}

/// Tumbling windows by hand (in-order input: a window closes when the next opens).
fn tumbling_loop(batches: &[Vec<crate::Event>], size: i64) -> u64 {
    let mut acc: FxHashMap<(Vec<u8>, i64), (u64, f64)> = FxHashMap::default();
    let (mut fired, mut current) = (0u64, i64::MIN);
    for e in batches.iter().flatten() {
        let (ts, key, amount) = fields(e);
        let w = ts - ts.rem_euclid(size);
        if w > current {
            fired += acc.len() as u64;
            acc.clear();
            current = w;
        }
        let slot = acc.entry((key, w)).or_insert((0, 0.0));
        slot.0 += 1;
        slot.1 += amount;
    }
    fired + acc.len() as u64
}

/// Tumbling 10 min windows (few, large panes) against the loop.
pub(super) fn tumbling_10m(
    engine: &'static WasmEngine,
    records: u64,
    keys: u64,
) -> anyhow::Result<()> {
    let (n, secs) = run_timed(
        engine,
        &job(records, keys, "type = \"tumbling\"\nsize = \"10m\""),
    )?;
    // Baseline: one thread, a hash map, the same parsing of the same records.
    let batches = datagen_batches(records, keys, 1000);
    let t = Instant::now();
    std::hint::black_box(tumbling_loop(&batches, 600_000));
    let native_secs = t.elapsed().as_secs_f64();
    println!(
        "| tumbling 10 min count+sum, {keys} keys, {n} events (1 per ms), parallelism 1 (vs hand-written single-threaded loop) | {} | {} | {:.2}× |",
        rate(n, secs),
        rate(n, native_secs),
        native_secs / secs
    );
    Ok(())
}

/// Tumbling 10 s, sliding 10 s / 2 s and sessions (gap 10 s), 1 event per
/// ms, as the issue measures them: a JSON-lines file of generated
/// transactions → key_by user → window → discard.
pub(super) fn kinds(engine: &'static WasmEngine, records: u64, keys: u64) -> anyhow::Result<()> {
    let file = super::columns::datagen_file(records, &format!("keys = {keys}\nstep_ms = 1"))?;
    // The loops read the same records as the jobs.
    let text = std::fs::read(&file)?;
    let lines: Vec<crate::Event> = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| crate::event::event(l.to_vec(), 0))
        .collect();
    let batches: Vec<Vec<crate::Event>> = lines.chunks(1000).map(<[_]>::to_vec).collect();
    drop(text);
    let source = format!("type = \"file\"\npath = \"{}\"", file.display());
    type Loop<'a> = Box<dyn Fn() -> u64 + 'a>;
    let shapes: [(&str, &str, Loop); 3] = [
        (
            "tumbling 10 s",
            "type = \"tumbling\"\nsize = \"10s\"",
            Box::new(|| tumbling_loop(&batches, 10_000)),
        ),
        (
            "sliding 10 s / 2 s",
            "type = \"sliding\"\nsize = \"10s\"\nslide = \"2s\"",
            Box::new(|| sliding_loop(&batches, 10_000, 2_000)),
        ),
        (
            "session, gap 10 s",
            "type = \"session\"\ngap = \"10s\"",
            Box::new(|| session_loop(&batches, 10_000)),
        ),
    ];
    for (name, window, by_hand) in shapes {
        let (n, secs) = run_timed(engine, &job_from(&source, window))?;
        let t = Instant::now();
        std::hint::black_box(by_hand());
        let native_secs = t.elapsed().as_secs_f64();
        println!(
            "| {name} count+sum, {keys} keys, {n} events (1 per ms), JSON-lines file, parallelism 1 (vs hand-written single-threaded loop over the same records) | {} | {} | {:.2}× |",
            rate(n, secs),
            rate(n, native_secs),
            native_secs / secs
        );
    }
    let _ = std::fs::remove_file(&file);
    Ok(())
}
