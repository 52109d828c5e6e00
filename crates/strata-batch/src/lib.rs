//! `strata-batch`: the Lambda batch layer — the log's sealed segments archived to a Parquet
//! master dataset, and batch views computed from it by the engine's own operator.
//!
//! - [`Archiver`] turns each sealed segment of a topic into Parquet under
//!   `<lake>/<topic>/date=YYYY-MM-DD/hour=HH/` and commits it in the topic's [`Manifest`];
//!   records that do not match the schema go to `<topic>-invalid`. In Lambda mode it holds
//!   the log's retention back until a segment is archived.
//! - [`run_bounded`] runs a view's plan over the lake up to the manifest's horizon with
//!   `Lateness::Ignore`; [`BatchViewStore`] publishes the result as an epoch
//!   (`<views>/<view>/batch-<epoch>/`) with its [`Horizon`] and serves the latest one.
//! - [`Periodic`] runs either on a schedule in the node; [`BatchMetrics`] counts for `/metrics`.
//!
//! The lake layout, the manifest format and the crash protocol are described in
//! `docs/batch.md`.

mod archive;
mod bounded;
mod error;
mod fsutil;
pub mod lake;
mod manifest;
mod metrics;
mod periodic;
mod views;

pub use archive::{
    ArchiveConfig, ArchiveReport, Archiver, REASON_HEADER, SOURCE_OFFSET_HEADER,
    SOURCE_PARTITION_HEADER, TIMESTAMP_COLUMN, invalid_topic, lake_schema, raw_schema,
    schema_for_topic,
};
pub use bounded::{BoundedResult, Progress, engine_schema, run_bounded};
pub use error::{Error, Result};
pub use manifest::{
    FileEntry, Layout, MANIFEST_FILE, MANIFEST_VERSION, Manifest, PartitionManifest, SegmentEntry,
};
pub use metrics::BatchMetrics;
pub use periodic::Periodic;
pub use views::{
    BatchEpoch, BatchViewStore, HORIZON_FILE, Horizon, HorizonPartition, PART_FILE, RunOptions,
};
