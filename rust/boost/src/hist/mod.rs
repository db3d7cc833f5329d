//! Histogram split finding (`hist` and `approx`): quantile cuts, the binned matrix and gradient histograms.

pub mod cuts;
pub mod histogram;
pub mod matrix;

pub use cuts::QuantileCuts;
pub use histogram::{BinSum, Histogram};
pub use matrix::{BinLayout, BinStorage, BinnedMatrix};
