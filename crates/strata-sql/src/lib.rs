//! `strata-sql`: SQL text (ksqlDB and Flink dialects) in, serializable [`ViewPlan`]s out.
//!
//! The crate knows nothing of running views: [`parse`] reads statements against a
//! [`Catalog`] of what exists, types every expression ([`typing`]) so that mistakes surface at
//! `CREATE` time with a line and column, and returns [`plan::Statement`]s. The engine runs the
//! plans; the view manager stores them. The dialect is documented in `docs/sql.md`.
//!
//! Modules, from the bottom up: [`plan`] (the plan as data), [`error`], [`date_format`]
//! (`DATE_FORMAT` patterns), [`types`] (the type rules of operators and values),
//! [`functions`] (the scalar-function registry: names, type rules, kernels, docs),
//! [`typing`] (the type of every expression), `tokens` (sqlparser's
//! tokens, statements and errors with locations), [`catalog`], `window` (the streaming clauses
//! lifted out of a query), `query` (SELECT planning), `topn` (window Top-N), `missing`
//! (errors for what is not supported yet), [`proctime`] (processing time), `pull` (pull or
//! push query), [`commands`] and `statements` (ksqlDB's SHOW, DESCRIBE, PRINT, SET,
//! TERMINATE, EXPLAIN), [`explain`] (a plan as text), [`sink`] (named outputs: `WITH
//! (kafka_topic=…) AS`, `INSERT INTO`), `parser` (statements).

pub mod catalog;
pub mod commands;
pub mod date_format;
pub mod error;
pub mod explain;
mod formats;
pub mod functions;
mod missing;
mod parser;
pub mod plan;
pub mod proctime;
mod pull;
mod query;
mod select;
pub mod sink;
mod statements;
mod tokens;
mod topn;
pub mod types;
pub mod typing;
mod window;

pub use catalog::{Catalog, EmptyCatalog};
pub use error::{Error, NameKind, Result};
pub use parser::{ViewAsSource, parse, parse_with};
pub use plan::ViewPlan;
pub use topn::{is_window_topn, parse_window_topn};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_statements;
