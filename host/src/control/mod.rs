//! The control plane as a library: what `weir serve` decides before and
//! around running a tenant's job.
//!
//! - [`tenants`]: the host's config — tenants, their tokens, quotas and
//!   Kafka credentials;
//! - [`admission`]: a submitted job checked as the host will run it, held
//!   to its tenant's quotas, and stored in its own directory;
//! - [`caps`]: the ceiling on every job setting that costs the host;
//! - [`kafka_fence`]: a tenant's Kafka topics, brokers, ids and settings;
//! - [`start`]: a job made ready to run (checkpoint directory claimed,
//!   producer fenced, the checkpoint to resume from chosen);
//! - [`swap`]: live swap, canary and rollback of a running job's operator.
//!
//! - [`registry`]: the served jobs, their records and lifecycle;
//! - [`history`]: each served job's last 15 minutes, a sample a second;
//! - [`logs`]: each served job's own log.
//!
//! The server (routes, authentication) is an edge and lives with the CLI
//! in the `weir` binary; it builds on these.

pub mod admission;
pub mod caps;
pub mod history;
pub mod kafka_fence;
pub mod logs;
pub mod registry;
pub mod start;
pub mod swap;
pub mod tenants;
