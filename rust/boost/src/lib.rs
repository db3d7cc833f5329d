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

/// What several modules' tests share.
#[cfg(test)]
pub(crate) mod test_support {
    /// A reproducible stream of uniform numbers in `[0, 1)` (xorshift64, 53 bits a draw).
    pub(crate) fn uniform(seed: u64) -> impl FnMut() -> f64 {
        let mut x = seed;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// The presorted columns of a dense row-major `f32` matrix.
    pub(crate) fn sorted_columns(
        data: &[f32],
        n_rows: usize,
        n_cols: usize,
    ) -> crate::data::SortedColumns {
        let view = crate::data::MatrixView::DenseF32 {
            data,
            n_rows,
            n_cols,
        };
        crate::data::SortedColumns::build(&view).expect("at most u32::MAX rows")
    }
}
