//! Joins of two tables on event time: Flink's interval join and window
//! join.
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
//!    several keys as one text, each prefixed by its length; a row with a
//!    NULL key joins nothing, so it stops here);
//! 3. `join`, weir's interval join (`right.ts - left.ts` within the bounds
//!    the condition sets on the tables' event-time columns, inclusive) or
//!    window join (tumbling or sliding), keyed by `__key`;
//! 4. `select`, a query over the joined rows (`{"left": {…}, "right":
//!    {…}}`, read with the tables' own column types): the columns named as
//!    the query names them, its other conditions, its `SELECT` list.
//!
//! Inner joins only; an outer, a regular (unbounded), a session window
//! join, or an aggregation over a join is refused by name. A row that
//! comes after the watermark passed it joins nothing (Flink's window join
//! drops it too; Flink's interval join would still join it with the rows
//! it keeps).

use super::ast::{Refusal, invalid, list_text, parse_query, quote, unsupported};
use super::catalog::{Catalog, plan_query};
use super::parse::TableDef;
use super::script::interval_ms;
use super::tvf;
use crate::job::{JoinSpec, WindowSpec};
use arrow_schema::{DataType, SchemaRef};
use datafusion_sql::sqlparser::ast::{
    BinaryOperator, Expr, GroupByExpr, Ident, JoinConstraint, JoinOperator, Query, SelectItem,
    SetExpr, TableFactor, visit_expressions, visit_expressions_mut,
};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

/// The stages that read each table.
pub(super) const LEFT: &str = "join_left";
pub(super) const RIGHT: &str = "join_right";
/// The join stage.
pub(super) const JOIN: &str = "join";
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
    /// The `join_left` and `join_right` stages' queries, over their table.
    pub pre: [String; 2],
    /// The join stage's join (its inputs are [`LEFT`] and [`RIGHT`]).
    pub join: JoinSpec,
    /// The `select` stage's query, over [`JOINED`].
    pub post: Query,
    /// The fields of the joined rows `post` reads (`left.c` = `string`).
    pub joined: BTreeMap<String, String>,
    /// The columns `post` makes.
    pub schema: SchemaRef,
}

/// One side of the join.
struct Side {
    /// The table.
    table: String,
    /// What the query calls it (its alias, else its name).
    name: String,
    /// Its columns.
    schema: SchemaRef,
    /// Its event-time column.
    time: Option<String>,
    /// The window it is read through, if any.
    window: Option<WindowSpec>,
    /// Conditions on this side alone (a window's subquery's `WHERE`, the
    /// query's conjuncts that read only this table's columns).
    filters: Vec<Expr>,
}

impl Side {
    /// Does the side have column `c` (a window's columns included)?
    fn has(&self, c: &str) -> bool {
        self.schema.field_with_name(c).is_ok()
            || (self.window.is_some() && WINDOW_COLUMNS.contains(&c))
    }

    /// The side's columns, in Flink's order: the table's, then the
    /// window's.
    fn columns(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        if self.window.is_some() {
            all.extend(WINDOW_COLUMNS.iter().map(|c| c.to_string()));
        }
        all
    }
}

const WINDOW_COLUMNS: [&str; 3] = ["window_start", "window_end", "window_time"];

/// The join `query` makes, lowered to stages; `None` when it joins
/// nothing.
pub(super) fn lower(query: &Query, tables: &Tables) -> Result<Option<Lowered>, Refusal> {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return Ok(None);
    };
    let (relations, on) = match select.from.as_slice() {
        [a, b] if a.joins.is_empty() && b.joins.is_empty() => ([&a.relation, &b.relation], None),
        [a] if a.joins.len() == 1 => {
            let j = &a.joins[0];
            let on = match &j.join_operator {
                JoinOperator::Join(JoinConstraint::On(e))
                | JoinOperator::Inner(JoinConstraint::On(e)) => Some(e),
                JoinOperator::Join(c) | JoinOperator::Inner(c) => {
                    return unsupported(
                        format!("a join {}", constraint_name(c)),
                        ": write the condition with ON",
                    );
                }
                other => {
                    return unsupported(
                        operator_name(other),
                        ": weir runs inner interval and window joins so far",
                    );
                }
            };
            ([&a.relation, &j.relation], on)
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
        return unsupported(
            "an aggregation (GROUP BY, HAVING, DISTINCT) over a join",
            ": weir runs joins and aggregations in separate scripts so far",
        );
    }
    let mut sides = [side(relations[0], tables)?, side(relations[1], tables)?];
    if sides[0].name == sides[1].name {
        return invalid(format!(
            "both tables of the join are called `{}`: give them aliases",
            sides[0].name
        ));
    }
    let windowed = match (&sides[0].window, &sides[1].window) {
        (None, None) => None,
        (Some(l), Some(r)) if l.kind == r.kind && l.size == r.size && l.slide == r.slide => {
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
    if let Some(w) = &windowed
        && w.kind == "session"
    {
        return unsupported(
            "a window join of SESSION windows",
            ": weir's window join takes TUMBLE or HOP windows",
        );
    }

    // The query as written, planned over the tables (a window's columns
    // added): DataFusion checks its columns and types.
    check(query, select, &sides)?;

    // Its conditions: keys, time bounds, and the rest.
    let mut conjuncts = Vec::new();
    for e in on.into_iter().chain(select.selection.as_ref()) {
        split_and(e, &mut conjuncts);
    }
    let mut keys: Vec<(Expr, Expr)> = Vec::new();
    let (mut lower, mut upper) = (None::<i64>, None::<i64>);
    let (mut starts, mut ends) = (false, false);
    let mut rest = Vec::new();
    for c in conjuncts {
        if windowed.is_none()
            && let Some(bounds) = time_bound(&c, &sides)?
        {
            for (lo, hi) in bounds {
                if let Some(lo) = lo {
                    lower = Some(lower.map_or(lo, |l| l.max(lo)));
                }
                if let Some(hi) = hi {
                    upper = Some(upper.map_or(hi, |u| u.min(hi)));
                }
            }
            continue;
        }
        let refs = references(&c, &sides)?;
        if let Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } = &c
        {
            let (l, r) = (references(left, &sides)?, references(right, &sides)?);
            let pair = match (side_only(&l), side_only(&r)) {
                (Some(0), Some(1)) => Some(((**left).clone(), (**right).clone())),
                (Some(1), Some(0)) => Some(((**right).clone(), (**left).clone())),
                _ => None,
            };
            if let Some((a, b)) = pair {
                match (window_column(&a, &sides), window_column(&b, &sides)) {
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
                return unsupported(
                    "a regular join (no lower and upper bound between the tables' event-time columns)",
                    ": bound one table's event time by the other's (… s.ts BETWEEN o.ts AND o.ts + INTERVAL '1' HOUR), or join windows",
                );
            }
        },
    };

    // 1, 2: each table's rows with their key.
    let key_types = key_types(&keys, &sides)?;
    let mut pre = Vec::new();
    for (i, s) in sides.iter().enumerate() {
        let parts: Vec<String> = keys
            .iter()
            .zip(&key_types)
            .map(|(pair, ty)| {
                let e = if i == 0 { &pair.0 } else { &pair.1 };
                match ty {
                    Some(t) => format!("CAST(CAST(({e}) AS {t}) AS STRING)"),
                    None => format!("CAST(({e}) AS STRING)"),
                }
            })
            .collect();
        let key = match parts.as_slice() {
            [one] => one.clone(),
            many => many
                .iter()
                .map(|p| format!("CAST(character_length({p}) AS STRING) || ':' || {p}"))
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
        filters.extend(s.filters.iter().map(|f| format!("({f})")));
        pre.push(format!(
            "SELECT {n}.*, {key} AS `{KEY}` FROM {t} AS {n} WHERE {w}",
            n = quote(&s.name),
            t = quote(&s.table),
            w = filters.join(" AND ")
        ));
    }

    // 4: the joined rows' columns, named `__l_c` and `__r_c`.
    let mut joined = BTreeMap::new();
    let mut flat = Vec::new();
    for (i, s) in sides.iter().enumerate() {
        let (object, prefix) = if i == 0 {
            ("left", "__l_")
        } else {
            ("right", "__r_")
        };
        for f in s.schema.fields() {
            let ty = flink_name(f.data_type()).ok_or_else(|| {
                Refusal::Unsupported(
                    format!(
                        "joining a table with a {} column (`{}`)",
                        f.data_type(),
                        f.name()
                    ),
                    String::new(),
                )
            })?;
            joined.insert(format!("{object}.{}", f.name()), ty.to_string());
            flat.push(format!(
                "get_field(`{object}`, '{}') AS {}",
                f.name().replace('\'', "''"),
                quote(&format!("{prefix}{}", f.name()))
            ));
        }
        if s.window.is_some() {
            flat.push(format!(
                "to_timestamp_millis(`window_start`) AS `{prefix}window_start`"
            ));
            flat.push(format!(
                "to_timestamp_millis(`window_end`) AS `{prefix}window_end`"
            ));
            flat.push(format!(
                "to_timestamp_millis(`window_end` - 1) AS `{prefix}window_time`"
            ));
        }
    }
    if windowed.is_some() {
        joined.insert("window_start".into(), "bigint".into());
        joined.insert("window_end".into(), "bigint".into());
    }
    let mut items = Vec::new();
    let mut names = BTreeSet::new();
    let mut unique = |name: &str| {
        // Flink names a second column of the same name `name0`, `name1`…
        let mut n = name.to_string();
        let mut i = 0;
        while !names.insert(n.clone()) {
            n = format!("{name}{i}");
            i += 1;
        }
        n
    };
    for item in &select.projection {
        match item {
            SelectItem::Wildcard(_) => {
                for (i, s) in sides.iter().enumerate() {
                    for c in s.columns() {
                        items.push(format!("{} AS {}", flat_name(i, &c), quote(&unique(&c))));
                    }
                }
            }
            SelectItem::QualifiedWildcard(q, _) => {
                let q = q.to_string();
                let Some(i) = sides
                    .iter()
                    .position(|s| quote(&s.name) == q || s.name == q)
                else {
                    return invalid(format!("`{q}.*`: no table of the join is called `{q}`"));
                };
                for c in sides[i].columns() {
                    items.push(format!("{} AS {}", flat_name(i, &c), quote(&unique(&c))));
                }
            }
            SelectItem::UnnamedExpr(e) => {
                let name = match e {
                    Expr::Identifier(c) => Some(c.value.clone()),
                    Expr::CompoundIdentifier(p) => p.last().map(|c| c.value.clone()),
                    _ => None,
                };
                let e = flattened(e, &sides)?;
                items.push(match name {
                    Some(n) => format!("{e} AS {}", quote(&unique(&n))),
                    None => e.to_string(),
                });
            }
            SelectItem::ExprWithAlias { expr, alias } => {
                unique(&alias.value);
                items.push(format!("{} AS {alias}", flattened(expr, &sides)?));
            }
            other => return unsupported(format!("`{other}` in a join's SELECT list"), ""),
        }
    }
    let mut wheres = Vec::new();
    for c in &rest {
        wheres.push(format!("({})", flattened(c, &sides)?));
    }
    let post = format!(
        "SELECT {} FROM (SELECT {} FROM `{JOINED}`) AS `__rows`{}",
        items.join(", "),
        flat.join(", "),
        if wheres.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", wheres.join(" AND "))
        }
    );
    let post = parse_query(&post)?;
    let joined_schema = crate::batch::schema_of(&joined)
        .map_err(|e| Refusal::Invalid(format!("the joined rows' schema: {e}")))?;
    let catalog = Catalog::new([(JOINED.to_string(), std::sync::Arc::new(joined_schema))]);
    let plan = plan_query(&catalog, post.clone()).map_err(Refusal::Plan)?;
    let [l, r] = sides;
    Ok(Some(Lowered {
        tables: [l.table, r.table],
        pre: [pre[0].clone(), pre[1].clone()],
        join,
        post,
        joined,
        schema: plan.schema().inner().clone(),
    }))
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
    }
}

/// The side a relation of the `FROM` clause is: a table, or a window
/// table function over one (directly, or as `(SELECT * FROM TABLE(…)
/// [WHERE …])`).
fn side(relation: &TableFactor, tables: &Tables) -> Result<Side, Refusal> {
    let table_side = |table: &str, alias: Option<String>, window: Option<WindowSpec>| {
        let Some((def, schema)) = tables.get(table) else {
            return invalid(format!("no table `{table}`: declare it with CREATE TABLE"));
        };
        if def.watermark.is_none() {
            return invalid(format!(
                "table `{table}` has no WATERMARK: a join runs on event time; declare WATERMARK FOR <its TIMESTAMP(3) column> AS …"
            ));
        }
        Ok(Side {
            table: table.to_string(),
            name: alias.unwrap_or_else(|| table.to_string()),
            schema: schema.clone(),
            time: def.watermark.as_ref().map(|w| w.column.clone()),
            window,
            filters: Vec::new(),
        })
    };
    let windowed = |e: &Expr, alias: Option<String>| match e {
        Expr::Function(f) => {
            let t = tvf::parse(f, tables)?;
            table_side(&t.table, alias, Some(t.window))
        }
        other => unsupported(format!("joining `{other}`"), ""),
    };
    match relation {
        TableFactor::Table {
            name, alias, args, ..
        } if args.is_none() => table_side(
            name.to_string().trim_matches('`'),
            alias.as_ref().map(|a| a.name.value.clone()),
            None,
        ),
        TableFactor::TableFunction { expr, alias } => {
            windowed(expr, alias.as_ref().map(|a| a.name.value.clone()))
        }
        TableFactor::Derived {
            subquery, alias, ..
        } => {
            let alias = alias.as_ref().map(|a| a.name.value.clone());
            let SetExpr::Select(inner) = subquery.body.as_ref() else {
                return unsupported("a join of a subquery", "");
            };
            let star = matches!(inner.projection.as_slice(), [SelectItem::Wildcard(_)]);
            let [from] = inner.from.as_slice() else {
                return unsupported("a join of a subquery", "");
            };
            let TableFactor::TableFunction { expr, .. } = &from.relation else {
                return unsupported(
                    "a join of a subquery",
                    ": join tables, or SELECT * FROM TABLE(TUMBLE(…)) windows",
                );
            };
            if !star || !from.joins.is_empty() || subquery.order_by.is_some() {
                return unsupported(
                    "a join of a subquery other than SELECT * FROM TABLE(window) [WHERE …]",
                    "",
                );
            }
            let mut s = windowed(expr, alias)?;
            if let Some(w) = &inner.selection {
                split_and(w, &mut s.filters);
            }
            Ok(s)
        }
        other => unsupported(format!("joining `{other}`"), ""),
    }
}

/// Plan the query as written over its tables (a window's columns added),
/// so that DataFusion checks its columns and types in the user's terms.
fn check(
    query: &Query,
    select: &datafusion_sql::sqlparser::ast::Select,
    sides: &[Side; 2],
) -> Result<(), Refusal> {
    let mut from = Vec::new();
    let mut catalog = Vec::new();
    for (i, s) in sides.iter().enumerate() {
        let mut fields: Vec<_> = s.schema.fields().iter().cloned().collect();
        if s.window.is_some() {
            for c in WINDOW_COLUMNS {
                fields.push(std::sync::Arc::new(arrow_schema::Field::new(
                    c,
                    DataType::Timestamp(arrow_schema::TimeUnit::Millisecond, None),
                    false,
                )));
            }
        }
        let name = format!("__check{i}");
        from.push(format!("{} AS {}", quote(&name), quote(&s.name)));
        catalog.push((name, std::sync::Arc::new(arrow_schema::Schema::new(fields))));
    }
    let mut conditions: Vec<String> = sides
        .iter()
        .flat_map(|s| s.filters.iter().map(|f| format!("({f})")))
        .collect();
    if let Some(w) = &select.selection {
        conditions.push(format!("({w})"));
    }
    if let SetExpr::Select(_) = query.body.as_ref()
        && let [f] = select.from.as_slice()
        && let [j] = f.joins.as_slice()
        && let JoinOperator::Join(JoinConstraint::On(e))
        | JoinOperator::Inner(JoinConstraint::On(e)) = &j.join_operator
    {
        conditions.push(format!("({e})"));
    }
    let text = format!(
        "SELECT {} FROM {}{}",
        list_text(&select.projection),
        from.join(", "),
        if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        }
    );
    plan_query(&Catalog::new(catalog), parse_query(&text)?).map_err(Refusal::Plan)?;
    Ok(())
}

/// The conjuncts of `e` (`a AND b AND c`), into `out`.
fn split_and(e: &Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            split_and(left, out);
            split_and(right, out);
        }
        Expr::Nested(inner) => split_and(inner, out),
        other => out.push(other.clone()),
    }
}

/// What an expression reads.
#[derive(Default)]
struct Refs {
    /// The sides whose columns it reads.
    sides: BTreeSet<usize>,
    /// Does it read a window's column?
    window: bool,
}

fn side_only(r: &Refs) -> Option<usize> {
    match r.sides.iter().collect::<Vec<_>>().as_slice() {
        [one] => Some(**one),
        _ => None,
    }
}

/// The side and column a column reference `e` names.
fn column_of(e: &Expr, sides: &[Side; 2]) -> Result<Option<(usize, String)>, Refusal> {
    match e {
        Expr::Identifier(c) => {
            let found: Vec<usize> = (0..2).filter(|&i| sides[i].has(&c.value)).collect();
            match found.as_slice() {
                [i] => Ok(Some((*i, c.value.clone()))),
                [] => Ok(None),
                _ => invalid(format!(
                    "column `{}` is in both tables of the join: write {}.{} or {}.{}",
                    c.value, sides[0].name, c.value, sides[1].name, c.value
                )),
            }
        }
        Expr::CompoundIdentifier(parts) => match parts.as_slice() {
            [q, c] => match sides.iter().position(|s| s.name == q.value) {
                Some(i) => Ok(Some((i, c.value.clone()))),
                None => Ok(None),
            },
            _ => Ok(None),
        },
        _ => Ok(None),
    }
}

/// What `e` reads.
fn references(e: &Expr, sides: &[Side; 2]) -> Result<Refs, Refusal> {
    let mut refs = Refs::default();
    let mut failed = None;
    let _ = visit_expressions(e, |x| {
        match column_of(x, sides) {
            Ok(Some((i, c))) => {
                refs.sides.insert(i);
                refs.window |= WINDOW_COLUMNS.contains(&c.as_str()) && sides[i].window.is_some();
            }
            Ok(None) => {}
            Err(r) => {
                failed = Some(r);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    });
    match failed {
        Some(r) => Err(r),
        None => Ok(refs),
    }
}

/// The window column `e` is, if it is one.
fn window_column(e: &Expr, sides: &[Side; 2]) -> Option<&'static str> {
    let (i, c) = column_of(e, sides).ok()??;
    sides[i].window.as_ref()?;
    WINDOW_COLUMNS.iter().copied().find(|w| *w == c)
}

/// `e` over the joined rows' flat columns.
fn flattened(e: &Expr, sides: &[Side; 2]) -> Result<Expr, Refusal> {
    let mut e = e.clone();
    let mut failed = None;
    let _ = visit_expressions_mut(&mut e, |x| {
        match column_of(x, sides) {
            Ok(Some((i, c))) => *x = Expr::Identifier(Ident::with_quote('`', flat(i, &c))),
            Ok(None) => {}
            Err(r) => failed = Some(r),
        }
        ControlFlow::<()>::Continue(())
    });
    match failed {
        Some(r) => Err(r),
        None => Ok(e),
    }
}

fn flat(side: usize, column: &str) -> String {
    format!("{}{column}", if side == 0 { "__l_" } else { "__r_" })
}

fn flat_name(side: usize, column: &str) -> String {
    quote(&flat(side, column))
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

/// The type each key pair is compared in: `None` when both sides have the
/// same type, else the SQL type both are cast to.
fn key_types(
    keys: &[(Expr, Expr)],
    sides: &[Side; 2],
) -> Result<Vec<Option<&'static str>>, Refusal> {
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
        let catalog = Catalog::new([(s.table.clone(), s.schema.clone())]);
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
    keys.iter()
        .zip(l.iter().zip(&r))
        .map(|((a, b), (tl, tr))| match (tl, tr) {
            (x, y) if x == y => Ok(None),
            (x, y) if whole(x) && whole(y) => Ok(Some("BIGINT")),
            (x, y) if x.is_numeric() && y.is_numeric() => Ok(Some("DOUBLE")),
            (
                DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8,
                DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8,
            ) => Ok(None),
            (x, y) => invalid(format!(
                "the join compares `{a}`, a {x}, with `{b}`, a {y}: CAST one of them"
            )),
        })
        .collect()
}

/// The `[source.schema]` name of a column type a table may have.
fn flink_name(ty: &DataType) -> Option<&'static str> {
    Some(match ty {
        DataType::Int64 => "bigint",
        DataType::Int32 => "int32",
        DataType::Float64 => "double",
        DataType::Float32 => "float32",
        DataType::Utf8 => "string",
        DataType::Boolean => "bool",
        DataType::Timestamp(..) => "timestamp",
        _ => return None,
    })
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

#[cfg(test)]
mod tests;
