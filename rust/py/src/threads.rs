//! The thread policy shared by every engine.
//!
//! `n_jobs` follows scikit-learn: `None` or `-1` means every core, `k > 0` means `k` threads,
//! `-k` means all cores but `k - 1`; `0` is an error. Long work runs in a rayon pool of that size,
//! with the GIL released. Pools are built once per size and kept for the life of the process.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, OnceLock};

use pyo3::exceptions::{PyMemoryError, PyValueError};
use pyo3::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};

/// The number of cores this process may use.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
}

/// Resolves scikit-learn's `n_jobs` convention to a thread count.
///
/// # Errors
/// `ValueError` when `n_jobs` is 0.
pub fn resolve_n_jobs(n_jobs: Option<i64>) -> PyResult<usize> {
    let cores = available_cores();
    match n_jobs {
        None => Ok(cores),
        Some(0) => Err(PyValueError::new_err(
            "n_jobs == 0 has no meaning: use None or -1 for all cores, or a positive count",
        )),
        Some(k) if k > 0 => Ok(usize::try_from(k).unwrap_or(usize::MAX).min(4096)),
        Some(k) => {
            // -1 = all cores, -2 = all but one, ...; never fewer than one.
            let spare = usize::try_from(k.unsigned_abs() - 1).unwrap_or(usize::MAX);
            Ok(cores.saturating_sub(spare).max(1))
        }
    }
}

fn pool_of(threads: usize) -> PyResult<Arc<ThreadPool>> {
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<ThreadPool>>>> = OnceLock::new();
    let pools = POOLS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut pools = pools
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(pool) = pools.get(&threads) {
        return Ok(Arc::clone(pool));
    }
    let pool = ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("sapwood-{i}"))
        .build()
        .map_err(|e| {
            // Threads fail to start when their stacks cannot be mapped: that is memory.
            PyMemoryError::new_err(format!("cannot start {threads} threads: {e}"))
        })?;
    let pool = Arc::new(pool);
    pools.insert(threads, Arc::clone(&pool));
    Ok(pool)
}

/// Runs `work` with the GIL released, inside a rayon pool sized by `n_jobs`.
///
/// # Errors
/// `ValueError` for `n_jobs == 0`; `MemoryError` if the pool's threads cannot start.
///
/// The allocator's reserve (`sapwood_mem::arm`) is taken before the work and again after it,
/// so each call starts with the reserve held when memory allows it.
pub fn run_detached<T, F>(py: Python<'_>, n_jobs: Option<i64>, work: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    let pool = pool_of(resolve_n_jobs(n_jobs)?)?;
    sapwood_mem::arm();
    let out = py.detach(|| pool.install(work));
    sapwood_mem::arm();
    Ok(out)
}

/// effective_n_jobs(n_jobs=None)
/// --
///
/// The number of threads sapwood uses for a given ``n_jobs`` (scikit-learn's convention).
#[pyfunction]
#[pyo3(signature = (n_jobs=None))]
pub fn effective_n_jobs(n_jobs: Option<i64>) -> PyResult<usize> {
    resolve_n_jobs(n_jobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn n_jobs_follows_scikit_learn() {
        let cores = available_cores();
        assert_eq!(resolve_n_jobs(None).unwrap(), cores);
        assert_eq!(resolve_n_jobs(Some(-1)).unwrap(), cores);
        assert_eq!(resolve_n_jobs(Some(3)).unwrap(), 3);
        assert_eq!(
            resolve_n_jobs(Some(-2)).unwrap(),
            cores.saturating_sub(1).max(1)
        );
        assert_eq!(resolve_n_jobs(Some(-10_000)).unwrap(), 1);
    }
}
