//! A topic: named, configured, and split into a fixed number of partitions.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::batch::EncodedBatch;
use crate::config::TopicConfig;
use crate::error::{Error, IoContext, Result};
// The log and topic level is not model-checked: plain std types.
use crate::fsutil::sync_dir;
use crate::partition::{AppendInfo, Partition};
use crate::partitioner::partition_for_key;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The file in a topic's directory that holds its metadata.
pub(crate) const TOPIC_FILE: &str = "topic.json";

/// What is stored in `topic.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TopicMeta {
    name: String,
    partitions: u32,
    created_at_ms: i64,
    config: TopicConfig,
}

/// A topic and its partitions.
#[derive(Debug)]
pub struct Topic {
    name: String,
    dir: PathBuf,
    config: TopicConfig,
    created_at_ms: i64,
    partitions: Vec<Arc<Partition>>,
    round_robin: AtomicU64,
}

/// Most partitions a topic may have.
pub const MAX_PARTITIONS: u32 = 10_000;

impl Topic {
    /// Creates the topic's directory, metadata and partitions.
    pub(crate) fn create(
        dir: &Path,
        name: &str,
        partitions: u32,
        config: TopicConfig,
        now_ms: i64,
    ) -> Result<Self> {
        if partitions == 0 || partitions > MAX_PARTITIONS {
            return Err(Error::InvalidConfig(format!(
                "partitions must be between 1 and {MAX_PARTITIONS}, not {partitions}"
            )));
        }
        config.validate()?;
        fs::create_dir_all(dir).at(dir)?;
        let meta = TopicMeta {
            name: name.to_owned(),
            partitions,
            created_at_ms: now_ms,
            config,
        };
        #[expect(clippy::unwrap_used, reason = "serializing plain data cannot fail")]
        let json = serde_json::to_vec_pretty(&meta).unwrap();
        crate::fsutil::write_atomically(&dir.join(TOPIC_FILE), &json)?;
        Self::from_meta(dir, meta, true)
    }

    /// Opens an existing topic directory.
    pub(crate) fn open(dir: &Path, clean: bool) -> Result<Self> {
        let path = dir.join(TOPIC_FILE);
        let bytes = fs::read(&path).at(&path)?;
        let meta: TopicMeta =
            serde_json::from_slice(&bytes).map_err(|source| Error::Metadata { path, source })?;
        Self::from_meta(dir, meta, clean)
    }

    fn from_meta(dir: &Path, meta: TopicMeta, clean: bool) -> Result<Self> {
        let partitions = (0..meta.partitions)
            .map(|p| {
                let pdir = dir.join(p.to_string());
                Partition::open(&meta.name, p, &pdir, meta.config.clone(), clean).map(Arc::new)
            })
            .collect::<Result<Vec<_>>>()?;
        sync_dir(dir)?;
        Ok(Topic {
            name: meta.name,
            dir: dir.to_owned(),
            config: meta.config,
            created_at_ms: meta.created_at_ms,
            partitions,
            round_robin: AtomicU64::new(0),
        })
    }

    /// The topic's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The topic's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The topic's configuration.
    pub fn config(&self) -> &TopicConfig {
        &self.config
    }

    /// When the topic was created (ms since the epoch).
    pub fn created_at_ms(&self) -> i64 {
        self.created_at_ms
    }

    /// All partitions, by number.
    pub fn partitions(&self) -> &[Arc<Partition>] {
        &self.partitions
    }

    /// Number of partitions.
    pub fn partition_count(&self) -> u32 {
        self.partitions.len() as u32
    }

    /// One partition.
    ///
    /// # Errors
    /// [`Error::UnknownPartition`] when `p` is not one of the topic's partitions.
    pub fn partition(&self, p: u32) -> Result<&Arc<Partition>> {
        self.partitions
            .get(p as usize)
            .ok_or_else(|| Error::UnknownPartition {
                topic: self.name.clone(),
                partition: p,
                partitions: self.partition_count(),
            })
    }

    /// The partition a record goes to: Kafka's murmur2 of the key, or, for a record without
    /// a key, the next partition in round-robin order (callers keep one choice per batch,
    /// like Kafka's sticky partitioner).
    pub fn choose_partition(&self, key: Option<&[u8]>) -> u32 {
        match key {
            Some(k) => partition_for_key(k, self.partition_count()),
            None => {
                (self.round_robin.fetch_add(1, Ordering::Relaxed)
                    % u64::from(self.partition_count())) as u32
            }
        }
    }

    /// Appends a batch to partition `p`.
    ///
    /// # Errors
    /// As [`Partition::append`], plus [`Error::UnknownPartition`].
    pub fn append(&self, p: u32, batch: EncodedBatch) -> Result<AppendInfo> {
        self.partition(p)?.append(batch)
    }

    /// Closes every partition.
    pub(crate) fn close(&self) -> Result<()> {
        for p in &self.partitions {
            p.close()?;
        }
        Ok(())
    }
}
