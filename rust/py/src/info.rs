//! Build facts for `sapwood info`.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::threads::available_cores;

/// The instruction-set extensions this build was compiled to use.
fn cpu_features() -> Vec<&'static str> {
    let mut found = Vec::new();
    macro_rules! feature {
        ($($name:tt),*) => {
            $( if cfg!(target_feature = $name) { found.push($name); } )*
        };
    }
    feature!("sse2", "sse3", "ssse3", "sse4.1", "sse4.2", "popcnt", "avx", "avx2", "fma", "bmi2");
    feature!("avx512f", "avx512bw", "avx512vl", "neon", "sve");
    found
}

/// build_info()
/// --
///
/// Facts about this build: crate version, compiler, target, profile, CPU features and cores.
#[pyfunction]
pub fn build_info(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let info = PyDict::new(py);
    info.set_item("version", env!("CARGO_PKG_VERSION"))?;
    info.set_item("rustc", env!("SAPWOOD_RUSTC_VERSION"))?;
    info.set_item("target", env!("SAPWOOD_TARGET"))?;
    info.set_item("profile", env!("SAPWOOD_PROFILE"))?;
    info.set_item("cpu_features", cpu_features())?;
    info.set_item("cores", available_cores())?;
    Ok(info)
}
