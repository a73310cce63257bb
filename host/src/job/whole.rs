//! A whole job: the top of the job file's schema, which holds the parts
//! (`spec`, `named`, `stages`), and the job's sources and outputs listed
//! with where each is set.

use super::named::{NamedSinkSpec, NamedSourceSpec};
use super::spec::{
    CheckpointSpec, EventTimeSpec, KeyBySpec, LimitsSpec, OperatorSpec, SinkSpec, SourceSpec,
    StateSpec, WindowSpec, default_batch, one,
};
use serde::{Deserialize, Serialize};

/// A whole job.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// Job name, used in logs and errors.
    pub name: String,
    /// Subtasks per stage (operator chain and keyed stage). Default 1.
    #[serde(default = "one")]
    pub parallelism: usize,
    /// Records per batch handed to operators. Default 1024.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Where records come from (stages read it as `source`).
    pub source: SourceSpec,
    /// More sources of a job graph (`[[sources]]`), each read by stages
    /// under its own name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<NamedSourceSpec>,
    /// How event time is assigned. Without it, windows need `time = "processing"`.
    pub event_time: Option<EventTimeSpec>,
    /// Stateless Wasm operators applied in order, fused into one task.
    #[serde(default)]
    pub operators: Vec<OperatorSpec>,
    /// Partition records by a JSON field before the window or keyed operator.
    pub key_by: Option<KeyBySpec>,
    /// A window with aggregates.
    pub window: Option<WindowSpec>,
    /// A keyed Wasm operator with state and timers.
    pub keyed: Option<OperatorSpec>,
    /// Or the job as a graph of named stages (instead of `operators`,
    /// `key_by`, `window` and `keyed`); see [`super::stages`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<super::stages::StageSpec>,
    /// Where results go: the records of the one stage that no other stage
    /// and no named sink reads.
    pub sink: SinkSpec,
    /// More outputs of a job graph (`[[sinks]]`): each writes the records
    /// of the stage it names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sinks: Vec<NamedSinkSpec>,
    /// Records that arrive after every window they belong to has closed.
    /// Required for event-time windows: late data is never dropped silently.
    pub late_output: Option<SinkSpec>,
    /// Records that cannot be decoded or that an operator rejects. Without it
    /// such a record fails the job with its location.
    pub dead_letter: Option<SinkSpec>,
    /// Limits on every Wasm instance of this job.
    #[serde(default)]
    pub limits: LimitsSpec,
    /// Where keyed state lives.
    #[serde(default)]
    pub state: StateSpec,
    /// Periodic checkpoints, from which `weir run` resumes after a crash.
    /// Without this section a job keeps no checkpoints and starts over.
    pub checkpoint: Option<CheckpointSpec>,
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

    /// The event time of the source named `name`: its own (a `[[sources]]`
    /// entry may set one), else the job's `[event_time]`.
    pub fn event_time_of(&self, name: &str) -> Option<&EventTimeSpec> {
        self.sources
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.event_time.as_ref())
            .or(self.event_time.as_ref())
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
