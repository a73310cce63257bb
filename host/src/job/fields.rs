//! The fields of a job graph's records, where weir makes them (windows
//! with built-in aggregates, joins), so that a key or an aggregate field a
//! stage's records cannot have is refused before the job runs.

use super::checks::Checker;
use super::order::topological_order;
use super::stages::StageSpec;
use std::collections::{BTreeMap, BTreeSet};

/// The fields of a stage's records, where weir makes them: a window with
/// built-in aggregates, a join (`left.*` and `right.*` are the joined
/// records' own fields, unknown). `None`: whatever its operators emit.
fn output_fields(s: &StageSpec, of: &BTreeMap<&str, Option<Fields>>) -> Option<Fields> {
    if let Some(w) = &s.window {
        if w.aggregate.is_some() {
            return None;
        }
        let mut f: BTreeSet<String> = ["key", "window_start", "window_end"]
            .into_iter()
            .map(String::from)
            .collect();
        f.extend(w.aggregates.iter().map(|a| a.output_name()));
        return Some(Fields(f));
    }
    if let Some(j) = &s.join {
        let mut f: BTreeSet<String> = ["key", "left", "right"]
            .into_iter()
            .map(String::from)
            .collect();
        if j.kind == "window" {
            f.extend(["window_start".to_string(), "window_end".to_string()]);
        }
        return Some(Fields(f));
    }
    // Operators, a query, an OVER or a rank stage make their own columns.
    if !s.operators.is_empty()
        || s.keyed.is_some()
        || s.sql.is_some()
        || s.over.is_some()
        || s.rank.is_some()
    {
        return None;
    }
    // A union or key-by passes records on: fields all its inputs have.
    let mut common: Option<BTreeSet<String>> = None;
    for input in s.input_names() {
        let Some(Some(Fields(f))) = of.get(input) else {
            return None;
        };
        common = Some(match common {
            None => f.clone(),
            Some(c) => c.intersection(f).cloned().collect(),
        });
    }
    common.map(Fields)
}

/// Known top-level fields of a stage's records.
#[derive(Clone)]
struct Fields(BTreeSet<String>);

impl Fields {
    /// Whether the dotted path `path` can exist (below `left`/`right` of a
    /// join anything can).
    fn has(&self, path: &str) -> bool {
        let top = path.split('.').next().unwrap_or(path);
        self.0.contains(top) && (top == "left" || top == "right" || top == path)
    }
    fn list(&self) -> String {
        self.0.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// Fields a stage reads (keys, aggregate inputs) must be in the records
/// its inputs make, where weir knows them.
pub(super) fn check_fields(c: &mut Checker, stages: &[StageSpec]) {
    let Ok(order) = topological_order(stages) else {
        return;
    };
    let mut of: BTreeMap<&str, Option<Fields>> = BTreeMap::new();
    for i in order {
        let s = &stages[i];
        let at = format!("stages[{i}]");
        let mut reads: Vec<(String, &str, &str)> = Vec::new();
        for (k, input) in s.input_names().into_iter().enumerate() {
            if let Some(key) = s.key_of_input(k) {
                let place = match &s.join {
                    Some(_) if k == 0 => format!("{at}.join.left_key"),
                    Some(_) => format!("{at}.join.right_key"),
                    None => format!("{at}.key_by.field"),
                };
                reads.push((place, input, key));
            }
            if let Some(w) = &s.window {
                for (a, agg) in w.aggregates.iter().enumerate() {
                    if let Some(f) = &agg.field {
                        reads.push((format!("{at}.window.aggregates[{a}].field"), input, f));
                    }
                }
                if let Some(f) = &w.sign {
                    reads.push((format!("{at}.window.sign"), input, f));
                }
            }
        }
        for (place, input, field) in reads {
            if let Some(Some(fields)) = of.get(input)
                && !fields.has(field)
            {
                c.add(
                    place,
                    format!(
                        "`{field}` is not a field of the records of stage `{input}`; they have {}",
                        fields.list()
                    ),
                );
            }
        }
        of.insert(s.name.as_str(), output_fields(s, &of));
    }
}
