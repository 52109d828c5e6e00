//! The arguments of running things on this machine: a node (`serve`), the demo, the data
//! generator (`gen`) and the benchmarks (`bench`).

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::{Output, ServerArgs};

/// `strata serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Directory of the log (created if missing). [default: ./strata-data]
    #[arg(long, env = "STRATA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on, HOST:PORT; port 0 picks a free one. [default: 127.0.0.1:8080]
    #[arg(long, env = "STRATA_HTTP")]
    pub http: Option<String>,
    /// Require "Authorization: Bearer TOKEN" on writes and admin calls, and SASL/PLAIN with
    /// TOKEN as the password (any user name) on every Kafka connection.
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
    /// Also serve the Kafka protocol on HOST:PORT (e.g. 127.0.0.1:9092), so Kafka clients
    /// (kcat, kafka-python, confluent-kafka, …) produce and consume the same topics; `off`
    /// disables. See docs/kafka-api.md. [default: off]
    #[arg(long, env = "STRATA_KAFKA")]
    pub kafka: Option<String>,
    /// Whether Kafka clients create unknown topics by asking for their metadata or producing
    /// to them (Kafka's auto.create.topics.enable). [default: true]
    #[arg(long, env = "STRATA_KAFKA_AUTO_CREATE")]
    pub kafka_auto_create: Option<bool>,
    /// Config file (TOML). [default: ./strata.toml if it exists]
    #[arg(long, env = "STRATA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log filter, e.g. info or strata_server=debug.
    #[arg(long, env = "STRATA_LOG", default_value = "info")]
    pub log: String,
}

/// `strata demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address to listen on, HOST:PORT; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http: String,
    /// Where Kafka clients connect (HOST:PORT; port 0 picks a free one; `off` disables).
    #[arg(long, default_value = "127.0.0.1:9092")]
    pub kafka: String,
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
