//! Which librdkafka settings a job may give in `properties`.
//!
//! Two rules, one per kind of user:
//!
//! - **Every job**: the settings weir sets itself ([`weir_owned`]) are not a
//!   job's to give. They decide who a client is (`group.id`,
//!   `transactional.id`, `client.id`), where it connects
//!   (`bootstrap.servers` and its alias `metadata.broker.list`) and what
//!   delivery means (`enable.auto.commit`, `isolation.level`, `acks`…); the
//!   job file has fields for the first two, and the last are what
//!   exactly-once rests on. Weir also applies its own settings *after* the
//!   job's, so a setting that slipped through could not win.
//! - **A tenant of `weir serve`** may set only the tuning knobs of
//!   [`TENANT_KNOBS`] — an allowlist, each with the values it may take
//!   (host memory knobs are capped). Everything else is refused with the
//!   rule it breaks ([`check_tenant`]): identity and routing are weir's,
//!   credentials (`security.*`, `sasl.*`, `ssl.*`) come from the host's
//!   config for the tenant, and anything that names a file, a plugin or a
//!   command reaches the host itself.
//!
//! ```
//! use weir::job::kafka_properties::{Client, check_tenant};
//! assert!(check_tenant(Client::Producer, "linger.ms", "20").is_ok());
//! let refused = check_tenant(Client::Consumer, "group.id", "weir.other.g").unwrap_err();
//! assert!(refused.to_string().contains("identity"));
//! ```

/// Which kind of client a setting is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// A source's consumer.
    Consumer,
    /// The producer of a job's Kafka outputs.
    Producer,
}

/// The settings weir gives every client itself, with what to write
/// instead.
const WEIR_OWNED: &[(&str, &str)] = &[
    ("bootstrap.servers", "set `brokers`"),
    ("metadata.broker.list", "set `brokers`"),
    (
        "group.id",
        "set `source.group` (offsets are committed to it after each checkpoint)",
    ),
    (
        "group.instance.id",
        "weir assigns partitions itself; there is no group membership to keep",
    ),
    (
        "transactional.id",
        "set `transactional_id` on the Kafka sink",
    ),
    ("client.id", "weir names clients `weir.<job name>`"),
    (
        "enable.auto.commit",
        "offsets live in weir's checkpoints; weir commits them after each one",
    ),
    (
        "enable.auto.offset.store",
        "offsets live in weir's checkpoints",
    ),
    (
        "auto.offset.reset",
        "set `source.start`; a checkpointed offset that is gone fails the job",
    ),
    (
        "isolation.level",
        "weir reads only committed records, so exactly-once outputs are seen once",
    ),
    ("enable.partition.eof", "set `source.bounded`"),
    (
        "enable.idempotence",
        "set the sink's `delivery`, which decides it",
    ),
    ("acks", "set the sink's `delivery`, which decides it"),
    (
        "request.required.acks",
        "set the sink's `delivery`, which decides it",
    ),
    (
        "transaction.timeout.ms",
        "weir derives it from checkpoint.interval",
    ),
    (
        "statistics.interval.ms",
        "weir reads consumer lag from librdkafka's statistics",
    ),
];

/// Why a job may not give setting `name`, and what to do instead; `None`
/// if the setting is not weir's own.
pub fn weir_owned(name: &str) -> Option<&'static str> {
    WEIR_OWNED
        .iter()
        .find(|(owned, _)| *owned == name)
        .map(|(_, instead)| *instead)
}

/// The values a tuning knob may take.
#[derive(Debug, Clone, Copy)]
pub enum Values {
    /// An integer in `min..=max`.
    Int(i64, i64),
    /// `true` or `false`.
    Bool,
    /// One of these words.
    OneOf(&'static [&'static str]),
}

/// A librdkafka setting a tenant's job may give.
#[derive(Debug, Clone, Copy)]
pub struct Knob {
    /// The librdkafka name.
    pub name: &'static str,
    /// The client it applies to; `None`: both.
    pub client: Option<Client>,
    /// What it may be set to.
    pub values: Values,
}

const MIB: i64 = 1 << 20;
const fn knob(name: &'static str, client: Option<Client>, values: Values) -> Knob {
    Knob {
        name,
        client,
        values,
    }
}
const C: Option<Client> = Some(Client::Consumer);
const P: Option<Client> = Some(Client::Producer);
const ANY: Option<Client> = None;
const COMPRESSION: &[&str] = &["none", "gzip", "snappy", "lz4", "zstd"];

/// The allowlist: tuning knobs a tenant's job may set, with their allowed
/// values. Buffers that live in the host's memory are capped (64 MiB of
/// fetched or queued data, 16 MiB messages), so a tenant cannot size
/// librdkafka's memory past its budget.
pub const TENANT_KNOBS: &[Knob] = &[
    // Consumer: fetching.
    knob("fetch.min.bytes", C, Values::Int(1, 16 * MIB)),
    knob("fetch.wait.max.ms", C, Values::Int(0, 10_000)),
    knob("fetch.max.bytes", C, Values::Int(0, 64 * MIB)),
    knob("max.partition.fetch.bytes", C, Values::Int(1, 16 * MIB)),
    knob("fetch.message.max.bytes", C, Values::Int(1, 16 * MIB)),
    knob("fetch.error.backoff.ms", C, Values::Int(0, 300_000)),
    knob("queued.min.messages", C, Values::Int(1, 1_000_000)),
    knob("queued.max.messages.kbytes", C, Values::Int(1, 64 * 1024)),
    knob("check.crcs", C, Values::Bool),
    // Producer: batching and compression.
    knob("linger.ms", P, Values::Int(0, 60_000)),
    knob("queue.buffering.max.ms", P, Values::Int(0, 60_000)),
    knob("batch.num.messages", P, Values::Int(1, 1_000_000)),
    knob("batch.size", P, Values::Int(1, 16 * MIB)),
    knob("queue.buffering.max.messages", P, Values::Int(1, 1_000_000)),
    knob("queue.buffering.max.kbytes", P, Values::Int(1, 64 * 1024)),
    knob("message.max.bytes", P, Values::Int(1000, 16 * MIB)),
    knob("compression.type", P, Values::OneOf(COMPRESSION)),
    knob("compression.codec", P, Values::OneOf(COMPRESSION)),
    knob("compression.level", P, Values::Int(-1, 12)),
    knob("message.timeout.ms", P, Values::Int(1_000, 300_000)),
    knob("delivery.timeout.ms", P, Values::Int(1_000, 300_000)),
    knob("retries", P, Values::Int(0, i32::MAX as i64)),
    knob(
        "message.send.max.retries",
        P,
        Values::Int(0, i32::MAX as i64),
    ),
    knob("sticky.partitioning.linger.ms", P, Values::Int(0, 60_000)),
    knob(
        "partitioner",
        P,
        Values::OneOf(&[
            "random",
            "consistent",
            "consistent_random",
            "murmur2",
            "murmur2_random",
            "fnv1a",
            "fnv1a_random",
        ]),
    ),
    knob(
        "max.in.flight.requests.per.connection",
        P,
        Values::Int(1, 5),
    ),
    // Both: timeouts and back-offs.
    knob("socket.timeout.ms", ANY, Values::Int(10, 300_000)),
    knob("socket.keepalive.enable", ANY, Values::Bool),
    knob(
        "socket.connection.setup.timeout.ms",
        ANY,
        Values::Int(1_000, 300_000),
    ),
    knob("socket.send.buffer.bytes", ANY, Values::Int(0, 16 * MIB)),
    knob("socket.receive.buffer.bytes", ANY, Values::Int(0, 16 * MIB)),
    knob("reconnect.backoff.ms", ANY, Values::Int(0, 3_600_000)),
    knob("reconnect.backoff.max.ms", ANY, Values::Int(0, 3_600_000)),
    knob("retry.backoff.ms", ANY, Values::Int(1, 300_000)),
    knob("retry.backoff.max.ms", ANY, Values::Int(1, 300_000)),
    knob("request.timeout.ms", ANY, Values::Int(1, 900_000)),
    knob(
        "api.version.request.timeout.ms",
        ANY,
        Values::Int(10, 300_000),
    ),
    knob("metadata.max.age.ms", ANY, Values::Int(1_000, 86_400_000)),
    knob(
        "topic.metadata.refresh.interval.ms",
        ANY,
        Values::Int(1_000, 3_600_000),
    ),
    knob(
        "connections.max.idle.ms",
        ANY,
        Values::Int(0, 2_147_483_647),
    ),
];

/// A setting a tenant's job may not give, and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Identity or routing: weir's alone.
    #[error(
        "`{setting}` names identity or routing, which are weir's: {instead} (a tenant's groups and transactional ids start with `weir.<tenant>.`, its brokers are held to its kafka_brokers)"
    )]
    WeirOwned {
        /// The setting.
        setting: String,
        /// What to write instead.
        instead: &'static str,
    },
    /// Credentials: the host's, per tenant.
    #[error(
        "`{setting}` is a security setting: a tenant's Kafka credentials and TLS come from the host's config (`kafka_properties` of the tenant), never from a job"
    )]
    Credentials {
        /// The setting.
        setting: String,
    },
    /// Reaches the host's files, plugins or commands.
    #[error("`{setting}` reaches the host's files, plugins or commands; no job may set it")]
    HostResource {
        /// The setting.
        setting: String,
    },
    /// Anything else not on the allowlist.
    #[error(
        "`{setting}` is not on the allowlist of tuning knobs a tenant may set (fetch and batch sizes, linger, compression, timeouts, back-offs; see SECURITY.md)"
    )]
    NotAllowed {
        /// The setting.
        setting: String,
    },
    /// On the allowlist, but for the other kind of client.
    #[error("`{setting}` is a {for_client} setting; it has no place here")]
    WrongClient {
        /// The setting.
        setting: String,
        /// "consumer" or "producer".
        for_client: &'static str,
    },
    /// On the allowlist, but with a value out of range.
    #[error("`{setting}` = \"{value}\": a tenant may set it to {allowed}")]
    BadValue {
        /// The setting.
        setting: String,
        /// The value given.
        value: String,
        /// What is allowed, in words.
        allowed: String,
    },
}

/// Fragments of settings that read files, load plugins or run commands
/// (`plugin.library.paths`, `ssl.ca.location`, `sasl.kerberos.kinit.cmd`,
/// `ssl.engine.location`, `ssl.keystore.location`…), for the refusal's
/// wording only: the allowlist already refuses them.
const HOST_FRAGMENTS: &[&str] = &[
    "plugin", "location", "kinit", "keytab", "path", "file", "engine", "cmd",
];

/// May a tenant's job give `setting = value` to a client of kind `client`?
pub fn check_tenant(client: Client, setting: &str, value: &str) -> Result<(), Refused> {
    let setting_owned = || setting.to_string();
    if let Some(instead) = weir_owned(setting) {
        return Err(Refused::WeirOwned {
            setting: setting_owned(),
            instead,
        });
    }
    let Some(knob) = TENANT_KNOBS.iter().find(|k| k.name == setting) else {
        if HOST_FRAGMENTS.iter().any(|f| setting.contains(f)) {
            return Err(Refused::HostResource {
                setting: setting_owned(),
            });
        }
        if ["security.", "sasl.", "ssl.", "ssl_"]
            .iter()
            .any(|p| setting.starts_with(p))
        {
            return Err(Refused::Credentials {
                setting: setting_owned(),
            });
        }
        return Err(Refused::NotAllowed {
            setting: setting_owned(),
        });
    };
    if let Some(only) = knob.client
        && only != client
    {
        return Err(Refused::WrongClient {
            setting: setting_owned(),
            for_client: match only {
                Client::Consumer => "consumer (source)",
                Client::Producer => "producer (sink)",
            },
        });
    }
    let bad = |allowed: String| Refused::BadValue {
        setting: setting_owned(),
        value: value.to_string(),
        allowed,
    };
    match knob.values {
        Values::Int(min, max) => match value.trim().parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(()),
            _ => Err(bad(format!("a whole number from {min} to {max}"))),
        },
        Values::Bool => match value.trim() {
            "true" | "false" => Ok(()),
            _ => Err(bad("true or false".into())),
        },
        Values::OneOf(words) => {
            if words.contains(&value.trim()) {
                Ok(())
            } else {
                Err(bad(format!("one of {}", words.join(", "))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bypasses_found_in_review_are_refused_with_their_rule() {
        for (setting, value, rule) in [
            ("group.id", "weir.good.g", "identity"),
            ("transactional.id", "weir.good.cpu", "identity"),
            ("metadata.broker.list", "10.0.0.9:9092", "routing"),
            ("bootstrap.servers", "10.0.0.9:9092", "routing"),
            ("client.id", "weir.good.x", "identity"),
            ("sasl.password", "hunter2", "credentials"),
            ("security.protocol", "plaintext", "credentials"),
            ("ssl.ca.location", "/etc/ssl/x.pem", "host's files"),
            ("plugin.library.paths", "/tmp/evil.so", "host's files"),
            ("sasl.kerberos.kinit.cmd", "sh -c id", "host's files"),
            ("debug", "all", "allowlist"),
            ("isolation.level", "read_uncommitted", "weir's"),
        ] {
            for client in [Client::Consumer, Client::Producer] {
                let e = check_tenant(client, setting, value)
                    .expect_err(setting)
                    .to_string();
                assert!(e.contains(rule), "{setting}: `{rule}` not in: {e}");
                assert!(e.contains(setting), "{e}");
            }
        }
    }

    #[test]
    fn tuning_knobs_pass_within_their_values() {
        assert_eq!(check_tenant(Client::Producer, "linger.ms", "5"), Ok(()));
        assert_eq!(
            check_tenant(Client::Producer, "compression.type", "zstd"),
            Ok(())
        );
        assert_eq!(
            check_tenant(Client::Consumer, "fetch.min.bytes", "1"),
            Ok(())
        );
        assert!(matches!(
            check_tenant(Client::Consumer, "queued.max.messages.kbytes", "2097151"),
            Err(Refused::BadValue { .. })
        ));
        assert!(matches!(
            check_tenant(Client::Producer, "compression.type", "brotli"),
            Err(Refused::BadValue { .. })
        ));
        assert!(matches!(
            check_tenant(Client::Consumer, "linger.ms", "5"),
            Err(Refused::WrongClient { .. })
        ));
    }

    #[test]
    fn no_knob_on_the_allowlist_is_weirs_own() {
        for k in TENANT_KNOBS {
            assert!(weir_owned(k.name).is_none(), "{}", k.name);
            assert!(
                !HOST_FRAGMENTS.iter().any(|f| k.name.contains(f)),
                "{}",
                k.name
            );
        }
    }
}
