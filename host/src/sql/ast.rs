//! What the lowerings of a query to stages share: why a query is refused,
//! and small helpers over sqlparser's syntax tree (names, quoting,
//! parsing the queries they write).

use datafusion_common::DataFusionError;
use datafusion_sql::sqlparser::ast::{
    BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, Query, SelectItem,
};
use datafusion_sql::sqlparser::parser::Parser;

/// Why a query cannot be lowered to stages.
#[derive(Debug)]
pub(super) enum Refusal {
    /// A construct weir does not run (yet), and what to do instead
    /// (starting with `: `).
    Unsupported(String, String),
    /// A query that cannot be right.
    Invalid(String),
    /// DataFusion's planner refused it.
    Plan(DataFusionError),
}

pub(super) fn unsupported<T>(what: impl Into<String>, hint: &str) -> Result<T, Refusal> {
    Err(Refusal::Unsupported(what.into(), hint.into()))
}

pub(super) fn invalid<T>(message: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal::Invalid(message.into()))
}

/// The arguments of a call, by position.
pub(super) fn call_args(f: &datafusion_sql::sqlparser::ast::Function) -> Vec<&Expr> {
    match &f.args {
        FunctionArguments::List(l) => l
            .args
            .iter()
            .filter_map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The column `e` names (`c`, or `t.c`).
pub(super) fn column_name(e: &Expr) -> Option<&str> {
    match e {
        Expr::Identifier(i) => Some(&i.value),
        Expr::CompoundIdentifier(parts) => parts.last().map(|i| i.value.as_str()),
        _ => None,
    }
}

/// `items` with each column selected as it is (`t.c`) named as it was
/// (`t.c AS c`), so that a rewrite of its expression keeps its name.
pub(super) fn keep_column_names(items: &mut [SelectItem]) {
    for item in items {
        if let SelectItem::UnnamedExpr(e) = item
            && let Some(name) = column_name(e)
        {
            *item = SelectItem::ExprWithAlias {
                alias: Ident::with_quote('`', name),
                expr: e.clone(),
            };
        }
    }
}

pub(super) fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

pub(super) fn list_text<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn parse_query(text: &str) -> Result<Query, Refusal> {
    let mut s = Parser::parse_sql(&super::parse::FlinkDialect, text)
        .map_err(|e| Refusal::Plan(DataFusionError::SQL(Box::new(e), None)))?;
    match s.pop() {
        Some(datafusion_sql::sqlparser::ast::Statement::Query(q)) if s.is_empty() => Ok(*q),
        _ => invalid(format!("not one query: {text}")),
    }
}

/// The conjuncts of `e` (`a AND b AND c`), into `out`.
pub(super) fn split_and(e: &Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            split_and(left, out);
            split_and(right, out);
        }
        Expr::Nested(inner) => split_and(inner, out),
        other => out.push(other.clone()),
    }
}
