//! ksqlDB's commands as data: what `SHOW`, `PRINT`, `SET`, `TERMINATE` and `EXPLAIN` ask
//! for, and the plan of a pull query. They live apart from [`crate::plan`] because they
//! describe one request's session, not a view that runs; the parser that reads them is
//! `statements` (and `pull` for queries).

use serde::{Deserialize, Serialize};

/// What `SHOW …` / `LIST …` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShowKind {
    /// `SHOW STREAMS`: stream sources and the views whose output is a stream.
    Streams,
    /// `SHOW TABLES`: table sources and the views whose output is a table.
    Tables,
    /// `SHOW VIEWS`: every view.
    Views,
    /// `SHOW SOURCES`: every declared stream and table (strata's own; no views).
    Sources,
    /// `SHOW QUERIES`: the running queries (views' and continuous queries').
    Queries,
    /// `SHOW TOPICS`: the log's topics.
    Topics,
}

/// `PRINT topic [FROM BEGINNING] [INTERVAL n] [LIMIT n]`: a topic's raw records, streamed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrintSpec {
    /// The topic, as written (topic names are case-sensitive).
    pub topic: String,
    /// Start at each partition's first record rather than its end.
    pub from_beginning: bool,
    /// Print every n-th record (ksqlDB's `INTERVAL`); 1 prints all.
    pub interval: u64,
    /// End after this many records.
    pub limit: Option<u64>,
}

/// Where a push query started by the session starts reading (`SET 'auto.offset.reset'`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OffsetReset {
    /// Every retained record (strata's default, so a query over history answers at once).
    #[default]
    Earliest,
    /// Only records produced after the query started (ksqlDB's default).
    Latest,
}

/// The session properties `SET` knows, with the values each takes: anything else is refused
/// with this list.
pub const SESSION_PROPERTIES: &[(&str, &[&str])] =
    &[("auto.offset.reset", &["earliest", "latest"])];

/// `TERMINATE …`: which queries to stop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TerminateTarget {
    /// One query, by the id `SHOW QUERIES` gives (case-insensitive).
    Query {
        /// The id.
        id: String,
        /// Where the id is written (line, column), for the error when no query has it.
        at: (u64, u64),
    },
    /// `TERMINATE ALL`: every running query.
    All,
}
