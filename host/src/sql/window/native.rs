//! A window aggregation's aggregates as weir's built-in ones (`count`,
//! `sum`, `min`, `max` over DOUBLE columns): what the stage before the
//! window computes for each, and how the stage after it makes Flink's
//! result of each from the window's results — a number in its argument's
//! type, a DECIMAL scaled back exactly, NULL where no input was.

use super::aggregates::{self, Func};
use crate::job::AggregateSpec;
use crate::sql::ast::{Refusal, unsupported};
use crate::window::global::OP;
use arrow_schema::DataType;

/// Over a changelog: each row's sign (a column of the stage before the
/// window, the window's `sign`), and the count of a group's rows (one of
/// its results).
pub(in crate::sql) const SIGN: &str = "__sign";
pub(in crate::sql) const ROWS: &str = "__rows";

/// Aggregates `aggs` as weir's built-in ones: the columns the stage
/// before computes for them (added to `pre`: each input as a DOUBLE with
/// NULLs made neutral, beside a 1/0 column that counts the inputs that
/// are not NULL), the built-in aggregates over those, and the columns the
/// stage after makes of their results (added to `post`: `__a{i}`, each in
/// Flink's result type — the argument's: SUM of an INT is an INT, AVG of
/// a BIGINT a BIGINT — and NULL where no input was not NULL).
///
/// Over a changelog (`signed`: rows with their change in `_op`), a row's
/// `-U` or `-D` takes back what its `+I` or `+U` added: the stage before
/// gives each row its sign in [`SIGN`], which the window reads (its
/// `sign`: counts and sums subtract, MIN and MAX keep their values with
/// their counts), and `__rows` counts the group's rows, so that the stage
/// after can drop a group that has none left.
pub(in crate::sql) fn native(
    aggs: &[aggregates::Aggregate],
    signed: bool,
    pre: &mut Vec<String>,
    post: &mut Vec<String>,
) -> Result<Vec<AggregateSpec>, Refusal> {
    let mut specs = Vec::new();
    let mut native = |func: &str, field: Option<String>, output: String| {
        specs.push(AggregateSpec {
            function: func.into(),
            field,
            output: Some(output),
        });
    };
    // A row's sign: -1 takes back, 1 adds.
    if signed {
        pre.push(format!(
            "CASE WHEN `{OP}` IN ('-U', '-D') THEN -1e0 ELSE 1e0 END AS `{SIGN}`"
        ));
        native("count", None, ROWS.into());
        post.push(format!("`{ROWS}`"));
    }
    for (i, a) in aggs.iter().enumerate() {
        if a.func == Func::Wasm {
            // The window stage runs it beside these ([`super::wasm`]).
            continue;
        }
        let Some(arg) = &a.arg else {
            native("count", None, format!("__n{i}"));
            post.push(format!("`__n{i}` AS `__a{i}`"));
            continue;
        };
        // How many inputs were not NULL, where some may be (or, over a
        // changelog, are left).
        let counted = signed || a.nullable || matches!(a.func, Func::Count | Func::Avg);
        if counted {
            pre.push(format!(
                "CASE WHEN ({arg}) IS NULL THEN 0e0 ELSE 1e0 END AS `__c{i}`"
            ));
            native("sum", Some(format!("__c{i}")), format!("__n{i}"));
        }
        if a.func == Func::Count {
            if !counted {
                native("count", None, format!("__n{i}"));
            }
            post.push(format!("CAST(`__n{i}` AS BIGINT) AS `__a{i}`"));
            continue;
        }
        // A DECIMAL(p, s) is added as its unscaled integer (the value
        // times 10^s) in a DOUBLE: exact while sums stay below 2^53, as
        // for a BIGINT; the stage after scales it back, exactly.
        let (ty, input) = match &a.ty {
            DataType::Decimal128(p, s) => {
                let ty = match a.func {
                    // Flink's result types (LogicalTypeMerging): SUM of
                    // DECIMAL(p, s) is DECIMAL(38, s), AVG DECIMAL(38,
                    // max(s, 6)), MIN and MAX the argument's.
                    Func::Sum => Decimal { p: 38, s: *s },
                    Func::Avg => Decimal {
                        p: 38,
                        s: (*s).max(6),
                    },
                    _ => Decimal { p: *p, s: *s },
                };
                (ty, format!("CAST(({arg}) * {} AS BIGINT)", pow10(*s)))
            }
            other => match sql_type(other) {
                Some(ty) => (Number(ty), format!("({arg})")),
                None => {
                    return unsupported(
                        format!("{} over a {} (`{arg}`)", a.func.name(), a.ty),
                        ": weir's aggregates add numbers (INT, BIGINT, FLOAT, DOUBLE, DECIMAL) so far",
                    );
                }
            },
        };
        // NULLs made neutral: they add 0, and never win a MIN or MAX.
        let neutral = match a.func {
            Func::Min => "1.7976931348623157e308",
            Func::Max => "-1.7976931348623157e308",
            _ => "0e0",
        };
        pre.push(format!(
            "COALESCE(CAST({input} AS DOUBLE), {neutral}) AS `__v{i}`"
        ));
        let func = match a.func {
            Func::Min => "min",
            Func::Max => "max",
            _ => "sum",
        };
        native(func, Some(format!("__v{i}")), format!("__s{i}"));
        // The sum (or MIN, MAX) is NULL where no input was: the casts
        // below never see a neutral value (DataFusion may evaluate the
        // ELSE of the CASE that makes those NULL on every row).
        let sum = if counted {
            format!("(CASE WHEN `__n{i}` = 0 THEN NULL ELSE `__s{i}` END)")
        } else {
            format!("`__s{i}`")
        };
        let value = match (&ty, a.func) {
            (Number(_), Func::Avg) => format!("CAST({sum} / `__n{i}` AS {})", ty.sql()),
            (Number(_), _) => format!("CAST({sum} AS {})", ty.sql()),
            (Decimal { s, .. }, func) => {
                // The unscaled integer as a DECIMAL of the result's scale,
                // divided by 10^s (times the count, for AVG): a division
                // of decimals, Flink's, keeps that scale and rounds half up.
                let DataType::Decimal128(_, arg_s) = a.ty else {
                    unreachable!("a decimal aggregate's argument is a decimal")
                };
                let divisor = if func == Func::Avg {
                    format!("NULLIF(CAST(`__n{i}` AS BIGINT), 0) * {}", pow10(arg_s))
                } else {
                    pow10(arg_s)
                };
                format!(
                    "CAST(CAST(CAST({sum} AS BIGINT) AS DECIMAL(38, {s})) \
                     / CAST({divisor} AS DECIMAL(38, 0)) AS {})",
                    ty.sql()
                )
            }
        };
        post.push(if counted {
            format!("CASE WHEN `__n{i}` = 0 THEN NULL ELSE {value} END AS `__a{i}`")
        } else {
            format!("{value} AS `__a{i}`")
        });
    }
    if aggs.is_empty() && !signed {
        // A GROUP BY with no aggregate (a distinct of the keys per
        // window): the window stage still counts, and nothing reads it.
        native("count", None, "__rows".into());
    }
    Ok(specs)
}

/// The type an aggregate returns in SQL.
enum ResultType {
    /// A number type's SQL name (the argument's).
    Number(&'static str),
    /// A `DECIMAL(p, s)`.
    Decimal { p: u8, s: i8 },
}
use ResultType::{Decimal, Number};

impl ResultType {
    fn sql(&self) -> String {
        match self {
            Number(name) => (*name).to_string(),
            Decimal { p, s } => format!("DECIMAL({p}, {s})"),
        }
    }
}

/// 10^s, as SQL text (an integer literal).
fn pow10(s: i8) -> String {
    format!("1{}", "0".repeat(s.max(0) as usize))
}

/// The SQL name of a number type an aggregate returns (its argument's).
pub(in crate::sql) fn sql_type(ty: &DataType) -> Option<&'static str> {
    Some(match ty {
        DataType::Int8 => "TINYINT",
        DataType::Int16 => "SMALLINT",
        DataType::Int32 => "INT",
        DataType::Int64 => "BIGINT",
        DataType::Float32 => "FLOAT",
        DataType::Float64 => "DOUBLE",
        _ => return None,
    })
}
