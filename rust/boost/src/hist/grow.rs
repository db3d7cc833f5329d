//! Growing one tree from gradient histograms (XGBoost's `hist` and `approx`) on one machine:
//! the local and global steps of [`super::step`] with a single part.
//!
//! Each round the driver hands over a batch of nodes (a level, or the best leaf); each is
//! split in the tree; the part divides its rows between the children; the smaller child's
//! histogram is built from its rows and its sibling's derived from the parent by subtraction;
//! the split evaluator finds each child's best split from those histograms; the children go
//! back to the driver. `gamma`, the 1e-6 rule, `max_depth` and `max_leaves` are applied as the
//! tree grows, and nothing depends on the thread count. With `SAPWOOD_PROFILE=1` each phase
//! is timed ([`crate::profile`]).

use super::cuts::QuantileCuts;
use super::driver::TreeShape;
use super::histogram::HistLayout;
use super::matrix::BinnedMatrix;
use super::step::{PartGrowth, TreeGrowth};
use crate::constraints::Constraints;
use crate::gain::SplitParams;
use crate::sampling::ColumnSampler;
use crate::tree::Tree;

pub use super::driver::GrowPolicy;

/// The rows that ended in each leaf of a tree, as `(node id, rows)`: every row the tree grew
/// on (active, without a negative hessian) in exactly one leaf, each leaf's rows in ascending
/// order (the partition keeps the order of its input, and the root's rows ascend). Training
/// relies on both when it updates margins and refreshes leaves from these lists.
pub type LeafRows = Vec<(usize, Vec<u32>)>;

/// Largest share of the features a node may sample for its histogram to be built from its
/// rows over those features alone. Above it every node keeps a full histogram and the larger
/// child comes from the parent by subtraction; below it (random forests with `sqrt(p)`
/// columns per node) building a few features from rows costs less than keeping them all.
pub const DIRECT_NODE_RATIO: f64 = 0.25;

/// Everything one tree's growth reads: the binned rows, the fit's cuts and histogram layout,
/// the gain rules and the tree's limits.
pub struct HistGrower<'a> {
    matrix: &'a BinnedMatrix,
    cuts: &'a QuantileCuts,
    params: &'a SplitParams,
    shape: TreeShape,
    layout: HistLayout,
    constraints: Option<&'a Constraints>,
}

impl<'a> HistGrower<'a> {
    /// A grower over all of the data, on one machine.
    pub fn new(
        matrix: &'a BinnedMatrix,
        cuts: &'a QuantileCuts,
        params: &'a SplitParams,
        shape: TreeShape,
    ) -> Self {
        Self {
            matrix,
            cuts,
            params,
            shape,
            layout: HistLayout::of(matrix, cuts),
            constraints: None,
        }
    }

    /// The same grower with the fit's histogram `layout` (equal to its own), so that the
    /// fit's trees share one set of spare histogram buffers.
    #[must_use]
    pub fn with_layout(mut self, layout: &HistLayout) -> Self {
        self.layout = layout.clone();
        self
    }

    /// The same grower under monotone and interaction constraints.
    #[must_use]
    pub fn with_constraints(mut self, constraints: &'a Constraints) -> Self {
        self.constraints = Some(constraints);
        self
    }

    /// Grows one tree over the rows flagged in `active` (rows with a negative hessian are left
    /// out, as in XGBoost).
    pub fn grow(&self, gpair: &[(f32, f32)], active: &[bool], sampler: &mut ColumnSampler) -> Tree {
        let direct = sampler.node_ratio() <= DIRECT_NODE_RATIO;
        self.grow_with(gpair, active, sampler, direct, false).0
    }

    /// [`HistGrower::grow`], also returning the rows that ended in each leaf (the rows the
    /// tree grew on), so that the caller can update its predictions without walking the tree.
    pub fn grow_with_leaves(
        &self,
        gpair: &[(f32, f32)],
        active: &[bool],
        sampler: &mut ColumnSampler,
    ) -> (Tree, LeafRows) {
        let direct = sampler.node_ratio() <= DIRECT_NODE_RATIO;
        self.grow_with(gpair, active, sampler, direct, true)
    }

    /// [`HistGrower::grow`] with the histogram mode chosen: `direct` builds each node's
    /// histograms of its sampled features from its rows; otherwise every node keeps a full
    /// histogram and siblings come by subtraction.
    fn grow_with(
        &self,
        gpair: &[(f32, f32)],
        active: &[bool],
        sampler: &mut ColumnSampler,
        direct: bool,
        want_leaves: bool,
    ) -> (Tree, LeafRows) {
        let mut part = PartGrowth::start(self.matrix, gpair, active, want_leaves);
        let (mut growth, mut plan) = TreeGrowth::new(
            self.cuts.n_features(),
            self.shape,
            self.params.gamma,
            sampler,
            direct,
            self.constraints.cloned().unwrap_or_default(),
        );
        loop {
            let sums = part.step(self.matrix, self.cuts, &self.layout, gpair, &plan, false);
            if plan.last {
                break;
            }
            let (next, sums) = growth
                .step(self.cuts, self.params, &self.layout, sums)
                .expect("one part answers its own plan");
            part.adopt(sums);
            plan = next;
        }
        let leaves = if want_leaves {
            part.into_leaves()
        } else {
            Vec::new()
        };
        (growth.into_tree(), leaves)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::TreeParams;

    fn setup(x: &[f32], n_cols: usize, max_bin: usize) -> (QuantileCuts, BinnedMatrix) {
        let n_rows = x.len() / n_cols;
        let cuts = QuantileCuts::from_dense(x, n_rows, n_cols, None, max_bin).unwrap();
        let m = BinnedMatrix::from_dense(x, n_rows, n_cols, &cuts).unwrap();
        (cuts, m)
    }

    fn grow(x: &[f32], n_cols: usize, g: &[(f32, f32)], tp: &TreeParams, shape: TreeShape) -> Tree {
        let (cuts, m) = setup(x, n_cols, tp.max_bin as usize);
        let p = SplitParams::from_tree_params(tp, None);
        let grower = HistGrower::new(&m, &cuts, &p, shape);
        let mut sampler = ColumnSampler::new(n_cols, tp, 0);
        grower.grow(g, &vec![true; g.len()], &mut sampler)
    }

    #[test]
    fn leaf_rows_are_where_the_tree_sends_each_row() {
        let n = 2000;
        let x: Vec<f32> = (0..n * 3)
            .map(|k| {
                if k % 13 == 0 {
                    f32::NAN
                } else {
                    ((k * 7919) % 1009) as f32 / 100.0
                }
            })
            .collect();
        let g: Vec<(f32, f32)> = (0..n)
            .map(|r| (x[r * 3 + 1].sin() - 0.3 * x[r * 3].cos(), 1.0))
            .collect();
        let tp = TreeParams {
            max_depth: 5,
            ..TreeParams::default()
        };
        let (cuts, m) = setup(&x, 3, 64);
        let p = SplitParams::from_tree_params(&tp, None);
        for shape in [
            depthwise(5),
            TreeShape {
                max_depth: 0,
                max_leaves: 9,
                policy: GrowPolicy::Lossguide,
            },
        ] {
            let grower = HistGrower::new(&m, &cuts, &p, shape);
            let mut sampler = ColumnSampler::new(3, &tp, 0);
            let (tree, leaves) = grower.grow_with_leaves(&g, &vec![true; n], &mut sampler);
            let mut seen = vec![false; n];
            for (nid, rows) in &leaves {
                assert!(tree.is_leaf(*nid));
                for &r in rows {
                    let r = r as usize;
                    assert!(!seen[r]);
                    seen[r] = true;
                    assert_eq!(tree.leaf_of(&x[r * 3..r * 3 + 3]), *nid, "row {r}");
                }
            }
            assert!(seen.iter().all(|&s| s));
        }
    }

    fn depthwise(max_depth: u32) -> TreeShape {
        TreeShape {
            max_depth,
            max_leaves: 0,
            policy: GrowPolicy::Depthwise,
        }
    }

    #[test]
    fn threshold_is_the_next_cut_and_missing_goes_right() {
        let x = [1.0, 2.0, 3.0, 4.0, 6.0];
        let g: Vec<(f32, f32)> = [0.0f32, 0.0, 10.0, 10.0, 10.0]
            .iter()
            .map(|&y| (-y, 1.0))
            .collect();
        let tp = TreeParams {
            max_depth: 1,
            learning_rate: 1.0,
            reg_lambda: 0.0,
            min_child_weight: 0.0,
            ..TreeParams::default()
        };
        let t = grow(&x, 1, &g, &tp, depthwise(1));
        assert_eq!(t.n_nodes(), 3);
        // Bins are the distinct values; the best split leaves {1, 2}: threshold = cut 3.
        assert_eq!(t.split_cond[0], 3.0);
        assert!(!t.default_left[0]);
        assert!((t.split_cond[1] - 0.0).abs() < 1e-6);
        assert!((t.split_cond[2] - 10.0).abs() < 1e-6);
    }

    #[test]
    fn missing_rows_can_go_left() {
        // The rows with a missing value look like the small ones.
        let x = [f32::NAN, f32::NAN, 1.0, 2.0, 3.0, 4.0];
        let g: Vec<(f32, f32)> = [5.0f32, 5.0, 5.0, -5.0, -5.0, -5.0]
            .iter()
            .map(|&v| (v, 1.0))
            .collect();
        let tp = TreeParams {
            max_depth: 1,
            reg_lambda: 0.0,
            min_child_weight: 0.0,
            ..TreeParams::default()
        };
        let t = grow(&x, 1, &g, &tp, depthwise(1));
        assert!(t.default_left[0]);
        assert_eq!(t.split_cond[0], 2.0);
        let leaf = |v: f32| t.leaf_of(&[v]);
        assert_eq!(leaf(f32::NAN), leaf(1.0));
        assert_ne!(leaf(f32::NAN), leaf(3.0));
    }

    #[test]
    fn lossguide_respects_max_leaves_and_splits_the_best_leaf_first() {
        let n = 400;
        let x: Vec<f32> = (0..n).map(|i| i as f32).collect();
        // A step at 100 (large) and one at 300 (small).
        let g: Vec<(f32, f32)> = (0..n)
            .map(|i| {
                let y = if i < 100 {
                    -10.0
                } else if i < 300 {
                    0.0
                } else {
                    1.0
                };
                (-y, 1.0)
            })
            .collect();
        let tp = TreeParams {
            max_bin: 512,
            ..TreeParams::default()
        };
        let shape = TreeShape {
            max_depth: 0,
            max_leaves: 3,
            policy: GrowPolicy::Lossguide,
        };
        let t = grow(&x, 1, &g, &tp, shape);
        let leaves = (0..t.n_nodes()).filter(|&i| t.is_leaf(i)).count();
        assert_eq!(leaves, 3);
        assert_eq!(t.split_cond[0], 100.0);
    }

    #[test]
    fn gamma_blocks_weak_splits_and_depth_limits_growth() {
        let x: Vec<f32> = (0..64).map(|i| i as f32).collect();
        let g: Vec<(f32, f32)> = (0..64).map(|i| ((i % 7) as f32 - 3.0, 1.0)).collect();
        let deep = grow(&x, 1, &g, &TreeParams::default(), depthwise(3));
        assert!(deep.n_nodes() > 1);
        for i in 0..deep.n_nodes() {
            assert!(deep.depth(i) <= 3);
        }
        let tp = TreeParams {
            gamma: 1e6,
            ..TreeParams::default()
        };
        let stump = grow(&x, 1, &g, &tp, depthwise(3));
        assert_eq!(stump.n_nodes(), 1);
    }

    #[test]
    fn same_tree_whatever_the_thread_count() {
        let n = 30_000;
        let n_cols = 5;
        let x: Vec<f32> = (0..n * n_cols)
            .map(|k| ((k * 7919) % 10007) as f32 / 97.0)
            .collect();
        let g: Vec<(f32, f32)> = (0..n)
            .map(|r| ((x[r * n_cols] - 2.0 * x[r * n_cols + 3]).sin(), 1.0))
            .collect();
        let tp = TreeParams::default();
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let three = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let a = one.install(|| grow(&x, n_cols, &g, &tp, depthwise(6)));
        let b = three.install(|| grow(&x, n_cols, &g, &tp, depthwise(6)));
        assert_eq!(a, b);
    }

    /// The scan written one candidate at a time, as XGBoost's evaluator does.
    #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
    #[test]
    fn direct_histograms_grow_the_same_tree_as_subtraction() {
        // Integer gradients keep every sum exact, so both modes see identical histograms.
        let (n, n_cols) = (5000, 12);
        let x: Vec<f32> = (0..n * n_cols)
            .map(|k| {
                if k % 29 == 0 {
                    f32::NAN
                } else {
                    ((k * 7919) % 613) as f32
                }
            })
            .collect();
        let g: Vec<(f32, f32)> = (0..n)
            .map(|r| (((r * 31) % 9) as f32 - 4.0, 1.0 + (r % 2) as f32))
            .collect();
        let tp = TreeParams {
            colsample_bynode: 0.2,
            max_bin: 64,
            ..TreeParams::default()
        };
        let (cuts, m) = setup(&x, n_cols, 64);
        let p = SplitParams::from_tree_params(&tp, None);
        for policy in [GrowPolicy::Depthwise, GrowPolicy::Lossguide] {
            let grower = HistGrower::new(
                &m,
                &cuts,
                &p,
                TreeShape {
                    max_depth: 6,
                    max_leaves: 0,
                    policy,
                },
            );
            let active: Vec<bool> = (0..n).map(|r| r % 5 != 0).collect();
            let mut a = ColumnSampler::new(n_cols, &tp, 3);
            let mut b = ColumnSampler::new(n_cols, &tp, 3);
            let direct = grower.grow_with(&g, &active, &mut a, true, false).0;
            let full = grower.grow_with(&g, &active, &mut b, false, false).0;
            assert!(direct.n_nodes() > 15);
            assert_eq!(direct, full);
            // The automatic choice takes the direct mode at this ratio.
            let mut c = ColumnSampler::new(n_cols, &tp, 3);
            assert_eq!(grower.grow(&g, &active, &mut c), direct);
        }
    }
}
