//! Bad input on the Kafka port of the real binary, over raw TCP: a truncated frame, frames
//! whose size field is wrong, a record batch with a bad CRC, a 2 GiB size field, an unknown
//! API key, a request whose array count is absurd, 1100 connections at once. Each is answered
//! with an error code or closed (with a log line where docs/kafka-api.md promises one), the
//! node stays up (kcat still produces and reads back afterwards) and nothing is appended (the
//! end offsets over HTTP are unchanged).
//!
//! Requests are encoded with the `kafka-protocol` crate's client half, as a client would, and
//! then damaged; answers are decoded with it too.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, ProduceRequest, ProduceResponse,
    RequestHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use serde_json::json;

use common::kafka::kcat_round_trip;
use common::*;

const TOPIC: &str = "guarded";
/// Produce v7: non-flexible, as librdkafka 2.x sends it.
const PRODUCE_V: i16 = 7;
/// Kafka's error codes, as the docs' table lists them.
const CORRUPT_MESSAGE: i16 = 2;
const UNSUPPORTED_VERSION: i16 = 35;
const INVALID_REQUEST: i16 = 42;

/// A node with the Kafka listener, its log captured, and a two-partition topic holding one
/// record per partition (so "unchanged" is not just "empty").
async fn node() -> Node {
    let node = Node::start_logged(&["--kafka", "127.0.0.1:0"]);
    let c = node.client();
    create_topic(&c, TOPIC, 2, json!({ "durability": "always" })).await;
    let r = produce_raw(
        &c,
        TOPIC,
        r#"[{"value":"seed","partition":0},{"value":"seed","partition":1}]"#,
    )
    .await;
    assert_eq!(r.status, 200);
    node
}

/// A request frame: size, header (the version the API's schema says), body.
fn frame<T: Encodable>(key: ApiKey, version: i16, correlation_id: i32, body: &T) -> Vec<u8> {
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str("bad-input-test")))
        .encode(&mut buf, key.request_header_version(version))
        .expect("header");
    body.encode(&mut buf, version).expect("body");
    let size = (buf.len() - 4) as i32;
    buf[..4].copy_from_slice(&size.to_be_bytes());
    buf.to_vec()
}

/// A valid Kafka v2 record batch of `n` records, CRC-32C and all.
fn batch(n: i64) -> Bytes {
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i,
            sequence: -1,
            timestamp: 1_700_000_000_000 + i,
            key: Some(Bytes::from(format!("k{i}"))),
            value: Some(Bytes::from(format!("{{\"n\":{i}}}"))),
            headers: IndexMap::new(),
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
    .expect("encode batch");
    buf.freeze()
}

/// A produce (acks=all) of `records` to partition 0 of the topic.
fn produce(records: Bytes) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5_000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(records)),
                ]),
        ])
}

fn connect(node: &Node) -> TcpStream {
    let s = TcpStream::connect(node.bootstrap()).expect("connect to the Kafka port");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s
}

/// Reads one response frame: `(correlation id, the rest)`; `None` when the node closed the
/// connection instead.
fn response(s: &mut TcpStream) -> Option<(i32, Bytes)> {
    let mut size = [0u8; 4];
    match s.read_exact(&mut size) {
        Ok(()) => {}
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset
            ) =>
        {
            return None;
        }
        Err(e) => panic!("no answer and no close: {e}"),
    }
    let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
    s.read_exact(&mut body).expect("a whole response");
    let correlation = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
    Some((correlation, Bytes::from(body).slice(4..)))
}

/// Asserts the node closed the connection (EOF or reset, not a timeout).
fn assert_closed(s: &mut TcpStream, what: &str) {
    let mut byte = [0u8; 1];
    match s.read(&mut byte) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Ok(_) => panic!("{what}: the node sent more instead of closing"),
        Err(e) => panic!("{what}: the connection is still open ({e})"),
    }
}

/// The answer `codec::error_response` gives a request it cannot serve: the error code alone.
fn error_code(body: &Bytes) -> i16 {
    assert_eq!(body.len(), 2, "an error answer is its code alone: {body:?}");
    i16::from_be_bytes([body[0], body[1]])
}

/// Asserts a connection still serves: ApiVersions v0 is answered.
fn assert_serves(s: &mut TcpStream, correlation_id: i32) {
    s.write_all(&frame(
        ApiKey::ApiVersions,
        0,
        correlation_id,
        &ApiVersionsRequest::default(),
    ))
    .expect("write");
    let (id, mut body) = response(s).expect("an ApiVersions answer");
    assert_eq!(id, correlation_id);
    let answer = ApiVersionsResponse::decode(&mut body, 0).expect("decodes");
    assert_eq!(answer.error_code, 0);
    assert!(answer.api_keys.iter().any(|k| k.api_key == 0), "Produce");
}

/// The checks after every bad input: nothing appended, and a real client still works.
async fn assert_unharmed(node: &Node, before: &[u64], what: &str) {
    assert_eq!(
        end_offsets(&node.client(), TOPIC).await,
        before,
        "{what} appended records"
    );
    assert!(
        node.log().lines().all(|l| !l.contains("panicked")),
        "{what}: the node panicked:\n{}",
        node.log()
    );
    let offset = kcat_round_trip(node.bootstrap(), "probe", what);
    eprintln!("{what}: node unharmed (probe record at offset {offset})");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_frame_appends_nothing() {
    let node = node().await;
    let before = end_offsets(&node.client(), TOPIC).await;
    // A whole produce request but its last 10 bytes, then the client goes away: the node
    // must not act on a partial request.
    let whole = frame(ApiKey::Produce, PRODUCE_V, 1, &produce(batch(3)));
    let mut s = connect(&node);
    s.write_all(&whole[..whole.len() - 10]).expect("write");
    s.shutdown(std::net::Shutdown::Write).expect("half-close");
    assert_closed(&mut s, "truncated frame");
    assert_unharmed(&node, &before, "a truncated frame").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_size_field_smaller_than_the_request_is_invalid_request_and_closes() {
    let node = node().await;
    let before = end_offsets(&node.client(), TOPIC).await;
    let mut bytes = frame(ApiKey::Produce, PRODUCE_V, 7, &produce(batch(3)));
    let size = i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    bytes[..4].copy_from_slice(&(size - 20).to_be_bytes());
    let mut s = connect(&node);
    s.write_all(&bytes).expect("write");
    let (id, body) = response(&mut s).expect("answered before the close");
    assert_eq!((id, error_code(&body)), (7, INVALID_REQUEST));
    assert_closed(&mut s, "short size field");
    node.wait_for_log("cannot decode Produce v7 request", Duration::from_secs(5));
    assert_unharmed(&node, &before, "a short size field").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_size_field_larger_than_the_request_is_invalid_request_and_closes() {
    let node = node().await;
    let before = end_offsets(&node.client(), TOPIC).await;
    // The size field covers the produce and the first 8 bytes of the next request: the frame
    // is a whole produce followed by stray bytes. Acting on it would append records from a
    // stream whose framing is already off.
    let mut bytes = frame(ApiKey::Produce, PRODUCE_V, 8, &produce(batch(3)));
    let size = i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    bytes[..4].copy_from_slice(&(size + 8).to_be_bytes());
    bytes.extend(frame(
        ApiKey::ApiVersions,
        0,
        9,
        &ApiVersionsRequest::default(),
    ));
    let mut s = connect(&node);
    s.write_all(&bytes).expect("write");
    let (id, body) = response(&mut s).expect("answered before the close");
    assert_eq!((id, error_code(&body)), (8, INVALID_REQUEST));
    assert_closed(&mut s, "long size field");
    node.wait_for_log("after the request body", Duration::from_secs(5));
    assert_unharmed(&node, &before, "a long size field").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_with_a_bad_crc_is_corrupt_message_and_appends_nothing() {
    let node = node().await;
    let before = end_offsets(&node.client(), TOPIC).await;
    let good = batch(3);
    let mut bad = good.to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0x40; // a bit of the last record's value: covered by the CRC-32C
    let mut s = connect(&node);
    s.write_all(&frame(
        ApiKey::Produce,
        PRODUCE_V,
        11,
        &produce(Bytes::from(bad)),
    ))
    .expect("write");
    let (id, mut body) = response(&mut s).expect("a produce answer");
    assert_eq!(id, 11);
    let answer = ProduceResponse::decode(&mut body, PRODUCE_V).expect("decodes");
    let partition = &answer.responses[0].partition_responses[0];
    assert_eq!(
        (partition.index, partition.error_code, partition.base_offset),
        (0, CORRUPT_MESSAGE, -1)
    );
    assert_eq!(
        end_offsets(&node.client(), TOPIC).await,
        before,
        "a corrupt batch was appended"
    );
    // The connection stays usable, and the same batch undamaged is appended: the refusal
    // was the CRC's doing.
    s.write_all(&frame(ApiKey::Produce, PRODUCE_V, 12, &produce(good)))
        .expect("write");
    let (_, mut body) = response(&mut s).expect("a produce answer");
    let answer = ProduceResponse::decode(&mut body, PRODUCE_V).expect("decodes");
    let partition = &answer.responses[0].partition_responses[0];
    assert_eq!(
        (partition.error_code, partition.base_offset),
        (0, before[0] as i64)
    );
    drop(s);
    assert_unharmed(&node, &[before[0] + 3, before[1]], "a bad CRC").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_2_gib_size_field_closes_the_connection_with_a_log_line() {
    let node = node().await;
    let before = end_offsets(&node.client(), TOPIC).await;
    // 2 GiB - 1 (the largest positive size), and 2 GiB itself, which is negative as an i32.
    for size in [i32::MAX, i32::MIN] {
        let mut s = connect(&node);
        let mut bytes = size.to_be_bytes().to_vec();
        bytes.extend(&frame(ApiKey::Produce, PRODUCE_V, 1, &produce(batch(1)))[4..]);
        s.write_all(&bytes).expect("write");
        assert_closed(&mut s, "2 GiB size field");
        node.wait_for_log(
            &format!("a request of {size} bytes"),
            Duration::from_secs(5),
        );
    }
    assert!(
        node.log().contains("over the limit of 104857600 bytes"),
        "{}",
        node.log()
    );
    assert_unharmed(&node, &before, "a 2 GiB size field").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_api_key_is_unsupported_version_and_the_connection_stays() {
    let node = node().await;
    let before = end_offsets(&node.client(), TOPIC).await;
    let mut s = connect(&node);
    // API key 999 (none), then a known API at a version past its range (Produce v99).
    let mut unknown = frame(ApiKey::ApiVersions, 0, 21, &ApiVersionsRequest::default());
    unknown[4..6].copy_from_slice(&999i16.to_be_bytes());
    s.write_all(&unknown).expect("write");
    let (id, body) = response(&mut s).expect("answered");
    assert_eq!((id, error_code(&body)), (21, UNSUPPORTED_VERSION));
    let mut too_new = frame(ApiKey::Produce, PRODUCE_V, 22, &produce(batch(1)));
    too_new[6..8].copy_from_slice(&99i16.to_be_bytes());
    s.write_all(&too_new).expect("write");
    let (id, body) = response(&mut s).expect("answered");
    assert_eq!((id, error_code(&body)), (22, UNSUPPORTED_VERSION));
    assert_serves(&mut s, 23);
    node.wait_for_log("api=API key 999", Duration::from_secs(5));
    node.wait_for_log("api=Produce version=99", Duration::from_secs(5));
    assert_unharmed(&node, &before, "an unknown API key").await;
}

/// Caps the node's address space at what it uses now plus 4 GiB (room for its normal work:
/// segment maps, threads), as `ulimit -v` or `vm.overcommit_memory=2` would: without a cap,
/// a huge reservation succeeds lazily under Linux's default overcommit, and the test could
/// not tell a bounded decoder from an unbounded one.
fn limit_address_space(node: &Node) {
    let status = std::fs::read_to_string(format!("/proc/{}/status", node.child.id()))
        .expect("the node's /proc status");
    let size_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmSize");
    let cap = (size_kb + 4 * 1024 * 1024) * 1024;
    let out = std::process::Command::new("prlimit")
        .arg(format!("--pid={}", node.child.id()))
        .arg(format!("--as={cap}:{cap}"))
        .output()
        .expect("prlimit (util-linux)");
    assert!(out.status.success(), "prlimit: {out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_absurd_array_count_is_invalid_request_not_a_huge_allocation() {
    let node = node().await;
    let before = end_offsets(&node.client(), TOPIC).await;
    // A produce whose topic array claims i32::MAX entries in a 30-byte frame. Decoded as is,
    // the count reserved ~200 GB before the first entry failed: an abort wherever address
    // space is limited (ulimit -v, vm.overcommit_memory=2).
    let mut bytes = frame(ApiKey::Produce, PRODUCE_V, 31, &produce(batch(1)));
    let header_len = 4 + 2 + 2 + 4 + 2 + "bad-input-test".len();
    // transactional id (null: 2 bytes), acks (2), timeout (4), then the topic array's count.
    let count_at = header_len + 2 + 2 + 4;
    bytes.truncate(count_at);
    bytes.extend(i32::MAX.to_be_bytes());
    let size = (bytes.len() - 4) as i32;
    bytes[..4].copy_from_slice(&size.to_be_bytes());
    limit_address_space(&node);
    let mut s = connect(&node);
    s.write_all(&bytes).expect("write");
    let (id, body) = response(&mut s).unwrap_or_else(|| {
        panic!(
            "no answer: did the node abort on the allocation?\n{}",
            node.log()
        )
    });
    assert_eq!((id, error_code(&body)), (31, INVALID_REQUEST));
    assert_closed(&mut s, "absurd array count");
    assert_unharmed(&node, &before, "an absurd array count").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_past_the_limit_are_closed_and_the_rest_still_serve() {
    // The Kafka listener serves at most 1000 connections (KafkaConfig::max_connections); each
    // one past it is closed at once with a log line.
    const LIMIT: usize = 1000;
    const OPENED: usize = 1100;
    let soft_limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3)?.parse::<usize>().ok())
        });
    assert!(
        soft_limit.is_none_or(|n| n > OPENED + 100),
        "this test opens {OPENED} sockets: raise `ulimit -n` (now {soft_limit:?})"
    );
    let node = node().await;
    let before = end_offsets(&node.client(), TOPIC).await;
    // Opened in bursts of 100, each burst asking at once: those within the limit answer,
    // the others were closed. Every connection stays open, so the last 100 arrive while
    // 1000 are held. (Bursts, not all 1100 back to back: past the listen backlog of 128 the
    // kernel drops SYNs, and each drop costs its client a 1 s retransmit.)
    let mut served = Vec::new();
    let mut refused = 0;
    for burst in 0..OPENED / 100 {
        let opened: Vec<TcpStream> = (0..100).map(|_| connect(&node)).collect();
        for (i, mut s) in opened.iter().enumerate() {
            // A write to a connection the node already closed may fail: it is counted below.
            let _ = s.write_all(&frame(
                ApiKey::ApiVersions,
                0,
                (burst * 100 + i) as i32,
                &ApiVersionsRequest::default(),
            ));
        }
        for (i, mut s) in opened.into_iter().enumerate() {
            match response(&mut s) {
                Some((id, _)) => {
                    assert_eq!(id, (burst * 100 + i) as i32);
                    served.push(s);
                }
                None => refused += 1,
            }
        }
    }
    assert_eq!(
        (served.len(), refused),
        (LIMIT, OPENED - LIMIT),
        "connections served at once, and refused"
    );
    // One log line per refused connection.
    node.wait_for_log_count(
        "too many Kafka connections",
        OPENED - LIMIT,
        Duration::from_secs(5),
    );
    // The served ones still work while the limit is reached...
    assert_serves(&mut served[0], 5_000);
    // ...and once they are gone, their slots are free again for a real client.
    drop(served);
    assert_unharmed(&node, &before, "1100 connections").await;
}
