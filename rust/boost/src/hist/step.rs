//! Tree growth as alternating local and global steps: the seam of a distributed fit.
//!
//! A tree grows in steps. In each, every part of the data (all of it on one machine, or one
//! partition of a distributed fit) runs the *local* step, [`PartGrowth::step`]: it applies the
//! splits of the last [`GrowPlan`] to its rows, and builds the histograms the plan asks for
//! from its rows and gradients. The parts' [`StepSums`] are added in part order (entry by
//! entry: they are sums) and the *global* step, [`TreeGrowth::step`], evaluates the nodes'
//! splits from those totals, expands the tree and writes the next plan. One machine runs the
//! same two steps with one part ([`super::HistGrower`]), so both paths are the same code.
//!
//! Each part keeps the full histograms of its own open nodes and derives the larger child's
//! from its parent by subtraction, choosing by its own row counts; it sends both children, so
//! the global step keeps no histograms between steps. With one part the totals are the part's
//! own histograms, which it takes back ([`PartGrowth::adopt`]) instead of keeping a copy.

use std::borrow::BorrowMut;

use rayon::prelude::*;

use super::cuts::QuantileCuts;
use super::driver::{Driver, TreeShape};
use super::evaluate::{BinSplit, NodeHistogram, NodeSums, SplitEvaluator};
use super::expand::ExpandEntry;
use super::feature_histogram::FeatureHistogram;
use super::histogram::{HistLayout, Histogram};
use super::matrix::BinnedMatrix;
use super::partition::RowPartitioner;
use crate::constraints::Constraints;
use crate::error::BoostError;
use crate::gain::{Bounds, GradStats, SplitParams};
use crate::profile::{self, Phase};
use crate::sampling::ColumnSampler;
use crate::tree::{Tree, TreeSplit};

use super::grow::LeafRows;

/// A split the parts apply to their rows.
#[derive(Debug, Clone)]
pub(crate) struct PlannedSplit {
    /// The node split.
    pub nid: usize,
    /// The split, in bins.
    pub split: BinSplit,
    /// The left child's id (the right child's is one more).
    pub left: usize,
    /// Whether the children may split in turn (then their histograms are wanted); otherwise
    /// they are leaves, and their rows are only kept as leaf rows.
    pub grows: bool,
}

/// What the parts do in the next local step.
#[derive(Debug, Clone, Default)]
pub struct GrowPlan {
    /// The first step: the root's sums and histogram are wanted.
    pub root: bool,
    /// Nodes that became leaves: their rows are leaf rows, their histograms are dropped.
    pub finished: Vec<usize>,
    /// Splits to apply, in the order the tree made them.
    pub(crate) splits: Vec<PlannedSplit>,
    /// The nodes whose histograms are wanted, in this order: each with the features of a
    /// histogram built over a few features (the direct mode), or `None` for a full one.
    pub wants: Vec<(usize, Option<Vec<usize>>)>,
    /// The tree is complete once this step has run.
    pub last: bool,
}

/// A histogram sent by a step: every bin, or the bins of a few features.
#[derive(Debug, Clone, PartialEq)]
pub enum StepHistogram {
    /// Every bin of every feature, in the fit's layout.
    Full(Histogram),
    /// The bins of the features the plan named.
    Features(FeatureHistogram),
}

impl StepHistogram {
    fn entries(&self) -> &[GradStats] {
        match self {
            Self::Full(h) => h.bins(),
            Self::Features(h) => h.bins(),
        }
    }

    fn entries_mut(&mut self) -> &mut [GradStats] {
        match self {
            Self::Full(h) => h.bins_mut(),
            Self::Features(h) => h.bins_mut(),
        }
    }
}

/// What a local step sends: the root's gradient sums (first step only) and the wanted
/// histograms, in the plan's order. Adding the parts' sums entry by entry gives the totals.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepSums {
    /// The root's sums (zero after the first step).
    pub root: GradStats,
    /// The wanted histograms, in the plan's order.
    pub hists: Vec<StepHistogram>,
}

impl StepSums {
    /// Zero sums of the shape `plan` asks for: what a part adds the others' into.
    pub fn zeros(plan: &GrowPlan, layout: &HistLayout, cuts: &QuantileCuts) -> Self {
        Self {
            root: GradStats::default(),
            hists: plan
                .wants
                .iter()
                .map(|(_, features)| match features {
                    None => StepHistogram::Full(Histogram::zeros(layout)),
                    Some(f) => StepHistogram::Features(FeatureHistogram::zeros(cuts, f)),
                })
                .collect(),
        }
    }

    /// The number of `f64` values of [`StepSums::to_flat`].
    pub fn flat_len(&self) -> usize {
        2 + 2 * self.hists.iter().map(|h| h.entries().len()).sum::<usize>()
    }

    /// The sums as one flat array: the root's gradient and hessian, then each histogram's
    /// entries as (gradient, hessian) pairs. What crosses between machines.
    pub fn to_flat(&self) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.flat_len());
        out.extend([self.root.grad, self.root.hess]);
        for h in &self.hists {
            for s in h.entries() {
                out.extend([s.grad, s.hess]);
            }
        }
        out
    }

    /// Adds another part's sums, given as [`StepSums::to_flat`] made them.
    ///
    /// # Errors
    /// [`BoostError::InvalidInput`] when `flat` is not of this shape.
    pub fn add_flat(&mut self, flat: &[f64]) -> Result<(), BoostError> {
        if flat.len() != self.flat_len() {
            return Err(BoostError::InvalidInput(format!(
                "a partition sent {} histogram values where {} were expected",
                flat.len(),
                self.flat_len()
            )));
        }
        self.root.add(GradStats::new(flat[0], flat[1]));
        let mut at = 2;
        for h in &mut self.hists {
            for s in h.entries_mut() {
                s.add(GradStats::new(flat[at], flat[at + 1]));
                at += 2;
            }
        }
        Ok(())
    }
}

/// One part's side of a tree's growth: the rows of each open node, the full histograms this
/// part built for them, and the rows of the leaves so far.
#[derive(Debug, Clone, Default)]
pub struct PartGrowth {
    rows: Vec<Option<Vec<u32>>>,
    hists: Vec<Option<Histogram>>,
    root: GradStats,
    leaves: LeafRows,
    /// The nodes of the last step's wanted histograms, in order.
    sent: Vec<usize>,
    want_leaves: bool,
}

impl PartGrowth {
    /// The part's rows at the root: those flagged in `active` without a negative hessian
    /// (left out as in XGBoost), with their gradient sums. `want_leaves` keeps the rows of
    /// every leaf (otherwise children that can never split are not partitioned).
    pub fn start(
        matrix: &BinnedMatrix,
        gpair: &[(f32, f32)],
        active: &[bool],
        want_leaves: bool,
    ) -> Self {
        let (rows, partial) = profile::time(Phase::Partition, || {
            RowPartitioner::new(matrix).root_rows(gpair, active)
        });
        let mut root = GradStats::default();
        for p in partial {
            root.add(p);
        }
        Self {
            rows: vec![Some(rows)],
            hists: vec![None],
            root,
            leaves: Vec::new(),
            sent: Vec::new(),
            want_leaves,
        }
    }

    /// The local step: applies `plan` to this part's rows and builds the histograms it
    /// wants. With `keep`, the part keeps a copy of the full histograms it sends (several
    /// parts); without, the caller hands the totals back with [`PartGrowth::adopt`].
    pub fn step(
        &mut self,
        matrix: &BinnedMatrix,
        cuts: &QuantileCuts,
        layout: &HistLayout,
        gpair: &[(f32, f32)],
        plan: &GrowPlan,
        keep: bool,
    ) -> StepSums {
        for &nid in &plan.finished {
            if let Some(rows) = self.rows.get_mut(nid).and_then(Option::take) {
                if self.want_leaves {
                    self.leaves.push((nid, rows));
                }
            }
            if let Some(h) = self.hists.get_mut(nid) {
                *h = None;
            }
        }
        let n_nodes = plan
            .splits
            .iter()
            .map(|s| s.left + 2)
            .max()
            .unwrap_or(0)
            .max(self.rows.len());
        self.rows.resize_with(n_nodes, || None);
        self.hists.resize_with(n_nodes, || None);
        let full = plan.wants.iter().all(|(_, f)| f.is_none());
        let partitioner = RowPartitioner::new(matrix);
        // Take each split's parent rows and histogram out, then divide them in parallel.
        let jobs: Vec<(PlannedSplit, Vec<u32>, Option<Histogram>)> = plan
            .splits
            .iter()
            .filter(|s| s.grows || self.want_leaves)
            .map(|s| {
                let rows = self.rows[s.nid].take().unwrap_or_default();
                (s.clone(), rows, self.hists[s.nid].take())
            })
            .collect();
        let divided: Vec<_> = jobs
            .into_par_iter()
            .map(|(s, rows, parent)| {
                let (left, right) =
                    profile::time(Phase::Partition, || partitioner.split(rows, &s.split));
                let hists = match parent {
                    Some(parent) if s.grows && full => profile::time(Phase::Histogram, || {
                        let small_left = left.len() <= right.len();
                        let small_rows = if small_left { &left } else { &right };
                        let small = Histogram::build_in(layout, matrix, cuts, small_rows, gpair);
                        let other = small.sibling_from(parent);
                        if small_left {
                            Some((small, other))
                        } else {
                            Some((other, small))
                        }
                    }),
                    _ => None,
                };
                (s, left, right, hists)
            })
            .collect();
        for (s, left, right, hists) in divided {
            if s.grows {
                self.rows[s.left] = Some(left);
                self.rows[s.left + 1] = Some(right);
                if let Some((l, r)) = hists {
                    self.hists[s.left] = Some(l);
                    self.hists[s.left + 1] = Some(r);
                }
            } else {
                self.leaves.push((s.left, left));
                self.leaves.push((s.left + 1, right));
            }
        }
        let mut sums = StepSums {
            root: if plan.root {
                self.root
            } else {
                GradStats::default()
            },
            hists: Vec::with_capacity(plan.wants.len()),
        };
        let n_rows = matrix.n_rows();
        // A full histogram this part already holds is sent as it is (moved, or copied when it
        // keeps its own); the others are built here.
        let built: Vec<Option<StepHistogram>> = plan
            .wants
            .par_iter()
            .map(|(nid, features)| {
                let rows = self.rows[*nid].as_deref().unwrap_or_default();
                match (features, &self.hists[*nid]) {
                    (Some(f), _) => Some(StepHistogram::Features(profile::time(
                        Phase::Histogram,
                        || FeatureHistogram::build(matrix, cuts, f, rows, gpair),
                    ))),
                    (None, Some(own)) => keep.then(|| StepHistogram::Full(own.clone())),
                    (None, None) => {
                        Some(StepHistogram::Full(profile::time(Phase::Histogram, || {
                            if rows.len() == n_rows {
                                // Every row, in order (the root's rows ascend, no repeats).
                                Histogram::build_all_in(layout, matrix, cuts, gpair)
                            } else {
                                Histogram::build_in(layout, matrix, cuts, rows, gpair)
                            }
                        })))
                    }
                }
            })
            .collect();
        for ((nid, _), h) in plan.wants.iter().zip(built) {
            let h = match h {
                Some(StepHistogram::Full(h)) if keep && self.hists[*nid].is_none() => {
                    self.hists[*nid] = Some(h.clone());
                    StepHistogram::Full(h)
                }
                Some(h) => h,
                None => StepHistogram::Full(
                    self.hists[*nid]
                        .take()
                        .expect("a histogram not built here is held"),
                ),
            };
            sums.hists.push(h);
        }
        self.sent = plan.wants.iter().map(|(nid, _)| *nid).collect();
        sums
    }

    /// Takes back the full histograms of the last step as this part's own: with one part
    /// the totals are its histograms.
    pub fn adopt(&mut self, sums: StepSums) {
        for (nid, h) in self.sent.iter().zip(sums.hists) {
            if let StepHistogram::Full(h) = h {
                self.hists[*nid] = Some(h);
            }
        }
    }

    /// The rows of every leaf, once the last plan has run (see [`LeafRows`]).
    pub fn into_leaves(mut self) -> LeafRows {
        for (nid, rows) in self.rows.iter_mut().enumerate() {
            if let Some(rows) = rows.take() {
                self.leaves.push((nid, rows));
            }
        }
        self.leaves
    }
}

/// A node whose split is found once its histogram arrives.
#[derive(Debug, Clone)]
struct Pending {
    nid: usize,
    depth: u32,
    stats: GradStats,
    /// Its score (under monotone constraints, at its weight clipped to its parent's bounds).
    gain: f32,
    /// The features it may split on (the level's, less those its mask leaves out).
    features: Vec<usize>,
}

/// The global side of a tree's growth: the tree so far, the nodes waiting to be split, the
/// column draws, and the nodes whose histograms the last plan asked for.
#[derive(Debug, Clone)]
pub struct TreeGrowth<S: BorrowMut<ColumnSampler> = ColumnSampler> {
    tree: Option<Tree>,
    driver: Driver,
    n_leaves: u32,
    sampler: S,
    level_features: Vec<Vec<usize>>,
    direct: bool,
    n_features: usize,
    pending: Vec<Pending>,
    /// The fit's constraints; each node's weight bounds, and (interaction constraints) the
    /// features used on its path and those it may split on (`None`: all).
    constraints: Constraints,
    bounds: Vec<Bounds>,
    paths: Vec<Vec<usize>>,
    allowed: Vec<Option<Vec<bool>>>,
}

impl<S: BorrowMut<ColumnSampler>> TreeGrowth<S> {
    /// A tree of `shape` over `n_features` features, splitting where the loss change reaches
    /// `gamma`, its columns drawn by `sampler`; `direct` builds each node's histograms over its
    /// sampled features only; `constraints` are the fit's monotone and interaction
    /// constraints. Returns the first plan (the root's sums and histogram).
    pub fn new(
        n_features: usize,
        shape: TreeShape,
        gamma: f32,
        mut sampler: S,
        direct: bool,
        constraints: Constraints,
    ) -> (Self, GrowPlan) {
        sampler.borrow_mut().new_tree();
        let mut growth = Self {
            tree: None,
            driver: Driver::new(shape, gamma),
            n_leaves: 1,
            sampler,
            level_features: Vec::new(),
            direct,
            n_features,
            pending: Vec::new(),
            constraints,
            bounds: vec![Bounds::default()],
            paths: vec![Vec::new()],
            allowed: vec![None],
        };
        let features = growth.draw(0);
        growth.pending.push(Pending {
            nid: 0,
            depth: 0,
            stats: GradStats::default(),
            gain: 0.0,
            features,
        });
        let plan = GrowPlan {
            root: true,
            wants: growth.wants(),
            ..GrowPlan::default()
        };
        (growth, plan)
    }

    /// The features a new node at `depth` may split on: the level's set (drawn once per
    /// level), less those the node's own draw leaves out.
    fn draw(&mut self, depth: u32) -> Vec<usize> {
        let sampler = self.sampler.borrow_mut();
        while self.level_features.len() <= depth as usize {
            #[allow(clippy::cast_possible_truncation)]
            let d = self.level_features.len() as u32;
            self.level_features.push(sampler.level_features(d));
        }
        let level = &self.level_features[depth as usize];
        sampler.node_sample(level).unwrap_or_else(|| level.clone())
    }

    fn wants(&self) -> Vec<(usize, Option<Vec<usize>>)> {
        self.pending
            .iter()
            .map(|p| (p.nid, self.direct.then(|| p.features.clone())))
            .collect()
    }

    /// Whether the tree is complete (the last plan has been written).
    pub fn is_done(&self) -> bool {
        self.tree.is_some() && self.pending.is_empty() && self.driver.is_empty()
    }

    /// The global step: finds the splits of the nodes the last plan asked about from their
    /// summed histograms `sums`, expands the tree, and writes the next plan. Also returns
    /// `sums`, so that a single part can take its histograms back.
    ///
    /// # Errors
    /// [`BoostError::InvalidInput`] when `sums` do not answer the last plan.
    #[allow(clippy::cast_possible_truncation)]
    pub fn step(
        &mut self,
        cuts: &QuantileCuts,
        params: &SplitParams,
        layout: &HistLayout,
        sums: StepSums,
    ) -> Result<(GrowPlan, StepSums), BoostError> {
        if sums.hists.len() != self.pending.len() {
            return Err(BoostError::InvalidInput(format!(
                "a growth step received {} histograms for {} nodes",
                sums.hists.len(),
                self.pending.len()
            )));
        }
        let lr = params.learning_rate;
        if self.tree.is_none() {
            let weight = params.weight(sums.root);
            self.tree = Some(Tree::with_root(weight, weight * lr, sums.root.hess as f32));
            self.pending[0].stats = sums.root;
            self.pending[0].gain = params.bounded_gain(sums.root, Bounds::default());
        }
        let evaluator = SplitEvaluator::new(
            cuts,
            params,
            layout.any_missing(),
            &self.constraints.monotone,
            !layout.dense(),
        );
        let bounds = &self.bounds;
        let entries: Vec<ExpandEntry> = self
            .pending
            .par_iter()
            .zip(&sums.hists)
            .map(|(p, h)| {
                let hist = match h {
                    StepHistogram::Full(h) => NodeHistogram::Full(h),
                    StepHistogram::Features(h) => NodeHistogram::Features(h),
                };
                ExpandEntry {
                    nid: p.nid,
                    depth: p.depth,
                    split: profile::time(Phase::Evaluate, || {
                        let node = NodeSums {
                            stats: p.stats,
                            gain: p.gain,
                            bounds: bounds[p.nid],
                        };
                        evaluator.best_split(node, &p.features, hist)
                    }),
                }
            })
            .collect();
        self.pending.clear();
        self.driver.push(entries);
        let tree = self.tree.as_mut().expect("the root exists");
        let mut plan = GrowPlan::default();
        while !self.driver.is_empty() {
            let mut grown: Vec<(u32, usize)> = Vec::new();
            // Expand the batch in node order (the tree's ids and `max_leaves` depend on it).
            for e in self.driver.pop_batch() {
                if !self.driver.is_expandable(&e, self.n_leaves) {
                    tree.loss_chg[e.nid] = e.loss_chg().max(0.0);
                    plan.finished.push(e.nid);
                    continue;
                }
                let c = e.split.cand;
                // Under monotone constraints the children's weights are clipped to this
                // node's bounds, and the node's own weight to its own.
                let own = self.bounds[e.nid];
                let lw = params.bounded_weight(c.left, own);
                let rw = params.bounded_weight(c.right, own);
                if params.constrained {
                    let mut sum = c.left;
                    sum.add(c.right);
                    tree.base_weight[e.nid] = params.bounded_weight(sum, own);
                }
                let left = tree.expand_split(
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
                if let Some(right) = &e.split.right_categories {
                    tree.set_categories(e.nid, right);
                }
                self.n_leaves += 1;
                let constraint = self.constraints.monotone_of(c.feature as usize);
                let (lb, rb) = own.children(constraint, lw, rw);
                self.bounds.resize(left + 2, Bounds::default());
                self.bounds[left] = lb;
                self.bounds[left + 1] = rb;
                if !self.constraints.interaction.is_empty() {
                    let path = Constraints::extend_path(&self.paths[e.nid], c.feature as usize);
                    let allowed = self.constraints.allowed(&path, self.n_features);
                    self.paths.resize(left + 2, Vec::new());
                    self.allowed.resize(left + 2, None);
                    self.allowed[left].clone_from(&allowed);
                    self.allowed[left + 1] = allowed;
                    self.paths[left].clone_from(&path);
                    self.paths[left + 1] = path;
                }
                // Children that can never split need neither rows nor histograms.
                let grows = self.driver.children_may_split(e.depth, self.n_leaves);
                plan.splits.push(PlannedSplit {
                    nid: e.nid,
                    split: e.split,
                    left,
                    grows,
                });
                if grows {
                    grown.push((e.depth + 1, left));
                    self.pending.push(Pending {
                        nid: left,
                        depth: e.depth + 1,
                        stats: c.left,
                        gain: params.bounded_gain(c.left, own),
                        features: Vec::new(),
                    });
                    self.pending.push(Pending {
                        nid: left + 1,
                        depth: e.depth + 1,
                        stats: c.right,
                        gain: params.bounded_gain(c.right, own),
                        features: Vec::new(),
                    });
                }
            }
            if !grown.is_empty() {
                // Draw the children's feature sets in node order.
                for i in 0..self.pending.len() {
                    let depth = self.pending[i].depth;
                    let mut features = self.draw(depth);
                    // Drawn as without constraints; those the node may not use are left out.
                    if let Some(Some(allowed)) = self.allowed.get(self.pending[i].nid) {
                        features.retain(|&f| allowed[f]);
                    }
                    self.pending[i].features = features;
                }
                break;
            }
        }
        plan.wants = self.wants();
        plan.last = self.pending.is_empty() && self.driver.is_empty();
        Ok((plan, sums))
    }

    /// The tree grown (a single leaf if no step ran).
    pub fn into_tree(self) -> Tree {
        self.tree.unwrap_or_else(|| Tree::with_root(0.0, 0.0, 0.0))
    }

    /// The tree so far.
    pub fn tree(&self) -> Option<&Tree> {
        self.tree.as_ref()
    }
}
