//! Window aggregations: a query over one of Flink's window table functions,
//!
//! ```sql
//! SELECT window_start, window_end, `user`, COUNT(*) AS n, SUM(amount) AS total
//! FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(ts), INTERVAL '10' SECOND))
//! WHERE amount > 0
//! GROUP BY window_start, window_end, `user`
//! HAVING COUNT(*) > 1
//! ```
//!
//! becomes three stages of the job graph, so that windows, their state,
//! checkpoints and watermarks are weir's own and DataFusion evaluates
//! every expression:
//! 1. `filter`, a query over the table: the `WHERE`, the group key as text
//!    (`__key`; a NULL key is a key too, as in Flink), and each
//!    aggregate's input as a DOUBLE with NULLs made neutral, beside a 1/0
//!    column that counts the inputs that are not NULL;
//! 2. `window`, weir's window stage keyed by `__key`, with built-in
//!    aggregates (`count`, `sum`, `min`, `max`) over those columns;
//! 3. `select`, a query over the window's results: the key back in its
//!    type, `window_start`, `window_end` and `window_time` as
//!    TIMESTAMP(3), each aggregate in Flink's result type (the argument's:
//!    SUM of an INT is an INT, AVG of a BIGINT a BIGINT) and NULL where the
//!    window saw no input that was not NULL, then the query's own `SELECT`
//!    list and `HAVING` over them.
//!
//! `TUMBLE`, `HOP`, `CUMULATE` and `SESSION` (with `PARTITION BY` its
//! group key) map to weir's tumbling, sliding, cumulating and session
//! windows; a key column that is not a STRING, an integer or a BOOLEAN is
//! refused by name (a `DISTINCT` aggregate was split in two before,
//! [`super::distinct`]).
//!
//! An aggregation of a table without a window (`SELECT k, COUNT(*) FROM t
//! GROUP BY k`, or no `GROUP BY` at all) is the same three stages over a
//! global window ([`crate::window::global`]): its result updates, and the
//! `select` stage passes each row's change (`_op`) through, last.

pub(super) use super::ast::Refusal;
use super::ast::{column_name, list_text, parse_query, quote, unsupported};
use super::catalog::is_aggregate;
use super::catalog::{Catalog, plan_query};
use super::parse::TableDef;
use super::tvf::{self, Tvf};
use crate::job::WindowSpec;
use crate::window::global::OP;
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion_sql::sqlparser::ast::{
    Expr, GroupByExpr, Ident, Query, Select, SelectItem, SetExpr, TableAlias, TableFactor,
    visit_expressions,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The key column the `filter` stage writes and the `window` stage keys by.
pub(super) const KEY: &str = "__key";
/// The name the `select` stage reads the window's results by.
pub(super) const RESULTS: &str = "__window";

/// A window aggregation, as its three stages.
#[derive(Debug)]
pub(super) struct Lowered {
    /// The table the query reads.
    pub table: String,
    /// The `filter` stage's query, over `table`.
    pub pre: String,
    /// The `window` stage's window, keyed by [`KEY`].
    pub window: WindowSpec,
    /// The `select` stage's query, over [`RESULTS`].
    pub post: Query,
    /// The columns `post` makes (an updating one: then [`OP`]).
    pub schema: SchemaRef,
    /// A `GROUP BY` without a window: `window` is global, and its rows
    /// carry their change in [`OP`].
    pub updating: bool,
    /// The columns of the window stage's results, which `post` reads.
    pub results: SchemaRef,
    /// An aggregation of another window aggregation's results: that one,
    /// whose stages come first (`table` is still the table it reads).
    pub cascade: Option<Cascade>,
}

/// The window `query` aggregates over, lowered to stages; `None` when it
/// reads no window table function.
pub(super) fn lower(
    query: &Query,
    tables: &BTreeMap<String, (TableDef, SchemaRef)>,
    wasm: &super::Functions,
) -> Result<Option<Lowered>, Refusal> {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return Ok(None);
    };
    let [from] = select.from.as_slice() else {
        return Ok(None);
    };
    if !from.joins.is_empty() || super::over::calls_over(select) {
        // A window join ([`super::join`]), or an OVER aggregation
        // ([`super::over`]).
        return Ok(None);
    }
    // A window table function, or (an aggregation without a window) a
    // table: its global window.
    let (tvf, alias, bounds) = match &from.relation {
        TableFactor::TableFunction {
            expr: Expr::Function(f),
            alias,
        } => (tvf::parse(f, tables)?, alias, None),
        TableFactor::Table {
            name, alias, args, ..
        } if args.is_none() && aggregates(select, wasm) => {
            let table = name.to_string().trim_matches('`').to_string();
            if !tables.contains_key(&table) {
                // The planner says what is wrong.
                return Ok(None);
            }
            let window = global();
            let tvf = Tvf {
                kind: "GROUP BY".into(),
                table,
                partition: Vec::new(),
                window,
            };
            (tvf, alias, None)
        }
        // Another window aggregation's results (a window of windows).
        TableFactor::Derived {
            subquery, alias, ..
        } if aggregates(select, wasm) => {
            match cascade::cascaded(subquery, alias, select, tables, wasm)? {
                Some((tvf, bounds)) => (tvf, alias, Some(bounds)),
                None => return Ok(None),
            }
        }
        _ => return Ok(None),
    };
    let input = match bounds {
        Some(b) => Input {
            schema: b.inner.schema.clone(),
            bounds: Some(b),
            signed: false,
        },
        None => Input {
            schema: tables[&tvf.table].1.clone(),
            bounds: None,
            signed: false,
        },
    };
    aggregate(query, select, tvf, alias, input, wasm).map(Some)
}

/// Rows another query makes (a join's, or an aggregation's), as the
/// input of an aggregation.
pub(super) struct Rows {
    /// The name the aggregation reads them by.
    pub name: String,
    /// Their columns (an updating query's with [`OP`] last).
    pub schema: SchemaRef,
    /// They are a changelog: each carries its change in [`OP`].
    pub updating: bool,
}

/// The aggregation without a window `query` makes of `rows` (`FROM
/// name`); `None` when it aggregates nothing. Of a changelog, its
/// aggregates retract: a row's `-U` or `-D` takes back what its `+I` or
/// `+U` added, and a group whose rows are all taken back is deleted.
pub(super) fn over_rows(
    query: &Query,
    rows: &Rows,
    wasm: &super::Functions,
) -> Result<Option<Lowered>, Refusal> {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return Ok(None);
    };
    let [from] = select.from.as_slice() else {
        return Ok(None);
    };
    let TableFactor::Table { alias, .. } = &from.relation else {
        return Ok(None);
    };
    if !from.joins.is_empty() || super::over::calls_over(select) || !aggregates(select, wasm) {
        return Ok(None);
    }
    let tvf = Tvf {
        kind: "GROUP BY".into(),
        table: rows.name.clone(),
        partition: Vec::new(),
        window: global(),
    };
    let input = Input {
        schema: rows.schema.clone(),
        bounds: None,
        signed: rows.updating,
    };
    aggregate(query, select, tvf, alias, input, wasm).map(Some)
}

/// What an aggregation reads.
struct Input {
    /// The columns of its rows.
    schema: SchemaRef,
    /// Another window aggregation's results, by their windows.
    bounds: Option<cascade::Bounds>,
    /// Its rows are a changelog: its aggregates retract.
    signed: bool,
}

/// The aggregation `query` (`select`) makes of `input`, read through
/// `tvf`'s window as `alias`, as its stages.
fn aggregate(
    query: &Query,
    select: &Select,
    tvf: Tvf,
    alias: &Option<TableAlias>,
    input: Input,
    wasm: &super::Functions,
) -> Result<Lowered, Refusal> {
    let Input {
        schema,
        bounds,
        signed,
    } = input;
    let updating = tvf.window.kind == "global";
    let Tvf {
        kind,
        table,
        partition,
        mut window,
    } = tvf;
    let over = if updating {
        "a GROUP BY"
    } else {
        "a window aggregation"
    };
    if wrapped(query) {
        return unsupported(
            format!("WITH, ORDER BY or LIMIT around {over}"),
            if updating {
                ": for the first N rows per group, write a Top-N (ROW_NUMBER() OVER …), which weir does not run yet"
            } else {
                ": a streaming window aggregation emits each window once, as its watermark passes"
            },
        );
    }
    if select.distinct.is_some() {
        return unsupported(format!("SELECT DISTINCT in {over}"), "");
    }
    // The columns that are the window's bounds: its own, or (a window of
    // windows) the inner aggregation's, as it names them.
    let by_bounds = bounds.as_ref().and_then(|b| b.grouped.as_ref());
    let (start, end) = by_bounds.map_or(("window_start", "window_end"), |g| {
        (g.start.as_str(), g.end.as_str())
    });
    let windows = !updating && bounds.is_none();
    // GROUP BY window_start, window_end[, key].
    let GroupByExpr::Expressions(groups, modifiers) = &select.group_by else {
        return unsupported("GROUP BY ALL", "");
    };
    if !modifiers.is_empty() {
        return unsupported("GROUP BY … WITH ROLLUP/CUBE", "");
    }
    let (mut starts, mut ends, mut keys) = (false, false, Vec::new());
    for g in groups {
        match column_name(g) {
            Some(c) if !updating && c == start => starts = true,
            Some(c) if !updating && c == end => ends = true,
            Some("window_time") if windows => {}
            Some(c) if schema.field_with_name(c).is_ok() => keys.push(c.to_string()),
            _ if updating => {
                return unsupported(
                    format!("GROUP BY {g}"),
                    ": group by columns of the table (compute an expression in a subquery first)",
                );
            }
            _ => {
                return unsupported(
                    format!("GROUP BY {g} in a window aggregation"),
                    ": group by window_start, window_end and columns of the table",
                );
            }
        }
    }
    if !(updating || (starts && ends)) {
        return unsupported(
            format!("a {kind} aggregation not grouped by both window_start and window_end"),
            ": group by both, or aggregate the table itself (FROM t GROUP BY …) for an updating result",
        );
    }
    if kind == "SESSION" {
        let mut partition: Vec<&str> = partition.iter().filter_map(column_name).collect();
        let mut grouped: Vec<&str> = keys.iter().map(String::as_str).collect();
        partition.sort_unstable();
        grouped.sort_unstable();
        if partition != grouped {
            return unsupported(
                "a SESSION window whose PARTITION BY is not its GROUP BY key",
                ": write SESSION(TABLE t PARTITION BY k, …) … GROUP BY window_start, window_end, k",
            );
        }
    }
    let (alias, from_table, filter) = scan(&table, alias.as_ref(), select);
    let projection = list_text(&select.projection);
    let having = select.having.clone();

    // The query as written, planned over the table with the window's
    // columns: DataFusion checks what it groups and aggregates.
    let mut windowed: Vec<Arc<Field>> = schema.fields().iter().cloned().collect();
    if windows {
        for c in ["window_start", "window_end", "window_time"] {
            windowed.push(Arc::new(Field::new(c, timestamp(), false)));
        }
    }
    let catalog =
        Catalog::new([(table.clone(), Arc::new(Schema::new(windowed)))]).with_functions(wasm);
    // `window_time` is the window's too (its end, less 1 ms): Flink
    // selects it without grouping by it.
    let mut grouped = list_text(groups);
    if windows && !groups.iter().any(|g| column_name(g) == Some("window_time")) {
        grouped.push_str(", window_time");
    }
    let group_by = if grouped.is_empty() {
        String::new()
    } else {
        format!(" GROUP BY {grouped}")
    };
    let check = format!(
        "SELECT {projection} FROM {from_table}{filter}{group_by}{}",
        having
            .as_ref()
            .map_or_else(String::new, |h| format!(" HAVING {h}"))
    );
    plan_query(&catalog, parse_query(&check)?).map_err(Refusal::Plan)?;

    // The aggregates, each replaced by a column of the window's results.
    let mut items = select.projection.clone();
    let mut having = having;
    let mut aggs = aggregates::replace(&mut items, &mut having, wasm)?;

    let key_types = typed(&catalog, &from_table, &mut aggs, &keys)?;

    // 1. filter: the key, and each aggregate's input; 3. select: the
    // key's columns back (from `source`).
    let (key, keyed, source) = group_key(&keys, &key_types);
    let mut pre = vec![format!("{key} AS `{KEY}`")];
    let mut post = keyed;
    if updating {
        post.push(format!("`{OP}`"));
    } else if let Some(g) = by_bounds {
        post.push(format!(
            "to_timestamp_millis({}) AS {}",
            g.start_of_end,
            quote(start)
        ));
        post.push(format!(
            "to_timestamp_millis(`window_end`) AS {}",
            quote(end)
        ));
    } else {
        post.push("to_timestamp_millis(`window_start`) AS `window_start`".into());
        post.push("to_timestamp_millis(`window_end`) AS `window_end`".into());
        post.push("to_timestamp_millis(`window_end` - 1) AS `window_time`".into());
    }
    let mut results = vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("window_start", DataType::Int64, false),
        Field::new("window_end", DataType::Int64, false),
    ];
    // A Wasm aggregate function runs beside the built-ins, its result
    // after theirs.
    let guest = wasm::lower(&aggs, signed, &mut pre, &mut post)?;
    window.aggregates = native(&aggs, signed, &mut pre, &mut post)?;
    window.sign = signed.then(|| native::SIGN.to_string());
    for a in &window.aggregates {
        let ty = if a.function == "count" {
            DataType::Int64
        } else {
            DataType::Float64
        };
        results.push(Field::new(
            a.output.as_deref().unwrap_or_default(),
            ty,
            false,
        ));
    }
    if let Some((function, output)) = guest {
        window.aggregate = Some(function);
        window.skip_nulls = true;
        results.push(output);
    }
    if updating {
        results.push(Field::new(OP, DataType::Utf8, false));
        items.push(SelectItem::UnnamedExpr(Expr::Identifier(
            Ident::with_quote('`', OP),
        )));
    }
    let pre = format!("SELECT {} FROM {from_table}{filter}", pre.join(", "));
    // Over a changelog, a group none of whose rows are left is deleted:
    // its last `-U` goes out, and no `+U` after it.
    let mut conditions: Vec<String> = having.iter().map(|h| format!("({h})")).collect();
    if signed {
        conditions.insert(0, format!("`{}` <> 0", native::ROWS));
    }
    let post = format!(
        "SELECT {} FROM (SELECT {} FROM {source}) AS {alias}{}",
        list_text(&items),
        post.join(", "),
        if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        }
    );
    let post = parse_query(&post)?;
    let results = Arc::new(Schema::new(results));
    let catalog = Catalog::new([(RESULTS.to_string(), results.clone())]).with_functions(wasm);
    let plan = plan_query(&catalog, post.clone()).map_err(Refusal::Plan)?;
    let (table, cascade) = match bounds {
        Some(b) => (
            b.inner.table.clone(),
            Some(Cascade {
                inner: b.inner,
                reads: table,
            }),
        ),
        None => (table, None),
    };
    Ok(Lowered {
        table,
        cascade,
        pre,
        window,
        post,
        schema: plan.schema().inner().clone(),
        updating,
        results,
    })
}

/// How a stage's query reads `table` (`alias`: as written in the FROM)
/// with `select`'s WHERE: the name its columns go by (the alias, else the
/// table), the FROM text, and the WHERE text (empty without one).
pub(super) fn scan(
    table: &str,
    alias: Option<&TableAlias>,
    select: &Select,
) -> (String, String, String) {
    let alias = alias.map_or_else(|| quote(table), |a| a.name.to_string());
    let from_table = if alias == quote(table) {
        quote(table)
    } else {
        format!("{} AS {alias}", quote(table))
    };
    let filter = select
        .selection
        .as_ref()
        .map_or_else(String::new, |w| format!(" WHERE {w}"));
    (alias, from_table, filter)
}

/// `query` has a WITH, ORDER BY or LIMIT around its SELECT.
pub(super) fn wrapped(query: &Query) -> bool {
    query.with.is_some()
        || query.order_by.is_some()
        || query.limit_clause.is_some()
        || query.fetch.is_some()
}

/// Whether `select` aggregates: it groups, or calls an aggregate function
/// (not over a window of rows: `OVER (…)`).
pub(super) fn aggregates(select: &Select, wasm: &super::Functions) -> bool {
    use std::ops::ControlFlow;
    let grouped = matches!(&select.group_by, GroupByExpr::Expressions(g, _) if !g.is_empty())
        || matches!(&select.group_by, GroupByExpr::All(_));
    let mut calls = false;
    let _ = visit_expressions(&select.projection, |e: &Expr| {
        if let Expr::Function(f) = e
            && f.over.is_none()
            && {
                let name = f.name.to_string().to_ascii_lowercase();
                is_aggregate(&name) || wasm.aggregate(&name).is_some()
            }
        {
            calls = true;
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    });
    grouped || calls || select.having.is_some()
}

/// A global window ([`crate::window::global`]): the window of an updating
/// `GROUP BY`. Its time is processing time: it never fires, so it needs
/// no watermark.
fn global() -> WindowSpec {
    WindowSpec {
        kind: "global".into(),
        size: None,
        slide: None,
        step: None,
        gap: None,
        ttl: None,
        time: "processing".into(),
        allowed_lateness: "0ms".into(),
        aggregates: Vec::new(),
        aggregate: None,
        skip_nulls: false,
        sign: None,
    }
}

fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, None)
}

pub(super) mod aggregates;
mod cascade;
mod key;
pub(super) use cascade::Cascade;
pub(super) use key::{group_key, typed};
mod native;
pub(super) use native::{native, sql_type};
#[cfg(test)]
mod tests;
mod wasm;
