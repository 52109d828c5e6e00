//! ApiVersions and Metadata: what the broker speaks, and the cluster as clients see it — one
//! node that leads every partition of every topic.

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::BrokerId;
use kafka_protocol::messages::api_versions_response::{ApiVersion, ApiVersionsResponse};
use kafka_protocol::messages::metadata_request::MetadataRequest;
use kafka_protocol::messages::metadata_response::{
    MetadataResponse, MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::protocol::StrBytes;
use strata_log::Topic;

use crate::broker::{Broker, Context, blocking, topic_name};
use crate::codec::SUPPORTED;

/// Kafka's "authorized operations were not asked for".
const AUTHORIZED_OPERATIONS_OMITTED: i32 = i32::MIN;

/// The ApiVersions answer: every supported API with its version range. `error` is set for
/// the fallback answer to a too-new ApiVersions request (encoded as v0, as Kafka does, so
/// the client can retry with a version from the list).
pub(crate) fn api_versions(error: Option<ResponseError>) -> ApiVersionsResponse {
    let api_keys = SUPPORTED
        .iter()
        .map(|&(key, min, max)| {
            ApiVersion::default()
                .with_api_key(key as i16)
                .with_min_version(min)
                .with_max_version(max)
        })
        .collect();
    ApiVersionsResponse::default()
        .with_error_code(error.map_or(0, |e| e.code()))
        .with_api_keys(api_keys)
        .with_finalized_features_epoch(-1)
}

/// The Metadata answer: this node as the only broker and controller, and the topics asked
/// for (all when `topics` is null, or empty in v0), creating unknown ones when allowed.
pub(crate) async fn metadata(
    broker: &Arc<Broker>,
    ctx: &Context,
    version: i16,
    request: MetadataRequest,
) -> MetadataResponse {
    let node = BrokerId(broker.config.node_id);
    let (host, port) = broker.advertised(ctx);
    let brokers = vec![
        MetadataResponseBroker::default()
            .with_node_id(node)
            .with_host(host)
            .with_port(port),
    ];
    let wanted: Option<Vec<String>> = match request.topics {
        None => None,
        Some(t) if t.is_empty() && version == 0 => None,
        Some(t) => Some(
            t.into_iter()
                .filter_map(|t| t.name.map(|n| n.0.to_string()))
                .collect(),
        ),
    };
    // v0-v3 have no flag: Kafka auto-created for every version-less request.
    let create = version < 4 || request.allow_auto_topic_creation;
    let topics = match wanted {
        None => broker
            .log
            .topics()
            .iter()
            .map(|t| topic_metadata(node, t))
            .collect(),
        Some(names) => {
            let b = Arc::clone(broker);
            let looked_up = blocking(move || {
                names
                    .into_iter()
                    .map(|name| {
                        let found = b.topic_or_create(&name, create);
                        (name, found)
                    })
                    .collect::<Vec<_>>()
            })
            .await
            .unwrap_or_default();
            looked_up
                .into_iter()
                .map(|(name, found)| match found {
                    Ok(t) => topic_metadata(node, &t),
                    Err(code) => MetadataResponseTopic::default()
                        .with_error_code(code.code())
                        .with_name(Some(topic_name(&name)))
                        .with_topic_authorized_operations(AUTHORIZED_OPERATIONS_OMITTED),
                })
                .collect()
        }
    };
    MetadataResponse::default()
        .with_brokers(brokers)
        .with_cluster_id(Some(StrBytes::from_static_str("strata")))
        .with_controller_id(node)
        .with_topics(topics)
        .with_cluster_authorized_operations(AUTHORIZED_OPERATIONS_OMITTED)
}

fn topic_metadata(node: BrokerId, topic: &Topic) -> MetadataResponseTopic {
    let partitions = (0..topic.partition_count())
        .map(|p| {
            MetadataResponsePartition::default()
                .with_partition_index(p as i32)
                .with_leader_id(node)
                // No leader epochs: -1 tells clients to skip epoch validation (KIP-320).
                .with_leader_epoch(-1)
                .with_replica_nodes(vec![node])
                .with_isr_nodes(vec![node])
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(topic_name(topic.name())))
        .with_partitions(partitions)
        .with_topic_authorized_operations(AUTHORIZED_OPERATIONS_OMITTED)
}
