//! Exact Euclidean brute force with an inner-product pre-filter.
//!
//! Every point's squared distance to a query is first estimated as `‖x‖² + ‖q‖² − 2 x·q`
//! (coordinates centred on the tree's bounding box), which a blocked kernel computes for
//! several queries and points at once, with fused multiply-adds and wide vectors where the CPU
//! has them. The estimate is off by at most `K ε (‖x‖² + ‖q‖²)`, so only points whose estimate
//! minus that bound does not exceed the current k-th neighbour's rank can still enter the
//! answer, and only those are ranked exactly, by the same arithmetic as the tree's leaf scan.
//! Answers are therefore identical to the tree's, bit for bit.

use crate::candidates::{Candidates, KBest};
use crate::float::Float;
use crate::metric::{point_rank, Euclidean, Open};
use crate::tree::KdTree;

/// Points per block (their columns stay in L1 across a chunk of queries).
pub(crate) const BLOCK: usize = 128;
/// Queries and points per register tile.
const TILE_Q: usize = 4;
const TILE_P: usize = 8;

/// The instruction sets the blocked scan's inner products run on: chosen at run time from
/// what the processor has, not from what the build was compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanKernel {
    /// 512-bit vectors with fused multiply-adds (x86-64 with AVX-512F and FMA).
    Avx512Fma,
    /// 256-bit vectors with fused multiply-adds (x86-64 with AVX2 and FMA).
    Avx2Fma,
    /// Whatever the compiler makes of the portable loop for the build's target.
    Portable,
}

impl ScanKernel {
    /// The kernel [`KdTree::knn`]'s blocked scan uses on this processor.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            let fma = std::is_x86_feature_detected!("fma");
            if fma && std::is_x86_feature_detected!("avx512f") {
                return Self::Avx512Fma;
            }
            if fma && std::is_x86_feature_detected!("avx2") {
                return Self::Avx2Fma;
            }
        }
        Self::Portable
    }

    /// A short name: `"avx512f+fma"`, `"avx2+fma"` or `"portable"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Avx512Fma => "avx512f+fma",
            Self::Avx2Fma => "avx2+fma",
            Self::Portable => "portable",
        }
    }
}

/// The points centred and transposed block by block, with their squared norms.
pub(crate) struct Prepared<F> {
    m: usize,
    centre: Vec<F>,
    /// Block `b` holds `m` columns of `BLOCK` values (zero past the last point).
    cols: Vec<F>,
    /// Squared norm of each centred point in leaf order, `+∞` past the last point.
    norms: Vec<F>,
    /// `1 − K ε`: an estimate times this, minus twice the inner product, is a lower bound of
    /// the exact rank.
    shrink: F,
}

impl<F: Float> Prepared<F> {
    /// Prepares the tree's points, or `None` where the error bound would be too loose to
    /// prune anything (thousands of dimensions in `f32`).
    pub(crate) fn new(tree: &KdTree<F>) -> Option<Self> {
        let m = tree.m;
        let slack = (4.0 * m as f64 + 32.0) * F::EPSILON.to_f64();
        if slack > 0.25 {
            return None;
        }
        let centre: Vec<F> = tree
            .mins
            .iter()
            .zip(&tree.maxes)
            .map(|(&lo, &hi)| lo + (hi - lo) * F::from_f64(0.5))
            .collect();
        let blocks = tree.n.div_ceil(BLOCK);
        let mut cols = vec![F::ZERO; blocks * BLOCK * m];
        let mut norms = vec![F::INFINITY; blocks * BLOCK];
        for (pos, row) in tree.points.chunks_exact(m).enumerate() {
            let (b, j) = (pos / BLOCK, pos % BLOCK);
            let block = &mut cols[b * BLOCK * m..(b + 1) * BLOCK * m];
            let mut norm = F::ZERO;
            for (d, (&x, &c)) in row.iter().zip(&centre).enumerate() {
                let v = x - c;
                block[d * BLOCK + j] = v;
                norm = norm + v * v;
            }
            norms[pos] = norm;
        }
        Some(Self {
            m,
            centre,
            cols,
            norms,
            shrink: F::from_f64(1.0 - slack),
        })
    }

    /// Answers a chunk of queries (row-major, at most `heaps.len()` of them): each heap ends
    /// up holding the query's exact k nearest points.
    #[allow(unsafe_code)]
    pub(crate) fn scan(&self, tree: &KdTree<F>, qs: &[F], heaps: &mut [KBest<F>]) {
        #[cfg(target_arch = "x86_64")]
        match ScanKernel::detect() {
            // SAFETY: `detect` answers `Avx512Fma` only where the CPU has AVX-512F and FMA.
            ScanKernel::Avx512Fma => return unsafe { self.scan_avx512(tree, qs, heaps) },
            // SAFETY: `detect` answers `Avx2Fma` only where the CPU has AVX2 and FMA.
            ScanKernel::Avx2Fma => return unsafe { self.scan_avx2(tree, qs, heaps) },
            ScanKernel::Portable => {}
        }
        self.scan_with::<false>(tree, qs, heaps);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2,fma")]
    fn scan_avx512(&self, tree: &KdTree<F>, qs: &[F], heaps: &mut [KBest<F>]) {
        self.scan_with::<true>(tree, qs, heaps);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn scan_avx2(&self, tree: &KdTree<F>, qs: &[F], heaps: &mut [KBest<F>]) {
        self.scan_with::<true>(tree, qs, heaps);
    }

    /// The scan itself; `FUSED` uses fused multiply-adds (only where the CPU has them).
    #[inline(always)]
    fn scan_with<const FUSED: bool>(&self, tree: &KdTree<F>, qs: &[F], heaps: &mut [KBest<F>]) {
        let m = self.m;
        let count = qs.len() / m;
        let groups = count.div_ceil(TILE_Q);
        // Centred queries, padded with zero rows to whole tiles, and their squared norms.
        let mut qc = vec![F::ZERO; groups * TILE_Q * m];
        let mut qn = vec![F::ZERO; groups * TILE_Q];
        for (j, q) in qs.chunks_exact(m).enumerate() {
            let mut norm = F::ZERO;
            for (d, (&v, &c)) in q.iter().zip(&self.centre).enumerate() {
                let v = v - c;
                qc[j * m + d] = v;
                norm = norm + v * v;
            }
            qn[j] = norm;
        }
        let shrink = self.shrink;
        let two = F::from_f64(2.0);
        for (b, block) in self.cols.chunks_exact(BLOCK * m).enumerate() {
            let base = b * BLOCK;
            let norms = &self.norms[base..base + BLOCK];
            for g in 0..groups {
                let qg = &qc[g * TILE_Q * m..(g + 1) * TILE_Q * m];
                for t in (0..BLOCK).step_by(TILE_P) {
                    let mut acc = [[F::ZERO; TILE_P]; TILE_Q];
                    for d in 0..m {
                        let mut c = [F::ZERO; TILE_P];
                        c.copy_from_slice(&block[d * BLOCK + t..d * BLOCK + t + TILE_P]);
                        for (a, row) in acc.iter_mut().enumerate() {
                            let qv = qg[a * m + d];
                            for (s, &x) in row.iter_mut().zip(&c) {
                                *s = if FUSED {
                                    qv.mul_add(x, *s)
                                } else {
                                    *s + qv * x
                                };
                            }
                        }
                    }
                    for (a, row) in acc.iter().enumerate() {
                        let j = g * TILE_Q + a;
                        if j >= count {
                            break;
                        }
                        let heap = &mut heaps[j];
                        let bound = heap.bound();
                        let mut lower = [F::ZERO; TILE_P];
                        let mut any = false;
                        for l in 0..TILE_P {
                            lower[l] = (norms[t + l] + qn[j]) * shrink - two * row[l];
                            any |= lower[l] <= bound;
                        }
                        if any {
                            let q = &qs[j * m..(j + 1) * m];
                            for (l, &low) in lower.iter().enumerate() {
                                let pos = base + t + l;
                                if low <= heap.bound() && pos < tree.n {
                                    let x = &tree.points[pos * m..(pos + 1) * m];
                                    let r = point_rank(Euclidean, Open, x, q);
                                    if r <= heap.bound() {
                                        heap.offer(r, tree.indices[pos]);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
