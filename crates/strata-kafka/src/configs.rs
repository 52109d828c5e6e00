//! DescribeConfigs: a topic's config under Kafka's names (from [`crate::topic_configs`], the
//! table CreateTopics sets them with) and the broker configs that say what this node does.
//!
//! Every config is reported read-only: strata fixes a topic's config at creation and the
//! node's at start (there is no AlterConfigs), and Kafka's `read_only` means "cannot be
//! altered". A value's source is `DYNAMIC_TOPIC_CONFIG` / `STATIC_BROKER_CONFIG` when it
//! differs from strata's default and `DEFAULT_CONFIG` when it is the default, which is what
//! clients' "modified only" filters (kafka-python's default) look at.

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::describe_configs_request::{
    DescribeConfigsRequest, DescribeConfigsResource,
};
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResponse, DescribeConfigsResult,
    DescribeConfigsSynonym,
};
use kafka_protocol::protocol::StrBytes;
use strata_log::TopicConfig;

use crate::broker::Broker;
use crate::config::KafkaConfig;
use crate::error::log_error_code;
use crate::sasl;
use crate::topic_configs::{ConfigType, TOPIC_CONFIGS};

/// Kafka's resource types (`ConfigResource.Type`) this API distinguishes.
const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;

/// Kafka's config sources (`DescribeConfigsResponse.ConfigSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i8)]
enum Source {
    /// Set on the topic, away from the default.
    DynamicTopic = 1,
    /// Set on the node at start, away from the default.
    StaticBroker = 4,
    /// The default.
    Default = 5,
}

/// A broker config: what the node does, read from its listener's configuration.
struct BrokerConfig {
    name: &'static str,
    kind: ConfigType,
    doc: &'static str,
    value: fn(&KafkaConfig) -> String,
}

/// The node-wide behaviour a Kafka client or UI may ask about. Topic defaults (`log.*`,
/// `message.max.bytes`, …) come from [`TOPIC_CONFIGS`]' broker synonyms instead, so they are
/// named in one place.
const BROKER_CONFIGS: &[BrokerConfig] = &[
    BrokerConfig {
        name: "auto.create.topics.enable",
        kind: ConfigType::Boolean,
        doc: "Create a topic when a client produces to it or asks for its metadata (--kafka-auto-create).",
        value: |c| c.auto_create_topics.to_string(),
    },
    BrokerConfig {
        name: "broker.id",
        kind: ConfigType::Int,
        doc: "The node id this broker reports in metadata and as group coordinator.",
        value: |c| c.node_id.to_string(),
    },
    BrokerConfig {
        name: "group.initial.rebalance.delay.ms",
        kind: ConfigType::Int,
        doc: "How long a group without members waits for more to join before its first generation.",
        value: |c| c.group_initial_rebalance_delay.as_millis().to_string(),
    },
    BrokerConfig {
        name: "group.max.session.timeout.ms",
        kind: ConfigType::Int,
        doc: "Largest session timeout a consumer may ask for.",
        value: |c| c.group_max_session_timeout.as_millis().to_string(),
    },
    BrokerConfig {
        name: "group.min.session.timeout.ms",
        kind: ConfigType::Int,
        doc: "Smallest session timeout a consumer may ask for.",
        value: |c| c.group_min_session_timeout.as_millis().to_string(),
    },
    BrokerConfig {
        name: "num.partitions",
        kind: ConfigType::Int,
        doc: "Partitions of an auto-created topic, and of CreateTopics with num_partitions = -1.",
        value: |c| c.default_partitions.to_string(),
    },
    BrokerConfig {
        name: "sasl.enabled.mechanisms",
        kind: ConfigType::List,
        doc: "PLAIN (password = the node's auth token) when the node has a token; none otherwise.",
        value: |c| {
            if c.auth_token.is_some() {
                sasl::MECHANISM.to_owned()
            } else {
                String::new()
            }
        },
    },
    BrokerConfig {
        name: "sasl.server.max.receive.size",
        kind: ConfigType::Int,
        doc: "Largest request accepted from a connection before it has authenticated.",
        value: |_| sasl::MAX_UNAUTHENTICATED_REQUEST.to_string(),
    },
    BrokerConfig {
        name: "socket.request.max.bytes",
        kind: ConfigType::Int,
        doc: "Largest request accepted (--kafka-max-request-bytes); larger ones close the connection.",
        value: |c| c.max_request_bytes.to_string(),
    },
];

/// One config as DescribeConfigs reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Described {
    name: &'static str,
    value: String,
    source: Source,
    kind: ConfigType,
    doc: &'static str,
    /// Kafka's synonyms, most specific first: the config itself where set, then the broker
    /// config that holds its default.
    synonyms: Vec<(&'static str, String, Source)>,
}

fn source(value: &str, default: &str, set: Source) -> Source {
    if value == default {
        Source::Default
    } else {
        set
    }
}

/// A topic's configs, by the table CreateTopics sets them with.
fn topic_configs(config: &TopicConfig) -> Vec<Described> {
    let defaults = TopicConfig::default();
    TOPIC_CONFIGS
        .iter()
        .map(|e| {
            let value = (e.get)(config);
            let default = (e.get)(&defaults);
            let source = source(&value, &default, Source::DynamicTopic);
            let mut synonyms = Vec::with_capacity(2);
            if source == Source::DynamicTopic {
                synonyms.push((e.name, value.clone(), source));
            }
            if let Some(broker_name) = e.broker_name {
                synonyms.push((broker_name, default, Source::Default));
            }
            Described {
                name: e.name,
                value,
                source,
                kind: e.kind,
                doc: e.doc,
                synonyms,
            }
        })
        .collect()
}

/// The node's configs: its own, then the defaults of new topics under their broker names.
fn broker_configs(config: &KafkaConfig) -> Vec<Described> {
    let defaults = KafkaConfig::default();
    let own = BROKER_CONFIGS.iter().map(|b| {
        let value = (b.value)(config);
        let source = source(&value, &(b.value)(&defaults), Source::StaticBroker);
        Described {
            name: b.name,
            synonyms: vec![(b.name, value.clone(), source)],
            value,
            source,
            kind: b.kind,
            doc: b.doc,
        }
    });
    // New topics get strata's defaults (auto-created or created without configs): the
    // node has no setting that changes them.
    let topic_defaults = TopicConfig::default();
    let topics = TOPIC_CONFIGS.iter().filter_map(|e| {
        let name = e.broker_name?;
        let value = (e.get)(&topic_defaults);
        Some(Described {
            name,
            synonyms: vec![(name, value.clone(), Source::Default)],
            value,
            source: Source::Default,
            kind: e.kind,
            doc: e.doc,
        })
    });
    let mut all: Vec<Described> = own.chain(topics).collect();
    all.sort_by_key(|d| d.name);
    all.dedup_by_key(|d| d.name);
    all
}

/// Handles DescribeConfigs (v1-v4).
pub(crate) fn describe_configs(
    broker: &Arc<Broker>,
    version: i16,
    request: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let results = request
        .resources
        .into_iter()
        .map(|resource| {
            let result = DescribeConfigsResult::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name.clone());
            match describe(broker, &resource) {
                Ok(configs) => result.with_configs(
                    configs
                        .into_iter()
                        .filter(|d| wanted(&resource, d.name))
                        .map(|d| {
                            entry(
                                d,
                                version,
                                request.include_synonyms,
                                request.include_documentation,
                            )
                        })
                        .collect(),
                ),
                Err((code, message)) => result
                    .with_error_code(code.code())
                    .with_error_message(Some(StrBytes::from_string(message))),
            }
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

/// The configs of one resource, or why it has none.
fn describe(
    broker: &Broker,
    resource: &DescribeConfigsResource,
) -> Result<Vec<Described>, (ResponseError, String)> {
    let name = resource.resource_name.as_str();
    match resource.resource_type {
        RESOURCE_TOPIC => broker
            .log
            .topic(name)
            .map(|t| topic_configs(t.config()))
            .map_err(|e| (log_error_code(&e), e.to_string())),
        // The empty name is the cluster-wide dynamic defaults in Kafka: strata has none.
        RESOURCE_BROKER if name.is_empty() => Ok(Vec::new()),
        RESOURCE_BROKER if name == broker.config.node_id.to_string() => {
            Ok(broker_configs(&broker.config))
        }
        RESOURCE_BROKER => Err((
            ResponseError::InvalidRequest,
            format!(
                "unexpected broker id {name:?}: this node is broker {}",
                broker.config.node_id
            ),
        )),
        other => Err((
            ResponseError::InvalidRequest,
            format!(
                "resource type {other} is not supported: describe topics (2) or broker {} (4)",
                broker.config.node_id
            ),
        )),
    }
}

/// Whether the request's key filter keeps `name`: no filter (null, or an empty list, as
/// Kafka's broker reads it) keeps every config.
fn wanted(resource: &DescribeConfigsResource, name: &str) -> bool {
    match &resource.configuration_keys {
        Some(keys) if !keys.is_empty() => keys.iter().any(|k| k.as_str() == name),
        _ => true,
    }
}

fn entry(
    d: Described,
    version: i16,
    include_synonyms: bool,
    include_documentation: bool,
) -> DescribeConfigsResourceResult {
    let synonyms = if include_synonyms {
        d.synonyms
            .into_iter()
            .map(|(name, value, source)| {
                DescribeConfigsSynonym::default()
                    .with_name(StrBytes::from_static_str(name))
                    .with_value(Some(StrBytes::from_string(value)))
                    .with_source(source as i8)
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut result = DescribeConfigsResourceResult::default()
        .with_name(StrBytes::from_static_str(d.name))
        .with_value(Some(StrBytes::from_string(d.value)))
        .with_read_only(true)
        .with_config_source(d.source as i8)
        .with_is_sensitive(false)
        .with_synonyms(synonyms)
        // Null unless asked for (the generated default is an empty string).
        .with_documentation(None);
    if version >= 3 {
        result = result.with_config_type(d.kind as i8);
        if include_documentation {
            result = result.with_documentation(Some(StrBytes::from_static_str(d.doc)));
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_log::{Durability, Log, LogOptions};

    fn broker(config: KafkaConfig) -> (tempfile::TempDir, Arc<Broker>) {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open(dir.path(), LogOptions::default()).unwrap();
        (dir, Broker::new(log, config))
    }

    fn resource(kind: i8, name: &str, keys: Option<&[&str]>) -> DescribeConfigsResource {
        DescribeConfigsResource::default()
            .with_resource_type(kind)
            .with_resource_name(StrBytes::from_string(name.to_owned()))
            .with_configuration_keys(keys.map(|k| {
                k.iter()
                    .map(|s| StrBytes::from_string((*s).to_owned()))
                    .collect()
            }))
    }

    fn describe_one(
        broker: &Arc<Broker>,
        version: i16,
        r: DescribeConfigsResource,
        synonyms: bool,
    ) -> DescribeConfigsResult {
        let request = DescribeConfigsRequest::default()
            .with_resources(vec![r])
            .with_include_synonyms(synonyms)
            .with_include_documentation(true);
        let mut response = describe_configs(broker, version, request);
        assert_eq!(response.results.len(), 1);
        response.results.remove(0)
    }

    fn value<'a>(r: &'a DescribeConfigsResult, name: &str) -> &'a DescribeConfigsResourceResult {
        r.configs
            .iter()
            .find(|c| c.name.as_str() == name)
            .unwrap_or_else(|| panic!("no {name} in {r:?}"))
    }

    #[test]
    fn a_topics_config_reads_back_under_kafka_names_with_its_source() {
        let (_dir, b) = broker(KafkaConfig::default());
        let config = TopicConfig {
            retention_ms: Some(60_000),
            durability: Durability::Never,
            ..TopicConfig::default()
        };
        b.log.create_topic("t", 1, config).unwrap();
        let r = describe_one(&b, 4, resource(RESOURCE_TOPIC, "t", None), true);
        assert_eq!(r.error_code, 0);
        assert_eq!(r.configs.len(), TOPIC_CONFIGS.len());
        let retention = value(&r, "retention.ms");
        assert_eq!(retention.value.as_deref(), Some("60000"));
        assert_eq!(retention.config_source, Source::DynamicTopic as i8);
        assert!(retention.read_only);
        assert_eq!(retention.config_type, ConfigType::Long as i8);
        let synonyms: Vec<_> = retention
            .synonyms
            .iter()
            .map(|s| {
                (
                    s.name.to_string(),
                    s.value.as_deref().map(str::to_owned),
                    s.source,
                )
            })
            .collect();
        assert_eq!(
            synonyms,
            vec![
                ("retention.ms".into(), Some("60000".into()), 1),
                ("log.retention.ms".into(), Some("-1".into()), 5),
            ]
        );
        let durability = value(&r, "strata.durability");
        assert_eq!(durability.value.as_deref(), Some("never"));
        let segment = value(&r, "segment.bytes");
        assert_eq!(segment.value.as_deref(), Some("268435456"));
        assert_eq!(segment.config_source, Source::Default as i8);
        assert!(segment.documentation.is_some());
    }

    #[test]
    fn the_key_filter_keeps_only_the_names_asked_for() {
        let (_dir, b) = broker(KafkaConfig::default());
        b.log.create_topic("t", 1, TopicConfig::default()).unwrap();
        let keys = ["segment.ms", "no.such.config"];
        let r = describe_one(&b, 1, resource(RESOURCE_TOPIC, "t", Some(&keys)), false);
        let names: Vec<_> = r.configs.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["segment.ms"]);
        // v1-v2 have no type or documentation, and no synonyms were asked for.
        assert_eq!(r.configs[0].config_type, 0);
        assert!(r.configs[0].documentation.is_none());
        assert!(r.configs[0].synonyms.is_empty());
        let all = describe_one(&b, 1, resource(RESOURCE_TOPIC, "t", Some(&[])), false);
        assert_eq!(all.configs.len(), TOPIC_CONFIGS.len());
    }

    #[test]
    fn unknown_topics_and_resource_types_are_errors_per_resource() {
        let (_dir, b) = broker(KafkaConfig::default());
        b.log.create_topic("t", 1, TopicConfig::default()).unwrap();
        let request = DescribeConfigsRequest::default().with_resources(vec![
            resource(RESOURCE_TOPIC, "missing", None),
            resource(8, "0", None), // BROKER_LOGGER
            resource(RESOURCE_BROKER, "7", None),
            resource(RESOURCE_TOPIC, "t", None),
        ]);
        let r = describe_configs(&b, 2, request);
        let codes: Vec<_> = r.results.iter().map(|r| r.error_code).collect();
        assert_eq!(codes, vec![3, 42, 42, 0]);
        assert!(r.results[0].configs.is_empty());
        assert!(
            r.results[1]
                .error_message
                .as_deref()
                .unwrap()
                .contains("resource type 8 is not supported"),
            "{:?}",
            r.results[1]
        );
        assert_eq!(r.results[3].configs.len(), TOPIC_CONFIGS.len());
    }

    #[test]
    fn broker_configs_are_what_the_node_does() {
        let config = KafkaConfig {
            auto_create_topics: false,
            default_partitions: 3,
            ..KafkaConfig::default()
        };
        let (_dir, b) = broker(config);
        let r = describe_one(&b, 4, resource(RESOURCE_BROKER, "0", None), false);
        assert_eq!(r.error_code, 0);
        let auto = value(&r, "auto.create.topics.enable");
        assert_eq!(auto.value.as_deref(), Some("false"));
        assert_eq!(auto.config_source, Source::StaticBroker as i8);
        assert_eq!(auto.config_type, ConfigType::Boolean as i8);
        assert_eq!(value(&r, "num.partitions").value.as_deref(), Some("3"));
        let max = value(&r, "message.max.bytes");
        assert_eq!(max.value.as_deref(), Some("1048576"));
        assert_eq!(max.config_source, Source::Default as i8);
        assert_eq!(
            value(&r, "sasl.enabled.mechanisms").value.as_deref(),
            Some("")
        );
        assert_eq!(
            value(&r, "socket.request.max.bytes").value.as_deref(),
            Some("104857600")
        );
        let names: Vec<_> = r.configs.iter().map(|c| c.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted, "sorted, each once");
        let cluster = describe_one(&b, 4, resource(RESOURCE_BROKER, "", None), false);
        assert_eq!((cluster.error_code, cluster.configs.len()), (0, 0));
    }

    #[test]
    fn every_version_encodes() {
        use kafka_protocol::protocol::Encodable;
        let (_dir, b) = broker(KafkaConfig::default());
        b.log.create_topic("t", 1, TopicConfig::default()).unwrap();
        for version in 1..=4 {
            let request = DescribeConfigsRequest::default()
                .with_resources(vec![
                    resource(RESOURCE_TOPIC, "t", None),
                    resource(RESOURCE_BROKER, "0", None),
                ])
                .with_include_synonyms(true)
                .with_include_documentation(version >= 3);
            let response = describe_configs(&b, version, request);
            let mut buf = bytes::BytesMut::new();
            response.encode(&mut buf, version).expect("encodes");
        }
    }
}
