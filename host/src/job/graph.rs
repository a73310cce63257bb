//! The checks of a job graph (`[[stages]]`): names, inputs, no cycles, one
//! stage feeding the sink, and what each kind of stage needs.

use super::checks::{Checker, check_operator, check_window};
use super::fields::check_fields;
use super::order::topological_order;
use super::stages::{MAX_RANK, OverSpec, Preceding, RankSpec, SOURCE, StageSpec};
use super::whole::JobSpec;
use std::collections::{BTreeMap, BTreeSet};

/// Whether each stage's subtasks see every step of the source (`true`:
/// its input was partitioned by key) or take turns (`false`: it reads the
/// source, or stages that take turns, without a key).
pub fn keyed_stages(stages: &[StageSpec]) -> BTreeMap<String, bool> {
    let mut keyed = BTreeMap::new();
    if let Ok(order) = topological_order(stages) {
        for i in order {
            let s = &stages[i];
            let k = s.join.is_some()
                || s.key_by.is_some()
                || s.input_names()
                    .iter()
                    .any(|n| keyed.get(*n).copied().unwrap_or(false));
            keyed.insert(s.name.clone(), k);
        }
    }
    keyed
}

/// The stage no other stage and no named sink reads: it feeds `[sink]`.
pub fn last_stage(spec: &JobSpec) -> Option<&StageSpec> {
    let mut last = spec
        .stages
        .iter()
        .filter(|s| !read_names(spec).contains(s.name.as_str()));
    match (last.next(), last.next()) {
        (Some(s), None) => Some(s),
        _ => None,
    }
}

/// What stages and named sinks read.
fn read_names(spec: &JobSpec) -> BTreeSet<&str> {
    let mut read: BTreeSet<&str> = spec.stages.iter().flat_map(|s| s.input_names()).collect();
    read.extend(spec.sinks.iter().map(|s| s.input.as_str()));
    read
}

/// Names a named sink may not take: the job's other outputs'.
const OUTPUT_NAMES: [&str; 3] = ["sink", "late_output", "dead_letter"];

fn check_sinks(c: &mut Checker, spec: &JobSpec, stages: &BTreeSet<&str>) {
    if !spec.sinks.is_empty() && spec.stages.is_empty() {
        c.add(
            "sinks",
            "named sinks write stages of a job graph; declare the job's [[stages]]",
        );
        return;
    }
    let mut names = BTreeSet::new();
    for (i, s) in spec.sinks.iter().enumerate() {
        let at = format!("sinks[{i}]");
        if !valid_name(&s.name) || OUTPUT_NAMES.contains(&s.name.as_str()) {
            c.add(
                format!("{at}.name"),
                format!(
                    "`{}` is not a sink name; use 1-64 letters, digits, `-` or `_`, other than {}",
                    s.name,
                    OUTPUT_NAMES.join(", ")
                ),
            );
        } else if !names.insert(s.name.as_str()) {
            c.add(
                format!("{at}.name"),
                format!("sink name `{}` is used twice", s.name),
            );
        }
        if !stages.contains(s.input.as_str()) {
            c.add(
                format!("{at}.input"),
                format!("no stage is called `{}`; name the stage to write", s.input),
            );
        }
    }
}

/// The names of the job's `[[sources]]`, checked: valid, unique, not a
/// stage's, and read by some stage.
fn check_sources<'a>(
    c: &mut Checker,
    spec: &'a JobSpec,
    stages: &BTreeSet<&str>,
) -> BTreeSet<&'a str> {
    let mut names = BTreeSet::new();
    if !spec.sources.is_empty() && spec.stages.is_empty() {
        c.add(
            "sources",
            "named sources are read by stages of a job graph; declare the job's [[stages]]",
        );
        return names;
    }
    let read = read_names(spec);
    if !spec.sources.is_empty() && !read.contains(SOURCE) {
        c.add(
            "source",
            "no stage reads [source]; name `source` in a stage's inputs (every source of a job must be read)",
        );
    }
    for (i, s) in spec.sources.iter().enumerate() {
        let at = format!("sources[{i}].name");
        if s.name == SOURCE || !valid_name(&s.name) {
            c.add(
                at,
                format!(
                    "`{}` is not a source name; use 1-64 letters, digits, `-` or `_`, other than `source` (the name of [source])",
                    s.name
                ),
            );
        } else if stages.contains(s.name.as_str()) {
            c.add(
                at,
                format!(
                    "`{}` names a stage too; give the source a name of its own",
                    s.name
                ),
            );
        } else if !names.insert(s.name.as_str()) {
            c.add(at, format!("source name `{}` is used twice", s.name));
        } else if !read.contains(s.name.as_str()) {
            c.add(
                at,
                format!(
                    "no stage reads source `{}`; name it in a stage's inputs, or remove it",
                    s.name
                ),
            );
        }
    }
    names
}

/// Whether `name` may name a stage or a sink: 1-64 letters, digits, `-`
/// or `_` (it becomes part of paths).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub(super) fn check(c: &mut Checker, spec: &JobSpec) {
    for (section, present) in [
        ("operators", !spec.operators.is_empty()),
        ("key_by", spec.key_by.is_some()),
        ("window", spec.window.is_some()),
        ("keyed", spec.keyed.is_some()),
    ] {
        if present {
            c.add(
                section,
                "a job lists either [[stages]] or the one-chain sections ([[operators]], [key_by], [window], [keyed]), not both; move it into a stage",
            );
        }
    }
    let mut names = BTreeSet::new();
    for (i, s) in spec.stages.iter().enumerate() {
        let at = format!("stages[{i}]");
        if s.name == SOURCE {
            c.add(
                format!("{at}.name"),
                "`source` is the name of the job's source; call the stage something else",
            );
        } else if !valid_name(&s.name) {
            c.add(
                format!("{at}.name"),
                format!(
                    "`{}` is not a stage name; use 1-64 letters, digits, `-` or `_`",
                    s.name
                ),
            );
        } else if !names.insert(s.name.as_str()) {
            c.add(
                format!("{at}.name"),
                format!("stage name `{}` is used twice", s.name),
            );
        }
    }
    let sources = check_sources(c, spec, &names);
    let readable: BTreeSet<&str> = names.union(&sources).copied().collect();
    for (i, s) in spec.stages.iter().enumerate() {
        check_stage(c, spec, &format!("stages[{i}]"), s, &readable);
    }
    if let Err(cycle) = topological_order(&spec.stages) {
        c.add(
            "stages",
            format!(
                "the stages {} read each other in a cycle; a job graph flows one way, from the source to the sink",
                cycle
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        return;
    }
    check_sinks(c, spec, &names);
    let read = read_names(spec);
    let ends: Vec<&str> = spec
        .stages
        .iter()
        .map(|s| s.name.as_str())
        .filter(|n| !read.contains(n))
        .collect();
    if ends.len() > 1 {
        c.add(
            "stages",
            format!(
                "stages {} are read by no other stage and no named sink, but only one stage can feed [sink]; read them together in a union stage (inputs = [...]), or write the others with [[sinks]]",
                ends.iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    } else if ends.is_empty() && !spec.stages.is_empty() {
        c.add(
            "sinks",
            "every stage is read by another stage or a named sink, so [sink] has nothing to write; leave one stage to it",
        );
    }
    check_fields(c, &spec.stages);
    let keyed = keyed_stages(&spec.stages);
    for (i, s) in spec.stages.iter().enumerate() {
        if s.join.is_some() || s.key_by.is_some() {
            continue;
        }
        let kinds: BTreeSet<bool> = s
            .input_names()
            .iter()
            .map(|n| keyed.get(*n).copied().unwrap_or(false))
            .collect();
        if kinds.len() > 1 {
            c.add(
                format!("stages[{i}].inputs"),
                "mixes inputs partitioned by key with inputs that are not; add key_by to this stage to partition them all alike",
            );
        }
    }
}

fn check_stage(c: &mut Checker, spec: &JobSpec, at: &str, s: &StageSpec, names: &BTreeSet<&str>) {
    let does: Vec<&str> = [
        ("operators", !s.operators.is_empty()),
        ("window", s.window.is_some()),
        ("keyed", s.keyed.is_some()),
        ("join", s.join.is_some()),
        ("sql", s.sql.is_some()),
        ("over", s.over.is_some()),
        ("rank", s.rank.is_some()),
    ]
    .into_iter()
    .filter(|(_, d)| *d)
    .map(|(n, _)| n)
    .collect();
    if let Some(q) = &s.sql {
        if s.inputs.len() != 1 {
            c.add(
                format!("{at}.inputs"),
                "a stage with `sql` reads one input (its query's one table)",
            );
        }
        if s.key_by.is_some() {
            c.add(
                format!("{at}.key_by"),
                "a stage with `sql` evaluates each row on its own: remove key_by",
            );
        }
        if q.query.trim().is_empty() {
            c.add(format!("{at}.sql.query"), "must be a SELECT query");
        }
    }
    if does.len() > 1 {
        c.add(
            at,
            format!(
                "a stage does one thing; split {} into stages",
                does.join(" and ")
            ),
        );
    }
    for (i, op) in s.operators.iter().enumerate() {
        check_operator(c, &format!("{at}.operators[{i}]"), op);
    }
    let known = |n: &str| n == SOURCE || names.contains(n);
    let expected = if spec.sources.is_empty() {
        "name `source` or a stage"
    } else {
        "name `source`, a named source or a stage"
    };
    match &s.join {
        Some(j) => {
            if !s.inputs.is_empty() || s.key_by.is_some() {
                c.add(
                    at,
                    "a join names its inputs and keys in `join` (left, right, left_key, right_key); remove `inputs` and `key_by`",
                );
            }
            for (side, input) in [("left", &j.left), ("right", &j.right)] {
                if !known(input) {
                    c.add(
                        format!("{at}.join.{side}"),
                        format!("no stage is called `{input}`; {expected}"),
                    );
                } else if *input == s.name {
                    c.add(format!("{at}.join.{side}"), "a stage cannot read itself");
                }
            }
            for (side, key) in [("left_key", &j.left_key), ("right_key", &j.right_key)] {
                if key.trim().is_empty() {
                    c.add(
                        format!("{at}.join.{side}"),
                        "must name the key field (dotted path)",
                    );
                }
            }
            check_join(c, spec, &format!("{at}.join"), j);
        }
        None => {
            if s.inputs.is_empty() {
                c.add(
                    format!("{at}.inputs"),
                    "must name what the stage reads: `source` or other stages",
                );
            }
            for (k, input) in s.inputs.iter().enumerate() {
                if !known(input) {
                    c.add(
                        format!("{at}.inputs[{k}]"),
                        format!("no stage is called `{input}`; {expected}"),
                    );
                } else if *input == s.name {
                    c.add(format!("{at}.inputs[{k}]"), "a stage cannot read itself");
                }
            }
            if (s.window.is_some() || s.keyed.is_some() || s.over.is_some() || s.rank.is_some())
                && s.key_by.is_none()
            {
                c.add(
                    format!("{at}.key_by"),
                    "a window, keyed operator, over aggregation or rank needs key_by with the field to partition by",
                );
            }
            if does.is_empty() && s.inputs.len() < 2 && s.key_by.is_none() {
                c.add(
                    at,
                    "does nothing: give it operators, a window, a keyed operator or a join, several inputs (a union), or key_by",
                );
            }
        }
    }
    if let Some(w) = &s.window {
        check_window(c, &format!("{at}.window"), w, spec);
    }
    if let Some(k) = &s.keyed {
        check_operator(c, &format!("{at}.keyed"), k);
    }
    for (i, f) in s.sql.iter().flat_map(|q| &q.functions).enumerate() {
        check_operator(c, &format!("{at}.sql.functions[{i}]"), f);
    }
    if let Some(o) = &s.over {
        check_over(c, spec, &format!("{at}.over"), o, s);
    }
    if let Some(r) = &s.rank {
        check_rank(c, spec, &format!("{at}.rank"), r, s);
    }
}

/// A rank stage: its order, its places, its ties, and an input that comes
/// as typed columns.
fn check_rank(c: &mut Checker, spec: &JobSpec, at: &str, r: &RankSpec, s: &StageSpec) {
    if r.order_by.is_empty() {
        c.add(
            format!("{at}.order_by"),
            "needs at least one column to order by, e.g. order_by = [{ field = \"amount\", desc = true }]",
        );
    }
    for (i, o) in r.order_by.iter().enumerate() {
        if o.field.is_empty() {
            c.add(format!("{at}.order_by[{i}].field"), "names no column");
        }
    }
    if r.from < 1 || r.from > r.to {
        c.add(
            at,
            format!(
                "places {}..={}: the first place is at least 1 and at most the last (`to`)",
                r.from, r.to
            ),
        );
    }
    if r.to > MAX_RANK {
        c.add(
            format!("{at}.to"),
            format!("{} places per key; at most {MAX_RANK} are kept", r.to),
        );
    }
    if !matches!(r.ties.as_str(), "earlier" | "later") {
        c.add(
            format!("{at}.ties"),
            format!("unknown `{}`; use earlier or later", r.ties),
        );
    }
    if r.number.as_deref().is_some_and(str::is_empty) {
        c.add(format!("{at}.number"), "names no column");
    }
    match r.sign.as_deref() {
        Some("") => c.add(format!("{at}.sign"), "names no column"),
        Some(_) if r.at_watermark => c.add(
            format!("{at}.sign"),
            "a rank at the watermark ranks a window's results, which are inserts; \
             drop `sign` or `at_watermark`",
        ),
        _ => {}
    }
    if !reads_columns(spec, s) {
        c.add(
            at,
            "a rank stage reads typed columns: its one input is a source or a stage with `sql` \
             (add one, e.g. sql = { query = \"SELECT * FROM t\", table = \"t\" })",
        );
    }
}

/// Stage `s` reads one input that comes as typed columns: a source or a
/// stage with `sql`.
fn reads_columns(spec: &JobSpec, s: &StageSpec) -> bool {
    let columns = |input: &str| {
        input == SOURCE
            || spec.sources.iter().any(|n| n.name == input)
            || spec
                .stages
                .iter()
                .any(|st| st.name == input && st.sql.is_some())
    };
    matches!(s.inputs.as_slice(), [input] if columns(input))
}

/// An `over` stage: its frame, its aggregates, event time, and an input
/// that comes as typed columns.
fn check_over(c: &mut Checker, spec: &JobSpec, at: &str, o: &OverSpec, s: &StageSpec) {
    match (o.frame.as_str(), &o.preceding) {
        ("rows", None | Some(Preceding::Rows(_))) => {}
        ("range", None) => {}
        ("range", Some(Preceding::Time(t))) => {
            if crate::time::parse_duration_ms(t).is_err() {
                c.add(
                    format!("{at}.preceding"),
                    format!("`{t}` is not a duration (e.g. \"10s\", \"1m\")"),
                );
            }
        }
        ("rows", Some(Preceding::Time(_))) => c.add(
            format!("{at}.preceding"),
            "a rows frame reaches back a number of rows (preceding = 2); for a duration use frame = \"range\"",
        ),
        ("range", Some(Preceding::Rows(_))) => c.add(
            format!("{at}.preceding"),
            "a range frame reaches back a duration (preceding = \"10s\"); for a number of rows use frame = \"rows\"",
        ),
        (other, _) => c.add(
            format!("{at}.frame"),
            format!("unknown frame `{other}`; use rows or range"),
        ),
    }
    if o.aggregates.is_empty() {
        c.add(format!("{at}.aggregates"), "needs at least one aggregate");
    }
    for (i, a) in o.aggregates.iter().enumerate() {
        match a.function.as_str() {
            "count" => {}
            "sum" | "min" | "max" | "avg" if a.field.is_some() => {}
            "sum" | "min" | "max" | "avg" => c.add(
                format!("{at}.aggregates[{i}].field"),
                format!("`{}` needs the numeric field it aggregates", a.function),
            ),
            other => c.add(
                format!("{at}.aggregates[{i}].fn"),
                format!("unknown aggregate `{other}`; use count, sum, min, max or avg"),
            ),
        }
    }
    let processing = match o.time.as_str() {
        "event" => false,
        "processing" => true,
        other => {
            c.add(
                format!("{at}.time"),
                format!("unknown time `{other}`; use event or processing"),
            );
            false
        }
    };
    if !processing
        && spec.event_time.is_none()
        && spec.sources.iter().all(|n| n.event_time.is_none())
    {
        c.add(
            "event_time",
            "an over aggregation orders rows by event time: it needs [event_time] with the timestamp field \
             (or time = \"processing\" to order them as they come)",
        );
    }
    if !processing && spec.late_output.is_none() {
        c.add(
            "late_output",
            "an over aggregation needs [late_output] for rows that come after their key moved past them \
             (use type = \"discard\" to drop them knowingly)",
        );
    }
    if !reads_columns(spec, s) {
        c.add(
            at,
            "an over aggregation reads typed columns: its one input is a source or a stage with `sql` \
             (add one, e.g. sql = { query = \"SELECT * FROM t\", table = \"t\" })",
        );
    }
}

mod joins;
use joins::check_join;

#[cfg(test)]
mod tests;
