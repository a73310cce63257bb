//! A query as stages, and queries over queries: an aggregation whose
//! `FROM` is a join, or another query's rows.
//!
//! ```sql
//! -- Nexmark q4: the average closing price per category, an aggregation
//! -- of an (updating) aggregation of a join
//! SELECT Q.category, AVG(Q.final)
//! FROM (
//!   SELECT MAX(B.price) AS final, A.category
//!   FROM auction A, bid B
//!   WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires
//!   GROUP BY A.id, A.category
//! ) Q
//! GROUP BY Q.category
//! ```
//!
//! Each query lowers to its own stages ([`super::window`], [`super::join`],
//! [`super::over`], [`super::rank`], or a query over one table); a query
//! over another's rows is the inner query's stages (named `inner_…`), a
//! stage that runs the inner query's last `SELECT` (`inner_rows`), then
//! the outer query's stages over those rows:
//! - an aggregation over a join (`FROM a, b WHERE …` or `FROM a JOIN b ON
//!   …` with `GROUP BY`): the join with the columns the aggregation reads
//!   (`__c0`, `__c1`, …), then the aggregation of its rows;
//! - an aggregation of a subquery that is no window aggregation (a window
//!   of windows is [`super::window`]'s): an aggregation without a window
//!   of its rows. When those rows are a changelog (an aggregation without
//!   a window, a Top-N), the aggregates retract, as Flink's do: a `-U` or
//!   `-D` takes back what its `+I` or `+U` added, and a group left with no
//!   rows is deleted. COUNT, SUM and AVG subtract, and MIN and MAX keep
//!   each group's values with their counts (the window's `sign`).

use super::ast::{Refusal, keep_column_names, list_text, parse_query, quote, unsupported};
use super::catalog::{Catalog, plan_query};
use super::graph::Graph;
use super::parse::TableDef;
use super::window::{self, Rows};
use arrow_schema::SchemaRef;
use datafusion_expr::LogicalPlan;
use datafusion_sql::sqlparser::ast::{
    Expr, GroupByExpr, Ident, Query, Select, SetExpr, TableFactor, visit_expressions_mut,
};
use std::collections::BTreeMap;
use std::ops::ControlFlow;

/// The tables a query reads, by name.
type Tables = BTreeMap<String, (TableDef, SchemaRef)>;

/// The name an aggregation over a join reads the join's rows by.
const JOINED: &str = "__joined";

/// `query` as stages.
pub(super) fn lower(
    query: &Query,
    tables: &Tables,
    wasm: &super::Functions,
) -> Result<Graph, Refusal> {
    if let Some(split) = super::distinct::rewrite(query, tables, wasm)? {
        return lower(&split, tables, wasm);
    }
    if let Some(w) = window::lower(query, tables, wasm)? {
        return Ok(Graph::window(w));
    }
    if let Some(g) = aggregation_of_rows(query, tables, wasm)? {
        return Ok(g);
    }
    if let Some(j) = super::join::lower(query, tables, wasm)? {
        return Ok(Graph::join(j));
    }
    if let Some(o) = super::over::lower(query, tables, wasm)? {
        return Ok(Graph::over(o));
    }
    if let Some(r) = super::rank::lower(query, tables, wasm)? {
        return Ok(Graph::rank(r));
    }
    let catalog =
        Catalog::new(tables.iter().map(|(n, (_, s))| (n.clone(), s.clone()))).with_functions(wasm);
    let plan = plan_query(&catalog, query.clone()).map_err(Refusal::Plan)?;
    let table = scanned_table(&plan).map_err(|what| Refusal::Unsupported(what, String::new()))?;
    Ok(Graph::select(
        table,
        query.clone(),
        plan.schema().inner().clone(),
    ))
}

/// An aggregation of a join's rows or of a subquery's, as the inner
/// query's stages and the aggregation's; `None` when `query` is no such
/// aggregation.
fn aggregation_of_rows(
    query: &Query,
    tables: &Tables,
    wasm: &super::Functions,
) -> Result<Option<Graph>, Refusal> {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return Ok(None);
    };
    if !window::aggregates(select, wasm)
        || super::over::calls_over(select)
        || window::wrapped(query)
    {
        return Ok(None);
    }
    let (inner, name, outer) = match select.from.as_slice() {
        [a, b] if a.joins.is_empty() && b.joins.is_empty() => over_join(select)?,
        [a] if a.joins.len() == 1 => over_join(select)?,
        [a] if a.joins.is_empty() => match &a.relation {
            TableFactor::Derived {
                subquery, alias, ..
            } => {
                let name = alias
                    .as_ref()
                    .map_or_else(|| "__rows".to_string(), |a| a.name.value.clone());
                let outer = with_from(select, &quote(&name));
                ((**subquery).clone(), name, outer)
            }
            _ => return Ok(None),
        },
        _ => return Ok(None),
    };
    let inner = lower(&inner, tables, wasm)?;
    let rows = Rows {
        name,
        schema: inner.schema.clone(),
        updating: inner.updating,
    };
    let Some(outer) = window::over_rows(&parse_query(&outer)?, &rows, wasm)? else {
        return Ok(None);
    };
    Ok(Some(Graph::stacked(inner, outer)))
}

/// An aggregation over a join, as a query of the join alone (its `FROM`
/// and `WHERE`, selecting each column the aggregation reads as `__c{n}`)
/// and the aggregation's query over its rows ([`JOINED`]).
fn over_join(select: &Select) -> Result<(Query, String, String), Refusal> {
    let mut columns: Vec<Expr> = Vec::new();
    let mut rename = |e: &mut Expr| {
        if matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) {
            let at = match columns.iter().position(|c| c == e) {
                Some(at) => at,
                None => {
                    columns.push(e.clone());
                    columns.len() - 1
                }
            };
            *e = Expr::Identifier(Ident::with_quote('`', format!("__c{at}")));
        }
        ControlFlow::<()>::Continue(())
    };
    let mut outer = select.clone();
    keep_column_names(&mut outer.projection);
    let _ = visit_expressions_mut(&mut outer.projection, &mut rename);
    let _ = visit_expressions_mut(&mut outer.group_by, &mut rename);
    let _ = visit_expressions_mut(&mut outer.having, &mut rename);
    if let GroupByExpr::All(_) = select.group_by {
        return unsupported("GROUP BY ALL", "");
    }
    let mut items: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} AS `__c{i}`"))
        .collect();
    if items.is_empty() {
        items.push("1 AS `__c0`".into());
    }
    let inner = format!(
        "SELECT {} FROM {}{}",
        items.join(", "),
        list_text(&select.from),
        select
            .selection
            .as_ref()
            .map_or_else(String::new, |w| format!(" WHERE {w}"))
    );
    outer.selection = None;
    let outer = with_from(&outer, &quote(JOINED));
    Ok((parse_query(&inner)?, JOINED.to_string(), outer))
}

/// The text of `select` reading `from` instead of its `FROM`.
fn with_from(select: &Select, from: &str) -> String {
    let groups = match &select.group_by {
        GroupByExpr::Expressions(g, _) if !g.is_empty() => format!(" GROUP BY {}", list_text(g)),
        _ => String::new(),
    };
    format!(
        "SELECT {} FROM {from}{}{groups}{}",
        list_text(&select.projection),
        select
            .selection
            .as_ref()
            .map_or_else(String::new, |w| format!(" WHERE {w}")),
        select
            .having
            .as_ref()
            .map_or_else(String::new, |h| format!(" HAVING {h}"))
    )
}

/// The one table `plan` reads, if it is a chain of projections and
/// filters over a scan; otherwise the construct that is not supported yet.
fn scanned_table(plan: &LogicalPlan) -> Result<String, String> {
    match plan {
        LogicalPlan::Projection(p) => scanned_table(&p.input),
        LogicalPlan::Filter(f) => scanned_table(&f.input),
        LogicalPlan::SubqueryAlias(a) => scanned_table(&a.input),
        LogicalPlan::TableScan(s) => Ok(s.table_name.table().to_string()),
        other => Err(construct(other)),
    }
}

/// What a plan node is, in the words of the SQL that makes it.
pub(super) fn construct(plan: &LogicalPlan) -> String {
    match plan {
        LogicalPlan::Aggregate(_) => {
            "an aggregation (GROUP BY, or COUNT/SUM/… over the whole input)".into()
        }
        LogicalPlan::Join(_) => "a join".into(),
        LogicalPlan::Sort(_) => "ORDER BY".into(),
        LogicalPlan::Limit(_) => "LIMIT/FETCH".into(),
        LogicalPlan::Union(_) => "UNION".into(),
        LogicalPlan::Window(_) => "an OVER window".into(),
        LogicalPlan::Distinct(_) => "DISTINCT".into(),
        LogicalPlan::Values(_) => "VALUES".into(),
        LogicalPlan::EmptyRelation(_) => "a SELECT without FROM".into(),
        other => format!("the plan node `{}`", other.display()),
    }
}

#[cfg(test)]
mod tests;
