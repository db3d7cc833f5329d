//! The `sapwood._native` extension module.
//!
//! This crate is the only one that knows PyO3. Each file binds one family of the core crates:
//! it converts arrays, releases the GIL around long work ([`threads`]), calls the core, and maps
//! the core's errors to Python exceptions ([`error`]). No algorithm lives here.

pub mod boost;
pub mod boruta;
pub mod cuda;
pub mod dist;
pub mod error;
pub mod info;
pub mod neighbors;
pub mod profile;
pub mod threads;

use pyo3::prelude::*;

/// The system allocator with a reserve, so that running out of memory inside the engines ends
/// as a `MemoryError` instead of an abort (see `sapwood_mem`).
#[global_allocator]
static ALLOCATOR: sapwood_mem::ReserveAllocator = sapwood_mem::ReserveAllocator;

/// The compiled core of sapwood. Use the `sapwood` package, not this module, directly.
#[pymodule]
mod _native {
    #[pymodule_export]
    use super::boost::{rank_metric, BoostModel, BoostTrainer};
    #[pymodule_export]
    use super::boruta::{
        auto_tree_count, benjamini_hochberg, binomial_cdf, binomial_sf, boruta_forest_select,
        boruta_tests, PyBorutaState,
    };
    #[pymodule_export]
    use super::cuda::cuda_sources;
    #[pymodule_export]
    use super::dist::{dist_sketch, DistConfig, DistCuts, DistPart, DistTree};
    #[pymodule_export]
    use super::info::build_info;
    #[pymodule_export]
    use super::neighbors::PyKdTree;
    #[pymodule_export]
    use super::profile::grow_profile;
    #[pymodule_export]
    use super::threads::effective_n_jobs;

    use pyo3::prelude::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        sapwood_mem::arm();
        m.add("__version__", env!("CARGO_PKG_VERSION"))
    }
}
