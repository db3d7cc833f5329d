//! Histogram split finding (`hist` and `approx`): quantile cuts, the binned matrix, gradient
//! histograms, and tree growth as named phases.
//!
//! | module | phase |
//! |---|---|
//! | [`cuts`], [`matrix`] | setup: quantile cuts and the binned matrix |
//! | [`partition`] | the root's rows and sums; each split's division of a node's rows |
//! | [`histogram`], [`feature_histogram`] | gradient histograms from rows, in the fit's [`HistLayout`] (or of a few features) |
//! | [`step`] | growth as local steps (one part's rows) and global steps (the tree), the seam of a distributed fit |
//! | [`evaluate`] | the best split of a node from its summed histograms and sums |
//! | [`expand`], [`driver`] | nodes waiting to be split, their order, the tree's limits |
//! | [`grow`] | the loop over those phases |

pub mod cuts;
pub mod driver;
pub mod evaluate;
pub mod expand;
pub mod feature_histogram;
pub mod grow;
pub mod histogram;
pub mod matrix;
pub mod partition;
pub(crate) mod prefetch;
pub mod step;

pub use cuts::QuantileCuts;
pub use driver::{GrowPolicy, TreeShape};
pub use feature_histogram::FeatureHistogram;
pub use grow::{HistGrower, LeafRows};
pub use histogram::{HistLayout, Histogram};
pub use matrix::{BinLayout, BinStorage, BinnedMatrix};
pub use step::{GrowPlan, PartGrowth, StepHistogram, StepSums, TreeGrowth};

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
