//! The command line: every command's arguments, apart from the code that runs them — the
//! commands themselves here, their arguments by area in `node` (serve, demo, gen, bench),
//! `log` (topic, produce, consume, group) and `views` (sql, view, query, replay, batch).

use clap::{Args, Parser, Subcommand, ValueEnum};

mod log;
mod node;
mod views;

pub use log::*;
pub use node::*;
pub use views::*;

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

/// List commands.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}
