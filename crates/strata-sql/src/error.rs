//! The SQL front end's error type: every failure says what to fix, and where in the SQL.

/// What kind of name was not found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NameKind {
    /// A stream, table or view (anything a statement can read or drop).
    Relation,
    /// A stream.
    Stream,
    /// A table.
    Table,
    /// A view (or an alias of view versions).
    View,
    /// A column of a schema.
    Column,
    /// A scalar or aggregate function.
    Function,
    /// A replay job.
    Replay,
}

impl std::fmt::Display for NameKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NameKind::Relation => "stream, table or view",
            NameKind::Stream => "stream",
            NameKind::Table => "table",
            NameKind::View => "view",
            NameKind::Column => "column",
            NameKind::Function => "function",
            NameKind::Replay => "replay",
        })
    }
}

/// Everything that can go wrong reading and planning SQL, and evaluating its scalar functions
/// (their kernels live with their type rules, in the `functions` registry).
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

    /// A name (stream, table, view, column, function) is not known.
    #[error("unknown {kind} {name:?}")]
    Unknown {
        /// What kind of name.
        kind: NameKind,
        /// The name.
        name: String,
    },

    /// A scalar function failed on the data (e.g. a time chrono cannot format).
    #[error("cannot evaluate an expression: {0}")]
    Eval(String),

    /// An Arrow kernel failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}

/// The SQL front end's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A planning error.
    pub fn plan(message: impl Into<String>) -> Self {
        Error::Plan(message.into())
    }
}
