//! Growing one tree from gradient histograms (XGBoost's `hist` and `approx` updaters).
//!
//! Split evaluation follows XGBoost's scan rules: for every sampled feature a forward scan over
//! the bins (left = bins up to `i`, missing rows go right, threshold `cut[i]`), and, only when
//! the node has rows missing that feature, a backward scan (missing rows go left, threshold the
//! lower bound of bin `i`). Candidates are compared with [`SplitCandidate::needs_replace`], per
//! feature and then across features in index order, so the result never depends on the thread
//! count. Growth is depth-wise (a level at a time) or loss-guided (the best leaf first, ties to
//! the smaller node id); `gamma`, the 1e-6 rule, `max_depth` and `max_leaves` are applied as the
//! tree grows. Only the smaller child's histogram is built from rows; its sibling comes from the
//! parent by subtraction.

use std::collections::BinaryHeap;

use rayon::prelude::*;

use super::cuts::QuantileCuts;
use super::histogram::{FeatureHistogram, Histogram};
use super::matrix::{BinLayout, BinStorage, BinnedMatrix};
use super::prefetch::{prefetch, PARTITION_PREFETCH_DISTANCE};
use crate::gain::{GradStats, SplitCandidate, SplitParams, RT_EPS};
use crate::sampling::ColumnSampler;
use crate::tree::Tree;

/// How the tree grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrowPolicy {
    /// Split every expandable node of a level before the next level.
    Depthwise,
    /// Split the leaf with the largest loss reduction first.
    Lossguide,
}

/// Shape limits of a histogram-grown tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeShape {
    /// Largest depth (0 = unlimited, only with [`GrowPolicy::Lossguide`]).
    pub max_depth: u32,
    /// Largest number of leaves (0 = unlimited).
    pub max_leaves: u32,
    /// Growth order.
    pub policy: GrowPolicy,
}

/// A split found from a histogram: the candidate and the bins that go left.
#[derive(Debug, Clone, Copy, Default)]
struct BinSplit {
    cand: SplitCandidate,
    /// Present rows whose bin is at most this go left (-1: none do).
    left_max_bin: i32,
}

/// The lower bound XGBoost records below a feature's smallest value.
fn lower_bound(min: f32) -> f32 {
    if min.is_finite() {
        min - (min.abs() + 1e-5)
    } else {
        f32::MIN
    }
}

/// Bins scanned per step: the running sums of a chunk are laid out first, then the loss
/// changes of the whole chunk are computed in one vectorisable loop.
const SCAN_CHUNK: usize = 64;

/// Loss changes of the splits whose one side has the running sums `(acc_g, acc_h)` (the other
/// side holds the rest of `node`); `-inf` where a side is too light. Equal, bit for bit, to
/// `params.split_gain(side, rest) - node_gain`.
fn loss_changes(
    acc_g: &[f64],
    acc_h: &[f64],
    node: GradStats,
    node_gain: f32,
    params: &SplitParams,
    out: &mut [f32],
) {
    let mcw = f64::from(params.min_child_weight);
    if params.reg_alpha == 0.0 && params.max_delta_step == 0.0 {
        // Without L1 or a weight cap, the gain of a side is `G^2 / (H + lambda)`.
        let lambda = f64::from(params.reg_lambda);
        for ((o, &g), &h) in out.iter_mut().zip(acc_g).zip(acc_h) {
            let (rg, rh) = (node.grad - g, node.hess - h);
            // Non-short-circuit `&` keeps the loop free of branches, so it vectorises.
            let valid = (h > 0.0) & (rh > 0.0) & (h >= mcw) & (rh >= mcw);
            #[allow(clippy::cast_possible_truncation)]
            let loss = (g * g / (h + lambda)) as f32 + (rg * rg / (rh + lambda)) as f32 - node_gain;
            *o = if valid { loss } else { f32::NEG_INFINITY };
        }
    } else {
        for ((o, &g), &h) in out.iter_mut().zip(acc_g).zip(acc_h) {
            let side = GradStats { grad: g, hess: h };
            let rest = GradStats::difference(node, side);
            *o = if side.hess >= mcw && rest.hess >= mcw {
                params.split_gain(side, rest) - node_gain
            } else {
                f32::NEG_INFINITY
            };
        }
    }
}

/// The position in `order` of the first loss change strictly above `floor` and above every
/// earlier one (XGBoost's replacement rule within a feature); infinite values never win.
fn first_best(loss: &[f32], order: impl Iterator<Item = usize>, floor: f32) -> Option<usize> {
    let mut top = floor;
    let mut pick = None;
    for j in order {
        let l = loss[j];
        if l > top && l != f32::INFINITY {
            top = l;
            pick = Some(j);
        }
    }
    pick
}

/// The best split of one node on one feature.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::too_many_arguments
)]
fn evaluate_feature(
    bins: &[GradStats],
    cut_values: &[f32],
    min_value: f32,
    feature: u32,
    node: GradStats,
    node_gain: f32,
    maybe_missing: bool,
    params: &SplitParams,
) -> BinSplit {
    let mut best = BinSplit::default();
    let propose =
        |best: &mut BinSplit, loss_chg: f32, threshold, default_left, left, right, lmb| {
            if best.cand.needs_replace(loss_chg, feature) {
                *best = BinSplit {
                    cand: SplitCandidate {
                        loss_chg,
                        feature,
                        threshold,
                        default_left,
                        left,
                        right,
                    },
                    left_max_bin: lmb,
                };
            }
        };
    let n = bins.len();
    // Running sums after each non-empty bin, a chunk at a time. An empty bin repeats the
    // previous candidate with an equal loss change, which never replaces it, so only
    // non-empty bins are candidates (small nodes have few).
    let mut acc_g = [0.0_f64; SCAN_CHUNK];
    let mut acc_h = [0.0_f64; SCAN_CHUNK];
    let mut at = [0_usize; SCAN_CHUNK];
    let mut loss = [0.0_f32; SCAN_CHUNK];
    let empty = |b: &GradStats| b.hess == 0.0 && b.grad == 0.0;
    // Forward: left accumulates bins 0..=i, missing rows go right, threshold cut[i].
    let mut acc = GradStats::default();
    let mut i = 0;
    while i < n {
        let mut m = 0;
        while i < n && m < SCAN_CHUNK {
            // Branch-free: an empty bin adds zero and its slot is overwritten by the next.
            acc.add(bins[i]);
            (acc_g[m], acc_h[m], at[m]) = (acc.grad, acc.hess, i);
            m += usize::from(!empty(&bins[i]));
            i += 1;
        }
        loss_changes(
            &acc_g[..m],
            &acc_h[..m],
            node,
            node_gain,
            params,
            &mut loss[..m],
        );
        if let Some(j) = first_best(&loss[..m], 0..m, best.cand.loss_chg) {
            let left = GradStats {
                grad: acc_g[j],
                hess: acc_h[j],
            };
            let right = GradStats::difference(node, left);
            let b = at[j];
            propose(
                &mut best,
                loss[j],
                cut_values[b],
                false,
                left,
                right,
                b as i32,
            );
        }
    }
    if !maybe_missing {
        return best;
    }
    // A node has missing rows for this feature when the bins do not hold all its hessian.
    if node.hess - acc.hess <= 1e-9 * node.hess.abs().max(1.0) {
        return best;
    }
    // Backward: right accumulates bins i..end, missing rows go left, threshold the lower
    // bound of bin i.
    let mut acc = GradStats::default();
    let mut end = n;
    while end > 0 {
        let mut m = 0;
        while end > 0 && m < SCAN_CHUNK {
            end -= 1;
            acc.add(bins[end]);
            (acc_g[m], acc_h[m], at[m]) = (acc.grad, acc.hess, end);
            m += usize::from(!empty(&bins[end]));
        }
        loss_changes(
            &acc_g[..m],
            &acc_h[..m],
            node,
            node_gain,
            params,
            &mut loss[..m],
        );
        if let Some(j) = first_best(&loss[..m], 0..m, best.cand.loss_chg) {
            let right = GradStats {
                grad: acc_g[j],
                hess: acc_h[j],
            };
            let left = GradStats::difference(node, right);
            let b = at[j];
            let threshold = if b == 0 {
                lower_bound(min_value)
            } else {
                cut_values[b - 1]
            };
            propose(
                &mut best,
                loss[j],
                threshold,
                true,
                left,
                right,
                b as i32 - 1,
            );
        }
    }
    best
}

thread_local! {
    /// Each thread's buffers for [`split_rows`]: both sides are written for every row, so
    /// each needs room for all of them; kept between calls so that they are not allocated
    /// and zeroed for every block.
    static SPLIT_SCRATCH: std::cell::RefCell<(Vec<u32>, Vec<u32>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// Splits `rows` into those where `goes_left` holds and the rest, keeping their order. Both
/// sides are written without a branch per row, as a row's side is hard to predict, into the
/// thread's scratch buffers; the results are exact-size copies. `ahead(r)` is called for the
/// row some iterations ahead, to prefetch what `goes_left` will read.
fn split_rows(
    rows: &[u32],
    goes_left: impl Fn(u32) -> bool,
    ahead: impl Fn(u32),
) -> (Vec<u32>, Vec<u32>) {
    // Out of the cell for the loop: plain local buffers let the compiler keep everything the
    // closures read in registers across the stores.
    let (mut left, mut right) = SPLIT_SCRATCH.with_borrow_mut(std::mem::take);
    if left.len() < rows.len() {
        left.resize(rows.len(), 0);
        right.resize(rows.len(), 0);
    }
    let (nl, nr) = split_into(rows, &goes_left, &ahead, &mut left, &mut right);
    let out = (left[..nl].to_vec(), right[..nr].to_vec());
    SPLIT_SCRATCH.set((left, right));
    out
}

/// The loop of [`split_rows`]: writes the left rows to the front of `left` and the others to
/// the front of `right` (each at least as long as `rows`); returns how many went each way.
#[inline(always)]
fn split_into(
    rows: &[u32],
    goes_left: &impl Fn(u32) -> bool,
    ahead: &impl Fn(u32),
    left: &mut [u32],
    right: &mut [u32],
) -> (usize, usize) {
    let (left, right) = (&mut left[..rows.len()], &mut right[..rows.len()]);
    let (mut nl, mut nr) = (0, 0);
    for (i, &r) in rows.iter().enumerate() {
        if let Some(&next) = rows.get(i + PARTITION_PREFETCH_DISTANCE) {
            ahead(next);
        }
        let l = usize::from(goes_left(r));
        left[nl] = r;
        right[nr] = r;
        nl += l;
        nr += 1 - l;
    }
    (nl, nr)
}

/// A new child before evaluation: its id, depth, the level's features and its node mask.
type ChildDraw = (usize, u32, Vec<usize>, Option<Vec<bool>>);

/// A node waiting to be split.
#[derive(Debug, Clone, Copy)]
struct Expandable {
    nid: usize,
    depth: u32,
    split: BinSplit,
}

impl PartialEq for Expandable {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}
impl Eq for Expandable {}
impl PartialOrd for Expandable {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Expandable {
    /// Larger loss change first; ties to the smaller node id (XGBoost's driver).
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.split
            .cand
            .loss_chg
            .total_cmp(&other.split.cand.loss_chg)
            .then_with(|| other.nid.cmp(&self.nid))
    }
}

/// Everything one tree's growth reads.
pub struct HistGrower<'a> {
    /// The binned training matrix.
    pub matrix: &'a BinnedMatrix,
    /// Its cuts.
    pub cuts: &'a QuantileCuts,
    /// Gain and weight parameters.
    pub params: &'a SplitParams,
    /// Shape limits.
    pub shape: TreeShape,
}

/// Rows per block when the root's gradient sums are added up.
const ROOT_SUM_BLOCK: usize = 1 << 16;

/// The rows that ended in each leaf of a tree, as `(node id, rows)`.
pub type LeafRows = Vec<(usize, Vec<u32>)>;

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

impl HistGrower<'_> {
    fn can_split_children(&self, depth: u32) -> bool {
        self.shape.max_depth == 0 || depth < self.shape.max_depth
    }

    fn evaluate(
        &self,
        node: &NodeRows,
        features: &[usize],
        mask: Option<&[bool]>,
        gpair: &[(f32, f32)],
    ) -> BinSplit {
        let node_gain = self.params.gain(node.stats);
        let maybe_missing = self.matrix.missing_marker().is_some()
            || !matches!(self.matrix.layout(), BinLayout::Dense);
        let split_on = |f: usize, bins: &[GradStats]| {
            evaluate_feature(
                bins,
                self.cuts.feature(f),
                self.cuts.min_value(f),
                f as u32,
                node.stats,
                node_gain,
                maybe_missing,
                self.params,
            )
        };
        let mut best = BinSplit::default();
        let mut keep_best = |s: &BinSplit| {
            if best.cand.needs_replace(s.cand.loss_chg, s.cand.feature) {
                best = *s;
            }
        };
        match &node.hist {
            Some(hist) => {
                let per_feature: Vec<BinSplit> = features
                    .par_iter()
                    .filter(|&&f| mask.is_none_or(|m| m[f]))
                    .map(|&f| split_on(f, hist.feature(self.cuts, f)))
                    .collect();
                per_feature.iter().for_each(&mut keep_best);
            }
            None => {
                // Direct mode: the histograms of the node's own features, from its rows.
                let chosen: Vec<usize> = features
                    .iter()
                    .copied()
                    .filter(|&f| mask.is_none_or(|m| m[f]))
                    .collect();
                let hist =
                    FeatureHistogram::build(self.matrix, self.cuts, &chosen, &node.rows, gpair);
                for (i, &f) in chosen.iter().enumerate() {
                    keep_best(&split_on(f, hist.feature_bins(i)));
                }
            }
        }
        best
    }

    fn is_expandable(&self, e: &Expandable, n_leaves: u32) -> bool {
        let loss = e.split.cand.loss_chg;
        !(loss <= RT_EPS
            || loss < self.params.gamma
            || (self.shape.max_depth > 0 && e.depth >= self.shape.max_depth)
            || (self.shape.max_leaves > 0 && n_leaves >= self.shape.max_leaves))
    }

    /// Splits the rows of a node by the split's bins; the order within each side is kept.
    fn partition(&self, rows: &[u32], split: &BinSplit) -> (Vec<u32>, Vec<u32>) {
        const BLOCK: usize = 8192;
        if rows.len() <= BLOCK {
            return self.partition_block(rows, split);
        }
        let parts: Vec<(Vec<u32>, Vec<u32>)> = rows
            .par_chunks(BLOCK)
            .map(|chunk| self.partition_block(chunk, split))
            .collect();
        let n_left: usize = parts.iter().map(|p| p.0.len()).sum();
        let mut left = Vec::with_capacity(n_left);
        let mut right = Vec::with_capacity(rows.len() - n_left);
        for (l, r) in parts {
            left.extend(l);
            right.extend(r);
        }
        (left, right)
    }

    /// [`HistGrower::partition`] of one block of rows, read straight from the bin storage.
    fn partition_block(&self, rows: &[u32], split: &BinSplit) -> (Vec<u32>, Vec<u32>) {
        let f = split.cand.feature as usize;
        let default_left = split.cand.default_left;
        let missing = self.matrix.missing_marker();
        #[allow(clippy::cast_sign_loss)]
        let left_max = split.left_max_bin; // -1: no present row goes left
        #[allow(clippy::cast_possible_wrap)]
        let bin_left = |b: u16| -> bool {
            if Some(b) == missing {
                default_left
            } else {
                i32::from(b) <= left_max
            }
        };
        let n_cols = self.matrix.n_cols();
        match (self.matrix.layout(), self.matrix.storage()) {
            (BinLayout::Dense, BinStorage::U8(bins)) => {
                // Each byte's side, looked up rather than worked out per row.
                let side: [bool; 256] = std::array::from_fn(|b| bin_left(b as u16));
                let column = &bins[f.min(bins.len())..];
                split_rows(
                    rows,
                    |r| side[usize::from(column[r as usize * n_cols])],
                    |r| prefetch(column, r as usize * n_cols),
                )
            }
            (BinLayout::Dense, BinStorage::U16(bins)) => split_rows(
                rows,
                |r| bin_left(bins[r as usize * n_cols + f]),
                |r| prefetch(bins, r as usize * n_cols + f),
            ),
            _ => split_rows(
                rows,
                |r| match self.matrix.bin(r as usize, f) {
                    None => default_left,
                    #[allow(clippy::cast_possible_wrap, clippy::cast_possible_truncation)]
                    Some(b) => (b as i32) <= left_max,
                },
                |_| {},
            ),
        }
    }

    /// The rows a tree grows on (flagged in `active`, without a negative hessian) and their
    /// gradient sums over consecutive blocks of [`ROOT_SUM_BLOCK`] of them, to be added in
    /// order: the same sums for any thread count. When every row takes part (the usual case,
    /// found in the same pass that sums them) the rows are simply all of them.
    #[allow(clippy::cast_possible_truncation)]
    fn root_rows(&self, gpair: &[(f32, f32)], active: &[bool]) -> (Vec<u32>, Vec<GradStats>) {
        let n = self.matrix.n_rows();
        let kept = |r: usize| active[r] && gpair[r].1 >= 0.0;
        let blocks: Vec<(bool, GradStats)> = (0..n.div_ceil(ROOT_SUM_BLOCK))
            .into_par_iter()
            .map(|b| {
                let mut s = GradStats::default();
                let mut all = true;
                let range = b * ROOT_SUM_BLOCK..n.min((b + 1) * ROOT_SUM_BLOCK);
                for (&(g, h), &a) in gpair[range.clone()].iter().zip(&active[range]) {
                    if a && h >= 0.0 {
                        s.add_pair(g, h);
                    } else {
                        all = false;
                    }
                }
                (all, s)
            })
            .collect();
        if blocks.iter().all(|&(all, _)| all) {
            let rows: Vec<u32> = (0..n as u32).into_par_iter().collect();
            return (rows, blocks.into_iter().map(|(_, s)| s).collect());
        }
        let rows: Vec<u32> = (0..n as u32)
            .into_par_iter()
            .filter(|&r| kept(r as usize))
            .collect();
        let partial = rows
            .par_chunks(ROOT_SUM_BLOCK)
            .map(|block| {
                let mut s = GradStats::default();
                for &r in block {
                    s.add_pair(gpair[r as usize].0, gpair[r as usize].1);
                }
                s
            })
            .collect();
        (rows, partial)
    }

    /// Grows one tree over the rows flagged in `active` (rows with a negative hessian are left
    /// out, as in XGBoost).
    #[allow(clippy::cast_possible_truncation)]
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
        let (rows, partial) = self.root_rows(gpair, active);
        let mut root_stats = GradStats::default();
        for p in partial {
            root_stats.add(p);
        }
        let lr = self.params.learning_rate;
        let root_weight = self.params.weight(root_stats);
        let mut tree = Tree::with_root(root_weight, root_weight * lr, root_stats.hess as f32);
        sampler.new_tree();
        let hist = (!direct).then(|| {
            if rows.len() == self.matrix.n_rows() {
                // Every row, in order (`rows` is ascending and without repeats).
                Histogram::build_all(self.matrix, self.cuts, gpair)
            } else {
                Histogram::build(self.matrix, self.cuts, &rows, gpair)
            }
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
            nodes[0].as_ref().expect("root exists"),
            &root_features,
            root_mask.as_deref(),
            gpair,
        );
        let mut queue = BinaryHeap::new();
        queue.push(Expandable {
            nid: 0,
            depth: 0,
            split: root_split,
        });

        while !queue.is_empty() {
            // Depth-wise growth pops a whole level; loss-guided growth one node.
            let batch: Vec<Expandable> = match self.shape.policy {
                GrowPolicy::Lossguide => queue.pop().into_iter().collect(),
                GrowPolicy::Depthwise => {
                    let mut level: Vec<Expandable> = queue.drain().collect();
                    level.sort_by_key(|e| e.nid);
                    level
                }
            };
            // Expand the batch in node order (the tree's ids and `max_leaves` depend on it).
            let mut splits: Vec<(Expandable, usize, NodeRows)> = Vec::new();
            // Nodes whose children are final leaves: partitioned only when leaves are wanted.
            let mut last: Vec<(Expandable, usize, NodeRows)> = Vec::new();
            for e in batch {
                if !self.is_expandable(&e, n_leaves) {
                    tree.loss_chg[e.nid] = e.split.cand.loss_chg.max(0.0);
                    if let (Some(out), Some(node)) = (leaves.as_deref_mut(), nodes[e.nid].take()) {
                        out.push((e.nid, node.rows));
                    }
                    nodes[e.nid] = None;
                    continue;
                }
                let c = e.split.cand;
                let lw = self.params.weight(c.left);
                let rw = self.params.weight(c.right);
                let l = tree.expand(
                    e.nid,
                    c.feature,
                    c.threshold,
                    c.default_left,
                    c.loss_chg,
                    (lw, lw * lr, c.left.hess as f32),
                    (rw, rw * lr, c.right.hess as f32),
                );
                n_leaves += 1;
                let parent = nodes[e.nid]
                    .take()
                    .expect("an expandable node has its rows");
                let need_hist = self.can_split_children(e.depth + 1)
                    && (self.shape.max_leaves == 0 || n_leaves < self.shape.max_leaves);
                // Children that can never split need neither rows nor histograms.
                if need_hist {
                    splits.push((e, l, parent));
                } else if leaves.is_some() {
                    last.push((e, l, parent));
                }
            }
            if let Some(out) = leaves.as_deref_mut() {
                let parts: Vec<(Vec<u32>, Vec<u32>)> = last
                    .par_iter()
                    .map(|(e, _, parent)| self.partition(&parent.rows, &e.split))
                    .collect();
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
                .map(|(e, _, parent)| {
                    let (left_rows, right_rows) = self.partition(&parent.rows, &e.split);
                    let (mut lh, mut rh) = (None, None);
                    if let Some(parent_hist) = parent.hist.take() {
                        let small_left = left_rows.len() <= right_rows.len();
                        let small_rows = if small_left { &left_rows } else { &right_rows };
                        let small = Histogram::build(self.matrix, self.cuts, small_rows, gpair);
                        let other = small.sibling_from(parent_hist);
                        (lh, rh) = if small_left {
                            (Some(small), Some(other))
                        } else {
                            (Some(other), Some(small))
                        };
                    }
                    let c = e.split.cand;
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
                })
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
            let evaluated: Vec<Expandable> = children
                .par_iter()
                .map(|(nid, depth, feats, mask)| {
                    let node = nodes[*nid].as_ref().expect("a new child has its rows");
                    Expandable {
                        nid: *nid,
                        depth: *depth,
                        split: self.evaluate(node, feats, mask.as_deref(), gpair),
                    }
                })
                .collect();
            queue.extend(evaluated);
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
        let grower = HistGrower {
            matrix: &m,
            cuts: &cuts,
            params: &p,
            shape,
        };
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
            let grower = HistGrower {
                matrix: &m,
                cuts: &cuts,
                params: &p,
                shape,
            };
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
    fn reference_scan(bins: &[GradStats], node: GradStats, p: &SplitParams) -> (f32, i32, bool) {
        let node_gain = p.gain(node);
        let mcw = f64::from(p.min_child_weight);
        let mut best = SplitCandidate::default();
        let mut at = (-2, false);
        let mut acc = GradStats::default();
        for (i, b) in bins.iter().enumerate() {
            acc.add(*b);
            let rest = GradStats::difference(node, acc);
            if acc.hess >= mcw && rest.hess >= mcw {
                let l = p.split_gain(acc, rest) - node_gain;
                if best.needs_replace(l, 3) {
                    best.loss_chg = l;
                    best.feature = 3;
                    at = (i as i32, false);
                }
            }
        }
        if node.hess - acc.hess <= 1e-9 * node.hess.abs().max(1.0) {
            return (best.loss_chg, at.0, at.1);
        }
        let mut acc = GradStats::default();
        for i in (0..bins.len()).rev() {
            acc.add(bins[i]);
            let rest = GradStats::difference(node, acc);
            if acc.hess >= mcw && rest.hess >= mcw {
                let l = p.split_gain(rest, acc) - node_gain;
                if best.needs_replace(l, 3) {
                    best.loss_chg = l;
                    best.feature = 3;
                    at = (i as i32 - 1, true);
                }
            }
        }
        (best.loss_chg, at.0, at.1)
    }

    #[test]
    fn chunked_scan_equals_the_candidate_by_candidate_scan() {
        let mut state = 17_u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 40) as f64 / f64::from(1u32 << 24)
        };
        for case in 0..200 {
            let n_bins = 1 + (next() * 300.0) as usize;
            let bins: Vec<GradStats> = (0..n_bins)
                .map(|_| {
                    if next() < 0.3 {
                        GradStats::default()
                    } else {
                        GradStats::new(next() * 4.0 - 2.0, (next() * 3.0).floor())
                    }
                })
                .collect();
            let mut node = GradStats::default();
            bins.iter().for_each(|b| node.add(*b));
            // Missing rows: extra sums the bins do not hold.
            node.add(GradStats::new(next() - 0.5, (next() * 4.0).floor()));
            let tp = TreeParams {
                reg_alpha: if case % 3 == 0 { 0.5 } else { 0.0 },
                max_delta_step: if case % 5 == 0 { 0.7 } else { 0.0 },
                min_child_weight: f64::from(case % 4),
                reg_lambda: f64::from(case % 2),
                ..TreeParams::default()
            };
            let p = SplitParams::from_tree_params(&tp, None);
            let cuts: Vec<f32> = (0..n_bins).map(|i| i as f32).collect();
            let got = evaluate_feature(&bins, &cuts, -1.0, 3, node, p.gain(node), true, &p);
            let (loss, lmb, default_left) = reference_scan(&bins, node, &p);
            assert_eq!(got.cand.loss_chg.to_bits(), loss.to_bits(), "case {case}");
            if lmb != -2 {
                assert_eq!(
                    (got.left_max_bin, got.cand.default_left),
                    (lmb, default_left)
                );
            }
        }
    }

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
            let grower = HistGrower {
                matrix: &m,
                cuts: &cuts,
                params: &p,
                shape: TreeShape {
                    max_depth: 6,
                    max_leaves: 0,
                    policy,
                },
            };
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
