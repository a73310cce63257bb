//! Version 2 of the tally aggregate.

const VERSION: u64 = 2;
include!("../../tally-v1/src/tally.rs");
