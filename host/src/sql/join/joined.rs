//! The `select` stage after a join: its query over the joined rows
//! (`{"left": {…}, "right": {…}}`, read with the tables' own column
//! types, only the columns it uses), which names their columns as the
//! query does and applies the conditions left for after the join.

use super::JOINED;
use super::sides::{Side, flat_name, flattened, references};
use crate::sql::ast::{Refusal, invalid, parse_query, quote, unsupported};
use crate::sql::catalog::{Catalog, plan_query};
use crate::window::global::OP;
use arrow_schema::{DataType, SchemaRef};
use datafusion_sql::sqlparser::ast::{Expr, Query, Select, SelectItem};
use std::collections::{BTreeMap, BTreeSet};

/// The `select` stage's query over the joined rows: their columns named
/// as the query names them, the conditions across both tables (`rest`),
/// the query's `SELECT` list; with the joined rows' fields and the
/// columns it makes.
pub(super) fn joined_rows(
    select: &Select,
    sides: &[Side; 2],
    rest: &[Expr],
    updating: bool,
    wasm: &crate::sql::Functions,
) -> Result<(Query, BTreeMap<String, String>, SchemaRef), Refusal> {
    // The columns the query reads of each table: only those are read
    // from the joined rows (a TIMESTAMP's text is dear to parse).
    let mut whole = [false; 2];
    let mut reads = BTreeSet::new();
    for item in &select.projection {
        match item {
            SelectItem::Wildcard(_) => whole = [true; 2],
            SelectItem::QualifiedWildcard(q, _) => {
                let q = q.to_string();
                for (i, s) in sides.iter().enumerate() {
                    whole[i] |= quote(&s.name) == q || s.name == q;
                }
            }
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                reads.extend(references(e, sides)?.columns)
            }
            // (Refused below.)
            _ => {}
        }
    }
    for e in rest {
        reads.extend(references(e, sides)?.columns);
    }
    // 4: the joined rows' columns, named `__l_c` and `__r_c`.
    let mut joined = BTreeMap::new();
    let mut flat = Vec::new();
    for (i, s) in sides.iter().enumerate() {
        // (A table none of whose columns the query reads keeps its first,
        // so that no joined row is empty.)
        let none = !reads.iter().any(|(side, _)| *side == i);
        let (object, prefix) = if i == 0 {
            ("left", "__l_")
        } else {
            ("right", "__r_")
        };
        for (at, f) in s.schema.fields().iter().enumerate() {
            let ty = flink_name(f.data_type()).ok_or_else(|| {
                Refusal::Unsupported(
                    format!(
                        "joining a table with a {} column (`{}`)",
                        f.data_type(),
                        f.name()
                    ),
                    String::new(),
                )
            })?;
            if !(whole[i] || reads.contains(&(i, f.name().clone())) || (none && at == 0)) {
                continue;
            }
            joined.insert(format!("{object}.{}", f.name()), ty.to_string());
            flat.push(format!(
                "get_field(`{object}`, '{}') AS {}",
                f.name().replace('\'', "''"),
                quote(&format!("{prefix}{}", f.name()))
            ));
        }
        if s.window.is_some() {
            flat.push(format!(
                "to_timestamp_millis(`window_start`) AS `{prefix}window_start`"
            ));
            flat.push(format!(
                "to_timestamp_millis(`window_end`) AS `{prefix}window_end`"
            ));
            flat.push(format!(
                "to_timestamp_millis(`window_end` - 1) AS `{prefix}window_time`"
            ));
        }
    }
    if sides[0].window.is_some() {
        joined.insert("window_start".into(), "bigint".into());
        joined.insert("window_end".into(), "bigint".into());
    }
    let mut items = Vec::new();
    let mut names = BTreeSet::new();
    let mut unique = |name: &str| {
        // Flink names a second column of the same name `name0`, `name1`…
        let mut n = name.to_string();
        let mut i = 0;
        while !names.insert(n.clone()) {
            n = format!("{name}{i}");
            i += 1;
        }
        n
    };
    for item in &select.projection {
        match item {
            SelectItem::Wildcard(_) => {
                for (i, s) in sides.iter().enumerate() {
                    for c in s.columns() {
                        items.push(format!("{} AS {}", flat_name(i, &c), quote(&unique(&c))));
                    }
                }
            }
            SelectItem::QualifiedWildcard(q, _) => {
                let q = q.to_string();
                let Some(i) = sides
                    .iter()
                    .position(|s| quote(&s.name) == q || s.name == q)
                else {
                    return invalid(format!("`{q}.*`: no table of the join is called `{q}`"));
                };
                for c in sides[i].columns() {
                    items.push(format!("{} AS {}", flat_name(i, &c), quote(&unique(&c))));
                }
            }
            SelectItem::UnnamedExpr(e) => {
                let name = match e {
                    Expr::Identifier(c) => Some(c.value.clone()),
                    Expr::CompoundIdentifier(p) => p.last().map(|c| c.value.clone()),
                    _ => None,
                };
                let e = flattened(e, sides)?;
                items.push(match name {
                    Some(n) => format!("{e} AS {}", quote(&unique(&n))),
                    None => e.to_string(),
                });
            }
            SelectItem::ExprWithAlias { expr, alias } => {
                unique(&alias.value);
                items.push(format!("{} AS {alias}", flattened(expr, sides)?));
            }
            other => return unsupported(format!("`{other}` in a join's SELECT list"), ""),
        }
    }
    if updating {
        // An outer join's change, passed through.
        joined.insert(OP.into(), "string".into());
        flat.push(quote(OP));
        items.push(quote(OP));
    }
    let mut wheres = Vec::new();
    for c in rest {
        wheres.push(format!("({})", flattened(c, sides)?));
    }
    let post = format!(
        "SELECT {} FROM (SELECT {} FROM `{JOINED}`) AS `__rows`{}",
        items.join(", "),
        flat.join(", "),
        if wheres.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", wheres.join(" AND "))
        }
    );
    let post = parse_query(&post)?;
    let joined_schema = crate::batch::schema_of(&joined)
        .map_err(|e| Refusal::Invalid(format!("the joined rows' schema: {e}")))?;
    let catalog = Catalog::new([(JOINED.to_string(), std::sync::Arc::new(joined_schema))])
        .with_functions(wasm);
    let plan = plan_query(&catalog, post.clone()).map_err(Refusal::Plan)?;
    Ok((post, joined, plan.schema().inner().clone()))
}

/// The `[source.schema]` name of a column type a table may have.
fn flink_name(ty: &DataType) -> Option<&'static str> {
    Some(match ty {
        DataType::Int64 => "bigint",
        DataType::Int32 => "int32",
        DataType::Float64 => "double",
        DataType::Float32 => "float32",
        DataType::Utf8 => "string",
        DataType::Boolean => "bool",
        DataType::Timestamp(..) => "timestamp",
        _ => return None,
    })
}
