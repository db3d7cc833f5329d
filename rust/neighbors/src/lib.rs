//! kd-tree nearest-neighbour search over `f32` and `f64` points.
//!
//! [`KdTree::build`] copies the points once into leaf order (contiguous rows, so a leaf is
//! scanned without indirection) and stores only inner nodes, in pre-order (a leaf is the range
//! of points its parent hands it, so nodes cost about one per leaf). Splits follow the
//! sliding-midpoint rule or, with [`BuildParams::balanced`], the median; either way the depth is
//! bounded (a median split takes over when the midpoint rule degenerates) and identical points
//! share a leaf. Queries:
//!
//! * [`KdTree::knn`]: the k nearest neighbours, with approximation `eps`, any Minkowski `p`
//!   and a distance upper bound; an exact blocked scan replaces the tree automatically where
//!   the tree would visit a large share of the points (high dimensions), with identical
//!   answers (Euclidean scans pre-filter points by inner products, see `brute`);
//! * [`KdTree::within`]: every point within a radius, as flat arrays;
//! * [`KdTree::count_within`]: (weighted) pair counts for many radii at once.
//!
//! Axes may be periodic ([`BuildParams::boxsize`]). Everything runs in parallel over query
//! points on the current rayon pool, and answers do not depend on the number of threads.

#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

mod brute;
mod candidates;
pub mod error;
pub mod float;
pub mod knn;
pub mod metric;
pub mod query;
pub mod radius;
pub mod tree;

pub use brute::ScanKernel;
pub use error::NeighborsError;
pub use float::Float;
pub use knn::{KnnParams, Strategy};
pub use metric::Minkowski;
pub use radius::{RadiusNeighbours, RadiusOrder};
pub use tree::{BuildParams, KdTree};

#[cfg(test)]
mod tests;
