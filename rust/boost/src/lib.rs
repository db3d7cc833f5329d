//! Gradient-boosted decision trees with XGBoost's semantics.
//!
//! The crate is pure Rust: it knows nothing of Python. The regularised gain and leaf weight
//! live in [`gain`]; objectives in [`objective`]; the exact split finder in [`exact`]; trees
//! in [`tree`]; the fitted model (prediction, JSON) in [`model`]; the boosting round in
//! [`train`], which builds a model and is never imported by it; metrics in [`metric`]. Every
//! fallible entry point returns [`BoostError`].

// Two measured hot spots use `unsafe`: the cache prefetch hint in `hist::prefetch` (histogram
// building, row partitioning and the exact column scans call it) and the AVX-512 gathers that
// walk trees at prediction in `forest`.
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod constraints;
pub mod data;
pub mod error;
pub mod exact;
pub mod forest;
pub mod gain;
pub mod hist;
pub mod metric;
pub mod model;
pub mod objective;
pub mod param;
pub mod profile;
pub mod rank;
pub mod sampling;
pub mod survival;
pub mod train;
pub mod tree;
pub mod updater;

pub use data::{MatrixView, SortedColumns};
pub use error::BoostError;
pub use gain::{GradStats, SplitCandidate, SplitParams};
pub use metric::Metric;
pub use model::{Booster, FeatureImportance};
pub use objective::Objective;
pub use param::TreeParams;
pub use train::{TrainConfig, Trainer};
pub use tree::Tree;
