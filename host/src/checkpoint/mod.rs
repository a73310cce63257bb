//! Checkpoints: consistent snapshots of a job, from which it restarts.
//!
//! This version has the **storage** (this module and [`storage`]): how a
//! checkpoint is written so that it becomes visible only when complete, how
//! a damaged one is detected and skipped, and how old ones are retired. The
//! coordinator and the aligned barriers that decide *what* goes in a
//! checkpoint come next (see the README's status).

pub mod storage;

pub use storage::{CheckpointInfo, CheckpointStore, Metadata, PendingCheckpoint, StorageError};
