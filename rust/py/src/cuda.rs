//! The CUDA kernel sources, embedded in the extension module.
//!
//! `cuda/*.cu` at the repository root is the single source of truth for the GPU kernels. Embedding
//! the files here means every built wheel carries exactly the sources it was built from, with no
//! package-data rules to keep in step; `sapwood.gpu` reads them through [`cuda_sources`] and
//! compiles them at run time with NVRTC (through CuPy).

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// (file name, text) of every kernel file, in the order `sapwood.gpu` lists them.
pub const CUDA_SOURCES: [(&str, &str); 4] = [
    ("common.cuh", include_str!("../../../cuda/common.cuh")),
    ("softmax.cu", include_str!("../../../cuda/softmax.cu")),
    ("norm.cu", include_str!("../../../cuda/norm.cu")),
    ("gemv.cu", include_str!("../../../cuda/gemv.cu")),
];

/// cuda_sources()
/// --
///
/// The CUDA sources of the GPU kernels, as a dict from file name to text.
#[pyfunction]
pub fn cuda_sources(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let out = PyDict::new(py);
    for (name, text) in CUDA_SOURCES {
        out.set_item(name, text)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::CUDA_SOURCES;

    #[test]
    fn every_program_includes_the_common_header() {
        let names: Vec<&str> = CUDA_SOURCES.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["common.cuh", "softmax.cu", "norm.cu", "gemv.cu"]);
        for (name, text) in &CUDA_SOURCES[1..] {
            assert!(
                text.contains("#include \"common.cuh\""),
                "{name} lacks common.cuh"
            );
            assert!(text.contains("__global__"), "{name} has no kernel");
        }
    }
}
