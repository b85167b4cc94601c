//! The library's error type and how each kind maps to an exit code (2 = bad input).

use crate::scenario::ScenarioError;

/// Everything that can go wrong in a capsim command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The scenario (or a fragment) is invalid: located diagnostics.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// A bad argument or input file, described for the user.
    #[error("{0}")]
    Input(String),
    /// Reading or writing files failed.
    #[error("{context}: {source}")]
    Io {
        /// What capsim was doing.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A computation produced something impossible (NaN, infinity): names the input to blame.
    #[error("{0}")]
    Numerical(String),
    /// A bug or an environment problem.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// The process exit code: 2 for anything the user's input caused, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Scenario(_) | Error::Input(_) | Error::Numerical(_) => 2,
            Error::Io { .. } | Error::Internal(_) => 1,
        }
    }

    /// An I/O error with what capsim was doing.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io { context: context.into(), source }
    }
}

/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
