//! Where a job resumes from, and whether it can.
//!
//! `weir run` resumes from the newest complete checkpoint of the job (a
//! damaged one is skipped with a warning), or from a savepoint the user
//! names. The checkpoint's job graph is compared with the job's:
//!
//! - a new version of a component is fine: state belongs to the host and
//!   carries over (that is the point of host-owned state);
//! - a different parallelism is fine: state is re-partitioned by key group;
//! - a changed or removed keyed stage (window, aggregates, keyed operator,
//!   key field) means its state no longer fits: an error, unless the user
//!   allows dropping that state;
//! - a different kind of source cannot continue from the saved position: an
//!   error.
//!
//! A checkpoint written when the job ran to the end of its input resumes
//! nothing: the next run starts afresh.
//!
//! With an exactly-once Kafka output, a checkpoint is valid only if its
//! epoch's Kafka transaction committed (the commit marker says which did):
//! one whose transaction was aborted — the job died between writing the
//! checkpoint and committing — is deleted with a warning, and the job
//! resumes from the one before, producing that epoch's output again.

use super::coordinator::{CheckpointError, Coordinator};
use super::job_data::{JobData, JobGraph, components_of};
use super::storage::{CheckpointInfo, load_dir};
use crate::connector::kafka::KafkaOutputs;
use crate::plan::Plan;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Why checkpoint `info` must not be resumed: it belongs to an
/// exactly-once Kafka output whose transaction of its epoch never committed.
fn uncommitted(
    job: &str,
    info: &CheckpointInfo,
    kafka: Option<&KafkaOutputs>,
) -> Result<Option<String>, CheckpointError> {
    let epoch = info.metadata.epoch;
    let id = info
        .metadata
        .job_data
        .get("kafka_transactions")
        .and_then(|v| v.as_str());
    let (Some(id), Some(kafka)) = (id, kafka) else {
        return Ok(None);
    };
    if kafka.transactional_id() != Some(id) {
        return Ok(None);
    }
    let committed = kafka
        .committed_epoch()
        .map_err(|e| CheckpointError::TaskState {
            job: job.into(),
            epoch,
            task: "kafka sink".into(),
            message: format!("cannot tell whether the checkpoint's transaction committed: {e}"),
        })?;
    Ok(match committed {
        Some(c) if c >= epoch => None,
        _ => Some(format!(
            "checkpoint {epoch} was written but its Kafka transaction ({id}) never committed (last committed: {}); its output was aborted, so the job resumes from the checkpoint before it",
            committed.map_or("none".into(), |c| format!("epoch {c}"))
        )),
    })
}

/// How `weir run` chooses its starting point.
#[derive(Debug, Clone, Default)]
pub struct RecoveryOptions {
    /// Ignore existing checkpoints.
    pub fresh: bool,
    /// Start from this savepoint (or checkpoint) directory.
    pub from_savepoint: Option<PathBuf>,
    /// Start the keyed stage empty when its state no longer fits the job.
    pub allow_dropped_state: bool,
}

/// A checkpoint a job resumes from.
#[derive(Debug, Clone)]
pub struct RestorePoint {
    /// The checkpoint.
    pub info: CheckpointInfo,
    /// Its job data.
    pub data: JobData,
    /// Start the keyed stage empty (its state was allowed to be dropped).
    pub drop_stage_state: bool,
}

impl RestorePoint {
    /// Its epoch.
    pub fn epoch(&self) -> u64 {
        self.info.metadata.epoch
    }
}

/// The restore point of `plan`, if any, with warnings (damaged checkpoints
/// skipped, state dropped, components changed) for the log.
pub fn resolve(
    plan: &Plan,
    coordinator: Option<&Coordinator>,
    kafka: Option<&KafkaOutputs>,
    opts: &RecoveryOptions,
) -> Result<(Option<RestorePoint>, Vec<String>), CheckpointError> {
    let job = plan.job.spec.name.clone();
    let storage = |epoch: u64| {
        let job = job.clone();
        move |source| CheckpointError::Storage { job, epoch, source }
    };
    let mut warnings = Vec::new();
    let info = match (&opts.from_savepoint, coordinator) {
        (Some(path), Some(_)) => load_dir(path, None, Some(&job)).map_err(storage(0))?,
        (Some(path), None) => {
            return Err(CheckpointError::Incompatible {
                job,
                checkpoint: path.display().to_string(),
                reason: "the job has no [checkpoint] section; a job resumed from a savepoint needs one to commit its output".into(),
            });
        }
        (None, None) => return Ok((None, warnings)),
        (None, Some(_)) if opts.fresh => return Ok((None, warnings)),
        (None, Some(c)) => loop {
            let (latest, skipped) = c.store().latest().map_err(storage(0))?;
            warnings.extend(skipped);
            let Some(info) = latest else {
                return Ok((None, warnings));
            };
            let epoch = info.metadata.epoch;
            match uncommitted(&job, &info, kafka)? {
                Some(reason) => {
                    warnings.push(reason);
                    c.store().discard(epoch).map_err(storage(epoch))?;
                }
                None => break info,
            }
        },
    };
    if opts.from_savepoint.is_some()
        && let Some(reason) = uncommitted(&job, &info, kafka)?
    {
        warnings.push(format!(
            "{reason}; a savepoint cannot fall back, so that epoch's Kafka output is missing"
        ));
    }
    let data: JobData = serde_json::from_value(info.metadata.job_data.clone()).map_err(|e| {
        CheckpointError::Incompatible {
            job: job.clone(),
            checkpoint: info.path.display().to_string(),
            reason: format!("its job data is unreadable: {e}"),
        }
    })?;
    if data.finished && opts.from_savepoint.is_none() {
        tracing::info!(job = %job, epoch = info.metadata.epoch, "the last run finished its input; starting afresh");
        return Ok((None, warnings));
    }
    let incompatible = |reason: String| CheckpointError::Incompatible {
        job: job.clone(),
        checkpoint: info.path.display().to_string(),
        reason,
    };
    let now = JobGraph::of(plan);
    if now.source != data.graph.source {
        return Err(incompatible(format!(
            "the source was {} and is now {}; a saved position means nothing to another kind of source",
            data.graph.source, now.source
        )));
    }
    if now.sources != data.graph.sources {
        let list = |m: &BTreeMap<String, String>| {
            if m.is_empty() {
                "none".to_string()
            } else {
                m.iter()
                    .map(|(n, k)| format!("`{n}` ({k})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        return Err(incompatible(format!(
            "the named sources were {} and are now {}; each source's saved position belongs to its own source",
            list(&data.graph.sources),
            list(&now.sources)
        )));
    }
    if now.stages != data.graph.stages {
        return Err(incompatible(
            "the job's [[stages]] changed (their names, inputs, keys, windows or joins); state saved for one graph means nothing to another".into(),
        ));
    }
    let mut drop_stage_state = false;
    if (now.stage.as_ref(), now.key_by.as_ref())
        != (data.graph.stage.as_ref(), data.graph.key_by.as_ref())
    {
        let describe = |g: &JobGraph| match (&g.stage, &g.key_by) {
            (Some(s), Some(k)) => format!("`{s}` keyed by `{k}`"),
            (Some(s), None) => format!("`{s}`"),
            (None, _) => "no keyed stage".into(),
        };
        let reason = format!(
            "the keyed stage was {} and is now {}: its state does not fit",
            describe(&data.graph),
            describe(&now)
        );
        if !opts.allow_dropped_state {
            return Err(incompatible(reason));
        }
        warnings.push(format!("{reason}; dropping it as allowed"));
        drop_stage_state = true;
    }
    let components = components_of(plan);
    for (name, digest) in &components {
        match data.components.get(name) {
            Some(old) if old != digest => tracing::info!(
                job = %job, operator = %name, from = &old[..12], to = &digest[..12],
                "new component version; its state carries over"
            ),
            _ => {}
        }
    }
    if data.parallelism != plan.job.spec.parallelism && plan.stage.is_some() && !drop_stage_state {
        tracing::info!(
            job = %job, from = data.parallelism, to = plan.job.spec.parallelism,
            "rescaling: keyed state is re-partitioned by key group"
        );
    }
    Ok((
        Some(RestorePoint {
            info,
            data,
            drop_stage_state,
        }),
        warnings,
    ))
}
