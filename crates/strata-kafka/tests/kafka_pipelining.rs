//! Pipelined requests on one connection: a produce waiting for its fsync does not hold back
//! the requests behind it from being appended, yet every response comes back in request
//! order with the offsets the requests were appended at.

#![allow(clippy::unwrap_used)]

mod support;

use kafka_protocol::messages::{ApiKey, MetadataRequest, MetadataResponse, ProduceResponse};
use strata_log::{Durability, TopicConfig};
use support::Broker;
use support::records::{batch, produce_request, values};
use support::wire::Wire;

/// The values of request `i`'s `n` records (`r<i>-<j>`).
fn request_values(i: usize, n: usize) -> Vec<String> {
    (0..n).map(|j| format!("r{i}-{j}")).collect()
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
            &produce_request("durable", acks, batch(&request_values(i, records), None)),
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
    let values = values(&partition);
    let expected: Vec<String> = (0..40usize)
        .filter(|i| i % 10 != 9)
        .flat_map(|i| request_values(i, 1 + i % 3))
        .collect();
    assert_eq!(values, expected);
}
