//! Views: their summaries and definitions, their answers (rows with provenance), and what
//! dropping one says.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::records::PartitionOffset;

/// `GET /v1/views`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Views {
    /// Every view (continuous queries left out).
    pub views: Vec<ViewSummary>,
}

/// A view: its source, window, emission, key and columns, status and counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ViewSummary {
    /// Its name.
    pub name: String,
    /// The stream or table it reads.
    pub source: String,
    /// The topic of that source.
    pub source_topic: String,
    /// Its window (a window Top-N's window); `null` when not windowed.
    pub window: Option<Window>,
    /// How late a record may be and still count (ms).
    pub grace_ms: i64,
    /// `changes` (every update) or `final` (once per window).
    pub emit: String,
    /// Its group key columns.
    pub keys: Vec<String>,
    /// Its output columns.
    pub columns: Vec<String>,
    /// A window Top-N's ranking, as the engine plans it.
    #[schema(value_type = Option<Object>)]
    pub rank: Option<Value>,
    /// The topic every emitted row goes to.
    pub changelog_topic: String,
    /// The topic late records go to.
    pub late_topic: String,
    /// `running`, `failed` or `stopped`.
    pub status: String,
    /// Why it failed.
    pub failure: Option<String>,
    /// Its counters (`null` when it is not running).
    pub stats: Option<ViewStats>,
}

/// `GET /v1/views/{view}/definition`: the summary and the compiled plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ViewDefinition {
    /// The view as `GET /v1/views` lists it.
    #[serde(flatten)]
    pub summary: ViewSummary,
    /// The compiled plan, as the engine writes it (for people and debugging).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub plan: Option<Value>,
}

/// A view's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Window {
    /// Fixed windows of `size_ms`.
    Tumbling {
        /// Window length (ms).
        size_ms: i64,
    },
    /// Windows of `size_ms` starting every `advance_ms`.
    Hopping {
        /// Window length (ms).
        size_ms: i64,
        /// Distance between window starts (ms).
        advance_ms: i64,
    },
    /// Windows of activity that end after a `gap_ms` of silence.
    Session {
        /// Inactivity that closes a session (ms).
        gap_ms: i64,
    },
}

/// A view's counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ViewStats {
    /// Source records read.
    pub records_in: u64,
    /// Records later than the grace period.
    pub late: u64,
    /// Records that did not match the schema.
    pub invalid: u64,
    /// Rows written to the changelog.
    pub emitted: u64,
    /// The watermark (ms); `null` before the first event.
    pub watermark: Option<i64>,
    /// Source records not read yet.
    pub lag: u64,
    /// Checkpoints written.
    pub checkpoints: u64,
}

/// The answer to dropping a view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Dropped {
    /// The view dropped.
    pub dropped: String,
}

/// A view's rows as asked (`GET /v1/views/{view}`, `/keys/{key}`), with where they come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Answer {
    /// The view (or alias) asked.
    pub view: String,
    /// The view (version) that answered.
    pub version: String,
    /// Name and SQL type of each column.
    pub columns: Vec<Column>,
    /// The rows, one object each (NULL fields left out).
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<Map<String, Value>>,
    /// How many rows.
    pub count: u64,
    /// Where they come from.
    pub provenance: Provenance,
}

/// A column of an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its SQL type: `bigint`, `double`, `varchar`, `boolean`, `timestamp`, …
    #[serde(rename = "type")]
    pub data_type: String,
}

/// Where an answer comes from: the layers merged (`batch ⊕ speed` for a Lambda view), the
/// batch view's epoch and horizon, the speed layer's generations, and the view's counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Provenance {
    /// `lambda` (batch view ⊕ speed layer) or `kappa` (speed layer alone).
    pub mode: String,
    /// The layers that contributed: `batch`, `speed`.
    pub layers: Vec<String>,
    /// The batch view merged in.
    pub batch: Option<BatchProvenance>,
    /// The speed layer's part.
    pub speed: SpeedProvenance,
    /// The view's watermark (ms).
    pub watermark: Option<i64>,
    /// Source records not read yet.
    pub lag: u64,
    /// Source records read.
    pub records_in: u64,
    /// Rows written to the changelog.
    pub emitted: u64,
    /// Late records.
    pub late: u64,
    /// Records that did not match the schema.
    pub invalid: u64,
    /// Checkpoints written.
    pub checkpoints: u64,
    /// Why the view failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// The batch view an answer includes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BatchProvenance {
    /// Its epoch.
    pub epoch: u64,
    /// When its run finished (ms since the epoch).
    pub created_at: i64,
    /// Per partition, the offset below which it counts every record.
    pub horizon: Vec<PartitionOffset>,
}

/// The speed layer's part of an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SpeedProvenance {
    /// The generations merged in (a Lambda view only).
    pub generations: Option<Vec<Generation>>,
    /// Source records not read yet.
    pub lag: u64,
    /// The watermark (ms).
    pub watermark: Option<i64>,
}

/// A generation of the speed layer: a partition's segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Generation {
    /// The partition.
    pub partition: u32,
    /// The segment's base offset.
    pub base_offset: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer as strata-serving writes it reads as [`Answer`].
    #[test]
    fn answers_read_as_the_api_type() {
        let body = br#"{"view":"v","version":"v_2","columns":[{"name":"k","type":"varchar"},{"name":"n","type":"bigint"}],"rows":[{"k":"a","n":1}],"count":1,"provenance":{"batch":{"created_at":5,"epoch":2,"horizon":[{"offset":9,"partition":0}]},"checkpoints":1,"emitted":3,"invalid":0,"lag":0,"late":0,"layers":["batch","speed"],"mode":"lambda","records_in":4,"speed":{"generations":[{"base_offset":9,"partition":0}],"lag":0,"watermark":null},"watermark":null}}"#;
        let a: Answer = serde_json::from_slice(body).unwrap();
        assert_eq!(a.columns[1].data_type, "bigint");
        assert_eq!(a.provenance.layers, ["batch", "speed"]);
        assert_eq!(a.provenance.batch.unwrap().horizon[0].offset, 9);
    }
}
