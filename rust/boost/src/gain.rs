//! The regularised gain and leaf weight, written once and used by every split finder.
//!
//! These follow XGBoost's definitions: sums of gradients and hessians are kept in `f64`, the
//! parameters are `f32` (as XGBoost stores them), a leaf weight is an `f32`, and a split's loss
//! change is an `f32` computed as `gain(left) + gain(right) - gain(parent)` with no ½ factor and
//! no `gamma` term (gamma prunes afterwards, see [`crate::tree::Tree::prune`]).

use crate::param::TreeParams;

/// The smallest loss change a split must bring to be kept (XGBoost's `kRtEps`).
pub const RT_EPS: f32 = 1e-6;

/// Sums of first- and second-order gradients over a set of rows.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GradStats {
    /// Sum of gradients.
    pub grad: f64,
    /// Sum of hessians.
    pub hess: f64,
}

impl GradStats {
    /// Stats of explicit sums.
    pub fn new(grad: f64, hess: f64) -> Self {
        Self { grad, hess }
    }

    /// Adds one row's gradient pair.
    #[inline]
    pub fn add_pair(&mut self, grad: f32, hess: f32) {
        self.grad += f64::from(grad);
        self.hess += f64::from(hess);
    }

    /// Adds another set of sums.
    #[inline]
    pub fn add(&mut self, other: GradStats) {
        self.grad += other.grad;
        self.hess += other.hess;
    }

    /// Whether both sums are zero (a bin no row fell in, for one). Branch-free.
    #[inline]
    pub fn is_zero(&self) -> bool {
        (self.grad == 0.0) & (self.hess == 0.0)
    }

    /// `a - b`.
    #[inline]
    pub fn difference(a: GradStats, b: GradStats) -> GradStats {
        GradStats {
            grad: a.grad - b.grad,
            hess: a.hess - b.hess,
        }
    }

    /// Whether nothing has been accumulated yet (XGBoost tests the hessian only).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.hess == 0.0
    }
}

/// XGBoost's L1 soft threshold: `g - alpha` above `alpha`, `g + alpha` below `-alpha`, else 0.
#[inline(always)]
pub fn threshold_l1(g: f64, alpha: f64) -> f64 {
    if g > alpha {
        g - alpha
    } else if g < -alpha {
        g + alpha
    } else {
        0.0
    }
}

/// The parameters the gain and weight formulas read, held in `f32` as XGBoost holds them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SplitParams {
    /// L2 regularisation.
    pub reg_lambda: f32,
    /// L1 regularisation.
    pub reg_alpha: f32,
    /// Smallest hessian sum of a child.
    pub min_child_weight: f32,
    /// Largest absolute leaf weight before shrinkage (0 = no limit).
    pub max_delta_step: f32,
    /// Shrinkage of leaf values.
    pub learning_rate: f32,
    /// Smallest loss change a split keeps after pruning.
    pub gamma: f32,
    /// Whether monotone constraints are given (then every gain uses the weight-based
    /// formula, and weights are clipped to each node's [`Bounds`]).
    pub constrained: bool,
    /// Categorical features with fewer categories than this split one category off.
    pub max_cat_to_onehot: u32,
    /// Largest number of categories a partition split scans for on either side.
    pub max_cat_threshold: u32,
}

/// The interval a node's weights are clipped to under monotone constraints: unbounded at the
/// root, narrowed at each split on a constrained feature to either side of the mean of the
/// children's weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// Smallest weight.
    pub lower: f32,
    /// Largest weight.
    pub upper: f32,
}

impl Default for Bounds {
    fn default() -> Self {
        Self {
            lower: -f32::MAX,
            upper: f32::MAX,
        }
    }
}

impl Bounds {
    /// `w` clipped to the interval.
    #[inline(always)]
    pub fn clamp(&self, w: f32) -> f32 {
        if w < self.lower {
            self.lower
        } else if w > self.upper {
            self.upper
        } else {
            w
        }
    }

    /// The children's bounds after a split whose children weigh `left` and `right` (clipped,
    /// before shrinkage) on a feature with constraint `c`: both inherit these, and the mean of
    /// the two weights caps the side that must stay below the other.
    pub fn children(&self, c: i8, left: f32, right: f32) -> (Bounds, Bounds) {
        let mid = (left + right) / 2.0;
        let (mut l, mut r) = (*self, *self);
        if c < 0 {
            l.lower = mid;
            r.upper = mid;
        } else if c > 0 {
            l.upper = mid;
            r.lower = mid;
        }
        (l, r)
    }
}

impl SplitParams {
    /// The formula parameters of `params`; `max_delta_step` is replaced when the objective
    /// implies one (Poisson regression's 0.7) and the user left it at 0.
    #[allow(clippy::cast_possible_truncation)]
    pub fn from_tree_params(params: &TreeParams, implied_max_delta_step: Option<f64>) -> Self {
        let mds = match implied_max_delta_step {
            Some(v) if params.max_delta_step == 0.0 => v,
            _ => params.max_delta_step,
        };
        Self {
            reg_lambda: params.reg_lambda as f32,
            reg_alpha: params.reg_alpha as f32,
            min_child_weight: params.min_child_weight as f32,
            max_delta_step: mds as f32,
            learning_rate: params.learning_rate as f32,
            gamma: params.gamma as f32,
            constrained: !params.monotone_constraints.is_empty(),
            max_cat_to_onehot: params.max_cat_to_onehot,
            max_cat_threshold: params.max_cat_threshold,
        }
    }

    /// The optimal (unshrunk) leaf weight `-T(G, alpha) / (H + lambda)`, clipped to
    /// `max_delta_step`; 0 when the hessian sum is below `min_child_weight` or not positive.
    #[allow(clippy::cast_possible_truncation)]
    pub fn weight(&self, s: GradStats) -> f32 {
        if s.hess < f64::from(self.min_child_weight) || s.hess <= 0.0 {
            return 0.0;
        }
        let mut w = -threshold_l1(s.grad, f64::from(self.reg_alpha))
            / (s.hess + f64::from(self.reg_lambda));
        let mds = f64::from(self.max_delta_step);
        if mds != 0.0 {
            w = w.clamp(-mds, mds);
        }
        w as f32
    }

    /// The structure score of a node with sums `s` and weight `w`.
    ///
    /// Without `max_delta_step` this is `T(G, alpha)^2 / (H + lambda)`; with it, the loss at
    /// the clipped weight, `-(2 G w + (H + lambda) w^2)`, evaluated in `f32` as XGBoost does.
    #[allow(clippy::cast_possible_truncation)]
    pub fn gain_given_weight(&self, s: GradStats, w: f32) -> f32 {
        if s.hess <= 0.0 {
            return 0.0;
        }
        if self.max_delta_step == 0.0 && !self.constrained {
            let t = threshold_l1(s.grad, f64::from(self.reg_alpha));
            (t * t / (s.hess + f64::from(self.reg_lambda))) as f32
        } else {
            let g = s.grad as f32;
            let h = s.hess as f32;
            -(2.0 * g * w + (h + self.reg_lambda) * (w * w))
        }
    }

    /// The structure score of a node.
    #[inline(always)]
    #[allow(clippy::cast_possible_truncation)]
    pub fn gain(&self, s: GradStats) -> f32 {
        if self.max_delta_step == 0.0 && !self.constrained {
            // The weight is not needed on this path (same value, one division fewer).
            if s.hess <= 0.0 {
                return 0.0;
            }
            let t = threshold_l1(s.grad, f64::from(self.reg_alpha));
            return (t * t / (s.hess + f64::from(self.reg_lambda))) as f32;
        }
        self.gain_given_weight(s, self.weight(s))
    }

    /// Whether both children are heavy enough to exist.
    #[inline(always)]
    pub fn is_valid_split(&self, left_hess: f64, right_hess: f64) -> bool {
        let mcw = f64::from(self.min_child_weight);
        left_hess > 0.0 && right_hess > 0.0 && left_hess >= mcw && right_hess >= mcw
    }

    /// `gain(left) + gain(right)`, or `-inf` for an invalid split.
    #[inline(always)]
    pub fn split_gain(&self, left: GradStats, right: GradStats) -> f32 {
        if !self.is_valid_split(left.hess, right.hess) {
            return f32::NEG_INFINITY;
        }
        self.gain(left) + self.gain(right)
    }

    /// Whether `split_gain(left, right) - root_gain` may exceed (or tie) `best`; `false` only
    /// where it certainly cannot, so that a split scan can skip the exact gain (two divisions)
    /// for almost every candidate. Decided without division: the sum of the two children's
    /// scores is `(tl² (hr + λ) + tr² (hl + λ)) / ((hl + λ)(hr + λ))`, compared in `f64` with a
    /// margin far wider than the `f32` roundings of the exact value.
    #[inline(always)]
    pub fn may_beat(&self, left: GradStats, right: GradStats, root_gain: f32, best: f32) -> bool {
        if self.max_delta_step != 0.0 || self.constrained || !best.is_finite() {
            return true;
        }
        let rg = f64::from(root_gain);
        let target = f64::from(best) + rg;
        let target = target - 1e-6 * (target.abs() + rg.abs());
        if target <= 0.0 {
            return true;
        }
        let alpha = f64::from(self.reg_alpha);
        let lambda = f64::from(self.reg_lambda);
        // Only the squares of the thresholded sums count here: `max(|g| - alpha, 0)` has the
        // square of `threshold_l1(g, alpha)` without its branches on the sign of `g`, which
        // a scan over the candidates of one node cannot predict.
        let (tl, tr) = (
            (left.grad.abs() - alpha).max(0.0),
            (right.grad.abs() - alpha).max(0.0),
        );
        let (hl, hr) = (left.hess + lambda, right.hess + lambda);
        tl * tl * hr + tr * tr * hl >= target * hl * hr
    }

    /// The weight of a node with sums `s` whose weights are clipped to `b`.
    #[inline(always)]
    pub fn bounded_weight(&self, s: GradStats, b: Bounds) -> f32 {
        b.clamp(self.weight(s))
    }

    /// The structure score of a node with sums `s` at its weight clipped to `b` (XGBoost's
    /// `CalcGain` under constraints); [`Self::gain`] without them.
    #[inline(always)]
    pub fn bounded_gain(&self, s: GradStats, b: Bounds) -> f32 {
        if !self.constrained {
            return self.gain(s);
        }
        self.gain_given_weight(s, self.bounded_weight(s, b))
    }

    /// `split_gain(left, right)` of a node whose weights are clipped to `b`, splitting on a
    /// feature with monotone constraint `c`: the children's scores at their clipped weights,
    /// and `-inf` when the weights break the constraint (`c > 0` and left above right, or
    /// `c < 0` and left below right). [`Self::split_gain`] without constraints.
    #[inline(always)]
    pub fn constrained_split_gain(
        &self,
        left: GradStats,
        right: GradStats,
        b: Bounds,
        c: i8,
    ) -> f32 {
        if !self.constrained {
            return self.split_gain(left, right);
        }
        if !self.is_valid_split(left.hess, right.hess) {
            return f32::NEG_INFINITY;
        }
        let wl = self.bounded_weight(left, b);
        let wr = self.bounded_weight(right, b);
        let gain = self.gain_given_weight(left, wl) + self.gain_given_weight(right, wr);
        let ordered = c == 0 || (c > 0 && wl <= wr) || (c < 0 && wl >= wr);
        if ordered {
            gain
        } else {
            f32::NEG_INFINITY
        }
    }

    /// The value a leaf with sums `s` stores: weight times learning rate.
    pub fn leaf_value(&self, s: GradStats) -> f32 {
        self.weight(s) * self.learning_rate
    }
}

/// The best split found so far for one node.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SplitCandidate {
    /// Loss change of the split.
    pub loss_chg: f32,
    /// Feature index.
    pub feature: u32,
    /// Threshold: rows with `x < threshold` go left.
    pub threshold: f32,
    /// Where missing values go.
    pub default_left: bool,
    /// Sums of the left child.
    pub left: GradStats,
    /// Sums of the right child.
    pub right: GradStats,
}

impl SplitCandidate {
    /// XGBoost's rule: a candidate replaces the current one if its loss change is strictly
    /// larger, or equal with a smaller feature index; an infinite loss change never does.
    #[inline]
    pub fn needs_replace(&self, loss_chg: f32, feature: u32) -> bool {
        if loss_chg.is_infinite() {
            false
        } else if self.feature <= feature {
            loss_chg > self.loss_chg
        } else {
            // Not `<=`: a NaN current value must be replaced, as in XGBoost.
            #[allow(clippy::neg_cmp_op_on_partial_ord)]
            let keep = self.loss_chg > loss_chg;
            !keep
        }
    }

    /// Replaces `self` with `other` when [`Self::needs_replace`] says so.
    #[inline]
    pub fn update(&mut self, other: &SplitCandidate) -> bool {
        if self.needs_replace(other.loss_chg, other.feature) {
            *self = *other;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(lambda: f64, alpha: f64) -> SplitParams {
        let p = TreeParams {
            reg_lambda: lambda,
            reg_alpha: alpha,
            learning_rate: 1.0,
            min_child_weight: 0.0,
            ..TreeParams::default()
        };
        SplitParams::from_tree_params(&p, None)
    }

    #[test]
    fn may_beat_never_rules_out_a_candidate_that_ties_or_wins() {
        // A fixed pseudo-random stream over sums, regularisation and the best so far, with
        // `best` set at, just below and just above each candidate's exact loss change.
        let mut next = crate::test_support::uniform(0x2545_f491_4f6c_dd1d);
        for _ in 0..200_000 {
            let scale = 10f64.powf(next() * 8.0 - 4.0);
            let p = params(next() * 3.0, if next() < 0.5 { 0.0 } else { next() });
            let left = GradStats::new((next() - 0.5) * scale, next() * scale + 1e-9);
            let right = GradStats::new((next() - 0.5) * scale, next() * scale + 1e-9);
            let root_gain = (next() * 0.5 * scale) as f32;
            let exact = p.split_gain(left, right) - root_gain;
            for best in [exact, f32_prev(exact), f32_next(exact)] {
                if exact >= best {
                    assert!(
                        p.may_beat(left, right, root_gain, best),
                        "{left:?} {right:?}"
                    );
                }
            }
        }
    }

    fn f32_prev(v: f32) -> f32 {
        if v > 0.0 {
            f32::from_bits(v.to_bits() - 1)
        } else {
            -f32_next(-v)
        }
    }

    fn f32_next(v: f32) -> f32 {
        if v >= 0.0 {
            f32::from_bits(v.to_bits() + 1)
        } else {
            -f32_prev(-v)
        }
    }

    /// One row, y = 1, base_score 0.5, squared error: g = -0.5, h = 1 (XGBoost's
    /// test_tree_regularization.py). The leaf value is the weight since eta = 1.
    #[test]
    fn single_row_leaf_values_match_xgboost() {
        let s = GradStats::new(-0.5, 1.0);
        assert!((params(0.0, 0.1).leaf_value(s) - 0.4).abs() < 1e-6);
        assert!((params(1.0, 0.0).leaf_value(s) - 0.25).abs() < 1e-6);
        assert!((params(1.0, 0.1).leaf_value(s) - 0.2).abs() < 1e-6);
        // Predictions are base_score + leaf: 0.9, 0.75 and 0.7.
        assert!((0.5 + params(0.0, 0.1).leaf_value(s) - 0.9).abs() < 1e-6);
        assert!((0.5 + params(1.0, 0.0).leaf_value(s) - 0.75).abs() < 1e-6);
        assert!((0.5 + params(1.0, 0.1).leaf_value(s) - 0.7).abs() < 1e-6);
    }

    #[test]
    fn threshold_l1_shrinks_towards_zero() {
        assert_eq!(threshold_l1(3.0, 1.0), 2.0);
        assert_eq!(threshold_l1(-3.0, 1.0), -2.0);
        assert_eq!(threshold_l1(0.5, 1.0), 0.0);
    }

    #[test]
    fn bounds_clip_and_narrow_at_the_mean_of_the_children() {
        let b = Bounds::default();
        assert_eq!(b.clamp(3.0), 3.0);
        let (l, r) = b.children(1, -1.0, 3.0);
        assert_eq!((l.lower, l.upper), (-f32::MAX, 1.0));
        assert_eq!((r.lower, r.upper), (1.0, f32::MAX));
        assert_eq!(l.clamp(2.0), 1.0);
        assert_eq!(r.clamp(0.0), 1.0);
        let (l, r) = b.children(-1, 3.0, -1.0);
        assert_eq!((l.lower, r.upper), (1.0, 1.0));
        assert_eq!(b.children(0, 5.0, -5.0), (b, b));
    }

    #[test]
    fn a_split_that_breaks_its_constraint_is_rejected() {
        let p = SplitParams {
            constrained: true,
            ..params(1.0, 0.0)
        };
        // Left weight 1 (G = -2, H = 1), right weight -1: decreasing.
        let (left, right) = (GradStats::new(-2.0, 1.0), GradStats::new(2.0, 1.0));
        let b = Bounds::default();
        assert_eq!(
            p.constrained_split_gain(left, right, b, 1),
            f32::NEG_INFINITY
        );
        let down = p.constrained_split_gain(left, right, b, -1);
        assert_eq!(down, p.constrained_split_gain(left, right, b, 0));
        // -(2 G w + (H + lambda) w^2) per side: 2 each.
        assert!((down - 4.0).abs() < 1e-6);
        // Clipped weights score less.
        let tight = Bounds {
            lower: -0.5,
            upper: 0.5,
        };
        assert!(p.constrained_split_gain(left, right, tight, -1) < down);
        // Without constraints, the closed form.
        assert_eq!(
            params(1.0, 0.0).constrained_split_gain(left, right, tight, 1),
            params(1.0, 0.0).split_gain(left, right)
        );
    }

    #[test]
    fn max_delta_step_clips_the_weight_and_the_gain_follows() {
        let p = SplitParams {
            max_delta_step: 0.7,
            ..params(1.0, 0.0)
        };
        let s = GradStats::new(-8.0, 2.0);
        assert_eq!(p.weight(s), 0.7);
        // -(2 * -8 * 0.7 + 3 * 0.49) = 9.73
        assert!((p.gain(s) - 9.73).abs() < 1e-5);
    }

    #[test]
    fn min_child_weight_zeroes_light_weights_and_invalidates_splits() {
        let p = SplitParams {
            min_child_weight: 2.0,
            ..params(1.0, 0.0)
        };
        assert_eq!(p.weight(GradStats::new(-1.0, 1.5)), 0.0);
        assert_eq!(
            p.split_gain(GradStats::new(1.0, 1.5), GradStats::new(1.0, 3.0)),
            f32::NEG_INFINITY
        );
        assert!(p.split_gain(GradStats::new(1.0, 2.0), GradStats::new(1.0, 3.0)) > 0.0);
    }

    #[test]
    fn lambda_zero_example_loss_change() {
        // x in {1, 2 | 3, 4, 6}: the loss change of XGBoost's lambda=0 example is
        // sum of child scores minus the parent's.
        let p = params(0.0, 0.0);
        let left = GradStats::new(-2.0, 2.0);
        let right = GradStats::new(-12.0 * 2.0_f64.sqrt(), 2.0);
        let parent = GradStats::new(left.grad + right.grad, 4.0);
        let chg = p.split_gain(left, right) - p.gain(parent);
        assert!(chg > 0.0);
    }

    #[test]
    fn ties_go_to_the_smaller_feature() {
        let mut best = SplitCandidate::default();
        let a = SplitCandidate {
            loss_chg: 2.0,
            feature: 3,
            ..SplitCandidate::default()
        };
        let b = SplitCandidate {
            loss_chg: 2.0,
            feature: 1,
            ..SplitCandidate::default()
        };
        assert!(best.update(&a));
        assert!(best.update(&b));
        assert_eq!(best.feature, 1);
        assert!(!best.update(&a));
        let inf = SplitCandidate {
            loss_chg: f32::INFINITY,
            feature: 0,
            ..SplitCandidate::default()
        };
        assert!(!best.update(&inf));
    }
}
