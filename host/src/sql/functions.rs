//! The functions a query may call: an allowlist of DataFusion's built-in
//! scalar functions whose output is bounded by their input (a query runs
//! in the host, on a tenant's behalf, so nothing it calls may make the
//! host allocate without bound), and DataFusion's aggregates.
//!
//! Left out, and refused by name before planning: `repeat`, `lpad`,
//! `rpad` and `overlay` (their output grows with an argument's value),
//! `replace` and `regexp_replace` (an empty pattern multiplies a string by
//! another), and DataFusion's own introspection (`version`,
//! `arrow_typeof`, `input_file_name`, …).

use datafusion_sql::sqlparser::ast::{Expr, Query, visit_expressions};
use std::ops::ControlFlow;

/// Scalar functions a query may call, by every name DataFusion knows them by.
const SCALAR: &[&str] = &[
    // math
    "abs",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atan2",
    "atanh",
    "cbrt",
    "ceil",
    "cos",
    "cosh",
    "cot",
    "degrees",
    "exp",
    "factorial",
    "floor",
    "gcd",
    "isnan",
    "iszero",
    "lcm",
    "ln",
    "log",
    "log10",
    "log2",
    "nanvl",
    "pi",
    "power",
    "pow",
    "radians",
    "random",
    "round",
    "signum",
    "sin",
    "sinh",
    "sqrt",
    "tan",
    "tanh",
    "trunc",
    // conditional
    "coalesce",
    // a field of a struct (how a join's stages read the joined rows)
    "get_field",
    "nullif",
    "nvl",
    "ifnull",
    "nvl2",
    "greatest",
    "least",
    // strings
    "ascii",
    "bit_length",
    "btrim",
    "trim",
    "chr",
    "concat",
    "concat_ws",
    "contains",
    "ends_with",
    "initcap",
    "lower",
    "ltrim",
    "octet_length",
    "rtrim",
    "split_part",
    "starts_with",
    "to_hex",
    "upper",
    "uuid",
    "translate",
    "character_length",
    "char_length",
    "length",
    "left",
    "right",
    "reverse",
    "strpos",
    "instr",
    "position",
    "substr",
    "substring",
    "substr_index",
    "substring_index",
    "find_in_set",
    "levenshtein",
    // regular expressions (the regex crate bounds a pattern's size)
    "regexp_count",
    "regexp_instr",
    "regexp_like",
    "regexp_match",
    // date and time
    "current_date",
    "current_time",
    "date_bin",
    "date_part",
    "datepart",
    "date_trunc",
    "datetrunc",
    "from_unixtime",
    "make_date",
    "now",
    "to_char",
    "date_format",
    "to_date",
    "to_timestamp",
    "to_timestamp_millis",
    "to_timestamp_seconds",
    "to_unixtime",
    // arrays: what they hold (never a bigger array)
    "cardinality",
    "array_length",
    "array_element",
    "element_at",
    "array_has",
    "array_contains",
    "array_position",
];

/// Is `name` (lower case) a scalar function a query may call?
pub(super) fn scalar_allowed(name: &str) -> bool {
    SCALAR.contains(&name)
}

/// The first function `query` calls that it may not: its name.
pub(super) fn refused(query: &Query, aggregate: impl Fn(&str) -> bool) -> Option<String> {
    let flow = visit_expressions(query, |e| {
        if let Expr::Function(f) = e {
            let name = f.name.to_string().to_ascii_lowercase();
            if !scalar_allowed(&name)
                && !aggregate(&name)
                && name != "mod"
                && name != super::proctime::NAME
                && name != super::decimal::NAME
                && name != "to_timestamp_ltz"
            {
                return ControlFlow::Break(name);
            }
        }
        ControlFlow::Continue(())
    });
    match flow {
        ControlFlow::Break(name) => Some(name),
        ControlFlow::Continue(()) => None,
    }
}
