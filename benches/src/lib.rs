//! Criterion benchmarks of the sapwood engines live in `benches/benches/`; side-by-side
//! comparisons against peer libraries live in `benches/compare/`.
#![forbid(unsafe_code)]

/// Deterministic pseudo-random values in [-1, 1) (no RNG dependency needed).
#[must_use]
pub fn lcg_values(n: usize, mut state: u64) -> Vec<f32> {
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            #[allow(clippy::cast_precision_loss)]
            let u = (state >> 40) as f32 / (1u64 << 24) as f32;
            2.0 * u - 1.0
        })
        .collect()
}
