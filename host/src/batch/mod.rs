//! Columnar batches: the data plane's unit of data (v2).
//!
//! Records are decoded **once**, where they enter a job, into typed Arrow
//! columns (`arrow_array::RecordBatch`): event time, keys and aggregated
//! fields become columns that no later stage scans again, and a Wasm
//! operator receives columns, not JSON text to parse. This is what
//! Arroyo, DataFusion and RisingWave use, and what SQL builds on.
//!
//! - [`schema`]: the schema a job declares (`[source.schema]`: field →
//!   type, dotted paths for nested fields) or lets weir infer from its
//!   first records;
//! - [`decode`]: JSON lines into a batch of that schema with arrow-json's
//!   decoder, each record that does not fit reported with its position and
//!   the reason, for the dead-letter output;
//! - [`encode`]: a batch back into JSON lines, for what still takes events;
//! - [`rows`]: a row's key and numbers, read from its columns.

pub mod decode;
pub mod encode;
pub mod rows;
pub mod schema;

pub use decode::{BadRow, Decoded, JsonDecoder};
pub use encode::{EncodeError, json_lines, json_lines_with_nulls};
pub use schema::{SchemaError, describe, infer_schema, schema_of};
