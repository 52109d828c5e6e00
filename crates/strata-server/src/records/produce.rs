//! Produce bodies: parsing and validating the records of a request, and encoding them into
//! one batch per partition.
//!
//! A produce body is a JSON array of record objects or NDJSON (a sequence of record objects).
//! Each object has `value` (any JSON, stored as its JSON text; `null` is a tombstone, an empty
//! value, as in Kafka), `value_text` (a string stored
//! as its UTF-8 bytes) or `value_b64` (raw bytes), and optionally `key` (a string) or
//! `key_b64`, `timestamp` (ms or RFC 3339), `headers` and `partition`. The whole body is
//! parsed and checked before anything is appended, and every error names the record index.
//!
//! Values are borrowed from the request body where possible (`&RawValue` keeps the JSON text
//! as sent), so producing does not allocate per record.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use strata_log::{BatchBuilder, EncodedBatch, Topic};

use super::json::minify;
use crate::error::{Error, Result};
use crate::time::{TIME_FORMS, parse_time};

/// One record object of a produce body, each field kept as raw JSON until validated (so that
/// an error can name the field, which serde's own messages do not).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRecord<'a> {
    #[serde(default, borrow, deserialize_with = "some_raw")]
    key: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "some_raw")]
    key_b64: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "some_raw")]
    value: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "some_raw")]
    value_text: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "some_raw")]
    value_b64: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "some_raw")]
    timestamp: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "some_raw")]
    headers: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "some_raw")]
    partition: Option<&'a RawValue>,
}

/// Keeps a present field even when it is `null` (plain `Option` would turn `null` into
/// "absent", and a JSON `null` is a valid value).
fn some_raw<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&'de RawValue>::deserialize(d).map(Some)
}

/// A validated record, borrowing from the request body where it can.
#[derive(Debug)]
pub struct ProduceRecord<'a> {
    /// Target partition.
    pub partition: u32,
    /// Key bytes.
    pub key: Option<Cow<'a, [u8]>>,
    /// Value bytes.
    pub value: Cow<'a, [u8]>,
    /// Timestamp, ms.
    pub timestamp: i64,
    /// Headers, in order.
    pub headers: Vec<(Cow<'a, str>, Cow<'a, [u8]>)>,
}

/// The batches of one produce request, one per partition, ready to append.
#[derive(Debug)]
pub struct PreparedProduce {
    /// `(partition, batch)`, in order of first appearance in the request.
    pub batches: Vec<(u32, EncodedBatch)>,
    /// For each record of the request, in order: index into `batches` and position within it.
    pub slots: Vec<(u32, u32)>,
    /// Total bytes of keys and values.
    pub payload_bytes: u64,
}

/// Parses a produce body: a JSON array of records, or NDJSON / concatenated record objects.
///
/// # Errors
/// [`Error::BadRequest`] naming the record index and the problem.
pub fn parse_body(body: &[u8]) -> Result<Vec<WireRecordRef<'_>>> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let records = match first {
        None => {
            return Err(Error::bad_request(
                "no_records",
                "the request body is empty: send a JSON array of records, e.g. [{\"value\": {\"n\": 1}}], or NDJSON with one record object per line",
            ));
        }
        Some(b'[') => {
            let index = Cell::new(0usize);
            let mut de = serde_json::Deserializer::from_slice(body);
            de.deserialize_seq(ArrayVisitor { index: &index })
                .and_then(|r| de.end().map(|()| r))
                .map_err(|e| json_error(index.get(), &e))?
        }
        Some(b'{') => {
            let mut out = Vec::new();
            for item in serde_json::Deserializer::from_slice(body).into_iter::<WireRecord<'_>>() {
                out.push(WireRecordRef(item.map_err(|e| json_error(out.len(), &e))?));
            }
            out
        }
        Some(_) => {
            return Err(Error::bad_request(
                "bad_json",
                "the request body must be a JSON array of record objects, or NDJSON with one record object per line (each like {\"key\": \"k\", \"value\": {\"n\": 1}})",
            ));
        }
    };
    if records.is_empty() {
        return Err(Error::bad_request(
            "no_records",
            "the request holds no records: send at least one record object",
        ));
    }
    Ok(records)
}

fn json_error(index: usize, e: &serde_json::Error) -> Error {
    let hint = if e.is_eof() {
        " (the body ends in the middle of a record: is it truncated?)"
    } else if e.to_string().contains("unknown field") {
        " (a record has only key, key_b64, value, value_text, value_b64, timestamp, headers, partition)"
    } else {
        ""
    };
    Error::BadRequest {
        code: "bad_json",
        message: format!("record {index}: {e}{hint}"),
        details: Some(
            serde_json::json!({ "record": index, "line": e.line(), "column": e.column() }),
        ),
    }
}

/// A record object as parsed, not yet validated.
pub struct WireRecordRef<'a>(WireRecord<'a>);

struct ArrayVisitor<'c> {
    index: &'c Cell<usize>,
}

impl<'de> Visitor<'de> for ArrayVisitor<'_> {
    type Value = Vec<WireRecordRef<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of record objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
        while let Some(r) = seq.next_element::<WireRecord<'de>>()? {
            out.push(WireRecordRef(r));
            self.index.set(out.len());
        }
        Ok(out)
    }
}

impl<'a> WireRecordRef<'a> {
    /// Checks one record and decides its partition.
    ///
    /// `sticky` is the partition of unkeyed records without an explicit partition.
    ///
    /// # Errors
    /// [`Error::BadRequest`] naming the record index, the field and the fix.
    pub fn validate(
        self,
        index: usize,
        topic: &Topic,
        sticky: &mut Option<u32>,
        now_ms: i64,
    ) -> Result<ProduceRecord<'a>> {
        let r = self.0;
        let bad = |msg: String| Error::bad_record(index, msg);
        let key: Option<Cow<'a, [u8]>> = match (r.key, r.key_b64) {
            (Some(_), Some(_)) => return Err(bad("give key or key_b64, not both".into())),
            (Some(k), None) if k.get() == "null" => None,
            (Some(k), None) => Some(match str_field(k) {
                Some(Cow::Borrowed(s)) => Cow::Borrowed(s.as_bytes()),
                Some(Cow::Owned(s)) => Cow::Owned(s.into_bytes()),
                None => {
                    return Err(bad(format!(
                        "key must be a JSON string, not {}; send binary keys base64-encoded in key_b64",
                        k.get()
                    )));
                }
            }),
            (None, Some(k)) => Some(Cow::Owned(b64_field(k).ok_or_else(|| {
                bad("key_b64 must be a string of standard base64 (RFC 4648, with padding)".into())
            })?)),
            (None, None) => None,
        };
        let value: Cow<'a, [u8]> = match (r.value, r.value_text, r.value_b64) {
            // `"value": null` is a tombstone (an empty value), as Kafka's REST proxy has it:
            // the delete of a table row (`value_text: ""` says the same).
            (Some(v), None, None) if v.get().trim() == "null" => Cow::Borrowed(&[]),
            (Some(v), None, None) => json_value_bytes(v),
            (None, Some(v), None) => match str_field(v) {
                Some(Cow::Borrowed(s)) => Cow::Borrowed(s.as_bytes()),
                Some(Cow::Owned(s)) => Cow::Owned(s.into_bytes()),
                None => {
                    return Err(bad(format!(
                        "value_text must be a JSON string, not {}",
                        v.get()
                    )));
                }
            },
            (None, None, Some(v)) => Cow::Owned(b64_field(v).ok_or_else(|| {
                bad("value_b64 must be a string of standard base64 (RFC 4648, with padding)".into())
            })?),
            (None, None, None) => {
                return Err(bad(
                    "a record needs a value: \"value\" (any JSON), \"value_text\" (a string stored as-is) or \"value_b64\" (bytes)".into(),
                ));
            }
            _ => {
                return Err(bad(
                    "give exactly one of value, value_text and value_b64".into()
                ));
            }
        };
        let timestamp = match r.timestamp {
            None => now_ms,
            Some(t) if t.get() == "null" => now_ms,
            Some(t) => {
                if let Ok(ms) = serde_json::from_str::<i64>(t.get()) {
                    ms
                } else if let Some(s) = str_field(t) {
                    parse_time(&s, now_ms).map_err(|e| bad(format!("timestamp: {e}")))?
                } else {
                    return Err(bad(format!(
                        "timestamp must be an integer or a string: {TIME_FORMS}, not {}",
                        t.get()
                    )));
                }
            }
        };
        let headers = match r.headers {
            None => Vec::new(),
            Some(h) if h.get() == "null" => Vec::new(),
            Some(h) => parse_headers(h).map_err(|e| bad(format!("headers: {e}")))?,
        };
        let partitions = topic.partition_count();
        let partition = match r.partition {
            Some(p) if p.get() != "null" => {
                let p = serde_json::from_str::<u32>(p.get()).map_err(|_| {
                    bad(format!(
                        "partition must be an integer between 0 and {}, not {}",
                        partitions - 1,
                        p.get()
                    ))
                })?;
                if p >= partitions {
                    return Err(Error::BadRequest {
                        code: "unknown_partition",
                        message: format!(
                            "record {index}: topic {:?} has partitions 0..={}, not {p}",
                            topic.name(),
                            partitions - 1
                        ),
                        details: Some(
                            serde_json::json!({ "record": index, "partitions": partitions }),
                        ),
                    });
                }
                p
            }
            _ => match &key {
                Some(k) => topic.choose_partition(Some(k)),
                None => *sticky.get_or_insert_with(|| topic.choose_partition(None)),
            },
        };
        Ok(ProduceRecord {
            partition,
            key,
            value,
            timestamp,
            headers,
        })
    }
}

/// A JSON string field, unescaped (borrowed when it has no escapes); `None` if not a string.
fn str_field(raw: &RawValue) -> Option<Cow<'_, str>> {
    let s = raw.get();
    if s.starts_with('"') && !s.contains('\\') {
        // A valid JSON string without escapes is its own content between the quotes.
        return Some(Cow::Borrowed(&s[1..s.len() - 1]));
    }
    serde_json::from_str::<String>(s).ok().map(Cow::Owned)
}

fn b64_field(raw: &RawValue) -> Option<Vec<u8>> {
    let s = str_field(raw)?;
    B64.decode(s.as_bytes()).ok()
}

/// The bytes stored for a JSON `value`: the JSON text as sent, on one line (a pretty-printed
/// value is minified so that NDJSON output stays one record per line).
fn json_value_bytes(raw: &RawValue) -> Cow<'_, [u8]> {
    let s = raw.get().as_bytes();
    // `contains` on bytes is a vectorised memchr; a hand-written two-byte `any` is not.
    if s.contains(&b'\n') || s.contains(&b'\r') {
        Cow::Owned(minify(s))
    } else {
        Cow::Borrowed(s)
    }
}

type Headers<'a> = Vec<(Cow<'a, str>, Cow<'a, [u8]>)>;

/// Headers as an object of string values (`{"source": "web"}`) or, to repeat a name or send
/// bytes, an array of `{"key": .., "value": ..}` / `{"key": .., "value_b64": ..}`.
fn parse_headers(raw: &RawValue) -> std::result::Result<Headers<'_>, String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct WireHeader<'a> {
        #[serde(borrow)]
        key: &'a RawValue,
        #[serde(default, borrow)]
        value: Option<&'a RawValue>,
        #[serde(default, borrow)]
        value_b64: Option<&'a RawValue>,
    }
    let text = raw.get();
    let mut out = Vec::new();
    if text.starts_with('{') {
        let pairs = serde_json::from_str::<OrderedPairs<'_>>(text).map_err(|e| e.to_string())?;
        for (k, v) in pairs.0 {
            let k = Cow::Owned(k);
            let v = match str_field(v) {
                Some(Cow::Borrowed(s)) => Cow::Borrowed(s.as_bytes()),
                Some(Cow::Owned(s)) => Cow::Owned(s.into_bytes()),
                None => {
                    return Err(format!(
                        "header {k:?} must have a string value, not {} (use the array form with value_b64 for bytes)",
                        v.get()
                    ));
                }
            };
            out.push((k, v));
        }
    } else if text.starts_with('[') {
        let items = serde_json::from_str::<Vec<WireHeader<'_>>>(text).map_err(|e| {
            format!("{e}; each header is {{\"key\": \"name\", \"value\": \"text\"}} or {{\"key\": \"name\", \"value_b64\": \"...\"}}")
        })?;
        for h in items {
            let k = to_string(h.key, "a header key")?;
            let v = match (h.value, h.value_b64) {
                (Some(v), None) => match to_string(v, "a header value")? {
                    Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
                    Cow::Owned(s) => Cow::Owned(s.into_bytes()),
                },
                (None, Some(v)) => Cow::Owned(
                    b64_field(v).ok_or_else(|| format!("header {k:?}: value_b64 is not base64"))?,
                ),
                _ => {
                    return Err(format!(
                        "header {k:?} needs exactly one of value and value_b64"
                    ));
                }
            };
            out.push((k, v));
        }
    } else {
        return Err(format!(
            "must be an object like {{\"source\": \"web\"}} or an array of {{\"key\", \"value\"}} objects, not {text}"
        ));
    }
    Ok(out)
}

fn to_string<'a>(v: &'a RawValue, what: &str) -> std::result::Result<Cow<'a, str>, String> {
    str_field(v).ok_or_else(|| format!("{what} must be a string, not {}", v.get()))
}

/// The entries of a JSON object, in order, values raw.
struct OrderedPairs<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for OrderedPairs<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OrderedPairs<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    out.push((k, map.next_value::<&'de RawValue>()?));
                }
                Ok(OrderedPairs(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Encodes validated records into one batch per partition.
///
/// # Errors
/// [`Error::Record`] when a record is over the topic's `max_record_bytes`, and
/// [`Error::Log`] with `BatchTooLarge` when a partition's batch would not fit in a segment.
pub fn encode(records: &[ProduceRecord<'_>], topic: &Topic) -> Result<PreparedProduce> {
    let config = topic.config();
    let mut builders: Vec<(u32, BatchBuilder)> = Vec::new();
    let mut slots = Vec::with_capacity(records.len());
    let mut payload_bytes = 0u64;
    let estimate: usize = records
        .iter()
        .map(|r| r.value.len() + r.key.as_ref().map_or(0, |k| k.len()) + 16)
        .sum();
    for (index, r) in records.iter().enumerate() {
        let slot = match builders.iter().position(|(p, _)| *p == r.partition) {
            Some(i) => i,
            None => {
                let cap = if builders.is_empty() { estimate } else { 0 };
                builders.push((r.partition, BatchBuilder::with_capacity(cap)));
                builders.len() - 1
            }
        };
        let builder = &mut builders[slot].1;
        let pos = builder.len() as u32;
        let size = builder.push(
            r.key.as_deref(),
            &r.value,
            r.timestamp,
            r.headers.iter().map(|(k, v)| (k.as_ref(), v.as_ref())),
        );
        if size as u64 > config.max_record_bytes {
            return Err(Error::Record {
                index,
                source: strata_log::Error::RecordTooLarge {
                    index,
                    size,
                    limit: config.max_record_bytes as usize,
                },
            });
        }
        payload_bytes += (r.value.len() + r.key.as_ref().map_or(0, |k| k.len())) as u64;
        slots.push((slot as u32, pos));
    }
    let mut batches = Vec::with_capacity(builders.len());
    for (p, b) in builders {
        let Some(batch) = b.finish() else { continue };
        if batch.as_bytes().len() as u64 > config.segment_bytes {
            return Err(Error::Log(strata_log::Error::BatchTooLarge {
                size: batch.as_bytes().len(),
                limit: config.segment_bytes,
            }));
        }
        batches.push((p, batch));
    }
    Ok(PreparedProduce {
        batches,
        slots,
        payload_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_log::{Log, LogOptions, TopicConfig};

    fn topic(
        partitions: u32,
    ) -> (
        tempfile::TempDir,
        std::sync::Arc<Log>,
        std::sync::Arc<Topic>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open(
            dir.path(),
            LogOptions {
                maintenance_tick: None,
                ..LogOptions::default()
            },
        )
        .unwrap();
        let t = log
            .create_topic("t", partitions, TopicConfig::default())
            .unwrap();
        (dir, log, t)
    }

    fn validate_all<'a>(body: &'a [u8], t: &Topic) -> Result<Vec<ProduceRecord<'a>>> {
        let mut sticky = None;
        parse_body(body)?
            .into_iter()
            .enumerate()
            .map(|(i, r)| r.validate(i, t, &mut sticky, 42))
            .collect()
    }

    #[test]
    fn arrays_and_ndjson_parse_alike_and_borrow_values() {
        let (_d, _log, t) = topic(1);
        let a = br#"[{"value":{"a":1}}, {"value":"s","key":"k"}]"#;
        let n = b"{\"value\":{\"a\":1}}\n{\"value\":\"s\",\"key\":\"k\"}\n";
        for body in [&a[..], &n[..]] {
            let recs = validate_all(body, &t).unwrap();
            assert_eq!(recs.len(), 2);
            assert_eq!(&*recs[0].value, br#"{"a":1}"#);
            assert!(
                matches!(recs[0].value, Cow::Borrowed(_)),
                "values are not copied"
            );
            assert_eq!(&*recs[1].value, br#""s""#);
            assert_eq!(recs[1].key.as_deref(), Some(&b"k"[..]));
            assert_eq!(recs[0].timestamp, 42);
        }
    }

    #[test]
    fn a_null_value_is_a_tombstone() {
        let (_d, _log, t) = topic(1);
        let recs = validate_all(
            br#"[{"key":"k","value":null}, {"key":"k","value": null }, {"key":"k","value":"null"}]"#,
            &t,
        )
        .unwrap();
        assert!(recs[0].value.is_empty() && recs[1].value.is_empty());
        assert_eq!(
            &*recs[2].value, br#""null""#,
            "the string \"null\" is a value"
        );
    }

    #[test]
    fn errors_name_the_record_and_field() {
        let (_d, _log, t) = topic(2);
        let msg = |body: &str| validate_all(body.as_bytes(), &t).unwrap_err().to_string();
        assert!(
            msg(r#"[{"value":1},{"value":1,"extra":2}]"#)
                .starts_with("record 1: unknown field `extra`")
        );
        assert!(
            msg(r#"[{"value":1},{"value":1,"partition":2}]"#)
                .contains("record 1: topic \"t\" has partitions 0..=1")
        );
        assert!(
            msg(r#"[{"value":1},{"value":1,"key":[1]}]"#)
                .contains("record 1: key must be a JSON string")
        );
        assert!(msg(r#"[{"value_text":5}]"#).contains("value_text must be a JSON string"));
        assert!(
            msg(r#"[{"value":1,"headers":[{"key":"a"}]}]"#)
                .contains("exactly one of value and value_b64")
        );
        assert!(msg("[{\"value\":1}] trailing").contains("record"));
    }

    #[test]
    fn headers_escapes_and_pretty_values() {
        let (_d, _log, t) = topic(1);
        let body = br#"[{"value":{
            "a": [1, 2],
            "s": "x y"
        },"key":"k\u00e9","headers":{"z":"1","a":"2"}}]"#;
        let recs = validate_all(body, &t).unwrap();
        assert_eq!(
            &*recs[0].value, br#"{"a":[1,2],"s":"x y"}"#,
            "minified onto one line"
        );
        assert_eq!(recs[0].key.as_deref(), Some("ké".as_bytes()));
        let names: Vec<&str> = recs[0].headers.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(names, ["z", "a"], "header order is kept");
    }

    #[test]
    fn unkeyed_records_of_one_request_share_a_partition() {
        let (_d, _log, t) = topic(4);
        let recs = validate_all(br#"[{"value":1},{"value":2},{"value":3}]"#, &t).unwrap();
        assert!(recs.iter().all(|r| r.partition == recs[0].partition));
        let prepared = encode(&recs, &t).unwrap();
        assert_eq!(prepared.batches.len(), 1);
        assert_eq!(prepared.slots, [(0, 0), (0, 1), (0, 2)]);
    }
}
