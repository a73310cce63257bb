//! Version 1 of the tally aggregate.

const VERSION: u64 = 1;
include!("tally.rs");
