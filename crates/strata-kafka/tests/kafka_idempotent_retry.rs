//! An idempotent producer's retry, on the wire: the same batch (producer id, epoch, sequence)
//! sent twice — as a client does when an acknowledgement is lost — is appended once and both
//! sends are answered with the same offset; a gap in the sequence is refused and appends
//! nothing.

#![allow(clippy::unwrap_used)]

mod support;

use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, InitProducerIdRequest, InitProducerIdResponse, ProduceResponse,
};
use strata_log::TopicConfig;
use support::Broker;
use support::records::{batch, produce_request, values};
use support::wire::Wire;

/// A batch of `n` records of producer `id`/`epoch`, its first sequence number `sequence`;
/// values `s<sequence>`.
fn sequenced(id: i64, epoch: i16, sequence: i32, n: i32) -> Bytes {
    let values: Vec<String> = (sequence..sequence + n).map(|s| format!("s{s}")).collect();
    batch(&values, Some((id, epoch, sequence)))
}

/// Produces `records` to partition 0 of `events`: (error code, base offset).
fn produce(wire: &mut Wire, records: Bytes) -> (i16, i64) {
    let request = produce_request("events", -1, records);
    let response: ProduceResponse = wire.call(ApiKey::Produce, 9, &request);
    let p = &response.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

#[test]
fn a_retried_batch_is_appended_once_and_a_gap_appends_nothing() {
    let broker = Broker::start();
    broker
        .log
        .create_topic("events", 1, TopicConfig::default())
        .unwrap();
    let mut wire = Wire::connect(broker.addr);
    let init: InitProducerIdResponse = wire.call(
        ApiKey::InitProducerId,
        4,
        &InitProducerIdRequest::default()
            .with_transaction_timeout_ms(60_000)
            .with_producer_id(kafka_protocol::messages::ProducerId(-1))
            .with_producer_epoch(-1),
    );
    assert_eq!(init.error_code, 0);
    let (id, epoch) = (init.producer_id.0, init.producer_epoch);

    assert_eq!(produce(&mut wire, sequenced(id, epoch, 0, 3)), (0, 0));
    // The retry of the same batch: answered with the first send's offset, not appended.
    assert_eq!(produce(&mut wire, sequenced(id, epoch, 0, 3)), (0, 0));
    assert_eq!(produce(&mut wire, sequenced(id, epoch, 3, 2)), (0, 3));
    // A gap (sequence 9 after 4): OUT_OF_ORDER_SEQUENCE_NUMBER (45), nothing appended.
    let (code, _) = produce(&mut wire, sequenced(id, epoch, 9, 1));
    assert_eq!(code, 45);

    let partition = broker
        .log
        .topic("events")
        .unwrap()
        .partition(0)
        .unwrap()
        .clone();
    assert_eq!(
        partition.end_offset(),
        5,
        "the retry and the gap appended nothing"
    );
    let values = values(&partition);
    assert_eq!(values, ["s0", "s1", "s2", "s3", "s4"]);
}
