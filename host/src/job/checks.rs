//! The checks shared by the one-chain sections and the job graph's
//! stages: the [`Checker`] that collects problems, and the checks of an
//! operator and of a window wherever they are written.

use super::spec::*;
use super::whole::JobSpec;
use crate::time::parse_duration_ms;
use std::fmt;

/// One problem in a job file: where (a path into the TOML) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where, as a TOML path: `window.size`, `operators[1].name`.
    pub at: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

pub(super) struct Checker(pub(super) Vec<Problem>);

impl Checker {
    pub(super) fn add(&mut self, at: impl Into<String>, message: impl std::fmt::Display) {
        self.0.push(Problem {
            at: at.into(),
            message: message.to_string(),
        });
    }
    pub(super) fn duration(&mut self, at: &str, text: &str, positive: bool) -> Option<i64> {
        match parse_duration_ms(text) {
            Ok(ms) if positive && ms <= 0 => {
                self.add(at, format!("must be longer than 0, got `{text}`"));
                None
            }
            Ok(ms) => Some(ms),
            Err(e) => {
                self.add(at, e);
                None
            }
        }
    }
}

const GRANTS: &[&str] = &["clocks", "random", "stdio"];
const AGGREGATES: &[&str] = &["count", "sum", "min", "max", "avg"];

pub(super) fn check_operator(c: &mut Checker, at: &str, op: &OperatorSpec) {
    if op.name.trim().is_empty() {
        c.add(format!("{at}.name"), "must not be empty");
    }
    if op.component.as_os_str().is_empty() {
        c.add(
            format!("{at}.component"),
            "must name a .wasm file or an operator project directory",
        );
    }
    for g in &op.grants {
        if !GRANTS.contains(&g.as_str()) {
            c.add(
                format!("{at}.grants"),
                format!("unknown capability `{g}`; grantable: {GRANTS:?} (files and sockets are never granted)"),
            );
        }
    }
}

/// A window's checks; `at` is where it is written (`window`,
/// `stages[2].window`).
pub(super) fn check_window(c: &mut Checker, at: &str, w: &WindowSpec, spec: &JobSpec) {
    match w.kind.as_str() {
        "tumbling" => {
            require(c, &format!("{at}.size"), &w.size, true);
        }
        "sliding" => {
            let size = require(c, &format!("{at}.size"), &w.size, true);
            let slide = require(c, &format!("{at}.slide"), &w.slide, true);
            if let (Some(size), Some(slide)) = (size, slide)
                && (slide > size || size % slide != 0)
            {
                c.add(
                    format!("{at}.slide"),
                    "must divide the window's size (e.g. size = \"1m\", slide = \"10s\")",
                );
            }
        }
        "cumulate" => {
            let size = require(c, &format!("{at}.size"), &w.size, true);
            let step = require(c, &format!("{at}.step"), &w.step, true);
            if let (Some(size), Some(step)) = (size, step)
                && (step > size || size % step != 0)
            {
                c.add(
                    format!("{at}.step"),
                    "must divide the window's size (e.g. size = \"1h\", step = \"10m\")",
                );
            }
        }
        "session" => {
            require(c, &format!("{at}.gap"), &w.gap, true);
        }
        "global" => {
            if let Some(ttl) = &w.ttl {
                c.duration(&format!("{at}.ttl"), ttl, true);
            }
        }
        other => c.add(
            format!("{at}.type"),
            format!("unknown window `{other}`; use tumbling, sliding, cumulate, session or global"),
        ),
    }
    if w.skip_nulls && w.aggregate.is_none() {
        c.add(
            format!("{at}.skip_nulls"),
            "is for a Wasm aggregate over columns (`aggregate`); built-in aggregates take only numbers",
        );
    }
    if w.sign.is_some() && w.kind != "global" {
        c.add(
            format!("{at}.sign"),
            "only a global window takes a changelog (a window that fires once cannot take a row back)",
        );
    }
    if w.sign.is_some() && w.aggregate.is_some() {
        c.add(
            format!("{at}.sign"),
            "a Wasm aggregate function cannot take a row back; over a changelog use built-in aggregates",
        );
    }
    if w.ttl.is_some() && w.kind != "global" {
        c.add(
            format!("{at}.ttl"),
            "only a global window has a time to live (other windows are dropped as time passes them)",
        );
    }
    match w.time.as_str() {
        // A global window never fires: it needs no watermark, and no
        // record is late for it.
        _ if w.kind == "global" => {}
        "event" => {
            if spec.event_time.is_none() {
                c.add(
                    "event_time",
                    "event-time windows need [event_time] with the timestamp field",
                );
            }
            if spec.late_output.is_none() {
                c.add(
                    "late_output",
                    "event-time windows need [late_output] for records that arrive after their window closed \
                     (use type = \"discard\" to drop them knowingly)",
                );
            }
        }
        "processing" => {}
        other => c.add(
            format!("{at}.time"),
            format!("unknown time `{other}`; use event or processing"),
        ),
    }
    c.duration(
        &format!("{at}.allowed_lateness"),
        &w.allowed_lateness,
        false,
    );
    match &w.aggregate {
        // Built-ins may go beside a Wasm aggregate over columns (their
        // results first; the plan refuses them beside one over events).
        Some(a) => check_operator(c, &format!("{at}.aggregate"), a),
        None if w.aggregates.is_empty() => c.add(
            format!("{at}.aggregates"),
            "add at least one aggregate, e.g. [{ fn = \"count\" }]",
        ),
        None => {}
    }
    let mut outputs = std::collections::BTreeSet::new();
    for (i, a) in w.aggregates.iter().enumerate() {
        let at = format!("{at}.aggregates[{i}]");
        if !AGGREGATES.contains(&a.function.as_str()) {
            c.add(
                format!("{at}.fn"),
                format!(
                    "unknown aggregate `{}`; use one of {AGGREGATES:?}",
                    a.function
                ),
            );
        } else if a.function != "count" && a.field.is_none() {
            c.add(
                format!("{at}.field"),
                format!("`{}` needs the numeric field to aggregate", a.function),
            );
        }
        let out = a.output_name();
        if !outputs.insert(out.clone()) {
            c.add(
                format!("{at}.as"),
                format!("output field `{out}` appears twice; set `as` to tell them apart"),
            );
        }
    }
}

fn require(c: &mut Checker, at: &str, v: &Option<String>, positive: bool) -> Option<i64> {
    match v {
        Some(t) => c.duration(at, t, positive),
        None => {
            c.add(at, "is required for this window type");
            None
        }
    }
}
