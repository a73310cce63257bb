//! DISTINCT aggregates (`COUNT(DISTINCT x)`, and `SUM`, `AVG`, `MIN`,
//! `MAX` of DISTINCT values), split in two as Flink's planner splits
//! them: an aggregation grouped by the query's keys and `x` (each distinct
//! value once, with the other aggregates' partial results), then the
//! query's aggregation of those rows, grouped by its keys.
//!
//! ```sql
//! SELECT window_start, `user`, COUNT(DISTINCT merchant), SUM(amount)
//! FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(ts), INTERVAL '10' SECOND))
//! GROUP BY window_start, window_end, `user`
//! -- is run as
//! SELECT window_start, `user`, COUNT(`__d`), SUM(`__p0`)
//! FROM (SELECT window_start, window_end, `user`, merchant AS `__d`, SUM(amount) AS `__p0`
//!       FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(ts), INTERVAL '10' SECOND))
//!       GROUP BY window_start, window_end, `user`, merchant) AS `__distinct`
//! GROUP BY window_start, window_end, `user`
//! ```
//!
//! Over a window, the outer aggregation is a window of the inner one's
//! windows ([`super::window`]), and its result is appended, once per
//! window. Without a window the inner aggregation updates, and the outer
//! one takes its old rows back ([`super::compose`]): `COUNT`, `SUM`,
//! `AVG`, `MIN` and `MAX` beside the DISTINCT aggregate. `COUNT(DISTINCT x)` counts the values of `x`
//! that are not NULL, as in Flink: the group of a NULL `x` is not counted.
//! DISTINCT aggregates of different columns, and a `GROUP BY` of an
//! expression beside one, are refused by name.

use super::ast::{
    Refusal, column_name, keep_column_names, list_text, parse_query, quote, unsupported,
};
use super::catalog::{Catalog, is_aggregate, plan_query};
use super::parse::TableDef;
use arrow_schema::{DataType, SchemaRef};
use datafusion_sql::sqlparser::ast::{
    DuplicateTreatment, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, Ident,
    Query, Select, SelectItem, SetExpr, TableFactor, visit_expressions, visit_expressions_mut,
};
use std::collections::BTreeMap;
use std::ops::ControlFlow;

/// The tables a query reads, by name.
type Tables = BTreeMap<String, (TableDef, SchemaRef)>;

/// The name the outer aggregation reads the inner one's rows by.
const INNER: &str = "__distinct";
/// The inner aggregation's column of the distinct values.
const VALUES: &str = "__d";

/// `query` with its DISTINCT aggregates split in two; `None` when it
/// calls none.
pub(super) fn rewrite(
    query: &Query,
    tables: &Tables,
    wasm: &super::Functions,
) -> Result<Option<Query>, Refusal> {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return Ok(None);
    };
    // The DISTINCT aggregates' argument (one for all of them).
    let mut argument: Option<Expr> = None;
    let mut refused = None;
    let mut find = |e: &Expr| {
        if let Some((_, Some(arg), true)) = call(e) {
            match &argument {
                Some(a) if a != &arg => {
                    refused = Some(Refusal::Unsupported(
                        format!("DISTINCT aggregates of different values (`{a}`, `{arg}`)"),
                        ": weir splits the DISTINCT aggregates of one value per query so far"
                            .into(),
                    ));
                    return ControlFlow::Break(());
                }
                _ => argument = Some(arg),
            }
        }
        ControlFlow::Continue(())
    };
    let _ = visit_expressions(&select.projection, &mut find);
    let _ = visit_expressions(&select.having, &mut find);
    if let Some(r) = refused {
        return Err(r);
    }
    let Some(argument) = argument else {
        return Ok(None);
    };
    // Over a window (a window table function; a group window is one by
    // now) but a session, or without one.
    if let [from] = select.from.as_slice()
        && let TableFactor::TableFunction {
            expr: Expr::Function(f),
            ..
        } = &from.relation
        && f.name.to_string().eq_ignore_ascii_case("SESSION")
    {
        return unsupported(
            format!("a DISTINCT aggregate of `{argument}` over a SESSION window"),
            ": weir splits DISTINCT aggregates over TUMBLE, HOP and CUMULATE windows",
        );
    }
    let GroupByExpr::Expressions(groups, modifiers) = &select.group_by else {
        return unsupported("GROUP BY ALL", "");
    };
    if !modifiers.is_empty() {
        return unsupported("GROUP BY … WITH ROLLUP/CUBE", "");
    }
    // The keys, by the names the inner aggregation gives them.
    let mut keys: Vec<(Expr, String)> = Vec::new();
    for g in groups {
        let Some(name) = column_name(g) else {
            return unsupported(
                format!("GROUP BY {g} beside a DISTINCT aggregate"),
                ": group by columns (compute the expression in a subquery first)",
            );
        };
        keys.push((g.clone(), name.to_string()));
    }

    // The outer aggregation: each aggregate of the inner rows, each key by
    // its name there.
    let mut partials: Vec<String> = Vec::new();
    let mut outer_items = select.projection.clone();
    keep_column_names(&mut outer_items);
    let mut outer_having = select.having.clone();
    let mut refused = None;
    let mut split = |e: &mut Expr| {
        if let Some((_, n)) = keys.iter().find(|(k, _)| k == e) {
            *e = ident(n);
            return ControlFlow::Continue(());
        }
        let Some((func, arg, distinct)) = call(e) else {
            return ControlFlow::Continue(());
        };
        let outer = if distinct {
            format!("{func}({})", quote(VALUES))
        } else {
            let p = quote(&format!("__p{}", partials.len()));
            let arg = arg.map_or_else(|| "*".to_string(), |a| a.to_string());
            let arg = arg.as_str();
            match func.as_str() {
                "COUNT" => {
                    partials.push(format!("COUNT({arg}) AS {p}"));
                    format!("SUM({p})")
                }
                "SUM" => {
                    partials.push(format!("SUM({arg}) AS {p}"));
                    format!("SUM({p})")
                }
                // Without a window the partial results update: the outer
                // MIN or MAX takes an old one back.
                "MIN" | "MAX" => {
                    partials.push(format!("{func}({arg}) AS {p}"));
                    format!("{func}({p})")
                }
                "AVG" => {
                    // Flink's AVG has its argument's type (a DECIMAL's
                    // scale at least 6): the division is cast to it.
                    let ty = typed(select, arg, tables, wasm).and_then(|t| match t {
                        DataType::Decimal128(_, s) => Some(format!("DECIMAL(38, {})", s.max(6))),
                        other => super::window::sql_type(&other).map(str::to_string),
                    });
                    let Some(ty) = ty else {
                        refused = Some(Refusal::Unsupported(
                            format!("{e} beside a DISTINCT aggregate"),
                            ": weir averages numbers beside one (INT, BIGINT, FLOAT, DOUBLE, DECIMAL)"
                                .into(),
                        ));
                        return ControlFlow::Break(());
                    };
                    let q = quote(&format!("__q{}", partials.len()));
                    partials.push(format!("SUM({arg}) AS {p}, COUNT({arg}) AS {q}"));
                    format!("CAST(SUM({p}) / NULLIF(SUM({q}), 0) AS {ty})")
                }
                // The aggregation after says what it does not compute.
                _ => return ControlFlow::Continue(()),
            }
        };
        match parse_query(&format!("SELECT {outer}")) {
            Ok(q) => {
                if let SetExpr::Select(s) = q.body.as_ref()
                    && let [SelectItem::UnnamedExpr(x)] = s.projection.as_slice()
                {
                    *e = x.clone();
                }
                ControlFlow::Continue(())
            }
            Err(r) => {
                refused = Some(r);
                ControlFlow::Break(())
            }
        }
    };
    let _ = visit_expressions_mut(&mut outer_items, &mut split);
    let _ = visit_expressions_mut(&mut outer_having, &mut split);
    if let Some(r) = refused {
        return Err(r);
    }

    // The inner aggregation: the keys, the distinct values, the partial
    // results, grouped by the keys and the values.
    let mut inner_items: Vec<String> = keys
        .iter()
        .map(|(k, n)| format!("{k} AS {}", quote(n)))
        .collect();
    inner_items.push(format!("{argument} AS {}", quote(VALUES)));
    inner_items.extend(partials);
    let mut inner_groups: Vec<String> = keys.iter().map(|(k, _)| k.to_string()).collect();
    inner_groups.push(argument.to_string());
    let inner = format!(
        "SELECT {} FROM {}{} GROUP BY {}",
        inner_items.join(", "),
        list_text(&select.from),
        select
            .selection
            .as_ref()
            .map_or_else(String::new, |w| format!(" WHERE {w}")),
        inner_groups.join(", ")
    );
    let outer_groups: Vec<String> = keys.iter().map(|(_, n)| quote(n)).collect();
    let outer = format!(
        "SELECT {} FROM ({inner}) AS {}{}{}",
        list_text(&outer_items),
        quote(INNER),
        if outer_groups.is_empty() {
            String::new()
        } else {
            format!(" GROUP BY {}", outer_groups.join(", "))
        },
        outer_having
            .map(|h| format!(" HAVING {h}"))
            .unwrap_or_default()
    );
    parse_query(&outer).map(Some)
}

/// The type of `arg` over the rows `select` reads (a window table
/// function's: its table's), if DataFusion can type it.
fn typed(select: &Select, arg: &str, tables: &Tables, wasm: &super::Functions) -> Option<DataType> {
    let from = match select.from.as_slice() {
        [f] if f.joins.is_empty() => match &f.relation {
            TableFactor::TableFunction {
                expr: Expr::Function(call),
                alias,
            } => {
                let t = super::tvf::parse(call, tables).ok()?;
                match alias {
                    Some(a) => format!("{} AS {}", quote(&t.table), a.name),
                    None => quote(&t.table),
                }
            }
            _ => list_text(&select.from),
        },
        _ => list_text(&select.from),
    };
    let catalog =
        Catalog::new(tables.iter().map(|(n, (_, s))| (n.clone(), s.clone()))).with_functions(wasm);
    let query = parse_query(&format!("SELECT {arg} FROM {from}")).ok()?;
    let plan = plan_query(&catalog, query).ok()?;
    Some(plan.schema().field(0).data_type().clone())
}

/// An aggregate call (not over a window of rows): its function's name in
/// capitals, its argument (`None`: `COUNT(*)`), and whether it is
/// DISTINCT.
fn call(e: &Expr) -> Option<(String, Option<Expr>, bool)> {
    let Expr::Function(f) = e else { return None };
    let name = f.name.to_string().to_ascii_lowercase();
    if f.over.is_some() || !is_aggregate(&name) {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    let distinct = matches!(list.duplicate_treatment, Some(DuplicateTreatment::Distinct));
    let arg = match list.args.as_slice() {
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(a))] => Some(a.clone()),
        _ => None,
    };
    Some((name.to_ascii_uppercase(), arg, distinct))
}

fn ident(name: &str) -> Expr {
    Expr::Identifier(Ident::with_quote('`', name))
}

#[cfg(test)]
mod tests;
