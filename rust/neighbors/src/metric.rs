//! Minkowski distances and the geometry of the space (open or periodic).
//!
//! Everything inside the tree works on the *rank* of a distance: `Σ|dᵢ|ᵖ` for finite `p`
//! (so no root is taken per point) and `max|dᵢ|` for `p = ∞`. Lower and upper bounds of the
//! distance from a query to a cell are built from the same per-axis terms as point distances,
//! in the same order, so a computed bound never exceeds a computed point distance inside the
//! cell: pruning is exact, not merely exact up to rounding.

use crate::error::NeighborsError;
use crate::float::Float;

/// The Minkowski order `p` of a distance, `1 ≤ p ≤ ∞`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Minkowski {
    /// Manhattan distance (p = 1).
    L1,
    /// Euclidean distance (p = 2).
    L2,
    /// Chebyshev distance (p = ∞).
    LInf,
    /// Any other finite `p > 1`.
    P(f64),
}

impl Minkowski {
    /// The metric of order `p`.
    ///
    /// # Errors
    /// `InvalidParameter` when `p` is NaN or below 1.
    pub fn new(p: f64) -> Result<Self, NeighborsError> {
        if p.is_nan() || p < 1.0 {
            return Err(NeighborsError::InvalidParameter(format!(
                "p must be >= 1 (a Minkowski p-norm), got {p}"
            )));
        }
        Ok(if p == 1.0 {
            Self::L1
        } else if p == 2.0 {
            Self::L2
        } else if p.is_infinite() {
            Self::LInf
        } else {
            Self::P(p)
        })
    }

    /// The order `p` as a number.
    pub fn p(self) -> f64 {
        match self {
            Self::L1 => 1.0,
            Self::L2 => 2.0,
            Self::LInf => f64::INFINITY,
            Self::P(p) => p,
        }
    }

    /// A distance turned into the rank space the tree compares in (`dᵖ`, or `d` for ∞).
    pub fn rank_of<F: Float>(self, d: F) -> F {
        match self {
            Self::L1 | Self::LInf => d,
            Self::L2 => d * d,
            Self::P(p) => {
                if d.is_finite() {
                    d.powf(F::from_f64(p))
                } else {
                    d
                }
            }
        }
    }

    /// A rank turned back into a distance.
    pub fn distance_of<F: Float>(self, r: F) -> F {
        match self {
            Self::L1 | Self::LInf => r,
            Self::L2 => r.sqrt(),
            Self::P(p) => {
                if r.is_finite() {
                    r.powf(F::from_f64(1.0 / p))
                } else {
                    r
                }
            }
        }
    }

    /// The factor `1/(1+eps)ᵖ` that shrinks bounds for approximate search.
    pub(crate) fn eps_factor<F: Float>(self, eps: f64) -> F {
        let f = match self {
            Self::LInf | Self::L1 => 1.0 / (1.0 + eps),
            Self::L2 => 1.0 / ((1.0 + eps) * (1.0 + eps)),
            Self::P(p) => 1.0 / (1.0 + eps).powf(p),
        };
        F::from_f64(f)
    }
}

/// How per-axis terms `|d|ᵖ` are computed and combined into a rank.
pub(crate) trait Metric<F: Float>: Copy + Send + Sync {
    /// `|d|ᵖ` for a non-negative axis difference `d`.
    fn term(self, d: F) -> F;
    /// Combines a running rank with one more term (`+`, or `max` for ∞).
    fn combine(self, acc: F, t: F) -> F;
}

#[derive(Clone, Copy)]
pub(crate) struct Manhattan;
#[derive(Clone, Copy)]
pub(crate) struct Euclidean;
#[derive(Clone, Copy)]
pub(crate) struct Chebyshev;
#[derive(Clone, Copy)]
pub(crate) struct GeneralP<F>(pub F);

impl<F: Float> Metric<F> for Manhattan {
    #[inline(always)]
    fn term(self, d: F) -> F {
        d
    }
    #[inline(always)]
    fn combine(self, acc: F, t: F) -> F {
        acc + t
    }
}

impl<F: Float> Metric<F> for Euclidean {
    #[inline(always)]
    fn term(self, d: F) -> F {
        d * d
    }
    #[inline(always)]
    fn combine(self, acc: F, t: F) -> F {
        acc + t
    }
}

impl<F: Float> Metric<F> for Chebyshev {
    #[inline(always)]
    fn term(self, d: F) -> F {
        d
    }
    #[inline(always)]
    fn combine(self, acc: F, t: F) -> F {
        acc.max(t)
    }
}

impl<F: Float> Metric<F> for GeneralP<F> {
    #[inline(always)]
    fn term(self, d: F) -> F {
        d.powf(self.0)
    }
    #[inline(always)]
    fn combine(self, acc: F, t: F) -> F {
        acc + t
    }
}

/// The space: open (plain differences) or periodic along some axes.
pub(crate) trait Geometry<F: Float>: Copy + Send + Sync {
    /// |a − b| along axis `k` (minimum image when periodic).
    fn diff(self, a: F, b: F, k: usize) -> F;
    /// The smallest |x − q| along axis `k` over `x ∈ [lo, hi]`.
    fn gap(self, q: F, lo: F, hi: F, k: usize) -> F;
    /// An upper bound of |x − q| along axis `k` over `x ∈ [lo, hi]`.
    fn reach(self, q: F, lo: F, hi: F, k: usize) -> F;
}

#[inline(always)]
fn open_gap<F: Float>(q: F, lo: F, hi: F) -> F {
    if q < lo {
        lo - q
    } else if q > hi {
        q - hi
    } else {
        F::ZERO
    }
}

/// Ordinary Euclidean space.
#[derive(Clone, Copy)]
pub(crate) struct Open;

impl<F: Float> Geometry<F> for Open {
    #[inline(always)]
    fn diff(self, a: F, b: F, _k: usize) -> F {
        (a - b).abs()
    }
    #[inline(always)]
    fn gap(self, q: F, lo: F, hi: F, _k: usize) -> F {
        open_gap(q, lo, hi)
    }
    #[inline(always)]
    fn reach(self, q: F, lo: F, hi: F, _k: usize) -> F {
        (q - lo).abs().max((q - hi).abs())
    }
}

/// A box with periodic axes (`size[k] == 0` marks an open axis); data and queries lie in
/// `[0, size[k])` on periodic axes.
#[derive(Clone, Copy)]
pub(crate) struct Periodic<'a, F> {
    pub size: &'a [F],
    pub half: &'a [F],
}

impl<F: Float> Geometry<F> for Periodic<'_, F> {
    #[inline(always)]
    fn diff(self, a: F, b: F, k: usize) -> F {
        let d = (a - b).abs();
        let l = self.size[k];
        if l > F::ZERO && d > self.half[k] {
            l - d
        } else {
            d
        }
    }
    #[inline(always)]
    fn gap(self, q: F, lo: F, hi: F, k: usize) -> F {
        let l = self.size[k];
        let g = open_gap(q, lo, hi);
        if l > F::ZERO {
            g.min(lo - q + l).min(q + l - hi).max(F::ZERO)
        } else {
            g
        }
    }
    #[inline(always)]
    fn reach(self, q: F, lo: F, hi: F, k: usize) -> F {
        let l = self.size[k];
        let r0 = (q - lo).abs().max((q - hi).abs());
        if l > F::ZERO {
            let below = (q - l - lo).abs().max((q - l - hi).abs());
            let above = (q + l - lo).abs().max((q + l - hi).abs());
            r0.min(below).min(above).min(self.half[k])
        } else {
            r0
        }
    }
}

/// Folds one more term into lane `k % 4`.
#[inline(always)]
fn fold_lane<F: Float, M: Metric<F>>(metric: M, lanes: &mut [F; 4], k: usize, t: F) {
    lanes[k % 4] = metric.combine(lanes[k % 4], t);
}

/// Combines the four lanes as `(l0 ∘ l1) ∘ (l2 ∘ l3)`.
#[inline(always)]
fn close_lanes<F: Float, M: Metric<F>>(metric: M, lanes: [F; 4]) -> F {
    metric.combine(
        metric.combine(lanes[0], lanes[1]),
        metric.combine(lanes[2], lanes[3]),
    )
}

/// The rank of the distance between two points.
///
/// Terms are accumulated in four interleaved lanes (axis `k` into lane `k % 4`), which lets
/// the compiler use vector registers. Cell bounds ([`combine_terms`]) use the same lanes in the
/// same order, so a bound never exceeds the computed distance of a point inside the cell.
#[inline(always)]
pub(crate) fn point_rank<F: Float, M: Metric<F>, G: Geometry<F>>(
    metric: M,
    geom: G,
    a: &[F],
    b: &[F],
) -> F {
    let mut lanes = [F::ZERO; 4];
    let whole = a.len() / 4 * 4;
    for (c, (a4, b4)) in a[..whole]
        .chunks_exact(4)
        .zip(b[..whole].chunks_exact(4))
        .enumerate()
    {
        for j in 0..4 {
            let t = metric.term(geom.diff(a4[j], b4[j], 4 * c + j));
            lanes[j] = metric.combine(lanes[j], t);
        }
    }
    for k in whole..a.len() {
        fold_lane(metric, &mut lanes, k, metric.term(geom.diff(a[k], b[k], k)));
    }
    close_lanes(metric, lanes)
}

/// The rank made of per-axis terms (the same lanes as [`point_rank`]).
#[inline(always)]
pub(crate) fn combine_terms<F: Float, M: Metric<F>>(metric: M, terms: &[F]) -> F {
    let mut lanes = [F::ZERO; 4];
    for (k, &t) in terms.iter().enumerate() {
        fold_lane(metric, &mut lanes, k, t);
    }
    close_lanes(metric, lanes)
}
