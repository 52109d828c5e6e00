//! Records: a produce's answer, fetched records and the positions that page through them
//! (`POST|GET /v1/topics/{topic}/records`, and group fetches).
//!
//! The node writes these bodies by hand (they are its hottest paths); these types are how
//! clients read them, and what the OpenAPI document says they are.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;

/// A position in a partition: the offset of a record, or the next one to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartitionOffset {
    /// The partition.
    pub partition: u32,
    /// The offset.
    pub offset: u64,
}

/// One record of a produce body (a JSON array of these, or NDJSON). Exactly one of `value`,
/// `value_text` and `value_b64` is required.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRecord {
    /// The key, a string; decides the partition (murmur2, as Kafka's clients).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The key as standard base64 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_b64: Option<String>,
    /// Any JSON, stored as its JSON text; `null` is a tombstone (an empty value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub value: Option<Box<RawValue>>,
    /// A string stored as its UTF-8 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_text: Option<String>,
    /// Raw bytes, standard base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_b64: Option<String>,
    /// ms since the epoch, RFC 3339, or relative (`-5m`); default: the time of the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub timestamp: Option<Box<RawValue>>,
    /// `{"name": "text"}`, or an array of [`Header`]s (names may repeat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub headers: Option<Box<RawValue>>,
    /// An explicit partition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
}

/// The answer to a produce: where each record landed, in request order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Produced {
    /// One position per record.
    pub offsets: Vec<PartitionOffset>,
}

/// Records read from a topic (or fetched by a group), and where to read on. The records
/// borrow from the body read (a fetch carries thousands).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Fetched<'a> {
    /// The group that fetched (group fetches only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The topic.
    pub topic: String,
    /// The records, each as the node wrote it (read one as a [`Record`]).
    #[serde(borrow)]
    #[schema(value_type = Vec<Record>)]
    pub records: Vec<&'a RawValue>,
    /// How many records.
    pub count: u64,
    /// Per partition read, the next offset to read (pass it back as `partition=&offset=`).
    pub next_offsets: Vec<PartitionOffset>,
}

/// A fetched record: its position, timestamp, key, value and headers. The key is `key` (a
/// string, or `null`) or `key_b64`; the value `value` (JSON; `null` for a tombstone),
/// `value_text` or `value_b64`, as `format` asked.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Record {
    /// Its partition.
    pub partition: u32,
    /// Its offset.
    pub offset: u64,
    /// Its timestamp (ms since the epoch).
    pub timestamp: i64,
    /// Its key as text.
    #[serde(default)]
    pub key: Option<String>,
    /// Its key as base64 (when not UTF-8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_b64: Option<String>,
    /// Its value when it is JSON, exactly as stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub value: Option<Box<RawValue>>,
    /// Its value as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_text: Option<String>,
    /// Its value as base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_b64: Option<String>,
    /// Its headers, in order.
    #[serde(default)]
    pub headers: Vec<Header>,
}

/// A record header: a name and a text (`value`) or bytes (`value_b64`) value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Its name.
    pub key: String,
    /// Its value as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Its value as base64 (when not UTF-8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_b64: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fetch body as the node writes it (`http::reads`, `records::write_record`) reads as
    /// these types.
    #[test]
    fn fetch_bodies_read_as_the_api_types() {
        let body = br#"{"group":"g","topic":"t","records":[{"partition":2,"offset":7,"timestamp":-3,"key":null,"value":{"a":1},"headers":[{"key":"h","value_b64":"/w=="}]},{"partition":2,"offset":8,"timestamp":5,"key_b64":"AAE=","value_text":"x","headers":[]}],"count":2,"next_offsets":[{"partition":2,"offset":9}]}"#;
        let f: Fetched<'_> = serde_json::from_slice(body).unwrap();
        assert_eq!((f.group.as_deref(), f.count), (Some("g"), 2));
        assert_eq!(
            f.next_offsets,
            [PartitionOffset {
                partition: 2,
                offset: 9
            }]
        );
        let r: Record = serde_json::from_str(f.records[0].get()).unwrap();
        assert_eq!(
            (r.partition, r.offset, r.timestamp, r.key),
            (2, 7, -3, None)
        );
        assert_eq!(r.value.unwrap().get(), r#"{"a":1}"#);
        assert_eq!(r.headers[0].value_b64.as_deref(), Some("/w=="));
        let r: Record = serde_json::from_str(f.records[1].get()).unwrap();
        assert_eq!(
            (r.key_b64.as_deref(), r.value_text.as_deref()),
            (Some("AAE="), Some("x"))
        );
        let p: Produced =
            serde_json::from_slice(br#"{"offsets":[{"partition":0,"offset":1}]}"#).unwrap();
        assert_eq!(p.offsets.len(), 1);
    }
}
