//! `reg:absoluteerror`'s leaf refresh: after growth, each leaf's value becomes the median
//! residual of its training rows. Reads the trainer's labels, weights and margins; writes the
//! new tree's leaf values only.

use crate::data::MatrixView;
use crate::objective::weighted_median;
use crate::train::Trainer;
use crate::tree::Tree;

impl Trainer {
    /// `reg:absoluteerror` with an adaptive-leaf split finder: each leaf of `tree` becomes the
    /// median of the residuals `y - margin` of its (`active`) training rows, times the
    /// learning rate; leaves without rows keep their value.
    #[allow(clippy::cast_sign_loss)]
    pub fn refresh_leaves_to_median(
        &self,
        view: &MatrixView<'_>,
        tree: &mut Tree,
        active: &[bool],
        learning_rate: f32,
    ) {
        let n = self.labels.len();
        let mut buf = vec![0.0_f32; view.n_cols()];
        let mut per_leaf: Vec<(Vec<f32>, Vec<f32>)> =
            vec![(Vec::new(), Vec::new()); tree.n_nodes()];
        for (i, _) in active.iter().enumerate().take(n).filter(|(_, &a)| a) {
            view.fill_row(i, &mut buf);
            let leaf = tree.leaf_of(&buf);
            per_leaf[leaf].0.push(self.labels[i] - self.margin[i]);
            per_leaf[leaf].1.push(self.weights[i]);
        }
        let unweighted = self.weights.iter().all(|&w| w == 1.0);
        for (leaf, (res, w)) in per_leaf.iter().enumerate() {
            if tree.is_leaf(leaf) && !tree.is_deleted(leaf) && !res.is_empty() {
                let q = weighted_median(res, w, unweighted);
                tree.split_cond[leaf] = q * learning_rate;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::data::MatrixView;
    use crate::objective::Objective;
    use crate::train::tests::config;
    use crate::train::Trainer;
    use crate::tree::Tree;

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
        tree.expand(0, 0, 5.0, true, 1.0, (0.0, 0.0, 3.0), (0.0, 0.0, 3.0));
        t.refresh_leaves_to_median(&view, &mut tree, &[true; 6], 1.0);
        let base = t.margin()[0];
        assert!((tree.split_cond[1] - (2.0 - base)).abs() < 1e-6);
        assert!((tree.split_cond[2] - (6.0 - base)).abs() < 1e-6);
    }
}
