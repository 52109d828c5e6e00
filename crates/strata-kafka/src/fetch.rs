//! Fetch: whole batches from each partition's offset, converted to uncompressed Kafka v2
//! batches, within the request's byte limits; a long poll up to `max_wait_ms` while fewer
//! than `min_bytes` are available.
//!
//! Isolation: strata has no transactions, so every record is committed and `read_committed`
//! reads what `read_uncommitted` reads (the last stable offset is the high watermark).
//! Fetch sessions (KIP-227) are not created: every answer carries session id 0, which tells
//! clients to keep sending full fetch requests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::BrokerId;
use kafka_protocol::messages::fetch_request::FetchRequest;
use kafka_protocol::messages::fetch_response::{
    FetchResponse, FetchableTopicResponse, PartitionData,
};
use strata_log::{Partition, ReadLimits};

use crate::broker::{Broker, blocking, topic_name};
use crate::error::log_error_code;
use crate::records::{kafka_batch_len, put_kafka_batch};

/// How often a long poll looks at the partitions' end offsets. The log's own wake-up is per
/// partition and blocking; a fetch spans many partitions, so it polls these atomics instead
/// (a few microseconds each) without holding a thread.
const POLL_INTERVAL: Duration = Duration::from_millis(2);

/// One partition to read: where, from which offset, how much.
struct Wanted {
    topic: usize,
    index: i32,
    partition: Result<Arc<Partition>, ResponseError>,
    offset: i64,
    max_bytes: u64,
}

/// Handles a fetch request.
pub(crate) async fn fetch(
    broker: &Arc<Broker>,
    _version: i16,
    request: FetchRequest,
) -> FetchResponse {
    if request.session_id != 0 || request.session_epoch > 0 {
        // An incremental fetch of a session this broker never created.
        return FetchResponse::default()
            .with_error_code(ResponseError::FetchSessionIdNotFound.code());
    }
    let wait = Duration::from_millis(u64::try_from(request.max_wait_ms).unwrap_or(0))
        .min(broker.config.max_fetch_wait);
    let deadline = Instant::now() + wait;
    let min_bytes = usize::try_from(request.min_bytes).unwrap_or(0);
    let max_bytes = u64::try_from(request.max_bytes).unwrap_or(0);
    let names: Vec<String> = request
        .topics
        .iter()
        .map(|t| t.topic.0.to_string())
        .collect();
    let mut wanted = Vec::new();
    for (i, t) in request.topics.iter().enumerate() {
        let topic = broker.log.topic(&names[i]);
        for p in &t.partitions {
            let partition = match &topic {
                Ok(topic) => u32::try_from(p.partition)
                    .ok()
                    .and_then(|n| topic.partition(n).ok())
                    .cloned()
                    .ok_or(ResponseError::UnknownTopicOrPartition),
                Err(e) => Err(log_error_code(e)),
            };
            wanted.push(Wanted {
                topic: i,
                index: p.partition,
                partition,
                offset: p.fetch_offset,
                max_bytes: u64::try_from(p.partition_max_bytes).unwrap_or(0),
            });
        }
    }
    let wanted = Arc::new(wanted);
    let mut last_ends: Option<Vec<u64>> = None;
    let partitions = loop {
        let ends = end_offsets(&wanted);
        // Read again only when something moved: an unchanged log gives the same answer.
        if last_ends.as_ref() != Some(&ends) || Instant::now() >= deadline {
            let w = Arc::clone(&wanted);
            let read = blocking(move || read_all(&w, max_bytes)).await;
            let read = match read {
                Ok(read) => read,
                Err(code) => return FetchResponse::default().with_error_code(code.code()),
            };
            let bytes: usize = read
                .iter()
                .map(|p| p.records.as_ref().map_or(0, |r| r.len()))
                .sum();
            let errors = read.iter().any(|p| p.error_code != 0);
            if bytes >= min_bytes.max(1) || errors || min_bytes == 0 || Instant::now() >= deadline {
                break read;
            }
            last_ends = Some(ends);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(POLL_INTERVAL.min(left)).await;
    };
    let mut responses: Vec<FetchableTopicResponse> = names
        .iter()
        .map(|n| FetchableTopicResponse::default().with_topic(topic_name(n)))
        .collect();
    for (w, data) in wanted.iter().zip(partitions) {
        responses[w.topic].partitions.push(data);
    }
    FetchResponse::default().with_responses(responses)
}

/// Each partition's end offset (0 for an unknown one): what a long poll watches.
fn end_offsets(wanted: &[Wanted]) -> Vec<u64> {
    wanted
        .iter()
        .map(|w| w.partition.as_ref().map_or(0, |p| p.end_offset()))
        .collect()
}

/// Reads every partition once, within `max_bytes` for the response (the first batch found
/// is returned whatever its size, so that a consumer always makes progress: KIP-74).
fn read_all(wanted: &[Wanted], max_bytes: u64) -> Vec<PartitionData> {
    let mut budget = max_bytes;
    let mut any = false;
    wanted
        .iter()
        .map(|w| {
            let data = PartitionData::default()
                .with_partition_index(w.index)
                .with_preferred_read_replica(BrokerId(-1))
                .with_aborted_transactions(Some(Vec::new()));
            let partition = match &w.partition {
                Ok(p) => p,
                Err(code) => {
                    return data
                        .with_error_code(code.code())
                        .with_high_watermark(-1)
                        .with_last_stable_offset(-1)
                        .with_log_start_offset(-1)
                        .with_records(Some(Default::default()));
                }
            };
            let end = partition.end_offset() as i64;
            let start = partition.start_offset() as i64;
            let data = data
                .with_high_watermark(end)
                .with_last_stable_offset(end)
                .with_log_start_offset(start);
            let limit = if any { w.max_bytes.min(budget) } else { w.max_bytes };
            if w.offset < 0 {
                return data
                    .with_error_code(ResponseError::OffsetOutOfRange.code())
                    .with_records(Some(Default::default()));
            }
            if limit == 0 || w.offset == end {
                return data.with_records(Some(Default::default()));
            }
            let limits = ReadLimits {
                max_records: u64::MAX,
                max_bytes: limit,
            };
            match partition.read(w.offset as u64, limits) {
                Ok(fetch) => {
                    let batches: Vec<_> = fetch.batches().collect();
                    let mut out = BytesMut::with_capacity(batches.iter().map(kafka_batch_len).sum());
                    for batch in &batches {
                        put_kafka_batch(&mut out, batch);
                    }
                    budget = budget.saturating_sub(out.len() as u64);
                    any |= !out.is_empty();
                    data.with_records(Some(out.freeze()))
                }
                Err(e) => {
                    let code = log_error_code(&e);
                    if code == ResponseError::UnknownServerError {
                        tracing::error!(topic = partition.topic(), partition = w.index, error = %e, "a Kafka fetch failed in the log");
                    }
                    data.with_error_code(code.code())
                        .with_records(Some(Default::default()))
                }
            }
        })
        .collect()
}
