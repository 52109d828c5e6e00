//! The engine's error type: every failure says what to fix, and where in the SQL.

pub use strata_sql::NameKind;

/// Everything that can go wrong compiling or running a view.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The SQL text does not parse, or uses a construct strata does not support.
    #[error("SQL error at line {line}, column {column}: {message}")]
    Sql {
        /// 1-based line of the offending token (0 when unknown).
        line: u64,
        /// 1-based column (0 when unknown).
        column: u64,
        /// What is wrong and what to write instead.
        message: String,
    },

    /// The statement parses but cannot be planned (unknown column, type mismatch, …).
    #[error("cannot plan the query: {0}")]
    Plan(String),

    /// A name (stream, table, view, column, function, replay) is not known.
    #[error("unknown {kind} {name:?}")]
    Unknown {
        /// What kind of name.
        kind: NameKind,
        /// The name.
        name: String,
    },

    /// Evaluating an expression failed on the data (e.g. a cast that cannot succeed).
    #[error("cannot evaluate an expression: {0}")]
    Eval(String),

    /// An Arrow kernel failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),

    /// The log failed.
    #[error(transparent)]
    Log(#[from] strata_log::Error),

    /// A checkpoint could not be written or read.
    #[error("checkpoint {path}: {message}")]
    Checkpoint {
        /// The checkpoint file.
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
    },

    /// The view was stopped.
    #[error("the view was stopped")]
    Stopped,

    /// The request is valid but the state of the views does not allow it (e.g. dropping the
    /// version an alias serves); the message says what to do first.
    #[error("{0}")]
    Conflict(String),
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A planning error.
    pub fn plan(message: impl Into<String>) -> Self {
        Error::Plan(message.into())
    }
}

/// The SQL front end's errors keep their variant, so a caller matches one enum whichever layer
/// found the mistake (line and column for SQL, 404 for an unknown name, …).
impl From<strata_sql::Error> for Error {
    fn from(e: strata_sql::Error) -> Self {
        match e {
            strata_sql::Error::Sql {
                line,
                column,
                message,
            } => Error::Sql {
                line,
                column,
                message,
            },
            strata_sql::Error::Plan(message) => Error::Plan(message),
            strata_sql::Error::Unknown { kind, name } => Error::Unknown { kind, name },
            strata_sql::Error::Eval(message) => Error::Eval(message),
            strata_sql::Error::Arrow(e) => Error::Arrow(e),
            other => Error::Plan(other.to_string()),
        }
    }
}
