//! An outer join's conditions: which go into the join (and how), which
//! filter a table before it, and which filter the joined rows after it.

use super::conditions::{Conditions, classify};
use super::sides::{Side, references, side_only};
use crate::join::{Outer, Side as JoinSide};
use crate::sql::ast::{Refusal, split_and, unsupported};
use datafusion_sql::sqlparser::ast::Expr;

pub(super) fn outer_name(outer: Outer) -> &'static str {
    match (outer.left, outer.right) {
        (true, true) => "FULL OUTER",
        (true, false) => "LEFT OUTER",
        (false, true) => "RIGHT OUTER",
        (false, false) => "inner",
    }
}

/// An outer join's conditions. In `ON`: equal keys; a condition on a
/// table padded with NULLs filters that table before the join; one on a
/// table kept whole decides which of its rows may pair
/// ([`Side::matches_if`]). Anything else in `ON` is refused. In `WHERE`:
/// a condition on a table never padded with NULLs filters it before the
/// join; every other one filters the joined rows (NULL-padded ones
/// included), after the join.
pub(super) fn outer_conditions(
    outer: Outer,
    on: Option<&Expr>,
    selection: Option<&Expr>,
    sides: &mut [Side; 2],
) -> Result<Conditions, Refusal> {
    let mut on_conjuncts = Vec::new();
    if let Some(e) = on {
        split_and(e, &mut on_conjuncts);
    }
    let before = [sides[0].filters.len(), sides[1].filters.len()];
    let mut c = classify(on_conjuncts, sides, false)?;
    if let Some(e) = c.bounding.first().or(c.rest.first()) {
        return unsupported(
            format!("`{e}` in the ON of a {} JOIN", outer_name(outer)),
            ": an outer join's ON takes equal keys of the two tables and conditions on one table so far",
        );
    }
    for (i, side) in [JoinSide::Left, JoinSide::Right].into_iter().enumerate() {
        if outer.keeps(side) {
            let on_only = sides[i].filters.split_off(before[i]);
            sides[i].matches_if = on_only;
        }
    }
    let mut conjuncts = Vec::new();
    if let Some(e) = selection {
        split_and(e, &mut conjuncts);
    }
    for e in conjuncts {
        let refs = references(&e, sides)?;
        // A table is padded with NULLs when the other one is kept whole.
        match side_only(&refs) {
            Some(i) if !refs.window && !outer.keeps([JoinSide::Right, JoinSide::Left][i]) => {
                sides[i].filters.push(e)
            }
            _ => c.rest.push(e),
        }
    }
    Ok(c)
}
