//! Boruta all-relevant feature selection: binomial tests, multiple-testing corrections and the
//! selection loop.

#![forbid(unsafe_code)]

pub mod error;

pub use error::BorutaError;
