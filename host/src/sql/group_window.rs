//! Flink's group windows, the older form of a window aggregation,
//!
//! ```sql
//! SELECT `user`, TUMBLE_START(ts, INTERVAL '10' SECOND), COUNT(*)
//! FROM tx GROUP BY TUMBLE(ts, INTERVAL '10' SECOND), `user`
//! ```
//!
//! rewritten into the window table function it means,
//!
//! ```sql
//! SELECT `user`, window_start, COUNT(*)
//! FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(ts), INTERVAL '10' SECOND))
//! GROUP BY window_start, window_end, `user`
//! ```
//!
//! which [`super::window`] then plans. `HOP(ts, slide, size)` becomes
//! `HOP(TABLE t, DESCRIPTOR(ts), slide, size)`, and `SESSION(ts, gap)` a
//! session per the other group keys (`PARTITION BY` them), as Flink's
//! group session windows are. `X_START`, `X_END` and `X_ROWTIME` become
//! `window_start`, `window_end` and `window_time`.

use datafusion_sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, Ident, Query, SetExpr,
    TableFactor, visit_expressions_mut,
};
use datafusion_sql::sqlparser::parser::Parser;
use std::ops::ControlFlow;

/// `query` with its group window rewritten into a window table function;
/// `None` when it has no group window.
pub(super) fn rewrite(query: &Query) -> Option<Query> {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    let [from] = select.from.as_slice() else {
        return None;
    };
    let TableFactor::Table { name, alias, .. } = &from.relation else {
        return None;
    };
    if !from.joins.is_empty() {
        return None;
    }
    let GroupByExpr::Expressions(groups, _) = &select.group_by else {
        return None;
    };
    let mut window = None;
    let mut keys = Vec::new();
    for g in groups {
        match g {
            Expr::Function(f)
                if window.is_none()
                    && matches!(name_of(f).as_str(), "TUMBLE" | "HOP" | "SESSION") =>
            {
                window = Some((name_of(f), args(f)))
            }
            other => keys.push(other),
        }
    }
    let (kind, args) = window?;
    let (time, rest) = args.split_first()?;
    // Inside the table function the table's alias is not in scope: `B.ts`
    // is `ts` there.
    let own = |e: &Expr| match e {
        Expr::CompoundIdentifier(parts)
            if parts.len() == 2
                && (alias
                    .as_ref()
                    .is_some_and(|a| a.name.value == parts[0].value)
                    || name.to_string() == parts[0].value) =>
        {
            parts[1].to_string()
        }
        other => other.to_string(),
    };
    let time = own(time);
    let partition = if kind == "SESSION" && !keys.is_empty() {
        let keys: Vec<String> = keys.iter().map(|k| own(k)).collect();
        format!(" PARTITION BY ({})", keys.join(", "))
    } else {
        String::new()
    };
    let rest: Vec<String> = rest.iter().map(ToString::to_string).collect();
    let tvf = format!(
        "TABLE({kind}(TABLE {name}{partition}, DESCRIPTOR({time}), {}))",
        rest.join(", ")
    );
    // The window's auxiliary functions, as the window's columns.
    let mut select = select.clone();
    let mut auxiliary = |e: &mut Expr| {
        if let Expr::Function(f) = e {
            let column = match kind_of_auxiliary(&name_of(f)) {
                Some(c) => c,
                None => return ControlFlow::<()>::Continue(()),
            };
            *e = Expr::Identifier(Ident::new(column));
        }
        ControlFlow::Continue(())
    };
    let _ = visit_expressions_mut(&mut select.projection, &mut auxiliary);
    let _ = visit_expressions_mut(&mut select.having, &mut auxiliary);
    let items: Vec<String> = select.projection.iter().map(ToString::to_string).collect();
    let mut group = vec!["window_start".to_string(), "window_end".to_string()];
    group.extend(keys.iter().map(ToString::to_string));
    let text = format!(
        "SELECT {} FROM {tvf}{}{} GROUP BY {}{}",
        items.join(", "),
        alias
            .as_ref()
            .map_or_else(String::new, |a| format!(" AS {}", a.name)),
        select
            .selection
            .as_ref()
            .map_or_else(String::new, |w| format!(" WHERE {w}")),
        group.join(", "),
        select
            .having
            .as_ref()
            .map_or_else(String::new, |h| format!(" HAVING {h}")),
    );
    let mut statements = Parser::parse_sql(&super::parse::FlinkDialect, &text).ok()?;
    let Some(datafusion_sql::sqlparser::ast::Statement::Query(mut q)) = statements.pop() else {
        return None;
    };
    q.order_by = query.order_by.clone();
    q.limit_clause = query.limit_clause.clone();
    q.with = query.with.clone();
    Some(*q)
}

fn name_of(f: &datafusion_sql::sqlparser::ast::Function) -> String {
    f.name.to_string().to_ascii_uppercase()
}

fn args(f: &datafusion_sql::sqlparser::ast::Function) -> Vec<Expr> {
    match &f.args {
        FunctionArguments::List(l) => l
            .args
            .iter()
            .filter_map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The window column an auxiliary function (`TUMBLE_START`, …) reads.
fn kind_of_auxiliary(name: &str) -> Option<&'static str> {
    let (window, part) = name.split_once('_')?;
    if !matches!(window, "TUMBLE" | "HOP" | "SESSION") {
        return None;
    }
    match part {
        "START" => Some("window_start"),
        "END" => Some("window_end"),
        "ROWTIME" => Some("window_time"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::parse::FlinkDialect;

    fn rewritten(sql: &str) -> String {
        let mut s = Parser::parse_sql(&FlinkDialect, sql).unwrap();
        let datafusion_sql::sqlparser::ast::Statement::Query(q) = s.pop().unwrap() else {
            panic!()
        };
        rewrite(&q).map_or_else(|| "-".into(), |q| q.to_string())
    }

    #[test]
    fn group_windows_become_window_table_functions() {
        assert_eq!(
            rewritten(
                "SELECT `user`, TUMBLE_START(ts, INTERVAL '10' SECOND) AS s, COUNT(*) FROM tx \
                 WHERE n > 0 GROUP BY TUMBLE(ts, INTERVAL '10' SECOND), `user` HAVING COUNT(*) > 1"
            ),
            "SELECT `user`, window_start AS s, COUNT(*) FROM \
             TABLE(TUMBLE(__weir_table(tx), DESCRIPTOR(ts), INTERVAL '10' SECOND)) \
             WHERE n > 0 GROUP BY window_start, window_end, `user` HAVING COUNT(*) > 1"
        );
        assert_eq!(
            rewritten(
                "SELECT SESSION_END(ts, INTERVAL '5' SECOND), `user`, SUM(n) FROM tx \
                 GROUP BY SESSION(ts, INTERVAL '5' SECOND), `user`"
            ),
            "SELECT window_end, `user`, SUM(n) FROM \
             TABLE(SESSION(__weir_table(tx, `user`), DESCRIPTOR(ts), INTERVAL '5' SECOND)) \
             GROUP BY window_start, window_end, `user`"
        );
        // The table's alias is not in scope inside the table function.
        assert_eq!(
            rewritten(
                "SELECT B.`user`, COUNT(*) FROM tx B \
                 GROUP BY B.`user`, SESSION(B.ts, INTERVAL '5' SECOND)"
            ),
            "SELECT B.`user`, COUNT(*) FROM \
             TABLE(SESSION(__weir_table(tx, `user`), DESCRIPTOR(ts), INTERVAL '5' SECOND)) AS B \
             GROUP BY window_start, window_end, B.`user`"
        );
        assert_eq!(
            rewritten("SELECT `user`, COUNT(*) FROM tx GROUP BY `user`"),
            "-"
        );
    }
}
