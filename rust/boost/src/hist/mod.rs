//! Histogram split finding (`hist` and `approx`): quantile cuts, the binned matrix and gradient histograms.

pub mod cuts;
pub mod grow;
pub mod histogram;
pub mod matrix;

pub use cuts::QuantileCuts;
pub use grow::{GrowPolicy, HistGrower, TreeShape};
pub use histogram::Histogram;
pub use matrix::{BinLayout, BinStorage, BinnedMatrix};
