//! The one error type of the log, with the context a user needs to act on a failure.

use std::path::PathBuf;

/// Everything that can go wrong in the log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O call failed on a file or directory of the log.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory the call was about.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// Stored data failed its checks (CRC, framing, offsets): it is never served.
    #[error("corrupt data in {path} at byte {position}: {reason}")]
    Corrupt {
        /// The segment or index file.
        path: PathBuf,
        /// Byte position of the bad batch or entry within that file.
        position: u64,
        /// What check failed.
        reason: String,
    },

    /// A topic or group name breaks the naming rule.
    #[error("invalid {kind} name {name:?}: {reason}")]
    InvalidName {
        /// What was being named ("topic", "group").
        kind: &'static str,
        /// The rejected name.
        name: String,
        /// The rule it breaks.
        reason: &'static str,
    },

    /// A configuration value is out of its valid range.
    #[error("invalid config: {0}")]
    InvalidConfig(String),

    /// A record batch to append has no records.
    #[error("a batch must hold at least one record")]
    EmptyBatch,

    /// A single record exceeds the topic's `max_record_bytes`.
    #[error(
        "record {index} is {size} bytes, over the topic's limit of {limit} bytes (max_record_bytes)"
    )]
    RecordTooLarge {
        /// Position of the record in the batch.
        index: usize,
        /// Its encoded size.
        size: usize,
        /// The topic's limit.
        limit: usize,
    },

    /// A whole batch is larger than a segment may be.
    #[error(
        "a batch of {size} bytes does not fit in a segment of {limit} bytes: send fewer records per request or raise segment_bytes"
    )]
    BatchTooLarge {
        /// The batch's encoded size.
        size: usize,
        /// The topic's `segment_bytes`.
        limit: u64,
    },

    /// A read or seek asked for an offset outside the partition's valid range.
    #[error(
        "offset {offset} is out of range: valid offsets are {start}..={end} (the end offset waits for the next record)"
    )]
    OffsetOutOfRange {
        /// The offset asked for.
        offset: u64,
        /// The log start offset (first retained record).
        start: u64,
        /// The log end offset (next offset to be written).
        end: u64,
    },

    /// A truncation point that is not the first offset of a batch.
    #[error(
        "cannot truncate at offset {offset}: it is inside a record batch; truncate at a batch boundary"
    )]
    NotBatchBoundary {
        /// The offset asked for.
        offset: u64,
    },

    /// The topic does not exist.
    #[error("topic {0:?} does not exist")]
    UnknownTopic(String),

    /// The topic exists already.
    #[error("topic {0:?} already exists")]
    TopicExists(String),

    /// The partition number is not one of the topic's partitions.
    #[error("topic {topic:?} has partitions 0..{partitions}, not {partition}")]
    UnknownPartition {
        /// The topic.
        topic: String,
        /// The partition asked for.
        partition: u32,
        /// How many partitions the topic has.
        partitions: u32,
    },

    /// The consumer group does not exist.
    #[error("consumer group {0:?} does not exist")]
    UnknownGroup(String),

    /// The log (or the partition) has been closed.
    #[error("the log is closed")]
    Closed,

    /// An earlier fsync of the partition failed. The kernel may have dropped the dirty pages
    /// it could not write, so a retried fsync could succeed without the data being on disk:
    /// the partition refuses to promise durability until the log is reopened (and recovery
    /// checks what is really there).
    #[error(
        "an earlier fsync of {path} failed ({reason}); records written since may not be durable: check the disk, then restart the node so that recovery can verify the partition"
    )]
    SyncFailed {
        /// The file whose fsync failed.
        path: PathBuf,
        /// The operating system's error, as text.
        reason: String,
    },

    /// The partition was truncated while an append waited to become durable: its records
    /// from `offset` on are gone and must not be acknowledged.
    #[error(
        "the partition was truncated to offset {offset} before the append became durable: its records were removed, send them again if they are still wanted"
    )]
    Truncated {
        /// The partition's end after the truncation.
        offset: u64,
    },

    /// A metadata file could not be parsed.
    #[error("cannot parse {path}: {source}")]
    Metadata {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
}

/// The log's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches a path to an `io::Error`, so every I/O failure names its file.
pub(crate) trait IoContext<T> {
    /// Wraps the error in [`Error::Io`] with `path`.
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| Error::Io {
            path: path.into(),
            source,
        })
    }
}
