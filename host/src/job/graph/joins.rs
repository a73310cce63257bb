//! A join stage's checks: its kind (window, interval, regular) and the
//! settings each kind takes.

use crate::job::checks::Checker;
use crate::job::stages::{JoinSpec, parse_signed_duration_ms};
use crate::job::whole::JobSpec;

pub(super) fn check_join(c: &mut Checker, spec: &JobSpec, at: &str, j: &JoinSpec) {
    if j.kind == "regular" {
        // No time: nothing is late, nothing waits for the watermark.
        if j.size.is_some() || j.slide.is_some() || j.lower.is_some() || j.upper.is_some() {
            c.add(
                at,
                "a regular join has no `size`, `slide`, `lower` or `upper` (use a window or interval join)",
            );
        }
        if let Some(ttl) = &j.ttl {
            c.duration(&format!("{at}.ttl"), ttl, true);
        }
        if let Some(outer) = &j.outer {
            if !["left", "right", "full"].contains(&outer.as_str()) {
                c.add(
                    format!("{at}.outer"),
                    format!("unknown outer join `{outer}`; use left, right or full"),
                );
            } else if spec.state.backend != "memory" {
                c.add(
                    format!("{at}.outer"),
                    "an outer join keeps its rows in memory so far: use state.backend = \"memory\"",
                );
            }
        }
        return;
    }
    if j.outer.is_some() {
        c.add(
            format!("{at}.outer"),
            "only a regular join is an outer join so far (window and interval joins are inner)",
        );
    }
    if j.ttl.is_some() {
        c.add(
            format!("{at}.ttl"),
            "only a regular join keeps records for a time to live; a window or interval join drops them by the watermark",
        );
    }
    if spec.event_time.is_none() {
        c.add(
            "event_time",
            "joins run on event time: add [event_time] with the timestamp field",
        );
    }
    if spec.late_output.is_none() {
        c.add(
            "late_output",
            "joins need [late_output] for records that arrive after the watermark passed them \
             (use type = \"discard\" to drop them knowingly)",
        );
    }
    match j.kind.as_str() {
        "window" => {
            if j.lower.is_some() || j.upper.is_some() {
                c.add(at, "`lower` and `upper` belong to interval joins");
            }
            let size = match &j.size {
                Some(t) => c.duration(&format!("{at}.size"), t, true),
                None => {
                    c.add(format!("{at}.size"), "a window join needs the window size");
                    None
                }
            };
            match j.window.as_str() {
                "tumbling" => {}
                "sliding" => {
                    let slide = match &j.slide {
                        Some(t) => c.duration(&format!("{at}.slide"), t, true),
                        None => {
                            c.add(format!("{at}.slide"), "a sliding window needs the slide");
                            None
                        }
                    };
                    if let (Some(size), Some(slide)) = (size, slide)
                        && (slide > size || size % slide != 0)
                    {
                        c.add(format!("{at}.slide"), "must divide the window's size");
                    }
                }
                "session" => c.add(
                    format!("{at}.window"),
                    "session window joins are not supported yet; use tumbling or sliding",
                ),
                other => c.add(
                    format!("{at}.window"),
                    format!("unknown window `{other}`; use tumbling or sliding"),
                ),
            }
        }
        "interval" => {
            if j.size.is_some() || j.slide.is_some() {
                c.add(at, "`size` and `slide` belong to window joins");
            }
            let bound = |c: &mut Checker, name: &str, v: &Option<String>| match v {
                Some(t) => match parse_signed_duration_ms(t) {
                    Ok(ms) => Some(ms),
                    Err(e) => {
                        c.add(format!("{at}.{name}"), e);
                        None
                    }
                },
                None => {
                    c.add(
                        format!("{at}.{name}"),
                        "an interval join needs `lower` and `upper` (e.g. \"-5s\" and \"5s\")",
                    );
                    None
                }
            };
            let lower = bound(c, "lower", &j.lower);
            let upper = bound(c, "upper", &j.upper);
            if let (Some(l), Some(u)) = (lower, upper)
                && l > u
            {
                c.add(
                    format!("{at}.upper"),
                    "must not be below `lower`: right records match when left.ts + lower <= right.ts <= left.ts + upper",
                );
            }
        }
        other => c.add(
            format!("{at}.type"),
            format!("unknown join `{other}`; use window, interval or regular"),
        ),
    }
}
