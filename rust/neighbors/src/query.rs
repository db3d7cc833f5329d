//! Queries: k nearest neighbours, radius search and neighbour counting.
//!
//! Every query walks the tree depth first, nearest child first, keeping per-axis distance terms
//! from the query to the current cell (Arya & Mount's incremental bound: only the split axis
//! changes from a node to its child). Queries run in parallel over fixed chunks of query
//! points; each query is answered independently, so results never depend on the thread count.
//! Ties between equally distant points are broken by the smaller input index, which makes the
//! answer unique: the tree and the brute-force path return identical results.

use rayon::prelude::*;
use sapwood_mem::{try_vec, try_with_capacity};

use crate::brute::Prepared;
use crate::error::NeighborsError;
use crate::float::Float;
use crate::metric::{
    combine_terms, point_rank, Chebyshev, Euclidean, GeneralP, Geometry, Manhattan, Metric,
    Minkowski, Open, Periodic,
};
use crate::tree::{KdTree, Sub};

/// Queries handled together by one task.
const QUERY_CHUNK: usize = 64;
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

/// The order of the neighbours of each query in a radius search.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RadiusOrder {
    /// The order the tree finds them in (fastest, deterministic).
    #[default]
    Unsorted,
    /// By input index.
    ByIndex,
    /// By distance, ties by index.
    ByDistance,
}

/// Neighbours of many queries as flat arrays: those of query `i` are
/// `indices[offsets[i]..offsets[i + 1]]` (and the same range of `distances`).
#[derive(Clone, Debug, PartialEq)]
pub struct RadiusNeighbours<F> {
    /// `n_queries + 1` offsets into `indices`.
    pub offsets: Vec<usize>,
    /// Input row index of each neighbour.
    pub indices: Vec<usize>,
    /// Distance of each neighbour, when asked for.
    pub distances: Option<Vec<F>>,
}

/// The k best candidates seen so far.
pub(crate) trait Candidates<F: Float> {
    /// A point must have a rank `<=` this to be offered.
    fn bound(&self) -> F;
    /// Offers a point of rank `r` and input index `i`.
    fn offer(&mut self, r: F, i: u32);
}

#[inline(always)]
fn before<F: Float>(a: (F, u32), b: (F, u32)) -> bool {
    a.0 < b.0 || (a.0 == b.0 && a.1 < b.1)
}

/// The single nearest point (k = 1).
struct Nearest<F> {
    best: (F, u32),
    found: bool,
}

impl<F: Float> Candidates<F> for Nearest<F> {
    #[inline(always)]
    fn bound(&self) -> F {
        self.best.0
    }
    #[inline(always)]
    fn offer(&mut self, r: F, i: u32) {
        if (self.found && before((r, i), self.best)) || (!self.found && r < self.best.0) {
            self.best = (r, i);
            self.found = true;
        }
    }
}

/// A bounded max-heap of `(rank, index)`, reused across queries.
pub(crate) struct KBest<F> {
    k: usize,
    upper: F,
    heap: Vec<(F, u32)>,
}

impl<F: Float> KBest<F> {
    pub(crate) fn reset(&mut self, upper: F) {
        self.upper = upper;
        self.heap.clear();
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        loop {
            let l = 2 * i + 1;
            if l >= n {
                break;
            }
            let r = l + 1;
            let c = if r < n && before(self.heap[l], self.heap[r]) {
                r
            } else {
                l
            };
            if before(self.heap[i], self.heap[c]) {
                self.heap.swap(i, c);
                i = c;
            } else {
                break;
            }
        }
    }

    fn sorted(&mut self) -> &[(F, u32)] {
        self.heap
            .sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        &self.heap
    }
}

impl<F: Float> Candidates<F> for KBest<F> {
    #[inline(always)]
    fn bound(&self) -> F {
        if self.heap.len() < self.k {
            self.upper
        } else {
            self.heap[0].0
        }
    }

    #[inline(always)]
    fn offer(&mut self, r: F, i: u32) {
        if self.heap.len() < self.k {
            if r < self.upper {
                self.heap.push((r, i));
                let mut c = self.heap.len() - 1;
                while c > 0 {
                    let parent = (c - 1) / 2;
                    if before(self.heap[parent], self.heap[c]) {
                        self.heap.swap(parent, c);
                        c = parent;
                    } else {
                        break;
                    }
                }
            }
        } else if before((r, i), self.heap[0]) {
            self.heap[0] = (r, i);
            self.sift_down(0);
        }
    }
}

/// Per-thread state of a walk down the tree for one query at a time.
struct Walker<'a, F: Float, M, G> {
    tree: &'a KdTree<F>,
    metric: M,
    geom: G,
    epsfac: F,
    q: Vec<F>,
    near: Vec<F>,
    far: Vec<F>,
    lo: Vec<F>,
    hi: Vec<F>,
    scanned: usize,
}

impl<'a, F: Float, M: Metric<F>, G: Geometry<F>> Walker<'a, F, M, G> {
    fn new(tree: &'a KdTree<F>, metric: M, geom: G, epsfac: F) -> Self {
        let m = tree.m;
        Self {
            tree,
            metric,
            geom,
            epsfac,
            q: vec![F::ZERO; m],
            near: vec![F::ZERO; m],
            far: vec![F::ZERO; m],
            lo: vec![F::ZERO; m],
            hi: vec![F::ZERO; m],
            scanned: 0,
        }
    }

    /// Starts a query; returns the lower bound of its distance to the root cell.
    fn start(&mut self, q: &[F], with_far: bool) -> F {
        self.tree.wrap(q, &mut self.q);
        self.lo.copy_from_slice(&self.tree.mins);
        self.hi.copy_from_slice(&self.tree.maxes);
        for k in 0..self.tree.m {
            self.near[k] = self
                .metric
                .term(self.geom.gap(self.q[k], self.lo[k], self.hi[k], k));
            if with_far {
                self.far[k] = self
                    .metric
                    .term(self.geom.reach(self.q[k], self.lo[k], self.hi[k], k));
            }
        }
        combine_terms(self.metric, &self.near)
    }

    #[inline(always)]
    fn scan<C: Candidates<F>>(&mut self, start: usize, end: usize, cand: &mut C) {
        match self.tree.m {
            2 => self.scan_fixed::<2, C>(start, end, cand),
            3 => self.scan_fixed::<3, C>(start, end, cand),
            4 => self.scan_fixed::<4, C>(start, end, cand),
            _ => self.scan_any(start, end, cand),
        }
    }

    /// The leaf scan with the dimension known at compile time.
    #[inline(always)]
    fn scan_fixed<const D: usize, C: Candidates<F>>(
        &mut self,
        start: usize,
        end: usize,
        cand: &mut C,
    ) {
        let mut q = [F::ZERO; D];
        q.copy_from_slice(&self.q[..D]);
        let pts = &self.tree.points[start * D..end * D];
        let ids = &self.tree.indices[start..end];
        for (row, &i) in pts.chunks_exact(D).zip(ids) {
            let acc = point_rank(self.metric, self.geom, row, &q);
            if acc <= cand.bound() {
                cand.offer(acc, i);
            }
        }
        self.scanned += end - start;
    }

    fn scan_any<C: Candidates<F>>(&mut self, start: usize, end: usize, cand: &mut C) {
        let m = self.tree.m;
        let pts = &self.tree.points[start * m..end * m];
        let ids = &self.tree.indices[start..end];
        for (row, &i) in pts.chunks_exact(m).zip(ids) {
            let r = point_rank(self.metric, self.geom, row, &self.q);
            if r <= cand.bound() {
                cand.offer(r, i);
            }
        }
        self.scanned += end - start;
    }

    fn knn<C: Candidates<F>>(&mut self, sub: Sub, cand: &mut C) {
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

    /// Sets the cell of a child along axis `k` and refreshes both bound terms.
    #[inline(always)]
    fn enter(&mut self, k: usize, lo: F, hi: F) {
        self.lo[k] = lo;
        self.hi[k] = hi;
        let q = self.q[k];
        self.near[k] = self.metric.term(self.geom.gap(q, lo, hi, k));
        self.far[k] = self.metric.term(self.geom.reach(q, lo, hi, k));
    }

    fn push_all(&mut self, start: usize, end: usize, with_dist: bool, out: &mut Vec<(u32, F)>) {
        let m = self.tree.m;
        for pos in start..end {
            let i = self.tree.indices[pos];
            let r = if with_dist {
                let row = &self.tree.points[pos * m..(pos + 1) * m];
                point_rank(self.metric, self.geom, row, &self.q)
            } else {
                F::ZERO
            };
            out.push((i, r));
        }
    }

    fn ball(&mut self, sub: Sub, r: F, with_dist: bool, out: &mut Vec<(u32, F)>) {
        let min_d = combine_terms(self.metric, &self.near);
        if min_d > r * self.epsfac {
            return;
        }
        let max_d = combine_terms(self.metric, &self.far);
        if max_d < r / self.epsfac {
            self.push_all(sub.start, sub.end, with_dist, out);
            return;
        }
        if sub.leaf {
            let m = self.tree.m;
            for pos in sub.start..sub.end {
                let row = &self.tree.points[pos * m..(pos + 1) * m];
                let d = point_rank(self.metric, self.geom, row, &self.q);
                if d <= r / self.epsfac {
                    out.push((self.tree.indices[pos], d));
                }
            }
            self.scanned += sub.end - sub.start;
            return;
        }
        let nd = self.tree.nodes[sub.node];
        let (lower_sub, upper_sub) = self.tree.children(sub);
        let k = nd.dim();
        let (lo, hi, near, far) = (self.lo[k], self.hi[k], self.near[k], self.far[k]);
        self.enter(k, lo, nd.lower_max);
        self.ball(lower_sub, r, with_dist, out);
        self.enter(k, nd.upper_min, hi);
        self.ball(upper_sub, r, with_dist, out);
        (self.lo[k], self.hi[k], self.near[k], self.far[k]) = (lo, hi, near, far);
    }

    fn count(&mut self, sub: Sub, radii: &[F], weights: &Weights<'_>, w: f64, hist: &mut [f64]) {
        let min_d = combine_terms(self.metric, &self.near);
        let a = radii.partition_point(|&r| r < min_d);
        if a == radii.len() {
            return;
        }
        let max_d = combine_terms(self.metric, &self.far);
        let b = radii.partition_point(|&r| r < max_d);
        if a == b {
            hist[b] += w * weights.range(sub.start, sub.end);
            return;
        }
        if sub.leaf {
            let m = self.tree.m;
            for pos in sub.start..sub.end {
                let row = &self.tree.points[pos * m..(pos + 1) * m];
                let d = point_rank(self.metric, self.geom, row, &self.q);
                let j = radii.partition_point(|&r| r < d);
                if j < radii.len() {
                    hist[j] += w * weights.at(pos);
                }
            }
            return;
        }
        let nd = self.tree.nodes[sub.node];
        let (lower_sub, upper_sub) = self.tree.children(sub);
        let k = nd.dim();
        let (lo, hi, near, far) = (self.lo[k], self.hi[k], self.near[k], self.far[k]);
        self.enter(k, lo, nd.lower_max);
        self.count(lower_sub, radii, weights, w, hist);
        self.enter(k, nd.upper_min, hi);
        self.count(upper_sub, radii, weights, w, hist);
        (self.lo[k], self.hi[k], self.near[k], self.far[k]) = (lo, hi, near, far);
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

/// Weights of the tree's points in leaf order, with prefix sums for whole cells.
struct Weights<'a> {
    leaf_order: Option<(&'a [f64], &'a [f64])>,
}

impl Weights<'_> {
    #[inline(always)]
    fn at(&self, pos: usize) -> f64 {
        self.leaf_order.map_or(1.0, |(w, _)| w[pos])
    }
    #[inline(always)]
    fn range(&self, start: usize, end: usize) -> f64 {
        self.leaf_order
            .map_or((end - start) as f64, |(_, pre)| pre[end] - pre[start])
    }
}

/// Calls `$body` with `$metric` and `$geom` bound to the concrete metric and geometry of
/// `$p` and the tree, so that each combination is compiled separately.
macro_rules! with_metric {
    ($tree:expr, $p:expr, |$metric:ident, $geom:ident| $body:expr) => {{
        let tree = $tree;
        let periodic = Periodic {
            size: &tree.boxsize,
            half: &tree.half_box,
        };
        let is_periodic = !tree.boxsize.is_empty();
        match ($p, is_periodic) {
            (Minkowski::L1, false) => {
                let ($metric, $geom) = (Manhattan, Open);
                $body
            }
            (Minkowski::L2, false) => {
                let ($metric, $geom) = (Euclidean, Open);
                $body
            }
            (Minkowski::LInf, false) => {
                let ($metric, $geom) = (Chebyshev, Open);
                $body
            }
            (Minkowski::P(p), false) => {
                let ($metric, $geom) = (GeneralP(F::from_f64(p)), Open);
                $body
            }
            (Minkowski::L1, true) => {
                let ($metric, $geom) = (Manhattan, periodic);
                $body
            }
            (Minkowski::L2, true) => {
                let ($metric, $geom) = (Euclidean, periodic);
                $body
            }
            (Minkowski::LInf, true) => {
                let ($metric, $geom) = (Chebyshev, periodic);
                $body
            }
            (Minkowski::P(p), true) => {
                let ($metric, $geom) = (GeneralP(F::from_f64(p)), periodic);
                $body
            }
        }
    }};
}

impl<F: Float> KdTree<F> {
    fn check_queries(&self, queries: &[F]) -> Result<usize, NeighborsError> {
        let m = self.m;
        if !queries.len().is_multiple_of(m) {
            return Err(NeighborsError::InvalidInput(format!(
                "queries have {} values, not a multiple of the tree's {m} columns",
                queries.len()
            )));
        }
        if queries.par_iter().any(|v| !v.is_finite()) {
            return Err(NeighborsError::InvalidInput(
                "query points must be finite, check for nan or inf values".into(),
            ));
        }
        Ok(queries.len() / m)
    }

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
        let upper = params.p.rank_of(F::from_f64(params.distance_upper_bound));
        let epsfac: F = params.p.eps_factor(params.eps);
        let brute = match params.strategy {
            Strategy::Tree => false,
            Strategy::Brute => true,
            Strategy::Auto => self.tree_visits_most(queries, nq, params),
        };
        if !brute && nq >= LOCALITY_MIN_QUERIES && self.n >= LOCALITY_MIN_POINTS {
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
                self.knn_with(
                    metric, geom, params.p, &sorted, k, upper, epsfac, false, &mut d, &mut i,
                )
            });
            for (pos, &j) in order.iter().enumerate() {
                distances[j * k..(j + 1) * k].copy_from_slice(&d[pos * k..(pos + 1) * k]);
                indices[j * k..(j + 1) * k].copy_from_slice(&i[pos * k..(pos + 1) * k]);
            }
            return Ok(());
        }
        if brute && self.prefilters(params.p) {
            if let Some(prep) = Prepared::new(self) {
                self.knn_prefiltered(&prep, queries, k, upper, distances, indices);
                return Ok(());
            }
        }
        with_metric!(self, params.p, |metric, geom| {
            self.knn_with(
                metric, geom, params.p, queries, k, upper, epsfac, brute, distances, indices,
            )
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
        queries: &[F],
        k: usize,
        upper: F,
        distances: &mut [F],
        indices: &mut [usize],
    ) {
        let (m, n) = (self.m, self.n);
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
                .map(|_| KBest {
                    k,
                    upper,
                    heap: Vec::with_capacity(k.min(self.n + 1)),
                })
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
            let mut cand = KBest {
                k,
                upper: F::INFINITY,
                heap: Vec::with_capacity(k),
            };
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

    #[allow(clippy::too_many_arguments)]
    fn knn_with<M: Metric<F>, G: Geometry<F>>(
        &self,
        metric: M,
        geom: G,
        p: Minkowski,
        queries: &[F],
        k: usize,
        upper: F,
        epsfac: F,
        brute: bool,
        distances: &mut [F],
        indices: &mut [usize],
    ) {
        let (m, n) = (self.m, self.n);
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
                        let mut best = Nearest {
                            best: (upper, u32::MAX),
                            found: false,
                        };
                        if let Some(root) = self.root() {
                            if walker.start(q, false) <= best.bound() * epsfac {
                                walker.knn(root, &mut best);
                            }
                        }
                        if best.found {
                            ds[j] = p.distance_of(best.best.0);
                            is[j] = best.best.1 as usize;
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

    /// Every point within distance `r[i]` of query `i` (`r` has one entry, or one per query).
    ///
    /// With `eps > 0` points up to `r / (1 + eps)` are always found, and points up to
    /// `r (1 + eps)` may be returned.
    ///
    /// # Errors
    /// As [`KdTree::knn`]; `InvalidParameter` for a radius that is negative or NaN or an `r`
    /// of the wrong length.
    pub fn within(
        &self,
        queries: &[F],
        r: &[f64],
        p: Minkowski,
        eps: f64,
        with_distances: bool,
        order: RadiusOrder,
    ) -> Result<RadiusNeighbours<F>, NeighborsError> {
        let nq = self.check_queries(queries)?;
        if r.len() != 1 && r.len() != nq {
            return Err(NeighborsError::InvalidParameter(format!(
                "r has {} entries for {nq} queries",
                r.len()
            )));
        }
        if r.iter().any(|v| v.is_nan()) {
            return Err(NeighborsError::InvalidParameter("r must not be NaN".into()));
        }
        if eps.is_nan() || eps < 0.0 {
            return Err(NeighborsError::InvalidParameter(format!(
                "eps must be >= 0, got {eps}"
            )));
        }
        let m = self.m;
        let epsfac: F = p.eps_factor(eps);
        let chunks: Vec<(Vec<usize>, Vec<usize>, Vec<F>)> =
            with_metric!(self, p, |metric, geom| {
                queries
                    .par_chunks(QUERY_CHUNK * m)
                    .enumerate()
                    .map_init(
                        || (Walker::new(self, metric, geom, epsfac), Vec::new()),
                        |(walker, found), (c, qs)| {
                            let mut counts = Vec::with_capacity(qs.len() / m);
                            let mut ids = Vec::new();
                            let mut dists = Vec::new();
                            for (j, q) in qs.chunks_exact(m).enumerate() {
                                if sapwood_mem::memory_low() {
                                    // The lists below grow without limit; once memory has
                                    // run out, stop (the checkpoint after the loop reports it).
                                    break;
                                }
                                let qi = c * QUERY_CHUNK + j;
                                let radius = if r.len() == 1 { r[0] } else { r[qi] };
                                found.clear();
                                if let Some(root) = self.root().filter(|_| radius >= 0.0) {
                                    let rr = p.rank_of(F::from_f64(radius));
                                    walker.start(q, true);
                                    walker.ball(root, rr, with_distances, found);
                                }
                                match order {
                                    RadiusOrder::Unsorted => {}
                                    RadiusOrder::ByIndex => found.sort_unstable_by_key(|e| e.0),
                                    RadiusOrder::ByDistance => found.sort_unstable_by(|a, b| {
                                        a.1.total_cmp(&b.1).then(a.0.cmp(&b.0))
                                    }),
                                }
                                counts.push(found.len());
                                ids.extend(found.iter().map(|e| e.0 as usize));
                                if with_distances {
                                    dists.extend(found.iter().map(|e| p.distance_of(e.1)));
                                }
                            }
                            (counts, ids, dists)
                        },
                    )
                    .collect()
            });
        // Each chunk's lists grew as neighbours were found; stop if that drew on the reserve.
        sapwood_mem::checkpoint("the radius neighbours")?;
        let total: usize = chunks.iter().map(|c| c.1.len()).sum();
        let mut offsets = try_with_capacity(nq + 1, "the radius neighbour offsets")?;
        let mut indices = try_with_capacity(total, "the radius neighbour indices")?;
        let mut distances = try_with_capacity(
            if with_distances { total } else { 0 },
            "the radius neighbour distances",
        )?;
        offsets.push(0);
        for (counts, ids, dists) in chunks {
            for c in counts {
                offsets.push(offsets[offsets.len() - 1] + c);
            }
            indices.extend(ids);
            distances.extend(dists);
        }
        Ok(RadiusNeighbours {
            offsets,
            indices,
            distances: with_distances.then_some(distances),
        })
    }

    /// Weighted pair counts: entry `j` is `Σ w_q · w_x` over query rows `q` and tree points
    /// `x` with `d(q, x) <= radii[j]`. `radii` must be non-decreasing; weights default to 1.
    ///
    /// # Errors
    /// As [`KdTree::knn`]; `InvalidParameter` for unsorted or NaN radii or weights of the
    /// wrong length.
    pub fn count_within(
        &self,
        queries: &[F],
        query_weights: Option<&[f64]>,
        tree_weights: Option<&[f64]>,
        radii: &[f64],
        p: Minkowski,
    ) -> Result<Vec<f64>, NeighborsError> {
        let nq = self.check_queries(queries)?;
        if radii.iter().any(|v| v.is_nan()) {
            return Err(NeighborsError::InvalidParameter("r must not be NaN".into()));
        }
        if radii.windows(2).any(|w| w[1] < w[0]) {
            return Err(NeighborsError::InvalidParameter(
                "radii must be non-decreasing".into(),
            ));
        }
        if query_weights.is_some_and(|w| w.len() != nq) {
            return Err(NeighborsError::InvalidParameter(format!(
                "the other tree's weights must have {nq} entries"
            )));
        }
        if tree_weights.is_some_and(|w| w.len() != self.n) {
            return Err(NeighborsError::InvalidParameter(format!(
                "the tree's weights must have {} entries",
                self.n
            )));
        }
        let nr = radii.len();
        let mut hist = vec![0.0f64; nr];
        let Some(root) = self.root().filter(|_| nr > 0) else {
            return Ok(hist);
        };
        let (leaf_w, prefix) = match tree_weights {
            None => (Vec::new(), Vec::new()),
            Some(w) => {
                let leaf: Vec<f64> = self.indices.iter().map(|&i| w[i as usize]).collect();
                let mut pre = Vec::with_capacity(self.n + 1);
                pre.push(0.0);
                let mut acc = 0.0;
                for &v in &leaf {
                    acc += v;
                    pre.push(acc);
                }
                (leaf, pre)
            }
        };
        let weights = Weights {
            leaf_order: tree_weights.map(|_| (leaf_w.as_slice(), prefix.as_slice())),
        };
        let radii_rank: Vec<F> = radii
            .iter()
            .map(|&v| {
                if v < 0.0 {
                    F::ZERO - F::INFINITY
                } else {
                    p.rank_of(F::from_f64(v))
                }
            })
            .collect();
        let m = self.m;
        let parts: Vec<Vec<f64>> = with_metric!(self, p, |metric, geom| {
            queries
                .par_chunks(QUERY_CHUNK * m)
                .enumerate()
                .map_init(
                    || Walker::new(self, metric, geom, F::from_f64(1.0)),
                    |walker, (c, qs)| {
                        let mut h = vec![0.0f64; nr];
                        for (j, q) in qs.chunks_exact(m).enumerate() {
                            let w = query_weights.map_or(1.0, |w| w[c * QUERY_CHUNK + j]);
                            walker.start(q, true);
                            walker.count(root, &radii_rank, &weights, w, &mut h);
                        }
                        h
                    },
                )
                .collect()
        });
        for part in parts {
            for (a, b) in hist.iter_mut().zip(part) {
                *a += b;
            }
        }
        for j in 1..nr {
            hist[j] += hist[j - 1];
        }
        Ok(hist)
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
