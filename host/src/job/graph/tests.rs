use super::super::{JobSpec, validate};

fn problems(stages: &str) -> Vec<String> {
    let text = format!(
        "name = \"g\"\n[source]\ntype = \"stdin\"\n[event_time]\nfield = \"ts\"\n[sink]\ntype = \"stdout\"\n[late_output]\ntype = \"discard\"\n{stages}"
    );
    let spec: JobSpec = toml::from_str(&text).unwrap();
    validate(&spec).into_iter().map(|p| p.to_string()).collect()
}

const OPS: &str = "operators = [{ name = \"f\", component = \"f.wasm\" }]";

#[test]
fn a_join_of_two_branches_is_valid() {
    let p = problems(&format!(
        "[[stages]]\nname = \"a\"\ninputs = [\"source\"]\n{OPS}\n\
         [[stages]]\nname = \"b\"\ninputs = [\"source\"]\noperators = [{{ name = \"g\", component = \"g.wasm\" }}]\n\
         [[stages]]\nname = \"j\"\njoin = {{ type = \"interval\", left = \"a\", right = \"b\", left_key = \"k\", right_key = \"k\", lower = \"-1s\", upper = \"1s\" }}\n"
    ));
    assert!(p.is_empty(), "{p:?}");
}

#[test]
fn a_regular_join_needs_no_event_time_and_takes_only_a_time_to_live() {
    let join = |extra: &str| {
        let text = format!(
            "name = \"g\"\n[source]\ntype = \"stdin\"\n[sink]\ntype = \"stdout\"\n\
             [[stages]]\nname = \"a\"\ninputs = [\"source\"]\n{OPS}\n\
             [[stages]]\nname = \"b\"\ninputs = [\"source\"]\noperators = [{{ name = \"g\", component = \"g.wasm\" }}]\n\
             [[stages]]\nname = \"j\"\njoin = {{ type = \"regular\", left = \"a\", right = \"b\", left_key = \"k\", right_key = \"k\"{extra} }}\n"
        );
        let spec: JobSpec = toml::from_str(&text).unwrap();
        validate(&spec)
            .into_iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
    };
    assert!(join("").is_empty(), "{:?}", join(""));
    assert!(join(", ttl = \"1h\"").is_empty());
    let p = join(", ttl = \"0s\"");
    assert!(
        p.iter().any(|p| p.starts_with("stages[2].join.ttl")),
        "{p:?}"
    );
    let p = join(", lower = \"1s\"");
    assert!(
        p.iter().any(|p| p.contains("a regular join has no")),
        "{p:?}"
    );
    // An outer join is a regular join's, in memory.
    assert!(join(", outer = \"full\"").is_empty());
    let p = join(", outer = \"both\"");
    assert!(
        p.iter()
            .any(|p| p.contains("unknown outer join `both`; use left, right or full")),
        "{p:?}"
    );
    let p = join(", outer = \"left\" }\n[state]\nbackend = \"rocksdb\"\n#");
    assert!(
        p.iter().any(|p| p.contains("keeps its rows in memory")),
        "{p:?}"
    );
    // A time to live is a regular join's alone.
    let p = problems(&format!(
        "[[stages]]\nname = \"a\"\ninputs = [\"source\"]\n{OPS}\n\
         [[stages]]\nname = \"b\"\ninputs = [\"source\"]\noperators = [{{ name = \"g\", component = \"g.wasm\" }}]\n\
         [[stages]]\nname = \"j\"\njoin = {{ type = \"interval\", left = \"a\", right = \"b\", left_key = \"k\", right_key = \"k\", lower = \"-1s\", upper = \"1s\", ttl = \"1h\" }}\n"
    ));
    assert!(
        p.iter()
            .any(|p| p.starts_with("stages[2].join.ttl: only a regular join")),
        "{p:?}"
    );
    let p = problems(&format!(
        "[[stages]]\nname = \"a\"\ninputs = [\"source\"]\n{OPS}\n\
         [[stages]]\nname = \"b\"\ninputs = [\"source\"]\noperators = [{{ name = \"g\", component = \"g.wasm\" }}]\n\
         [[stages]]\nname = \"j\"\njoin = {{ type = \"interval\", left = \"a\", right = \"b\", left_key = \"k\", right_key = \"k\", lower = \"-1s\", upper = \"1s\", outer = \"left\" }}\n"
    ));
    assert!(
        p.iter()
            .any(|p| p.starts_with("stages[2].join.outer: only a regular join")),
        "{p:?}"
    );
}

#[test]
fn cycles_unknown_inputs_and_two_ends_are_refused() {
    let p = problems(
        "[[stages]]\nname = \"a\"\ninputs = [\"b\", \"source\"]\n\
         [[stages]]\nname = \"b\"\ninputs = [\"a\", \"source\"]\n",
    );
    assert!(p.iter().any(|p| p.contains("cycle")), "{p:?}");
    let p = problems(&format!(
        "[[stages]]\nname = \"a\"\ninputs = [\"nope\"]\n{OPS}\n"
    ));
    assert!(
        p.iter()
            .any(|p| p.starts_with("stages[0].inputs[0]") && p.contains("`nope`")),
        "{p:?}"
    );
    let p = problems(&format!(
        "[[stages]]\nname = \"a\"\ninputs = [\"source\"]\n{OPS}\n\
         [[stages]]\nname = \"b\"\ninputs = [\"source\"]\noperators = [{{ name = \"g\", component = \"g.wasm\" }}]\n"
    ));
    assert!(
        p.iter()
            .any(|p| p.contains("`a`, `b` are read by no other")),
        "{p:?}"
    );
}

#[test]
fn named_sinks_write_stages_and_leave_one_to_the_sink() {
    let two = format!(
        "[[stages]]\nname = \"a\"\ninputs = [\"source\"]\n{OPS}\n\
         [[stages]]\nname = \"b\"\ninputs = [\"source\"]\noperators = [{{ name = \"g\", component = \"g.wasm\" }}]\n"
    );
    let sink = |name: &str, input: &str| {
        format!(
            "[[sinks]]\nname = \"{name}\"\ninput = \"{input}\"\ntype = \"file\"\npath = \"{name}.jsonl\"\n"
        )
    };
    // `b` to a named sink, `a` (read by nothing else) to [sink].
    let p = problems(&format!("{two}{}", sink("bees", "b")));
    assert!(p.is_empty(), "{p:?}");
    let spec: JobSpec = toml::from_str(&format!(
        "name = \"g\"\n[source]\ntype = \"stdin\"\n[sink]\ntype = \"stdout\"\n{two}{}",
        sink("bees", "b")
    ))
    .unwrap();
    assert_eq!(super::last_stage(&spec).map(|s| s.name.as_str()), Some("a"));
    let p = problems(&format!(
        "{two}{}{}{}{}",
        sink("bees", "b"),
        sink("bees", "a"),
        sink("sink", "a"),
        sink("x", "nope")
    ));
    for want in [
        "sinks[1].name: sink name `bees` is used twice",
        "sinks[2].name: `sink` is not a sink name",
        "sinks[3].input: no stage is called `nope`",
    ] {
        assert!(p.iter().any(|p| p.starts_with(want)), "{want}: {p:?}");
    }
    // A setting the sink does not have is refused, as in [sink].
    let typo = format!(
        "name = \"g\"\n[source]\ntype = \"stdin\"\n[sink]\ntype = \"stdout\"\n{two}{}",
        sink("bees", "b").replace("path =", "pth =")
    );
    let e = toml::from_str::<JobSpec>(&typo).unwrap_err().to_string();
    assert!(e.contains("pth"), "{e}");
    let p = problems(&format!(
        "{two}[[stages]]\nname = \"u\"\ninputs = [\"a\", \"b\"]\n{}",
        sink("all", "u")
    ));
    assert!(
        p.iter()
            .any(|p| p.starts_with("sinks: every stage is read")),
        "{p:?}"
    );
}

#[test]
fn stage_mistakes_are_named_where_they_are() {
    let p = problems(
        "[[stages]]\nname = \"source\"\ninputs = [\"source\"]\n\
         [[stages]]\nname = \"w\"\ninputs = [\"source\"]\nwindow = { type = \"tumbling\", size = \"1s\", aggregates = [{ fn = \"count\" }] }\n\
         [[stages]]\nname = \"j\"\njoin = { type = \"interval\", left = \"w\", right = \"w\", left_key = \"\", right_key = \"k\", lower = \"2s\", upper = \"1s\" }\n",
    );
    for want in [
        "stages[0].name: `source` is the name",
        "stages[1].key_by: a window, keyed operator, over aggregation or rank needs key_by",
        "stages[2].join.left_key: must name",
        "stages[2].join.upper: must not be below",
    ] {
        assert!(p.iter().any(|p| p.starts_with(want)), "{want}: {p:?}");
    }
}

#[test]
fn keys_and_fields_must_be_in_the_records_of_the_stage_they_read() {
    let p = problems(
        "[[stages]]\nname = \"w\"\ninputs = [\"source\"]\nkey_by = { field = \"user\" }\n\
         window = { type = \"tumbling\", size = \"1s\", aggregates = [{ fn = \"count\", as = \"n\" }] }\n\
         [[stages]]\nname = \"v\"\ninputs = [\"w\"]\nkey_by = { field = \"user\" }\n\
         window = { type = \"tumbling\", size = \"1s\", aggregates = [{ fn = \"sum\", field = \"n\" }, { fn = \"max\", field = \"amount\" }] }\n",
    );
    assert!(
        p.iter().any(
            |p| p.starts_with("stages[1].key_by.field: `user` is not a field")
                && p.contains("key, n, window_end, window_start")
        ),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|p| p.starts_with("stages[1].window.aggregates[1].field: `amount`")),
        "{p:?}"
    );
    assert!(
        !p.iter().any(|p| p.contains("aggregates[0]")),
        "`n` is a field: {p:?}"
    );
}

#[test]
fn a_union_of_keyed_and_unkeyed_streams_needs_key_by() {
    let p = problems(&format!(
        "[[stages]]\nname = \"a\"\ninputs = [\"source\"]\nkey_by = {{ field = \"k\" }}\n\
         [[stages]]\nname = \"b\"\ninputs = [\"source\"]\n{OPS}\n\
         [[stages]]\nname = \"u\"\ninputs = [\"a\", \"b\"]\n"
    ));
    assert!(
        p.iter()
            .any(|p| p.starts_with("stages[2].inputs: mixes inputs")),
        "{p:?}"
    );
}

#[test]
fn a_named_source_may_have_its_own_event_time_and_it_is_checked() {
    let named = |event_time: &str| {
        format!(
            "[[sources]]\nname = \"clicks\"\ntype = \"file\"\npath = \"c.jsonl\"\nschema = {{ at = \"timestamp\", u = \"string\" }}\n{event_time}\n\
             [[stages]]\nname = \"j\"\njoin = {{ type = \"interval\", left = \"source\", right = \"clicks\", left_key = \"k\", right_key = \"u\", lower = \"-1s\", upper = \"1s\" }}\n"
        )
    };
    // Its own field, which its schema has (the job's `ts` it has not).
    let p = problems(&named(
        "event_time = { field = \"at\", max_out_of_orderness = \"3s\" }",
    ));
    assert!(p.is_empty(), "{p:?}");
    let p = problems(&named(""));
    assert!(
        p.iter()
            .any(|p| p.contains("sources[0].schema") && p.contains("`ts`")),
        "by the job's event time: {p:?}"
    );
    let p = problems(&named(
        "event_time = { field = \"at\", max_out_of_orderness = \"soon\" }",
    ));
    assert!(
        p.iter()
            .any(|p| p.contains("sources[0].event_time.max_out_of_orderness")),
        "{p:?}"
    );
    let spec: JobSpec = toml::from_str(&format!(
        "name = \"g\"\n[source]\ntype = \"stdin\"\n[event_time]\nfield = \"ts\"\n[sink]\ntype = \"stdout\"\n{}",
        named("event_time = { field = \"at\" }")
    ))
    .unwrap();
    assert_eq!(
        spec.event_time_of("clicks").unwrap().field.as_deref(),
        Some("at")
    );
    assert_eq!(
        spec.event_time_of("source").unwrap().field.as_deref(),
        Some("ts")
    );
}

#[test]
fn an_over_stage_is_checked_for_its_frame_aggregates_key_and_columns() {
    let over = |over: &str, extra: &str| {
        problems(&format!(
            "{extra}[[stages]]\nname = \"o\"\ninputs = [\"source\"]\nkey_by = {{ field = \"user\" }}\nover = {over}\n"
        ))
    };
    let sum = "aggregates = [{ fn = \"sum\", field = \"amount\" }]";
    for ok in [
        format!("{{ frame = \"rows\", preceding = 2, {sum} }}"),
        format!("{{ frame = \"range\", preceding = \"10s\", {sum} }}"),
        format!("{{ frame = \"range\", {sum} }}"),
        format!("{{ {sum} }}"),
    ] {
        let p = over(&ok, "");
        assert!(p.is_empty(), "{ok}: {p:?}");
    }
    for (bad, says) in [
        (
            format!("{{ frame = \"rows\", preceding = \"10s\", {sum} }}"),
            "stages[0].over.preceding: a rows frame reaches back a number of rows",
        ),
        (
            format!("{{ frame = \"range\", preceding = 3, {sum} }}"),
            "stages[0].over.preceding: a range frame reaches back a duration",
        ),
        (
            format!("{{ frame = \"range\", preceding = \"soon\", {sum} }}"),
            "`soon` is not a duration",
        ),
        (
            format!("{{ frame = \"groups\", {sum} }}"),
            "unknown frame `groups`",
        ),
        (
            "{ aggregates = [{ fn = \"median\", field = \"x\" }] }".into(),
            "unknown aggregate `median`",
        ),
        (
            "{ aggregates = [{ fn = \"sum\" }] }".into(),
            "needs the numeric field",
        ),
        ("{ aggregates = [] }".into(), "at least one aggregate"),
    ] {
        let p = over(&bad, "");
        assert!(p.iter().any(|p| p.contains(says)), "{bad}: {p:?}");
    }
    // Records from Wasm operators over events are not typed columns.
    let p = problems(&format!(
        "[[stages]]\nname = \"a\"\ninputs = [\"source\"]\n{OPS}\n\
         [[stages]]\nname = \"o\"\ninputs = [\"a\"]\nkey_by = {{ field = \"user\" }}\nover = {{ {sum} }}\n"
    ));
    assert!(p.iter().any(|p| p.contains("reads typed columns")), "{p:?}");
    let p = problems(&format!(
        "[[stages]]\nname = \"o\"\ninputs = [\"source\"]\nover = {{ {sum} }}\n"
    ));
    assert!(p.iter().any(|p| p.contains("needs key_by")), "{p:?}");
    // Ordered by processing time, it needs no event time and no late
    // output (nothing is late); by event time, both.
    let bare = |time: &str| -> Vec<String> {
        let text = format!(
            "name = \"g\"\n[source]\ntype = \"stdin\"\n[sink]\ntype = \"stdout\"\n\
             [[stages]]\nname = \"o\"\ninputs = [\"source\"]\nkey_by = {{ field = \"user\" }}\n\
             over = {{ time = \"{time}\", {sum} }}\n"
        );
        let spec: JobSpec = toml::from_str(&text).unwrap();
        validate(&spec).into_iter().map(|p| p.to_string()).collect()
    };
    let needs = |p: &[String], what: &str| p.iter().any(|p| p.starts_with(what));
    let p = bare("processing");
    assert!(
        !needs(&p, "event_time") && !needs(&p, "late_output"),
        "{p:?}"
    );
    let p = bare("event");
    assert!(needs(&p, "event_time") && needs(&p, "late_output"), "{p:?}");
    let p = bare("wall");
    assert!(p.iter().any(|p| p.contains("unknown time `wall`")), "{p:?}");
}

#[test]
fn a_rank_stage_is_checked_for_its_order_places_ties_sign_key_and_columns() {
    let rank = |rank: &str| {
        problems(&format!(
            "[[stages]]\nname = \"r\"\ninputs = [\"source\"]\nkey_by = {{ field = \"user\" }}\nrank = {rank}\n"
        ))
    };
    let order = "order_by = [{ field = \"amount\", desc = true }]";
    for ok in [
        format!("{{ {order}, to = 3 }}"),
        format!("{{ {order}, from = 2, to = 4, number = \"rn\" }}"),
        format!("{{ {order}, to = 1, ties = \"later\" }}"),
        "{ order_by = [{ field = \"ts\", nulls_first = false }], to = 1 }".into(),
        format!("{{ {order}, to = 3, sign = \"s\" }}"),
    ] {
        let p = rank(&ok);
        assert!(p.is_empty(), "{ok}: {p:?}");
    }
    for (bad, says) in [
        (
            "{ order_by = [], to = 3 }".to_string(),
            "stages[0].rank.order_by: needs at least one column",
        ),
        (
            format!("{{ {order}, from = 0, to = 3 }}"),
            "the first place is at least 1",
        ),
        (
            format!("{{ {order}, from = 4, to = 3 }}"),
            "at most the last",
        ),
        (
            format!("{{ {order}, to = 1000000 }}"),
            "stages[0].rank.to: 1000000 places per key",
        ),
        (
            format!("{{ {order}, to = 3, ties = \"random\" }}"),
            "unknown `random`",
        ),
        (
            format!("{{ {order}, to = 3, number = \"\" }}"),
            "stages[0].rank.number: names no column",
        ),
        (
            format!("{{ {order}, to = 3, sign = \"\" }}"),
            "stages[0].rank.sign: names no column",
        ),
        (
            format!("{{ {order}, to = 3, sign = \"s\", at_watermark = true }}"),
            "stages[0].rank.sign: a rank at the watermark ranks a window's results",
        ),
    ] {
        let p = rank(&bad);
        assert!(p.iter().any(|p| p.contains(says)), "{bad}: {p:?}");
    }
    let p = problems(&format!(
        "[[stages]]\nname = \"a\"\ninputs = [\"source\"]\n{OPS}\n\
         [[stages]]\nname = \"r\"\ninputs = [\"a\"]\nkey_by = {{ field = \"user\" }}\nrank = {{ {order}, to = 3 }}\n"
    ));
    assert!(
        p.iter()
            .any(|p| p.contains("a rank stage reads typed columns")),
        "{p:?}"
    );
    let p = problems(&format!(
        "[[stages]]\nname = \"r\"\ninputs = [\"source\"]\nrank = {{ {order}, to = 3 }}\n"
    ));
    assert!(p.iter().any(|p| p.contains("needs key_by")), "{p:?}");
}
