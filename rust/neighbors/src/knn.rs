//! k nearest neighbours: the tree's descent, the blocked brute-force scans, and the choice
//! between them.
//!
//! The descent visits the nearest child first and prunes a cell once its lower bound exceeds
//! the k-th candidate's rank. Ties between equally distant points are broken by the smaller
//! input index, which makes the answer unique: the tree and the brute-force paths return
//! identical results.

use rayon::prelude::*;
use sapwood_mem::try_vec;

use crate::brute::Prepared;
use crate::candidates::{Candidates, KBest, Nearest};
use crate::error::NeighborsError;
use crate::float::Float;
use crate::metric::{combine_terms, Geometry, Metric, Minkowski};
use crate::query::{with_metric, Walker, QUERY_CHUNK};
use crate::tree::{KdTree, Sub};

/// Below this many queries, or points in the tree, queries are answered in the caller's order.
const LOCALITY_MIN_QUERIES: usize = 4096;
const LOCALITY_MIN_POINTS: usize = 1 << 15;
/// Axes that enter the Morton code of a query.
const MORTON_MAX_DIMS: usize = 8;
/// Above this share of the points scanned by tree probes, brute force wins: with the
/// inner-product pre-filter (Euclidean, open space), and without it.
const PREFILTERED_SHARE: f64 = 0.14;
const PLAIN_SHARE: f64 = 0.75;
/// Points per block of the brute-force scan (kept in cache across a chunk of queries).
const BRUTE_BLOCK: usize = 512;

/// How a k-NN query searches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Probe the tree with a few queries; scan every point instead when the tree would visit
    /// a large share of them anyway (high dimensions). The answers are identical.
    #[default]
    Auto,
    /// Always descend the tree.
    Tree,
    /// Always scan every point (exact, blocked for cache reuse).
    Brute,
}

/// Parameters of a k-nearest-neighbour query.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KnnParams {
    /// Number of neighbours returned per query (the largest rank asked for).
    pub k: usize,
    /// Approximation: the i-th neighbour returned is within `(1 + eps)` of the true one.
    pub eps: f64,
    /// Minkowski order.
    pub p: Minkowski,
    /// Only neighbours strictly closer than this are returned.
    pub distance_upper_bound: f64,
    /// Tree, brute force, or chosen from the data.
    pub strategy: Strategy,
}

impl KnnParams {
    /// `k` nearest neighbours in Euclidean distance, exact, unbounded.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            eps: 0.0,
            p: Minkowski::L2,
            distance_upper_bound: f64::INFINITY,
            strategy: Strategy::Auto,
        }
    }
}

/// A k-NN query once its parameters are checked: its bounds as ranks in the tree's float
/// type, and the search path chosen for it.
#[derive(Clone, Copy, Debug)]
struct KnnSearch<F> {
    /// Minkowski order (turns ranks back into distances).
    p: Minkowski,
    /// Neighbours per query.
    k: usize,
    /// Rank of the distance upper bound: only points ranked below it are candidates.
    upper: F,
    /// A cell is visited while its lower bound is within this factor of the k-th rank
    /// (`1` for an exact search, see [`Minkowski::eps_factor`]).
    epsfac: F,
    /// Scan every point instead of descending the tree.
    brute: bool,
}

impl<F: Float, M: Metric<F>, G: Geometry<F>> Walker<'_, F, M, G> {
    /// Offers `cand` every point of `sub` that can still enter the query's k nearest.
    pub(crate) fn knn<C: Candidates<F>>(&mut self, sub: Sub, cand: &mut C) {
        if sub.leaf {
            self.scan(sub.start, sub.end, cand);
            return;
        }
        let nd = self.tree.nodes[sub.node];
        let (lower_sub, upper_sub) = self.tree.children(sub);
        let k = nd.dim();
        let (q, lo, hi, old) = (self.q[k], self.lo[k], self.hi[k], self.near[k]);
        let t_lower = self.metric.term(self.geom.gap(q, lo, nd.lower_max, k));
        let t_upper = self.metric.term(self.geom.gap(q, nd.upper_min, hi, k));
        let lower_first = t_lower < t_upper || (t_lower == t_upper && q <= nd.lower_max);
        for step in 0..2 {
            let lower = lower_first == (step == 0);
            self.near[k] = if lower { t_lower } else { t_upper };
            let d = combine_terms(self.metric, &self.near);
            if d <= cand.bound() * self.epsfac {
                if lower {
                    self.hi[k] = nd.lower_max;
                    self.knn(lower_sub, cand);
                    self.hi[k] = hi;
                } else {
                    self.lo[k] = nd.upper_min;
                    self.knn(upper_sub, cand);
                    self.lo[k] = lo;
                }
            }
        }
        self.near[k] = old;
    }
}

/// Writes each heap's neighbours, nearest first, as `k` distances and indices (`∞` and `n`
/// where fewer than `k` were found).
fn write_answers<F: Float>(
    p: Minkowski,
    n: usize,
    k: usize,
    heaps: &mut [KBest<F>],
    ds: &mut [F],
    is: &mut [usize],
) {
    for (j, heap) in heaps.iter_mut().enumerate() {
        let row_d = &mut ds[j * k..(j + 1) * k];
        let row_i = &mut is[j * k..(j + 1) * k];
        let found = heap.sorted();
        for c in 0..k {
            if let Some(&(r, i)) = found.get(c) {
                row_d[c] = p.distance_of(r);
                row_i[c] = i as usize;
            } else {
                row_d[c] = F::INFINITY;
                row_i[c] = n;
            }
        }
    }
}

impl<F: Float> KdTree<F> {
    /// The `k` nearest neighbours of each query row (row-major, `m` columns).
    ///
    /// Writes `n_queries × k` distances (ascending, ties by index) and input indices; missing
    /// neighbours (fewer than `k` points within `distance_upper_bound`) are `∞` and `n`.
    ///
    /// # Errors
    /// `InvalidParameter` for `k == 0`, negative or NaN `eps` or bound, output slices of the
    /// wrong length; `InvalidInput` for queries of the wrong width or non-finite values.
    pub fn knn(
        &self,
        queries: &[F],
        params: &KnnParams,
        distances: &mut [F],
        indices: &mut [usize],
    ) -> Result<(), NeighborsError> {
        let nq = self.check_queries(queries)?;
        let k = params.k;
        if k == 0 {
            return Err(NeighborsError::InvalidParameter(
                "k must be >= 1 (the number of neighbours)".into(),
            ));
        }
        if params.eps.is_nan() || params.eps < 0.0 {
            return Err(NeighborsError::InvalidParameter(format!(
                "eps must be >= 0, got {}",
                params.eps
            )));
        }
        if params.distance_upper_bound.is_nan() || params.distance_upper_bound < 0.0 {
            return Err(NeighborsError::InvalidParameter(format!(
                "distance_upper_bound must be >= 0, got {}",
                params.distance_upper_bound
            )));
        }
        let total = nq
            .checked_mul(k)
            .ok_or_else(|| NeighborsError::OutOfMemory(format!("{nq} queries × {k} neighbours")))?;
        if distances.len() != total || indices.len() != total {
            return Err(NeighborsError::InvalidParameter(format!(
                "output buffers must hold {total} values"
            )));
        }
        let search = KnnSearch {
            p: params.p,
            k,
            upper: params.p.rank_of(F::from_f64(params.distance_upper_bound)),
            epsfac: params.p.eps_factor(params.eps),
            brute: match params.strategy {
                Strategy::Tree => false,
                Strategy::Brute => true,
                Strategy::Auto => self.tree_visits_most(queries, nq, params),
            },
        };
        if !search.brute && nq >= LOCALITY_MIN_QUERIES && self.n >= LOCALITY_MIN_POINTS {
            // Visit queries along a Morton curve so that consecutive queries touch the same
            // part of the tree, then put the answers back in the caller's order.
            let order = self.morton_order(queries, nq);
            let m = self.m;
            let mut sorted = try_vec(nq * m, F::ZERO, "the reordered queries")?;
            sorted
                .par_chunks_mut(m)
                .zip(order.par_iter())
                .for_each(|(row, &j)| row.copy_from_slice(&queries[j * m..(j + 1) * m]));
            let mut d = try_vec(total, F::ZERO, "the k-NN distances")?;
            let mut i = try_vec(total, 0usize, "the k-NN indices")?;
            with_metric!(self, params.p, |metric, geom| {
                self.knn_with(metric, geom, &search, &sorted, &mut d, &mut i)
            });
            for (pos, &j) in order.iter().enumerate() {
                distances[j * k..(j + 1) * k].copy_from_slice(&d[pos * k..(pos + 1) * k]);
                indices[j * k..(j + 1) * k].copy_from_slice(&i[pos * k..(pos + 1) * k]);
            }
            return Ok(());
        }
        if search.brute && self.prefilters(params.p) {
            if let Some(prep) = Prepared::new(self) {
                self.knn_prefiltered(&prep, &search, queries, distances, indices);
                return Ok(());
            }
        }
        with_metric!(self, params.p, |metric, geom| {
            self.knn_with(metric, geom, &search, queries, distances, indices)
        });
        Ok(())
    }

    /// Whether a brute-force scan under metric `p` goes through the inner-product pre-filter
    /// ([`Prepared`]): Euclidean distance in an open space.
    fn prefilters(&self, p: Minkowski) -> bool {
        p == Minkowski::L2 && self.boxsize.is_empty()
    }

    /// Euclidean brute force through the inner-product pre-filter (exact, see [`Prepared`]).
    fn knn_prefiltered(
        &self,
        prep: &Prepared<F>,
        search: &KnnSearch<F>,
        queries: &[F],
        distances: &mut [F],
        indices: &mut [usize],
    ) {
        let (m, n) = (self.m, self.n);
        let KnnSearch { k, upper, .. } = *search;
        self.for_query_chunks(
            queries,
            k,
            upper,
            (distances, indices),
            || (),
            |(), heaps, qs, ds, is| {
                let heaps = &mut heaps[..qs.len() / m];
                for heap in heaps.iter_mut() {
                    heap.reset(upper);
                }
                prep.scan(self, qs, heaps);
                write_answers(Minkowski::L2, n, k, heaps, ds, is);
            },
        );
    }

    /// Runs `body` over fixed chunks of `QUERY_CHUNK` queries in parallel, with each chunk's
    /// rows of the `k`-wide outputs, per-thread state from `init` and `QUERY_CHUNK` reusable
    /// heaps bounded by `upper`.
    fn for_query_chunks<S, I, B>(
        &self,
        queries: &[F],
        k: usize,
        upper: F,
        (distances, indices): (&mut [F], &mut [usize]),
        init: I,
        body: B,
    ) where
        I: Fn() -> S + Sync + Send,
        B: Fn(&mut S, &mut [KBest<F>], &[F], &mut [F], &mut [usize]) + Sync + Send,
    {
        let heaps = || -> Vec<KBest<F>> {
            (0..QUERY_CHUNK)
                .map(|_| KBest::new(k, upper, k.min(self.n + 1)))
                .collect()
        };
        queries
            .par_chunks(QUERY_CHUNK * self.m)
            .zip(distances.par_chunks_mut(QUERY_CHUNK * k))
            .zip(indices.par_chunks_mut(QUERY_CHUNK * k))
            .for_each_init(
                || (init(), heaps()),
                |(state, heaps), ((qs, ds), is)| body(state, heaps, qs, ds, is),
            );
    }

    /// Query rows sorted by their Morton code inside the tree's bounding box.
    fn morton_order(&self, queries: &[F], nq: usize) -> Vec<usize> {
        let m = self.m;
        let dims = m.min(MORTON_MAX_DIMS);
        let bits = (63 / dims).min(21) as u32;
        let scale: Vec<f64> = (0..dims)
            .map(|k| {
                let span = (self.maxes[k] - self.mins[k]).to_f64();
                if span > 0.0 {
                    f64::from((1u32 << bits) - 1) / span
                } else {
                    0.0
                }
            })
            .collect();
        let mut keyed: Vec<(u64, usize)> = queries
            .par_chunks(m)
            .enumerate()
            .map(|(j, q)| {
                let mut cells = [0u64; MORTON_MAX_DIMS];
                for k in 0..dims {
                    let t = ((q[k] - self.mins[k]).to_f64() * scale[k])
                        .clamp(0.0, f64::from((1u32 << bits) - 1));
                    cells[k] = t as u64;
                }
                let mut code = 0u64;
                for b in (0..bits).rev() {
                    for cell in &cells[..dims] {
                        code = (code << 1) | ((cell >> b) & 1);
                    }
                }
                (code, j)
            })
            .collect();
        debug_assert_eq!(keyed.len(), nq);
        keyed.par_sort_unstable();
        keyed.into_iter().map(|(_, j)| j).collect()
    }

    /// Whether a tree search would scan so large a share of the points that scanning them all
    /// in cache-friendly blocks is cheaper. Decided from a few evenly spread probe queries.
    fn tree_visits_most(&self, queries: &[F], nq: usize, params: &KnnParams) -> bool {
        if self.m < 8 || self.n < 2048 || nq < 256 || params.eps > 0.0 {
            return false;
        }
        let probes = 32usize;
        let m = self.m;
        let k = params.k.min(self.n);
        let scanned = with_metric!(self, params.p, |metric, geom| {
            let mut walker = Walker::new(self, metric, geom, F::from_f64(1.0));
            let mut cand = KBest::new(k, F::INFINITY, k);
            for j in 0..probes {
                let qi = j * nq / probes;
                let q = &queries[qi * m..(qi + 1) * m];
                cand.reset(F::INFINITY);
                if let Some(root) = self.root() {
                    if walker.start(q, false) <= cand.bound() {
                        walker.knn(root, &mut cand);
                    }
                }
            }
            walker.scanned
        });
        let share = scanned as f64 / (probes * self.n) as f64;
        // Ranking a point costs the tree's leaf scan (with its descent) about seven times what
        // it costs the pre-filtered Euclidean scan, and about as much as the plain scan.
        let threshold = if self.prefilters(params.p) {
            PREFILTERED_SHARE
        } else {
            PLAIN_SHARE
        };
        share > threshold
    }

    /// Answers `queries` by the tree's descent or, for `search.brute`, the plain blocked scan,
    /// under a metric and geometry fixed at compile time.
    fn knn_with<M: Metric<F>, G: Geometry<F>>(
        &self,
        metric: M,
        geom: G,
        search: &KnnSearch<F>,
        queries: &[F],
        distances: &mut [F],
        indices: &mut [usize],
    ) {
        let (m, n) = (self.m, self.n);
        let KnnSearch {
            p,
            k,
            upper,
            epsfac,
            brute,
        } = *search;
        self.for_query_chunks(
            queries,
            k,
            upper,
            (distances, indices),
            || Walker::new(self, metric, geom, epsfac),
            |walker, heaps, qs, ds, is| {
                let count = qs.len() / m;
                if brute {
                    self.brute_chunk(walker, qs, &mut heaps[..count], upper);
                } else if k == 1 {
                    for (j, q) in qs.chunks_exact(m).enumerate() {
                        let mut best = Nearest::new(upper);
                        if let Some(root) = self.root() {
                            if walker.start(q, false) <= best.bound() * epsfac {
                                walker.knn(root, &mut best);
                            }
                        }
                        if let Some((r, i)) = best.found() {
                            ds[j] = p.distance_of(r);
                            is[j] = i as usize;
                        } else {
                            ds[j] = F::INFINITY;
                            is[j] = n;
                        }
                    }
                    return;
                } else {
                    for (q, heap) in qs.chunks_exact(m).zip(heaps.iter_mut()) {
                        heap.reset(upper);
                        if let Some(root) = self.root() {
                            if walker.start(q, false) <= heap.bound() * epsfac {
                                walker.knn(root, heap);
                            }
                        }
                    }
                }
                write_answers(p, n, k, &mut heaps[..count], ds, is);
            },
        );
    }

    /// Scans every point for a chunk of queries, block by block.
    fn brute_chunk<M: Metric<F>, G: Geometry<F>>(
        &self,
        walker: &mut Walker<'_, F, M, G>,
        qs: &[F],
        heaps: &mut [KBest<F>],
        upper: F,
    ) {
        let m = self.m;
        let mut wrapped = vec![F::ZERO; qs.len()];
        for (w, q) in wrapped.chunks_exact_mut(m).zip(qs.chunks_exact(m)) {
            self.wrap(q, w);
        }
        for heap in heaps.iter_mut() {
            heap.reset(upper);
        }
        // Each block is transposed (one column per axis), so that the inner loop runs over
        // points and vectorises. Every point still accumulates its terms exactly as
        // `point_rank` does (axis k into lane k % 4, lanes closed as (l0 + l1) + (l2 + l3)),
        // so the ranks are bit-identical to the tree's.
        let (metric, geom) = (walker.metric, walker.geom);
        let mut columns = vec![F::ZERO; BRUTE_BLOCK * m];
        let mut lanes = [F::ZERO; 4 * BRUTE_BLOCK];
        for (b, block) in self.points.chunks(BRUTE_BLOCK * m).enumerate() {
            let ids = &self.indices[b * BRUTE_BLOCK..];
            let count = block.len() / m;
            for (j, row) in block.chunks_exact(m).enumerate() {
                for (d, &v) in row.iter().enumerate() {
                    columns[d * count + j] = v;
                }
            }
            for (q, heap) in wrapped.chunks_exact(m).zip(heaps.iter_mut()) {
                lanes[..4 * count].fill(F::ZERO);
                for (d, &qd) in q.iter().enumerate() {
                    let lane = &mut lanes[(d % 4) * count..(d % 4 + 1) * count];
                    let col = &columns[d * count..(d + 1) * count];
                    for (acc, &x) in lane.iter_mut().zip(col) {
                        *acc = metric.combine(*acc, metric.term(geom.diff(x, qd, d)));
                    }
                }
                let (l0, rest) = lanes.split_at(count);
                let (l1, rest) = rest.split_at(count);
                let (l2, l3) = rest.split_at(count);
                for j in 0..count {
                    let r =
                        metric.combine(metric.combine(l0[j], l1[j]), metric.combine(l2[j], l3[j]));
                    if r <= heap.bound() {
                        heap.offer(r, ids[j]);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::BuildParams;

    /// Uniform points in `[0, 1)^m` from a fixed generator.
    fn uniform(seed: u64, n: usize, m: usize) -> Vec<f64> {
        let mut s = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (0..n * m)
            .map(|_| {
                s = s
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (s >> 11) as f64 / (1u64 << 53) as f64
            })
            .collect()
    }

    #[test]
    fn auto_walks_the_tree_in_low_dimensions_and_scans_in_high() {
        let (n, nq) = (4096, 512);
        let kp = KnnParams::new(5);
        // 8-D clustered along one axis: the tree prunes almost everything.
        let mut low = uniform(1, n, 8);
        for (i, v) in low.iter_mut().enumerate() {
            if i % 8 != 0 {
                *v *= 1e-3;
            }
        }
        let tree = KdTree::build(&low, 8, BuildParams::default()).unwrap();
        assert!(!tree.tree_visits_most(&low[..nq * 8], nq, &kp));
        // 48-D uniform: every query's ball reaches most leaves.
        let high = uniform(2, n, 48);
        let tree = KdTree::build(&high, 48, BuildParams::default()).unwrap();
        assert!(tree.tree_visits_most(&uniform(3, nq, 48), nq, &kp));
        // The guards: few queries, few points, low dimension or approximate search walk the
        // tree whatever the data.
        assert!(!tree.tree_visits_most(&uniform(3, 100, 48), 100, &kp));
        let approx = KnnParams { eps: 0.5, ..kp };
        assert!(!tree.tree_visits_most(&uniform(3, nq, 48), nq, &approx));
    }
}
