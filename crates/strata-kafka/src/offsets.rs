//! Offsets: ListOffsets (earliest, latest, by timestamp) and a consumer group's committed
//! offsets (OffsetCommit, OffsetFetch), kept in strata's [`strata_log::GroupStore`] — the same
//! store the HTTP API's groups use, so a Kafka consumer's lag shows in `strata group list`.

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::list_offsets_request::ListOffsetsRequest;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::offset_commit_request::OffsetCommitRequest;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponse, OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequest;
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponse, OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
use kafka_protocol::protocol::StrBytes;
use strata_log::names::validate_name;
use strata_log::{Partition, ReadLimits};

use crate::broker::{Broker, blocking, topic_name};
use crate::error::log_error_code;

/// ListOffsets' "the next offset to be written".
const LATEST: i64 = -1;
/// ListOffsets' "the first retained offset".
const EARLIEST: i64 = -2;

/// Handles ListOffsets (runs the timestamp searches off the async workers).
pub(crate) async fn list_offsets(
    broker: &Arc<Broker>,
    _version: i16,
    request: ListOffsetsRequest,
) -> ListOffsetsResponse {
    let b = Arc::clone(broker);
    let topics = blocking(move || {
        request
            .topics
            .into_iter()
            .map(|t| {
                let topic = b.log.topic(&t.name.0);
                let partitions = t
                    .partitions
                    .into_iter()
                    .map(|p| {
                        let response = ListOffsetsPartitionResponse::default()
                            .with_partition_index(p.partition_index)
                            .with_leader_epoch(-1);
                        let partition = topic.as_ref().map_err(log_error_code).and_then(|topic| {
                            u32::try_from(p.partition_index)
                                .ok()
                                .and_then(|n| topic.partition(n).ok())
                                .ok_or(ResponseError::UnknownTopicOrPartition)
                        });
                        match partition.and_then(|part| offset_for(part, p.timestamp)) {
                            Ok((offset, timestamp)) => {
                                response.with_offset(offset).with_timestamp(timestamp)
                            }
                            Err(code) => response
                                .with_error_code(code.code())
                                .with_offset(-1)
                                .with_timestamp(-1),
                        }
                    })
                    .collect();
                ListOffsetsTopicResponse::default()
                    .with_name(t.name)
                    .with_partitions(partitions)
            })
            .collect()
    })
    .await
    .unwrap_or_default();
    ListOffsetsResponse::default().with_topics(topics)
}

/// `(offset, timestamp)` for a ListOffsets query: the latest, the earliest, or the first
/// record at or after `timestamp` (`(-1, -1)` when there is none, as Kafka answers).
fn offset_for(partition: &Partition, timestamp: i64) -> Result<(i64, i64), ResponseError> {
    match timestamp {
        LATEST => Ok((partition.end_offset() as i64, -1)),
        EARLIEST => Ok((partition.start_offset() as i64, -1)),
        t if t < 0 => Err(ResponseError::InvalidRequest),
        t => {
            let found = partition
                .offset_for_timestamp(t)
                .map_err(|e| log_error_code(&e))?;
            let Some(offset) = found else {
                return Ok((-1, -1));
            };
            let limits = ReadLimits {
                max_records: 1,
                max_bytes: 1,
            };
            let fetch = partition
                .read(offset, limits)
                .map_err(|e| log_error_code(&e))?;
            let record_time = match fetch.records().next() {
                Some(Ok(r)) => r.timestamp,
                _ => -1,
            };
            Ok((offset as i64, record_time))
        }
    }
}

/// One partition of an OffsetCommit: its index, and the offset to commit or the error.
type PartitionPlan = (i32, Result<u64, ResponseError>);

/// Handles OffsetCommit: checks the member's generation with the coordinator, then commits
/// the partitions that exist, all in one durable write.
pub(crate) async fn offset_commit(
    broker: &Arc<Broker>,
    _version: i16,
    request: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let group = request.group_id.0.to_string();
    let membership = if validate_name("group", &group).is_err() {
        Err(ResponseError::InvalidGroupId)
    } else {
        broker.coordinator.check_commit(
            &group,
            request.generation_id_or_member_epoch,
            &request.member_id,
        )
    };
    // Per partition: Ok(offset) to commit, or the error to answer.
    let mut plan: Vec<(String, Vec<PartitionPlan>)> = Vec::new();
    for t in &request.topics {
        let name = t.name.0.to_string();
        let topic = broker.log.topic(&name);
        let partitions = t
            .partitions
            .iter()
            .map(|p| {
                let result = membership.and_then(|()| {
                    let topic = topic.as_ref().map_err(log_error_code)?;
                    u32::try_from(p.partition_index)
                        .ok()
                        .and_then(|n| topic.partition(n).ok())
                        .ok_or(ResponseError::UnknownTopicOrPartition)?;
                    u64::try_from(p.committed_offset).map_err(|_| ResponseError::InvalidRequest)
                });
                (p.partition_index, result)
            })
            .collect();
        plan.push((name, partitions));
    }
    let commits: Vec<(String, u32, u64)> = plan
        .iter()
        .flat_map(|(name, parts)| {
            parts.iter().filter_map(|(index, r)| {
                r.as_ref()
                    .ok()
                    .map(|&offset| (name.clone(), *index as u32, offset))
            })
        })
        .collect();
    let mut commit_error = None;
    if !commits.is_empty() {
        let b = Arc::clone(broker);
        let g = group.clone();
        let result = blocking(move || {
            let triples: Vec<(&str, u32, u64)> = commits
                .iter()
                .map(|(t, p, o)| (t.as_str(), *p, *o))
                .collect();
            b.log.groups().commit(&g, &triples)
        })
        .await;
        commit_error = match result {
            Ok(Ok(())) => None,
            Ok(Err(e)) => {
                let code = log_error_code(&e);
                tracing::error!(group = %group, error = %e, "committing a Kafka consumer group's offsets failed");
                Some(code)
            }
            Err(code) => Some(code),
        };
    }
    let topics = plan
        .into_iter()
        .map(|(name, parts)| {
            let partitions = parts
                .into_iter()
                .map(|(index, r)| {
                    let code = match r {
                        Ok(_) => commit_error.map_or(0, |c| c.code()),
                        Err(c) => c.code(),
                    };
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(index)
                        .with_error_code(code)
                })
                .collect();
            OffsetCommitResponseTopic::default()
                .with_name(topic_name(&name))
                .with_partitions(partitions)
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}

/// Handles OffsetFetch (v1-v7: one group): the committed offset of each partition asked
/// for, or of every partition the group committed when `topics` is null; -1 where nothing is
/// committed.
pub(crate) fn offset_fetch(
    broker: &Arc<Broker>,
    _version: i16,
    request: OffsetFetchRequest,
) -> OffsetFetchResponse {
    let group = request.group_id.0.to_string();
    if validate_name("group", &group).is_err() {
        return OffsetFetchResponse::default()
            .with_error_code(ResponseError::InvalidGroupId.code());
    }
    let store = broker.log.groups();
    let partition = |index: i32, offset: Option<u64>| {
        OffsetFetchResponsePartition::default()
            .with_partition_index(index)
            .with_committed_offset(offset.map_or(-1, |o| o as i64))
            .with_committed_leader_epoch(-1)
            .with_metadata(Some(StrBytes::default()))
    };
    let topics = match request.topics {
        Some(topics) => topics
            .into_iter()
            .map(|t| {
                let partitions = t
                    .partition_indexes
                    .iter()
                    .map(|&i| {
                        let committed = u32::try_from(i)
                            .ok()
                            .and_then(|p| store.committed(&group, &t.name.0, p));
                        partition(i, committed.map(|c| c.offset))
                    })
                    .collect();
                OffsetFetchResponseTopic::default()
                    .with_name(t.name)
                    .with_partitions(partitions)
            })
            .collect(),
        None => {
            let mut topics: Vec<OffsetFetchResponseTopic> = Vec::new();
            for (topic, p, committed) in store.offsets(&group).unwrap_or_default() {
                if topics.last().is_none_or(|t| *t.name.0 != *topic) {
                    topics.push(OffsetFetchResponseTopic::default().with_name(topic_name(&topic)));
                }
                if let Some(t) = topics.last_mut() {
                    t.partitions
                        .push(partition(p as i32, Some(committed.offset)));
                }
            }
            topics
        }
    };
    OffsetFetchResponse::default().with_topics(topics)
}
