//! Pipelined requests on one connection: a produce waiting for its fsync does not hold back
//! the requests behind it from being appended, yet every response comes back in request
//! order with the offsets the requests were appended at.

#![allow(clippy::unwrap_used)]

mod support;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, MetadataRequest, MetadataResponse, ProduceRequest, ProduceResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use strata_log::{Durability, TopicConfig};
use support::Broker;
use support::wire::Wire;

/// A batch of `n` records whose values name the request (`r<i>-<j>`).
fn batch(request: usize, n: usize) -> Bytes {
    let records: Vec<Record> = (0..n)
        .map(|j| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: j as i64,
            sequence: -1,
            timestamp: 1_700_000_000_000,
            key: None,
            value: Some(Bytes::from(format!("r{request}-{j}"))),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .unwrap();
    buf.freeze()
}

fn produce(topic: &str, acks: i16, records: Bytes) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(records)),
                ]),
        ])
}

#[test]
fn pipelined_produces_are_answered_in_order_with_their_offsets() {
    let broker = Broker::start();
    let config = TopicConfig {
        durability: Durability::Always,
        ..TopicConfig::default()
    };
    broker.log.create_topic("durable", 1, config).unwrap();
    let mut wire = Wire::connect(broker.addr);

    // 40 requests written before any answer is read: produces with acks -1, 1 and 0 (which
    // gets no answer) of 1–3 records each, and a metadata request every tenth.
    enum Sent {
        Produce { id: i32, first: u64 },
        Metadata { id: i32 },
    }
    let mut sent = Vec::new();
    let mut next_offset = 0u64;
    // The end of the last acks=-1 request: everything below must be fsynced once it is answered.
    let mut acknowledged_durable = 0u64;
    for i in 0..40usize {
        if i % 10 == 9 {
            let all = MetadataRequest::default().with_topics(None);
            let id = wire.send(ApiKey::Metadata, 12, &all);
            sent.push(Sent::Metadata { id });
            continue;
        }
        let records = 1 + i % 3;
        let acks = [-1, 1, 0][i % 3];
        let id = wire.send(
            ApiKey::Produce,
            9,
            &produce("durable", acks, batch(i, records)),
        );
        if acks != 0 {
            sent.push(Sent::Produce {
                id,
                first: next_offset,
            });
        }
        next_offset += records as u64;
        if acks == -1 {
            acknowledged_durable = next_offset;
        }
    }

    for s in sent {
        match s {
            Sent::Produce { id, first } => {
                let r: ProduceResponse = wire.receive(ApiKey::Produce, 9, id);
                let p = &r.responses[0].partition_responses[0];
                assert_eq!(p.error_code, 0, "request {id}");
                assert_eq!(p.base_offset, first as i64, "request {id}");
            }
            Sent::Metadata { id } => {
                let r: MetadataResponse = wire.receive(ApiKey::Metadata, 12, id);
                assert!(
                    r.topics
                        .iter()
                        .any(|t| t.name.as_ref().is_some_and(|n| &*n.0 == "durable"))
                );
            }
        }
    }

    // Every record is in the log, in request order; what acks=-1 acknowledged is durable.
    let partition = broker
        .log
        .topic("durable")
        .unwrap()
        .partition(0)
        .unwrap()
        .clone();
    assert_eq!(partition.end_offset(), next_offset);
    assert!(partition.durable_offset() >= acknowledged_durable);
    let fetch = partition
        .read(
            0,
            strata_log::ReadLimits {
                max_records: 1000,
                max_bytes: 1 << 20,
            },
        )
        .unwrap();
    let values: Vec<String> = fetch
        .records()
        .map(|r| String::from_utf8(r.unwrap().value.to_vec()).unwrap())
        .collect();
    let expected: Vec<String> = (0..40usize)
        .filter(|i| i % 10 != 9)
        .flat_map(|i| (0..1 + i % 3).map(move |j| format!("r{i}-{j}")))
        .collect();
    assert_eq!(values, expected);
}
