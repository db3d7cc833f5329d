//! Histogram split finding (`hist` and `approx`): quantile cuts, the binned matrix and gradient histograms.

pub mod cuts;
pub mod grow;
pub mod histogram;
pub mod matrix;
pub(crate) mod prefetch;

pub use cuts::QuantileCuts;
pub use grow::{GrowPolicy, HistGrower, LeafRows, TreeShape};
pub use histogram::{FeatureHistogram, Histogram};
pub use matrix::{BinLayout, BinStorage, BinnedMatrix};

/// Whether compressed (CSR or CSC) arrays agree: `indptr` non-decreasing and ending at the
/// number of stored values, one index per value, every index below `n_minor`.
pub(crate) fn compressed_is_well_formed(
    indptr: &[usize],
    indices: &[usize],
    n_values: usize,
    n_minor: usize,
) -> bool {
    indices.len() == n_values
        && indptr.last() == Some(&n_values)
        && indptr.windows(2).all(|w| w[0] <= w[1])
        && indices.iter().all(|&i| i < n_minor)
}
