//! Produce: Kafka batches checked, converted and appended, one strata batch per partition;
//! answered per the request's `acks` (0: no answer, 1: once written, -1: once the topic's
//! durability policy is met, i.e. fsynced under `durability = always`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_protocol::ResponseError;
use kafka_protocol::messages::produce_request::ProduceRequest;
use kafka_protocol::messages::produce_response::{
    PartitionProduceResponse, ProduceResponse, TopicProduceResponse,
};
use kafka_protocol::protocol::StrBytes;
use strata_log::{AppendInfo, Partition, Topic, now_ms};

use crate::broker::{Broker, blocking, topic_name};
use crate::error::log_error_code;
use crate::idempotence::Verdict;
use crate::records::produced_to_strata;

/// The outcome of one partition of a produce request.
struct Outcome {
    index: i32,
    result: Result<(Arc<Partition>, AppendInfo), (ResponseError, Option<String>)>,
}

/// A produce request whose batches are appended, waiting to be acknowledged.
pub(crate) struct Appended {
    acks: i16,
    topics: Vec<(String, Vec<Outcome>)>,
}

/// Appends a produce request's batches (in the order requests arrive: a connection's
/// produces take offsets in order). Acknowledging them ([`Appended::acknowledged`]) is a
/// separate step, so that the connection can append its next requests while this one's
/// fsync runs, and one fsync covers them all (group commit across pipelined requests).
pub(crate) async fn append(broker: &Arc<Broker>, request: ProduceRequest) -> Appended {
    let acks = request.acks;
    let b = Arc::clone(broker);
    let started = Instant::now();
    let topics = match blocking(move || append_all(&b, request)).await {
        Ok(topics) => topics,
        Err(code) => {
            // The blocking task died: nothing can be said per partition.
            tracing::error!(error = ?code, "a produce request failed as a whole");
            Vec::new()
        }
    };
    warn_if_slow("appending a produce request", started);
    Appended { acks, topics }
}

/// A produce phase that took this long is worth an operator's attention (a client's p99 is
/// milliseconds): a slow disk, a starved machine.
const SLOW_PHASE: Duration = Duration::from_millis(50);

fn warn_if_slow(phase: &str, started: Instant) {
    let took = started.elapsed();
    if took >= SLOW_PHASE {
        tracing::warn!(took_ms = took.as_millis() as u64, "{phase} was slow");
    }
}

impl Appended {
    /// True for `acks = 0`, which gets no response.
    pub(crate) fn unanswered(&self) -> bool {
        self.acks == 0
    }

    /// Waits until the batches meet the request's `acks` (for -1, the topic's durability:
    /// fsynced under `durability = always`) and answers.
    pub(crate) async fn acknowledged(self, version: i16) -> ProduceResponse {
        let Appended { acks, mut topics } = self;
        if acks == -1 && !all_acknowledged(&topics) {
            let started = Instant::now();
            topics = match blocking(move || wait_acks(topics)).await {
                Ok(topics) => topics,
                Err(code) => {
                    tracing::error!(error = ?code, "waiting for a produce's fsync failed");
                    Vec::new()
                }
            };
            warn_if_slow("waiting for a produce's fsync", started);
        }
        let responses = topics
            .into_iter()
            .map(|(name, outcomes)| {
                let partitions = outcomes
                    .into_iter()
                    .map(|o| partition_response(version, o))
                    .collect();
                TopicProduceResponse::default()
                    .with_name(topic_name(&name))
                    .with_partition_responses(partitions)
            })
            .collect();
        ProduceResponse::default().with_responses(responses)
    }
}

/// The most a partition's records may take decompressed, in one request: no more than the
/// segment the append must fit in (a larger batch would be refused after the work), and no
/// more than the request limit, so that compression never lets one request append more than
/// the same client could send uncompressed.
fn max_decompressed(broker: &Broker, topic: &Topic) -> usize {
    let segment = usize::try_from(topic.config().segment_bytes).unwrap_or(usize::MAX);
    segment.min(broker.config.max_request_bytes)
}

/// Appends every partition's batch (blocking: writes; the fsync runs in the background).
fn append_all(broker: &Broker, request: ProduceRequest) -> Vec<(String, Vec<Outcome>)> {
    let acks = request.acks;
    let now = now_ms();
    let mut topics: Vec<(String, Vec<Outcome>)> = Vec::with_capacity(request.topic_data.len());
    for topic_data in request.topic_data {
        let name = topic_data.name.0.to_string();
        let topic = if matches!(acks, -1..=1) {
            broker
                .topic_or_create(&name, true)
                .map_err(|code| (code, None))
        } else {
            Err((
                ResponseError::InvalidRequiredAcks,
                Some(format!("acks must be -1, 0 or 1, not {acks}")),
            ))
        };
        let outcomes = topic_data
            .partition_data
            .into_iter()
            .map(|p| {
                let result = topic.clone().and_then(|topic| {
                    let partition = u32::try_from(p.index)
                        .ok()
                        .and_then(|i| topic.partition(i).ok())
                        .cloned()
                        .ok_or((ResponseError::UnknownTopicOrPartition, None))?;
                    let records = p.records.unwrap_or_default();
                    let produced = produced_to_strata(&records, now, max_decompressed(broker, &topic))
                        .map_err(|r| (r.code, Some(r.message)))?
                        .ok_or((
                            ResponseError::InvalidRecord,
                            Some("the request holds no record for this partition".into()),
                        ))?;
                    let Some(seq) = produced.sequenced else {
                        let info = partition
                            .append_unacked(produced.batch)
                            .map_err(|e| append_error(&name, p.index, &e))?;
                        return Ok((partition, info));
                    };
                    // Check and append under the producer's lock on this partition, so a
                    // retry racing its original cannot append twice.
                    let state = broker.producers.state(seq.producer_id, &name, partition.id());
                    let mut state = state.lock();
                    match state.check(&seq) {
                        Verdict::Duplicate(base_offset) => {
                            let count = u64::from(produced.batch.record_count());
                            let info = AppendInfo {
                                base_offset,
                                last_offset: base_offset + count.saturating_sub(1),
                            };
                            Ok((partition, info))
                        }
                        Verdict::Reject(code) => Err((code, None)),
                        Verdict::Append => {
                            let info = partition
                                .append_unacked(produced.batch)
                                .map_err(|e| append_error(&name, p.index, &e))?;
                            state.appended(&seq, info.base_offset);
                            Ok((partition, info))
                        }
                    }
                });
                if let Err((code, message)) = &result {
                    tracing::debug!(topic = %name, partition = p.index, ?code, ?message, "produce rejected");
                }
                Outcome {
                    index: p.index,
                    result,
                }
            })
            .collect();
        topics.push((name, outcomes));
    }
    topics
}

/// True when no appended batch needs waiting for (see [`Partition::is_acknowledged`]).
fn all_acknowledged(topics: &[(String, Vec<Outcome>)]) -> bool {
    topics
        .iter()
        .flat_map(|(_, outcomes)| outcomes)
        .all(|o| match &o.result {
            Ok((partition, info)) => partition.is_acknowledged(info),
            Err(_) => true,
        })
}

/// Waits for every appended batch to be durable; a batch whose fsync failed is answered with
/// the error instead of its offset. The partitions' fsyncs overlap: all were requested when
/// their batches were written.
fn wait_acks(mut topics: Vec<(String, Vec<Outcome>)>) -> Vec<(String, Vec<Outcome>)> {
    for (name, outcomes) in &mut topics {
        for o in outcomes.iter_mut() {
            if let Ok((partition, info)) = &o.result
                && let Err(e) = partition.wait_ack(info)
            {
                o.result = Err(append_error(name, o.index, &e));
            }
        }
    }
    topics
}

fn append_error(
    topic: &str,
    partition: i32,
    e: &strata_log::Error,
) -> (ResponseError, Option<String>) {
    let code = log_error_code(e);
    if code == ResponseError::UnknownServerError {
        tracing::error!(topic, partition, error = %e, "a Kafka produce failed in the log");
    }
    (code, Some(e.to_string()))
}

fn partition_response(version: i16, outcome: Outcome) -> PartitionProduceResponse {
    let response = PartitionProduceResponse::default()
        .with_index(outcome.index)
        .with_log_append_time_ms(-1);
    match outcome.result {
        Ok((partition, info)) => response
            .with_base_offset(info.base_offset as i64)
            .with_log_start_offset(partition.start_offset() as i64),
        Err((code, message)) => response
            .with_error_code(code.code())
            .with_base_offset(-1)
            .with_log_start_offset(-1)
            .with_error_message(if version >= 8 {
                message.map(StrBytes::from_string)
            } else {
                None
            }),
    }
}
