//! Subcommands that need more than a few lines.

pub mod client;
pub mod run;
pub mod savepoint;
pub mod serve;
pub mod swap;
