//! The batch layer's error type: every failure names the file or view it is about and says
//! what to do next.

use std::path::PathBuf;

/// Everything that can go wrong archiving or computing batch views.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O call failed on a file or directory of the lake or the views directory.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// Writing or reading a Parquet file failed.
    #[error("Parquet error on {path}: {source}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The Parquet library's error.
        #[source]
        source: parquet::errors::ParquetError,
    },

    /// A manifest or horizon file cannot be parsed.
    #[error(
        "{path} is unreadable ({reason}); restore it, or move the directory away to rebuild it from the log"
    )]
    Metadata {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// A file the manifest lists is damaged or missing.
    #[error(
        "corrupt lake file {path}: {reason}; delete it and its manifest entry's segment will be re-archived only if the log still holds it"
    )]
    CorruptFile {
        /// The file.
        path: PathBuf,
        /// What check failed.
        reason: String,
    },

    /// Files in the lake that strata did not write (readers that glob the lake would read them).
    #[error(
        "the lake holds files strata did not write (DuckDB, Spark and batch views would read them as data): {}; move them out of the lake",
        .paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    ForeignFiles {
        /// The files.
        paths: Vec<PathBuf>,
    },

    /// The topic's schema differs from the one its lake was written with.
    #[error(
        "the schema of topic {topic:?} changed since it was archived (lake: {archived}; now: {current}); archive it to a new lake directory, or move {topic}'s lake directory away"
    )]
    SchemaChanged {
        /// The topic.
        topic: String,
        /// The schema in the manifest.
        archived: String,
        /// The schema now.
        current: String,
    },

    /// A view the batch layer cannot compute.
    #[error("batch view {view:?}: {reason}")]
    Unsupported {
        /// The view.
        view: String,
        /// Why.
        reason: String,
    },

    /// The log failed.
    #[error(transparent)]
    Log(#[from] strata_log::Error),

    /// The engine failed (planning or evaluating the view).
    #[error(transparent)]
    Engine(#[from] strata_engine::Error),

    /// An Arrow kernel failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}

/// The batch layer's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches a path to I/O errors.
pub(crate) trait IoContext<T> {
    /// The error, with `path`.
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

/// Attaches a path to Parquet errors.
pub(crate) trait ParquetContext<T> {
    /// The error, with `path`.
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> ParquetContext<T> for parquet::errors::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| Error::Parquet {
            path: path.into(),
            source,
        })
    }
}
