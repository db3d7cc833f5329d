//! Boruta all-relevant feature selection: binomial tests, multiple-testing corrections and the
//! selection loop.
//!
//! [`stats`] holds the pure statistics (binomial tails, Benjamini–Hochberg, Bonferroni, the
//! shadow percentile, ranking); [`selection`] the decision process that consumes one importance
//! fit at a time; [`run`] the whole loop over any [`ImportanceSource`].

#![forbid(unsafe_code)]

pub mod error;
pub mod forest;
pub mod run;
pub mod selection;
pub mod stats;

pub use error::BorutaError;
pub use forest::ForestImportance;
pub use run::{run_selection, ImportanceSource, TrainingSet, TreeBudget};
pub use selection::{BorutaParams, BorutaResult, BorutaState, Decision};
