//! The arguments of the log's commands: `topic`, `produce`, `consume` and `group`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::{ListArgs, Output, ServerArgs};

/// `strata topic ...`.
#[derive(Debug, Subcommand)]
pub enum TopicCommand {
    /// Create a topic.
    ///
    /// Example: strata topic create orders --partitions 3 --retention 7d --durability always
    Create(TopicCreateArgs),
    /// List topics with their partition counts, records and sizes.
    List(ListArgs),
    /// Show a topic's config and each partition's offsets and size.
    Describe(TopicNameArgs),
    /// Delete a topic, its records and the groups' offsets for it.
    Delete(TopicNameArgs),
}

/// `strata topic create`.
#[derive(Debug, Args)]
pub struct TopicCreateArgs {
    /// Topic name: 1-249 of A-Z a-z 0-9 . _ -
    pub name: String,
    /// Number of partitions.
    #[arg(long, short, default_value_t = 1)]
    pub partitions: u32,
    /// Delete segments older than this, e.g. 7d. [default: keep forever]
    #[arg(long)]
    pub retention: Option<String>,
    /// Delete the oldest segments while a partition is larger than this, e.g. 10GiB.
    #[arg(long)]
    pub retention_bytes: Option<String>,
    /// When appends are fsynced: always (before acknowledging), interval, or never.
    #[arg(long)]
    pub durability: Option<String>,
    /// Period of background fsyncs under --durability interval, e.g. 1s.
    #[arg(long)]
    pub flush_interval: Option<String>,
    /// Roll segments at this size, e.g. 256MiB.
    #[arg(long)]
    pub segment_bytes: Option<String>,
    /// Roll segments at this age, e.g. 10m.
    #[arg(long)]
    pub segment_age: Option<String>,
    /// Largest record accepted, e.g. 1MiB.
    #[arg(long)]
    pub max_record_bytes: Option<String>,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

/// Commands that only name a topic.
#[derive(Debug, Args)]
pub struct TopicNameArgs {
    /// Topic name.
    pub name: String,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

/// How `strata produce` reads its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// One JSON value per line; it becomes the record's value.
    Ndjson,
    /// One line of text per record, stored as-is.
    Lines,
    /// One record object per line, as the HTTP API takes them:
    /// {"key": .., "value": .., "headers": {..}, "timestamp": .., "partition": ..}
    Records,
}

/// `strata produce`.
#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// Topic to produce to.
    pub topic: String,
    /// Read from this file instead of stdin (shows a progress bar on a terminal).
    #[arg(long, short, conflicts_with = "listen")]
    pub file: Option<PathBuf>,
    /// Input format.
    #[arg(long, value_enum, default_value = "ndjson")]
    pub format: InputFormat,
    /// Key every record with this string.
    #[arg(long, conflicts_with = "key_field")]
    pub key: Option<String>,
    /// Take each record's key from this field of its JSON value (ndjson format).
    #[arg(long)]
    pub key_field: Option<String>,
    /// Take each record's timestamp (ms or RFC 3339) from this field of its JSON value.
    #[arg(long)]
    pub timestamp_field: Option<String>,
    /// Send every record to this partition (default: by key, or spread when unkeyed).
    #[arg(long)]
    pub partition: Option<u32>,
    /// Most records per request.
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
    /// Send a partial batch after this long without new input, e.g. 100ms.
    #[arg(long, default_value = "50ms")]
    pub linger: String,
    /// Accept text lines from TCP clients on HOST:PORT (e.g. nc) and produce each line as
    /// a record, until Ctrl-C.
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Output format of the summary.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

/// How `strata consume` prints records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RecordOutput {
    /// The value only, one per line (JSON values as JSON, text as text, bytes as base64).
    Value,
    /// One JSON object per record, with partition, offset, timestamp, key, value, headers.
    Json,
}

/// `strata consume`.
#[derive(Debug, Args)]
pub struct ConsumeArgs {
    /// Topic to read.
    pub topic: String,
    /// Start at the first retained record (the default without --follow).
    #[arg(long, conflicts_with_all = ["offset", "from_time"])]
    pub from_beginning: bool,
    /// Start at this offset (in every partition read; pair it with --partition).
    #[arg(long, conflicts_with = "from_time")]
    pub offset: Option<u64>,
    /// Start at the first record at or after this time: RFC 3339, ms, or relative (-1h).
    #[arg(long, allow_hyphen_values = true)]
    pub from_time: Option<String>,
    /// Read only this partition.
    #[arg(long)]
    pub partition: Option<u32>,
    /// Read as this consumer group: start at its committed offsets, commit after printing.
    #[arg(long, conflicts_with_all = ["offset", "from_time", "from_beginning"])]
    pub group: Option<String>,
    /// Keep waiting for new records until Ctrl-C (or --max).
    #[arg(long)]
    pub follow: bool,
    /// Stop after this many records.
    #[arg(long)]
    pub max: Option<u64>,
    /// What to print per record.
    #[arg(long, value_enum, default_value = "value")]
    pub output: RecordOutput,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `strata group ...`.
#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// List consumer groups with their total lag.
    List(ListArgs),
    /// Show a group's committed offset and lag per partition.
    Describe(GroupNameArgs),
    /// Move a group's committed offsets on a topic.
    ///
    /// Example: strata group reset dashboard --topic clicks --to-time -1h
    Reset(GroupResetArgs),
    /// Delete a group and its committed offsets.
    Delete(GroupNameArgs),
}

/// Commands that only name a group.
#[derive(Debug, Args)]
pub struct GroupNameArgs {
    /// Group name.
    pub group: String,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

/// `strata group reset`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("to").required(true).args(["to_earliest", "to_latest", "to_offset", "to_time"])))]
pub struct GroupResetArgs {
    /// Group name.
    pub group: String,
    /// Topic whose offsets to move.
    #[arg(long)]
    pub topic: String,
    /// Only this partition (default: all).
    #[arg(long)]
    pub partition: Option<u32>,
    /// To the first retained record.
    #[arg(long)]
    pub to_earliest: bool,
    /// To the end (skip everything there now).
    #[arg(long)]
    pub to_latest: bool,
    /// To this offset.
    #[arg(long)]
    pub to_offset: Option<u64>,
    /// To the first record at or after this time: RFC 3339, ms, or relative (-1h).
    #[arg(long, allow_hyphen_values = true)]
    pub to_time: Option<String>,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}
