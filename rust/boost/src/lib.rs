//! Gradient-boosted decision trees with XGBoost's semantics.
//!
//! The crate is pure Rust: it knows nothing of Python. Training parameters live in [`param`],
//! and every fallible entry point returns [`BoostError`].

#![forbid(unsafe_code)]

pub mod error;
pub mod hist;
pub mod param;

pub use error::BoostError;
pub use param::TreeParams;
