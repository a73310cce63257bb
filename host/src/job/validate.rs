//! Every check a job file must pass before anything runs.

use super::checks::{Checker, Problem, check_operator, check_window};
use super::operator_names;
use super::spec::*;
use super::whole::JobSpec;

const SCHEMAS: &[&str] = &[
    "clickstream",
    "transactions",
    "bids",
    "nexmark-person",
    "nexmark-auction",
    "nexmark-bid",
];

/// All problems of a job, in file order. Empty means valid.
pub fn validate(spec: &JobSpec) -> Vec<Problem> {
    let mut c = Checker(Vec::new());
    if spec.name.trim().is_empty() {
        c.add("name", "must not be empty");
    }
    if !(1..=256).contains(&spec.parallelism) {
        c.add(
            "parallelism",
            format!("must be between 1 and 256, got {}", spec.parallelism),
        );
    }
    if !(1..=1_000_000).contains(&spec.batch_size) {
        c.add(
            "batch_size",
            format!("must be between 1 and 1000000, got {}", spec.batch_size),
        );
    }
    for (name, at, source) in spec.all_sources() {
        check_source(&mut c, spec, name, &at, source);
    }
    if let Some(et) = &spec.event_time {
        // The sources that go by the job's event time.
        let by_job: Vec<&SourceSpec> = spec
            .all_sources()
            .into_iter()
            .filter(|(name, _, _)| {
                !spec
                    .sources
                    .iter()
                    .any(|s| s.name == *name && s.event_time.is_some())
            })
            .map(|(_, _, s)| s)
            .collect();
        check_event_time(&mut c, "event_time", et, &by_job);
    }
    for (i, named) in spec.sources.iter().enumerate() {
        if let Some(et) = &named.event_time {
            check_event_time(
                &mut c,
                &format!("sources[{i}].event_time"),
                et,
                &[&named.source],
            );
        }
    }
    for (i, op) in spec.operators.iter().enumerate() {
        check_operator(&mut c, &format!("operators[{i}]"), op);
    }
    if !spec.stages.is_empty() {
        super::graph::check(&mut c, spec);
    } else if !spec.sinks.is_empty() {
        c.add(
            "sinks",
            "named sinks write stages of a job graph; declare the job's [[stages]]",
        );
    }
    for (name, n) in operator_names(spec) {
        if n > 1 {
            c.add(
                "operators",
                format!("operator name `{name}` is used {n} times; names must be unique"),
            );
        }
    }
    check_stage(&mut c, spec);
    check_state(&mut c, &spec.state);
    check_checkpoint(&mut c, spec);
    check_kafka_outputs(&mut c, spec);
    check_postgres_outputs(&mut c, spec);
    if let Err(e) = parse_bytes(&spec.limits.memory) {
        c.add("limits.memory", e);
    }
    match parse_bytes(&spec.limits.max_output_bytes) {
        Ok(0) => c.add("limits.max_output_bytes", "must be more than 0"),
        Ok(_) => {}
        Err(e) => c.add("limits.max_output_bytes", e),
    }
    for (at, v) in [
        ("limits.host_memory", &spec.limits.host_memory),
        ("limits.disk", &spec.limits.disk),
        ("limits.log_rate", &spec.limits.log_rate),
    ] {
        if let Some(Err(e)) = v.as_deref().map(parse_bytes) {
            c.add(at, e);
        }
    }
    c.duration("limits.call_timeout", &spec.limits.call_timeout, true);
    if spec.limits.max_output_per_record == 0 {
        c.add(
            "limits.max_output_per_record",
            "must be at least 1 (an operator must be able to emit what it was given)",
        );
    }
    c.0
}

fn check_state(c: &mut Checker, state: &StateSpec) {
    if !["memory", "rocksdb"].contains(&state.backend.as_str()) {
        c.add(
            "state.backend",
            format!("unknown backend `{}`; use memory or rocksdb", state.backend),
        );
    }
    let cache = parse_bytes(&state.block_cache)
        .map_err(|e| c.add("state.block_cache", e))
        .ok();
    let buffers = parse_bytes(&state.write_buffer)
        .map_err(|e| c.add("state.write_buffer", e))
        .ok();
    if let (Some(cache), Some(buffers)) = (cache, buffers)
        && buffers > cache
    {
        c.add(
            "state.write_buffer",
            "must not exceed state.block_cache (write buffers are charged to the cache)",
        );
    }
}

fn check_checkpoint(c: &mut Checker, spec: &JobSpec) {
    let Some(cp) = &spec.checkpoint else { return };
    c.duration("checkpoint.interval", &cp.interval, true);
    if cp.retain == 0 {
        c.add("checkpoint.retain", "must be at least 1");
    }
    if matches!(spec.source, SourceSpec::Stdin { .. }) {
        c.add(
            "checkpoint",
            "standard input cannot be read again after a restart, so it cannot be checkpointed; read from a file, or remove [checkpoint]",
        );
    }
}

/// One source's settings (`at`: `source` or `sources[i]`).
/// An event-time spec (`at`) for the sources that go by it.
fn check_event_time(c: &mut Checker, at: &str, et: &EventTimeSpec, sources: &[&SourceSpec]) {
    match et.field.as_deref() {
        Some("") => c.add(
            format!("{at}.field"),
            "must name the JSON field holding the event time (ms)",
        ),
        None if sources.iter().any(|s| !matches!(s, SourceSpec::Kafka(_))) => c.add(
            format!("{at}.field"),
            "must name the JSON field holding the event time (ms); only a Kafka source can do without (it then uses the Kafka timestamp)",
        ),
        _ => {}
    }
    c.duration(
        &format!("{at}.max_out_of_orderness"),
        &et.max_out_of_orderness,
        false,
    );
    if let Some(idle) = &et.idle_timeout {
        c.duration(&format!("{at}.idle_timeout"), idle, true);
    }
}

fn check_source(c: &mut Checker, spec: &JobSpec, name: &str, at: &str, source: &SourceSpec) {
    if let SourceSpec::Datagen(d) = source {
        if !SCHEMAS.contains(&d.schema.as_str()) {
            c.add(
                format!("{at}.schema"),
                format!("unknown schema `{}`; choose one of {SCHEMAS:?}", d.schema),
            );
        }
        if d.keys == 0 {
            c.add(format!("{at}.keys"), "must be at least 1");
        }
        if d.step_ms < 0 || d.disorder_ms < 0 {
            c.add(at, "step_ms and disorder_ms must not be negative");
        }
    }
    if let SourceSpec::Kafka(k) = source {
        check_kafka_source(c, spec, at, k);
    }
    if let Some(schema) = source.schema() {
        check_schema(c, spec.event_time_of(name), at, schema);
    }
    if at != "source" && matches!(source, SourceSpec::Stdin { .. }) {
        c.add(
            format!("{at}.type"),
            "standard input can only be the job's [source]",
        );
    }
}

/// A declared schema: valid types and paths, and the event-time field in it
/// as an integer or a timestamp.
fn check_schema(
    c: &mut Checker,
    event_time: Option<&EventTimeSpec>,
    at: &str,
    schema: &std::collections::BTreeMap<String, String>,
) {
    if let Err(e) = crate::batch::schema_of(schema) {
        c.add(format!("{at}.schema"), e);
        return;
    }
    let Some(field) = event_time.and_then(|e| e.field.as_deref()) else {
        return;
    };
    match schema
        .get(field)
        .map(|t| crate::batch::schema::data_type(field, t))
    {
        Some(Ok(arrow_schema::DataType::Int64 | arrow_schema::DataType::Timestamp(..))) => {}
        Some(_) => c.add(
            format!("{at}.schema.{field}"),
            "the event-time field must be declared as `int` (ms since the epoch) or `timestamp`",
        ),
        None => c.add(
            format!("{at}.schema"),
            format!(
                "declares no field `{field}`, the event-time field; add `\"{field}\" = \"int\"`"
            ),
        ),
    }
}

fn check_kafka_source(c: &mut Checker, spec: &JobSpec, at: &str, k: &KafkaSourceSpec) {
    if k.brokers.trim().is_empty() {
        c.add(
            format!("{at}.brokers"),
            "must list the bootstrap servers, e.g. \"127.0.0.1:9092\"",
        );
    }
    if k.topics.is_empty() || k.topics.iter().any(|t| t.trim().is_empty()) {
        c.add(
            format!("{at}.topics"),
            "must name at least one topic, and no empty names",
        );
    }
    check_properties(c, &format!("{at}.properties"), &k.properties);
    match (k.start, k.start_timestamp) {
        (KafkaStart::Timestamp, None) => c.add(
            format!("{at}.start_timestamp"),
            "start = \"timestamp\" needs start_timestamp (ms since the epoch)",
        ),
        (s, Some(_)) if s != KafkaStart::Timestamp => c.add(
            format!("{at}.start_timestamp"),
            "is only used with start = \"timestamp\"",
        ),
        _ => {}
    }
    if k.format == KafkaFormat::Raw {
        if k.schema.is_some() {
            c.add(
                format!("{at}.schema"),
                "raw Kafka records are not decoded: operators over columns get two binary columns, `key` and `value`; leave the schema out, or use format = \"json\"",
            );
        }
        if spec.key_by.is_some() {
            c.add(
                "key_by",
                "raw Kafka records have no JSON fields to key by; use format = \"json\", or key inside an operator",
            );
        }
        if spec.event_time.as_ref().is_some_and(|e| e.field.is_some()) {
            c.add(
                "event_time.field",
                "raw Kafka records have no JSON fields; leave it out to use the Kafka timestamp",
            );
        }
    }
}

/// A PostgreSQL output names its server, its table and the columns it
/// writes; its key is among them.
fn check_postgres_outputs(c: &mut Checker, spec: &JobSpec) {
    for (at, s) in spec.outputs() {
        let SinkSpec::Postgres(p) = s else { continue };
        let url = p.url.strip_prefix("jdbc:").unwrap_or(&p.url);
        if !(url.starts_with("postgresql://") || url.starts_with("postgres://")) {
            c.add(
                format!("{at}.url"),
                "must be a PostgreSQL URL, postgresql://user@host:port/database",
            );
        }
        if p.table.trim().is_empty() {
            c.add(format!("{at}.table"), "must name a table");
        }
        if p.columns.is_empty() {
            c.add(format!("{at}.columns"), "must name the columns written");
        }
        for (i, col) in p.columns.iter().enumerate() {
            if p.columns[..i].contains(col) {
                c.add(format!("{at}.columns"), format!("`{col}` is named twice"));
            }
        }
        for k in &p.primary_key {
            if !p.columns.contains(k) {
                c.add(
                    format!("{at}.primary_key"),
                    format!(
                        "`{k}` is not one of the columns written ({})",
                        p.columns.join(", ")
                    ),
                );
            }
        }
        if p.batch_rows == 0 {
            c.add(format!("{at}.batch_rows"), "must be at least 1");
        }
    }
}

/// Kafka outputs of one job share one producer (and, for exactly-once, one
/// transaction per epoch, so that all of them commit together or not at
/// all): they must agree on brokers and delivery.
fn check_kafka_outputs(c: &mut Checker, spec: &JobSpec) {
    let outputs: Vec<(String, &KafkaSinkSpec)> = spec
        .outputs()
        .into_iter()
        .filter_map(|(at, s)| match s {
            SinkSpec::Kafka(k) => Some((at, k)),
            _ => None,
        })
        .collect();
    let Some((first_at, first)) = outputs.first() else {
        return;
    };
    for (at, k) in &outputs {
        if k.brokers.trim().is_empty() {
            c.add(format!("{at}.brokers"), "must list the bootstrap servers");
        }
        if k.topic.trim().is_empty() {
            c.add(format!("{at}.topic"), "must name a topic");
        }
        check_properties(c, &format!("{at}.properties"), &k.properties);
        if k.brokers != first.brokers || k.delivery != first.delivery {
            c.add(
                at.to_string(),
                format!("Kafka outputs of one job share a producer: brokers and delivery must match those of {first_at}"),
            );
        }
    }
    if first.delivery == Delivery::ExactlyOnce {
        match &spec.checkpoint {
            None => c.add(
                format!("{first_at}.delivery"),
                "exactly-once commits one Kafka transaction per checkpoint: add a [checkpoint] section (or use at-least-once)",
            ),
            Some(cp) if cp.retain < 2 => c.add(
                "checkpoint.retain",
                "must be at least 2 with an exactly-once Kafka output: if the job dies between a checkpoint and its Kafka commit, it resumes from the one before",
            ),
            Some(_) => {}
        }
    }
}

/// librdkafka settings weir gives every client itself are not a job's.
fn check_properties(
    c: &mut Checker,
    at: &str,
    properties: &std::collections::BTreeMap<String, String>,
) {
    for name in properties.keys() {
        if let Some(instead) = super::kafka_properties::weir_owned(name) {
            c.add(
                format!("{at}.\"{name}\""),
                format!("weir sets `{name}` itself; {instead}"),
            );
        }
    }
}

fn check_stage(c: &mut Checker, spec: &JobSpec) {
    if spec.window.is_some() && spec.keyed.is_some() {
        c.add("keyed", "a job has either [window] or [keyed], not both");
    }
    let keyed_stage = spec.window.is_some() || spec.keyed.is_some();
    if keyed_stage && spec.key_by.is_none() {
        c.add(
            "key_by",
            "[window] and [keyed] need [key_by] with the field to partition by",
        );
    }
    if !keyed_stage && spec.key_by.is_some() {
        c.add(
            "key_by",
            "key_by without [window] or [keyed] has no effect; remove it or add a stage",
        );
    }
    if let Some(k) = &spec.keyed {
        check_operator(c, "keyed", k);
    }
    if let Some(w) = &spec.window {
        check_window(c, "window", w, spec);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> JobSpec {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn reports_every_problem_with_its_place() {
        let spec = parse(
            r#"
            name = "x"
            parallelism = 0
            [source]
            type = "datagen"
            schema = "weather"
            rows = 10
            [[operators]]
            name = "a"
            component = "a.wasm"
            grants = ["filesystem"]
            [window]
            type = "sliding"
            size = "10s"
            slide = "3s"
            aggregates = [{ fn = "median" }, { fn = "sum" }]
            [sink]
            type = "stdout"
            "#,
        );
        let problems: Vec<String> = validate(&spec).iter().map(|p| p.at.clone()).collect();
        for expected in [
            "parallelism",
            "source.schema",
            "operators[0].grants",
            "key_by",
            "window.slide",
            "event_time",
            "late_output",
            "window.aggregates[0].fn",
            "window.aggregates[1].field",
        ] {
            assert!(
                problems.contains(&expected.to_string()),
                "{expected} missing from {problems:?}"
            );
        }
    }

    #[test]
    fn a_good_job_has_no_problems() {
        let spec = parse(
            r#"
            name = "ok"
            [source]
            type = "file"
            path = "in.jsonl"
            [event_time]
            field = "ts"
            [key_by]
            field = "user"
            [window]
            type = "session"
            gap = "30s"
            aggregates = [{ fn = "count" }]
            [sink]
            type = "stdout"
            [late_output]
            type = "discard"
            "#,
        );
        assert_eq!(validate(&spec), vec![]);
    }

    #[test]
    fn a_global_window_needs_no_watermark_and_skips_nulls_only_for_a_wasm_aggregate() {
        let job = |aggregation: &str| {
            parse(&format!(
                r#"
                name = "totals"
                [source]
                type = "file"
                path = "in.jsonl"
                [key_by]
                field = "user"
                [window]
                type = "global"
                {aggregation}
                [sink]
                type = "stdout"
                "#
            ))
        };
        assert_eq!(validate(&job(r#"aggregates = [{ fn = "count" }]"#)), vec![]);
        // A Wasm aggregate updates it too (one over columns: planning
        // refuses one over JSON events, whose world it cannot see here).
        assert_eq!(
            validate(&job(
                r#"aggregate = { name = "agg", component = "agg.wasm" }"#
            )),
            vec![]
        );
        assert_eq!(
            validate(&job(
                "aggregate = { name = \"agg\", component = \"agg.wasm\" }\nskip_nulls = true"
            )),
            vec![]
        );
        // Skipping NULLs is a Wasm aggregate's: built-ins refuse it.
        let problems: Vec<String> =
            validate(&job("aggregates = [{ fn = \"count\" }]\nskip_nulls = true"))
                .into_iter()
                .map(|p| p.to_string())
                .collect();
        assert!(
            problems.iter().any(|p| p.contains("window.skip_nulls")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_changelogs_sign_is_for_a_global_window_of_built_in_aggregates() {
        let job = |kind: &str, aggregation: &str| {
            parse(&format!(
                r#"
                name = "totals"
                [source]
                type = "file"
                path = "in.jsonl"
                [key_by]
                field = "user"
                [window]
                type = "{kind}"
                size = "10s"
                time = "processing"
                sign = "s"
                {aggregation}
                [sink]
                type = "stdout"
                "#
            ))
        };
        let built_ins = r#"aggregates = [{ fn = "max", field = "x" }]"#;
        assert_eq!(validate(&job("global", built_ins)), vec![]);
        let problems = |kind, aggregation| -> Vec<String> {
            validate(&job(kind, aggregation))
                .into_iter()
                .map(|p| p.to_string())
                .collect()
        };
        let tumbling = problems("tumbling", built_ins);
        assert!(
            tumbling
                .iter()
                .any(|p| p.contains("window.sign") && p.contains("only a global window")),
            "{tumbling:?}"
        );
        let wasm = problems(
            "global",
            r#"aggregate = { name = "agg", component = "agg.wasm" }"#,
        );
        assert!(
            wasm.iter()
                .any(|p| p.contains("window.sign") && p.contains("cannot take a row back")),
            "{wasm:?}"
        );
    }
}
