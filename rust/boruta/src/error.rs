//! The error type of the Boruta engine.

use thiserror::Error;

/// Everything the Boruta engine can reject.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum BorutaError {
    /// A selection parameter is outside its valid range.
    #[error("{0}")]
    InvalidParameter(String),
    /// The data or importances are unusable.
    #[error("{0}")]
    InvalidInput(String),
    /// A buffer larger than the machine can hold was requested.
    #[error("cannot allocate {0}")]
    OutOfMemory(String),
}

impl From<sapwood_mem::AllocError> for BorutaError {
    fn from(err: sapwood_mem::AllocError) -> Self {
        Self::OutOfMemory(err.to_string())
    }
}
