//! The two sides of a join: the tables (or windows over them) it reads,
//! the columns a query's expressions name on each, and those expressions
//! over the joined rows.

use super::Tables;
use crate::job::WindowSpec;
use crate::sql::ast::{Refusal, invalid, list_text, parse_query, quote, split_and, unsupported};
use crate::sql::catalog::{Catalog, plan_query};
use crate::sql::tvf;
use arrow_schema::{DataType, SchemaRef};
use datafusion_sql::sqlparser::ast::{
    Expr, Ident, JoinConstraint, JoinOperator, SelectItem, SetExpr, TableFactor, visit_expressions,
    visit_expressions_mut,
};
use std::collections::BTreeSet;
use std::ops::ControlFlow;

/// One side of the join.
pub(super) struct Side {
    /// The table (for a window aggregation's results, the name the
    /// side's stage reads them by).
    pub table: String,
    /// The table its rows come from.
    pub source: String,
    /// A window aggregation whose results it is (`(SELECT …, COUNT(*)
    /// FROM TABLE(TUMBLE(…)) GROUP BY window_start, window_end, …)`).
    pub aggregated: Option<Box<crate::sql::window::Lowered>>,
    /// What the query calls it (its alias, else its name).
    pub name: String,
    /// Its columns.
    pub schema: SchemaRef,
    /// Its event-time column.
    pub time: Option<String>,
    /// The window it is read through, if any.
    pub window: Option<WindowSpec>,
    /// Conditions on this side alone (a window's subquery's `WHERE`, the
    /// query's conjuncts that read only this table's columns).
    pub filters: Vec<Expr>,
    /// Of a side an outer join keeps whole: its `ON` conditions on this
    /// side alone. A row that fails them is kept (padded with NULLs) but
    /// pairs with nothing.
    pub matches_if: Vec<Expr>,
}

impl Side {
    /// Does the side have column `c` (a window's columns included)?
    pub fn has(&self, c: &str) -> bool {
        self.schema.field_with_name(c).is_ok()
            || (self.window.is_some() && WINDOW_COLUMNS.contains(&c))
    }

    /// The side's columns, in Flink's order: the table's, then the
    /// window's.
    pub fn columns(&self) -> Vec<String> {
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

pub(super) const WINDOW_COLUMNS: [&str; 3] = ["window_start", "window_end", "window_time"];

/// The side a relation of the `FROM` clause is: a table, or a window
/// table function over one (directly, or as `(SELECT * FROM TABLE(…)
/// [WHERE …])`).
pub(super) fn side(
    relation: &TableFactor,
    tables: &Tables,
    wasm: &crate::sql::Functions,
) -> Result<Side, Refusal> {
    let table_side = |table: &str, alias: Option<String>, window: Option<WindowSpec>| {
        let Some((def, schema)) = tables.get(table) else {
            return invalid(format!("no table `{table}`: declare it with CREATE TABLE"));
        };
        // Without a WATERMARK a table has no event time: its joins are
        // regular joins (a window table function needs one, and says so).
        Ok(Side {
            table: table.to_string(),
            source: table.to_string(),
            aggregated: None,
            name: alias.unwrap_or_else(|| table.to_string()),
            schema: schema.clone(),
            time: def.watermark.as_ref().map(|w| w.column.clone()),
            window,
            filters: Vec::new(),
            matches_if: Vec::new(),
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
            if let Some(s) = aggregated(subquery, alias.clone(), tables, wasm)? {
                return Ok(s);
            }
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
                    ": join tables, SELECT * FROM TABLE(TUMBLE(…)) windows, or window aggregations",
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

/// The side a window aggregation subquery is: its results, with no event
/// time (its `window_end` is a column like any other, as in Flink after a
/// window aggregation that renames it); `None` when the subquery
/// aggregates no window.
fn aggregated(
    subquery: &datafusion_sql::sqlparser::ast::Query,
    alias: Option<String>,
    tables: &Tables,
    wasm: &crate::sql::Functions,
) -> Result<Option<Side>, Refusal> {
    // Only an aggregation: `SELECT * FROM TABLE(TUMBLE(…))` is a window.
    let SetExpr::Select(select) = subquery.body.as_ref() else {
        return Ok(None);
    };
    if matches!(&select.group_by, datafusion_sql::sqlparser::ast::GroupByExpr::Expressions(g, _) if g.is_empty())
    {
        return Ok(None);
    }
    let rewritten = crate::sql::group_window::rewrite(subquery);
    let query = rewritten.as_ref().unwrap_or(subquery);
    let Some(w) = crate::sql::window::lower(query, tables, wasm)? else {
        return Ok(None);
    };
    if w.updating {
        return unsupported(
            "a join of an aggregation without a window (an updating table)",
            ": weir joins tables, windows and window aggregations so far",
        );
    }
    let Some(alias) = alias else {
        return invalid("a subquery in a join needs a name: (SELECT …) AS name".to_string());
    };
    Ok(Some(Side {
        table: String::new(),
        source: w.table.clone(),
        name: alias,
        schema: w.schema.clone(),
        time: None,
        window: None,
        filters: Vec::new(),
        matches_if: Vec::new(),
        aggregated: Some(Box::new(w)),
    }))
}

/// Plan the query as written over its tables (a window's columns added),
/// so that DataFusion checks its columns and types in the user's terms.
pub(super) fn check(
    select: &datafusion_sql::sqlparser::ast::Select,
    sides: &[Side; 2],
    wasm: &crate::sql::Functions,
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
    if let [f] = select.from.as_slice()
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
    plan_query(
        &Catalog::new(catalog).with_functions(wasm),
        parse_query(&text)?,
    )
    .map_err(Refusal::Plan)?;
    Ok(())
}

/// What an expression reads.
#[derive(Default)]
pub(super) struct Refs {
    /// The sides whose columns it reads.
    pub sides: BTreeSet<usize>,
    /// Does it read a window's column?
    pub window: bool,
    /// The columns it reads: (side, column).
    pub columns: BTreeSet<(usize, String)>,
}

pub(super) fn side_only(r: &Refs) -> Option<usize> {
    match r.sides.iter().collect::<Vec<_>>().as_slice() {
        [one] => Some(**one),
        _ => None,
    }
}

/// The side and column a column reference `e` names.
pub(super) fn column_of(e: &Expr, sides: &[Side; 2]) -> Result<Option<(usize, String)>, Refusal> {
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
pub(super) fn references(e: &Expr, sides: &[Side; 2]) -> Result<Refs, Refusal> {
    let mut refs = Refs::default();
    let mut failed = None;
    let _ = visit_expressions(e, |x| {
        match column_of(x, sides) {
            Ok(Some((i, c))) => {
                refs.sides.insert(i);
                refs.window |= WINDOW_COLUMNS.contains(&c.as_str()) && sides[i].window.is_some();
                refs.columns.insert((i, c));
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
pub(super) fn window_column(e: &Expr, sides: &[Side; 2]) -> Option<&'static str> {
    let (i, c) = column_of(e, sides).ok()??;
    sides[i].window.as_ref()?;
    WINDOW_COLUMNS.iter().copied().find(|w| *w == c)
}

/// `e` over the joined rows' flat columns.
pub(super) fn flattened(e: &Expr, sides: &[Side; 2]) -> Result<Expr, Refusal> {
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

pub(super) fn flat_name(side: usize, column: &str) -> String {
    quote(&flat(side, column))
}
