//! A deterministic generator: the same settings and seed give the same
//! records, so tests and benchmarks need no data files.
//!
//! Schemas (event time in `ts`, ms):
//! - `clickstream`: `{"ts","user","page","action"}` — users browse in bursts;
//! - `transactions`: `{"ts","user","amount","merchant"}` — about 1% of
//!   payments are far above the user's usual amount;
//! - `bids`: `{"ts","auction","bidder","price"}` (after Nexmark);
//! - `nexmark-person`, `nexmark-auction`, `nexmark-bid`: Nexmark's own
//!   tables, see [`super::nexmark`].

use super::nexmark::{Table, columns, write_row as write_nexmark};
use super::rng::Rng;
use super::throttle::Throttle;
use super::{ConnectorError, Poll, RawRecord, Source, SourcePosition};
use crate::job::DatagenSpec;
use std::io::Write;

const PAGES: &[&str] = &["/", "/search", "/product", "/cart", "/checkout", "/help"];
const ACTIONS: &[&str] = &["view", "view", "view", "click", "add-to-cart"];

/// The generator source.
pub struct Datagen {
    spec: DatagenSpec,
    rng: Rng,
    row: u64,
    throttle: Throttle,
    /// Nexmark's rows as typed columns of these names (see
    /// [`Source::read_columns`]).
    columns: Option<(Table, Vec<String>)>,
}

impl Datagen {
    /// A generator for `spec`.
    pub fn new(spec: DatagenSpec) -> Self {
        Self {
            rng: Rng::new(spec.seed ^ 0x5ca1_ab1e),
            throttle: Throttle::new(spec.rate),
            spec,
            row: 0,
            columns: None,
        }
    }

    /// Write row `self.row` into `buf`.
    fn write_row(&mut self, buf: &mut Vec<u8>) {
        let s = &self.spec;
        if let Some(table) = Table::of_schema(&s.schema) {
            return write_nexmark(table, self.row, s.seed, s.start_ms, buf);
        }
        let jitter = if s.disorder_ms > 0 {
            self.rng.below(s.disorder_ms as u64 + 1) as i64
        } else {
            0
        };
        let ts = s.start_ms + self.row as i64 * s.step_ms - jitter;
        let key = self.rng.below(s.keys);
        let r = self.rng.next_u64();
        let _ = match s.schema.as_str() {
            "clickstream" => write!(
                buf,
                r#"{{"ts":{ts},"user":"user-{key}","page":"{}","action":"{}"}}"#,
                PAGES[(r % PAGES.len() as u64) as usize],
                ACTIONS[((r >> 8) % ACTIONS.len() as u64) as usize]
            ),
            "transactions" => {
                // A user's usual amount depends on the user; 1% are spikes.
                let base = 5 + (key * 7919) % 200;
                let cents = base * 100 + (r >> 16) % 1000;
                let cents = if (r >> 40).is_multiple_of(100) {
                    cents * 25
                } else {
                    cents
                };
                write!(
                    buf,
                    r#"{{"ts":{ts},"user":"user-{key}","amount":{}.{:02},"merchant":"m-{}"}}"#,
                    cents / 100,
                    cents % 100,
                    (r >> 8) % 50
                )
            }
            _ => write!(
                buf,
                r#"{{"ts":{ts},"auction":{},"bidder":"bidder-{key}","price":{}.{:02}}}"#,
                1000 + (r >> 8) % 500,
                1 + (r >> 20) % 5000,
                (r >> 40) % 100
            ),
        };
    }
}

impl Source for Datagen {
    fn poll(&mut self, max: usize) -> Result<Poll, ConnectorError> {
        let remaining = self.spec.rows - self.row;
        if remaining == 0 {
            return Ok(Poll::End);
        }
        let n = (max as u64).min(remaining);
        if let Err(due) = self.throttle.ready(self.row, n) {
            return Ok(Poll::Wait(due));
        }
        if let Some((table, names)) = &self.columns {
            let s = &self.spec;
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let rows = self.row..self.row + n;
            let batch =
                columns::generate(*table, rows, s.seed, s.start_ms, &names).map_err(|e| {
                    ConnectorError::Read {
                        source_name: "datagen".into(),
                        location: format!("row {}", self.row),
                        message: e.to_string(),
                    }
                })?;
            self.row += n;
            return Ok(Poll::Columns(batch));
        }
        let mut out = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let mut buf = Vec::with_capacity(96);
            self.write_row(&mut buf);
            self.row += 1;
            out.push(RawRecord::line(buf, self.row));
        }
        Ok(Poll::Records(out))
    }

    /// Nexmark's tables, when `schema` names only their columns.
    fn read_columns(&mut self, schema: &arrow_schema::Schema) -> bool {
        let Some(table) = Table::of_schema(&self.spec.schema) else {
            return false;
        };
        let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let known = table.columns();
        if !names.iter().all(|n| known.iter().any(|(k, _)| k == n)) {
            return false;
        }
        self.columns = Some((table, names));
        true
    }

    fn position(&self) -> Option<SourcePosition> {
        Some(SourcePosition::Datagen {
            row: self.row,
            rng: self.rng.state(),
        })
    }

    fn seek(&mut self, position: &SourcePosition) -> Result<(), ConnectorError> {
        let SourcePosition::Datagen { row, rng } = *position else {
            return Err(ConnectorError::Position {
                source_name: "datagen".into(),
                message: format!("a checkpoint of another kind of source: {position:?}"),
            });
        };
        if row > self.spec.rows {
            return Err(ConnectorError::Position {
                source_name: "datagen".into(),
                message: format!(
                    "the checkpoint is at row {row}, past source.rows = {}",
                    self.spec.rows
                ),
            });
        }
        (self.row, self.rng) = (row, Rng::new(rng));
        self.throttle.resume(row);
        Ok(())
    }

    fn location(&self, _input: usize, offset: u64) -> String {
        format!("datagen row {offset}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(schema: &str) -> DatagenSpec {
        toml::from_str(&format!(
            "schema = \"{schema}\"\nrows = 500\nseed = 7\ndisorder_ms = 20"
        ))
        .unwrap()
    }

    fn all(schema: &str) -> Vec<Vec<u8>> {
        let mut g = Datagen::new(spec(schema));
        let mut rows = Vec::new();
        while let Poll::Records(r) = g.poll(64).unwrap() {
            rows.extend(r.into_iter().map(|r| r.payload));
        }
        rows
    }

    #[test]
    fn same_seed_same_rows_and_every_row_is_json() {
        for schema in ["clickstream", "transactions", "bids", "nexmark-bid"] {
            let a = all(schema);
            assert_eq!(a.len(), 500);
            assert_eq!(a, all(schema));
            for row in &a {
                let v: serde_json::Value = serde_json::from_slice(row).unwrap();
                assert!(
                    v["ts"].is_i64() || v["dateTime"].is_string(),
                    "{schema}: {v}"
                );
            }
        }
    }
}
