//! Feature contributions of a [`Booster`]'s predictions: exact TreeSHAP values, or Saabas's
//! path attributions when asked for the approximation.
//!
//! For each row and output group the contributions of the `num_feature` features plus a bias
//! (the trees' expected values and the base margin) add up to the raw margin. TreeSHAP
//! follows the path-dependent algorithm of Lundberg, Erion and Lee (2018): one pass down each
//! tree keeps, for the features met on the way, the share of every subset size of the paths
//! that agree with the row, with node covers (hessian sums) as the background distribution.
//! Rows go in parallel; each thread keeps one path buffer, sized by the deepest tree, and one
//! densified row. Reads the model and the input; writes only the output it returns.

use rayon::prelude::*;
use sapwood_mem::{len_of, try_vec, try_with_capacity};

use crate::data::MatrixView;
use crate::error::BoostError;
use crate::model::Booster;
use crate::tree::Tree;

/// Rows per parallel task.
const ROW_BLOCK: usize = 64;

/// No feature: the root element of a path.
const NO_FEATURE: u32 = u32::MAX;

/// One feature on the path from the root: the share of background rows (`zero`) and of the
/// explained row (`one`, 0 or 1) that follow the path through its splits, and the weight of
/// the subsets of a given size.
#[derive(Debug, Clone, Copy)]
struct PathElement {
    feature: u32,
    zero: f64,
    one: f64,
    weight: f64,
}

const EMPTY: PathElement = PathElement {
    feature: NO_FEATURE,
    zero: 0.0,
    one: 0.0,
    weight: 0.0,
};

/// Adds a feature to a path of `depth` elements (element `depth` becomes it) and updates the
/// subset weights.
fn extend(path: &mut [PathElement], depth: usize, zero: f64, one: f64, feature: u32) {
    path[depth] = PathElement {
        feature,
        zero,
        one,
        weight: if depth == 0 { 1.0 } else { 0.0 },
    };
    let d1 = (depth + 1) as f64;
    for i in (0..depth).rev() {
        path[i + 1].weight += one * path[i].weight * (i + 1) as f64 / d1;
        path[i].weight = zero * path[i].weight * (depth - i) as f64 / d1;
    }
}

/// Removes element `index` from a path of `depth + 1` elements, undoing [`extend`].
fn unwind(path: &mut [PathElement], depth: usize, index: usize) {
    let (one, zero) = (path[index].one, path[index].zero);
    let d1 = (depth + 1) as f64;
    let mut next = path[depth].weight;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let kept = path[i].weight;
            path[i].weight = next * d1 / ((i + 1) as f64 * one);
            next = kept - path[i].weight * zero * (depth - i) as f64 / d1;
        } else {
            path[i].weight = path[i].weight * d1 / (zero * (depth - i) as f64);
        }
    }
    for i in index..depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero = path[i + 1].zero;
        path[i].one = path[i + 1].one;
    }
}

/// The total weight the path would have without element `index` (of `depth + 1`).
fn unwound_sum(path: &[PathElement], depth: usize, index: usize) -> f64 {
    let (one, zero) = (path[index].one, path[index].zero);
    let d1 = (depth + 1) as f64;
    let mut next = path[depth].weight;
    let mut total = 0.0;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let w = next * d1 / ((i + 1) as f64 * one);
            total += w;
            next = path[i].weight - w * zero * (depth - i) as f64 / d1;
        } else if zero != 0.0 {
            total += path[i].weight / zero / ((depth - i) as f64 / d1);
        }
    }
    total
}

/// Each node's expected value over the background: leaves their value, splits the
/// cover-weighted mean of their children's.
fn mean_values(tree: &Tree) -> Vec<f64> {
    let mut means = vec![0.0; tree.n_nodes()];
    fn fill(tree: &Tree, nid: usize, means: &mut [f64]) -> f64 {
        let l = tree.left[nid];
        let v = if l < 0 {
            f64::from(tree.split_cond[nid])
        } else {
            #[allow(clippy::cast_sign_loss)]
            let (l, r) = (l as usize, tree.right[nid] as usize);
            let (ml, mr) = (fill(tree, l, means), fill(tree, r, means));
            let cover = f64::from(tree.sum_hess[nid]);
            let (cl, cr) = (f64::from(tree.sum_hess[l]), f64::from(tree.sum_hess[r]));
            if cover > 0.0 {
                (ml * cl + mr * cr) / cover
            } else {
                0.5 * (ml + mr)
            }
        };
        means[nid] = v;
        v
    }
    fill(tree, 0, &mut means);
    means
}

/// The child a row's value goes to at split `nid`, and the other one.
#[inline]
fn children(tree: &Tree, nid: usize, row: &[f32]) -> (usize, usize) {
    #[allow(clippy::cast_sign_loss)]
    let (l, r) = (tree.left[nid] as usize, tree.right[nid] as usize);
    if tree.goes_left(nid, row[tree.split_index[nid] as usize]) {
        (l, r)
    } else {
        (r, l)
    }
}

/// How a walk enters a node: the background share and the row's share (1 or 0) of the split
/// that led there, and that split's feature.
#[derive(Clone, Copy)]
struct Step {
    zero: f64,
    one: f64,
    feature: u32,
}

/// A feature held on or off while the others are explained (for interaction values): its
/// splits send the row's share down one side only (`on`: the row's side) or both sides by
/// cover (`off`), and it never enters the path.
#[derive(Clone, Copy)]
struct Condition {
    feature: u32,
    on: bool,
}

/// One tree's TreeSHAP values of one row, added into `phi` (one slot per feature).
struct ShapWalk<'a> {
    tree: &'a Tree,
    row: &'a [f32],
    condition: Option<Condition>,
}

impl ShapWalk<'_> {
    /// Walks the subtree of `nid`, entered by `step` with a share `fraction` of the row
    /// (below 1 only under an `off` condition); the parent's path of `depth` elements starts
    /// at `buf[parent]`, and this node's goes right after it.
    fn walk(
        &self,
        nid: usize,
        buf: &mut [PathElement],
        (parent, depth): (usize, usize),
        (step, fraction): (Step, f64),
        phi: &mut [f64],
    ) {
        if fraction == 0.0 {
            return;
        }
        let start = parent + depth + 1;
        buf.copy_within(parent..parent + depth + 1, start);
        let path = &mut buf[start..];
        if self.condition.is_none_or(|c| c.feature != step.feature) {
            extend(path, depth, step.zero, step.one, step.feature);
        }
        let tree = self.tree;
        if tree.left[nid] < 0 {
            let value = f64::from(tree.split_cond[nid]) * fraction;
            for i in 1..=depth {
                let el = path[i];
                let w = unwound_sum(path, depth, i);
                phi[el.feature as usize] += w * (el.one - el.zero) * value;
            }
            return;
        }
        let (hot, cold) = children(tree, nid, self.row);
        let cover = f64::from(tree.sum_hess[nid]);
        let share = |c: usize| {
            if cover > 0.0 {
                f64::from(tree.sum_hess[c]) / cover
            } else {
                0.0
            }
        };
        let split = tree.split_index[nid];
        let (mut in_zero, mut in_one) = (1.0, 1.0);
        let mut depth = depth;
        // A feature met again: its earlier element is folded into this split's.
        if let Some(k) = (1..=depth).find(|&k| path[k].feature == split) {
            in_zero = path[k].zero;
            in_one = path[k].one;
            unwind(path, depth, k);
            depth -= 1;
        }
        let (mut hot_fraction, mut cold_fraction) = (fraction, fraction);
        // The children's path length: one more, unless this split's feature is held, which
        // never enters the path (the children then keep this node's path as it is).
        let mut child_depth = depth + 1;
        if let Some(c) = self.condition.filter(|c| c.feature == split) {
            if c.on {
                cold_fraction = 0.0;
            } else {
                hot_fraction *= share(hot);
                cold_fraction *= share(cold);
            }
            child_depth = depth;
        }
        let hot_step = Step {
            zero: share(hot) * in_zero,
            one: in_one,
            feature: split,
        };
        let cold_step = Step {
            zero: share(cold) * in_zero,
            one: 0.0,
            feature: split,
        };
        self.walk(
            hot,
            buf,
            (start, child_depth),
            (hot_step, hot_fraction),
            phi,
        );
        self.walk(
            cold,
            buf,
            (start, child_depth),
            (cold_step, cold_fraction),
            phi,
        );
    }
}

/// Longest run of distinct features on a leaf's path that gets a precomputed table (2^k
/// patterns of k values each); longer paths take the recursive walk.
const MAX_TABLE_FEATURES: usize = 12;

/// Largest number of precomputed values over all the trees explained (256 MiB of f64);
/// beyond it, the remaining trees take the recursive walk.
const MAX_TABLE_VALUES: usize = 1 << 25;

/// The distinct features on each leaf's path of a tree, as the precomputed tables see it:
/// every split node's feature gets a slot among the distinct features of its path (in order
/// of first appearance), and each leaf the list of those features with the product of the
/// cover shares of their splits along the path (the share of the background that follows
/// the path through them).
struct PathSlots {
    /// Per split node: the slot of its feature.
    slot: Vec<u8>,
    /// Every leaf, with its path's distinct features and their cover shares.
    leaves: Vec<(usize, Vec<(u32, f64)>)>,
}

impl PathSlots {
    /// The slots of `tree`, or `None` when a path has more than [`MAX_TABLE_FEATURES`]
    /// distinct features.
    #[allow(clippy::cast_possible_truncation)]
    fn of(tree: &Tree) -> Option<Self> {
        let mut slots = PathSlots {
            slot: vec![0; tree.n_nodes()],
            leaves: Vec::new(),
        };
        let mut stack: Vec<(usize, Vec<(u32, f64)>)> = vec![(0, Vec::new())];
        while let Some((nid, path)) = stack.pop() {
            if tree.left[nid] < 0 {
                if path.len() > MAX_TABLE_FEATURES {
                    return None;
                }
                slots.leaves.push((nid, path));
                continue;
            }
            #[allow(clippy::cast_sign_loss)]
            let (l, r) = (tree.left[nid] as usize, tree.right[nid] as usize);
            let f = tree.split_index[nid];
            let slot = path.iter().position(|&(g, _)| g == f).unwrap_or(path.len());
            if slot >= MAX_TABLE_FEATURES {
                return None;
            }
            slots.slot[nid] = slot as u8;
            let cover = f64::from(tree.sum_hess[nid]);
            for c in [r, l] {
                let share = if cover > 0.0 {
                    f64::from(tree.sum_hess[c]) / cover
                } else {
                    0.0
                };
                let mut next = path.clone();
                if slot < next.len() {
                    next[slot].1 *= share;
                } else {
                    next.push((f, share));
                }
                stack.push((c, next));
            }
        }
        Some(slots)
    }

    /// Calls `leaf(nid, pattern)` for every leaf of `tree`, one pass over its nodes:
    /// `pattern` has the bit of each path feature whose splits `row` follows set (bits of
    /// features not on the path stay set).
    fn for_each_leaf(
        &self,
        tree: &Tree,
        row: &[f32],
        stack: &mut Vec<(usize, usize)>,
        mut leaf: impl FnMut(usize, usize),
    ) {
        stack.clear();
        stack.push((0, usize::MAX));
        while let Some((nid, pattern)) = stack.pop() {
            if tree.left[nid] < 0 {
                leaf(nid, pattern);
                continue;
            }
            let (hot, cold) = children(tree, nid, row);
            stack.push((cold, pattern & !(1usize << self.slot[nid])));
            stack.push((hot, pattern));
        }
    }
}

/// The TreeSHAP values of a leaf of value `value` whose path's distinct features are `path`
/// (feature, cover share), for the row pattern `pattern` (bit `j`: the row follows the
/// splits of `path[j]`), appended to `out` in path order.
fn path_values(
    path: &[(u32, f64)],
    pattern: usize,
    value: f64,
    buf: &mut [PathElement],
    out: &mut Vec<f64>,
) {
    let k = path.len();
    buf[0] = EMPTY;
    extend(buf, 0, 1.0, 1.0, NO_FEATURE);
    for (j, &(f, zero)) in path.iter().enumerate() {
        let one = if pattern >> j & 1 == 1 { 1.0 } else { 0.0 };
        extend(buf, j + 1, zero, one, f);
    }
    for j in 0..k {
        let el = buf[j + 1];
        let w = unwound_sum(buf, k, j + 1);
        out.push(w * (el.one - el.zero) * value);
    }
}

/// One tree's TreeSHAP values precomputed per leaf, in the manner of Fast TreeSHAP v2 (Yang,
/// 2021): a leaf's contribution to each distinct feature of its path depends on the row only
/// through which of those features' splits the row follows (a pattern of k bits), so every
/// pattern's values are computed once, and a row then costs one pass over the tree's nodes.
struct LeafTables {
    paths: PathSlots,
    /// Per leaf node: where its table starts in `values`, and its path's distinct features
    /// (in order of first appearance). Empty for split nodes.
    leaves: Vec<(usize, Vec<u32>)>,
    /// Per leaf, `2^k` patterns of `k` values: the contribution of each distinct feature.
    values: Vec<f64>,
}

impl LeafTables {
    /// The tables of `tree`, or `None` when a path has more than [`MAX_TABLE_FEATURES`]
    /// distinct features or the values would pass `budget`.
    fn build(tree: &Tree, budget: usize) -> Option<Self> {
        let paths = PathSlots::of(tree)?;
        let mut leaves = vec![(0, Vec::new()); tree.n_nodes()];
        let mut values = Vec::new();
        let mut buf = vec![EMPTY; MAX_TABLE_FEATURES + 2];
        for (nid, path) in &paths.leaves {
            let k = path.len();
            if values.len() + (k << k) > budget {
                return None;
            }
            let offset = values.len();
            let value = f64::from(tree.split_cond[*nid]);
            for pattern in 0..(1usize << k) {
                path_values(path, pattern, value, &mut buf, &mut values);
            }
            leaves[*nid] = (offset, path.iter().map(|&(f, _)| f).collect());
        }
        Some(LeafTables {
            paths,
            leaves,
            values,
        })
    }

    /// Adds the tree's TreeSHAP values of `row` into `phi`: each leaf adds its pattern's
    /// values.
    fn add(&self, tree: &Tree, row: &[f32], phi: &mut [f64], stack: &mut Vec<(usize, usize)>) {
        self.paths.for_each_leaf(tree, row, stack, |nid, pattern| {
            let (offset, features) = &self.leaves[nid];
            let k = features.len();
            let at = offset + (pattern & ((1usize << k) - 1)) * k;
            for (f, v) in features.iter().zip(&self.values[at..at + k]) {
                phi[*f as usize] += v;
            }
        });
    }
}

/// One tree's SHAP interaction values precomputed per leaf. Holding a feature `c` of a leaf's
/// path on scales the leaf by whether the row follows `c`'s splits (`o_c`, 0 or 1), holding it
/// off by the share of the background that does (`z_c`); either way `c` leaves the path. So the
/// leaf's part of the interaction of `c` with another path feature `i` is
/// `(o_c - z_c) / 2` times `i`'s TreeSHAP value in the game on the path without `c`, which
/// depends on the row only through the pattern of the other features' splits it follows:
/// one table per feature of the path, over the `2^(k-1)` patterns of the others.
struct InteractionTables {
    paths: PathSlots,
    /// Per leaf node: where its tables start in `values`, its path's distinct features and
    /// the share of the background that follows each one's splits. Empty for split nodes.
    leaves: Vec<(usize, Vec<u32>, Vec<f64>)>,
    /// Per leaf, per held feature `p` (`k` of them), per pattern of the other `k - 1`
    /// features, their `k - 1` TreeSHAP values times the leaf value.
    values: Vec<f64>,
}

impl InteractionTables {
    /// The tables of `tree`, or `None` when a path has more than [`MAX_TABLE_FEATURES`]
    /// distinct features or the values would pass `budget`.
    fn build(tree: &Tree, budget: usize) -> Option<Self> {
        let paths = PathSlots::of(tree)?;
        let mut leaves = vec![(0, Vec::new(), Vec::new()); tree.n_nodes()];
        let mut values = Vec::new();
        let mut buf = vec![EMPTY; MAX_TABLE_FEATURES + 2];
        for (nid, path) in &paths.leaves {
            let k = path.len();
            if k == 0 {
                continue;
            }
            if values.len() + ((k * (k - 1)) << (k - 1)) > budget {
                return None;
            }
            let value = f64::from(tree.split_cond[*nid]);
            let offset = values.len();
            for held in 0..k {
                let rest: Vec<(u32, f64)> = path
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != held)
                    .map(|(_, &e)| e)
                    .collect();
                for pattern in 0..(1usize << (k - 1)) {
                    path_values(&rest, pattern, value, &mut buf, &mut values);
                }
            }
            leaves[*nid] = (
                offset,
                path.iter().map(|&(f, _)| f).collect(),
                path.iter().map(|&(_, z)| z).collect(),
            );
        }
        Some(InteractionTables {
            paths,
            leaves,
            values,
        })
    }

    /// Adds the tree's interaction values of `row` (off the diagonal) into `phi`, a
    /// `width x width` matrix whose row `c` holds the interactions of feature `c` held.
    fn add(
        &self,
        tree: &Tree,
        row: &[f32],
        phi: &mut [f64],
        width: usize,
        stack: &mut Vec<(usize, usize)>,
    ) {
        self.paths.for_each_leaf(tree, row, stack, |nid, pattern| {
            let (offset, features, zeros) = &self.leaves[nid];
            let k = features.len();
            if k < 2 {
                return;
            }
            let per_held = (k - 1) << (k - 1);
            for held in 0..k {
                let one = if pattern >> held & 1 == 1 { 1.0 } else { 0.0 };
                let coef = (one - zeros[held]) / 2.0;
                if coef == 0.0 {
                    continue;
                }
                // The pattern of the other features: bit `held` taken out.
                let low = pattern & ((1usize << held) - 1);
                let high = (pattern >> (held + 1)) & ((1usize << (k - 1 - held)) - 1);
                let sub = low | high << held;
                let at = offset + held * per_held + sub * (k - 1);
                let cells = &mut phi[features[held] as usize * width..];
                let others = features
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != held)
                    .map(|(_, &f)| f);
                for (f, v) in others.zip(&self.values[at..at + k - 1]) {
                    cells[f as usize] += coef * v;
                }
            }
        });
    }
}

/// Saabas's attribution of one tree on one row: each split's feature gets the change of the
/// expected value from the node to the child the row goes to.
fn saabas(tree: &Tree, means: &[f64], row: &[f32], phi: &mut [f64]) {
    let mut nid = 0;
    while tree.left[nid] >= 0 {
        let (next, _) = children(tree, nid, row);
        phi[tree.split_index[nid] as usize] += means[next] - means[nid];
        nid = next;
    }
}

/// What explaining rows needs from a model: its trees of the chosen iterations with their
/// output groups and expected values, and the base margin.
struct Explainer<'a> {
    trees: &'a [Tree],
    groups: &'a [u32],
    means: Vec<Vec<f64>>,
    /// Per tree, its precomputed leaf tables (contributions only; `None`: the walk).
    tables: Vec<Option<LeafTables>>,
    base: Vec<f32>,
    /// `num_feature + 1`: a group's slots, the bias last.
    width: usize,
    /// Path buffer length for the deepest tree.
    path_len: usize,
}

impl Explainer<'_> {
    /// One row's contributions into `phi` (`n_groups * width`): each group's base margin in
    /// its bias slot, then every tree's. With a `condition`, the trees' expected values are
    /// left out of the bias (they cancel between the on and off passes).
    fn row(
        &self,
        row: &[f32],
        (approximate, condition): (bool, Option<Condition>),
        phi: &mut [f64],
        (buf, stack): (&mut [PathElement], &mut Vec<(usize, usize)>),
    ) {
        let (width, m) = (self.width, self.width - 1);
        phi.fill(0.0);
        for (g, b) in self.base.iter().enumerate() {
            phi[g * width + m] = f64::from(*b);
        }
        for (t, ((tree, means), &g)) in self
            .trees
            .iter()
            .zip(&self.means)
            .zip(self.groups)
            .enumerate()
        {
            let phi = &mut phi[g as usize * width..(g as usize + 1) * width];
            if condition.is_none() {
                phi[m] += means[0];
            }
            if approximate {
                saabas(tree, means, row, phi);
            } else if let (None, Some(Some(table))) = (condition, self.tables.get(t)) {
                if tree.left[0] >= 0 {
                    table.add(tree, row, phi, stack);
                }
            } else if tree.left[0] >= 0 {
                let root = Step {
                    zero: 1.0,
                    one: 1.0,
                    feature: NO_FEATURE,
                };
                let walk = ShapWalk {
                    tree,
                    row,
                    condition,
                };
                walk.walk(0, buf, (0, 0), (root, 1.0), phi);
            }
        }
    }
}

/// Converts a row's `f64` results into the output.
fn store(out: &mut [f32], values: &[f64]) {
    for (o, &v) in out.iter_mut().zip(values) {
        #[allow(clippy::cast_possible_truncation)]
        let v32 = v as f32;
        *o = v32;
    }
}

impl Booster {
    /// What explaining the rows of `x` with iterations `[begin, end)` needs, once `x`'s
    /// width and the range are checked.
    fn explainer(
        &self,
        x: &MatrixView<'_>,
        begin: usize,
        end: usize,
    ) -> Result<Explainer<'_>, BoostError> {
        self.check_width(x)?;
        let range = self.tree_range(begin, end)?;
        let trees = &self.trees[range.clone()];
        let deepest = trees.iter().map(Tree::max_depth).max().unwrap_or(0);
        Ok(Explainer {
            trees,
            groups: &self.tree_info[range],
            means: trees.par_iter().map(mean_values).collect(),
            tables: Vec::new(),
            base: self.base_margin(),
            width: self.num_feature + 1,
            path_len: (deepest + 2) * (deepest + 3) / 2 + 1,
        })
    }

    /// Feature contributions of iterations `[begin, end)` (`end == 0`: all), as
    /// `n_rows * n_groups * (num_feature + 1)` values, row-major: for each row and group the
    /// contributions of the features, then the bias (the trees' expected values and the base
    /// margin); they add up to the raw margin. `approximate` gives Saabas's attributions
    /// instead of TreeSHAP values.
    ///
    /// # Errors
    /// [`BoostError::InvalidInput`] for a width mismatch or an invalid range;
    /// [`BoostError::OutOfMemory`] when the output cannot be allocated.
    pub fn predict_contributions(
        &self,
        x: &MatrixView<'_>,
        begin: usize,
        end: usize,
        approximate: bool,
    ) -> Result<Vec<f32>, BoostError> {
        let mut ex = self.explainer(x, begin, end)?;
        if !approximate {
            // Precomputed leaf tables, within one budget over all trees (each tree checks
            // the share still left; a tree that would pass it takes the walk).
            let per_tree = MAX_TABLE_VALUES / ex.trees.len().max(1);
            ex.tables = ex
                .trees
                .par_iter()
                .map(|t| LeafTables::build(t, per_tree))
                .collect();
        }
        let m = self.num_feature;
        let what = "the contributions output";
        let per_row = len_of(self.n_groups(), ex.width, what)?;
        let mut out = try_vec(len_of(x.n_rows(), per_row, what)?, 0.0_f32, what)?;
        // Each thread densifies a row and accumulates its contributions in f64.
        drop(try_with_capacity::<f64>(per_row, "a row of contributions")?);
        out.par_chunks_mut(ROW_BLOCK * per_row)
            .enumerate()
            .for_each_init(
                || {
                    let row = vec![0.0_f32; m];
                    (
                        row,
                        vec![0.0_f64; per_row],
                        vec![EMPTY; ex.path_len],
                        Vec::new(),
                    )
                },
                |(row_buf, phi, buf, stack), (c, block)| {
                    for (j, o) in block.chunks_mut(per_row).enumerate() {
                        let i = c * ROW_BLOCK + j;
                        let row = x.row(i, row_buf);
                        ex.row(row, (approximate, None), phi, (buf, stack));
                        store(o, phi);
                    }
                },
            );
        Ok(out)
    }

    /// SHAP interaction values of iterations `[begin, end)`, as
    /// `n_rows * n_groups * (num_feature + 1)^2` values, row-major: for each row and group a
    /// matrix whose off-diagonal entry `(i, j)` is half the change of feature `j`'s
    /// contribution between holding feature `i` on and off, and whose diagonal holds what is
    /// left of each feature's contribution (the bias in the last corner); each row of the
    /// matrix adds up to that feature's contribution, and the whole matrix to the raw margin.
    /// `approximate` uses Saabas's attributions in every pass.
    ///
    /// # Errors
    /// As [`Booster::predict_contributions`].
    pub fn predict_interactions(
        &self,
        x: &MatrixView<'_>,
        begin: usize,
        end: usize,
        approximate: bool,
    ) -> Result<Vec<f32>, BoostError> {
        if !approximate {
            if let Some(out) = self.interactions_from_tables(x, begin, end)? {
                return Ok(out);
            }
        }
        self.interactions_by_walks(x, begin, end, approximate)
    }

    /// [`Booster::predict_interactions`] by two more walks of every tree for each feature
    /// used (held on, then off): for Saabas's attributions, and for trees too large for
    /// tables.
    fn interactions_by_walks(
        &self,
        x: &MatrixView<'_>,
        begin: usize,
        end: usize,
        approximate: bool,
    ) -> Result<Vec<f32>, BoostError> {
        let ex = self.explainer(x, begin, end)?;
        let (m, width, k) = (self.num_feature, ex.width, self.n_groups());
        let what = "the interactions output";
        let per_row = len_of(len_of(k, width, what)?, width, what)?;
        let mut out = try_vec(len_of(x.n_rows(), per_row, what)?, 0.0_f32, what)?;
        // Holding a feature that no tree splits on changes nothing: its row is zero but for
        // the diagonal.
        let mut used = vec![false; width];
        for t in ex.trees {
            for nid in 0..t.n_nodes() {
                if t.left[nid] >= 0 && !t.is_deleted(nid) {
                    used[t.split_index[nid] as usize] = true;
                }
            }
        }
        let per_group = len_of(k, width, what)?;
        drop(try_with_capacity::<f64>(
            3 * per_group,
            "a row of contributions",
        )?);
        out.par_chunks_mut(per_row).enumerate().for_each_init(
            || {
                let bufs = vec![0.0_f64; per_group];
                (
                    vec![0.0_f32; m],
                    [bufs.clone(), bufs.clone(), bufs],
                    vec![EMPTY; ex.path_len],
                    Vec::new(),
                )
            },
            |(row_buf, [diag, on, off], buf, stack), (i, o)| {
                let row = x.row(i, row_buf);
                ex.row(row, (approximate, None), diag, (buf, stack));
                for f in 0..width {
                    if used[f] {
                        #[allow(clippy::cast_possible_truncation)]
                        let feature = f as u32;
                        let held = |on| Some(Condition { feature, on });
                        ex.row(row, (approximate, held(true)), on, (buf, stack));
                        ex.row(row, (approximate, held(false)), off, (buf, stack));
                    }
                    for g in 0..k {
                        let at = g * width;
                        let cell = &mut o[(g * width + f) * width..(g * width + f + 1) * width];
                        let mut rest = diag[at + f];
                        if used[f] {
                            for j in (0..width).filter(|&j| j != f) {
                                let v = (on[at + j] - off[at + j]) / 2.0;
                                rest -= v;
                                #[allow(clippy::cast_possible_truncation)]
                                let v32 = v as f32;
                                cell[j] = v32;
                            }
                        }
                        #[allow(clippy::cast_possible_truncation)]
                        let r32 = rest as f32;
                        cell[f] = r32;
                    }
                }
            },
        );
        Ok(out)
    }
}

impl Booster {
    /// [`Booster::predict_interactions`] (exact) from per-leaf tables, one pass over each
    /// tree's nodes a row: `None` when a tree's tables would be too large (then every tree
    /// takes the on and off walks for every feature).
    fn interactions_from_tables(
        &self,
        x: &MatrixView<'_>,
        begin: usize,
        end: usize,
    ) -> Result<Option<Vec<f32>>, BoostError> {
        let mut ex = self.explainer(x, begin, end)?;
        let n_trees = ex.trees.len().max(1);
        let inter: Option<Vec<InteractionTables>> = ex
            .trees
            .par_iter()
            .map(|t| InteractionTables::build(t, MAX_TABLE_VALUES / n_trees))
            .collect();
        let Some(inter) = inter else {
            return Ok(None);
        };
        ex.tables = ex
            .trees
            .par_iter()
            .map(|t| LeafTables::build(t, MAX_TABLE_VALUES / n_trees))
            .collect();
        let (m, width, k) = (self.num_feature, ex.width, self.n_groups());
        let what = "the interactions output";
        let per_group = len_of(width, width, what)?;
        let per_row = len_of(k, per_group, what)?;
        let mut out = try_vec(len_of(x.n_rows(), per_row, what)?, 0.0_f32, what)?;
        drop(try_with_capacity::<f64>(
            per_row + k * width,
            "a row of interactions",
        )?);
        out.par_chunks_mut(per_row).enumerate().for_each_init(
            || {
                (
                    vec![0.0_f32; m],
                    vec![0.0_f64; k * width],
                    vec![0.0_f64; per_row],
                    vec![EMPTY; ex.path_len],
                    Vec::new(),
                )
            },
            |(row_buf, diag, cells, buf, stack), (i, o)| {
                let row = x.row(i, row_buf);
                ex.row(row, (false, None), diag, (buf, stack));
                cells.fill(0.0);
                for ((tree, table), &g) in ex.trees.iter().zip(&inter).zip(ex.groups) {
                    if tree.left[0] >= 0 {
                        let at = g as usize * per_group;
                        table.add(tree, row, &mut cells[at..at + per_group], width, stack);
                    }
                }
                for g in 0..k {
                    let group = &mut cells[g * per_group..(g + 1) * per_group];
                    for f in 0..width {
                        let line = &mut group[f * width..(f + 1) * width];
                        let off: f64 = line
                            .iter()
                            .enumerate()
                            .filter(|&(j, _)| j != f)
                            .map(|(_, v)| v)
                            .sum();
                        line[f] = diag[g * width + f] - off;
                    }
                }
                store(o, cells);
            },
        );
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::TreeSplit;

    /// A depth-2 tree on features 0 and 1 with covers, and a row going left then right.
    fn tree() -> Tree {
        let mut t = Tree::with_root(0.0, 0.0, 10.0);
        let split = |feature, threshold| TreeSplit {
            feature,
            threshold,
            default_left: true,
            loss_chg: 1.0,
        };
        let l = t.expand_split(0, &split(0, 0.5), (0.0, 0.0, 6.0), (0.0, 0.0, 4.0));
        t.expand_split(l, &split(1, 0.5), (0.0, 1.0, 2.0), (0.0, 3.0, 4.0));
        t.expand_split(l + 1, &split(1, 0.5), (0.0, -2.0, 1.0), (0.0, 5.0, 3.0));
        t
    }

    /// Exact Shapley values by enumerating the subsets of the two features, with the
    /// tree's cover-weighted conditional expectation as the value of a subset.
    fn brute_force(t: &Tree, row: &[f32]) -> [f64; 2] {
        fn expect(t: &Tree, nid: usize, row: &[f32], known: [bool; 2]) -> f64 {
            if t.left[nid] < 0 {
                return f64::from(t.split_cond[nid]);
            }
            let f = t.split_index[nid] as usize;
            let (l, r) = (t.left[nid] as usize, t.right[nid] as usize);
            if known[f] {
                let (hot, _) = children(t, nid, row);
                expect(t, hot, row, known)
            } else {
                let c = f64::from(t.sum_hess[nid]);
                (expect(t, l, row, known) * f64::from(t.sum_hess[l])
                    + expect(t, r, row, known) * f64::from(t.sum_hess[r]))
                    / c
            }
        }
        let v = |a: bool, b: bool| expect(t, 0, row, [a, b]);
        [
            0.5 * (v(true, false) - v(false, false)) + 0.5 * (v(true, true) - v(false, true)),
            0.5 * (v(false, true) - v(false, false)) + 0.5 * (v(true, true) - v(true, false)),
        ]
    }

    fn booster(t: Tree) -> Booster {
        let mut b = crate::model::tests::stumps();
        b.objective = crate::objective::Objective::SquaredError;
        b.num_class = 0;
        b.base_score = vec![0.5];
        b.num_feature = 2;
        b.trees = vec![t];
        b.tree_info = vec![0];
        b
    }

    #[test]
    fn tree_shap_equals_shapley_values_by_enumeration_and_adds_up() {
        let t = tree();
        let b = booster(t.clone());
        for row in [[0.2_f32, 0.7], [0.9, 0.1], [f32::NAN, 0.9], [0.9, f32::NAN]] {
            let view = MatrixView::DenseF32 {
                data: &row,
                n_rows: 1,
                n_cols: 2,
            };
            let phi = b.predict_contributions(&view, 0, 0, false).unwrap();
            let want = brute_force(&t, &row);
            assert!(
                (f64::from(phi[0]) - want[0]).abs() < 1e-6,
                "{phi:?} {want:?}"
            );
            assert!(
                (f64::from(phi[1]) - want[1]).abs() < 1e-6,
                "{phi:?} {want:?}"
            );
            let margin = b.predict_margin(&view, 0, 0).unwrap()[0];
            let total: f32 = phi.iter().sum();
            assert!((total - margin).abs() < 1e-5, "{total} {margin}");
            let approx = b.predict_contributions(&view, 0, 0, true).unwrap();
            let total: f32 = approx.iter().sum();
            assert!((total - margin).abs() < 1e-5, "{total} {margin}");
        }
    }

    #[test]
    fn interactions_are_symmetric_and_add_up_to_the_contributions() {
        let b = booster(tree());
        for row in [[0.2_f32, 0.7], [0.9, 0.1], [f32::NAN, 0.9]] {
            let view = MatrixView::DenseF32 {
                data: &row,
                n_rows: 1,
                n_cols: 2,
            };
            let phi = b.predict_contributions(&view, 0, 0, false).unwrap();
            let inter = b.predict_interactions(&view, 0, 0, false).unwrap();
            assert_eq!(inter.len(), 9);
            for i in 0..3 {
                let row_sum: f32 = inter[i * 3..i * 3 + 3].iter().sum();
                assert!((row_sum - phi[i]).abs() < 1e-6, "{inter:?} {phi:?}");
                for j in 0..3 {
                    assert!(
                        (inter[i * 3 + j] - inter[j * 3 + i]).abs() < 1e-6,
                        "{inter:?}"
                    );
                }
            }
            // The bias has no interactions.
            assert_eq!(&inter[6..8], &[0.0, 0.0]);
        }
    }

    #[test]
    fn path_weights_unwind_to_what_they_were() {
        let mut path = [EMPTY; 8];
        extend(&mut path, 0, 1.0, 1.0, NO_FEATURE);
        extend(&mut path, 1, 0.6, 1.0, 3);
        let before: Vec<f64> = path[..2].iter().map(|e| e.weight).collect();
        extend(&mut path, 2, 0.3, 0.0, 5);
        unwind(&mut path, 2, 2);
        for (a, b) in path[..2].iter().map(|e| e.weight).zip(before) {
            assert!((a - b).abs() < 1e-12);
        }
    }

    /// A random tree of `depth` levels over `n_features` features (features repeat along
    /// paths), with positive covers that add up.
    fn random_tree(depth: usize, n_features: u32, seed: u64) -> Tree {
        let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as u32
        };
        let mut t = Tree::with_root(0.0, 0.0, 1000.0);
        let mut level = vec![0usize];
        for _ in 0..depth {
            let mut below = Vec::new();
            for &nid in &level {
                let cover = t.sum_hess[nid];
                let share = 0.1 + 0.8 * f32::from(u16::try_from(next() % 1000).unwrap()) / 1000.0;
                let split = TreeSplit {
                    feature: next() % n_features,
                    threshold: f32::from(u16::try_from(next() % 100).unwrap()) / 100.0,
                    default_left: next() % 2 == 0,
                    loss_chg: 1.0,
                };
                let value = |v: u32| f32::from(u16::try_from(v % 200).unwrap()) / 50.0 - 2.0;
                let (lv, rv) = (value(next()), value(next()));
                let l = t.expand_split(
                    nid,
                    &split,
                    (0.0, lv, cover * share),
                    (0.0, rv, cover * (1.0 - share)),
                );
                below.extend([l, l + 1]);
            }
            level = below;
        }
        t
    }

    #[test]
    fn interaction_tables_equal_the_on_and_off_walks() {
        for (depth, n_features, seed) in [(3, 2, 1), (6, 4, 2), (6, 20, 3), (7, 5, 4)] {
            let trees: Vec<Tree> = (0..3)
                .map(|k| random_tree(depth, n_features, seed * 10 + k))
                .collect();
            let n = n_features as usize;
            let b = Booster {
                trees: trees.clone(),
                tree_info: vec![0; 3],
                num_feature: n,
                ..booster(trees[0].clone())
            };
            let rows: Vec<f32> = (0..40 * n)
                .map(|k| {
                    if k % 9 == 4 {
                        f32::NAN
                    } else {
                        ((k * 37) % 100) as f32 / 100.0
                    }
                })
                .collect();
            let view = MatrixView::DenseF32 {
                data: &rows,
                n_rows: 40,
                n_cols: n,
            };
            let fast = b
                .interactions_from_tables(&view, 0, 0)
                .unwrap()
                .expect("short paths get tables");
            let walked = b.interactions_by_walks(&view, 0, 0, false).unwrap();
            for (a, w) in fast.iter().zip(&walked) {
                assert!((a - w).abs() <= 1e-5 * (1.0 + w.abs()), "{a} {w}");
            }
        }
    }

    #[test]
    fn leaf_tables_equal_the_recursive_walk() {
        for (depth, n_features, seed) in [(3, 2, 1), (6, 4, 2), (6, 20, 3), (8, 5, 4)] {
            let t = random_tree(depth, n_features, seed);
            let table = LeafTables::build(&t, usize::MAX).expect("short paths get tables");
            let mut buf = vec![EMPTY; (depth + 2) * (depth + 3) / 2 + 1];
            let mut stack = Vec::new();
            for r in 0..50u16 {
                let row: Vec<f32> = (0..n_features)
                    .map(|f| {
                        let v = f32::from((r * 37 + u16::try_from(f).unwrap() * 11) % 100) / 100.0;
                        if (r + u16::try_from(f).unwrap()) % 7 == 0 {
                            f32::NAN
                        } else {
                            v
                        }
                    })
                    .collect();
                let n = n_features as usize;
                let (mut fast, mut walked) = (vec![0.0; n], vec![0.0; n]);
                table.add(&t, &row, &mut fast, &mut stack);
                let walk = ShapWalk {
                    tree: &t,
                    row: &row,
                    condition: None,
                };
                let root = Step {
                    zero: 1.0,
                    one: 1.0,
                    feature: NO_FEATURE,
                };
                walk.walk(0, &mut buf, (0, 0), (root, 1.0), &mut walked);
                for (a, b) in fast.iter().zip(&walked) {
                    assert!(
                        (a - b).abs() <= 1e-9 * (1.0 + b.abs()),
                        "{fast:?} {walked:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn long_paths_and_small_budgets_keep_the_walk() {
        // 14 levels over 14 distinct features: paths longer than the tables take.
        let mut t = Tree::with_root(0.0, 0.0, 100.0);
        let mut nid = 0;
        for f in 0..14 {
            let split = TreeSplit {
                feature: f,
                threshold: 0.5,
                default_left: true,
                loss_chg: 1.0,
            };
            nid = t.expand_split(nid, &split, (0.0, 1.0, 60.0), (0.0, 2.0, 40.0));
        }
        assert!(LeafTables::build(&t, usize::MAX).is_none());
        assert!(LeafTables::build(&random_tree(6, 4, 9), 10).is_none());
    }
}
