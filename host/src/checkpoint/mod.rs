//! Checkpoints: consistent snapshots of a running job, from which it
//! resumes after a crash with exactly the output an uninterrupted run gives.
//!
//! - [`coordinator`]: barriers, acknowledgements, completion (the protocol);
//! - [`storage`]: how a checkpoint is written so that it becomes visible
//!   only when complete, how a damaged one is detected and skipped, and how
//!   old ones are retired;
//! - [`job_data`]: what a checkpoint says about the job (source position,
//!   sink positions, component digests, the job graph);
//! - [`recovery`]: choosing the checkpoint to resume from and checking that
//!   the job can still use it.

pub mod coordinator;
pub mod job_data;
pub mod recovery;
pub mod storage;

pub use coordinator::{CheckpointError, Completed, Coordinator, Failed};
pub use job_data::{JobData, SinkPosition, SourceState};
pub use recovery::RestorePoint;
pub use storage::{CheckpointInfo, CheckpointStore, Metadata, PendingCheckpoint, StorageError};
