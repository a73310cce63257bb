//! Subcommands that need more than a few lines.

pub mod run;
pub mod savepoint;
pub mod swap;
