//! Top-N and deduplication: a query that keeps, per partition, the first
//! rows of an order,
//!
//! ```sql
//! SELECT * FROM (
//!   SELECT *, ROW_NUMBER() OVER (PARTITION BY merchant ORDER BY amount DESC) AS rn
//!   FROM tx
//! ) WHERE rn <= 3
//! ```
//!
//! becomes three stages, like an OVER aggregation ([`super::over`]):
//! 1. `filter`, a query over the table: the inner query's `WHERE`, every
//!    column of the table, and the partition key as text (`__key`) — for a
//!    Window Top-N, the window aggregation's stages (its `filter`, its
//!    `window`) and then this query over its results;
//! 2. `rank`, weir's rank stage ([`crate::rank`]) keyed by `__key`: the
//!    rows at the places the outer `WHERE` asks for (`rn <= N`, `rn < N`,
//!    `rn = N`, `rn BETWEEN M AND N`, `rn > M AND rn <= N`), with their
//!    place as `__rn` when the query reads it, as a changelog;
//! 3. `select`, a query over its rows: the inner `SELECT` list (the
//!    number as the alias it was given), then the outer query's list and
//!    the rest of its `WHERE`, the change (`_op`) passed through.
//!
//! As in Flink, a query that does not read the number gets the rows
//! alone (a row that moves within the places changes nothing), and one
//! place ordered by the table's event-time column without the number is
//! deduplication: `ORDER BY ts DESC` keeps each partition's last row (of
//! two rows at one time, the later), `ASC` its first.
//!
//! A Window Top-N ranks the results of a window aggregation (a subquery
//! `GROUP BY window_start, window_end, …` over a window table function),
//! `PARTITION BY window_start, window_end`: each window's places go out
//! once, as inserts, when the watermark passes the window (Flink's
//! `WindowRank`).
//!
//! A Top-N of an aggregation without a window (a `GROUP BY` whose results
//! update) ranks a changelog: the `filter` stage gives each row its sign
//! (`-U` and `-D` take back), and the rank stage keeps every row of a
//! partition, so that a row that fell behind comes back when one before
//! it is taken back (Flink's `RetractableTopNFunction`); its changes go
//! out after each batch.
//!
//! Not yet: a Top-N of a join, a Window Top-N straight over a window
//! table function's rows, `RANK()`/`DENSE_RANK()`, an order or a
//! partition by an expression (compute it in the inner query's table
//! first).

use super::ast::{Refusal, column_name, invalid, list_text, parse_query, quote, unsupported};
use super::catalog::{Catalog, plan_query};
use super::parse::TableDef;
use super::window;
use crate::job::{RankOrderSpec, RankSpec};
use crate::window::global::OP;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use datafusion_sql::sqlparser::ast::{
    Expr, GroupByExpr, Ident, Query, Select, SelectItem, SetExpr, TableFactor, WindowType,
    visit_expressions,
};
use places::{names, places};
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::Arc;

/// The name the `select` stage reads the rank stage's rows by.
pub(super) const ROWS: &str = "__ranked";
/// The column the rank stage writes each row's place into.
const NUMBER: &str = "__rn";
/// The column the `filter` stage writes each row's sign into, over a
/// changelog.
const SIGN: &str = "__sign";

/// A Top-N, as its three stages.
#[derive(Debug)]
pub(super) struct Lowered {
    /// The table the query reads.
    pub table: String,
    /// The `filter` stage's query, over `table`.
    pub pre: String,
    /// The `rank` stage, keyed by [`window::KEY`].
    pub rank: RankSpec,
    /// The `select` stage's query, over [`ROWS`].
    pub post: Query,
    /// The columns `post` makes, [`OP`] last unless `window`.
    pub schema: SchemaRef,
    /// The window aggregation whose results it ranks (`pre` reads them):
    /// a Window Top-N, its rows inserts; or a `GROUP BY` without a window,
    /// whose rows are a changelog.
    pub window: Option<Box<window::Lowered>>,
}

/// `query` as a Top-N lowered to stages; `None` when it is not one (its
/// FROM is not a subquery numbering its rows with `ROW_NUMBER()`).
pub(super) fn lower(
    query: &Query,
    tables: &BTreeMap<String, (TableDef, SchemaRef)>,
    wasm: &super::Functions,
) -> Result<Option<Lowered>, Refusal> {
    let SetExpr::Select(outer) = query.body.as_ref() else {
        return Ok(None);
    };
    let [from] = outer.from.as_slice() else {
        return Ok(None);
    };
    let TableFactor::Derived {
        subquery,
        alias: outer_alias,
        ..
    } = &from.relation
    else {
        return Ok(None);
    };
    let SetExpr::Select(inner) = subquery.body.as_ref() else {
        return Ok(None);
    };
    let Some((number_at, rn, spec)) = row_number(inner)? else {
        return Ok(None);
    };
    let what = "a Top-N (ROW_NUMBER() OVER …)";
    if !from.joins.is_empty() {
        return unsupported(format!("a join of {what}"), ": join the table first");
    }
    if window::wrapped(query) || window::wrapped(subquery) {
        return unsupported(
            format!("WITH, ORDER BY or LIMIT around {what}"),
            ": its rows are an updating table, kept per partition",
        );
    }
    let grouped = |s: &Select| {
        !matches!(&s.group_by, GroupByExpr::Expressions(g, _) if g.is_empty()) || s.having.is_some()
    };
    if grouped(outer) || outer.distinct.is_some() || super::over::calls_over(outer) {
        return unsupported(
            format!("GROUP BY, DISTINCT or OVER over {what}"),
            ": its rows are a changelog, which a stage cannot read yet",
        );
    }
    if grouped(inner) || inner.distinct.is_some() {
        return unsupported(
            format!("{what} of an aggregation"),
            ": its input would be a changelog, which a stage cannot read yet; rank the rows of a table",
        );
    }
    let [inner_from] = inner.from.as_slice() else {
        return unsupported(
            format!("{what} of several tables"),
            ": rank the rows of one table",
        );
    };
    if !inner_from.joins.is_empty() {
        return unsupported(
            format!("{what} of a join"),
            ": its input would be a changelog, which a stage cannot read yet; rank the rows of one table",
        );
    }
    // What it ranks: a table's rows, or a window aggregation's results
    // (a Window Top-N).
    let (table, alias, windowed) = match &inner_from.relation {
        TableFactor::Table {
            name,
            alias,
            args: None,
            ..
        } => (name.to_string().trim_matches('`').to_string(), alias, None),
        TableFactor::Derived {
            subquery: aggregation,
            alias,
            ..
        } => match window::lower(aggregation, tables, wasm)? {
            Some(w) => (w.table.clone(), alias, Some(w)),
            None => {
                return unsupported(
                    format!("{what} of a subquery"),
                    ": rank the rows of a table, or the results of a window aggregation",
                );
            }
        },
        TableFactor::TableFunction { .. } | TableFactor::Function { .. } => {
            return unsupported(
                format!("{what} of a window table function's rows"),
                ": rank the results of a window aggregation (Window Top-N), or a table's rows",
            );
        }
        _ => {
            return unsupported(
                format!("{what} of a subquery"),
                ": rank the rows of a table",
            );
        }
    };
    let Some((def, table_schema)) = tables.get(&table) else {
        // The planner says what is wrong.
        return Ok(None);
    };
    // A GROUP BY without a window: its results are a changelog, which the
    // rank stage reads with each row's sign.
    let changelog = windowed.as_ref().is_some_and(|w| w.updating);
    // The columns it ranks (an aggregation's, without their change).
    let schema = match &windowed {
        None => table_schema.clone(),
        Some(w) => Arc::new(Schema::new(
            w.schema
                .fields()
                .iter()
                .filter(|f| f.name() != OP)
                .cloned()
                .collect::<Vec<_>>(),
        )),
    };
    let schema = &schema;
    if let Some(w) = windowed.as_ref().filter(|_| !changelog) {
        // As in Flink, a Window Top-N ranks within each window.
        let parts: Vec<&str> = spec.partition_by.iter().filter_map(column_name).collect();
        if !(parts.contains(&"window_start") && parts.contains(&"window_end")) {
            return unsupported(
                format!("{what} of a window aggregation not partitioned by its window"),
                ": PARTITION BY window_start, window_end (and more columns if need be)",
            );
        }
        if w.schema.field_with_name("window_start").is_err()
            || w.schema.field_with_name("window_end").is_err()
        {
            return invalid(format!(
                "{what} of a window aggregation that does not select window_start and window_end"
            ));
        }
    }

    // The partition and the order: columns of the table.
    let column = |e: &Expr, role: &str| match column_name(e) {
        Some(c) if schema.field_with_name(c).is_ok() => Ok(c.to_string()),
        _ => unsupported(
            format!("{role} {e} in {what}"),
            ": use columns of the table (compute an expression in the table's query first)",
        ),
    };
    let keys = spec
        .partition_by
        .iter()
        .map(|e| column(e, "PARTITION BY"))
        .collect::<Result<Vec<_>, _>>()?;
    if spec.order_by.is_empty() {
        return invalid(format!(
            "{what} needs ORDER BY: ROW_NUMBER() OVER (PARTITION BY … ORDER BY …)"
        ));
    }
    if spec.window_frame.is_some() {
        return invalid(format!(
            "a frame (ROWS/RANGE …) in {what}: ROW_NUMBER() takes none"
        ));
    }
    let mut order_by = Vec::new();
    for o in &spec.order_by {
        let desc = o.options.asc == Some(false);
        order_by.push(RankOrderSpec {
            field: column(&o.expr, "ORDER BY")?,
            desc,
            nulls_first: o.options.nulls_first,
        });
    }

    // The places: the outer WHERE's conditions on the number; the rest
    // filters the rows after.
    let (places, rest) = places(outer.selection.as_ref(), &rn)?;
    let (from_place, to_place) = match places {
        Some((f, Some(t))) if f <= t => (f, t),
        Some((f, Some(t))) => {
            return invalid(format!(
                "WHERE {rn} … keeps no row: places {f} to {t} (the first place is 1)"
            ));
        }
        _ => {
            return unsupported(
                format!("{what} without a last place"),
                &format!(": keep the first rows, e.g. WHERE {rn} <= 10"),
            );
        }
    };
    if to_place > crate::job::MAX_RANK {
        return unsupported(
            format!("{what} of {to_place} places"),
            &format!(": at most {} places per partition", crate::job::MAX_RANK),
        );
    }

    // Whether the query reads the number (a `*` does).
    let mut reads_number = false;
    for item in &outer.projection {
        match item {
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => reads_number = true,
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                reads_number |= names(e, &rn)
            }
            other => reads_number |= other.to_string().contains(&rn),
        }
    }
    // (A window's results have no event-time column of their own.)
    let time = def
        .watermark
        .as_ref()
        .map(|w| w.column.as_str())
        .filter(|_| windowed.is_none());
    // Flink's deduplication: one place, ordered by the event time, no
    // number; keeping the last row lets a later row win a tie.
    let dedup = !reads_number
        && (from_place, to_place) == (1, 1)
        && matches!(order_by.as_slice(), [o] if Some(o.field.as_str()) == time);
    let ties = if dedup && order_by[0].desc {
        "later"
    } else {
        "earlier"
    };

    let (catalog, alias, from_table, filter) = match &windowed {
        None => {
            let (alias, from_table, filter) = window::scan(&table, alias.as_ref(), inner);
            let catalog = Catalog::new([(table.clone(), schema.clone())]);
            (catalog, alias, from_table, filter)
        }
        Some(w) => {
            let (_, _, filter) = window::scan(&table, None, inner);
            let alias = alias
                .as_ref()
                .map_or_else(|| "`__windowed`".to_string(), |a| a.name.to_string());
            let catalog = Catalog::new([(window::RESULTS.to_string(), w.results.clone())]);
            (
                catalog,
                alias.clone(),
                format!("({}) AS {alias}", w.post),
                filter,
            )
        }
    };
    let catalog = catalog.with_functions(wasm);
    let key_types: Vec<(DataType, bool)> = keys
        .iter()
        .map(|k| {
            let f = schema.field_with_name(k).expect("checked above");
            (f.data_type().clone(), f.is_nullable())
        })
        .collect();
    let (key, _, _) = window::group_key(&keys, &key_types);
    let pre = if changelog {
        let columns: Vec<String> = schema.fields().iter().map(|f| quote(f.name())).collect();
        format!(
            "SELECT {}, {key} AS `{}`, CASE WHEN `{OP}` IN ('-U', '-D') THEN -1e0 ELSE 1e0 END AS `{SIGN}` \
             FROM {from_table}{filter}",
            columns.join(", "),
            window::KEY,
        )
    } else {
        format!(
            "SELECT *, {key} AS `{}` FROM {from_table}{filter}",
            window::KEY
        )
    };
    let filtered = plan_query(&catalog, parse_query(&pre)?).map_err(Refusal::Plan)?;
    // The rows the rank stage keeps (not their sign).
    let mut fields: Vec<Arc<Field>> = filtered
        .schema()
        .fields()
        .iter()
        .filter(|f| f.name() != SIGN)
        .cloned()
        .collect();
    if reads_number {
        fields.push(Arc::new(Field::new(NUMBER, DataType::Int64, false)));
    }
    let ranked = Catalog::new([(ROWS.to_string(), Arc::new(Schema::new(fields.clone())))])
        .with_functions(wasm);

    // The inner SELECT list over the ranked rows: the number by its name.
    let mut items = inner.projection.clone();
    if reads_number {
        items[number_at] = SelectItem::ExprWithAlias {
            expr: Expr::Identifier(Ident::with_quote('`', NUMBER)),
            alias: Ident::with_quote('`', rn.as_str()),
        };
    } else {
        items.remove(number_at);
    }
    // A `*` is the table's columns (not the stages' own: the key, the
    // change).
    let items: Vec<String> = items
        .iter()
        .flat_map(|item| match item {
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                schema.fields().iter().map(|f| quote(f.name())).collect()
            }
            other => vec![other.to_string()],
        })
        .collect();
    let inner_post = format!("SELECT {} FROM `{ROWS}` AS {alias}", items.join(", "));
    // What it makes, for the outer `*`.
    let columns: Vec<String> = plan_query(&ranked, parse_query(&inner_post)?)
        .map_err(Refusal::Plan)?
        .schema()
        .fields()
        .iter()
        .map(|f| quote(f.name()))
        .collect();
    let mut outer_items = Vec::new();
    for item in &outer.projection {
        match item {
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                outer_items.extend(columns.iter().cloned())
            }
            other => outer_items.push(other.to_string()),
        }
    }
    // A Top-N's rows are a changelog, their change passed through; a
    // Window Top-N's are inserts.
    let at_watermark = windowed.is_some() && !changelog;
    let updating = !at_watermark;
    let mut items = items;
    if updating {
        outer_items.push(quote(OP));
        items.push(quote(OP));
    }
    let outer_alias = outer_alias
        .as_ref()
        .map_or_else(|| "`__top`".to_string(), |a| a.name.to_string());
    let post = format!(
        "SELECT {} FROM (SELECT {} FROM `{ROWS}` AS {alias}) AS {outer_alias}{}",
        outer_items.join(", "),
        items.join(", "),
        if rest.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", list_text(&rest).replace(", ", " AND "))
        }
    );
    let post = parse_query(&post)?;
    if updating {
        fields.push(Arc::new(Field::new(OP, DataType::Utf8, false)));
    }
    let rows =
        Catalog::new([(ROWS.to_string(), Arc::new(Schema::new(fields)))]).with_functions(wasm);
    let plan = plan_query(&rows, post.clone()).map_err(Refusal::Plan)?;
    Ok(Some(Lowered {
        table,
        pre,
        rank: RankSpec {
            order_by,
            from: from_place,
            to: to_place,
            number: reads_number.then(|| NUMBER.to_string()),
            ties: ties.into(),
            at_watermark,
            sign: changelog.then(|| SIGN.to_string()),
        },
        post,
        schema: plan.schema().inner().clone(),
        window: windowed.map(Box::new),
    }))
}

/// The item of `select` that numbers its rows — `ROW_NUMBER() OVER (…)
/// AS name` — as its index, its name and its window; `None` when none
/// does.
fn row_number(
    select: &Select,
) -> Result<Option<(usize, String, datafusion_sql::sqlparser::ast::WindowSpec)>, Refusal> {
    let is_row_number = |e: &Expr| {
        matches!(e, Expr::Function(f)
            if f.over.is_some() && f.name.to_string().eq_ignore_ascii_case("row_number"))
    };
    let mut found = None;
    for (i, item) in select.projection.iter().enumerate() {
        let (expr, alias) = match item {
            SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias)),
            SelectItem::UnnamedExpr(expr) => (expr, None),
            _ => continue,
        };
        if is_row_number(expr) {
            if found.is_some() {
                return unsupported("two ROW_NUMBER() in one SELECT", ": number the rows once");
            }
            let Some(alias) = alias else {
                return invalid(
                    "ROW_NUMBER() OVER (…) without a name: name it (… AS rn) and filter on it (WHERE rn <= 10)",
                );
            };
            let Expr::Function(f) = expr else {
                unreachable!("matched above")
            };
            let spec = match &f.over {
                Some(WindowType::WindowSpec(s)) if s.window_name.is_none() => s.clone(),
                _ => {
                    return unsupported(
                        "ROW_NUMBER() over a named window",
                        ": write its window in the call, ROW_NUMBER() OVER (PARTITION BY … ORDER BY …)",
                    );
                }
            };
            found = Some((i, alias.value.clone(), spec));
        } else {
            let mut nested = false;
            let _ = visit_expressions(expr, |e: &Expr| {
                nested |= is_row_number(e);
                ControlFlow::<()>::Continue(())
            });
            if nested {
                return unsupported(
                    format!("ROW_NUMBER() within an expression ({expr})"),
                    ": select it on its own, ROW_NUMBER() OVER (…) AS rn",
                );
            }
        }
    }
    if found.is_some() {
        let mut other = None;
        for item in &select.projection {
            if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item
                && !is_row_number(e)
                && super::over::calls_over_expr(e)
            {
                other = Some(e.to_string());
            }
        }
        if let Some(e) = other {
            return unsupported(
                format!("{e} beside ROW_NUMBER() in one SELECT"),
                ": aggregate over a window in a query of its own",
            );
        }
    }
    Ok(found)
}

mod places;
#[cfg(test)]
mod tests;
