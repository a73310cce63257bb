//! Joins of two tables: Flink's interval join and window join on event
//! time, and its regular join.
//!
//! ```sql
//! -- interval join: each order with the shipments 0 to 4 hours after it
//! SELECT o.id, o.amount, s.ts AS shipped
//! FROM orders o, shipments s
//! WHERE o.id = s.order_id AND s.ts BETWEEN o.ts AND o.ts + INTERVAL '4' HOUR
//!
//! -- window join: pairs with equal keys in the same window
//! SELECT L.`user`, L.window_start, L.n, R.kind
//! FROM (SELECT * FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(ts), INTERVAL '10' SECOND))) L
//! JOIN (SELECT * FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND))) R
//! ON L.`user` = R.`user` AND L.window_start = R.window_start AND L.window_end = R.window_end
//! ```
//!
//! become four stages of the job graph, so that the join's buffers, their
//! state and checkpoints, and the watermarks are weir's own join's
//! ([`crate::join`]), and DataFusion evaluates every expression:
//! 1. `join_left` and 2. `join_right`, a query over each table: the
//!    conditions on that table alone, and the join key as text (`__key`;
//!    a TIMESTAMP as its ms since the epoch; several keys as one text, a
//!    text key after its length, any other before a `:`; a row with a
//!    NULL key joins nothing, so it stops here, but in a table an outer
//!    join keeps whole);
//! 3. `join`, weir's interval join (`right.ts - left.ts` within the bounds
//!    the condition sets on the tables' event-time columns, inclusive),
//!    window join (tumbling or sliding), or — when the conditions do not
//!    bound the two event times both ways, or a table has no `WATERMARK`
//!    — regular join (every pair with equal keys; both tables' rows kept
//!    for ever, or for `table.exec.state.ttl` of processing time, as in
//!    Flink; the conditions on the times are filters after it), keyed by
//!    `__key`;
//! 4. `select`, a query over the joined rows (`{"left": {…}, "right":
//!    {…}}`, read with the tables' own column types): the columns named as
//!    the query names them, its other conditions, its `SELECT` list.
//!
//! A regular join may be outer, as in Flink (`LEFT`, `RIGHT`, `FULL
//! OUTER JOIN … ON`): a row of a table kept whole that pairs with nothing
//! is emitted with NULLs for the other table, and retracted when it
//! first pairs, so the result is a changelog (each row's change in
//! `_op`). Its `ON` holds equal keys and conditions on one table: on a
//! table padded with NULLs, a filter before the join; on a table kept
//! whole, whether a row may pair (a row that may not, or has a NULL key,
//! gets a key no row of the other table has, so it is kept but pairs
//! with nothing). A `WHERE` condition on a table never padded filters it
//! before the join; every other one filters the joined rows after it.
//! An outer interval or window join, a session window join, and other
//! conditions in an outer join's `ON` are refused by name (an
//! aggregation over a join is [`super::compose`]'s). A row that
//! comes after the watermark passed it joins nothing in an interval or
//! window join (Flink's window join drops it too; Flink's interval join
//! would still join it with the rows it keeps); a regular join has no
//! late rows. The inputs of a
//! regular join are appended to, never updated, so an inner join's
//! result is too.

use super::ast::split_and;
use super::ast::{Refusal, invalid, quote, unsupported};
use super::parse::TableDef;
use crate::job::JoinSpec;
use crate::join::{Outer, Side as JoinSide};
use arrow_schema::SchemaRef;
use conditions::{Conditions, KeyType, classify, key_types};
use datafusion_sql::sqlparser::ast::{
    Expr, GroupByExpr, JoinConstraint, JoinOperator, Query, SetExpr,
};
use joined::joined_rows;
use outer::{outer_conditions, outer_name};
use sides::{Side, check, side};
use std::collections::BTreeMap;

/// The stages that read each table.
pub(super) const LEFT: &str = "join_left";
pub(super) const RIGHT: &str = "join_right";
/// The join stage.
pub(super) const JOIN: &str = "join";
/// What a side that is a window aggregation's results reads them by (and
/// the name of the stage that makes them).
pub(super) const LEFT_ROWS: &str = "join_left_rows";
pub(super) const RIGHT_ROWS: &str = "join_right_rows";
/// The name the `select` stage reads the joined rows by.
pub(super) const JOINED: &str = "__join";
/// The key column the table stages write and the join keys by.
const KEY: &str = "__key";

/// The tables a query reads, by name.
type Tables = BTreeMap<String, (TableDef, SchemaRef)>;

/// A join, as its stages.
#[derive(Debug)]
pub(super) struct Lowered {
    /// The left and the right table (the same one for a self-join).
    pub tables: [String; 2],
    /// A side that is a window aggregation: its stages come before its
    /// `join_left`/`join_right` stage.
    pub aggregated: [Option<Box<super::window::Lowered>>; 2],
    /// The `join_left` and `join_right` stages' queries, over their table.
    pub pre: [String; 2],
    /// The join stage's join (its inputs are [`LEFT`] and [`RIGHT`]).
    pub join: JoinSpec,
    /// The `select` stage's query, over [`JOINED`].
    pub post: Query,
    /// The fields of the joined rows `post` reads (`left.c` = `string`).
    pub joined: BTreeMap<String, String>,
    /// The columns `post` makes ([`OP`] last, when `updating`).
    pub schema: SchemaRef,
    /// An outer join's rows are a changelog: each carries its change in
    /// [`OP`].
    pub updating: bool,
}

/// The join `query` makes, lowered to stages; `None` when it joins
/// nothing.
pub(super) fn lower(
    query: &Query,
    tables: &Tables,
    wasm: &super::Functions,
) -> Result<Option<Lowered>, Refusal> {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return Ok(None);
    };
    if super::over::calls_over(select) {
        // [`super::over`] says what it runs.
        return Ok(None);
    }
    let (relations, on, outer) = match select.from.as_slice() {
        [a, b] if a.joins.is_empty() && b.joins.is_empty() => {
            ([&a.relation, &b.relation], None, Outer::default())
        }
        [a] if a.joins.len() == 1 => {
            let j = &a.joins[0];
            let (on, outer) = match &j.join_operator {
                JoinOperator::Join(JoinConstraint::On(e))
                | JoinOperator::Inner(JoinConstraint::On(e)) => (e, Outer::default()),
                JoinOperator::Left(JoinConstraint::On(e))
                | JoinOperator::LeftOuter(JoinConstraint::On(e)) => (e, Outer::LEFT),
                JoinOperator::Right(JoinConstraint::On(e))
                | JoinOperator::RightOuter(JoinConstraint::On(e)) => (e, Outer::RIGHT),
                JoinOperator::FullOuter(JoinConstraint::On(e)) => (e, Outer::FULL),
                JoinOperator::Join(c)
                | JoinOperator::Inner(c)
                | JoinOperator::Left(c)
                | JoinOperator::LeftOuter(c)
                | JoinOperator::Right(c)
                | JoinOperator::RightOuter(c)
                | JoinOperator::FullOuter(c) => {
                    return unsupported(
                        format!("a join {}", constraint_name(c)),
                        ": write the condition with ON",
                    );
                }
                other => {
                    return unsupported(
                        operator_name(other),
                        ": weir runs inner and outer (LEFT, RIGHT, FULL) joins",
                    );
                }
            };
            ([&a.relation, &j.relation], Some(on), outer)
        }
        [] | [_] => return Ok(None),
        _ => {
            return unsupported(
                "a join of more than two tables",
                ": join two tables per query so far",
            );
        }
    };
    if query.with.is_some()
        || query.order_by.is_some()
        || query.limit_clause.is_some()
        || query.fetch.is_some()
    {
        return unsupported("WITH, ORDER BY or LIMIT around a join", "");
    }
    if select.distinct.is_some()
        || select.having.is_some()
        || !matches!(&select.group_by, GroupByExpr::Expressions(g, _) if g.is_empty())
    {
        // (An aggregation over a join is [`super::compose`]'s.)
        return unsupported(
            "SELECT DISTINCT over a join",
            ": write it as a GROUP BY of the columns",
        );
    }
    let mut sides = [
        side(relations[0], tables, wasm)?,
        side(relations[1], tables, wasm)?,
    ];
    if sides[0].name == sides[1].name {
        return invalid(format!(
            "both tables of the join are called `{}`: give them aliases",
            sides[0].name
        ));
    }
    // A window aggregation's results are read by a name of their own.
    for (s, name) in sides.iter_mut().zip([LEFT_ROWS, RIGHT_ROWS]) {
        if s.aggregated.is_some() {
            s.table = name.into();
        }
    }
    let windowed = match (&sides[0].window, &sides[1].window) {
        (None, None) => None,
        (Some(l), Some(r))
            if l.kind == r.kind && l.size == r.size && l.slide == r.slide && l.step == r.step =>
        {
            Some(l.clone())
        }
        (Some(_), Some(_)) => {
            return unsupported(
                "a window join of two different windows",
                ": window both tables with the same TUMBLE or HOP",
            );
        }
        _ => {
            return unsupported(
                "a join of a windowed table with one that is not",
                ": window both tables with the same TUMBLE or HOP, or neither (an interval join)",
            );
        }
    };
    if windowed.is_some() && outer.any() {
        return unsupported(
            format!("a {} window join", outer_name(outer)),
            ": weir's window joins are inner so far",
        );
    }
    if let Some(w) = &windowed
        && (w.kind == "session" || w.kind == "cumulate")
    {
        return unsupported(
            format!("a window join of {} windows", w.kind.to_uppercase()),
            ": weir's window join takes TUMBLE or HOP windows",
        );
    }

    // The query as written, planned over the tables (a window's columns
    // added): DataFusion checks its columns and types.
    check(select, &sides, wasm)?;

    // Its conditions: keys, time bounds, and the rest.
    let Conditions {
        keys,
        lower,
        upper,
        bounding,
        starts,
        ends,
        mut rest,
    } = if outer.any() {
        outer_conditions(outer, on, select.selection.as_ref(), &mut sides)?
    } else {
        let mut conjuncts = Vec::new();
        for e in on.into_iter().chain(select.selection.as_ref()) {
            split_and(e, &mut conjuncts);
        }
        classify(conjuncts, &mut sides, windowed.is_some())?
    };
    if keys.is_empty() {
        return unsupported(
            "a join without an equality between the two tables' columns",
            ": weir joins by key (… ON a.k = b.k)",
        );
    }
    let join = match &windowed {
        Some(w) => {
            if !(starts && ends) {
                return unsupported(
                    "a window join not on both window_start and window_end",
                    ": add L.window_start = R.window_start AND L.window_end = R.window_end",
                );
            }
            JoinSpec {
                kind: "window".into(),
                window: w.kind.clone(),
                size: w.size.clone(),
                slide: w.slide.clone(),
                ..join_spec()
            }
        }
        None => match (lower, upper) {
            (Some(lo), Some(hi)) if lo <= hi => JoinSpec {
                kind: "interval".into(),
                lower: Some(format!("{lo}ms")),
                upper: Some(format!("{hi}ms")),
                ..join_spec()
            },
            (Some(lo), Some(hi)) => {
                return invalid(format!(
                    "the join's time bounds leave no interval: {} - {} must be at least {lo} ms and at most {hi} ms",
                    sides[1].name, sides[0].name
                ));
            }
            _ => {
                // Not bounded both ways: Flink's regular join, whose
                // conditions on the times are filters after it.
                rest.extend(bounding);
                JoinSpec {
                    kind: "regular".into(),
                    outer: outer.setting().map(str::to_string),
                    ..join_spec()
                }
            }
        },
    };

    // 1, 2: each table's rows with their key.
    let key_types = key_types(&keys, &sides, wasm)?;
    let pre = [0, 1].map(|i| table_query(i, &sides[i], &keys, &key_types, outer));
    let (post, joined, schema) = joined_rows(select, &sides, &rest, outer.any(), wasm)?;
    let [l, r] = sides;
    Ok(Some(Lowered {
        tables: [l.source, r.source],
        aggregated: [l.aggregated, r.aggregated],
        pre,
        join,
        post,
        joined,
        schema,
        updating: outer.any(),
    }))
}

/// The query of the stage that reads side `s` (`i` = 0 for the left, 1
/// for the right): its rows with a NULL key left out, each with its key
/// as text. In an `outer` join, a row of a side kept whole is never left
/// out: with a NULL key, or failing the side's [`Side::matches_if`], its
/// key is one no row of the other side has (`<` on the left, `>` on the
/// right; every other key starts with `=`).
fn table_query(
    i: usize,
    s: &Side,
    keys: &[(Expr, Expr)],
    key_types: &[KeyType],
    outer: Outer,
) -> String {
    let parts: Vec<(String, &KeyType)> = keys
        .iter()
        .zip(key_types)
        .map(|(pair, ty)| {
            let e = if i == 0 { &pair.0 } else { &pair.1 };
            let text = match ty.cast {
                Some(t) => format!("CAST(CAST(({e}) AS {t}) AS STRING)"),
                None if ty.time => format!("CAST(CAST(({e}) AS BIGINT) AS STRING)"),
                None => format!("CAST(({e}) AS STRING)"),
            };
            (text, ty)
        })
        .collect();
    // Several parts in one text that says where each ends: a text part
    // after its length, any other (whose text holds no `:`) before a `:`.
    let key = match parts.as_slice() {
        [(one, _)] => one.clone(),
        many => many
            .iter()
            .map(|(p, ty)| match ty.text {
                true => format!("CAST(character_length({p}) AS STRING) || ':' || {p}"),
                false => format!("{p} || ':'"),
            })
            .collect::<Vec<_>>()
            .join(" || "),
    };
    let mut filters: Vec<String> = keys
        .iter()
        .map(|pair| {
            let e = if i == 0 { &pair.0 } else { &pair.1 };
            format!("({e}) IS NOT NULL")
        })
        .collect();
    let side = [JoinSide::Left, JoinSide::Right][i];
    let key = if !outer.any() {
        key
    } else if outer.keeps(side) {
        let mut pairs = std::mem::take(&mut filters);
        pairs.extend(s.matches_if.iter().map(|f| format!("({f}) IS TRUE")));
        let never = if i == 0 { "<" } else { ">" };
        format!(
            "CASE WHEN {} THEN '=' || {key} ELSE '{never}' END",
            pairs.join(" AND ")
        )
    } else {
        format!("'=' || {key}")
    };
    filters.extend(s.filters.iter().map(|f| format!("({f})")));
    if filters.is_empty() {
        filters.push("TRUE".into());
    }
    format!(
        "SELECT {n}.*, {key} AS `{KEY}` FROM {t} AS {n} WHERE {w}",
        n = quote(&s.name),
        t = quote(&s.table),
        w = filters.join(" AND ")
    )
}

/// A join of [`LEFT`] and [`RIGHT`] by [`KEY`], its kind not set yet.
fn join_spec() -> JoinSpec {
    JoinSpec {
        kind: String::new(),
        left: LEFT.into(),
        right: RIGHT.into(),
        left_key: KEY.into(),
        right_key: KEY.into(),
        window: "tumbling".into(),
        size: None,
        slide: None,
        lower: None,
        upper: None,
        ttl: None,
        outer: None,
    }
}

fn constraint_name(c: &JoinConstraint) -> &'static str {
    match c {
        JoinConstraint::Using(_) => "with USING",
        JoinConstraint::Natural => "NATURAL",
        _ => "without a condition",
    }
}

fn operator_name(op: &JoinOperator) -> String {
    let name = match op {
        JoinOperator::Left(_) | JoinOperator::LeftOuter(_) => "LEFT OUTER JOIN",
        JoinOperator::Right(_) | JoinOperator::RightOuter(_) => "RIGHT OUTER JOIN",
        JoinOperator::FullOuter(_) => "FULL OUTER JOIN",
        JoinOperator::CrossJoin(_) => "CROSS JOIN",
        JoinOperator::Semi(_) | JoinOperator::LeftSemi(_) | JoinOperator::RightSemi(_) => {
            "SEMI JOIN"
        }
        JoinOperator::Anti(_) | JoinOperator::LeftAnti(_) | JoinOperator::RightAnti(_) => {
            "ANTI JOIN"
        }
        _ => "this kind of join",
    };
    name.to_string()
}

mod conditions;
mod joined;
mod outer;
mod sides;
#[cfg(test)]
mod tests;
