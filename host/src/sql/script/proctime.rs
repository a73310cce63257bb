//! A processing time added in a subquery — nexmark-flink's q12 writes
//! `FROM (SELECT *, PROCTIME() AS p_time FROM bid) B` — is the table's
//! computed column `p_time AS PROCTIME()`, which is what such a subquery
//! is to Flink too: every column of the table, and the wall-clock time
//! each row is read. The subquery becomes the table (under the subquery's
//! alias) with that column added, and the rest of the planner sees what
//! it plans when the DDL declares it.
//!
//! Only that form (`*` and `PROCTIME() AS name`, of one table, nothing
//! else in the subquery), of a table the query reads nowhere else (the
//! column would show there too); other subqueries are left as they are.

use super::super::Pos;
use super::super::parse::{ComputedDef, TableDef};
use arrow_schema::SchemaRef;
use datafusion_sql::sqlparser::ast::{
    Expr, FunctionArguments, Query, SelectItem, SetExpr, TableFactor, visit_relations,
};
use std::collections::BTreeMap;
use std::ops::ControlFlow;

/// Rewrite each `(SELECT *, PROCTIME() AS c FROM t) [AS] a` in the FROM of
/// `query` (and its joins) to `t [AS] a`, adding `c AS PROCTIME()` to
/// `t`'s columns in `tables` (`at`: the INSERT's place, for errors).
pub(super) fn inline(
    query: &mut Query,
    tables: &mut BTreeMap<String, (TableDef, SchemaRef)>,
    at: Pos,
) -> Result<(), (Pos, String)> {
    let SetExpr::Select(select) = query.body.as_mut() else {
        return Ok(());
    };
    // How often the whole query reads each table.
    let mut reads: BTreeMap<String, usize> = BTreeMap::new();
    let _ = visit_relations(&*select, |name| {
        *reads.entry(name.to_string()).or_default() += 1;
        ControlFlow::<()>::Continue(())
    });
    for from in &mut select.from {
        let relations = std::iter::once(&mut from.relation)
            .chain(from.joins.iter_mut().map(|j| &mut j.relation));
        for relation in relations {
            let Some((table, column, inner)) = proctime_of(relation) else {
                continue;
            };
            if reads.get(&table).copied().unwrap_or_default() > 1 {
                continue;
            }
            let Some((def, schema)) = tables.get_mut(&table) else {
                continue;
            };
            if def.is_proctime(&column) {
                // Declared already: the subquery adds nothing.
            } else if schema.field_with_name(&column).is_ok() {
                return Err((
                    at,
                    format!(
                        "`PROCTIME() AS {column}` over `{table}`, which has a column `{column}` already"
                    ),
                ));
            } else {
                let mut with = def.clone();
                with.computed.push(ComputedDef {
                    name: column.clone(),
                    expr: inner.proctime.clone(),
                    position: schema.fields().len(),
                    at,
                });
                *schema = super::declare::with_computed(&with, physical(&with, schema))?;
                *def = with;
            }
            let TableFactor::Derived { alias, .. } = relation else {
                unreachable!("matched a subquery")
            };
            let alias = alias.take();
            let mut table_factor = inner.relation;
            if let TableFactor::Table { alias: a, .. } = &mut table_factor {
                *a = alias;
            }
            *relation = table_factor;
        }
    }
    Ok(())
}

/// What a `(SELECT *, PROCTIME() AS c FROM t)` is made of.
struct Inner {
    /// `t`, as written.
    relation: TableFactor,
    /// `PROCTIME()`, as written.
    proctime: Expr,
}

/// The table, the column and the parts of a subquery of that form.
fn proctime_of(relation: &TableFactor) -> Option<(String, String, Inner)> {
    let TableFactor::Derived {
        subquery,
        lateral: false,
        ..
    } = relation
    else {
        return None;
    };
    let Query {
        body,
        with: None,
        order_by: None,
        limit_clause: None,
        ..
    } = subquery.as_ref()
    else {
        return None;
    };
    let SetExpr::Select(s) = body.as_ref() else {
        return None;
    };
    let plain = s.selection.is_none()
        && s.having.is_none()
        && s.distinct.is_none()
        && s.named_window.is_empty()
        && s.qualify.is_none()
        && matches!(&s.group_by, datafusion_sql::sqlparser::ast::GroupByExpr::Expressions(g, _) if g.is_empty());
    let [from] = s.from.as_slice() else {
        return None;
    };
    let (
        TableFactor::Table {
            name,
            alias: None,
            args: None,
            ..
        },
        true,
    ) = (&from.relation, plain && from.joins.is_empty())
    else {
        return None;
    };
    let [
        SelectItem::Wildcard(_),
        SelectItem::ExprWithAlias { expr, alias },
    ] = s.projection.as_slice()
    else {
        return None;
    };
    let Expr::Function(f) = expr else {
        return None;
    };
    let no_args = match &f.args {
        FunctionArguments::None => true,
        FunctionArguments::List(l) => l.args.is_empty(),
        FunctionArguments::Subquery(_) => false,
    };
    (f.name.to_string().eq_ignore_ascii_case("PROCTIME") && no_args).then(|| {
        (
            name.to_string(),
            alias.value.clone(),
            Inner {
                relation: from.relation.clone(),
                proctime: expr.clone(),
            },
        )
    })
}

/// The physical columns of `t` in `schema` (its declared columns,
/// without the computed ones).
fn physical(t: &TableDef, schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .filter(|f| t.columns.iter().any(|c| c.name == *f.name()))
        .cloned()
        .collect();
    std::sync::Arc::new(arrow_schema::Schema::new(fields))
}
