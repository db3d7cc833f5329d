//! Histogram split finding (`hist` and `approx`): quantile cuts and the binned matrix.

pub mod cuts;
pub mod matrix;

pub use cuts::QuantileCuts;
pub use matrix::{BinLayout, BinStorage, BinnedMatrix};
