//! Errors of the serving layer.

/// What can go wrong answering from the merged view.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The question is malformed (an unknown column, a bad key or range); `code` is a
    /// stable machine-readable name, `message` says what is available.
    #[error("{message}")]
    BadRequest {
        /// Stable error code, e.g. `bad_range`.
        code: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The engine failed (unknown view, evaluation error).
    #[error(transparent)]
    Engine(#[from] strata_engine::Error),
    /// Reading a view's changelog failed.
    #[error(transparent)]
    Log(#[from] strata_log::Error),
    /// The view cannot answer right now; retrying later helps.
    #[error("{0}")]
    Unavailable(String),
}

impl Error {
    /// A malformed question with its code and message.
    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Error::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// An unknown view (or alias).
    pub(crate) fn unknown_view(name: &str) -> Self {
        Error::Engine(strata_engine::Error::Unknown {
            kind: strata_engine::NameKind::View,
            name: name.to_owned(),
        })
    }
}

/// Results of the serving layer.
pub type Result<T> = std::result::Result<T, Error>;
