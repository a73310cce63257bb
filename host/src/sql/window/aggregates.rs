//! The aggregate calls of a window aggregation's `SELECT` list and
//! `HAVING`: `COUNT`, `SUM`, `MIN`, `MAX` and `AVG`, each replaced by the
//! column of the window's results that will hold it (`__a0`, `__a1`, …;
//! equal calls share one).

use super::Refusal;
use crate::sql::catalog::is_aggregate;
use crate::sql::udaf::AggregateFunction;
use crate::sql::udf::Functions;
use arrow_schema::DataType;
use datafusion_sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, SelectItem, WindowType,
    visit_expressions_mut,
};
use std::ops::ControlFlow;
use std::sync::Arc;

/// The aggregates `items` and `having` call, each call replaced by its
/// column; a call weir does not compute is refused.
pub(super) fn replace(
    items: &mut Vec<SelectItem>,
    having: &mut Option<Expr>,
    wasm: &Functions,
) -> Result<Vec<Aggregate>, Refusal> {
    replace_calls(items, having, None, wasm)
}

/// The aggregates over a window of rows (`… OVER (…)`) that `items`
/// call, each replaced by its column, and the window each names; any
/// other call of a function over a window is refused.
pub(in crate::sql) fn replace_over(
    items: &mut Vec<SelectItem>,
) -> Result<(Vec<Aggregate>, Vec<WindowType>), Refusal> {
    let mut windows = Vec::new();
    let aggs = replace_calls(items, &mut None, Some(&mut windows), &Functions::default())?;
    Ok((aggs, windows))
}

fn replace_calls(
    items: &mut Vec<SelectItem>,
    having: &mut Option<Expr>,
    mut windows: Option<&mut Vec<WindowType>>,
    wasm: &Functions,
) -> Result<Vec<Aggregate>, Refusal> {
    let mut aggs: Vec<Aggregate> = Vec::new();
    let mut refused = None;
    let over = windows.is_some();
    let mut replace = |e: &mut Expr| {
        let Expr::Function(f) = e else {
            return ControlFlow::Continue(());
        };
        let name = f.name.to_string().to_ascii_lowercase();
        if over
            && f.over.is_some()
            && !matches!(name.as_str(), "count" | "sum" | "min" | "max" | "avg")
        {
            refused = Some(Refusal::Unsupported(
                format!("{} over a window of rows", name.to_ascii_uppercase()),
                if matches!(name.as_str(), "row_number" | "rank" | "dense_rank") {
                    ": ROW_NUMBER() ranks in a Top-N or a deduplication (`ROW_NUMBER() OVER (…) AS rn` in a subquery, `WHERE rn <= N` around it); weir's OVER aggregations compute COUNT, SUM, MIN, MAX and AVG"
                } else {
                    ": weir's OVER aggregations compute COUNT, SUM, MIN, MAX and AVG"
                }
                .into(),
            ));
            return ControlFlow::Break(());
        }
        let function = wasm.aggregate(&name).cloned();
        if function.is_none() && !is_aggregate(&name) {
            return ControlFlow::Continue(());
        }
        if over && f.over.is_none() {
            refused = Some(Refusal::Unsupported(
                format!("{e} beside aggregates over a window of rows"),
                ": aggregate a query either with GROUP BY or with OVER, not both".into(),
            ));
            return ControlFlow::Break(());
        }
        let func = match name.as_str() {
            _ if function.is_some() => Func::Wasm,
            "count" => Func::Count,
            "sum" => Func::Sum,
            "min" => Func::Min,
            "max" => Func::Max,
            "avg" => Func::Avg,
            _ => {
                refused = Some(Refusal::Unsupported(
                    format!("the aggregate function {}", name.to_ascii_uppercase()),
                    ": weir's aggregations compute COUNT, SUM, MIN, MAX and AVG so far".into(),
                ));
                return ControlFlow::Break(());
            }
        };
        let list = match &f.args {
            FunctionArguments::List(l) => Some(l),
            _ => None,
        };
        if list.is_some_and(|l| l.duplicate_treatment.is_some()) {
            refused = Some(Refusal::Unsupported(
                format!("{e}"),
                ": weir's aggregations do not count DISTINCT values yet".into(),
            ));
            return ControlFlow::Break(());
        }
        if f.filter.is_some() || (f.over.is_some() && !over) || !f.within_group.is_empty() {
            refused = Some(Refusal::Unsupported(format!("{e}"), String::new()));
            return ControlFlow::Break(());
        }
        if let (Some(w), Some(windows)) = (&f.over, windows.as_mut()) {
            windows.push(w.clone());
        }
        let mut args = Vec::new();
        let arg = match list.map(|l| l.args.as_slice()) {
            Some(all) if func == Func::Wasm => {
                for a in all {
                    match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(a)) => args.push(a.clone()),
                        _ => {
                            refused = Some(Refusal::Invalid(format!(
                                "{e}: pass a Wasm aggregate function its arguments as \
                                 expressions, in order"
                            )));
                            return ControlFlow::Break(());
                        }
                    }
                }
                None
            }
            None if func == Func::Wasm => None,
            Some([FunctionArg::Unnamed(FunctionArgExpr::Wildcard)]) => None,
            Some([FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(v)))])
                if func == Func::Count && v.to_string() != "NULL" =>
            {
                None
            }
            Some([FunctionArg::Unnamed(FunctionArgExpr::Expr(a))]) => Some(a.clone()),
            _ => {
                refused = Some(Refusal::Invalid(format!("{e}: one argument")));
                return ControlFlow::Break(());
            }
        };
        let text = e.to_string();
        let i = match aggs.iter().position(|a| a.text == text) {
            Some(i) => i,
            None => {
                aggs.push(Aggregate {
                    func,
                    arg,
                    args,
                    function,
                    text,
                    ty: DataType::Null,
                    nullable: false,
                });
                aggs.len() - 1
            }
        };
        *e = Expr::Identifier(Ident::with_quote('`', format!("__a{i}")));
        ControlFlow::Continue(())
    };
    let _ = visit_expressions_mut(items, &mut replace);
    let _ = visit_expressions_mut(having, &mut replace);
    match refused {
        Some(r) => Err(r),
        None => Ok(aggs),
    }
}

/// An aggregate call of the query.
#[derive(Debug)]
pub(in crate::sql) struct Aggregate {
    pub func: Func,
    /// `None`: `COUNT(*)`, or a Wasm aggregate function.
    pub arg: Option<Expr>,
    /// A Wasm aggregate function ([`Func::Wasm`]), and its arguments.
    pub function: Option<Arc<AggregateFunction>>,
    pub args: Vec<Expr>,
    /// The call as written (equal calls share a column).
    text: String,
    /// The argument's type, and whether it may be NULL.
    pub ty: DataType,
    pub nullable: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::sql) enum Func {
    Count,
    Sum,
    Min,
    Max,
    Avg,
    /// A Wasm aggregate function ([`crate::sql::udaf`]).
    Wasm,
}

impl Func {
    pub fn name(self) -> &'static str {
        match self {
            Func::Count => "COUNT",
            Func::Sum => "SUM",
            Func::Min => "MIN",
            Func::Max => "MAX",
            Func::Avg => "AVG",
            Func::Wasm => "a Wasm aggregate function",
        }
    }
}
