//! Build and run-time facts for `sapwood info`.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::threads::available_cores;

/// The instruction-set extensions this build was compiled to assume (the target's baseline
/// plus any `-C target-feature`); every machine that runs it must have them.
fn cpu_features_compiled() -> Vec<&'static str> {
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

/// The extensions this processor has, asked at run time. The engines choose their vector
/// paths from these (see [`simd_paths`]), so a portable build still uses AVX-512 where it
/// runs on a processor that has it.
fn cpu_features_runtime() -> Vec<&'static str> {
    #[allow(unused_mut)]
    let mut found = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! feature {
            ($($name:tt),*) => {
                $( if std::is_x86_feature_detected!($name) { found.push($name); } )*
            };
        }
        feature!("sse2", "sse3", "ssse3", "sse4.1", "sse4.2", "popcnt", "avx", "avx2", "fma");
        feature!("bmi2", "avx512f", "avx512bw", "avx512vl");
    }
    #[cfg(target_arch = "aarch64")]
    {
        macro_rules! feature {
            ($($name:tt),*) => {
                $( if std::arch::is_aarch64_feature_detected!($name) { found.push($name); } )*
            };
        }
        feature!("neon", "sve", "sve2");
    }
    found
}

/// The vector path each engine dispatches to on this processor, as the engines themselves
/// decide it (the same functions their hot loops call), so the report cannot drift from them.
fn simd_paths(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let paths = PyDict::new(py);
    paths.set_item("boost_tree_walk", sapwood_boost::forest::tree_walk_kernel())?;
    paths.set_item(
        "knn_brute_scan",
        sapwood_neighbors::ScanKernel::detect().name(),
    )?;
    Ok(paths)
}

/// build_info()
/// --
///
/// Facts about this build and this machine: crate version, compiler, target, profile, the CPU
/// features compiled in and those found at run time, the vector paths the engines chose, and
/// the cores.
#[pyfunction]
pub fn build_info(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let info = PyDict::new(py);
    info.set_item("version", env!("CARGO_PKG_VERSION"))?;
    info.set_item("rustc", env!("SAPWOOD_RUSTC_VERSION"))?;
    info.set_item("target", env!("SAPWOOD_TARGET"))?;
    info.set_item("profile", env!("SAPWOOD_PROFILE"))?;
    info.set_item("cpu_features_compiled", cpu_features_compiled())?;
    info.set_item("cpu_features_runtime", cpu_features_runtime())?;
    info.set_item("simd_paths", simd_paths(py)?)?;
    info.set_item("cores", available_cores())?;
    Ok(info)
}
