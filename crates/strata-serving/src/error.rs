//! Errors of the serving layer.

/// What can go wrong answering from the merged view.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The engine failed (unknown view, evaluation error).
    #[error(transparent)]
    Engine(#[from] strata_engine::Error),
    /// The view cannot answer right now; retrying later helps.
    #[error("{0}")]
    Unavailable(String),
}

/// Results of the serving layer.
pub type Result<T> = std::result::Result<T, Error>;
