//! The one error type of the generators: a configuration that cannot produce data.

/// What can be wrong with a generator's configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenError {
    /// No dataset has this name.
    #[error("unknown dataset {name:?}; choose one of: {choices}")]
    UnknownDataset {
        /// The name given.
        name: String,
        /// The names that exist, comma-separated.
        choices: String,
    },
    /// A setting is out of range.
    #[error("{setting} {reason}")]
    BadSetting {
        /// The setting, as the CLI names it (e.g. `--rate`).
        setting: &'static str,
        /// What is wrong and what to write instead.
        reason: String,
    },
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, GenError>;
