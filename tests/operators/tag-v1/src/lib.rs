//! Version 1 of the tagging operator.

const VERSION: i64 = 1;
include!("tag.rs");
