//! A window aggregation whose aggregate is a Wasm aggregate function
//! ([`crate::sql::udaf`]): the window stage runs the function as its
//! aggregate (a job file's `[window.aggregate]`), so the stage before the
//! window writes the call's arguments as the columns the function's
//! `init` named, in its types, and the stage after reads its one result.
//!
//! Built-in aggregates (`COUNT(*)`, `SUM(x)`, …) run beside it in the same
//! window stage, their results first. So far a query calls one Wasm
//! aggregate function, over a window, and over rows that are only
//! inserted (an aggregate function has no `retract`); anything else is
//! refused by name.

use super::aggregates::{Aggregate, Func};
use crate::job::OperatorSpec;
use crate::sql::ast::{Refusal, quote, unsupported};
use crate::sql::udaf::cast_type;
use arrow_schema::Field;

/// A Wasm aggregate function's part of the stages, if `aggs` call one
/// (the `i`th): its input columns (added to `pre`), its result as `__a{i}`
/// (added to `post`), and the operator the window stage runs with the
/// column it adds to the window's results (after the built-ins').
/// `signed`: the rows are a changelog (refused: the function cannot take
/// a row back).
///
/// A row with a NULL argument where the function declared a column that
/// cannot be NULL still makes its windows (and keeps a session open), but
/// is not added: the window stage skips it
/// ([`crate::job::WindowSpec::skip_nulls`]), as SQL's aggregates skip
/// NULLs. A window none of whose rows were added gets the function's
/// result for an empty accumulator.
pub(in crate::sql) fn lower(
    aggs: &[Aggregate],
    signed: bool,
    pre: &mut Vec<String>,
    post: &mut Vec<String>,
) -> Result<Option<(OperatorSpec, Field)>, Refusal> {
    let mut calls = aggs
        .iter()
        .enumerate()
        .filter(|(_, a)| a.func == Func::Wasm);
    let Some((i, call)) = calls.next() else {
        return Ok(None);
    };
    let function = call
        .function
        .as_ref()
        .expect("a Wasm aggregate's call names its function");
    let called = format!("the Wasm aggregate function `{}`", function.name);
    if let Some((_, other)) = calls.next() {
        let name = |a: &Aggregate| {
            a.function
                .as_ref()
                .map_or("", |f| f.name.as_str())
                .to_string()
        };
        return unsupported(
            format!(
                "a second Wasm aggregate call (`{}` beside `{}`)",
                name(other),
                name(call)
            ),
            ": so far a query calls one Wasm aggregate function (built-in aggregates beside it \
             are fine); compute the other in a second query and join the two on the window and key",
        );
    }
    if signed {
        return unsupported(
            format!("{called} over an updating query's rows"),
            ": an aggregate function cannot take a row back (it has no retract)",
        );
    }
    let input = function.input.fields();
    if call.args.len() != input.len() {
        return Err(Refusal::Invalid(format!(
            "{called} takes {} argument(s) ({}), not {}",
            input.len(),
            input
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", "),
            call.args.len()
        )));
    }
    for (arg, field) in call.args.iter().zip(input) {
        let ty = cast_type(field.data_type()).expect("checked when the function was loaded");
        pre.push(format!("CAST({arg} AS {ty}) AS {}", quote(field.name())));
    }
    post.push(format!("{} AS `__a{i}`", quote(function.output.name())));
    Ok(Some((function.spec.clone(), function.output.clone())))
}
