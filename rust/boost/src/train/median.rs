//! The adaptive leaves of `reg:absoluteerror` and `reg:quantileerror`: after growth, each
//! leaf's value becomes the median (or the `quantile_alpha` quantile) of the residuals of its
//! training rows. The rows of each leaf come from growth where it lists them
//! (`hist`), and from walking every training row through the tree otherwise. Reads the
//! trainer's labels, weights and margins; writes the new tree's leaf values only.

use rayon::prelude::*;

use crate::data::MatrixView;
use crate::hist::LeafRows;
use crate::objective::weighted_quantile;
use crate::train::Trainer;
use crate::tree::Tree;

/// Whether `leaves`, the rows growth placed in each leaf of `tree`, are the rows a walk of the
/// tree finds from the same `active` flags: the histogram grower leaves out rows with a
/// negative (or NaN) hessian, and a leaf that pruning took away after growth would list rows
/// no live leaf holds. For `reg:absoluteerror` the hessian is the sample weight, which is
/// never negative, and the histogram grower does not prune; the check keeps the equivalence
/// from resting on either.
pub(super) fn leaf_rows_are_complete(tree: &Tree, leaves: &LeafRows, gpair: &[(f32, f32)]) -> bool {
    leaves
        .iter()
        .all(|&(nid, _)| nid < tree.n_nodes() && tree.is_leaf(nid) && !tree.is_deleted(nid))
        && gpair.iter().all(|&(_, h)| h >= 0.0)
}

impl Trainer {
    /// [`Trainer::refresh_leaves_to_quantile`] from the rows growth placed in each leaf (see
    /// [`leaf_rows_are_complete`] for when they are the rows the walk finds). A leaf's rows
    /// are ascending, as the walk visits them, so each median sees its residuals in the same
    /// order and the leaves come out bit for bit the same; leaves go in parallel, each on
    /// its own.
    pub fn refresh_leaves_to_quantile_from_rows(
        &self,
        tree: &mut Tree,
        leaves: &LeafRows,
        learning_rate: f32,
        (alpha, group): (f64, usize),
    ) {
        let k = self.model.n_groups();
        let unweighted = self.weights.iter().all(|&w| w == 1.0);
        let live = |nid: usize| tree.is_leaf(nid) && !tree.is_deleted(nid);
        let medians: Vec<(usize, f32)> = leaves
            .par_iter()
            .filter(|(nid, rows)| !rows.is_empty() && live(*nid))
            .map(|(nid, rows)| {
                let residuals: Vec<f32> = rows
                    .iter()
                    .map(|&r| self.labels[r as usize] - self.margin[r as usize * k + group])
                    .collect();
                let weights: Vec<f32> = rows.iter().map(|&r| self.weights[r as usize]).collect();
                (
                    *nid,
                    weighted_quantile(&residuals, &weights, unweighted, alpha),
                )
            })
            .collect();
        for (nid, q) in medians {
            tree.split_cond[nid] = q * learning_rate;
        }
    }

    /// `reg:absoluteerror` (`alpha` 0.5) and `reg:quantileerror` with an adaptive-leaf split
    /// finder: each leaf of `tree` becomes the `alpha` quantile of the residuals `y - margin` of its (`active`) training rows, times the
    /// learning rate; leaves without rows keep their value. Walks every active row through
    /// the tree: for growth that does not list its leaves' rows (`approx`).
    #[allow(clippy::cast_sign_loss)]
    pub fn refresh_leaves_to_quantile(
        &self,
        view: &MatrixView<'_>,
        tree: &mut Tree,
        active: &[bool],
        learning_rate: f32,
        (alpha, group): (f64, usize),
    ) {
        let n = self.labels.len();
        let k = self.model.n_groups();
        let mut buf = vec![0.0_f32; view.n_cols()];
        let mut per_leaf: Vec<(Vec<f32>, Vec<f32>)> =
            vec![(Vec::new(), Vec::new()); tree.n_nodes()];
        for (i, _) in active.iter().enumerate().take(n).filter(|(_, &a)| a) {
            view.fill_row(i, &mut buf);
            let leaf = tree.leaf_of(&buf);
            per_leaf[leaf]
                .0
                .push(self.labels[i] - self.margin[i * k + group]);
            per_leaf[leaf].1.push(self.weights[i]);
        }
        let unweighted = self.weights.iter().all(|&w| w == 1.0);
        for (leaf, (res, w)) in per_leaf.iter().enumerate() {
            if tree.is_leaf(leaf) && !tree.is_deleted(leaf) && !res.is_empty() {
                let q = weighted_quantile(res, w, unweighted, alpha);
                tree.split_cond[leaf] = q * learning_rate;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::leaf_rows_are_complete;
    use crate::data::MatrixView;
    use crate::hist::GrowPolicy;
    use crate::hist::TreeShape;
    use crate::objective::{GradientInputs, Objective};
    use crate::sampling::{sample_rows, ColumnSampler};
    use crate::train::tests::config;
    use crate::train::Trainer;
    use crate::tree::Tree;
    use crate::updater::{TreeMethod, Updater};

    /// The refresh from the hist grower's leaf rows sets every leaf as the walk does, bit for
    /// bit: subsampled rows, missing values, float64 input rounded for binning, with and
    /// without sample weights (zero weights included), depth-wise and loss-guided.
    #[test]
    fn refresh_from_leaf_rows_equals_the_walk() {
        let n = 400;
        let x: Vec<f64> = (0..n * 3)
            .map(|i| {
                if i % 11 == 0 {
                    f64::NAN
                } else {
                    ((i * 7919) % 503) as f64 * 0.37
                }
            })
            .collect();
        let y: Vec<f32> = (0..n)
            .map(|i| ((i * 31) % 23) as f32 * 0.5 - if x[3 * i].is_nan() { 2.0 } else { 0.0 })
            .collect();
        let view = MatrixView::DenseF64 {
            data: &x,
            n_rows: n,
            n_cols: 3,
        };
        let unit = vec![1.0_f32; n];
        let varied: Vec<f32> = (0..n).map(|i| [0.5, 1.0, 2.0, 0.0][i % 4]).collect();
        for (w, policy, seed) in [
            (&unit, GrowPolicy::Depthwise, 1),
            (&varied, GrowPolicy::Depthwise, 2),
            (&unit, GrowPolicy::Lossguide, 3),
            (&varied, GrowPolicy::Lossguide, 4),
        ] {
            let mut cfg = config(Objective::AbsoluteError);
            cfg.tree_method = TreeMethod::Hist;
            cfg.grow_policy = policy;
            cfg.tree.max_depth = 5;
            cfg.tree.max_leaves = 10;
            cfg.tree.max_bin = 16;
            cfg.tree.subsample = 0.7;
            let mut t = Trainer::new(cfg.clone(), &view, &y, w, &[]).unwrap();
            // A few rounds first, so that the margins differ from row to row.
            for _ in 0..3 {
                t.boost_round(&view, &[], None).unwrap();
            }
            let mut gpair = vec![(0.0, 0.0); n];
            let input = GradientInputs {
                margin: t.margin(),
                labels: &y,
                weights: w,
                n_groups: 1,
                scale_pos_weight: 1.0,
                max_delta_step: 0.0,
                params: &crate::objective::ObjectiveParams::default(),
                upper: &[],
            };
            Objective::AbsoluteError.gradients(&input, &mut gpair);
            let mut updater = Updater::new(TreeMethod::Hist, &view, w, 16).unwrap();
            let split = t.split;
            let shape = TreeShape {
                max_depth: 5,
                max_leaves: 10,
                policy,
            };
            let job = |_| {
                (
                    sample_rows(n, 0.7, seed),
                    ColumnSampler::new(3, &cfg.tree, seed),
                )
            };
            let (grown, leaves) = updater
                .grow_trees(
                    &view,
                    &gpair,
                    1,
                    job,
                    &split,
                    shape,
                    &crate::constraints::Constraints::default(),
                )
                .unwrap()
                .pop()
                .unwrap();
            let leaves = leaves.expect("hist lists the rows of each leaf");
            assert!(leaf_rows_are_complete(&grown, &leaves, &gpair));
            assert!(leaves.len() > 2, "the tree should have several leaves");
            let (mut from_rows, mut walked) = (grown.clone(), grown.clone());
            t.refresh_leaves_to_quantile_from_rows(&mut from_rows, &leaves, 0.3, (0.5, 0));
            t.refresh_leaves_to_quantile(
                &view,
                &mut walked,
                &sample_rows(n, 0.7, seed),
                0.3,
                (0.5, 0),
            );
            assert_eq!(from_rows, walked, "{policy:?}, seed {seed}");
            assert_ne!(from_rows, grown, "the refresh should change the leaves");
        }
    }

    #[test]
    fn leaf_rows_are_not_used_past_a_negative_hessian_or_a_pruned_leaf() {
        let mut tree = Tree::with_root(0.0, 0.0, 2.0);
        tree.expand_split(
            0,
            &crate::tree::TreeSplit {
                feature: 0,
                threshold: 5.0,
                default_left: true,
                loss_chg: 1.0,
            },
            (0.0, 0.0, 1.0),
            (0.0, 0.0, 1.0),
        );
        let leaves = vec![(1, vec![0]), (2, vec![1])];
        assert!(leaf_rows_are_complete(
            &tree,
            &leaves,
            &[(1.0, 1.0), (1.0, 0.0)]
        ));
        assert!(!leaf_rows_are_complete(
            &tree,
            &leaves,
            &[(1.0, 1.0), (1.0, -1.0)]
        ));
        assert!(!leaf_rows_are_complete(
            &tree,
            &leaves,
            &[(1.0, f32::NAN), (1.0, 1.0)]
        ));
        let split_node = vec![(0, vec![0, 1])];
        assert!(!leaf_rows_are_complete(
            &tree,
            &split_node,
            &[(1.0, 1.0); 2]
        ));
    }

    #[test]
    fn median_refresh_sets_leaves_to_residual_medians() {
        let x = [0.0_f32, 1.0, 2.0, 10.0, 11.0, 12.0];
        let y = [1.0_f32, 2.0, 9.0, 5.0, 6.0, 7.0];
        let w = [1.0_f32; 6];
        let view = MatrixView::DenseF32 {
            data: &x,
            n_rows: 6,
            n_cols: 1,
        };
        let mut cfg = config(Objective::AbsoluteError);
        cfg.tree.learning_rate = 1.0;
        let t = Trainer::new(cfg, &view, &y, &w, &[]).unwrap();
        let mut tree = Tree::with_root(0.0, 0.0, 6.0);
        tree.expand_split(
            0,
            &crate::tree::TreeSplit {
                feature: 0,
                threshold: 5.0,
                default_left: true,
                loss_chg: 1.0,
            },
            (0.0, 0.0, 3.0),
            (0.0, 0.0, 3.0),
        );
        t.refresh_leaves_to_quantile(&view, &mut tree, &[true; 6], 1.0, (0.5, 0));
        let base = t.margin()[0];
        assert!((tree.split_cond[1] - (2.0 - base)).abs() < 1e-6);
        assert!((tree.split_cond[2] - (6.0 - base)).abs() < 1e-6);
    }
}
