//! The one mapping from the core crates' errors to Python exceptions.
//!
//! The orphan rule forbids `From<BoostError> for PyErr`, so every binding function returns
//! [`SapwoodResult`]; `?` turns a core error into a [`SapwoodError`], and PyO3 turns that into
//! the exception below. Messages are the core's, unchanged.
//!
//! | core error                                  | Python exception |
//! |---------------------------------------------|------------------|
//! | invalid parameter, input, name, model file  | `ValueError`     |
//! | out of memory                               | `MemoryError`    |
//! | wrong kind of object (raised here)          | `TypeError`      |

use pyo3::exceptions::{PyMemoryError, PyTypeError, PyValueError};
use pyo3::PyErr;
use sapwood_boost::BoostError;
use sapwood_boruta::BorutaError;
use sapwood_neighbors::NeighborsError;

/// A core error on its way to Python.
#[derive(Debug)]
pub enum SapwoodError {
    /// From the boosting engine.
    Boost(BoostError),
    /// From the nearest-neighbour engine.
    Neighbors(NeighborsError),
    /// From the Boruta engine.
    Boruta(BorutaError),
    /// An argument of the wrong Python type or dtype, detected in the binding itself.
    Type(String),
}

impl SapwoodError {
    /// An array argument whose buffer the core cannot read in place. The facade
    /// (`sapwood._validation.native_array`) copies such arrays before they get here, so this
    /// reaches only direct callers of the native module.
    pub fn layout(what: &str, dtype: &str) -> Self {
        Self::Type(format!(
            "{what} must be a C-contiguous, aligned {dtype} array in native byte order"
        ))
    }
}

/// The result type of every binding function.
pub type SapwoodResult<T> = Result<T, SapwoodError>;

impl From<BoostError> for SapwoodError {
    fn from(err: BoostError) -> Self {
        Self::Boost(err)
    }
}

impl From<NeighborsError> for SapwoodError {
    fn from(err: NeighborsError) -> Self {
        Self::Neighbors(err)
    }
}

impl From<BorutaError> for SapwoodError {
    fn from(err: BorutaError) -> Self {
        Self::Boruta(err)
    }
}

impl From<SapwoodError> for PyErr {
    fn from(err: SapwoodError) -> Self {
        match err {
            SapwoodError::Boost(e @ BoostError::OutOfMemory(_)) => {
                PyMemoryError::new_err(e.to_string())
            }
            SapwoodError::Boost(e) => PyValueError::new_err(e.to_string()),
            SapwoodError::Neighbors(e @ NeighborsError::OutOfMemory(_)) => {
                PyMemoryError::new_err(e.to_string())
            }
            SapwoodError::Neighbors(e) => PyValueError::new_err(e.to_string()),
            SapwoodError::Boruta(e @ BorutaError::OutOfMemory(_)) => {
                PyMemoryError::new_err(e.to_string())
            }
            SapwoodError::Boruta(e) => PyValueError::new_err(e.to_string()),
            SapwoodError::Type(msg) => PyTypeError::new_err(msg),
        }
    }
}
