//! Version 1 of the running-count operator.

const VERSION: i64 = 1;
include!("count.rs");
