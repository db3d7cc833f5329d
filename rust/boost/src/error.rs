//! The error type of the boosting engine.

use thiserror::Error;

/// Everything the boosting engine can reject.
///
/// Each variant carries a message written for the person who called the library: it names the
/// parameter or the input at fault and what was expected.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum BoostError {
    /// A training parameter is outside its valid range.
    #[error("{name} must be {expected}, got {value}")]
    InvalidParameter {
        name: &'static str,
        expected: &'static str,
        value: String,
    },
    /// Training or prediction data is unusable (wrong shape, non-finite values, ...).
    #[error("{0}")]
    InvalidInput(String),
    /// A parameter or input has the wrong kind (an unknown objective name, say).
    #[error("{0}")]
    UnknownName(String),
    /// A model file or byte string cannot be read.
    #[error("cannot read model: {0}")]
    InvalidModel(String),
    /// A buffer larger than the machine can hold was requested.
    #[error("cannot allocate {0}")]
    OutOfMemory(String),
}

impl BoostError {
    /// Shorthand for [`BoostError::InvalidParameter`].
    pub fn parameter(name: &'static str, expected: &'static str, value: impl ToString) -> Self {
        Self::InvalidParameter {
            name,
            expected,
            value: value.to_string(),
        }
    }
}

impl From<sapwood_mem::AllocError> for BoostError {
    fn from(err: sapwood_mem::AllocError) -> Self {
        Self::OutOfMemory(err.to_string())
    }
}
