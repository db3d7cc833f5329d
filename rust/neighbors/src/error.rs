//! The error type of the nearest-neighbour engine.

use thiserror::Error;

/// Everything the kd-tree can reject.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum NeighborsError {
    /// A query or build parameter is outside its valid range.
    #[error("{0}")]
    InvalidParameter(String),
    /// Points or queries are unusable (wrong width, non-finite values, ...).
    #[error("{0}")]
    InvalidInput(String),
    /// A result larger than the machine can hold was requested.
    #[error("cannot allocate {0}")]
    OutOfMemory(String),
}

impl From<sapwood_mem::AllocError> for NeighborsError {
    fn from(err: sapwood_mem::AllocError) -> Self {
        Self::OutOfMemory(err.to_string())
    }
}
