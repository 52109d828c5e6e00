//! CreateTopics and DeleteTopics; the Kafka topic configs a CreateTopics may carry are those
//! of [`crate::topic_configs`].

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
use strata_log::TopicConfig;
use strata_log::names::validate_name;

use crate::broker::{Broker, blocking};
use crate::error::log_error_code;
use crate::topic_configs;

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
        topic_configs::apply(&mut config, &c.name, value)
            .map_err(|m| (ResponseError::InvalidConfig, m))?;
    }
    config
        .validate()
        .map_err(|e| (ResponseError::InvalidConfig, e.to_string()))?;
    Ok((name, partitions, config))
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
