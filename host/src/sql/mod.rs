//! SQL in Apache Flink's dialect, planned onto weir's job graph.
//!
//! A Flink SQL script — `CREATE TABLE … WITH (…)`, `SET`, `INSERT INTO …
//! SELECT …` — becomes **the same [`JobSpec`](crate::job::JobSpec) a job
//! file declares**: sources and sinks from the tables' connectors, stages
//! from the query. Checkpoints, exactly-once delivery, live swap and
//! tenants then need nothing SQL-specific. This is Arroyo's path (SQL →
//! DataFusion's logical plan → the engine's own dataflow), not
//! DataFusion's executor: a streaming job needs weir's watermarks, windows,
//! keyed state and barriers, which a pull-based batch executor lacks.
//!
//! ```text
//!  script ──parse──▶ [parse] Flink DDL (columns, WATERMARK, WITH options),
//!                    other statements by sqlparser
//!         ──plan───▶ [script] DataFusion's SqlToRel over the declared tables
//!                    ([catalog]), type coercion; each plan node mapped to a
//!                    stage, or refused with the construct and its line
//!         ──run────▶ [select] a stage's projections and filters, evaluated
//!                    by DataFusion's physical expressions over each batch
//! ```
//!
//! weir writes no SQL grammar and no expression evaluator of its own: the
//! parser is sqlparser's (driven by [`parse`] through its public
//! primitives for Flink's column list), planning and type coercion are
//! DataFusion's, and so is evaluation. What is not supported yet is
//! refused at planning with the construct and its position, never run as
//! something else. The design, and what comes next, is in
//! `docs/sql/README.md`.

mod ast;
mod catalog;
mod compose;
mod connector;
mod create_function;
mod decimal;
mod distinct;
mod error;
mod flink;
mod functions;
mod graph;
mod group_window;
mod job_file;
mod join;
mod over;
pub mod parse;
mod proctime;
mod rank;
mod script;
mod select;
mod tvf;
mod types;
mod udaf;
mod udf;
mod window;

pub use error::{Pos, SqlError};
pub use job_file::{holds_sql, load_job_file};
pub use script::{check_declarations, load, select_job, to_job};
pub use select::{Select, Selected};
pub use udf::{FunctionSource, Functions};
