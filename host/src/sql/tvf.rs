//! Flink's window table functions as weir windows:
//! `TUMBLE(TABLE t, DESCRIPTOR(ts), size)`, `HOP(TABLE t, DESCRIPTOR(ts),
//! slide, size)`, `CUMULATE(TABLE t, DESCRIPTOR(ts), step, size)` and
//! `SESSION(TABLE t PARTITION BY k, DESCRIPTOR(ts), gap)` are weir's
//! tumbling, sliding, cumulating and session windows over the table's
//! event time; window offsets are refused by name.

use super::ast::{Refusal, call_args, invalid, unsupported};
use super::parse::{TABLE_ARGUMENT, TableDef};
use super::script::interval_ms;
use crate::job::WindowSpec;
use arrow_schema::SchemaRef;
use datafusion_sql::sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments,
};
use std::collections::BTreeMap;

pub(super) const KINDS: &str =
    ": weir's windows are TUMBLE (tumbling), HOP (sliding), CUMULATE and SESSION";

/// A window table function's call.
#[derive(Debug)]
pub(super) struct Tvf {
    /// `TUMBLE`, `HOP`, `CUMULATE` or `SESSION` (`GROUP BY`: a table's
    /// global window, see [`super::window`]).
    pub kind: String,
    /// The table it windows.
    pub table: String,
    /// `PARTITION BY`'s columns (SESSION only).
    pub partition: Vec<Expr>,
    /// The window, with no aggregates yet.
    pub window: WindowSpec,
}

/// The window of `f`, a call of a window table function over one of
/// `tables`.
pub(super) fn parse(
    f: &Function,
    tables: &BTreeMap<String, (TableDef, SchemaRef)>,
) -> Result<Tvf, Refusal> {
    let kind = f.name.to_string().to_ascii_uppercase();
    // The function's arguments.
    let FunctionArguments::List(list) = &f.args else {
        return invalid(format!("{kind} takes (TABLE t, DESCRIPTOR(time), …)"));
    };
    let mut args = Vec::new();
    for a in &list.args {
        match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => args.push(e),
            other => {
                return unsupported(
                    format!("the argument `{other}` of {kind}"),
                    ": pass the arguments by position",
                );
            }
        }
    }
    let (table, partition) = match args.first() {
        Some(Expr::Function(t)) if t.name.to_string() == TABLE_ARGUMENT => {
            let mut parts = call_args(t).into_iter();
            match parts.next() {
                Some(Expr::Identifier(i)) => (i.value.clone(), parts.cloned().collect::<Vec<_>>()),
                _ => return invalid(format!("{kind}'s first argument is TABLE t")),
            }
        }
        _ if !matches!(kind.as_str(), "TUMBLE" | "HOP" | "SESSION" | "CUMULATE") => {
            return unsupported(format!("the table function {kind}"), KINDS);
        }
        _ => return invalid(format!("{kind}'s first argument is TABLE t")),
    };
    let Some((def, _)) = tables.get(&table) else {
        return invalid(format!("no table `{table}`: declare it with CREATE TABLE"));
    };
    let time = match args.get(1) {
        Some(Expr::Function(d)) if d.name.to_string().eq_ignore_ascii_case("DESCRIPTOR") => {
            match call_args(d).as_slice() {
                [Expr::Identifier(i)] => i.value.clone(),
                _ => return invalid(format!("{kind}: DESCRIPTOR names one column")),
            }
        }
        _ => {
            return invalid(format!(
                "{kind}'s second argument is DESCRIPTOR(time column)"
            ));
        }
    };
    // A window over a processing time (`pt AS PROCTIME()`) puts each row
    // in the windows of the time the window stage reads it, and fires a
    // window once that clock has passed its end (or the input ended).
    let processing = def.is_proctime(&time);
    if !processing && def.watermark.as_ref().map(|w| &w.column) != Some(&time) {
        return invalid(format!(
            "{kind}(TABLE {table}, DESCRIPTOR({time}), …): `{time}` is not the event-time column of `{table}`; declare it with WATERMARK FOR {time} AS …"
        ));
    }
    let duration = |i: usize, what: &str| -> Result<String, Refusal> {
        match args.get(i).and_then(|e| interval_ms(e)) {
            Some(ms) if ms > 0 => Ok(format!("{ms}ms")),
            _ => invalid(format!(
                "{kind}: the {what} is an INTERVAL 'n' SECOND (or MILLISECOND, MINUTE, HOUR, DAY) greater than 0"
            )),
        }
    };
    let arity = |n: usize| -> Result<(), Refusal> {
        match args.len() {
            m if m == n => Ok(()),
            m if m == n + 1 => unsupported(format!("an offset of {kind} windows"), ""),
            _ => invalid(format!("{kind} takes {n} arguments")),
        }
    };
    let mut window = WindowSpec {
        kind: String::new(),
        size: None,
        slide: None,
        step: None,
        gap: None,
        ttl: None,
        time: if processing { "processing" } else { "event" }.into(),
        allowed_lateness: "0ms".into(),
        aggregates: Vec::new(),
        aggregate: None,
        skip_nulls: false,
        sign: None,
    };
    match kind.as_str() {
        "TUMBLE" => {
            arity(3)?;
            window.kind = "tumbling".into();
            window.size = Some(duration(2, "size")?);
        }
        "HOP" => {
            arity(4)?;
            window.kind = "sliding".into();
            window.slide = Some(duration(2, "slide")?);
            window.size = Some(duration(3, "size")?);
        }
        "SESSION" => {
            if args.len() != 3 {
                return invalid("SESSION takes (TABLE t [PARTITION BY k], DESCRIPTOR(time), gap)");
            }
            window.kind = "session".into();
            window.gap = Some(duration(2, "gap")?);
        }
        "CUMULATE" => {
            arity(4)?;
            window.kind = "cumulate".into();
            window.step = Some(duration(2, "step")?);
            window.size = Some(duration(3, "size")?);
        }
        _ => return unsupported(format!("the table function {kind}"), KINDS),
    }
    if !partition.is_empty() && kind != "SESSION" {
        return invalid(format!("{kind}: only SESSION takes PARTITION BY"));
    }
    Ok(Tvf {
        kind,
        table,
        partition,
        window,
    })
}
