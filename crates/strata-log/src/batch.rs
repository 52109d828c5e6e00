//! The record-batch format: how records are framed, checksummed and decoded.
//!
//! A batch is the unit of append, CRC, and read. Its layout (all integers little-endian; the full
//! specification with a worked example is `docs/format.md`):
//!
//! ```text
//! offset  size  field
//!      0     8  base_offset        offset of the first record (assigned by the partition)
//!      8     4  batch_length       bytes after this field
//!     12     1  magic              format version, currently 1
//!     13     4  crc                CRC-32 (IEEE) of bytes 17..end
//!     17     2  attributes         reserved, 0 (bits 0-2 will name a compression codec)
//!     19     4  last_offset_delta  record_count - 1
//!     23     8  base_timestamp     timestamp of the first record (ms)
//!     31     8  max_timestamp      largest record timestamp (ms)
//!     39     4  record_count
//!     43     …  records
//! ```
//!
//! Records use Kafka's v2 record layout (zig-zag varints): length, attributes (i8),
//! timestamp delta, offset delta, key length (-1 = null), key, value length, value, header
//! count, then per header key length, key (UTF-8), value length (-1 = null), value.
//!
//! The CRC leaves out `base_offset` (and the length, which the framing checks), so a producer
//! encodes and checksums a batch off the partition's writer lock and the writer only stamps the
//! offset: the same trick Kafka's v2 format uses.

use integer_encoding::VarInt;

/// Format version written in every batch.
pub const MAGIC: u8 = 1;
/// Size of the batch header, in bytes.
pub const HEADER_LEN: usize = 43;
/// Bytes before `batch_length` counts: `base_offset` and `batch_length` themselves.
pub const LENGTH_PREFIX: usize = 12;

const BASE_OFFSET_AT: usize = 0;
const LENGTH_AT: usize = 8;
const MAGIC_AT: usize = 12;
const CRC_AT: usize = 13;
const CRC_FROM: usize = 17;
const ATTRIBUTES_AT: usize = 17;
const LAST_DELTA_AT: usize = 19;
const BASE_TS_AT: usize = 23;
const MAX_TS_AT: usize = 31;
const COUNT_AT: usize = 39;

/// A record header: a UTF-8 key and a byte value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Header name.
    pub key: String,
    /// Header value.
    pub value: Vec<u8>,
}

/// An owned record, as a producer hands it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Optional key (decides the partition of keyed records).
    pub key: Option<Vec<u8>>,
    /// The payload.
    pub value: Vec<u8>,
    /// Event time, milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// Headers, in order.
    pub headers: Vec<Header>,
}

impl Record {
    /// A record with only a value and a timestamp.
    pub fn new(value: impl Into<Vec<u8>>, timestamp: i64) -> Self {
        Record {
            key: None,
            value: value.into(),
            timestamp,
            headers: Vec::new(),
        }
    }

    /// Sets the key.
    #[must_use]
    pub fn with_key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Adds a header.
    #[must_use]
    pub fn with_header(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push(Header {
            key: key.into(),
            value: value.into(),
        });
        self
    }
}

/// Encodes records into one batch buffer, ready to append.
///
/// Encoding happens on the producer's thread; the partition only stamps the base offset.
#[derive(Debug)]
pub struct BatchBuilder {
    buf: Vec<u8>,
    count: u32,
    base_timestamp: i64,
    max_timestamp: i64,
    largest_record: usize,
    largest_record_index: usize,
}

impl Default for BatchBuilder {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl BatchBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty builder whose buffer holds `bytes` of records without reallocating.
    pub fn with_capacity(bytes: usize) -> Self {
        let mut buf = Vec::with_capacity(HEADER_LEN + bytes);
        buf.resize(HEADER_LEN, 0);
        BatchBuilder {
            buf,
            count: 0,
            base_timestamp: 0,
            max_timestamp: i64::MIN,
            largest_record: 0,
            largest_record_index: 0,
        }
    }

    /// Number of records pushed so far.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True when no record has been pushed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Encoded size so far, header included.
    pub fn size_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Appends an owned record.
    pub fn push_record(&mut self, record: &Record) {
        self.push(
            record.key.as_deref(),
            &record.value,
            record.timestamp,
            record
                .headers
                .iter()
                .map(|h| (h.key.as_str(), h.value.as_slice())),
        );
    }

    /// Appends one record from borrowed parts; returns its encoded size in bytes.
    pub fn push<'h>(
        &mut self,
        key: Option<&[u8]>,
        value: &[u8],
        timestamp: i64,
        headers: impl Iterator<Item = (&'h str, &'h [u8])> + Clone,
    ) -> usize {
        if self.count == 0 {
            self.base_timestamp = timestamp;
        }
        self.max_timestamp = self.max_timestamp.max(timestamp);
        let timestamp_delta = timestamp.wrapping_sub(self.base_timestamp);
        let offset_delta = i64::from(self.count);
        let key_len = key.map_or(-1, |k| k.len() as i64);
        let value_len = value.len() as i64;

        let mut header_count = 0i64;
        let mut headers_size = 0usize;
        for (k, v) in headers.clone() {
            header_count += 1;
            headers_size += varint_size(k.len() as i64) + k.len();
            headers_size += varint_size(v.len() as i64) + v.len();
        }
        let body = 1
            + varint_size(timestamp_delta)
            + varint_size(offset_delta)
            + varint_size(key_len)
            + key.map_or(0, <[u8]>::len)
            + varint_size(value_len)
            + value.len()
            + varint_size(header_count)
            + headers_size;
        let total = varint_size(body as i64) + body;

        self.buf.reserve(total);
        put_varint(&mut self.buf, body as i64);
        self.buf.push(0); // record attributes: unused, as in Kafka
        put_varint(&mut self.buf, timestamp_delta);
        put_varint(&mut self.buf, offset_delta);
        put_varint(&mut self.buf, key_len);
        if let Some(k) = key {
            self.buf.extend_from_slice(k);
        }
        put_varint(&mut self.buf, value_len);
        self.buf.extend_from_slice(value);
        put_varint(&mut self.buf, header_count);
        for (k, v) in headers {
            put_varint(&mut self.buf, k.len() as i64);
            self.buf.extend_from_slice(k.as_bytes());
            put_varint(&mut self.buf, v.len() as i64);
            self.buf.extend_from_slice(v);
        }
        if total > self.largest_record {
            self.largest_record = total;
            self.largest_record_index = self.count as usize;
        }
        self.count += 1;
        total
    }

    /// Seals the batch: fills in the header and the CRC. `None` when no record was pushed.
    pub fn finish(mut self) -> Option<EncodedBatch> {
        if self.count == 0 {
            return None;
        }
        let length = (self.buf.len() - LENGTH_PREFIX) as u32;
        let b = &mut self.buf;
        b[BASE_OFFSET_AT..LENGTH_AT].copy_from_slice(&0u64.to_le_bytes());
        b[LENGTH_AT..MAGIC_AT].copy_from_slice(&length.to_le_bytes());
        b[MAGIC_AT] = MAGIC;
        b[ATTRIBUTES_AT..LAST_DELTA_AT].copy_from_slice(&0u16.to_le_bytes());
        b[LAST_DELTA_AT..BASE_TS_AT].copy_from_slice(&(self.count - 1).to_le_bytes());
        b[BASE_TS_AT..MAX_TS_AT].copy_from_slice(&self.base_timestamp.to_le_bytes());
        b[MAX_TS_AT..COUNT_AT].copy_from_slice(&self.max_timestamp.to_le_bytes());
        b[COUNT_AT..HEADER_LEN].copy_from_slice(&self.count.to_le_bytes());
        let crc = crc32fast::hash(&b[CRC_FROM..]);
        b[CRC_AT..CRC_FROM].copy_from_slice(&crc.to_le_bytes());
        Some(EncodedBatch {
            bytes: self.buf,
            record_count: self.count,
            max_timestamp: self.max_timestamp,
            largest_record: self.largest_record,
            largest_record_index: self.largest_record_index,
        })
    }
}

/// A sealed, checksummed batch waiting for its base offset.
#[derive(Debug, Clone)]
pub struct EncodedBatch {
    bytes: Vec<u8>,
    record_count: u32,
    max_timestamp: i64,
    largest_record: usize,
    largest_record_index: usize,
}

impl EncodedBatch {
    /// Encodes `records` into one batch; `None` when `records` is empty.
    pub fn from_records(records: &[Record]) -> Option<Self> {
        let mut builder = BatchBuilder::new();
        for record in records {
            builder.push_record(record);
        }
        builder.finish()
    }

    /// Number of records.
    pub fn record_count(&self) -> u32 {
        self.record_count
    }

    /// Largest record timestamp.
    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }

    /// Encoded size of the largest record.
    pub fn largest_record(&self) -> usize {
        self.largest_record
    }

    /// Position in the batch of the (first) largest record.
    pub fn largest_record_index(&self) -> usize {
        self.largest_record_index
    }

    /// The encoded batch (base offset as last stamped).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Stamps the base offset; the CRC does not cover it, so nothing else changes.
    pub(crate) fn set_base_offset(&mut self, base_offset: u64) {
        self.bytes[BASE_OFFSET_AT..LENGTH_AT].copy_from_slice(&base_offset.to_le_bytes());
    }
}

/// Why bytes could not be framed as a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The buffer ends inside the batch: a torn write at the tail, or a short read.
    Truncated,
    /// The bytes are not a valid batch.
    Invalid(&'static str),
}

/// A view of one framed batch inside a larger buffer (a segment map), borrowed, zero-copy.
#[derive(Debug, Clone, Copy)]
pub struct BatchView<'a> {
    bytes: &'a [u8],
}

impl<'a> BatchView<'a> {
    /// Frames the batch starting at `buf[0]`, checking its length fields but not its CRC.
    ///
    /// # Errors
    /// [`FrameError::Truncated`] when `buf` ends before the batch does, [`FrameError::Invalid`]
    /// when the header is impossible (bad magic, length below the header, count mismatch).
    pub fn frame(buf: &'a [u8]) -> Result<Self, FrameError> {
        if buf.len() < LENGTH_PREFIX {
            return Err(FrameError::Truncated);
        }
        let length = read_u32(buf, LENGTH_AT) as usize;
        if length < HEADER_LEN - LENGTH_PREFIX {
            return Err(FrameError::Invalid(
                "batch length is shorter than a batch header",
            ));
        }
        let total = LENGTH_PREFIX + length;
        if buf.len() < HEADER_LEN {
            return Err(FrameError::Truncated);
        }
        if buf[MAGIC_AT] != MAGIC {
            return Err(FrameError::Invalid("unknown magic byte (format version)"));
        }
        if buf.len() < total {
            return Err(FrameError::Truncated);
        }
        let view = BatchView {
            bytes: &buf[..total],
        };
        if view.record_count() == 0 {
            return Err(FrameError::Invalid("batch holds no records"));
        }
        if view.last_offset_delta() != view.record_count() - 1 {
            return Err(FrameError::Invalid(
                "last offset delta disagrees with record count",
            ));
        }
        Ok(view)
    }

    /// Frames and verifies the CRC.
    ///
    /// # Errors
    /// As [`BatchView::frame`], plus [`FrameError::Invalid`] on a CRC mismatch.
    pub fn frame_checked(buf: &'a [u8]) -> Result<Self, FrameError> {
        let view = Self::frame(buf)?;
        if !view.crc_ok() {
            return Err(FrameError::Invalid("CRC mismatch"));
        }
        Ok(view)
    }

    /// True when the stored CRC matches the bytes.
    pub fn crc_ok(&self) -> bool {
        crc32fast::hash(&self.bytes[CRC_FROM..]) == read_u32(self.bytes, CRC_AT)
    }

    /// The whole batch, header included.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Total encoded size in bytes.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    /// Offset of the first record.
    pub fn base_offset(&self) -> u64 {
        read_u64(self.bytes, BASE_OFFSET_AT)
    }

    /// Offset of the last record.
    pub fn last_offset(&self) -> u64 {
        self.base_offset()
            .wrapping_add(u64::from(self.last_offset_delta()))
    }

    /// Offset after the last record.
    pub fn next_offset(&self) -> u64 {
        self.last_offset().wrapping_add(1)
    }

    /// `record_count - 1`.
    pub fn last_offset_delta(&self) -> u32 {
        read_u32(self.bytes, LAST_DELTA_AT)
    }

    /// Number of records.
    pub fn record_count(&self) -> u32 {
        read_u32(self.bytes, COUNT_AT)
    }

    /// Timestamp of the first record.
    pub fn base_timestamp(&self) -> i64 {
        read_u64(self.bytes, BASE_TS_AT) as i64
    }

    /// Largest record timestamp.
    pub fn max_timestamp(&self) -> i64 {
        read_u64(self.bytes, MAX_TS_AT) as i64
    }

    /// The batch attributes (reserved, 0).
    pub fn attributes(&self) -> u16 {
        u16::from_le_bytes([self.bytes[ATTRIBUTES_AT], self.bytes[ATTRIBUTES_AT + 1]])
    }

    /// Decodes the records, lazily.
    pub fn records(&self) -> RecordIter<'a> {
        RecordIter {
            rest: &self.bytes[HEADER_LEN..],
            remaining: self.record_count(),
            base_offset: self.base_offset(),
            base_timestamp: self.base_timestamp(),
        }
    }
}

/// One decoded record, borrowing its key, value and headers from the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordView<'a> {
    /// The record's offset in its partition.
    pub offset: u64,
    /// Event time, ms since the Unix epoch.
    pub timestamp: i64,
    /// The key, if any.
    pub key: Option<&'a [u8]>,
    /// The value.
    pub value: &'a [u8],
    headers: &'a [u8],
    header_count: u32,
}

impl<'a> RecordView<'a> {
    /// The record's headers, in order.
    pub fn headers(&self) -> HeaderIter<'a> {
        HeaderIter {
            rest: self.headers,
            remaining: self.header_count,
        }
    }

    /// Copies the record out of the log.
    ///
    /// # Errors
    /// When a header is malformed (possible only for a batch whose CRC matched bytes that a
    /// buggy or hostile writer framed wrongly).
    pub fn to_owned_record(&self) -> Result<Record, &'static str> {
        let headers = self
            .headers()
            .map(|h| {
                h.map(|(k, v)| Header {
                    key: k.to_owned(),
                    value: v.to_vec(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Record {
            key: self.key.map(<[u8]>::to_vec),
            value: self.value.to_vec(),
            timestamp: self.timestamp,
            headers,
        })
    }
}

/// Iterates the records of a batch; yields an error (and then stops) on malformed bytes.
#[derive(Debug, Clone)]
pub struct RecordIter<'a> {
    rest: &'a [u8],
    remaining: u32,
    base_offset: u64,
    base_timestamp: i64,
}

impl<'a> Iterator for RecordIter<'a> {
    type Item = Result<RecordView<'a>, &'static str>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        match self.decode_one() {
            Ok(record) => {
                self.remaining -= 1;
                Some(Ok(record))
            }
            Err(e) => {
                self.remaining = 0;
                Some(Err(e))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining as usize))
    }
}

impl<'a> RecordIter<'a> {
    fn decode_one(&mut self) -> Result<RecordView<'a>, &'static str> {
        let mut cur = Cursor(self.rest);
        let body_len = cur
            .len_field("record length")?
            .ok_or("negative record length")?;
        let body = cur.take(body_len, "record longer than its batch")?;
        self.rest = cur.0;

        let mut r = Cursor(body);
        let _attributes = r.take(1, "record too short")?;
        let timestamp_delta = r.varint("timestamp delta")?;
        let offset_delta = r.varint("offset delta")?;
        let offset_delta = u64::try_from(offset_delta).map_err(|_| "negative offset delta")?;
        let key = match r.len_field("key length")? {
            None => None,
            Some(n) => Some(r.take(n, "key longer than its record")?),
        };
        let value_len = r.len_field("value length")?.unwrap_or(0);
        let value = r.take(value_len, "value longer than its record")?;
        let header_count = r.varint("header count")?;
        let header_count = u32::try_from(header_count).map_err(|_| "bad header count")?;
        Ok(RecordView {
            offset: self.base_offset.wrapping_add(offset_delta),
            timestamp: self.base_timestamp.wrapping_add(timestamp_delta),
            key,
            value,
            headers: r.0,
            header_count,
        })
    }
}

/// Iterates a record's headers as `(key, value)`; a null value reads as empty.
#[derive(Debug, Clone)]
pub struct HeaderIter<'a> {
    rest: &'a [u8],
    remaining: u32,
}

impl<'a> Iterator for HeaderIter<'a> {
    type Item = Result<(&'a str, &'a [u8]), &'static str>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let mut cur = Cursor(self.rest);
        let item = (|| {
            let key_len = cur
                .len_field("header key length")?
                .ok_or("null header key")?;
            let key = cur.take(key_len, "header key longer than its record")?;
            let key = std::str::from_utf8(key).map_err(|_| "header key is not UTF-8")?;
            let value = match cur.len_field("header value length")? {
                None => &[][..],
                Some(n) => cur.take(n, "header value longer than its record")?,
            };
            Ok((key, value))
        })();
        self.rest = cur.0;
        if item.is_err() {
            self.remaining = 0;
        }
        Some(item)
    }
}

/// A bounds-checked reader over a byte slice.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    /// A zig-zag varint. Hand-rolled with a fast path for one and two bytes (every field of a
    /// small record but its value): `integer_encoding::decode_var`'s general loop was a fifth
    /// of reading 100-byte records (profiled).
    #[inline]
    fn varint(&mut self, what: &'static str) -> Result<i64, &'static str> {
        let b = self.0;
        let (raw, n) = match *b {
            [x, ..] if x < 0x80 => (u64::from(x), 1),
            [x, y, ..] if y < 0x80 => (u64::from(x & 0x7f) | u64::from(y) << 7, 2),
            _ => decode_varint_slow(b).ok_or(what)?,
        };
        self.0 = &b[n..];
        Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }

    /// A length that may be -1 (null); other negatives are errors.
    fn len_field(&mut self, what: &'static str) -> Result<Option<usize>, &'static str> {
        match self.varint(what)? {
            -1 => Ok(None),
            n if n < 0 => Err(what),
            n => Ok(Some(n as usize)),
        }
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], &'static str> {
        if n > self.0.len() {
            return Err(what);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
}

/// An unsigned LEB128 varint of up to 10 bytes (bits past 64 are dropped); `None` when the
/// buffer ends first or the 10th byte still has its continuation bit.
fn decode_varint_slow(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &x) in b.iter().take(10).enumerate() {
        v |= u64::from(x & 0x7f).checked_shl(7 * i as u32).unwrap_or(0);
        if x < 0x80 {
            return Some((v, i + 1));
        }
    }
    None
}

fn varint_size(v: i64) -> usize {
    v.required_space()
}

/// Appends `v` as a zig-zag varint, encoding straight into the buffer's spare room: a 1-3
/// byte `memcpy` call per field cost more than the encoding itself (profiled).
fn put_varint(buf: &mut Vec<u8>, v: i64) {
    let at = buf.len();
    buf.resize(at + 10, 0);
    let n = v.encode_var(&mut buf[at..]);
    buf.truncate(at + n);
}

fn read_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn read_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Reads the base offset and total size of the batch at `buf[0]` without any other check:
/// what the index rebuild and offset lookups skip by.
pub(crate) fn peek_header(buf: &[u8]) -> Option<(u64, usize)> {
    if buf.len() < LENGTH_PREFIX {
        return None;
    }
    Some((
        read_u64(buf, BASE_OFFSET_AT),
        LENGTH_PREFIX + read_u32(buf, LENGTH_AT) as usize,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Vec<Record> {
        vec![
            Record::new(b"v0".to_vec(), 1_000)
                .with_key(b"k0".to_vec())
                .with_header("h", b"x".to_vec()),
            Record::new(Vec::new(), 900),
            Record::new(b"v2".to_vec(), i64::MAX),
        ]
    }

    #[test]
    fn round_trips_records_and_header_fields() {
        let mut batch = EncodedBatch::from_records(&sample()).expect("non-empty");
        batch.set_base_offset(42);
        let view = BatchView::frame_checked(batch.as_bytes()).expect("valid");
        assert_eq!(view.base_offset(), 42);
        assert_eq!(view.record_count(), 3);
        assert_eq!(view.last_offset(), 44);
        assert_eq!(view.base_timestamp(), 1_000);
        assert_eq!(view.max_timestamp(), i64::MAX);
        let decoded: Vec<Record> = view
            .records()
            .map(|r| r.expect("record").to_owned_record().expect("headers"))
            .collect();
        assert_eq!(decoded, sample());
        let offsets: Vec<u64> = view.records().map(|r| r.expect("ok").offset).collect();
        assert_eq!(offsets, vec![42, 43, 44]);
    }

    /// The worked example of `docs/format.md`, byte for byte (the CRC aside).
    #[test]
    fn matches_the_documented_example() {
        let mut b = BatchBuilder::new();
        b.push(Some(b"k"), b"hi", 1000, std::iter::empty());
        let mut batch = b.finish().expect("one record");
        batch.set_base_offset(42);
        let mut expected = vec![0x2a, 0, 0, 0, 0, 0, 0, 0, 0x29, 0, 0, 0, 0x01];
        expected.extend_from_slice(&batch.as_bytes()[13..17]); // crc
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        expected.extend_from_slice(&1000i64.to_le_bytes());
        expected.extend_from_slice(&1000i64.to_le_bytes());
        expected.extend_from_slice(&[1, 0, 0, 0]);
        expected.extend_from_slice(&[0x12, 0, 0, 0, 0x02, b'k', 0x04, b'h', b'i', 0]);
        assert_eq!(batch.as_bytes(), expected.as_slice());
        assert_eq!(
            u32::from_le_bytes(expected[13..17].try_into().expect("4 bytes")),
            crc32fast::hash(&expected[17..])
        );
    }

    #[test]
    fn empty_builder_yields_no_batch() {
        assert!(BatchBuilder::new().finish().is_none());
    }

    #[test]
    fn crc_catches_every_single_byte_flip_after_the_offset() {
        let batch = EncodedBatch::from_records(&sample()).expect("non-empty");
        for i in CRC_FROM..batch.as_bytes().len() {
            let mut bytes = batch.as_bytes().to_vec();
            bytes[i] ^= 0x40;
            assert!(
                BatchView::frame_checked(&bytes).is_err(),
                "flip at {i} not caught"
            );
        }
    }

    #[test]
    fn short_buffers_are_truncated_not_invalid() {
        let batch = EncodedBatch::from_records(&sample()).expect("non-empty");
        for cut in 0..batch.as_bytes().len() {
            assert_eq!(
                BatchView::frame(&batch.as_bytes()[..cut]).err(),
                Some(FrameError::Truncated),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn bad_magic_is_invalid() {
        let mut bytes = EncodedBatch::from_records(&sample())
            .expect("non-empty")
            .as_bytes()
            .to_vec();
        bytes[MAGIC_AT] = 9;
        assert!(matches!(
            BatchView::frame(&bytes),
            Err(FrameError::Invalid(_))
        ));
    }

    fn arb_record() -> impl Strategy<Value = Record> {
        (
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
            proptest::collection::vec(any::<u8>(), 0..300),
            any::<i64>(),
            proptest::collection::vec(
                ("[a-z]{0,5}", proptest::collection::vec(any::<u8>(), 0..8)),
                0..3,
            ),
        )
            .prop_map(|(key, value, timestamp, headers)| Record {
                key,
                value,
                timestamp,
                headers: headers
                    .into_iter()
                    .map(|(key, value)| Header { key, value })
                    .collect(),
            })
    }

    proptest! {
        #[test]
        fn any_records_round_trip(records in proptest::collection::vec(arb_record(), 1..40), base in any::<u32>()) {
            let mut batch = EncodedBatch::from_records(&records).expect("non-empty");
            batch.set_base_offset(u64::from(base));
            let view = BatchView::frame_checked(batch.as_bytes()).expect("valid");
            let decoded: Vec<Record> = view.records().map(|r| r.expect("record").to_owned_record().expect("headers")).collect();
            prop_assert_eq!(decoded, records);
        }

        #[test]
        fn varints_decode_as_integer_encoding_does(v in any::<i64>(), small in -300i64..300, tail in proptest::collection::vec(any::<u8>(), 0..4)) {
            for v in [v, small] {
                let mut buf = Vec::new();
                put_varint(&mut buf, v);
                let n = buf.len();
                buf.extend_from_slice(&tail);
                let mut cur = Cursor(&buf);
                prop_assert_eq!(cur.varint("v"), Ok(v));
                prop_assert_eq!(cur.0.len(), buf.len() - n);
                prop_assert_eq!(i64::decode_var(&buf).map(|(x, _)| x), Some(v));
            }
            // A varint cut short is an error, not a panic.
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            buf.pop();
            prop_assert!(Cursor(&buf).varint("v").is_err());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(view) = BatchView::frame(&bytes) {
                for record in view.records().flatten() {
                    for header in record.headers() {
                        let _ = header;
                    }
                }
            }
        }
    }
}
