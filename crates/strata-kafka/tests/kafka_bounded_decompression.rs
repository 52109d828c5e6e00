//! A decompression bomb over the wire: a produce request of a few hundred KiB whose gzip or
//! zstd batch expands to 200 MiB of zeros is refused with RECORD_LIST_TOO_LARGE, appends
//! nothing, and never makes the node hold anything near 200 MiB.
//!
//! Its own test binary, so that the process's peak memory (the broker runs in-process) is
//! this test's alone.

mod support;

use std::io::Write;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::TopicName;
use kafka_protocol::messages::produce_request::{
    PartitionProduceData, ProduceRequest, TopicProduceData,
};
use kafka_protocol::messages::produce_response::ProduceResponse;
use kafka_protocol::protocol::StrBytes;
use strata_log::TopicConfig;
use support::Broker;
use support::wire::Wire;

/// What the bomb expands to.
const EXPANDED: usize = 200 * 1024 * 1024;

/// The records of one batch, compressed by `compress` as they are produced in 1 MiB chunks,
/// so that the 200 MiB never exist on this side either: one record whose value is
/// `EXPANDED` zeros.
fn bomb_body(mut encoder: impl Write) {
    let mut record_prefix = Vec::new();
    let value_len = EXPANDED as i64;
    let mut body = Vec::new();
    body.push(0u8); // attributes
    put_varint(&mut body, 0); // timestamp delta
    put_varint(&mut body, 0); // offset delta
    put_varint(&mut body, -1); // null key
    put_varint(&mut body, value_len);
    let record_len = body.len() as i64 + value_len + 1; // + the header count below
    put_varint(&mut record_prefix, record_len);
    encoder.write_all(&record_prefix).expect("compress");
    encoder.write_all(&body).expect("compress");
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..EXPANDED / zeros.len() {
        encoder.write_all(&zeros).expect("compress");
    }
    encoder.write_all(&[0]).expect("compress"); // no headers
}

fn put_varint(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// A Kafka v2 batch of one record around a compressed body (`codec`: 1 gzip, 4 zstd), with
/// a valid CRC-32C: the bomb passes every check before decompression.
fn batch(codec: i16, compressed: &[u8]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i64(0); // base offset
    b.put_i32((61 - 12 + compressed.len()) as i32);
    b.put_i32(-1); // partition leader epoch
    b.put_i8(2); // magic
    b.put_u32(0); // CRC, below
    b.put_i16(codec);
    b.put_i32(0); // last offset delta
    b.put_i64(1_700_000_000_000);
    b.put_i64(1_700_000_000_000);
    b.put_i64(-1); // producer id
    b.put_i16(-1);
    b.put_i32(-1);
    b.put_i32(1); // record count
    b.put_slice(compressed);
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b.freeze()
}

fn produce(wire: &mut Wire, topic: &str, records: Bytes) -> (i16, String) {
    let request = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(records)),
                ]),
        ]);
    let response: ProduceResponse = wire.call(ApiKey::Produce, 9, &request);
    let p = &response.responses[0].partition_responses[0];
    (
        p.error_code,
        p.error_message.as_deref().unwrap_or_default().to_owned(),
    )
}

/// The process's peak resident memory so far (Linux's `VmHWM`), in bytes.
fn peak_rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    let kib: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("a number of kB");
    kib * 1024
}

#[test]
fn gzip_and_zstd_bombs_are_refused_within_bounded_memory() {
    let broker = Broker::start();
    // 8 MiB segments: the most a request may append to one partition decompressed.
    let config = TopicConfig {
        segment_bytes: 8 * 1024 * 1024,
        ..TopicConfig::default()
    };
    broker
        .log
        .create_topic("bombs", 1, config)
        .expect("test setup");
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    bomb_body(&mut gzip);
    let gzip = gzip.finish().expect("test setup");
    let mut zstd = zstd::stream::write::Encoder::new(Vec::new(), 3).expect("test setup");
    bomb_body(&mut zstd);
    let zstd = zstd.finish().expect("test setup");
    // Each is far under the 100 MiB request limit: only decompression could make it large.
    assert!(
        gzip.len() < 1 << 20 && zstd.len() < 1 << 20,
        "{} {}",
        gzip.len(),
        zstd.len()
    );

    let mut wire = Wire::connect(broker.addr);
    for (name, codec, compressed) in [("gzip", 1, &gzip), ("zstd", 4, &zstd)] {
        let (code, message) = produce(&mut wire, "bombs", batch(codec, compressed));
        assert_eq!(
            code, 18,
            "{name}: RECORD_LIST_TOO_LARGE, not {code} ({message})"
        );
        assert!(
            message.contains("8388608 bytes decompressed"),
            "{name}: {message}"
        );
    }
    let topic = broker.log.topic("bombs").expect("test setup");
    assert_eq!(topic.partitions()[0].end_offset(), 0, "nothing appended");
    // The connection still serves, and a small compressed batch of the same shape appends.
    let mut small = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut body = vec![0u8];
    put_varint(&mut body, 0);
    put_varint(&mut body, 0);
    put_varint(&mut body, -1);
    put_varint(&mut body, 5);
    body.extend_from_slice(b"hello");
    body.push(0);
    let mut record = Vec::new();
    put_varint(&mut record, body.len() as i64);
    record.extend(body);
    small.write_all(&record).expect("test setup");
    let (code, message) = produce(
        &mut wire,
        "bombs",
        batch(1, &small.finish().expect("test setup")),
    );
    assert_eq!(code, 0, "{message}");
    assert_eq!(topic.partitions()[0].end_offset(), 1);

    // Unbounded, either bomb alone would have taken 200 MiB (and the record copy as much
    // again); bounded, the whole process stays well under one of them.
    let peak = peak_rss();
    assert!(
        peak < EXPANDED / 2,
        "peak memory {} MiB: decompression was not bounded",
        peak >> 20
    );
}
