//! A join's conditions, sorted: equal keys, bounds between the tables'
//! event times, conditions on one table, and the rest.

use super::sides::{Side, column_of, references, side_only, window_column};
use crate::sql::ast::{Refusal, invalid, parse_query, quote};
use crate::sql::catalog::{Catalog, plan_query};
use crate::sql::script::interval_ms;
use arrow_schema::DataType;
use datafusion_sql::sqlparser::ast::{BinaryOperator, Expr};

/// What a join's conditions say.
pub(super) struct Conditions {
    /// Equal keys: (left side's expression, right side's).
    pub keys: Vec<(Expr, Expr)>,
    /// The bounds on `right.ts - left.ts` (ms), inclusive.
    pub lower: Option<i64>,
    pub upper: Option<i64>,
    /// The conditions that set them (a filter after a regular join, when
    /// they do not bound both ways).
    pub bounding: Vec<Expr>,
    /// Are the two sides' `window_start`s and `window_end`s equal?
    pub starts: bool,
    pub ends: bool,
    /// Conditions across both tables (or on a window's columns), for
    /// after the join.
    pub rest: Vec<Expr>,
}

/// Sort the join's `conjuncts` into keys, time bounds (unless it is a
/// window join), conditions on one side (into that side's filters) and
/// the rest.
pub(super) fn classify(
    conjuncts: Vec<Expr>,
    sides: &mut [Side; 2],
    windowed: bool,
) -> Result<Conditions, Refusal> {
    let mut keys: Vec<(Expr, Expr)> = Vec::new();
    let (mut lower, mut upper) = (None::<i64>, None::<i64>);
    let (mut starts, mut ends) = (false, false);
    let mut rest = Vec::new();
    let mut bounding = Vec::new();
    for c in conjuncts {
        if !windowed && let Some(bounds) = time_bound(&c, sides)? {
            for (lo, hi) in bounds {
                if let Some(lo) = lo {
                    lower = Some(lower.map_or(lo, |l| l.max(lo)));
                }
                if let Some(hi) = hi {
                    upper = Some(upper.map_or(hi, |u| u.min(hi)));
                }
            }
            bounding.push(c);
            continue;
        }
        let refs = references(&c, sides)?;
        if let Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } = &c
        {
            let (l, r) = (references(left, sides)?, references(right, sides)?);
            let pair = match (side_only(&l), side_only(&r)) {
                (Some(0), Some(1)) => Some(((**left).clone(), (**right).clone())),
                (Some(1), Some(0)) => Some(((**right).clone(), (**left).clone())),
                _ => None,
            };
            if let Some((a, b)) = pair {
                match (window_column(&a, sides), window_column(&b, sides)) {
                    (Some(x), Some(y)) if x == y && x == "window_start" => starts = true,
                    (Some(x), Some(y)) if x == y && x == "window_end" => ends = true,
                    (None, None) => keys.push((a, b)),
                    _ => rest.push(c.clone()),
                }
                continue;
            }
        }
        match side_only(&refs) {
            Some(i) if !refs.window => sides[i].filters.push(c),
            _ => rest.push(c),
        }
    }
    Ok(Conditions {
        keys,
        lower,
        upper,
        bounding,
        starts,
        ends,
        rest,
    })
}

/// A time term: a side's event-time column, plus ms.
fn time_term(e: &Expr, sides: &[Side; 2]) -> Option<(usize, i64)> {
    match e {
        Expr::Nested(inner) => time_term(inner, sides),
        Expr::BinaryOp { left, op, right }
            if matches!(op, BinaryOperator::Plus | BinaryOperator::Minus) =>
        {
            let (side, at) = time_term(left, sides)?;
            let ms = interval_ms(right)?;
            Some((
                side,
                if *op == BinaryOperator::Plus {
                    at + ms
                } else {
                    at - ms
                },
            ))
        }
        other => {
            let (i, c) = column_of(other, sides).ok()??;
            (sides[i].time.as_deref() == Some(c.as_str())).then_some((i, 0))
        }
    }
}

/// The bounds (lower, upper) a conjunct sets on `right.ts - left.ts`,
/// when it compares the two tables' event-time columns.
type Bound = (Option<i64>, Option<i64>);

fn time_bound(c: &Expr, sides: &[Side; 2]) -> Result<Option<Vec<Bound>>, Refusal> {
    let compare = |a: &Expr, op: &BinaryOperator, b: &Expr| -> Option<Bound> {
        let ((sa, oa), (sb, ob)) = (time_term(a, sides)?, time_term(b, sides)?);
        if sa == sb {
            return None;
        }
        // d = right.ts - left.ts. With `a` on the left side,
        // `l + oa op r + ob` is `oa - ob op d`; on the right side,
        // `r + oa op l + ob` is `d op ob - oa`.
        let (c, flipped) = if sa == 0 {
            (oa - ob, true)
        } else {
            (ob - oa, false)
        };
        let op = match (op, flipped) {
            (BinaryOperator::GtEq, true) | (BinaryOperator::LtEq, false) => "<=",
            (BinaryOperator::Gt, true) | (BinaryOperator::Lt, false) => "<",
            (BinaryOperator::LtEq, true) | (BinaryOperator::GtEq, false) => ">=",
            (BinaryOperator::Lt, true) | (BinaryOperator::Gt, false) => ">",
            (BinaryOperator::Eq, _) => "=",
            _ => return None,
        };
        // `d op c`.
        Some(match op {
            "<=" => (None, Some(c)),
            "<" => (None, Some(c - 1)),
            ">=" => (Some(c), None),
            ">" => (Some(c + 1), None),
            _ => (Some(c), Some(c)),
        })
    };
    Ok(match c {
        Expr::BinaryOp { left, op, right } => compare(left, op, right).map(|b| vec![b]),
        Expr::Between {
            expr,
            negated: false,
            low,
            high,
        } => match (
            compare(expr, &BinaryOperator::GtEq, low),
            compare(expr, &BinaryOperator::LtEq, high),
        ) {
            (Some(a), Some(b)) => Some(vec![a, b]),
            _ => None,
        },
        _ => None,
    })
}

/// The type a key pair is compared in, and what its text is like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct KeyType {
    /// `None` when both sides have the same type, else the SQL type both
    /// are cast to.
    pub cast: Option<&'static str>,
    /// Its text may hold any character (a key of several parts writes its
    /// length first); else its text never holds a `:` (a number's).
    pub text: bool,
    /// A TIMESTAMP: compared as its ms since the epoch (whose text is
    /// far cheaper to make than a date's).
    pub time: bool,
}

/// The type each key pair is compared in.
pub(super) fn key_types(
    keys: &[(Expr, Expr)],
    sides: &[Side; 2],
    wasm: &crate::sql::Functions,
) -> Result<Vec<KeyType>, Refusal> {
    let types = |i: usize| -> Result<Vec<DataType>, Refusal> {
        let s = &sides[i];
        let items: Vec<String> = keys
            .iter()
            .enumerate()
            .map(|(k, pair)| format!("{} AS `__k{k}`", if i == 0 { &pair.0 } else { &pair.1 }))
            .collect();
        let text = format!(
            "SELECT {} FROM {} AS {}",
            items.join(", "),
            quote(&s.table),
            quote(&s.name)
        );
        let catalog = Catalog::new([(s.table.clone(), s.schema.clone())]).with_functions(wasm);
        let plan = plan_query(&catalog, parse_query(&text)?).map_err(Refusal::Plan)?;
        Ok(plan
            .schema()
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect())
    };
    let (l, r) = (types(0)?, types(1)?);
    let whole = |t: &DataType| t.is_integer();
    let text =
        |t: &DataType| matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8);
    let of = |cast, text, time| KeyType { cast, text, time };
    keys.iter()
        .zip(l.iter().zip(&r))
        .map(|((a, b), (tl, tr))| match (tl, tr) {
            (x, y) if x == y => {
                let time = matches!(x, DataType::Timestamp(..));
                // A number's or a boolean's text never holds a `:`; an
                // array's, say, may.
                let plain = time || x.is_numeric() || *x == DataType::Boolean;
                Ok(of(None, !plain, time))
            }
            (x, y) if whole(x) && whole(y) => Ok(of(Some("BIGINT"), false, false)),
            (x, y) if x.is_numeric() && y.is_numeric() => Ok(of(Some("DOUBLE"), false, false)),
            (x, y) if text(x) && text(y) => Ok(of(None, true, false)),
            (x, y) => invalid(format!(
                "the join compares `{a}`, a {x}, with `{b}`, a {y}: CAST one of them"
            )),
        })
        .collect()
}
