//! Record batches and produce requests as a client encodes them, and a partition's values
//! read back, for tests that speak the protocol on the wire ([`super::wire::Wire`]).

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::ProduceRequest;
use kafka_protocol::messages::TopicName;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use strata_log::{Partition, ReadLimits};

/// The producer fields of a batch: `None` for a plain producer, else (id, epoch, first
/// sequence number) of an idempotent one.
pub type Producer = Option<(i64, i16, i32)>;

/// An uncompressed v2 batch of `values` (no keys, no headers).
pub fn batch(values: &[String], producer: Producer) -> Bytes {
    let (id, epoch, first) = producer.unwrap_or((-1, -1, -1));
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(j, v)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: id,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: j as i64,
            sequence: if first < 0 { -1 } else { first + j as i32 },
            timestamp: 1_700_000_000_000,
            key: None,
            value: Some(Bytes::from(v.clone())),
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

/// A produce request of `records` to partition 0 of `topic`.
pub fn produce_request(topic: &str, acks: i16, records: Bytes) -> ProduceRequest {
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

/// Every value of `partition`, as text, in offset order.
pub fn values(partition: &Partition) -> Vec<String> {
    let limits = ReadLimits {
        max_records: 10_000,
        max_bytes: 1 << 20,
    };
    partition
        .read(0, limits)
        .unwrap()
        .records()
        .map(|r| String::from_utf8(r.unwrap().value.to_vec()).unwrap())
        .collect()
}
