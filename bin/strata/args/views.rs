//! The arguments of the views' commands: `sql`, `view`, `query`, `replay` and `batch`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::{ListArgs, Output, ServerArgs};

/// `strata sql`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("text").required(true).args(["sql", "file"])))]
pub struct SqlArgs {
    /// The SQL text (one or more statements separated by `;`).
    pub sql: Option<String>,
    /// Read the SQL from this file (`-` for stdin).
    #[arg(long, short)]
    pub file: Option<PathBuf>,
    /// Stop a continuous query (bare SELECT) after this many rows.
    #[arg(long)]
    pub limit: Option<u64>,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Output format of what the statements did (query rows are always JSON lines).
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

/// `strata view ...`.
#[derive(Debug, Subcommand)]
pub enum ViewCommand {
    /// List views with their source, window, emission and counters.
    List(ListArgs),
    /// Show a view's definition, columns, status and counters.
    Describe(ViewNameArgs),
    /// Stop a view and delete its state and its output topics (<view>-changelog, <view>-late).
    /// Dropping an alias drops all its versions.
    Drop(ViewNameArgs),
    /// List a view's versions (made by `strata replay view`) and which one answers for it.
    Versions(ViewNameArgs),
    /// Make VERSION the one answering for VIEW, at once. Promoting an older version back is
    /// an instant rollback: old versions keep running until dropped.
    ///
    /// Example: strata view promote totals totals_v2   (or: 2, v2)
    Promote(ViewVersionArgs),
    /// Stop and delete one version of VIEW (not the current one), with its state and topics.
    ///
    /// Example: strata view drop-version totals 1
    DropVersion(ViewVersionArgs),
}

/// Commands that name a view and one of its versions.
#[derive(Debug, Args)]
pub struct ViewVersionArgs {
    /// The view (alias) name.
    pub view: String,
    /// The version: its view name (totals_v2), number (2) or v2.
    #[arg(value_name = "VERSION")]
    pub which: String,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

/// Commands that only name a view.
#[derive(Debug, Args)]
pub struct ViewNameArgs {
    /// View name.
    pub name: String,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

/// `strata query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// View name.
    pub view: String,
    /// Only the rows of this group key (several key columns: a,b or a JSON array).
    #[arg(long)]
    pub key: Option<String>,
    /// Only windows starting at or after this time: RFC 3339, ms, or relative (-1h).
    #[arg(long, allow_hyphen_values = true)]
    pub from: Option<String>,
    /// Only windows starting before this time: RFC 3339, ms, or relative (-5m).
    #[arg(long, allow_hyphen_values = true)]
    pub to: Option<String>,
    /// The N rows with the largest --by values.
    #[arg(long, requires = "by", value_name = "N")]
    pub top: Option<u64>,
    /// The column (usually an aggregate) --top ranks by.
    #[arg(
        long,
        requires = "top",
        value_name = "COLUMN",
        conflicts_with = "order_by"
    )]
    pub by: Option<String>,
    /// Sort by this column (ascending unless --desc).
    #[arg(long)]
    pub order_by: Option<String>,
    /// Sort in descending order.
    #[arg(long)]
    pub desc: bool,
    /// Print at most this many rows.
    #[arg(long, conflicts_with = "top")]
    pub limit: Option<u64>,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

/// `strata replay ...`.
#[derive(Debug, Subcommand)]
pub enum ReplayCommand {
    /// Rebuild VIEW from the log into a new version, at full speed, then keep it live.
    ///
    /// The new version reads from the start position (default: the beginning), then goes on
    /// with new records from exactly the next offset. It becomes the one answering for VIEW
    /// when it has read all the history and its lag is under --promote-when-lag-under (or
    /// on `strata view promote`, with --promote manual). The old version keeps running until
    /// `strata view drop-version`. Shows progress until the new version is promoted or has
    /// caught up (Ctrl-C leaves the replay running; --detach returns at once).
    #[command(verbatim_doc_comment)]
    View(ReplayViewArgs),
    /// Copy (or filter) a topic's history into another topic, with exact counts at the end.
    ///
    /// Copies the records in SRC when the command starts, from --from-time and before
    /// --to-time, that match --where (a SQL predicate over the columns of the stream declared
    /// on SRC). DST is created with SRC's partition count when missing. Resumable: a node
    /// restart continues where it stopped, with no record copied twice.
    #[command(verbatim_doc_comment)]
    Topic(ReplayTopicArgs),
    /// List replays with their progress.
    List(ListArgs),
    /// Show one replay's progress (records/s, percent, ETA, counts).
    Status(ReplayIdArgs),
    /// Cancel a replay: a view replay's unpromoted version is dropped; a topic replay stops.
    Cancel(ReplayIdArgs),
}

/// `strata replay view`.
#[derive(Debug, Args)]
pub struct ReplayViewArgs {
    /// The view (alias) to rebuild.
    pub view: String,
    /// Start at each partition's first retained record (the default).
    #[arg(long, conflicts_with_all = ["from_offset", "from_time"])]
    pub from_beginning: bool,
    /// Start at these offsets, PARTITION:OFFSET,… (partitions not named start at the beginning).
    #[arg(long, value_name = "P:O,...", conflicts_with = "from_time")]
    pub from_offset: Option<String>,
    /// Start at the first record at or after this time: RFC 3339, ms, or relative (-24h).
    #[arg(long, allow_hyphen_values = true)]
    pub from_time: Option<String>,
    /// A new definition: one SELECT over a declared stream (default: the current one's).
    #[arg(long)]
    pub sql: Option<String>,
    /// Name of the new version. [default: VIEW_v<N>]
    #[arg(long = "as", value_name = "NAME")]
    pub name: Option<String>,
    /// Promote automatically when the lag is under this many records.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub promote_when_lag_under: u64,
    /// auto: promote when caught up (see --promote-when-lag-under); manual: on
    /// `strata view promote` only.
    #[arg(long, value_enum, default_value_t)]
    pub promote: PromoteMode,
    /// Start the replay and return without waiting.
    #[arg(long)]
    pub detach: bool,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

/// When a replayed version is promoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum PromoteMode {
    /// When it has caught up and its lag is under the bound.
    #[default]
    Auto,
    /// On `strata view promote` only.
    Manual,
}

/// `strata replay topic`.
#[derive(Debug, Args)]
pub struct ReplayTopicArgs {
    /// The source topic.
    pub source: String,
    /// The destination topic.
    #[arg(long)]
    pub to: String,
    /// Only records at or after this time: RFC 3339, ms, or relative (-24h).
    #[arg(long, allow_hyphen_values = true)]
    pub from_time: Option<String>,
    /// Only records before this time: RFC 3339, ms, or relative (-1h).
    #[arg(long, allow_hyphen_values = true)]
    pub to_time: Option<String>,
    /// Only records matching this SQL predicate, e.g. "amount > 100 AND region = 'eu'".
    #[arg(long = "where", value_name = "PREDICATE")]
    pub predicate: Option<String>,
    /// Start the copy and return without waiting.
    #[arg(long)]
    pub detach: bool,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

/// Commands that name a replay.
#[derive(Debug, Args)]
pub struct ReplayIdArgs {
    /// The replay's id (`strata replay list`).
    pub id: u64,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

/// `strata batch ...`.
#[derive(Debug, Subcommand)]
pub enum BatchCommand {
    /// Archive the sealed segments of a topic (or of every topic) into the lake now, and
    /// print what was written. The active segment of each partition is archived once it
    /// rolls (segment_bytes / segment_ms of the topic).
    Archive(BatchArchiveArgs),
    /// Recompute a view's batch view from the lake now, with a progress bar, and print its
    /// epoch, horizon and row count. Archive the view's source topic first.
    Run(BatchRunArgs),
}

/// `strata batch archive`.
#[derive(Debug, Args)]
pub struct BatchArchiveArgs {
    /// Topic to archive. [default: every topic but views' changelogs]
    pub topic: Option<String>,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

/// `strata batch run`.
#[derive(Debug, Args)]
pub struct BatchRunArgs {
    /// View name.
    pub view: String,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}
