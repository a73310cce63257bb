//! weir: a stream-processing host that runs user operators as sandboxed
//! WebAssembly components.
//!
//! The host does natively what must be fast and trustworthy — sources and
//! sinks, partitioning, event time and watermarks, windows, keyed state — and
//! calls user logic through the `weir:dataflow` WIT contract, once per batch.
//!
//! A job goes through three steps:
//! 1. [`job`]: a TOML job file becomes a validated [`job::JobSpec`];
//! 2. [`plan`]: components are built or loaded and checked against the world
//!    each operator needs, giving a [`plan::Plan`];
//! 3. [`runtime`]: the plan runs as threads connected by bounded channels
//!    (source → parallel operator chain → key-partitioned stage → sink).

pub mod activity;
pub mod batch;
pub mod bench;
pub mod budget;
pub mod build;
pub mod checkpoint;
pub mod connector;
pub mod control;
pub mod dirs;
pub mod event;
pub mod fault;
pub mod job;
pub mod join;
pub mod json;
pub mod over;
pub mod plan;
pub mod rank;
pub mod runtime;
pub mod sql;
pub mod state;
pub mod time;
pub mod wasm;
pub mod window;

pub use event::Event;
