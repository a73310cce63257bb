//! The named parts of a job graph besides its stages: more sources
//! (`[[sources]]`) and more sinks (`[[sinks]]`), and the job's sources and
//! outputs listed with where each is set.

use super::spec::{JobSpec, SinkSpec, SourceSpec};
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
}

impl JobSpec {
    /// The job's sources with their names and where each is set:
    /// (`source`, `source`) for `[source]`, then (name, `sources[i]`).
    pub fn all_sources(&self) -> Vec<(&str, String, &SourceSpec)> {
        let mut all = vec![(super::SOURCE, "source".to_string(), &self.source)];
        all.extend(
            self.sources
                .iter()
                .enumerate()
                .map(|(i, s)| (s.name.as_str(), format!("sources[{i}]"), &s.source)),
        );
        all
    }

    /// [`Self::all_sources`], to change: (where each is set, the source).
    pub fn all_sources_mut(&mut self) -> Vec<(String, &mut SourceSpec)> {
        let mut all = vec![("source".to_string(), &mut self.source)];
        all.extend(
            self.sources
                .iter_mut()
                .enumerate()
                .map(|(i, s)| (format!("sources[{i}]"), &mut s.source)),
        );
        all
    }

    /// The job's outputs with where each is set: `sink`, `sinks[i]`, then
    /// `late_output` and `dead_letter` when it has them.
    pub fn outputs(&self) -> Vec<(String, &SinkSpec)> {
        let mut all = vec![("sink".to_string(), &self.sink)];
        all.extend(
            self.sinks
                .iter()
                .enumerate()
                .map(|(i, s)| (format!("sinks[{i}]"), &s.sink)),
        );
        all.extend(self.late_output.iter().map(|s| ("late_output".into(), s)));
        all.extend(self.dead_letter.iter().map(|s| ("dead_letter".into(), s)));
        all
    }
}
