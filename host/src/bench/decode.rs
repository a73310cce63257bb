//! `decode`: JSON lines into typed columns, once (data plane v2), against
//! what the host and its operators do today with the same lines — every
//! Wasm operator parses each record whole with serde_json, and the host
//! scans it for each field it needs (event time, key, aggregated field).

use super::{datagen_batches, rate};
use crate::batch::JsonDecoder;
use std::time::Instant;

/// Decode `records` generated transactions in batches of `batch` lines.
pub fn decode(records: u64, keys: u64, batch: usize) -> anyhow::Result<()> {
    let batches = datagen_batches(records, keys, batch);
    let n: u64 = batches.iter().map(|b| b.len() as u64).sum();
    let bytes: usize = batches.iter().flatten().map(|e| e.value.len()).sum();
    let schema = super::transactions_schema();
    let mut decoder = JsonDecoder::new(schema)?;
    let t = Instant::now();
    let mut rows = 0;
    for b in &batches {
        let lines: Vec<&[u8]> = b.iter().map(|e| e.value.as_slice()).collect();
        let out = decoder.decode(&lines)?;
        anyhow::ensure!(out.bad.is_empty(), "generated records must all fit");
        rows += out.batch.num_rows();
    }
    let columns = t.elapsed().as_secs_f64();
    anyhow::ensure!(rows as u64 == n);

    // Baseline 1: what each Wasm operator does, natively here (serde_json
    // parses every record whole).
    let t = Instant::now();
    let mut seen = 0u64;
    for b in &batches {
        for e in b {
            let v: serde_json::Value = serde_json::from_slice(&e.value)?;
            seen += u64::from(v.is_object());
        }
    }
    let parsed = t.elapsed().as_secs_f64();
    std::hint::black_box(seen);

    // Baseline 2: what the host does today for a window job: three scans
    // (event time at the source, key at the chain, amount at the window).
    let t = Instant::now();
    let mut sum = 0.0;
    for b in &batches {
        for e in b {
            sum += crate::json::integer(&e.value, "ts").unwrap_or(0) as f64;
            sum += crate::json::key(&e.value, "user").map_or(0, |k| k.len()) as f64;
            sum += crate::json::number(&e.value, "amount").unwrap_or(0.0);
        }
    }
    let scanned = t.elapsed().as_secs_f64();
    std::hint::black_box(sum);

    let mb = bytes as f64 / 1e6;
    println!(
        "| JSON lines → typed columns (arrow-json, 4 fields, batches of {batch}), {n} records, {:.0} MB ({:.0} MB/s) vs serde_json::Value per record (each Wasm operator today) | {} | {} | {:.2}× |",
        mb,
        mb / columns,
        rate(n, columns),
        rate(n, parsed),
        parsed / columns
    );
    println!(
        "| the same decode vs the host's three field scans per record (event time, key, amount) today | {} | {} | {:.2}× |",
        rate(n, columns),
        rate(n, scanned),
        scanned / columns
    );
    Ok(())
}
