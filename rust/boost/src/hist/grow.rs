//! Growing one tree from gradient histograms (XGBoost's `hist` and `approx` updaters): the
//! loop over the phases of growth.
//!
//! Each round the [`Driver`] hands over a batch of nodes (a level, or the best leaf); each is
//! split in the tree; the [`RowPartitioner`] divides its rows between the children; the
//! smaller child's histogram is built from its rows, made global at the [`HistSync`] seam, and
//! its sibling's derived from the parent by subtraction; the [`SplitEvaluator`] finds each
//! child's best split from those summed histograms; the children go back to the driver.
//! `gamma`, the 1e-6 rule, `max_depth` and `max_leaves` are applied as the tree grows, and
//! nothing depends on the thread count. With `SAPWOOD_PROFILE=1` each phase is timed
//! ([`crate::profile`]).

use rayon::prelude::*;

use super::cuts::QuantileCuts;
use super::driver::{Driver, TreeShape};
use super::evaluate::{BinSplit, NodeHistogram, SplitEvaluator};
use super::expand::ExpandEntry;
use super::feature_histogram::FeatureHistogram;
use super::histogram::{HistLayout, Histogram};
use super::matrix::BinnedMatrix;
use super::partition::RowPartitioner;
use super::sync::{HistSync, LocalSync};
use crate::gain::{GradStats, SplitParams};
use crate::profile::{self, Phase};
use crate::sampling::ColumnSampler;
use crate::tree::{Tree, TreeSplit};

pub use super::driver::GrowPolicy;

/// A new child before evaluation: its id, depth, the level's features and its node mask.
type ChildDraw = (usize, u32, Vec<usize>, Option<Vec<bool>>);

/// The rows that ended in each leaf of a tree, as `(node id, rows)`: every row the tree grew
/// on (active, without a negative hessian) in exactly one leaf, each leaf's rows in ascending
/// order (the partition keeps the order of its input, and the root's rows ascend). Training
/// relies on both when it updates margins and refreshes leaves from these lists.
pub type LeafRows = Vec<(usize, Vec<u32>)>;

/// A node's rows, its gradient sums and (when kept) its full histogram.
struct NodeRows {
    rows: Vec<u32>,
    stats: GradStats,
    hist: Option<Histogram>,
}

/// Largest share of the features a node may sample for its histogram to be built from its
/// rows over those features alone. Above it every node keeps a full histogram and the larger
/// child comes from the parent by subtraction; below it (random forests with `sqrt(p)`
/// columns per node) building a few features from rows costs less than keeping them all.
pub const DIRECT_NODE_RATIO: f64 = 0.25;

/// Everything one tree's growth reads: the binned rows it sees, the fit's cuts and histogram
/// layout, the gain rules, the tree's limits, and the seam `S` where local sums become global.
pub struct HistGrower<'a, S: HistSync = LocalSync> {
    matrix: &'a BinnedMatrix,
    cuts: &'a QuantileCuts,
    params: &'a SplitParams,
    shape: TreeShape,
    layout: HistLayout,
    sync: S,
}

impl<'a> HistGrower<'a, LocalSync> {
    /// A grower over all of the data, on one machine.
    pub fn new(
        matrix: &'a BinnedMatrix,
        cuts: &'a QuantileCuts,
        params: &'a SplitParams,
        shape: TreeShape,
    ) -> Self {
        let layout = HistLayout::of(matrix, cuts);
        Self::with_sync(matrix, cuts, params, shape, layout, LocalSync)
    }
}

impl<'a, S: HistSync> HistGrower<'a, S> {
    /// A grower over `matrix`, one part of the data, whose sums become global through `sync`;
    /// `layout` must be the same for every part (it comes from the global cuts).
    pub fn with_sync(
        matrix: &'a BinnedMatrix,
        cuts: &'a QuantileCuts,
        params: &'a SplitParams,
        shape: TreeShape,
        layout: HistLayout,
        sync: S,
    ) -> Self {
        Self {
            matrix,
            cuts,
            params,
            shape,
            layout,
            sync,
        }
    }

    /// The best split of `node` over the level's `features` that its `mask` keeps. A node
    /// with a full histogram is evaluated from it; otherwise the histograms of the chosen
    /// features are built from its rows first (the direct mode).
    fn evaluate(
        &self,
        evaluator: &SplitEvaluator<'_>,
        node: &NodeRows,
        features: &[usize],
        mask: Option<&[bool]>,
        gpair: &[(f32, f32)],
    ) -> BinSplit {
        let chosen: Vec<usize> = features
            .iter()
            .copied()
            .filter(|&f| mask.is_none_or(|m| m[f]))
            .collect();
        match &node.hist {
            Some(hist) => profile::time(Phase::Evaluate, || {
                evaluator.best_split(node.stats, &chosen, NodeHistogram::Full(hist))
            }),
            None => {
                let hist = profile::time(Phase::Histogram, || {
                    let local =
                        FeatureHistogram::build(self.matrix, self.cuts, &chosen, &node.rows, gpair);
                    self.sync.feature_histogram(local)
                });
                profile::time(Phase::Evaluate, || {
                    evaluator.best_split(node.stats, &chosen, NodeHistogram::Features(&hist))
                })
            }
        }
    }

    /// The children of a split node: their rows, sums and (unless in direct mode) histograms,
    /// the smaller one's built from its rows and the other's derived from the parent's.
    fn split_node(
        &self,
        partitioner: &RowPartitioner<'_>,
        parent: &mut NodeRows,
        split: &BinSplit,
        gpair: &[(f32, f32)],
    ) -> (NodeRows, NodeRows) {
        let (left_rows, right_rows) =
            profile::time(Phase::Partition, || partitioner.split(&parent.rows, split));
        let (mut lh, mut rh) = (None, None);
        if let Some(parent_hist) = parent.hist.take() {
            (lh, rh) = profile::time(Phase::Histogram, || {
                let (n_left, n_right) = self.sync.child_rows(left_rows.len(), right_rows.len());
                let small_left = n_left <= n_right;
                let small_rows = if small_left { &left_rows } else { &right_rows };
                let local =
                    Histogram::build_in(&self.layout, self.matrix, self.cuts, small_rows, gpair);
                let small = self.sync.histogram(local);
                let other = small.sibling_from(parent_hist);
                if small_left {
                    (Some(small), Some(other))
                } else {
                    (Some(other), Some(small))
                }
            });
        }
        let c = split.cand;
        (
            NodeRows {
                rows: left_rows,
                stats: c.left,
                hist: lh,
            },
            NodeRows {
                rows: right_rows,
                stats: c.right,
                hist: rh,
            },
        )
    }

    /// Grows one tree over the rows flagged in `active` (rows with a negative hessian are left
    /// out, as in XGBoost).
    pub fn grow(&self, gpair: &[(f32, f32)], active: &[bool], sampler: &mut ColumnSampler) -> Tree {
        let direct = sampler.node_ratio() <= DIRECT_NODE_RATIO;
        self.grow_with(gpair, active, sampler, direct, None)
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
        let mut leaves = Vec::new();
        let tree = self.grow_with(gpair, active, sampler, direct, Some(&mut leaves));
        (tree, leaves)
    }

    /// [`HistGrower::grow`] with the histogram mode chosen: `direct` builds each node's
    /// histograms of its sampled features from its rows; otherwise every node keeps a full
    /// histogram and siblings come by subtraction.
    #[allow(clippy::cast_possible_truncation)]
    fn grow_with(
        &self,
        gpair: &[(f32, f32)],
        active: &[bool],
        sampler: &mut ColumnSampler,
        direct: bool,
        mut leaves: Option<&mut LeafRows>,
    ) -> Tree {
        let partitioner = RowPartitioner::new(self.matrix);
        let evaluator = SplitEvaluator::new(self.cuts, self.params, self.layout.any_missing());
        let (rows, partial) =
            profile::time(Phase::Partition, || partitioner.root_rows(gpair, active));
        let mut local_sums = GradStats::default();
        for p in partial {
            local_sums.add(p);
        }
        let root_stats = self.sync.root_sums(local_sums);
        let lr = self.params.learning_rate;
        let root_weight = self.params.weight(root_stats);
        let mut tree = Tree::with_root(root_weight, root_weight * lr, root_stats.hess as f32);
        sampler.new_tree();
        let hist = (!direct).then(|| {
            profile::time(Phase::Histogram, || {
                let local = if rows.len() == self.matrix.n_rows() {
                    // Every row, in order (`rows` is ascending and without repeats).
                    Histogram::build_all_in(&self.layout, self.matrix, self.cuts, gpair)
                } else {
                    Histogram::build_in(&self.layout, self.matrix, self.cuts, &rows, gpair)
                };
                self.sync.histogram(local)
            })
        });
        let mut nodes: Vec<Option<NodeRows>> = vec![Some(NodeRows {
            rows,
            stats: root_stats,
            hist,
        })];
        let n_features = self.cuts.n_features();
        let mut level_features: Vec<Vec<usize>> = Vec::new();
        let mut features_at = |depth: u32, sampler: &mut ColumnSampler| -> Vec<usize> {
            while level_features.len() <= depth as usize {
                let d = level_features.len() as u32;
                level_features.push(sampler.level_features(d));
            }
            level_features[depth as usize].clone()
        };

        let mut n_leaves = 1u32;
        let root_features = features_at(0, sampler);
        let root_mask = sampler.node_features(&root_features, n_features);
        let root_split = self.evaluate(
            &evaluator,
            nodes[0].as_ref().expect("root exists"),
            &root_features,
            root_mask.as_deref(),
            gpair,
        );
        let mut driver = Driver::new(self.shape, self.params.gamma);
        driver.push([ExpandEntry {
            nid: 0,
            depth: 0,
            split: root_split,
        }]);

        while !driver.is_empty() {
            // Expand the batch in node order (the tree's ids and `max_leaves` depend on it).
            let mut splits: Vec<(ExpandEntry, usize, NodeRows)> = Vec::new();
            // Nodes whose children are final leaves: partitioned only when leaves are wanted.
            let mut last: Vec<(ExpandEntry, usize, NodeRows)> = Vec::new();
            for e in driver.pop_batch() {
                if !driver.is_expandable(&e, n_leaves) {
                    tree.loss_chg[e.nid] = e.loss_chg().max(0.0);
                    if let (Some(out), Some(node)) = (leaves.as_deref_mut(), nodes[e.nid].take()) {
                        out.push((e.nid, node.rows));
                    }
                    nodes[e.nid] = None;
                    continue;
                }
                let c = e.split.cand;
                let lw = self.params.weight(c.left);
                let rw = self.params.weight(c.right);
                let l = tree.expand_split(
                    e.nid,
                    &TreeSplit {
                        feature: c.feature,
                        threshold: c.threshold,
                        default_left: c.default_left,
                        loss_chg: c.loss_chg,
                    },
                    (lw, lw * lr, c.left.hess as f32),
                    (rw, rw * lr, c.right.hess as f32),
                );
                n_leaves += 1;
                let parent = nodes[e.nid]
                    .take()
                    .expect("an expandable node has its rows");
                // Children that can never split need neither rows nor histograms.
                if driver.children_may_split(e.depth, n_leaves) {
                    splits.push((e, l, parent));
                } else if leaves.is_some() {
                    last.push((e, l, parent));
                }
            }
            if let Some(out) = leaves.as_deref_mut() {
                let parts: Vec<(Vec<u32>, Vec<u32>)> = profile::time(Phase::Partition, || {
                    last.par_iter()
                        .map(|(e, _, parent)| partitioner.split(&parent.rows, &e.split))
                        .collect()
                });
                for ((_, l, _), (left, right)) in last.iter().zip(parts) {
                    out.push((*l, left));
                    out.push((*l + 1, right));
                }
            }
            nodes.resize_with(tree.n_nodes(), || None);
            // Partition and build the children's histograms of every node at once: each
            // node's result is fixed, so the order they finish in does not matter.
            let built: Vec<(NodeRows, NodeRows)> = splits
                .par_iter_mut()
                .map(|(e, _, parent)| self.split_node(&partitioner, parent, &e.split, gpair))
                .collect();
            // Draw the children's feature sets in node order, then evaluate them at once.
            let mut children: Vec<ChildDraw> = Vec::new();
            for ((e, l, _), (left, right)) in splits.iter().zip(built) {
                nodes[*l] = Some(left);
                nodes[*l + 1] = Some(right);
                for nid in [*l, *l + 1] {
                    let feats = features_at(e.depth + 1, sampler);
                    let mask = sampler.node_features(&feats, n_features);
                    children.push((nid, e.depth + 1, feats, mask));
                }
            }
            let evaluated: Vec<ExpandEntry> = children
                .par_iter()
                .map(|(nid, depth, feats, mask)| {
                    let node = nodes[*nid].as_ref().expect("a new child has its rows");
                    ExpandEntry {
                        nid: *nid,
                        depth: *depth,
                        split: self.evaluate(&evaluator, node, feats, mask.as_deref(), gpair),
                    }
                })
                .collect();
            driver.push(evaluated);
        }
        tree
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
            let direct = grower.grow_with(&g, &active, &mut a, true, None);
            let full = grower.grow_with(&g, &active, &mut b, false, None);
            assert!(direct.n_nodes() > 15);
            assert_eq!(direct, full);
            // The automatic choice takes the direct mode at this ratio.
            let mut c = ColumnSampler::new(n_cols, &tp, 3);
            assert_eq!(grower.grow(&g, &active, &mut c), direct);
        }
    }
}
