//! The manifest of a topic's lake directory (`<lake>/<topic>/_manifest.json`): which offsets
//! of which partition are archived, and which files hold them.
//!
//! The manifest is the commit point of the archiver. Parquet files are written (and fsynced)
//! first, then the manifest is replaced atomically (write-temp + fsync + rename + directory
//! fsync). A file that the manifest does not list is the leftover of a crash: its name is
//! deterministic, so the next run rewrites exactly the same file. Hence every offset lands in
//! exactly one listed file, whatever the crashes.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use strata_engine::plan::{ColumnDef, SourceDef};

use crate::error::{Error, IoContext, Result};
use crate::fsutil::{now_ms, write_atomically};

/// File name of a topic's manifest.
pub const MANIFEST_FILE: &str = "_manifest.json";
/// Current manifest format version.
pub const MANIFEST_VERSION: u32 = 1;

/// How a topic's records become columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Layout {
    /// JSON values decoded with the topic's schema: its columns plus `_partition`, `_offset`,
    /// `_timestamp`, `_key`.
    Schema {
        /// The schema's columns.
        columns: Vec<ColumnDef>,
        /// The event-time column (`None`: the record timestamp).
        timestamp_column: Option<String>,
    },
    /// No schema: `_partition`, `_offset`, `_timestamp`, `_key`, `_value`, `_headers`.
    Raw,
}

impl Layout {
    /// The layout for a topic with this schema (or none).
    pub fn for_source(source: Option<&SourceDef>) -> Self {
        match source {
            Some(s) => Layout::Schema {
                columns: s.columns.clone(),
                timestamp_column: s.timestamp_column.clone(),
            },
            None => Layout::Raw,
        }
    }

    /// A one-line description for error messages.
    pub fn describe(&self) -> String {
        match self {
            Layout::Raw => "raw (no schema)".into(),
            Layout::Schema {
                columns,
                timestamp_column,
            } => {
                let cols: Vec<String> = columns
                    .iter()
                    .map(|c| format!("{} {:?}", c.name, c.data_type))
                    .collect();
                format!(
                    "({}) event time {}",
                    cols.join(", "),
                    timestamp_column.as_deref().unwrap_or("rowtime")
                )
            }
        }
    }
}

/// One Parquet file of the lake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the topic's lake directory (`date=…/hour=…/p0-….parquet`).
    pub path: String,
    /// Rows in the file.
    pub rows: u64,
    /// File size in bytes (a cheap check that the file is the one that was committed).
    pub bytes: u64,
    /// Smallest and largest event time of its rows (ms).
    pub min_time: i64,
    /// Largest event time of its rows (ms).
    pub max_time: i64,
}

/// One archived segment: the offsets `[base_offset, next_offset)` of a partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentEntry {
    /// First offset.
    pub base_offset: u64,
    /// Offset after the last.
    pub next_offset: u64,
    /// Records written to the lake.
    pub rows: u64,
    /// Records that did not match the schema (written to `<topic>-invalid` instead).
    pub invalid: u64,
    /// The files holding its rows, one per event-time hour.
    pub files: Vec<FileEntry>,
}

/// What is archived of one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionManifest {
    /// The partition.
    pub partition: u32,
    /// Every offset below this one that the log still held when it was archived is in the lake
    /// (or in the invalid topic); the batch layer's horizon for this partition. Always a
    /// segment boundary.
    pub archived_to: u64,
    /// Offset ranges `[from, to)` that retention deleted before they could be archived (only
    /// possible when the archiver was not running in Lambda mode).
    #[serde(default)]
    pub missing: Vec<(u64, u64)>,
    /// End offset of partition `partition` of the invalid topic after the last commit; a crash
    /// between appending there and committing here is undone by truncating back to it.
    pub invalid_end: u64,
    /// The archived segments, oldest first.
    pub segments: Vec<SegmentEntry>,
}

impl PartitionManifest {
    fn new(partition: u32) -> Self {
        PartitionManifest {
            partition,
            archived_to: 0,
            missing: Vec::new(),
            invalid_end: 0,
            segments: Vec::new(),
        }
    }

    /// Rows archived to the lake.
    pub fn rows(&self) -> u64 {
        self.segments.iter().map(|s| s.rows).sum()
    }

    /// Records sent to the invalid topic.
    pub fn invalid(&self) -> u64 {
        self.segments.iter().map(|s| s.invalid).sum()
    }
}

/// The manifest of one topic's lake directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version ([`MANIFEST_VERSION`]).
    pub version: u32,
    /// The topic.
    pub topic: String,
    /// How records became columns.
    pub layout: Layout,
    /// Per partition, by partition id.
    pub partitions: Vec<PartitionManifest>,
    /// When it was last committed (ms since the epoch).
    pub updated_at_ms: i64,
}

impl Manifest {
    /// An empty manifest.
    pub fn new(topic: &str, layout: Layout) -> Self {
        Manifest {
            version: MANIFEST_VERSION,
            topic: topic.to_owned(),
            layout,
            partitions: Vec::new(),
            updated_at_ms: 0,
        }
    }

    /// The manifest path of `topic` under `lake`.
    pub fn path(lake: &Path, topic: &str) -> PathBuf {
        lake.join(topic).join(MANIFEST_FILE)
    }

    /// Loads the manifest of `topic`; `None` when the topic was never archived.
    ///
    /// # Errors
    /// [`Error::Metadata`] for an unparsable manifest or an unknown version; I/O errors.
    pub fn load(lake: &Path, topic: &str) -> Result<Option<Manifest>> {
        let path = Self::path(lake, topic);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).at(path),
        };
        let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| Error::Metadata {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if manifest.version != MANIFEST_VERSION {
            return Err(Error::Metadata {
                path,
                reason: format!(
                    "manifest version {} (this strata reads {MANIFEST_VERSION})",
                    manifest.version
                ),
            });
        }
        Ok(Some(manifest))
    }

    /// Commits the manifest atomically (write-temp + fsync + rename + directory fsync).
    ///
    /// # Errors
    /// I/O errors naming the file; on error the previous manifest is intact.
    pub fn commit(&mut self, lake: &Path) -> Result<()> {
        self.updated_at_ms = now_ms();
        let path = Self::path(lake, &self.topic);
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| Error::Metadata {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        write_atomically(&path, &bytes)
    }

    /// The entry of partition `p`, created if missing.
    pub fn partition_mut(&mut self, p: u32) -> &mut PartitionManifest {
        let i = match self.partitions.binary_search_by_key(&p, |x| x.partition) {
            Ok(i) => i,
            Err(i) => {
                self.partitions.insert(i, PartitionManifest::new(p));
                i
            }
        };
        &mut self.partitions[i]
    }

    /// The entry of partition `p`.
    pub fn partition(&self, p: u32) -> Option<&PartitionManifest> {
        self.partitions
            .binary_search_by_key(&p, |x| x.partition)
            .ok()
            .map(|i| &self.partitions[i])
    }

    /// Every listed file, with its partition.
    pub fn files(&self) -> impl Iterator<Item = (u32, &FileEntry)> {
        self.partitions.iter().flat_map(|p| {
            p.segments
                .iter()
                .flat_map(move |s| s.files.iter().map(move |f| (p.partition, f)))
        })
    }

    /// The horizon: per partition, the offset below which everything is archived.
    pub fn horizon(&self) -> Vec<(u32, u64)> {
        self.partitions
            .iter()
            .map(|p| (p.partition, p.archived_to))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_and_load_round_trip_and_a_bad_manifest_is_reported_with_its_path() {
        let lake = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(lake.path().join("t")).expect("mkdir");
        assert!(Manifest::load(lake.path(), "t").expect("load").is_none());
        let mut m = Manifest::new("t", Layout::Raw);
        m.partition_mut(2).archived_to = 10;
        m.partition_mut(0).archived_to = 5;
        m.commit(lake.path()).expect("commit");
        let back = Manifest::load(lake.path(), "t")
            .expect("load")
            .expect("some");
        assert_eq!(back, m);
        assert_eq!(back.horizon(), vec![(0, 5), (2, 10)]);

        std::fs::write(Manifest::path(lake.path(), "t"), b"{not json").expect("write");
        let err = Manifest::load(lake.path(), "t").expect_err("bad");
        assert!(err.to_string().contains("_manifest.json"), "{err}");
    }
}
