//! A minimal blocking Kafka client for the benchmark: requests encoded and responses decoded
//! by the `kafka-protocol` crate (its client half), over one TCP connection, with several
//! requests in flight. It measures the node, so it does as little as a client can: produce
//! sends one pre-encoded record batch over and over, fetch counts records from the batch
//! headers without decoding them.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest, FetchRequest,
    FetchResponse, ProduceRequest, ProduceResponse, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The versions this client speaks (what librdkafka 2.x and the Java client 3.x negotiate).
const PRODUCE_VERSION: i16 = 9;
const FETCH_VERSION: i16 = 12;
const CREATE_TOPICS_VERSION: i16 = 5;
const DELETE_TOPICS_VERSION: i16 = 4;

/// One connection to the node's Kafka port.
pub struct Connection {
    stream: TcpStream,
    next_correlation: i32,
}

impl Connection {
    pub fn open(addr: &str) -> Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            next_correlation: 1,
        })
    }

    fn send<T: Encodable + HeaderVersion>(
        &mut self,
        key: ApiKey,
        version: i16,
        body: &T,
    ) -> Result<()> {
        let correlation = self.next_correlation;
        self.next_correlation += 1;
        let header = RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(correlation)
            .with_client_id(Some(StrBytes::from_static_str("strata-bench")));
        let mut buf = BytesMut::with_capacity(64);
        buf.extend_from_slice(&[0; 4]);
        header.encode(&mut buf, T::header_version(version))?;
        body.encode(&mut buf, version)?;
        let size = i32::try_from(buf.len() - 4)?;
        buf[..4].copy_from_slice(&size.to_be_bytes());
        self.stream.write_all(&buf)?;
        Ok(())
    }

    fn receive<T: Decodable>(&mut self, key: ApiKey, version: i16) -> Result<T> {
        let mut size = [0u8; 4];
        self.stream.read_exact(&mut size)?;
        let mut frame = vec![0u8; usize::try_from(i32::from_be_bytes(size))?];
        self.stream.read_exact(&mut frame)?;
        let mut buf = Bytes::from(frame);
        ResponseHeader::decode(&mut buf, key.response_header_version(version))?;
        Ok(T::decode(&mut buf, version)?)
    }

    /// Creates `name` with one partition and `strata.durability` = `durability`.
    pub fn create_topic(&mut self, name: &str, durability: &str) -> Result<()> {
        let topic = CreatableTopic::default()
            .with_name(topic_name(name))
            .with_num_partitions(1)
            .with_replication_factor(1)
            .with_configs(vec![
                CreatableTopicConfig::default()
                    .with_name(StrBytes::from_static_str("strata.durability"))
                    .with_value(Some(StrBytes::from_string(durability.to_owned()))),
                // Large segments: a roll would add its fsync to one case and not another.
                CreatableTopicConfig::default()
                    .with_name(StrBytes::from_static_str("segment.bytes"))
                    .with_value(Some(StrBytes::from_static_str("1073741824"))),
            ]);
        let request = CreateTopicsRequest::default()
            .with_topics(vec![topic])
            .with_timeout_ms(10_000);
        self.send(ApiKey::CreateTopics, CREATE_TOPICS_VERSION, &request)?;
        let response: CreateTopicsResponse =
            self.receive(ApiKey::CreateTopics, CREATE_TOPICS_VERSION)?;
        match response.topics.first().map(|t| t.error_code) {
            Some(0) => Ok(()),
            other => Err(format!("CreateTopics {name}: error {other:?}").into()),
        }
    }

    /// Deletes `name` (its files go; the next case starts from an empty disk share).
    pub fn delete_topic(&mut self, name: &str) -> Result<()> {
        let request = DeleteTopicsRequest::default()
            .with_topic_names(vec![topic_name(name)])
            .with_timeout_ms(10_000);
        self.send(ApiKey::DeleteTopics, DELETE_TOPICS_VERSION, &request)?;
        let _: kafka_protocol::messages::DeleteTopicsResponse =
            self.receive(ApiKey::DeleteTopics, DELETE_TOPICS_VERSION)?;
        Ok(())
    }

    /// Produces `batch` (holding `per_batch` records) to partition 0 of `topic` until `total`
    /// records are acknowledged, with `in_flight` requests outstanding; `acks` as Kafka's.
    /// Returns the seconds taken.
    pub fn produce(
        &mut self,
        topic: &str,
        batch: &Bytes,
        per_batch: u64,
        total: u64,
        in_flight: usize,
        acks: i16,
    ) -> Result<f64> {
        let request = ProduceRequest::default()
            .with_acks(acks)
            .with_timeout_ms(30_000)
            .with_topic_data(vec![
                TopicProduceData::default()
                    .with_name(topic_name(topic))
                    .with_partition_data(vec![
                        PartitionProduceData::default()
                            .with_index(0)
                            .with_records(Some(batch.clone())),
                    ]),
            ]);
        let requests = total.div_ceil(per_batch);
        let started = Instant::now();
        let mut sent = 0u64;
        let mut answered = 0u64;
        while answered < requests {
            while sent < requests && sent - answered < in_flight as u64 {
                self.send(ApiKey::Produce, PRODUCE_VERSION, &request)?;
                sent += 1;
            }
            let response: ProduceResponse = self.receive(ApiKey::Produce, PRODUCE_VERSION)?;
            for partition in response
                .responses
                .iter()
                .flat_map(|t| &t.partition_responses)
            {
                if partition.error_code != 0 {
                    return Err(format!("produce: error code {}", partition.error_code).into());
                }
            }
            answered += 1;
        }
        Ok(started.elapsed().as_secs_f64())
    }

    /// Fetches partition 0 of `topic` from offset 0 until `total` records have arrived, one
    /// fetch in flight (as a consumer has per broker), up to `max_bytes` per answer. Returns
    /// the seconds taken.
    pub fn consume(&mut self, topic: &str, total: u64, max_bytes: i32) -> Result<f64> {
        let started = Instant::now();
        let mut offset = 0i64;
        let mut seen = 0u64;
        while seen < total {
            let request = FetchRequest::default()
                .with_max_wait_ms(500)
                .with_min_bytes(1)
                .with_max_bytes(max_bytes)
                .with_topics(vec![
                    FetchTopic::default()
                        .with_topic(topic_name(topic))
                        .with_partitions(vec![
                            FetchPartition::default()
                                .with_partition(0)
                                .with_fetch_offset(offset)
                                .with_partition_max_bytes(max_bytes),
                        ]),
                ]);
            self.send(ApiKey::Fetch, FETCH_VERSION, &request)?;
            let response: FetchResponse = self.receive(ApiKey::Fetch, FETCH_VERSION)?;
            let partition = response
                .responses
                .first()
                .and_then(|t| t.partitions.first())
                .ok_or("fetch: no partition in the answer")?;
            if partition.error_code != 0 {
                return Err(format!("fetch: error code {}", partition.error_code).into());
            }
            let records = partition.records.clone().unwrap_or_default();
            let (count, next) = count_batches(records, offset)?;
            if count == 0 && started.elapsed() > Duration::from_secs(60) {
                return Err(format!("fetch: stuck at offset {offset} after {seen} records").into());
            }
            seen += count;
            offset = next;
        }
        Ok(started.elapsed().as_secs_f64())
    }
}

/// Records in the whole v2 batches of `records`, and the offset after the last one.
fn count_batches(mut records: Bytes, mut next: i64) -> Result<(u64, i64)> {
    const HEADER: usize = 61;
    let mut count = 0u64;
    while records.len() >= HEADER {
        let base_offset = (&records[0..8]).get_i64();
        let length = usize::try_from((&records[8..12]).get_i32())?;
        if records.len() < 12 + length {
            break; // a partial batch at the end of the answer
        }
        let last_delta = i64::from((&records[23..27]).get_i32());
        let in_batch = (&records[57..61]).get_i32();
        count += u64::try_from(in_batch)?;
        next = base_offset + last_delta + 1;
        records.advance(12 + length);
    }
    Ok((count, next))
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_owned()))
}

/// One Kafka record batch v2, uncompressed, of `values` (no keys, no headers).
pub fn record_batch(values: &[Vec<u8>]) -> Result<Bytes> {
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis(),
    )?;
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i64::try_from(i).unwrap_or(i64::MAX),
            sequence: -1,
            timestamp: now_ms,
            key: None,
            value: Some(Bytes::copy_from_slice(v)),
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
    )?;
    Ok(buf.freeze())
}
