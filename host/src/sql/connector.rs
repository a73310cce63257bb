//! A table's `WITH (…)` options, in Flink's names, as a weir source or
//! sink. Options are allowed by name per connector; an option weir does
//! not know is refused with the options it does know, never ignored.
//!
//! | `connector` | as a source | as a sink |
//! |---|---|---|
//! | `filesystem` (`path`, `format` = `json`) | the file source (one file of JSON lines) | the file sink (one file of JSON lines, replaced at start) |
//! | `kafka` (`topic`, `properties.bootstrap.servers`, `properties.group.id`, `scan.startup.mode`, `scan.startup.timestamp-millis`, `scan.bounded.mode`, `format` = `json`, `properties.*`) | a Kafka source | a Kafka sink (`sink.delivery-guarantee`, `sink.transactional-id-prefix`) |
//! | `datagen` (`schema` = one of weir's generator's, e.g. `nexmark-bid`; `number-of-rows`, `rows-per-second`, `seed`) | weir's generator (bounded): the rows of one of its schemas, not Flink's per-field random values | — |
//! | `print` | — | standard output |
//! | `blackhole` | — | discard |
//! | `jdbc` (`url` = `jdbc:postgresql://…`, `table-name`, `username`, `password`, `sink.buffer-flush.max-rows`), or `postgres` (the same, `url` = `postgresql://…`) | — | a PostgreSQL table, upserted by the `PRIMARY KEY`, exactly-once with checkpoints |

use crate::job::{
    Delivery, KafkaSinkSpec, KafkaSourceSpec, KafkaStart, PostgresSinkSpec, SinkSpec, SourceSpec,
};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What is wrong with a table's options.
#[derive(Debug)]
pub(super) struct OptionError(pub String);

type Options = BTreeMap<String, String>;

/// Every option is one `allowed` names (or a `properties.` one, where
/// `properties` is true).
fn check(options: &Options, allowed: &[&str], properties: bool) -> Result<(), OptionError> {
    for key in options.keys() {
        if allowed.contains(&key.as_str()) || (properties && key.starts_with("properties.")) {
            continue;
        }
        return Err(OptionError(format!(
            "option '{key}' is not supported for this connector (supported: {}{})",
            allowed.join(", "),
            if properties { ", properties.*" } else { "" }
        )));
    }
    Ok(())
}

fn required<'a>(options: &'a Options, key: &str) -> Result<&'a str, OptionError> {
    options
        .get(key)
        .map(String::as_str)
        .ok_or_else(|| OptionError(format!("option '{key}' is required")))
}

/// Option `key`, one of `values` (by its text), or `default` when unset.
fn choice<T: Copy>(
    options: &Options,
    key: &str,
    default: T,
    values: &[(&str, T)],
) -> Result<T, OptionError> {
    let Some(given) = options.get(key) else {
        return Ok(default);
    };
    values
        .iter()
        .find(|(text, _)| text == given)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let known: Vec<&str> = values.iter().map(|(t, _)| *t).collect();
            OptionError(format!(
                "'{key}' = '{given}' is not supported ({})",
                known.join(", ")
            ))
        })
}

/// How a sink table writes rows, and so whether it takes an updating
/// query's changelog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Writes {
    /// Inserts only (`'format' = 'json'`): an updating query is refused,
    /// as Flink refuses it.
    Inserts,
    /// Each row as Debezium's JSON (`'format' = 'debezium-json'`): an
    /// update is its old row deleted and its new one created.
    Debezium,
    /// Rows applied by the table's primary key (`jdbc`, `postgres`).
    ByKey,
    /// Rows as they are, each with its change (`print`, `blackhole`).
    Rows,
}

/// How the sink of `options` writes rows (its options are checked by
/// [`sink`]).
pub(super) fn sink_writes(options: &Options) -> Writes {
    match options.get("connector").map(String::as_str) {
        Some("jdbc" | "postgres") => Writes::ByKey,
        Some("print" | "blackhole") => Writes::Rows,
        _ if options.get("format").map(String::as_str) == Some("debezium-json") => Writes::Debezium,
        _ => Writes::Inserts,
    }
}

/// A sink's `'format'`: `json`, or `debezium-json` (a changelog).
fn sink_format(options: &Options) -> Result<(), OptionError> {
    match required(options, "format")? {
        "json" | "debezium-json" => Ok(()),
        other => Err(OptionError(format!(
            "'format' = '{other}' is not supported (weir writes 'json' and 'debezium-json')"
        ))),
    }
}

/// `'format' = 'json'`, the only format weir reads so far.
fn json_format(options: &Options) -> Result<(), OptionError> {
    match required(options, "format")? {
        "json" => Ok(()),
        other => Err(OptionError(format!(
            "'format' = '{other}' is not supported (weir reads and writes 'json')"
        ))),
    }
}

/// librdkafka settings from `properties.*`, but the ones weir sets itself.
fn kafka_properties(options: &Options, own: &[&str]) -> BTreeMap<String, String> {
    options
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("properties.")?, v)))
        .filter(|(k, _)| !own.contains(k))
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// The source a table's options describe; `schema`: its columns as
/// `[source.schema]`.
pub(super) fn source(
    options: &Options,
    schema: BTreeMap<String, String>,
) -> Result<SourceSpec, OptionError> {
    match required(options, "connector")? {
        "filesystem" => {
            check(options, &["connector", "path", "format"], false)?;
            json_format(options)?;
            Ok(SourceSpec::File {
                path: PathBuf::from(required(options, "path")?),
                rate: 0,
                schema: Some(schema),
            })
        }
        "kafka" => {
            check(
                options,
                &[
                    "connector",
                    "topic",
                    "format",
                    "scan.startup.mode",
                    "scan.startup.timestamp-millis",
                    "scan.bounded.mode",
                ],
                true,
            )?;
            json_format(options)?;
            let start = choice(
                options,
                "scan.startup.mode",
                KafkaStart::Committed,
                &[
                    ("earliest-offset", KafkaStart::Earliest),
                    ("latest-offset", KafkaStart::Latest),
                    ("group-offsets", KafkaStart::Committed),
                    ("timestamp", KafkaStart::Timestamp),
                ],
            )?;
            let start_timestamp = match options.get("scan.startup.timestamp-millis") {
                Some(t) => Some(t.parse::<i64>().map_err(|_| {
                    OptionError(format!(
                        "'scan.startup.timestamp-millis' = '{t}' is not a number of ms"
                    ))
                })?),
                None if start == KafkaStart::Timestamp => {
                    return Err(OptionError(
                        "'scan.startup.mode' = 'timestamp' needs 'scan.startup.timestamp-millis'"
                            .into(),
                    ));
                }
                None => None,
            };
            let bounded = choice(
                options,
                "scan.bounded.mode",
                false,
                &[("unbounded", false), ("latest-offset", true)],
            )?;
            Ok(SourceSpec::Kafka(KafkaSourceSpec {
                brokers: required(options, "properties.bootstrap.servers")?.into(),
                topics: vec![required(options, "topic")?.into()],
                group: options.get("properties.group.id").cloned(),
                start,
                start_timestamp,
                format: crate::job::KafkaFormat::Json,
                bounded,
                properties: kafka_properties(options, &["bootstrap.servers", "group.id"]),
                schema: Some(schema),
            }))
        }
        "datagen" => datagen(options, schema),
        other => Err(OptionError(format!(
            "'connector' = '{other}' is not supported as a source (filesystem, kafka, datagen)"
        ))),
    }
}

/// weir's generator: `'schema'` names what it makes (Flink's datagen
/// makes random values per column, `fields.*`; weir's makes rows that
/// mean something, such as Nexmark's events, and is bounded).
fn datagen(
    options: &Options,
    columns: BTreeMap<String, String>,
) -> Result<SourceSpec, OptionError> {
    if let Some(key) = options.keys().find(|k| k.starts_with("fields.")) {
        return Err(OptionError(format!(
            "option '{key}': weir's datagen makes the rows of one of its schemas ('schema' = 'nexmark-bid', …), not values per field"
        )));
    }
    check(
        options,
        &[
            "connector",
            "schema",
            "number-of-rows",
            "rows-per-second",
            "seed",
        ],
        false,
    )?;
    let schema = required(options, "schema")?;
    let number = |key: &str| -> Result<Option<u64>, OptionError> {
        options
            .get(key)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| OptionError(format!("'{key}' = '{v}' is not a whole number")))
            })
            .transpose()
    };
    let rows = number("number-of-rows")?.ok_or_else(|| {
        OptionError("option 'number-of-rows' is required (weir's datagen is bounded)".into())
    })?;
    if let Some(table) = crate::connector::nexmark::Table::of_schema(schema) {
        let known = table.columns();
        if let Some(c) = columns.keys().find(|c| !known.iter().any(|(k, _)| k == c)) {
            let names: Vec<&str> = known.iter().map(|(k, _)| *k).collect();
            return Err(OptionError(format!(
                "column `{c}` is not one of {schema}'s ({})",
                names.join(", ")
            )));
        }
    }
    let mut spec = crate::job::DatagenSpec::new(schema, rows);
    spec.rate = number("rows-per-second")?.unwrap_or(0);
    spec.seed = number("seed")?.unwrap_or(0);
    spec.columns = Some(columns);
    Ok(SourceSpec::Datagen(spec))
}

/// The sink a table's options describe; `columns` and `primary_key`:
/// the table's, as declared.
pub(super) fn sink(
    options: &Options,
    columns: &[String],
    primary_key: &[String],
) -> Result<SinkSpec, OptionError> {
    match required(options, "connector")? {
        connector @ ("jdbc" | "postgres") => {
            check(
                options,
                &[
                    "connector",
                    "url",
                    "table-name",
                    "username",
                    "password",
                    "sink.buffer-flush.max-rows",
                ],
                false,
            )?;
            let url = required(options, "url")?;
            let scheme = if connector == "jdbc" {
                "jdbc:postgresql://"
            } else {
                "postgresql://"
            };
            if !url.starts_with(scheme) {
                return Err(OptionError(format!(
                    "'url' must start with '{scheme}' (weir's '{connector}' sink writes to PostgreSQL)"
                )));
            }
            let batch_rows = match options.get("sink.buffer-flush.max-rows") {
                None => 1000,
                Some(n) => n.parse().ok().filter(|&n: &usize| n > 0).ok_or_else(|| {
                    OptionError(format!(
                        "'sink.buffer-flush.max-rows' = '{n}' is not a positive number of rows"
                    ))
                })?,
            };
            Ok(SinkSpec::Postgres(PostgresSinkSpec {
                url: url.to_string(),
                user: options.get("username").cloned(),
                password: options.get("password").cloned(),
                table: required(options, "table-name")?.to_string(),
                columns: columns.to_vec(),
                primary_key: primary_key.to_vec(),
                batch_rows,
                changelog: false,
            }))
        }
        "filesystem" => {
            check(options, &["connector", "path", "format"], false)?;
            sink_format(options)?;
            Ok(SinkSpec::File {
                path: PathBuf::from(required(options, "path")?),
            })
        }
        "print" => {
            check(options, &["connector"], false)?;
            Ok(SinkSpec::Stdout {})
        }
        "blackhole" => {
            check(options, &["connector"], false)?;
            Ok(SinkSpec::Discard {})
        }
        "kafka" => {
            check(
                options,
                &[
                    "connector",
                    "topic",
                    "format",
                    "sink.delivery-guarantee",
                    "sink.transactional-id-prefix",
                ],
                true,
            )?;
            sink_format(options)?;
            let delivery = choice(
                options,
                "sink.delivery-guarantee",
                Delivery::AtLeastOnce,
                &[
                    ("exactly-once", Delivery::ExactlyOnce),
                    ("at-least-once", Delivery::AtLeastOnce),
                    ("none", Delivery::None),
                ],
            )?;
            Ok(SinkSpec::Kafka(KafkaSinkSpec {
                brokers: required(options, "properties.bootstrap.servers")?.into(),
                topic: required(options, "topic")?.into(),
                topic_field: None,
                key_field: None,
                delivery,
                transactional_id: options.get("sink.transactional-id-prefix").cloned(),
                properties: kafka_properties(options, &["bootstrap.servers"]),
            }))
        }
        other => Err(OptionError(format!(
            "'connector' = '{other}' is not supported as a sink (filesystem, kafka, jdbc, postgres, print, blackhole)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> Options {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn flink_kafka_options_become_a_kafka_source() {
        let s = source(
            &opts(&[
                ("connector", "kafka"),
                ("topic", "bids"),
                ("format", "json"),
                ("properties.bootstrap.servers", "localhost:9092"),
                ("properties.group.id", "g"),
                ("properties.fetch.min.bytes", "1"),
                ("scan.startup.mode", "earliest-offset"),
            ]),
            BTreeMap::new(),
        )
        .unwrap();
        let SourceSpec::Kafka(k) = s else { panic!() };
        assert_eq!(k.topics, ["bids"]);
        assert_eq!(k.group.as_deref(), Some("g"));
        assert_eq!(k.start, KafkaStart::Earliest);
        assert_eq!(k.properties.keys().collect::<Vec<_>>(), ["fetch.min.bytes"]);
    }

    #[test]
    fn unknown_options_and_formats_are_refused_by_name() {
        let e = sink(
            &opts(&[
                ("connector", "filesystem"),
                ("path", "x"),
                ("format", "json"),
                ("sink.rolling-policy.file-size", "1MB"),
            ]),
            &[],
            &[],
        )
        .unwrap_err();
        assert!(e.0.contains("'sink.rolling-policy.file-size'"), "{}", e.0);
        let e = sink(
            &opts(&[
                ("connector", "filesystem"),
                ("path", "x"),
                ("format", "csv"),
            ]),
            &[],
            &[],
        )
        .unwrap_err();
        assert!(e.0.contains("'csv'"), "{}", e.0);
        let e = source(&opts(&[("connector", "jdbc")]), BTreeMap::new()).unwrap_err();
        assert!(e.0.contains("'jdbc'"), "{}", e.0);
    }

    #[test]
    fn a_jdbc_table_becomes_a_postgres_sink_keyed_by_its_primary_key() {
        let cols = ["user".to_string(), "total".to_string()];
        let pk = ["user".to_string()];
        let s = sink(
            &opts(&[
                ("connector", "jdbc"),
                ("url", "jdbc:postgresql://db:5432/shop"),
                ("table-name", "totals"),
                ("username", "weir"),
                ("password", "p"),
                ("sink.buffer-flush.max-rows", "500"),
            ]),
            &cols,
            &pk,
        )
        .unwrap();
        let SinkSpec::Postgres(p) = s else { panic!() };
        assert_eq!(p.table, "totals");
        assert_eq!(p.columns, cols);
        assert_eq!(p.primary_key, pk);
        assert_eq!(p.batch_rows, 500);
        assert_eq!(p.user.as_deref(), Some("weir"));
        // Another database behind jdbc is refused by name.
        let e = sink(
            &opts(&[
                ("connector", "jdbc"),
                ("url", "jdbc:mysql://db:3306/shop"),
                ("table-name", "totals"),
            ]),
            &cols,
            &pk,
        )
        .unwrap_err();
        assert!(e.0.contains("jdbc:postgresql://"), "{}", e.0);
    }

    #[test]
    fn a_datagen_table_is_one_of_weirs_generators_schemas() {
        let cols = |names: &[&str]| -> BTreeMap<String, String> {
            names
                .iter()
                .map(|n| (n.to_string(), "int".to_string()))
                .collect()
        };
        let s = source(
            &opts(&[
                ("connector", "datagen"),
                ("schema", "nexmark-bid"),
                ("number-of-rows", "1000"),
                ("rows-per-second", "50"),
            ]),
            cols(&["auction", "price"]),
        )
        .unwrap();
        let SourceSpec::Datagen(d) = s else { panic!() };
        assert_eq!(
            (d.schema.as_str(), d.rows, d.rate),
            ("nexmark-bid", 1000, 50)
        );
        assert_eq!(d.columns, Some(cols(&["auction", "price"])));
        let refused = |options: &[(&str, &str)], columns: &[&str], says: &str| {
            let e = source(&opts(options), cols(columns)).unwrap_err();
            assert!(e.0.contains(says), "{}", e.0);
        };
        let bid = [("connector", "datagen"), ("schema", "nexmark-bid")];
        refused(&bid, &["price"], "'number-of-rows' is required");
        let mut o = bid.to_vec();
        o.push(("number-of-rows", "10"));
        refused(
            &o,
            &["price", "bidders"],
            "column `bidders` is not one of nexmark-bid's",
        );
        o.push(("fields.price.kind", "random"));
        refused(&o, &["price"], "not values per field");
        refused(
            &[
                ("connector", "datagen"),
                ("schema", "bids"),
                ("number-of-rows", "x"),
            ],
            &[],
            "'number-of-rows' = 'x' is not a whole number",
        );
    }
}
