//! The command line: every command's arguments, apart from the code that runs them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// strata: a stream-processing platform in one binary.
///
/// Start a node with `strata serve`, then create topics, produce and consume with the other
/// commands, which talk to the node over HTTP (--server, default http://127.0.0.1:8080).
/// Declare streams and views with `strata sql` and read views with `strata query`.
#[derive(Debug, Parser)]
#[command(
    name = "strata",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a node: the log and its HTTP API.
    ///
    /// Settings come from flags, then STRATA_* environment variables, then strata.toml (or
    /// --config), then defaults. Stop it with Ctrl-C or SIGTERM: it flushes the log and
    /// marks the shutdown clean.
    Serve(ServeArgs),
    /// Create, list, describe and delete topics.
    #[command(subcommand)]
    Topic(TopicCommand),
    /// Send records to a topic from stdin, a file, or TCP clients.
    ///
    /// Examples:
    ///   echo '{"user":"ann","clicks":3}' | strata produce clicks --key-field user
    ///   strata produce logs --format lines --file app.log
    ///   strata produce lines --listen 127.0.0.1:9999   # then: nc 127.0.0.1 9999
    #[command(verbatim_doc_comment)]
    Produce(ProduceArgs),
    /// Read records from a topic and print them.
    ///
    /// Without --follow it prints what is there (from the beginning, unless --offset or
    /// --from-time say otherwise) and exits. With --follow it keeps printing new records,
    /// starting at the end unless --from-beginning, --offset or --from-time is given.
    /// With --group it reads from the group's committed offsets and commits after printing.
    ///
    /// Examples:
    ///   strata consume clicks --max 10
    ///   strata consume clicks --follow --output json
    ///   strata consume clicks --from-time -15m
    ///   strata consume clicks --group dashboard --follow
    #[command(verbatim_doc_comment)]
    Consume(ConsumeArgs),
    /// Inspect and reset consumer groups.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Run SQL: declare streams and tables, create views, or run a continuous query.
    ///
    /// Statements are separated by `;` (docs/sql.md describes the dialect). A text ending in
    /// a bare SELECT prints its result rows, one JSON object per line, as they are produced,
    /// until Ctrl-C or --limit; anything else prints what each statement did.
    ///
    /// Examples:
    ///   strata sql "CREATE STREAM page_views (viewtime BIGINT, userid VARCHAR, pageid VARCHAR)
    ///               WITH (kafka_topic='page_views', value_format='JSON')"
    ///   strata sql -f views.sql
    ///   strata sql "SELECT pageid, COUNT(*) AS n FROM page_views GROUP BY pageid" --limit 10
    #[command(verbatim_doc_comment)]
    Sql(SqlArgs),
    /// List, describe and drop views.
    #[command(subcommand)]
    View(ViewCommand),
    /// Print a view's current rows: all, one key's, a time range, or the top N by a column.
    ///
    /// Examples:
    ///   strata query page_view_counts
    ///   strata query page_view_counts --key home --from -1h
    ///   strata query page_view_counts --top 10 --by view_count
    ///   strata query order_totals --from 2024-05-01T00:00:00Z --to 2024-05-02T00:00:00Z --output json
    #[command(verbatim_doc_comment)]
    Query(QueryArgs),
    /// The batch layer: archive topics into the Parquet lake and recompute batch views.
    ///
    /// The node archives continuously and recomputes batch views on a schedule (see
    /// `strata serve --archive-interval --batch-interval`); these commands do it now.
    ///
    /// Examples:
    ///   strata batch archive               # every topic
    ///   strata batch archive orders
    ///   strata batch run order_totals      # then: curl $STRATA_SERVER/v1/views/order_totals/batch
    #[command(subcommand, verbatim_doc_comment)]
    Batch(BatchCommand),
    /// Replay history (Kappa): rebuild a view into a new version, or copy a topic.
    ///
    /// Examples:
    ///   strata replay view totals --sql "SELECT ... WINDOW TUMBLING (SIZE 5 MINUTES) ..."
    ///   strata replay view totals --from-time -24h --as totals_fixed --promote manual
    ///   strata replay topic orders --to orders_2024 --from-time 2024-01-01T00:00:00Z --where "amount > 100"
    ///   strata replay list
    #[command(subcommand, verbatim_doc_comment)]
    Replay(ReplayCommand),
    /// Measure the platform on this machine (build with --release first).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Generate a realistic, deterministic dataset into a topic or a file.
    ///
    /// Datasets: clickstream, transactions, metrics, text, profiles, sensor, pageviews,
    /// orders (crates/strata-gen describes each). The same --seed gives the same events.
    /// nexmark: the Nexmark benchmark's persons, auctions and bids into topics person,
    /// auction, bid (`--topic nexmark`; another --topic is a prefix), --rate events/s.
    /// Events carry their event time in a field (ts, viewtime, order_time, updated_at) and
    /// as the record timestamp; --out-of-order-ms and --late-fraction shuffle their arrival.
    ///
    /// Examples:
    ///   strata gen transactions --events 10000 --seed 7 --topic transactions
    ///   strata gen text --events 100 --seed 1 --out lines.txt
    ///   strata gen clickstream --events 500 --seed 3 --out-of-order-ms 5000 --late-fraction 0.02 --out -
    ///   strata gen metrics --events 1000000 --rate 50 --start now --live --topic metrics
    ///   strata gen nexmark --events 100000 --seed 1 --rate 10000 --topic nexmark
    #[command(verbatim_doc_comment)]
    Gen(GenArgs),
    /// Start a node with demo data flowing through a few views, and print what to query.
    ///
    /// Live payments and clicks (strata gen) feed sales per category, fraud alerts, page
    /// views per minute and user sessions. The data lives in a temporary directory unless
    /// --data-dir says otherwise. Ctrl-C stops it.
    ///
    /// Example: cargo run --release -- demo
    #[command(verbatim_doc_comment)]
    Demo(DemoArgs),
}

/// `strata demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address to listen on, HOST:PORT; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http: String,
    /// Data directory. [default: a new directory under the system's temporary directory]
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Events per second of each demo stream.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Seed of the demo data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Log filter of the node.
    #[arg(long, default_value = "warn")]
    pub log: String,
}

/// How `strata gen --out` writes events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum GenFormat {
    /// One value per line: the JSON object (the text dataset: the line of text), for
    /// `strata produce FILE` (add --timestamp-field to keep event time as the record time).
    #[default]
    Values,
    /// One record object per line (key, value, timestamp), for `strata produce --format records`.
    Records,
}

/// `strata gen`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("sink").required(true).args(["topic", "out"])))]
pub struct GenArgs {
    /// Dataset: clickstream, transactions, metrics, text, profiles, sensor, pageviews, orders,
    /// nexmark.
    pub dataset: String,
    /// How many events.
    #[arg(long)]
    pub events: u64,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Events per second of event time (the mean; metrics and sensor report at this cadence).
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    /// Event time of the first event: RFC 3339, ms, `now` or relative (-1h).
    #[arg(
        long,
        default_value = "2024-05-01T00:00:00Z",
        allow_hyphen_values = true
    )]
    pub start: String,
    /// Delay each event's arrival by up to this many ms: events arrive out of order by at
    /// most this much.
    #[arg(long, default_value_t = 0)]
    pub out_of_order_ms: u64,
    /// Fraction (0-1) of events delayed 1-10 minutes beyond --out-of-order-ms: late ones.
    #[arg(long, default_value_t = 0.0)]
    pub late_fraction: f64,
    /// How many users, cards, hosts or sensors. [default: the dataset's]
    #[arg(long)]
    pub keys: Option<u32>,
    /// Produce to this topic (created with --partitions if missing).
    #[arg(long)]
    pub topic: Option<String>,
    /// Partitions of the topic when gen creates it.
    #[arg(long, default_value_t = 1, requires = "topic")]
    pub partitions: u32,
    /// Send events as their (event) time comes, in real time, instead of as fast as possible.
    #[arg(long, requires = "topic")]
    pub live: bool,
    /// Write to this file (`-` for stdout) instead of a topic.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// What --out writes.
    #[arg(long, value_enum, default_value_t, requires = "out")]
    pub format: GenFormat,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `strata bench ...`.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Produce, consume and latency over HTTP on loopback, each beside a baseline measured
    /// in the same run (the log in-process for throughput, GET /health for latency).
    ///
    /// It starts its own node (this binary, `serve`) in a temporary directory.
    /// Example: cargo build --release && target/release/strata bench http
    #[command(verbatim_doc_comment)]
    Http(BenchHttpArgs),
    /// Nexmark (benches/nexmark/*.sql) over the Nexmark generator's events, on one core:
    /// events/s, events/s per core and p99 latency from ingestion to emit, beside Flink
    /// 1.13's published per-core figures and strata's targets.
    ///
    /// In-process (default): Arrow batches straight into the operator. --from-log: the
    /// events as JSON in the topics person, auction, bid of a temporary log, read, decoded
    /// and processed. Events are generated before the clock starts.
    /// Examples:
    ///   cargo build --release
    ///   target/release/strata bench nexmark --query q5 --events 20000000
    ///   target/release/strata bench nexmark --all --events 10000000 --from-log
    #[command(verbatim_doc_comment)]
    Nexmark(BenchNexmarkArgs),
}

/// `strata bench nexmark`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["query", "all"])))]
pub struct BenchNexmarkArgs {
    /// The query: q0, q1, q2, q3, q4, q5, q7, q8, q11, q13, q14, q15, q16, q17, q20, q21, q22.
    #[arg(long)]
    pub query: Option<String>,
    /// Run every query and print a table.
    #[arg(long)]
    pub all: bool,
    /// Events to generate (persons, auctions and bids together).
    #[arg(long, default_value_t = 10_000_000)]
    pub events: u64,
    /// Read JSON records from a log instead of taking Arrow batches from the generator.
    #[arg(long)]
    pub from_log: bool,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Events per second of event time (sets how many windows the events span).
    #[arg(long, default_value_t = 1_000_000.0)]
    pub rate: f64,
    /// Events per in-process micro-batch (a log micro-batch is 8192 records of one topic).
    #[arg(long, default_value_t = 32_768)]
    pub chunk: usize,
    /// Repetitions of each query; the median is shown.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

/// `strata bench http`.
#[derive(Debug, Args)]
pub struct BenchHttpArgs {
    /// Concurrent producing / consuming clients.
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Records per produce request.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Bytes of each record's JSON value.
    #[arg(long, default_value_t = 100)]
    pub record_bytes: usize,
    /// Seconds per measured run.
    #[arg(long, default_value_t = 2.0)]
    pub seconds: f64,
    /// Runs per measurement; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Requests per second of the single-record latency test.
    #[arg(long, default_value_t = 5000)]
    pub rate: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

/// Where the node is, for the client commands.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// URL of the node.
    #[arg(long, env = "STRATA_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// Bearer token, when the node was started with --auth-token.
    #[arg(long, env = "STRATA_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
}

/// How the client commands print results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Output {
    /// Aligned columns for people.
    #[default]
    Table,
    /// JSON for scripts.
    Json,
}

/// `strata serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Directory of the log (created if missing). [default: ./strata-data]
    #[arg(long, env = "STRATA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on, HOST:PORT; port 0 picks a free one. [default: 127.0.0.1:8080]
    #[arg(long, env = "STRATA_HTTP")]
    pub http: Option<String>,
    /// Require "Authorization: Bearer TOKEN" on writes and admin calls.
    #[arg(long, env = "STRATA_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// Largest request body, e.g. 16MiB. Larger requests get HTTP 413. [default: 16MiB]
    #[arg(long, env = "STRATA_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<String>,
    /// Forget a consumer group's delivery positions after this long without a fetch,
    /// e.g. 30s. [default: 30s]
    #[arg(long, env = "STRATA_GROUP_SESSION_TIMEOUT")]
    pub group_session_timeout: Option<String>,
    /// How long shutdown waits for open requests, e.g. 10s. [default: 10s]
    #[arg(long, env = "STRATA_SHUTDOWN_TIMEOUT")]
    pub shutdown_timeout: Option<String>,
    /// How often each SQL view checkpoints its state, e.g. 5s. After a crash a view redoes
    /// the work since its last checkpoint. [default: 5s]
    #[arg(long, env = "STRATA_CHECKPOINT_INTERVAL")]
    pub checkpoint_interval: Option<String>,
    /// How often the archiver copies sealed log segments into the Parquet lake
    /// (<data-dir>/lake), e.g. 60s. In Lambda mode retention waits for it. [default: 60s]
    #[arg(long, env = "STRATA_ARCHIVE_INTERVAL")]
    pub archive_interval: Option<String>,
    /// How often every view's batch view is recomputed from the lake, e.g. 10m; 0 turns the
    /// schedule off (`strata batch run` still works). [default: 10m]
    #[arg(long, env = "STRATA_BATCH_INTERVAL")]
    pub batch_interval: Option<String>,
    /// Config file (TOML). [default: ./strata.toml if it exists]
    #[arg(long, env = "STRATA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log filter, e.g. info or strata_server=debug.
    #[arg(long, env = "STRATA_LOG", default_value = "info")]
    pub log: String,
}

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

/// List commands.
#[derive(Debug, Args)]
pub struct ListArgs {
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
