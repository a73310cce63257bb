//! The places a Top-N keeps, read from its outer `WHERE`'s conditions on
//! the row number (`rn <= N`, `rn < N`, `rn = N`, `rn BETWEEN M AND N`,
//! `rn > M`, also turned around, `N >= rn`); its other conditions filter
//! the ranked rows.

use super::super::ast::{Refusal, column_name, split_and, unsupported};
use datafusion_sql::sqlparser::ast::{BinaryOperator, Expr, Value, visit_expressions};
use std::ops::ControlFlow;

/// Whether `e` reads column `name`.
pub(super) fn names(e: &Expr, name: &str) -> bool {
    let mut found = false;
    let _ = visit_expressions(e, |e: &Expr| {
        if column_name(e) == Some(name) {
            found = true;
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    });
    found
}

/// The places a WHERE keeps of number `rn` — the first, and the last if
/// any (`None`: no condition on it) — and its other conditions.
#[allow(clippy::type_complexity)]
pub(super) fn places(
    selection: Option<&Expr>,
    rn: &str,
) -> Result<(Option<(u64, Option<u64>)>, Vec<Expr>), Refusal> {
    let mut conjuncts = Vec::new();
    if let Some(e) = selection {
        split_and(e, &mut conjuncts);
    }
    let mut from = 1u64;
    let mut to: Option<u64> = None;
    let mut any = false;
    let mut rest = Vec::new();
    let mut last = |t: u64| to = Some(to.map_or(t, |x| x.min(t)));
    for c in conjuncts {
        if !names(&c, rn) {
            rest.push(c);
            continue;
        }
        any = true;
        let refuse = || {
            unsupported(
                format!("the condition {c} on the row number"),
                &format!(
                    ": keep places with {rn} <= N, {rn} < N, {rn} = N, {rn} BETWEEN M AND N or {rn} > M"
                ),
            )
        };
        match &c {
            Expr::Between {
                expr,
                negated: false,
                low,
                high,
            } if column_name(expr) == Some(rn) => match (whole(low), whole(high)) {
                (Some(l), Some(h)) => {
                    from = from.max(l);
                    last(h);
                }
                _ => return refuse(),
            },
            Expr::BinaryOp { left, op, right } => {
                // `rn op n`, or `n op rn` turned around.
                let (op, n) = if column_name(left) == Some(rn) {
                    (op.clone(), whole(right))
                } else if column_name(right) == Some(rn) {
                    let turned = match op {
                        BinaryOperator::Lt => BinaryOperator::Gt,
                        BinaryOperator::LtEq => BinaryOperator::GtEq,
                        BinaryOperator::Gt => BinaryOperator::Lt,
                        BinaryOperator::GtEq => BinaryOperator::LtEq,
                        other => other.clone(),
                    };
                    (turned, whole(left))
                } else {
                    return refuse();
                };
                let Some(n) = n else { return refuse() };
                match op {
                    BinaryOperator::LtEq => last(n),
                    BinaryOperator::Lt => last(n.saturating_sub(1)),
                    BinaryOperator::Eq => {
                        from = from.max(n);
                        last(n);
                    }
                    BinaryOperator::Gt => from = from.max(n + 1),
                    BinaryOperator::GtEq => from = from.max(n),
                    _ => return refuse(),
                }
            }
            _ => return refuse(),
        }
    }
    Ok((any.then_some((from, to)), rest))
}

/// `e` as a whole number ≥ 0.
fn whole(e: &Expr) -> Option<u64> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse().ok(),
            _ => None,
        },
        Expr::Nested(e) => whole(e),
        _ => None,
    }
}
