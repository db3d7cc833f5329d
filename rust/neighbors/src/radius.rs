//! Radius queries: every point within a radius of each query, and (weighted) pair counts
//! for many radii at once.
//!
//! Both walk the whole tree once per query, taking a cell wholesale when it lies entirely
//! inside the radius and skipping it when it lies entirely outside.

use rayon::prelude::*;
use sapwood_mem::try_with_capacity;

use crate::error::NeighborsError;
use crate::float::Float;
use crate::metric::{combine_terms, point_rank, Geometry, Metric, Minkowski};
use crate::query::{with_metric, Walker, QUERY_CHUNK};
use crate::tree::{KdTree, Sub};

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

impl<F: Float, M: Metric<F>, G: Geometry<F>> Walker<'_, F, M, G> {
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

impl<F: Float> KdTree<F> {
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
