//! What every query shares: the walk down the tree, the choice of metric, the checks on the
//! query points.
//!
//! Every query walks the tree depth first, keeping per-axis distance terms from the query to
//! the current cell (Arya & Mount's incremental bound: only the split axis changes from a node
//! to its child). Queries run in parallel over fixed chunks of query points; each query is
//! answered independently, so results never depend on the thread count. The queries
//! themselves live in [`crate::knn`] (k nearest neighbours) and [`crate::radius`] (radius
//! search and pair counting).

use rayon::prelude::*;

use crate::candidates::Candidates;
use crate::error::NeighborsError;
use crate::float::Float;
use crate::metric::{combine_terms, point_rank, Geometry, Metric};
use crate::tree::KdTree;

/// Queries handled together by one task.
pub(crate) const QUERY_CHUNK: usize = 64;

/// Per-thread state of a walk down the tree for one query at a time.
pub(crate) struct Walker<'a, F: Float, M, G> {
    pub(crate) tree: &'a KdTree<F>,
    pub(crate) metric: M,
    pub(crate) geom: G,
    pub(crate) epsfac: F,
    pub(crate) q: Vec<F>,
    pub(crate) near: Vec<F>,
    pub(crate) far: Vec<F>,
    pub(crate) lo: Vec<F>,
    pub(crate) hi: Vec<F>,
    pub(crate) scanned: usize,
}

impl<'a, F: Float, M: Metric<F>, G: Geometry<F>> Walker<'a, F, M, G> {
    pub(crate) fn new(tree: &'a KdTree<F>, metric: M, geom: G, epsfac: F) -> Self {
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
    pub(crate) fn start(&mut self, q: &[F], with_far: bool) -> F {
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
    pub(crate) fn scan<C: Candidates<F>>(&mut self, start: usize, end: usize, cand: &mut C) {
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
}

/// Calls `$body` with `$metric` and `$geom` bound to the concrete metric and geometry of
/// `$p` and the tree, so that each combination is compiled separately.
macro_rules! with_metric {
    ($tree:expr, $p:expr, |$metric:ident, $geom:ident| $body:expr) => {{
        use $crate::metric::{
            Chebyshev, Euclidean, GeneralP, Manhattan, Minkowski, Open, Periodic,
        };
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
pub(crate) use with_metric;

impl<F: Float> KdTree<F> {
    /// The number of query rows, after checking their width and values.
    pub(crate) fn check_queries(&self, queries: &[F]) -> Result<usize, NeighborsError> {
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
}
