//! Criterion benchmarks of the sapwood engines live in `benches/benches/`; side-by-side
//! comparisons against peer libraries live in `benches/compare/`.
#![forbid(unsafe_code)]
