//! `sources`: a job graph reading two sources side by side with the same
//! job reading the same records from one.
//!
//! The generator's transactions go to one JSON-lines file, and every other
//! record of them to each of two more. The job keys them by user into a
//! tumbling 10 s count+sum: from the one file (`[source]`), and as the
//! union of the two (`[source]` and a `[[sources]]` entry, each its own
//! task, barriers and watermarks aligned across them). Both jobs compute
//! the same windows; the ratio is what reading several sources costs (or
//! gains: two tasks decode on two cores).

use super::{rate, run_timed};
use crate::wasm::WasmEngine;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The job: the sources in `sources`, their union keyed by user into
/// tumbling 10 s windows.
fn job(sources: &str, inputs: &str) -> String {
    format!(
        r#"name = "bench-sources"
batch_size = 1000
{sources}
[event_time]
field = "ts"
max_out_of_orderness = "1s"
[[stages]]
name = "per-user"
inputs = [{inputs}]
key_by = {{ field = "user" }}
window = {{ type = "tumbling", size = "10s", aggregates = [{{ fn = "count" }}, {{ fn = "sum", field = "amount" }}] }}
[sink]
type = "discard"
[late_output]
type = "discard"
"#
    )
}

fn file_source(header: &str, path: &Path) -> String {
    format!("{header}\ntype = \"file\"\npath = \"{}\"\n", path.display())
}

/// Every other line of `all` into each of two files.
fn split(all: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let text = std::fs::read(all)?;
    let (a, b) = (all.with_extension("a.jsonl"), all.with_extension("b.jsonl"));
    let (mut fa, mut fb) = (
        std::io::BufWriter::new(std::fs::File::create(&a)?),
        std::io::BufWriter::new(std::fs::File::create(&b)?),
    );
    for (i, line) in text
        .split(|c| *c == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let out = if i % 2 == 0 { &mut fa } else { &mut fb };
        out.write_all(line)?;
        out.write_all(b"\n")?;
    }
    fa.flush()?;
    fb.flush()?;
    Ok((a, b))
}

/// Run both jobs on `records` transactions over `keys` users; one row.
pub fn union(engine: &'static WasmEngine, records: u64, keys: u64) -> anyhow::Result<()> {
    let all = super::columns::datagen_file(records, &format!("keys = {keys}\nstep_ms = 1"))?;
    let result = split(&all).and_then(|(a, b)| {
        let two = job(
            &(file_source("[source]", &a) + &file_source("[[sources]]\nname = \"more\"", &b)),
            "\"source\", \"more\"",
        );
        let one = job(&file_source("[source]", &all), "\"source\"");
        let timed = (|| {
            let (n, two_secs) = run_timed(engine, &two)?;
            let (_, one_secs) = run_timed(engine, &one)?;
            println!(
                "| job graph: two JSON-lines sources (every other record each) → union → tumbling 10 s count+sum per user, {keys} users, {n} records, parallelism 1 (vs the same records from one source) | {} | {} | {:.2}× |",
                rate(n, two_secs),
                rate(n, one_secs),
                one_secs / two_secs
            );
            Ok(())
        })();
        let _ = std::fs::remove_file(&a);
        let _ = std::fs::remove_file(&b);
        timed
    });
    let _ = std::fs::remove_file(&all);
    result
}
