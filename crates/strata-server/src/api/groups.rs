//! Consumer groups: listing and describing them, committing and resetting their offsets.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::records::PartitionOffset;

/// `POST /v1/groups/{group}/offsets`: the next offset to read, per partition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitOffsets {
    /// The topic.
    pub topic: String,
    /// At least one position.
    pub offsets: Vec<PartitionOffset>,
}

/// `POST /v1/groups/{group}/reset`: `to` is `earliest`, `latest`, `offset` (with `offset`) or
/// `timestamp` (with `timestamp`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetGroup {
    /// The topic.
    pub topic: String,
    /// Where to: `earliest`, `latest`, `offset` or `timestamp`.
    pub to: String,
    /// The offset, with `"to": "offset"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// The time, with `"to": "timestamp"`: ms since the epoch, RFC 3339 or relative (`-1h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub timestamp: Option<Value>,
    /// Only these partitions (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitions: Option<Vec<u32>>,
}

/// The offsets a commit or a reset wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Committed {
    /// The group.
    pub group: String,
    /// The topic.
    pub topic: String,
    /// The committed positions.
    pub committed: Vec<PartitionOffset>,
}

/// `GET /v1/groups`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Groups {
    /// Every group.
    pub groups: Vec<GroupSummary>,
}

/// A group in the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GroupSummary {
    /// Its name.
    pub group: String,
    /// The topics it has committed offsets for.
    pub topics: Vec<String>,
    /// Its total lag.
    pub lag: u64,
}

/// `GET /v1/groups/{group}`: its committed offsets and lag per partition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Group {
    /// Its name.
    pub group: String,
    /// Its total lag.
    pub lag: u64,
    /// Each partition it has committed.
    pub partitions: Vec<GroupPartition>,
}

/// A group's position in one partition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GroupPartition {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: u32,
    /// The committed offset (the next record the group reads).
    pub committed: u64,
    /// The partition's end offset.
    pub end_offset: u64,
    /// `end_offset - committed`.
    pub lag: u64,
    /// When the offset was committed (ms since the epoch).
    pub committed_at_ms: Option<i64>,
}
