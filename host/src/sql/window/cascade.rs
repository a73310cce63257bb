//! A window of windows: an aggregation of a window aggregation's results
//! (Flink's cascading window aggregation), as Nexmark's q5 writes it:
//!
//! ```sql
//! SELECT MAX(num) AS maxn, starttime, endtime
//! FROM (
//!   SELECT COUNT(*) AS num, window_start AS starttime, window_end AS endtime
//!   FROM TABLE(HOP(TABLE bid, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
//!   GROUP BY auction, window_start, window_end
//! ) AS CountBids
//! GROUP BY starttime, endtime
//! ```
//!
//! Grouped by the inner windows' bounds (as the inner query names them),
//! the outer aggregation is a window aggregation too: each inner window's
//! rows come at its `window_time` (its end less 1 ms), so a tumbling window
//! as long as the step between the inner windows' ends (a `TUMBLE`'s size,
//! a `HOP`'s slide, a `CUMULATE`'s step) holds exactly the rows of the
//! inner windows that end with it, and fires with them, once, when the
//! watermark passes their end; the inner window's start is computed back
//! from its end. Not grouped by the bounds, the outer aggregation is an
//! aggregation without a window over the inner one's rows: its result
//! updates. A window of `SESSION` windows (whose ends are not aligned) is
//! refused by name.

use super::{Lowered, Refusal, global, lower};
use crate::sql::ast::{column_name, unsupported};
use crate::sql::parse::TableDef;
use crate::sql::tvf::Tvf;
use arrow_schema::SchemaRef;
use datafusion_sql::sqlparser::ast::{GroupByExpr, Query, Select, SelectItem, SetExpr, TableAlias};
use std::collections::BTreeMap;

/// A window aggregation over another's results: the stages of `inner`
/// come first, and the outer aggregation's read its rows as `reads`.
#[derive(Debug)]
pub(in crate::sql) struct Cascade {
    /// The aggregation whose results it reads.
    pub inner: Box<Lowered>,
    /// The name it reads them by (the subquery's alias).
    pub reads: String,
}

/// The inner aggregation of an aggregation of windows, and the bounds of
/// its windows the outer one groups by.
pub(super) struct Bounds {
    /// The inner aggregation.
    pub inner: Box<Lowered>,
    /// The bounds, when the outer aggregation groups by them (a window of
    /// windows); `None`: it aggregates the inner rows without a window.
    pub grouped: Option<Grouped>,
}

/// The bounds of the inner windows, as a window of windows reads them.
pub(super) struct Grouped {
    /// The columns the inner query names its `window_start` and
    /// `window_end` by.
    pub start: String,
    pub end: String,
    /// The inner window's start, from the outer window's `window_end`
    /// (an SQL expression over the window's results, in ms).
    pub start_of_end: String,
}

/// The window over `subquery`'s results that `select` aggregates them
/// in, and the inner aggregation; `None` when `subquery` is no window
/// aggregation.
pub(super) fn cascaded(
    subquery: &Query,
    alias: &Option<TableAlias>,
    select: &Select,
    tables: &BTreeMap<String, (TableDef, SchemaRef)>,
    wasm: &crate::sql::Functions,
) -> Result<Option<(Tvf, Bounds)>, Refusal> {
    let rewritten = crate::sql::group_window::rewrite(subquery);
    let subquery = rewritten.as_ref().unwrap_or(subquery);
    let Some(inner) = lower(subquery, tables, wasm)? else {
        return Ok(None);
    };
    let reads = alias
        .as_ref()
        .map_or_else(|| "__windows".to_string(), |a| a.name.value.clone());
    if inner.updating {
        // An aggregation of a changelog ([`crate::sql::compose`]).
        return Ok(None);
    }
    let SetExpr::Select(s) = subquery.body.as_ref() else {
        return Ok(None);
    };
    // What the inner query calls its window's bounds.
    let named = |bound: &str| {
        s.projection.iter().find_map(|item| match item {
            SelectItem::UnnamedExpr(e) if column_name(e) == Some(bound) => Some(bound.to_string()),
            SelectItem::ExprWithAlias { expr, alias } if column_name(expr) == Some(bound) => {
                Some(alias.value.clone())
            }
            _ => None,
        })
    };
    let GroupByExpr::Expressions(groups, _) = &select.group_by else {
        return unsupported("GROUP BY ALL", "");
    };
    let grouped = |c: Option<&String>| {
        c.is_some_and(|c| groups.iter().any(|g| column_name(g) == Some(c.as_str())))
    };
    let tvf = |kind: &str, window| Tvf {
        kind: kind.into(),
        table: reads.clone(),
        partition: Vec::new(),
        window,
    };
    let (start, end) = (named("window_start"), named("window_end"));
    let (by_start, by_end) = (grouped(start.as_ref()), grouped(end.as_ref()));
    if !by_start && !by_end {
        // An aggregation without a window over the inner one's rows.
        let bounds = Bounds {
            inner: Box::new(inner),
            grouped: None,
        };
        return Ok(Some((tvf("GROUP BY", global()), bounds)));
    }
    let (Some(start), Some(end), true, true) = (start, end, by_start, by_end) else {
        return unsupported(
            format!("an aggregation of `{reads}`'s windows grouped by one of their bounds"),
            ": group by both the inner window_start and window_end (or neither, for an updating result)",
        );
    };
    let ms = |d: &Option<String>| {
        d.as_deref()
            .and_then(|d| d.strip_suffix("ms"))
            .and_then(|d| d.parse::<i64>().ok())
            .expect("a table function's durations are in ms")
    };
    let w = &inner.window;
    let (step, start_of_end) = match w.kind.as_str() {
        "tumbling" => (ms(&w.size), format!("`window_end` - {}", ms(&w.size))),
        "sliding" => (ms(&w.slide), format!("`window_end` - {}", ms(&w.size))),
        "cumulate" => {
            let size = ms(&w.size);
            (
                ms(&w.step),
                format!("`window_end` - 1 - ((`window_end` - 1) % {size})"),
            )
        }
        other => {
            return unsupported(
                format!("a window aggregation of `{reads}`, whose windows are {other} windows"),
                ": weir aggregates the windows of a TUMBLE, HOP or CUMULATE again, whose ends are aligned",
            );
        }
    };
    let mut window = global();
    window.kind = "tumbling".into();
    window.time = "event".into();
    window.size = Some(format!("{step}ms"));
    let bounds = Bounds {
        inner: Box::new(inner),
        grouped: Some(Grouped {
            start,
            end,
            start_of_end,
        }),
    };
    Ok(Some((tvf("TUMBLE", window), bounds)))
}
