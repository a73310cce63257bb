//! Flink's semantics where DataFusion's differ, as rewrites of the query's
//! syntax tree before planning — so DataFusion still plans and evaluates
//! everything, with Flink's types and names:
//!
//! - an integer literal is `INT` when it fits (DataFusion: always
//!   `BIGINT`), so `n + 1` over an `INT` column is `INT`;
//! - a literal with a decimal point and no exponent is an exact
//!   `DECIMAL(p, s)` of its digits (DataFusion: a `DOUBLE`), so `price *
//!   0.908` is exact, as in Flink; `1e0` stays a `DOUBLE`;
//! - `TO_TIMESTAMP_LTZ(ms, 3)` is `to_timestamp_millis(ms)` (`(s, 0)`:
//!   of `s * 1000`): a TIMESTAMP(3) in UTC, where Flink's is a
//!   TIMESTAMP_LTZ(3) shown in the session's zone;
//! - `CAST(x AS DECIMAL(p, s))` rounds a `DOUBLE` half up from its
//!   shortest text, as Flink does ([`super::decimal`]);
//! - `MOD(a, b)` is `a % b` (DataFusion has no `MOD`);
//! - `CARDINALITY(a)` is an `INT` (DataFusion's: a `BIGINT UNSIGNED`);
//! - `CONCAT(a, b, …)` is NULL when an argument is (DataFusion's skips
//!   NULLs): `a || b || …`;
//! - an expression the top-level `SELECT` does not alias is named
//!   `EXPR$i` by its position, as Flink names it (DataFusion names it by
//!   its text and refuses two with the same text).
//!
//! Each rewrite is checked by the conformance suite against Flink itself.

use super::parse::FlinkDialect;
use datafusion_sql::sqlparser::ast::{
    CastKind, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, Query, SelectItem,
    SetExpr, Value, visit_expressions_mut,
};
use datafusion_sql::sqlparser::parser::Parser;
use std::ops::ControlFlow;

/// `query` with Flink's semantics spelled out for DataFusion.
pub(super) fn rewrite(query: &mut Query) {
    name_columns(query);
    let _ = visit_expressions_mut(query, |e| {
        if let Some(new) = int_literal(e)
            .or_else(|| decimal_literal(e))
            .or_else(|| decimal_cast(e))
            .or_else(|| to_timestamp_ltz(e))
            .or_else(|| function(e))
        {
            *e = new;
        }
        ControlFlow::<()>::Continue(())
    });
}

/// `text`, an expression in Flink's dialect.
fn expr(text: &str) -> Option<Expr> {
    Parser::new(&FlinkDialect)
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .ok()
}

/// An integer literal that fits an `INT`, cast to one.
fn int_literal(e: &Expr) -> Option<Expr> {
    let Expr::Value(v) = e else { return None };
    let Value::Number(text, false) = &v.value else {
        return None;
    };
    text.parse::<i32>().ok()?;
    expr(&format!("CAST({text} AS INT)"))
}

/// A literal with a decimal point and no exponent (`0.908`) as a
/// `DECIMAL` of its precision and scale (`DECIMAL(3, 3)`), as Flink types
/// it.
fn decimal_literal(e: &Expr) -> Option<Expr> {
    let Expr::Value(v) = e else { return None };
    let Value::Number(text, false) = &v.value else {
        return None;
    };
    let (whole, fraction) = text.split_once('.')?;
    if !(whole.bytes().all(|b| b.is_ascii_digit()) && fraction.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let scale = fraction.len();
    let precision = (whole.trim_start_matches('0').len() + scale).max(1);
    if precision > 38 {
        return None;
    }
    expr(&format!("CAST('{text}' AS DECIMAL({precision}, {scale}))"))
}

/// `TO_TIMESTAMP_LTZ(x, 3)` as `to_timestamp_millis(x)`, `(x, 0)` as
/// `to_timestamp_millis((x) * 1000)` (the children already rewritten: the
/// precision may be `CAST(3 AS INT)`).
fn to_timestamp_ltz(e: &Expr) -> Option<Expr> {
    let Expr::Function(f) = e else { return None };
    if !f.name.to_string().eq_ignore_ascii_case("TO_TIMESTAMP_LTZ") {
        return None;
    }
    let args = super::ast::call_args(f);
    let [x, p] = args.as_slice() else {
        return None;
    };
    let p = match p {
        Expr::Cast { expr, .. } => expr.to_string(),
        other => other.to_string(),
    };
    match p.as_str() {
        "3" => expr(&format!("to_timestamp_millis({x})")),
        "0" => expr(&format!("to_timestamp_millis(({x}) * 1000)")),
        _ => None,
    }
}

/// `CAST(x AS DECIMAL(p, s))` as `__weir_cast_decimal(x, p, s)`.
fn decimal_cast(e: &Expr) -> Option<Expr> {
    let Expr::Cast {
        kind: CastKind::Cast | CastKind::DoubleColon,
        expr: x,
        data_type,
        array: false,
        format: None,
    } = e
    else {
        return None;
    };
    let (arrow_schema::DataType::Decimal128(p, s), _) = super::types::flink_type(data_type)? else {
        return None;
    };
    expr(&format!("{}(({x}), {p}, {s})", super::decimal::NAME))
}

/// `MOD(a, b)` as `(a) % (b)`, `CONCAT(a, b, …)` as `(a) || (b) || …`.
fn function(e: &Expr) -> Option<Expr> {
    let Expr::Function(f) = e else { return None };
    let name = f.name.to_string().to_ascii_lowercase();
    if name != "mod" && name != "concat" && name != "cardinality" {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    let args: Vec<String> = list
        .args
        .iter()
        .map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(format!("({e})")),
            _ => None,
        })
        .collect::<Option<_>>()?;
    match (name.as_str(), args.as_slice()) {
        ("mod", [a, b]) => expr(&format!("{a} % {b}")),
        ("cardinality", [a]) => expr(&format!("CAST(cardinality({a}) AS INT)")),
        ("concat", [_, _, ..]) => expr(&args.join(" || ")),
        _ => None,
    }
}

/// Unaliased expressions of the top-level `SELECT` named `EXPR$i` (done
/// before `query` is used as a subquery, whose columns keep the names).
pub(super) fn name_columns(query: &mut Query) {
    name_expressions(&mut query.body);
}

fn name_expressions(body: &mut SetExpr) {
    match body {
        SetExpr::Select(select) => {
            for (i, item) in select.projection.iter_mut().enumerate() {
                if let SelectItem::UnnamedExpr(e) = item
                    && !matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
                {
                    *item = SelectItem::ExprWithAlias {
                        expr: e.clone(),
                        alias: Ident::with_quote('`', format!("EXPR${i}")),
                    };
                }
            }
        }
        SetExpr::Query(q) => name_expressions(&mut q.body),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        let mut s = Parser::parse_sql(&FlinkDialect, sql).unwrap();
        let datafusion_sql::sqlparser::ast::Statement::Query(q) = &mut s[0] else {
            panic!()
        };
        rewrite(q);
        q.to_string()
    }

    #[test]
    fn literals_mod_and_names_are_flinks() {
        assert_eq!(
            rewritten("SELECT n + 1, MOD(n, 3) AS m, a, 3000000000, CONCAT(a, '-', b) FROM t"),
            "SELECT n + CAST(1 AS INT) AS `EXPR$0`, (n) % (CAST(3 AS INT)) AS m, a, 3000000000 AS `EXPR$3`, (a) || ('-') || (b) AS `EXPR$4` FROM t"
        );
        assert_eq!(
            rewritten("SELECT 0.908 * p AS a, 117.10 AS b, 1e3 AS c, .5 AS d FROM t"),
            "SELECT CAST('0.908' AS DECIMAL(3,3)) * p AS a, CAST('117.10' AS DECIMAL(5,2)) AS b, 1e3 AS c, CAST('.5' AS DECIMAL(1,1)) AS d FROM t"
        );
    }
}
