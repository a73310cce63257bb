//! Which JSON decoder should weir's sources use? The data-plane issue
//! names arrow-json's, simd-json and sonic-rs; this measures the three on
//! the same lines, each making the same four Arrow columns (`ts`, `user`,
//! `amount`, `merchant`) from batches of 1,024 lines, on one thread:
//!
//! ```sh
//! weir run gen.toml    # datagen `transactions` → a file sink (see BENCHMARKS.md)
//! cargo run --release --manifest-path bench/json-decoders/Cargo.toml -- tx.jsonl
//! ```
//!
//! - arrow-json: weir's decoder (`host/src/batch/decode.rs`), line by line
//!   into one `Decoder`, flushed per batch — and the same over the batch's
//!   bytes in one call;
//! - sonic-rs: `to_object_iter` over each line, values read lazily into
//!   Arrow builders;
//! - simd-json (runtime CPU detection): a borrowed value per line into the
//!   same builders.

use arrow_array::builder::{Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use sonic_rs::JsonValueTrait;
use std::sync::Arc;
use std::time::Instant;

const BATCH: usize = 1024;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Millisecond, None),
            false,
        ),
        Field::new("user", DataType::Utf8, true),
        Field::new("amount", DataType::Float64, true),
        Field::new("merchant", DataType::Utf8, true),
    ]))
}

/// The four builders a batch fills.
struct Builders {
    ts: Int64Builder,
    user: StringBuilder,
    amount: Float64Builder,
    merchant: StringBuilder,
}

impl Builders {
    fn new(n: usize) -> Self {
        Self {
            ts: Int64Builder::with_capacity(n),
            user: StringBuilder::with_capacity(n, n * 12),
            amount: Float64Builder::with_capacity(n),
            merchant: StringBuilder::with_capacity(n, n * 6),
        }
    }
    fn finish(mut self) -> usize {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.ts.finish()),
            Arc::new(self.user.finish()),
            Arc::new(self.amount.finish()),
            Arc::new(self.merchant.finish()),
        ];
        let n = cols[0].len();
        std::hint::black_box(cols);
        n
    }
}

fn arrow_lines(lines: &[&[u8]]) -> usize {
    let mut d = arrow_json::ReaderBuilder::new(schema())
        .with_coerce_primitive(true)
        .build_decoder()
        .expect("decoder");
    let mut rows = 0;
    for chunk in lines.chunks(BATCH) {
        for l in chunk {
            d.decode(l).expect("valid line");
        }
        rows += d
            .flush()
            .expect("flush")
            .map_or(0, |b: RecordBatch| b.num_rows());
    }
    rows
}

fn arrow_buffer(data: &[u8], lines: &[&[u8]]) -> usize {
    let mut d = arrow_json::ReaderBuilder::new(schema())
        .with_coerce_primitive(true)
        .with_batch_size(BATCH)
        .build_decoder()
        .expect("decoder");
    let mut rows = 0;
    for chunk in lines.chunks(BATCH) {
        let start = chunk[0].as_ptr() as usize - data.as_ptr() as usize;
        let last = chunk[chunk.len() - 1];
        let end = last.as_ptr() as usize - data.as_ptr() as usize + last.len();
        let mut buf = &data[start..end];
        while !buf.is_empty() {
            let n = d.decode(buf).expect("valid lines");
            buf = &buf[n..];
        }
        rows += d
            .flush()
            .expect("flush")
            .map_or(0, |b: RecordBatch| b.num_rows());
    }
    rows
}

fn sonic(lines: &[&[u8]]) -> usize {
    let mut rows = 0;
    for chunk in lines.chunks(BATCH) {
        let mut b = Builders::new(chunk.len());
        for l in chunk {
            let text = std::str::from_utf8(l).expect("UTF-8");
            let mut seen = [false; 4];
            for kv in sonic_rs::to_object_iter(text) {
                let (k, v) = kv.expect("valid line");
                match &*k {
                    "ts" => b.ts.append_option(v.as_i64()),
                    "user" => b.user.append_option(v.as_str()),
                    "amount" => b.amount.append_option(v.as_f64()),
                    "merchant" => b.merchant.append_option(v.as_str()),
                    _ => continue,
                }
                let i = ["ts", "user", "amount", "merchant"]
                    .iter()
                    .position(|f| *f == &*k);
                seen[i.expect("matched above")] = true;
            }
            if !seen[0] {
                b.ts.append_null()
            }
            if !seen[1] {
                b.user.append_null()
            }
            if !seen[2] {
                b.amount.append_null()
            }
            if !seen[3] {
                b.merchant.append_null()
            }
        }
        rows += b.finish();
    }
    rows
}

fn simd(lines: &[&[u8]]) -> usize {
    use simd_json::prelude::*;
    let mut rows = 0;
    let mut buf = Vec::new();
    let mut buffers = simd_json::Buffers::default();
    for chunk in lines.chunks(BATCH) {
        let mut b = Builders::new(chunk.len());
        for l in chunk {
            buf.clear();
            buf.extend_from_slice(l);
            let v = simd_json::to_borrowed_value_with_buffers(&mut buf, &mut buffers)
                .expect("valid line");
            let o = v.as_object().expect("an object");
            b.ts.append_option(o.get("ts").and_then(|x| x.as_i64()));
            b.user.append_option(o.get("user").and_then(|x| x.as_str()));
            b.amount
                .append_option(o.get("amount").and_then(|x| x.as_f64()));
            b.merchant
                .append_option(o.get("merchant").and_then(|x| x.as_str()));
        }
        rows += b.finish();
    }
    rows
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: json-decoders FILE.jsonl");
    let data = std::fs::read(&path).expect("read the input");
    let lines: Vec<&[u8]> = data
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let n = lines.len();
    println!(
        "| round | arrow-json, line by line | arrow-json, one buffer per batch | sonic-rs | simd-json |"
    );
    println!("|---|---|---|---|---|");
    for round in 1..=3 {
        let mut rates = Vec::new();
        for f in [
            &(|| arrow_lines(&lines)) as &dyn Fn() -> usize,
            &|| arrow_buffer(&data, &lines),
            &|| sonic(&lines),
            &|| simd(&lines),
        ] {
            let t = Instant::now();
            assert_eq!(f(), n, "every line makes a row");
            rates.push(format!(
                "{:.2} M lines/s",
                n as f64 / t.elapsed().as_secs_f64() / 1e6
            ));
        }
        println!("| {round} | {} |", rates.join(" | "));
    }
}
