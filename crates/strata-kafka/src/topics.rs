//! CreateTopics and DeleteTopics, with the Kafka topic configs that map onto strata's
//! [`TopicConfig`].

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreateTopicsRequest};
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicResult, CreateTopicsResponse,
};
use kafka_protocol::messages::delete_topics_request::DeleteTopicsRequest;
use kafka_protocol::messages::delete_topics_response::{
    DeletableTopicResult, DeleteTopicsResponse,
};
use kafka_protocol::protocol::StrBytes;
use strata_log::names::validate_name;
use strata_log::{Durability, TopicConfig};

use crate::broker::{Broker, blocking};
use crate::error::log_error_code;

/// A topic to create, checked: `(name, partitions, config)`, or why not.
type Checked = Result<(String, u32, TopicConfig), (ResponseError, String)>;

/// Handles CreateTopics (with `validate_only`, checks without creating).
pub(crate) async fn create_topics(
    broker: &Arc<Broker>,
    _version: i16,
    request: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let default_partitions = broker.config.default_partitions;
    let checked: Vec<(String, Checked)> = request
        .topics
        .into_iter()
        .map(|t| (t.name.0.to_string(), check(t, default_partitions)))
        .collect();
    let validate_only = request.validate_only;
    let b = Arc::clone(broker);
    let results = blocking(move || {
        checked
            .into_iter()
            .map(|(name, c)| {
                let outcome = c.and_then(|(name, partitions, config)| {
                    if validate_only {
                        return match b.log.topic(&name) {
                            Ok(_) => Err((
                                ResponseError::TopicAlreadyExists,
                                format!("topic {name:?} already exists"),
                            )),
                            Err(_) => Ok(partitions),
                        };
                    }
                    b.log
                        .create_topic(&name, partitions, config)
                        .map(|t| t.partition_count())
                        .map_err(|e| {
                            let code = log_error_code(&e);
                            if code == ResponseError::UnknownServerError {
                                tracing::error!(topic = %name, error = %e, "creating a topic for a Kafka client failed");
                            }
                            (code, e.to_string())
                        })
                });
                (name, outcome)
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let topics = results
        .into_iter()
        .map(|(name, outcome)| {
            let result = CreatableTopicResult::default()
                .with_name(crate::broker::topic_name(&name))
                .with_configs(Some(Vec::new()));
            match outcome {
                Ok(partitions) => result
                    .with_num_partitions(partitions as i32)
                    .with_replication_factor(1),
                Err((code, message)) => result
                    .with_error_code(code.code())
                    .with_error_message(Some(StrBytes::from_string(message)))
                    .with_num_partitions(-1)
                    .with_replication_factor(-1),
            }
        })
        .collect();
    CreateTopicsResponse::default().with_topics(topics)
}

/// Checks one topic of a CreateTopics request against what one strata node can do.
fn check(t: CreatableTopic, default_partitions: u32) -> Checked {
    let name = t.name.0.to_string();
    validate_name("topic", &name)
        .map_err(|e| (ResponseError::InvalidTopicException, e.to_string()))?;
    let partitions = match t.num_partitions {
        -1 => default_partitions,
        n => u32::try_from(n).ok().filter(|&n| n > 0).ok_or((
            ResponseError::InvalidPartitions,
            format!("num_partitions must be positive (or -1 for the default), not {n}"),
        ))?,
    };
    if !matches!(t.replication_factor, -1 | 1) {
        return Err((
            ResponseError::InvalidReplicationFactor,
            format!(
                "replication factor {} is impossible on one strata node: use 1 (or -1)",
                t.replication_factor
            ),
        ));
    }
    if !t.assignments.is_empty() {
        return Err((
            ResponseError::InvalidRequest,
            "manual replica assignment is not supported: every partition lives on this node".into(),
        ));
    }
    let mut config = TopicConfig::default();
    for c in &t.configs {
        let value = c.value.as_deref().unwrap_or_default();
        apply_config(&mut config, &c.name, value).map_err(|m| (ResponseError::InvalidConfig, m))?;
    }
    config
        .validate()
        .map_err(|e| (ResponseError::InvalidConfig, e.to_string()))?;
    Ok((name, partitions, config))
}

/// Applies one Kafka topic config to a strata [`TopicConfig`].
///
/// # Errors
/// A message naming the key and what it accepts, for unknown keys and bad values.
fn apply_config(config: &mut TopicConfig, key: &str, value: &str) -> Result<(), String> {
    let number = || {
        value
            .parse::<i64>()
            .map_err(|_| format!("{key} must be a number, not {value:?}"))
    };
    let positive = || {
        number().and_then(|n| u64::try_from(n).map_err(|_| format!("{key} must not be negative")))
    };
    let or_unlimited = || number().map(|n| u64::try_from(n).ok());
    match key {
        "retention.ms" => config.retention_ms = or_unlimited()?,
        "retention.bytes" => config.retention_bytes = or_unlimited()?,
        "segment.bytes" => config.segment_bytes = positive()?,
        "segment.ms" => config.segment_ms = positive()?,
        "max.message.bytes" => config.max_record_bytes = positive()?,
        "flush.ms" => config.flush_interval_ms = positive()?,
        "cleanup.policy" if value == "delete" => {}
        "strata.durability" => {
            config.durability = match value {
                "always" => Durability::Always,
                "interval" => Durability::Interval,
                "never" => Durability::Never,
                _ => {
                    return Err(format!(
                        "strata.durability is always, interval or never, not {value:?}"
                    ));
                }
            }
        }
        _ => {
            return Err(format!(
                "config {key}={value} is not supported; supported: retention.ms, retention.bytes, segment.bytes, segment.ms, max.message.bytes, flush.ms, cleanup.policy=delete, strata.durability"
            ));
        }
    }
    Ok(())
}

/// Handles DeleteTopics (v1-v5: by name).
pub(crate) async fn delete_topics(
    broker: &Arc<Broker>,
    _version: i16,
    request: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    let names: Vec<String> = request
        .topic_names
        .iter()
        .map(|n| n.0.to_string())
        .collect();
    let b = Arc::clone(broker);
    let results = blocking(move || {
        names
            .into_iter()
            .map(|name| {
                let outcome = b.log.delete_topic(&name).map_err(|e| {
                    let code = log_error_code(&e);
                    if code == ResponseError::UnknownServerError {
                        tracing::error!(topic = %name, error = %e, "deleting a topic for a Kafka client failed");
                    }
                    (code, e.to_string())
                });
                (name, outcome)
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let responses = results
        .into_iter()
        .map(|(name, outcome)| {
            let result =
                DeletableTopicResult::default().with_name(Some(crate::broker::topic_name(&name)));
            match outcome {
                Ok(()) => result,
                Err((code, message)) => result
                    .with_error_code(code.code())
                    .with_error_message(Some(StrBytes::from_string(message))),
            }
        })
        .collect();
    DeleteTopicsResponse::default().with_responses(responses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_configs_map_onto_strata_and_unknown_ones_are_named() {
        let mut c = TopicConfig::default();
        apply_config(&mut c, "retention.ms", "60000").expect("retention");
        apply_config(&mut c, "retention.bytes", "-1").expect("unlimited");
        apply_config(&mut c, "strata.durability", "never").expect("durability");
        assert_eq!(c.retention_ms, Some(60_000));
        assert_eq!(c.retention_bytes, None);
        assert_eq!(c.durability, Durability::Never);
        let err = apply_config(&mut c, "cleanup.policy", "compact").expect_err("compaction");
        assert!(
            err.contains("cleanup.policy=compact is not supported"),
            "{err}"
        );
        assert!(apply_config(&mut c, "segment.bytes", "-5").is_err());
    }
}
