//! Record batches between Kafka's v2 format and strata's: the produce path turns a client's
//! batches (CRC-32C checked, decompressed) into one strata batch per partition; the fetch path
//! turns strata batches back into uncompressed Kafka batches.
//!
//! Both formats share the v2 *record* layout (zig-zag varints: length, attributes, timestamp
//! delta, offset delta, key, value, headers); only the batch headers differ. So the fetch path
//! writes a 61-byte Kafka header and copies the records verbatim, with no per-record work, and
//! the produce path borrows each record's key, value and headers straight into strata's
//! [`BatchBuilder`]. The batch header and its CRC-32C are checked with the `kafka-protocol`
//! crate's decoder; [`crate::decompress`] decompresses, within a budget; the records themselves are walked here rather
//! than through that crate's `Record`, which keeps headers in a map (a record's repeated
//! header keys, legal in Kafka, would be merged) and allocates per record.
//!
//! What strata's format cannot hold is normalised, and documented in `docs/kafka-api.md`: a
//! null value or header value is stored as empty, producer ids and sequences are not stored
//! (they are checked on the way in, see [`crate::idempotence`]), and a `LogAppendTime` batch
//! gets the broker's clock.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use integer_encoding::VarInt;
use kafka_protocol::ResponseError;
use kafka_protocol::records::{Compression, RecordBatchDecoder, TimestampType};
use strata_log::{BatchBuilder, BatchView, EncodedBatch};

use crate::decompress::{Refusal, decompress};

/// Bytes of a Kafka v2 batch header, up to and including the record count.
pub(crate) const KAFKA_HEADER_LEN: usize = 61;
/// Where the CRC-32C's coverage starts (the attributes field).
const CRC_FROM: usize = 21;
/// The magic byte of record batches v2.
const MAGIC_V2: i8 = 2;

/// Why a produced `records` field was refused; nothing of it is appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejected {
    /// The Kafka error code for the partition's response.
    pub code: ResponseError,
    /// What was wrong, for the response's error message and the log.
    pub message: String,
}

impl Rejected {
    fn corrupt(message: impl Into<String>) -> Self {
        Rejected {
            code: ResponseError::CorruptMessage,
            message: message.into(),
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Rejected {
            code: ResponseError::InvalidRecord,
            message: message.into(),
        }
    }
}

/// An idempotent producer's batch: who sent it and which sequence numbers it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sequenced {
    /// The producer id from InitProducerId.
    pub producer_id: i64,
    /// The producer's epoch.
    pub epoch: i16,
    /// Sequence number of the first record.
    pub first: i32,
    /// Sequence number of the last record.
    pub last: i32,
}

/// A produced `records` field, converted.
#[derive(Debug)]
pub(crate) struct Produced {
    /// The records, as one strata batch.
    pub batch: EncodedBatch,
    /// The producer's sequence range, for an idempotent producer.
    pub sequenced: Option<Sequenced>,
}

/// Converts the `records` of one partition of a produce request (one or more Kafka v2
/// batches, possibly compressed) into one strata batch, so that the partition's records are
/// appended together or not at all. `now_ms` stamps records that carry no usable timestamp.
/// The records, decompressed, may take `max_bytes` at most (their batch headers not
/// counted). `Ok(None)` when the field holds no record.
///
/// # Errors
/// [`Rejected`] with `CORRUPT_MESSAGE` for a bad CRC, truncation, malformed records or data
/// a codec rejects, `RECORD_LIST_TOO_LARGE` past `max_bytes`,
/// `UNSUPPORTED_FOR_MESSAGE_FORMAT` for message sets v0/v1, `INVALID_RECORD` for control or
/// transactional batches (not supported yet) and for batches of several producers, or of
/// one producer with a gap in their sequence numbers.
pub(crate) fn produced_to_strata(
    records: &Bytes,
    now_ms: i64,
    max_bytes: usize,
) -> Result<Option<Produced>, Rejected> {
    let mut budget = Budget {
        limit: max_bytes,
        left: max_bytes,
    };
    let mut rest = records.clone();
    let mut builder = BatchBuilder::with_capacity(records.len());
    let mut sequenced: Option<Option<Sequenced>> = None;
    while rest.has_remaining() {
        if rest.len() < KAFKA_HEADER_LEN {
            return Err(Rejected::corrupt(format!(
                "a record batch is cut short: {} bytes, a v2 header alone is {KAFKA_HEADER_LEN}",
                rest.len()
            )));
        }
        let magic = rest[16] as i8;
        if magic != MAGIC_V2 {
            return Err(Rejected {
                code: ResponseError::UnsupportedForMessageFormat,
                message: format!(
                    "message format v{magic} is not supported: use record batches v2 (any client since Kafka 0.11)"
                ),
            });
        }
        let length = i32::from_be_bytes([rest[8], rest[9], rest[10], rest[11]]);
        let total = usize::try_from(length)
            .ok()
            .and_then(|l| l.checked_add(12))
            .filter(|&t| t >= KAFKA_HEADER_LEN && t <= rest.len())
            .ok_or_else(|| {
                Rejected::corrupt(format!(
                    "a record batch's length field says {length} bytes but {} remain",
                    rest.len() - 12
                ))
            })?;
        let batch = rest.split_to(total);
        let this = push_batch(&mut builder, batch, now_ms, &mut budget)?;
        sequenced = Some(match (sequenced, this) {
            (None, this) => this,
            (Some(None), None) => None,
            (Some(Some(a)), Some(b))
                if (a.producer_id, a.epoch) == (b.producer_id, b.epoch)
                    && a.last.wrapping_add(1) == b.first =>
            {
                Some(Sequenced { last: b.last, ..a })
            }
            _ => {
                return Err(Rejected::invalid(
                    "the batches of one partition must come from one producer, in sequence",
                ));
            }
        });
    }
    Ok(builder.finish().map(|batch| Produced {
        batch,
        sequenced: sequenced.flatten(),
    }))
}

/// What is left of a partition's allowance of decompressed bytes.
struct Budget {
    /// The whole allowance, for the error message.
    limit: usize,
    /// What the batches not read yet may still take.
    left: usize,
}

impl Budget {
    fn too_large(&self) -> Rejected {
        Rejected {
            code: ResponseError::RecordListTooLarge,
            message: format!(
                "the records of this partition take more than {} bytes decompressed, the most one request may append to a partition of this topic (the smaller of its segment.bytes and the node's request limit): send fewer records per request",
                self.limit
            ),
        }
    }
}

/// Checks one Kafka batch and pushes its records; returns its producer's sequence range.
fn push_batch(
    builder: &mut BatchBuilder,
    batch: Bytes,
    now_ms: i64,
    budget: &mut Budget,
) -> Result<Option<Sequenced>, Rejected> {
    let info = RecordBatchDecoder::decode_batch_info(&mut batch.clone())
        .map_err(|e| Rejected::corrupt(format!("record batch rejected: {e}")))?;
    let [info] = info.as_slice() else {
        return Err(Rejected::corrupt(
            "a record batch did not frame as one batch",
        ));
    };
    if info.control {
        return Err(Rejected::invalid(
            "control batches (transaction markers) are not accepted from producers",
        ));
    }
    if info.transactional {
        return Err(Rejected::invalid(
            "transactional producers are not supported yet: drop transactional.id",
        ));
    }
    let sequenced = (info.producer_id >= 0).then(|| Sequenced {
        producer_id: info.producer_id,
        epoch: info.producer_epoch,
        first: info.base_sequence,
        last: info
            .base_sequence
            .wrapping_add(info.record_count.saturating_sub(1)),
    });
    let body = batch.slice(KAFKA_HEADER_LEN..);
    let decompressed = match info.compression {
        // Already in memory as part of the request: no copy, only the count.
        Compression::None if body.len() <= budget.left => body,
        Compression::None => return Err(budget.too_large()),
        codec => match decompress(codec, &body, budget.left) {
            Ok(out) => Bytes::from(out),
            Err(Refusal::TooLarge) => return Err(budget.too_large()),
            Err(Refusal::Corrupt(e)) => {
                return Err(Rejected::corrupt(format!(
                    "cannot decompress a {codec:?} batch: {e}"
                )));
            }
        },
    };
    budget.left -= decompressed.len();
    let stamp_now = info.timestamp_type == TimestampType::LogAppend || info.min_timestamp < 0;
    let mut cur = Cursor(&decompressed);
    for index in 0..info.record_count {
        let record = cur
            .record()
            .map_err(|reason| Rejected::corrupt(format!("record {index}: {reason}")))?;
        if record.offset_delta != i64::from(index) {
            return Err(Rejected::corrupt(format!(
                "record {index} has offset delta {}: deltas must count up from 0",
                record.offset_delta
            )));
        }
        let timestamp = if stamp_now {
            now_ms
        } else {
            info.min_timestamp.wrapping_add(record.timestamp_delta)
        };
        let headers = HeaderIter {
            cur: Cursor(record.headers),
            remaining: record.header_count,
        };
        builder.push(record.key, record.value, timestamp, headers);
    }
    if !cur.0.is_empty() {
        return Err(Rejected::corrupt(format!(
            "{} bytes after the batch's {} records",
            cur.0.len(),
            info.record_count
        )));
    }
    Ok(sequenced)
}

/// One Kafka v2 record, borrowed.
struct RawRecord<'a> {
    timestamp_delta: i64,
    offset_delta: i64,
    key: Option<&'a [u8]>,
    value: &'a [u8],
    header_count: usize,
    headers: &'a [u8],
}

/// A bounds-checked reader of the v2 record layout.
#[derive(Clone)]
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn varint(&mut self, what: &'static str) -> Result<i64, &'static str> {
        let (v, n) = i64::decode_var(self.0).ok_or(what)?;
        self.0 = &self.0[n..];
        Ok(v)
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], &'static str> {
        if n > self.0.len() {
            return Err(what);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    /// A length-prefixed field; `None` for length -1 (null).
    fn bytes(&mut self, what: &'static str) -> Result<Option<&'a [u8]>, &'static str> {
        match self.varint(what)? {
            -1 => Ok(None),
            n => {
                let n = usize::try_from(n).map_err(|_| what)?;
                self.take(n, what).map(Some)
            }
        }
    }

    fn record(&mut self) -> Result<RawRecord<'a>, &'static str> {
        let length = self.varint("bad record length")?;
        let length = usize::try_from(length).map_err(|_| "negative record length")?;
        let mut r = Cursor(self.take(length, "record longer than its batch")?);
        r.take(1, "record too short")?; // attributes: unused in v2
        let timestamp_delta = r.varint("bad timestamp delta")?;
        let offset_delta = r.varint("bad offset delta")?;
        let key = r.bytes("bad key")?;
        let value = r.bytes("bad value")?.unwrap_or_default();
        let header_count = r.varint("bad header count")?;
        let header_count = usize::try_from(header_count).map_err(|_| "negative header count")?;
        // Check the headers now, so that pushing them can no longer fail.
        let headers = r.0;
        let mut check = HeaderIter {
            cur: Cursor(headers),
            remaining: header_count,
        };
        for _ in 0..header_count {
            check.next_checked()?;
        }
        if !check.cur.0.is_empty() {
            return Err("bytes after the record's headers");
        }
        Ok(RawRecord {
            timestamp_delta,
            offset_delta,
            key,
            value,
            header_count,
            headers,
        })
    }
}

/// A record's headers as `(key, value)`, null values as empty. Only built over headers that
/// [`Cursor::record`] has checked.
#[derive(Clone)]
struct HeaderIter<'a> {
    cur: Cursor<'a>,
    remaining: usize,
}

impl<'a> HeaderIter<'a> {
    fn next_checked(&mut self) -> Result<(&'a str, &'a [u8]), &'static str> {
        self.remaining -= 1;
        let key = self.cur.bytes("bad header key")?.ok_or("null header key")?;
        let key = std::str::from_utf8(key).map_err(|_| "header key is not UTF-8")?;
        let value = self.cur.bytes("bad header value")?.unwrap_or_default();
        Ok((key, value))
    }
}

impl<'a> Iterator for HeaderIter<'a> {
    type Item = (&'a str, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.next_checked().ok()
    }
}

/// The bytes [`put_kafka_batch`] writes for `view`: its records under a Kafka header.
pub(crate) fn kafka_batch_len(view: &BatchView<'_>) -> usize {
    KAFKA_HEADER_LEN + view.as_bytes().len() - strata_log::batch::HEADER_LEN
}

/// Appends `view` to `out` as an uncompressed Kafka v2 batch: a 61-byte header (no producer
/// id, `CreateTime`), the records copied as stored, and the CRC-32C.
pub(crate) fn put_kafka_batch(out: &mut BytesMut, view: &BatchView<'_>) {
    let records = &view.as_bytes()[strata_log::batch::HEADER_LEN..];
    let start = out.len();
    out.reserve(kafka_batch_len(view));
    out.put_i64(view.base_offset() as i64);
    out.put_i32((KAFKA_HEADER_LEN - 12 + records.len()) as i32);
    out.put_i32(-1); // partition leader epoch: strata has no leader elections
    out.put_i8(MAGIC_V2);
    out.put_u32(0); // CRC, patched below
    out.put_i16(0); // attributes: no compression, CreateTime, not transactional
    out.put_i32(view.last_offset_delta() as i32);
    out.put_i64(view.base_timestamp());
    out.put_i64(view.max_timestamp());
    out.put_i64(-1); // producer id
    out.put_i16(-1); // producer epoch
    out.put_i32(-1); // base sequence
    out.put_i32(view.record_count() as i32);
    out.put_slice(records);
    let crc = crc32c::crc32c(&out[start + CRC_FROM..]);
    out[start + 17..start + 21].copy_from_slice(&crc.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::indexmap::IndexMap;
    use kafka_protocol::protocol::StrBytes;
    use kafka_protocol::records::{Record as KRecord, RecordBatchEncoder, RecordEncodeOptions};

    fn krecord(i: i64, key: Option<&str>, value: Option<&str>) -> KRecord {
        let mut headers = IndexMap::new();
        headers.insert(
            StrBytes::from_string(format!("h{i}")),
            Some(Bytes::from(format!("v{i}"))),
        );
        KRecord {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i,
            sequence: -1,
            timestamp: 1_700_000_000_000 + i * 10,
            key: key.map(|k| Bytes::from(k.to_owned())),
            value: value.map(|v| Bytes::from(v.to_owned())),
            headers,
        }
    }

    fn kafka_batch(records: &[KRecord], compression: Compression) -> Bytes {
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            records,
            &RecordEncodeOptions {
                version: 2,
                compression,
            },
        )
        .expect("encode");
        buf.freeze()
    }

    fn stored(records: &Bytes) -> Vec<strata_log::Record> {
        let batch = produced_to_strata(records, 5, usize::MAX)
            .expect("accepted")
            .expect("non-empty")
            .batch;
        let view = BatchView::frame_checked(batch.as_bytes()).expect("frames");
        view.records()
            .map(|r| r.expect("record").to_owned_record().expect("owned"))
            .collect()
    }

    #[test]
    fn every_compression_is_accepted_and_stored_uncompressed() {
        let records: Vec<_> = (0..20)
            .map(|i| krecord(i, Some("k"), Some(&"x".repeat(i as usize))))
            .collect();
        for compression in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let got = stored(&kafka_batch(&records, compression));
            assert_eq!(got.len(), 20, "{compression:?}");
            for (i, r) in got.iter().enumerate() {
                assert_eq!(r.key.as_deref(), Some(&b"k"[..]));
                assert_eq!(r.value, "x".repeat(i).into_bytes());
                assert_eq!(r.timestamp, 1_700_000_000_000 + i as i64 * 10);
                assert_eq!(r.headers[0].key, format!("h{i}"));
                assert_eq!(r.headers[0].value, format!("v{i}").into_bytes());
            }
        }
    }

    #[test]
    fn several_batches_become_one_and_nulls_become_empty() {
        let mut bytes = BytesMut::new();
        bytes.extend_from_slice(&kafka_batch(
            &[krecord(0, None, Some("a"))],
            Compression::None,
        ));
        bytes.extend_from_slice(&kafka_batch(
            &[krecord(0, Some("b"), None)],
            Compression::Gzip,
        ));
        let got = stored(&bytes.freeze());
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].key, None);
        assert_eq!(got[1].value, Vec::<u8>::new());
    }

    #[test]
    fn a_flipped_bit_is_a_corrupt_message() {
        let good = kafka_batch(&[krecord(0, Some("k"), Some("v"))], Compression::None);
        let mut bad = good.to_vec();
        let last = bad.len() - 3;
        bad[last] ^= 1;
        let err = produced_to_strata(&Bytes::from(bad), 0, usize::MAX).expect_err("CRC");
        assert_eq!(err.code, ResponseError::CorruptMessage);
        assert!(
            err.message.contains("Cyclic redundancy check"),
            "{}",
            err.message
        );
    }

    #[test]
    fn an_idempotent_producers_sequence_range_is_returned() {
        let records: Vec<_> = (0..3)
            .map(|i| {
                let mut r = krecord(i, None, Some("v"));
                r.producer_id = 7;
                r.producer_epoch = 1;
                r.sequence = 10 + i as i32;
                r
            })
            .collect();
        let produced = produced_to_strata(&kafka_batch(&records, Compression::Lz4), 0, usize::MAX)
            .expect("accepted")
            .expect("records");
        let s = produced.sequenced.expect("sequenced");
        assert_eq!((s.producer_id, s.epoch, s.first, s.last), (7, 1, 10, 12));
    }

    #[test]
    fn truncation_old_formats_and_transactions_are_refused() {
        let good = kafka_batch(&[krecord(0, Some("k"), Some("v"))], Compression::None);
        let cut = good.slice(..good.len() - 1);
        assert_eq!(
            produced_to_strata(&cut, 0, usize::MAX)
                .expect_err("cut")
                .code,
            ResponseError::CorruptMessage
        );
        let mut v1 = good.to_vec();
        v1[16] = 1;
        assert_eq!(
            produced_to_strata(&Bytes::from(v1), 0, usize::MAX)
                .expect_err("v1")
                .code,
            ResponseError::UnsupportedForMessageFormat
        );
        let mut transactional = krecord(0, None, Some("v"));
        transactional.producer_id = 7;
        transactional.transactional = true;
        let batch = kafka_batch(&[transactional], Compression::None);
        assert_eq!(
            produced_to_strata(&batch, 0, usize::MAX)
                .expect_err("transactional")
                .code,
            ResponseError::InvalidRecord
        );
        assert!(
            produced_to_strata(&Bytes::new(), 0, usize::MAX)
                .expect("empty")
                .is_none()
        );
    }

    #[test]
    fn the_decompressed_budget_spans_a_partitions_batches() {
        let records: Vec<_> = (0..10)
            .map(|i| krecord(i, None, Some(&"z".repeat(1000))))
            .collect();
        // The records' bytes, without the batch headers (the encoder makes one batch per
        // record here: their offsets and sequences do not run in step).
        let plain = kafka_batch(&records, Compression::None);
        let batches = RecordBatchDecoder::decode_batch_info(&mut plain.clone())
            .unwrap()
            .len();
        let body = plain.len() - batches * KAFKA_HEADER_LEN;
        let zstd = kafka_batch(&records, Compression::Zstd);
        assert!(zstd.len() < body / 2, "compressible");
        let too_large = |r: Result<Option<Produced>, Rejected>| {
            let Err(e) = r else {
                panic!("accepted over the budget");
            };
            assert_eq!(e.code, ResponseError::RecordListTooLarge);
            assert!(e.message.contains("send fewer records"), "{}", e.message);
        };
        assert!(
            produced_to_strata(&zstd, 0, body).is_ok(),
            "exactly the budget"
        );
        too_large(produced_to_strata(&zstd, 0, body - 1));
        let mut two = BytesMut::new();
        two.extend_from_slice(&zstd);
        two.extend_from_slice(&kafka_batch(&records, Compression::Gzip));
        let two = two.freeze();
        assert!(produced_to_strata(&two, 0, 2 * body).is_ok());
        too_large(produced_to_strata(&two, 0, 2 * body - 1));
        // Uncompressed records count the same, so the budget means one thing.
        assert!(produced_to_strata(&plain, 0, body).is_ok());
        too_large(produced_to_strata(&plain, 0, body - 1));
    }

    #[test]
    fn repeated_header_keys_survive() {
        // Built by hand: the crate's encoder keeps headers in a map and cannot repeat a key.
        let mut builder = BatchBuilder::new();
        let headers = [("a", &b"1"[..]), ("a", &b"2"[..])];
        builder.push(Some(b"k"), b"v", 9, headers.iter().copied());
        let strata = builder.finish().expect("batch");
        let view = BatchView::frame(strata.as_bytes()).expect("frame");
        let mut kafka = BytesMut::new();
        put_kafka_batch(&mut kafka, &view);
        let back = stored(&kafka.freeze());
        let values: Vec<_> = back[0].headers.iter().map(|h| h.value.clone()).collect();
        assert_eq!(values, vec![b"1".to_vec(), b"2".to_vec()]);
    }

    #[test]
    fn fetched_batches_decode_with_the_kafka_decoder() {
        let mut builder = BatchBuilder::new();
        for i in 0..3u8 {
            let value = [i; 4];
            builder.push(
                Some(&[b'k', i]),
                &value,
                1000 + i64::from(i),
                [("h", &b"x"[..])].into_iter(),
            );
        }
        let mut strata = builder.finish().expect("batch").as_bytes().to_vec();
        strata[..8].copy_from_slice(&40u64.to_le_bytes()); // as if appended at offset 40
        let view = BatchView::frame_checked(&strata).expect("frame");
        let mut out = BytesMut::new();
        put_kafka_batch(&mut out, &view);
        put_kafka_batch(&mut out, &view);
        assert_eq!(
            out.len(),
            2 * kafka_batch_len(&view),
            "the fetch sizes its buffer so"
        );
        let sets = RecordBatchDecoder::decode_all(&mut out.freeze()).expect("valid Kafka batches");
        assert_eq!(sets.len(), 2);
        let records = &sets[0].records;
        assert_eq!(records.len(), 3);
        for (i, r) in records.iter().enumerate() {
            assert_eq!(r.offset, 40 + i as i64);
            assert_eq!(r.timestamp, 1000 + i as i64);
            assert_eq!(r.key.as_deref(), Some(&[b'k', i as u8][..]));
            assert_eq!(r.value.as_deref(), Some(&[i as u8; 4][..]));
            assert_eq!(r.headers.len(), 1);
        }
    }
}
