//! kd-tree nearest-neighbour search over `f32` and `f64` points.

#![forbid(unsafe_code)]

pub mod error;

pub use error::NeighborsError;
