//! OVER aggregations: a query whose aggregates run over a window of rows,
//!
//! ```sql
//! SELECT ts, `user`, amount,
//!        SUM(amount) OVER w AS last3, COUNT(*) OVER w AS n
//! FROM tx
//! WHERE amount > 0
//! WINDOW w AS (PARTITION BY `user` ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)
//! ```
//!
//! becomes three stages of the job graph, like a window aggregation
//! ([`super::window`]), so that the rows waiting for the watermark, the
//! frames, checkpoints and lateness are weir's own ([`crate::over`]) and
//! DataFusion evaluates every expression:
//! 1. `filter`, a query over the table: the `WHERE`, every column of the
//!    table, the partition key as text (`__key`), and each aggregate's
//!    input as a DOUBLE with NULLs made neutral, beside a 1/0 column that
//!    counts the inputs that are not NULL;
//! 2. `over`, weir's OVER stage keyed by `__key`, with built-in aggregates
//!    over those columns;
//! 3. `select`, a query over its rows: each aggregate in Flink's result
//!    type (SUM of an INT is an INT, AVG of a BIGINT a BIGINT), then the
//!    query's own `SELECT` list.
//!
//! As in Flink, every OVER aggregate of a query has one window; it is
//! ordered by the table's event-time column (the one its `WATERMARK`
//! names), ascending, and its frame ends at the current row: `ROWS` or
//! `RANGE BETWEEN … PRECEDING AND CURRENT ROW` (no frame: `RANGE
//! UNBOUNDED PRECEDING`). Anything else is refused by name.

use super::ast::{Refusal, column_name, invalid, list_text, parse_query, quote, unsupported};
use super::catalog::{Catalog, plan_query};
use super::parse::TableDef;
use super::script::interval_ms;
use super::window::{self, aggregates};
use crate::job::{OverSpec, Preceding};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use datafusion_sql::sqlparser::ast::{
    Expr, GroupByExpr, NamedWindowExpr, Query, Select, SelectItem, SetExpr, TableFactor, Value,
    WindowFrameBound, WindowFrameUnits, WindowSpec, WindowType, visit_expressions,
};
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::Arc;

/// The name the `select` stage reads the OVER stage's rows by.
pub(super) const ROWS: &str = "__over";

/// An OVER aggregation, as its three stages.
#[derive(Debug)]
pub(super) struct Lowered {
    /// The table the query reads.
    pub table: String,
    /// The `filter` stage's query, over `table`.
    pub pre: String,
    /// The `over` stage, keyed by [`window::KEY`].
    pub over: OverSpec,
    /// The `select` stage's query, over [`ROWS`].
    pub post: Query,
    /// The columns `post` makes.
    pub schema: SchemaRef,
}

/// `query`'s aggregates over a window of rows, lowered to stages; `None`
/// when it has none.
pub(super) fn lower(
    query: &Query,
    tables: &BTreeMap<String, (TableDef, SchemaRef)>,
    wasm: &super::Functions,
) -> Result<Option<Lowered>, Refusal> {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return Ok(None);
    };
    if !calls_over(select) {
        return Ok(None);
    }
    let what = "an OVER aggregation";
    let [from] = select.from.as_slice() else {
        return unsupported(format!("{what} of several tables"), ": OVER one table");
    };
    let TableFactor::Table {
        name,
        alias,
        args: None,
        ..
    } = &from.relation
    else {
        return unsupported(
            format!("{what} of a subquery or a table function"),
            ": OVER a table",
        );
    };
    if !from.joins.is_empty() {
        return unsupported(format!("{what} of a join"), ": OVER one table");
    }
    let table = name.to_string().trim_matches('`').to_string();
    let Some((def, schema)) = tables.get(&table) else {
        // The planner says what is wrong.
        return Ok(None);
    };
    if window::wrapped(query) {
        return unsupported(
            format!("WITH, ORDER BY or LIMIT around {what}"),
            ": its rows go out in event time, each once",
        );
    }
    if select.distinct.is_some() {
        return unsupported(format!("SELECT DISTINCT in {what}"), "");
    }
    let grouped = !matches!(&select.group_by, GroupByExpr::Expressions(g, _) if g.is_empty());
    if grouped || select.having.is_some() {
        return unsupported(
            format!("GROUP BY or HAVING in {what}"),
            ": aggregate a query either with GROUP BY or with OVER, not both",
        );
    }
    let (alias, from_table, filter) = window::scan(&table, alias.as_ref(), select);

    // DataFusion checks the columns and types of what the stages compute:
    // the aggregates' arguments and the keys ([`window::typed`]), the
    // WHERE (`filter`), the SELECT list (`select`).
    let catalog = Catalog::new([(table.clone(), schema.clone())]).with_functions(wasm);

    // The aggregates, each replaced by a column of the OVER stage's rows,
    // and their one window.
    let mut items = select.projection.clone();
    let (mut aggs, windows) = aggregates::replace_over(&mut items)?;
    let mut specs = Vec::new();
    for w in &windows {
        let spec = resolve(w, select)?;
        if specs
            .iter()
            .all(|s: &WindowSpec| s.to_string() != spec.to_string())
        {
            specs.push(spec);
        }
    }
    let [spec] = specs.as_slice() else {
        return unsupported(
            format!("{what} over {} different windows", specs.len()),
            ": as in Flink, all OVER aggregates of one SELECT share one window",
        );
    };
    let keys = spec
        .partition_by
        .iter()
        .map(|e| match column_name(e) {
            Some(c) if schema.field_with_name(c).is_ok() => Ok(c.to_string()),
            _ => unsupported(
                format!("PARTITION BY {e}"),
                ": partition by columns of the table (compute an expression in a subquery first)",
            ),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let processing = order_by(spec, def, &table)?;
    let (frame, preceding) = frame(spec)?;

    let key_types = window::typed(&catalog, &from_table, &mut aggs, &keys)?;
    let (key, _, _) = window::group_key(&keys, &key_types);
    let mut pre = vec!["*".to_string(), format!("{key} AS `{}`", window::KEY)];
    let mut post: Vec<String> = schema.fields().iter().map(|f| quote(f.name())).collect();
    let aggregates = window::native(&aggs, false, &mut pre, &mut post)?;
    let pre = format!("SELECT {} FROM {from_table}{filter}", pre.join(", "));

    // What the OVER stage's rows hold: the `filter` stage's columns, and
    // its aggregates'.
    let filtered = plan_query(&catalog, parse_query(&pre)?).map_err(Refusal::Plan)?;
    let mut fields: Vec<Arc<Field>> = filtered.schema().fields().iter().cloned().collect();
    for a in &aggregates {
        let output = a.output.as_deref().unwrap_or_default();
        fields.push(Arc::new(if a.function == "count" {
            Field::new(output, DataType::Int64, false)
        } else {
            Field::new(output, DataType::Float64, true)
        }));
    }
    let post = format!(
        "SELECT {} FROM (SELECT {} FROM `{ROWS}`) AS {alias}",
        list_text(&items),
        post.join(", "),
    );
    let post = parse_query(&post)?;
    let rows =
        Catalog::new([(ROWS.to_string(), Arc::new(Schema::new(fields)))]).with_functions(wasm);
    let plan = plan_query(&rows, post.clone()).map_err(Refusal::Plan)?;
    Ok(Some(Lowered {
        table,
        pre,
        over: OverSpec {
            frame: frame.into(),
            preceding,
            aggregates,
            time: if processing { "processing" } else { "event" }.into(),
        },
        post,
        schema: plan.schema().inner().clone(),
    }))
}

/// Whether `select` calls a function over a window of rows.
pub(super) fn calls_over(select: &Select) -> bool {
    select.projection.iter().any(|item| match item {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
            calls_over_expr(e)
        }
        _ => false,
    })
}

/// Whether `e` calls a function over a window of rows.
pub(super) fn calls_over_expr(e: &Expr) -> bool {
    let mut over = false;
    let _ = visit_expressions(e, |e: &Expr| {
        if matches!(e, Expr::Function(f) if f.over.is_some()) {
            over = true;
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    });
    over
}

/// The window a call names: its own, or one of `WINDOW …`.
fn resolve(w: &WindowType, select: &Select) -> Result<WindowSpec, Refusal> {
    let mut seen = 0;
    let mut w = w.clone();
    loop {
        let name = match &w {
            WindowType::WindowSpec(s) => match &s.window_name {
                None => return Ok(s.clone()),
                Some(_) => {
                    return unsupported(
                        format!("the window ({s}), which refines a named window"),
                        ": write the whole window in WINDOW w AS (…)",
                    );
                }
            },
            WindowType::NamedWindow(name) => name.clone(),
        };
        seen += 1;
        let Some(def) = select
            .named_window
            .iter()
            .find(|d| d.0.value == name.value)
            .filter(|_| seen <= select.named_window.len())
        else {
            return invalid(format!(
                "no window `{name}`: define it with WINDOW {name} AS (…)"
            ));
        };
        w = match &def.1 {
            NamedWindowExpr::WindowSpec(s) => WindowType::WindowSpec(s.clone()),
            NamedWindowExpr::NamedWindow(n) => WindowType::NamedWindow(n.clone()),
        };
    }
}

/// The window is ordered by the table's event-time column, ascending, or
/// by a processing time (`pt AS PROCTIME()`: rows in the order they come);
/// whether by processing time.
fn order_by(spec: &WindowSpec, def: &TableDef, table: &str) -> Result<bool, Refusal> {
    let time = def.watermark.as_ref().map(|w| w.column.as_str());
    match spec.order_by.as_slice() {
        [o] if column_name(&o.expr).is_some() && column_name(&o.expr) == time => {
            if o.options.asc == Some(false) {
                return unsupported(
                    format!("ORDER BY {} DESC in an OVER window", o.expr),
                    ": Flink's OVER windows are ordered by time ascending",
                );
            }
            Ok(false)
        }
        [o] if column_name(&o.expr).is_some_and(|c| def.is_proctime(c)) => {
            if o.options.asc == Some(false) {
                return unsupported(
                    format!("ORDER BY {} DESC in an OVER window", o.expr),
                    ": Flink's OVER windows are ordered by time ascending",
                );
            }
            Ok(true)
        }
        [o] => invalid(format!(
            "OVER (… ORDER BY {}): `{}` is not the event-time column of `{table}`; order by the column its WATERMARK names{}",
            o.expr,
            o.expr,
            time.map_or_else(
                || " (declare one: WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)".to_string(),
                |t| format!(" (`{t}`)")
            )
        )),
        [] => invalid("an OVER window needs ORDER BY the table's event-time column"),
        _ => unsupported(
            "an OVER window ordered by several columns",
            ": order it by the table's event-time column alone",
        ),
    }
}

/// The frame: `rows` or `range`, and how far back it reaches.
fn frame(spec: &WindowSpec) -> Result<(&'static str, Option<Preceding>), Refusal> {
    let Some(f) = &spec.window_frame else {
        // With ORDER BY and no frame: RANGE UNBOUNDED PRECEDING.
        return Ok(("range", None));
    };
    let units = match f.units {
        WindowFrameUnits::Rows => "rows",
        WindowFrameUnits::Range => "range",
        WindowFrameUnits::Groups => {
            return unsupported("a GROUPS frame", ": use ROWS or RANGE");
        }
    };
    if !matches!(f.end_bound, None | Some(WindowFrameBound::CurrentRow)) {
        return unsupported(
            format!(
                "a frame ending at {}",
                f.end_bound.as_ref().expect("checked")
            ),
            ": as in Flink, an OVER frame ends at CURRENT ROW",
        );
    }
    let preceding = match (&f.start_bound, units) {
        (WindowFrameBound::Preceding(None), _) => None,
        (WindowFrameBound::CurrentRow, "rows") => Some(Preceding::Rows(0)),
        (WindowFrameBound::CurrentRow, _) => Some(Preceding::Time("0ms".into())),
        (WindowFrameBound::Preceding(Some(n)), "rows") => match n.as_ref() {
            Expr::Value(v) => match &v.value {
                Value::Number(n, _) => match n.parse::<u64>() {
                    Ok(n) => Some(Preceding::Rows(n)),
                    Err(_) => {
                        return invalid(format!("ROWS {n} PRECEDING: a whole number of rows"));
                    }
                },
                _ => return invalid(format!("ROWS {v} PRECEDING: a whole number of rows")),
            },
            other => return invalid(format!("ROWS {other} PRECEDING: a whole number of rows")),
        },
        (WindowFrameBound::Preceding(Some(e)), _) => match interval_ms(e) {
            Some(ms) if ms >= 0 => Some(Preceding::Time(format!("{ms}ms"))),
            _ => {
                return invalid(format!(
                    "RANGE BETWEEN {e} PRECEDING: an INTERVAL 'n' SECOND (or MILLISECOND, MINUTE, HOUR, DAY)"
                ));
            }
        },
        (WindowFrameBound::Following(_), _) => {
            return unsupported(
                format!("a frame starting at {}", f.start_bound),
                ": as in Flink, an OVER frame starts before the current row",
            );
        }
    };
    Ok((units, preceding))
}

#[cfg(test)]
mod tests;
