//! The fence around a tenant's Kafka clients: its topics by prefix, its
//! brokers, its consumer groups and transactional ids (`weir.<tenant>.`),
//! and librdkafka settings by allowlist
//! ([`crate::job::kafka_properties::check_tenant`]).

use super::tenants::Tenant;
use crate::job::kafka_properties::{Client, Refused, check_tenant};
use crate::job::{JobSpec, SinkSpec, SourceSpec};
use std::collections::BTreeMap;

/// A Kafka setting of a job outside its tenant's fence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FenceError {
    /// A topic, broker, group or transactional id the tenant may not use.
    #[error("{at}: {message}")]
    Forbidden {
        /// The setting.
        at: String,
        /// What is not allowed.
        message: String,
    },
    /// A librdkafka setting a tenant may not give.
    #[error("{at}.{refused}")]
    Property {
        /// The `properties` table.
        at: String,
        /// The setting and the rule.
        refused: Refused,
    },
}

fn forbidden(at: impl Into<String>, message: impl Into<String>) -> FenceError {
    FenceError::Forbidden {
        at: at.into(),
        message: message.into(),
    }
}

/// Hold the job's Kafka clients to the tenant's fence.
pub fn check(tenant: &Tenant, spec: &JobSpec) -> Result<(), FenceError> {
    let q = &tenant.quotas;
    let topic = |at: &str, t: &str| -> Result<(), FenceError> {
        if q.topic_allowed(t) {
            return Ok(());
        }
        Err(forbidden(
            at,
            format!(
                "tenant `{}` may not use Kafka topic `{t}` ({})",
                tenant.name,
                if q.kafka_topic_prefixes.is_empty() {
                    "it may use no Kafka topics".to_string()
                } else {
                    format!(
                        "its topics start with {}",
                        q.kafka_topic_prefixes.join(" or ")
                    )
                }
            ),
        ))
    };
    let brokers = |at: &str, list: &str| -> Result<(), FenceError> {
        if q.kafka_brokers.is_empty() {
            return Ok(());
        }
        for b in list.split(',').map(str::trim) {
            if !q.kafka_brokers.iter().any(|a| a == b) {
                return Err(forbidden(
                    at,
                    format!(
                        "tenant `{}` may not connect to Kafka broker `{b}` (allowed: {})",
                        tenant.name,
                        q.kafka_brokers.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    };
    let owned_id = |at: &str, v: &Option<String>| -> Result<(), FenceError> {
        let prefix = format!("weir.{}.", tenant.name);
        match v {
            Some(v) if !v.starts_with(&prefix) => Err(forbidden(
                at,
                format!(
                    "`{v}`: a tenant's consumer groups and transactional ids start with `{prefix}` (or leave it out for the default)"
                ),
            )),
            _ => Ok(()),
        }
    };
    let properties =
        |at: &str, client: Client, props: &BTreeMap<String, String>| -> Result<(), FenceError> {
            for (k, v) in props {
                check_tenant(client, k, v).map_err(|refused| FenceError::Property {
                    at: at.to_string(),
                    refused,
                })?;
            }
            Ok(())
        };
    for (_, at, source) in spec.all_sources() {
        let SourceSpec::Kafka(k) = source else {
            continue;
        };
        properties(&format!("{at}.properties"), Client::Consumer, &k.properties)?;
        brokers(&format!("{at}.brokers"), &k.brokers)?;
        for t in &k.topics {
            topic(&format!("{at}.topics"), t)?;
        }
        owned_id(&format!("{at}.group"), &k.group)?;
    }
    for (which, sink) in spec.outputs() {
        let SinkSpec::Kafka(k) = sink else { continue };
        properties(
            &format!("{which}.properties"),
            Client::Producer,
            &k.properties,
        )?;
        brokers(&format!("{which}.brokers"), &k.brokers)?;
        topic(&format!("{which}.topic"), &k.topic)?;
        if k.topic_field.is_some() && !q.topic_allowed("") {
            return Err(forbidden(
                format!("{which}.topic_field"),
                format!(
                    "tenant `{}` may only write topics starting with {}, which a topic chosen per record cannot be held to; name one topic",
                    tenant.name,
                    q.kafka_topic_prefixes.join(" or ")
                ),
            ));
        }
        owned_id(&format!("{which}.transactional_id"), &k.transactional_id)?;
    }
    Ok(())
}
