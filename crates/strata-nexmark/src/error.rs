//! The crate's one error type.

/// What can go wrong generating or running Nexmark.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NexmarkError {
    /// A setting is out of range.
    #[error("{setting} {reason}")]
    BadSetting {
        /// The setting, as the CLI names it.
        setting: &'static str,
        /// What is wrong and what to write instead.
        reason: String,
    },
    /// No query has this name.
    #[error("unknown Nexmark query {name:?}; choose one of: {choices}")]
    UnknownQuery {
        /// The name given.
        name: String,
        /// The names that exist.
        choices: String,
    },
    /// The engine refused a query or failed running it.
    #[error("query {query}: {source}")]
    Engine {
        /// The query.
        query: String,
        /// What the engine said.
        #[source]
        source: strata_engine::Error,
    },
    /// Arrow failed building or transforming a batch.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// Writing Parquet failed.
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// The log failed.
    #[error("log: {0}")]
    Log(#[from] strata_log::Error),
    /// File I/O failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, NexmarkError>;
