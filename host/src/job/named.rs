//! The named parts of a job graph besides its stages: more sources
//! (`[[sources]]`) and more sinks (`[[sinks]]`).

use super::spec::{SinkSpec, SourceSpec};
use serde::{Deserialize, Serialize};

/// One more output of a job graph: a sink with a name, writing what the
/// stage `input` emits.
///
/// ```toml
/// [[sinks]]
/// name = "big-orders"
/// input = "big"
/// type = "file"
/// path = "big.jsonl"
/// ```
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct NamedSinkSpec {
    /// Its name: in errors, metrics and the checkpoint's positions.
    pub name: String,
    /// The stage whose records it writes.
    pub input: String,
    /// The sink itself (`type = …` and its settings, as for `[sink]`).
    #[serde(flatten)]
    pub sink: SinkSpec,
}

/// A source of a job graph besides `[source]` (`[[sources]]`).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct NamedSourceSpec {
    /// Its name: what stages list in `inputs` (or a join's `left` and
    /// `right`), and the key of its position in a checkpoint.
    pub name: String,
    /// The source itself (`type = …` and its settings, as for `[source]`).
    #[serde(flatten)]
    pub source: SourceSpec,
    /// Its own event time (field, out-of-orderness, idle timeout), as each
    /// table of a Flink SQL script has its own watermark; default: the
    /// job's `[event_time]`.
    ///
    /// ```toml
    /// [[sources]]
    /// name = "shipments"
    /// type = "file"
    /// path = "shipments.jsonl"
    /// event_time = { field = "shipped_at", max_out_of_orderness = "5s" }
    /// ```
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<super::EventTimeSpec>,
}
