//! A window aggregation's group key: the types of its columns (and of the
//! aggregates' arguments), and the one text the window is keyed by.

use super::aggregates;
use super::native::sql_type;
use super::{RESULTS, Refusal};
use crate::sql::ast::{parse_query, quote, unsupported};
use crate::sql::catalog::{Catalog, plan_query};
use arrow_schema::DataType;

/// The types (and whether they may be NULL) of `aggs`' arguments, set
/// on them, and of the group keys `keys`, returned, as the query over
/// `from_table` in `catalog` has them; a key weir cannot group by is
/// refused.
pub(in crate::sql) fn typed(
    catalog: &Catalog,
    from_table: &str,
    aggs: &mut [aggregates::Aggregate],
    keys: &[String],
) -> Result<Vec<(DataType, bool)>, Refusal> {
    let mut typed: Vec<String> = aggs
        .iter()
        .enumerate()
        .filter_map(|(i, a)| a.arg.as_ref().map(|e| format!("{e} AS `__t{i}`")))
        .collect();
    for (j, k) in keys.iter().enumerate() {
        typed.push(format!("{} AS `__tk{j}`", quote(k)));
    }
    let mut key_types = vec![(DataType::Utf8, false); keys.len()];
    if !typed.is_empty() {
        let plan = plan_query(
            catalog,
            parse_query(&format!("SELECT {} FROM {from_table}", typed.join(", ")))?,
        )
        .map_err(Refusal::Plan)?;
        for f in plan.schema().fields() {
            let (ty, nullable) = (f.data_type().clone(), f.is_nullable());
            if let Some(j) = f
                .name()
                .strip_prefix("__tk")
                .and_then(|j| j.parse::<usize>().ok())
            {
                key_types[j] = (ty, nullable);
            } else if let Some(i) = f
                .name()
                .strip_prefix("__t")
                .and_then(|i| i.parse::<usize>().ok())
            {
                aggs[i].ty = ty;
                aggs[i].nullable = nullable;
            }
        }
    }
    for (k, (ty, _)) in keys.iter().zip(&key_types) {
        let whole = matches!(
            ty,
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64
        );
        if !(whole || ty == &DataType::Utf8 || ty == &DataType::Boolean) {
            return unsupported(
                format!("grouping by `{k}`, a {ty}"),
                ": weir groups windows by STRING, INT, BIGINT or BOOLEAN columns so far",
            );
        }
    }
    Ok(key_types)
}

/// The group key of `keys` (of types `types`: their type, and whether
/// they may be NULL) as the text the `filter` stage writes; the columns
/// the `select` stage reads back from it; and the relation it reads them
/// from.
///
/// One key that cannot be NULL is its own text; one that can is `n` for
/// NULL, `v` and its text otherwise. Several keys are each written so,
/// prefixed by its length and `:`, and read back one by one, a subquery
/// per key.
pub(in crate::sql) fn group_key(
    keys: &[String],
    types: &[(DataType, bool)],
) -> (String, Vec<String>, String) {
    let results = format!("`{RESULTS}`");
    // (A NULL's marker `n` leaves an empty text, which a cast would
    // refuse: DataFusion may evaluate the ELSE of a CASE on every row.)
    let cast = |e: &str, ty: &DataType| match ty {
        DataType::Utf8 => e.to_string(),
        DataType::Boolean => format!("CAST(NULLIF({e}, '') AS BOOLEAN)"),
        other => format!(
            "CAST(NULLIF({e}, '') AS {})",
            sql_type(other).unwrap_or("BIGINT")
        ),
    };
    let marked =
        |c: &str| format!("CASE WHEN {c} IS NULL THEN 'n' ELSE 'v' || CAST({c} AS STRING) END");
    let unmarked = |t: &str, ty: &DataType, k: &str| {
        format!(
            "CASE WHEN substr({t}, 1, 1) = 'n' THEN NULL ELSE {} END AS {}",
            cast(&format!("substr({t}, 2)"), ty),
            quote(k)
        )
    };
    match (keys, types) {
        ([], _) => ("''".into(), Vec::new(), results),
        ([k], [(ty, nullable)]) => {
            if *nullable || !crate::batch::rows::is_key_type(ty) {
                (marked(&quote(k)), vec![unmarked("`key`", ty, k)], results)
            } else {
                (
                    quote(k),
                    vec![format!("{} AS {}", cast("`key`", ty), quote(k))],
                    results,
                )
            }
        }
        _ => {
            let key = keys
                .iter()
                .map(|k| {
                    let t = marked(&quote(k));
                    format!("CAST(character_length({t}) AS STRING) || ':' || {t}")
                })
                .collect::<Vec<_>>()
                .join(" || ");
            let mut source = results;
            let mut rest = "`key`".to_string();
            for j in 0..keys.len() {
                let colon = format!("strpos({rest}, ':')");
                let len = format!("CAST(substr({rest}, 1, {colon} - 1) AS BIGINT)");
                source = format!(
                    "(SELECT *, substr({rest}, {colon} + 1, {len}) AS `__kt{j}`, substr({rest}, {colon} + 1 + {len}) AS `__kr{j}` FROM {source} AS `__k{j}`)"
                );
                rest = format!("`__kr{j}`");
            }
            let columns = keys
                .iter()
                .zip(types)
                .enumerate()
                .map(|(j, (k, (ty, _)))| unmarked(&format!("`__kt{j}`"), ty, k))
                .collect();
            (key, columns, format!("{source} AS `__keys`"))
        }
    }
}
