//! The batch layer: archive runs, batch-view epochs and a run's progress.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::error::ApiError;
use super::records::PartitionOffset;
use super::views::Column;

/// `POST /v1/batch/archive`: each topic's report, and the topics whose run failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Archived {
    /// One report per topic archived.
    pub reports: Vec<ArchiveReport>,
    /// One entry per topic whose run failed (archiving every topic).
    pub errors: Vec<ArchiveFailure>,
}

/// What one topic's archive run wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ArchiveReport {
    /// The topic.
    pub topic: String,
    /// Segments archived.
    pub segments: u64,
    /// Rows written to the lake.
    pub rows: u64,
    /// Records sent to `<topic>-invalid`.
    pub invalid: u64,
    /// Parquet files committed.
    pub files: u64,
    /// Bytes of those files.
    pub bytes: u64,
    /// Records retention deleted before they could be archived.
    pub missed: u64,
    /// Leftovers of an interrupted run that were deleted.
    #[schema(value_type = Vec<String>)]
    pub leftovers_removed: Vec<PathBuf>,
    /// Foreign or corrupt files in the topic's lake directory.
    pub problems: Vec<String>,
    /// Per partition, the offset below which everything is archived.
    pub horizon: Vec<PartitionOffset>,
}

/// A topic whose archive run failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ArchiveFailure {
    /// The topic.
    pub topic: String,
    /// The error's code.
    pub code: String,
    /// What went wrong.
    pub message: String,
}

/// A published batch view (an epoch of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BatchEpoch {
    /// The view.
    pub view: String,
    /// The epoch (1, 2, …).
    pub epoch: u64,
    /// The view's source topic.
    pub topic: String,
    /// Per partition, the offset below which it counts every record.
    pub horizon: Vec<PartitionOffset>,
    /// Rows of the batch view.
    pub rows: u64,
    /// Lake rows it read.
    pub input_rows: u64,
    /// When its run finished (ms since the epoch).
    pub created_at_ms: i64,
}

/// How far a batch run is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BatchProgress {
    /// Files read so far.
    pub files_done: u64,
    /// Files to read.
    pub files_total: u64,
    /// Rows read so far.
    pub rows_read: u64,
    /// Rows to read.
    pub rows_total: u64,
}

/// A line of `POST /v1/views/{view}/batch?progress=true` (NDJSON): progress after each file,
/// then the result or the error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatchRunLine {
    /// `{"progress": …}`.
    Progress(BatchProgress),
    /// `{"result": …}`: the new epoch.
    Result(BatchEpoch),
    /// `{"error": …}`: why the run failed.
    Error(ApiError),
}

/// `GET /v1/views/{view}/batch`: the latest batch view's rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BatchRows {
    /// The epoch.
    pub batch: BatchEpoch,
    /// Name and SQL type of each column.
    pub columns: Vec<Column>,
    /// The rows, one object each.
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<Map<String, Value>>,
    /// How many rows.
    pub count: u64,
}
