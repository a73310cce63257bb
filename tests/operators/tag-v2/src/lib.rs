//! Version 2 of the tagging operator.

const VERSION: i64 = 2;
include!("../../tag-v1/src/tag.rs");
