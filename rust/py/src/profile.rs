//! Per-phase timers of tree growth (`SAPWOOD_PROFILE=1`), read from Python.

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// grow_profile(reset=True)
/// --
///
/// Seconds spent in each phase of tree growth (setup, histogram, partition, evaluate),
/// summed over threads, since the last reset; all zeros unless the process started with
/// ``SAPWOOD_PROFILE=1``. With ``reset``, the timers start again from zero.
#[pyfunction]
#[pyo3(signature = (reset=true))]
pub fn grow_profile(py: Python<'_>, reset: bool) -> PyResult<Bound<'_, PyDict>> {
    let out = PyDict::new(py);
    for (phase, secs) in sapwood_boost::profile::report() {
        out.set_item(phase, secs)?;
    }
    out.set_item("enabled", sapwood_boost::profile::enabled())?;
    if reset {
        sapwood_boost::profile::reset();
    }
    Ok(out)
}
