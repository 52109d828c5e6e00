//! Topics: `POST /v1/topics`, `GET /v1/topics[/{topic}]`, `DELETE /v1/topics/{topic}`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// `POST /v1/topics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTopic {
    /// 1–249 of `[A-Za-z0-9._-]`, not `.` or `..`.
    pub name: String,
    /// Partitions (default 1).
    #[serde(default = "one")]
    pub partitions: u32,
    /// The topic's config (every field optional): `durability` (`always`, `interval`,
    /// `never`), `retention_ms`, `retention_bytes`, `segment_bytes`, `segment_ms`,
    /// `flush_interval_ms`, `max_record_bytes`, `index_interval_bytes`; `*_ms` fields take
    /// numbers or durations (`"7d"`), `*_bytes` fields numbers or sizes (`"256MiB"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub config: Option<Map<String, Value>>,
}

fn one() -> u32 {
    1
}

/// A topic: its config and, per partition, offsets and sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Topic {
    /// Its name.
    pub name: String,
    /// How many partitions it has.
    pub partition_count: u32,
    /// When it was created (ms since the epoch).
    pub created_at_ms: i64,
    /// Its config, every field resolved (`durability`, `retention_ms`, …), as the log keeps it.
    #[schema(value_type = Object)]
    pub config: Map<String, Value>,
    /// Records retained, over all partitions.
    pub records: u64,
    /// Bytes on disk, over all partitions.
    pub size_bytes: u64,
    /// Each partition.
    pub partitions: Vec<TopicPartition>,
}

/// One partition of a topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TopicPartition {
    /// Its number.
    pub partition: u32,
    /// The first retained offset.
    pub start_offset: u64,
    /// The next offset to be written.
    pub end_offset: u64,
    /// Records retained (`end_offset - start_offset`).
    pub records: u64,
    /// Bytes on disk.
    pub size_bytes: u64,
    /// Segment files.
    pub segments: u64,
    /// Offsets below this are on disk (fsynced).
    pub durable_offset: u64,
}

/// `GET /v1/topics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Topics {
    /// Every topic.
    pub topics: Vec<Topic>,
}

/// The answer to deleting a topic or a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Deleted {
    /// What was deleted.
    pub deleted: String,
}
