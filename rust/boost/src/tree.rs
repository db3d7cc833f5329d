//! A regression tree stored as flat node arrays, in XGBoost's layout: node 0 is the root, the
//! two children of a node are allocated together (`right = left + 1`), a leaf has
//! `left == -1` and stores its (already shrunk) value in `split_cond`. Nodes removed by
//! pruning stay in the arrays, marked deleted, so node ids match XGBoost's.

use serde::{Deserialize, Serialize};

use crate::error::BoostError;
use crate::gain::SplitParams;

/// The `split_indices` marker XGBoost writes for a deleted node.
pub const DELETED_MARKER: u32 = (1 << 31) - 1;

/// One tree.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// Left child, -1 at leaves.
    pub left: Vec<i32>,
    /// Right child, -1 at leaves.
    pub right: Vec<i32>,
    /// Parent, -1 at the root.
    pub parent: Vec<i32>,
    /// Split feature (0 at leaves, [`DELETED_MARKER`] at deleted nodes).
    pub split_index: Vec<u32>,
    /// Threshold at internal nodes (`x < t` goes left), leaf value at leaves.
    pub split_cond: Vec<f32>,
    /// Where missing values go.
    pub default_left: Vec<bool>,
    /// Unshrunk weight of every node.
    pub base_weight: Vec<f32>,
    /// Loss change of the split at every internal node.
    pub loss_chg: Vec<f32>,
    /// Hessian sum (cover) of every node.
    pub sum_hess: Vec<f32>,
}

/// A node's split as a tree records it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TreeSplit {
    /// The feature compared.
    pub feature: u32,
    /// Rows whose value is below it go left.
    pub threshold: f32,
    /// Where rows missing the feature go.
    pub default_left: bool,
    /// The split's loss reduction.
    pub loss_chg: f32,
}

impl Tree {
    /// A tree with a single leaf.
    pub fn with_root(weight: f32, value: f32, sum_hess: f32) -> Self {
        Self {
            left: vec![-1],
            right: vec![-1],
            parent: vec![-1],
            split_index: vec![0],
            split_cond: vec![value],
            default_left: vec![false],
            base_weight: vec![weight],
            loss_chg: vec![0.0],
            sum_hess: vec![sum_hess],
        }
    }

    /// Number of node slots (deleted ones included).
    pub fn n_nodes(&self) -> usize {
        self.left.len()
    }

    /// Whether node `i` is a leaf.
    #[inline]
    pub fn is_leaf(&self, i: usize) -> bool {
        self.left[i] < 0
    }

    /// Whether node `i` was removed by pruning.
    pub fn is_deleted(&self, i: usize) -> bool {
        self.split_index[i] == DELETED_MARKER
    }

    /// Number of deleted nodes.
    pub fn n_deleted(&self) -> usize {
        (0..self.n_nodes()).filter(|&i| self.is_deleted(i)).count()
    }

    /// Turns leaf-or-internal node `nid` into `split` with two new leaf children, each given
    /// as `(base weight, leaf value, hessian sum)`; returns the left child's id.
    #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
    pub fn expand_split(
        &mut self,
        nid: usize,
        split: &TreeSplit,
        left: (f32, f32, f32),
        right: (f32, f32, f32),
    ) -> usize {
        let TreeSplit {
            feature,
            threshold,
            default_left,
            loss_chg,
        } = *split;
        let l = self.n_nodes();
        for (w, v, h) in [left, right] {
            self.left.push(-1);
            self.right.push(-1);
            self.parent.push(nid as i32);
            self.split_index.push(0);
            self.split_cond.push(v);
            self.default_left.push(false);
            self.base_weight.push(w);
            self.loss_chg.push(0.0);
            self.sum_hess.push(h);
        }
        self.left[nid] = l as i32;
        self.right[nid] = l as i32 + 1;
        self.split_index[nid] = feature;
        self.split_cond[nid] = threshold;
        self.default_left[nid] = default_left;
        self.loss_chg[nid] = loss_chg;
        l
    }

    /// The leaf a row (given as `f32` values, NaN = missing) falls into.
    #[inline]
    pub fn leaf_of(&self, row: &[f32]) -> usize {
        let mut nid = 0usize;
        loop {
            let l = self.left[nid];
            if l < 0 {
                return nid;
            }
            let v = row[self.split_index[nid] as usize];
            #[allow(clippy::cast_sign_loss)]
            let go_left = if v.is_nan() {
                self.default_left[nid]
            } else {
                v < self.split_cond[nid]
            };
            nid = if go_left {
                l as usize
            } else {
                self.right[nid] as usize
            };
        }
    }

    /// XGBoost's pruner: bottom-up, a split whose children are both leaves becomes a leaf
    /// (`learning_rate * base_weight`) when its loss change is below `gamma`; repeated
    /// towards the root. Returns the number of nodes removed.
    #[allow(clippy::cast_sign_loss)]
    pub fn prune(&mut self, params: &SplitParams) -> usize {
        let gamma = f64::from(params.gamma);
        let mut removed = 0;
        for nid in 0..self.n_nodes() {
            if !self.is_leaf(nid) || self.is_deleted(nid) {
                continue;
            }
            let mut cur = nid;
            loop {
                let p = self.parent[cur];
                if p < 0 {
                    break;
                }
                let p = p as usize;
                let (l, r) = (self.left[p] as usize, self.right[p] as usize);
                if !(self.is_leaf(l) && self.is_leaf(r)) || f64::from(self.loss_chg[p]) >= gamma {
                    break;
                }
                for c in [l, r] {
                    self.split_index[c] = DELETED_MARKER;
                    self.left[c] = -1;
                    self.right[c] = -1;
                    self.default_left[c] = true;
                }
                self.left[p] = -1;
                self.right[p] = -1;
                self.split_index[p] = 0;
                self.default_left[p] = false;
                self.split_cond[p] = params.learning_rate * self.base_weight[p];
                removed += 2;
                cur = p;
            }
        }
        removed
    }

    /// Checks that the arrays describe a tree over `n_features` features, for a model read
    /// from a file: equal lengths; at every node both children absent or both in range, the
    /// parent absent or in range, a split feature below `n_features` and finite numbers; every
    /// node reached at most once from the root, through a parent link that points back.
    /// Nodes the root does not reach (XGBoost's deleted ones) are checked too, since
    /// importances and exports read every node.
    ///
    /// # Errors
    /// [`BoostError::InvalidModel`] naming the field and node at fault (as `left[5]`).
    #[allow(
        clippy::cast_sign_loss,
        clippy::cast_possible_truncation,
        clippy::cast_possible_wrap
    )]
    pub fn validate(&self, n_features: usize) -> Result<(), BoostError> {
        let n = self.n_nodes();
        let bad = |m: String| Err(BoostError::InvalidModel(m));
        if n == 0 {
            return bad("left is empty: a tree needs at least its root".into());
        }
        for (name, len) in [
            ("right", self.right.len()),
            ("parent", self.parent.len()),
            ("split_index", self.split_index.len()),
            ("split_cond", self.split_cond.len()),
            ("default_left", self.default_left.len()),
            ("base_weight", self.base_weight.len()),
            ("loss_chg", self.loss_chg.len()),
            ("sum_hess", self.sum_hess.len()),
        ] {
            if len != n {
                return bad(format!("{name} has {len} entries, but left has {n}"));
            }
        }
        let in_range = |v: i32| v >= 0 && (v as usize) < n;
        for i in 0..n {
            let (l, r, p) = (self.left[i], self.right[i], self.parent[i]);
            if l != -1 && !in_range(l) {
                return bad(format!(
                    "left[{i}] = {l} is not -1 or a node of this tree ({n} nodes)"
                ));
            }
            if r != -1 && !in_range(r) {
                return bad(format!(
                    "right[{i}] = {r} is not -1 or a node of this tree ({n} nodes)"
                ));
            }
            if (l == -1) != (r == -1) {
                return bad(format!(
                    "left[{i}] = {l} and right[{i}] = {r}: a node has both children or none"
                ));
            }
            if p != -1 && !in_range(p) {
                return bad(format!(
                    "parent[{i}] = {p} is not -1 or a node of this tree ({n} nodes)"
                ));
            }
            if l >= 0 {
                let f = self.split_index[i];
                if f == DELETED_MARKER {
                    return bad(format!(
                        "split_index[{i}] marks a deleted node that has children"
                    ));
                }
                if f as usize >= n_features {
                    return bad(format!(
                        "split_index[{i}] = {f} is not below num_feature = {n_features}"
                    ));
                }
            }
            for (name, v) in [
                ("split_cond", self.split_cond[i]),
                ("base_weight", self.base_weight[i]),
                ("loss_chg", self.loss_chg[i]),
                ("sum_hess", self.sum_hess[i]),
            ] {
                if !v.is_finite() {
                    return bad(format!("{name}[{i}] = {v} is not a finite number"));
                }
            }
        }
        if self.parent[0] != -1 {
            return bad(format!(
                "parent[0] = {} but node 0 is the root",
                self.parent[0]
            ));
        }
        // Children are in range, so the walk below only has to rule out cycles and shared
        // children: then every route from the root ends at a leaf.
        let mut seen = vec![false; n];
        let mut stack = vec![0usize];
        while let Some(i) = stack.pop() {
            if seen[i] {
                return bad(format!(
                    "node {i} is reached twice from the root (a cycle or a shared child)"
                ));
            }
            seen[i] = true;
            let (l, r) = (self.left[i], self.right[i]);
            if l < 0 {
                continue;
            }
            for c in [l, r] {
                if seen[c as usize] {
                    return bad(format!(
                        "node {c} is reached twice from the root (a cycle or a shared child)"
                    ));
                }
                if self.parent[c as usize] != i as i32 {
                    return bad(format!(
                        "parent[{c}] = {}, but node {c} is a child of node {i}",
                        self.parent[c as usize]
                    ));
                }
                stack.push(c as usize);
            }
        }
        Ok(())
    }

    /// Length of the longest root-to-leaf path, in splits (0 for a single leaf).
    #[allow(clippy::cast_sign_loss)]
    pub fn max_depth(&self) -> usize {
        let mut deepest = 0;
        let mut stack = vec![(0_usize, 0_usize)];
        while let Some((nid, d)) = stack.pop() {
            if self.left[nid] < 0 {
                deepest = deepest.max(d);
            } else {
                stack.push((self.left[nid] as usize, d + 1));
                stack.push((self.right[nid] as usize, d + 1));
            }
        }
        deepest
    }

    /// Depth of node `nid` (root = 0).
    #[allow(clippy::cast_sign_loss)]
    pub fn depth(&self, mut nid: usize) -> usize {
        let mut d = 0;
        while self.parent[nid] >= 0 {
            nid = self.parent[nid] as usize;
            d += 1;
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::TreeParams;

    fn stump() -> Tree {
        let mut t = Tree::with_root(0.0, 0.0, 4.0);
        t.expand_split(
            0,
            &TreeSplit {
                feature: 0,
                threshold: 2.5,
                default_left: true,
                loss_chg: 3.0,
            },
            (-1.0, -0.3, 2.0),
            (1.0, 0.3, 2.0),
        );
        t
    }

    #[test]
    fn routing_follows_the_threshold_and_default_direction() {
        let t = stump();
        assert_eq!(t.leaf_of(&[1.0]), 1);
        assert_eq!(t.leaf_of(&[2.5]), 2);
        assert_eq!(t.leaf_of(&[f32::NAN]), 1);
        t.validate(1).unwrap();
        assert!(t.validate(0).is_err());
    }

    #[test]
    fn gamma_prunes_bottom_up_and_marks_deleted_nodes() {
        let mut t = stump();
        t.base_weight[0] = 0.5;
        let mut p = SplitParams::from_tree_params(&TreeParams::default(), None);
        p.gamma = 2.0;
        assert_eq!(t.prune(&p), 0);
        p.gamma = 5.0;
        assert_eq!(t.prune(&p), 2);
        assert!(t.is_leaf(0));
        assert!((t.split_cond[0] - 0.15).abs() < 1e-7);
        assert_eq!(t.n_deleted(), 2);
    }

    #[test]
    fn cycles_are_rejected() {
        let mut t = stump();
        t.left[0] = 0;
        assert!(t.validate(1).is_err());
    }

    fn rejection(t: &Tree) -> String {
        t.validate(1).unwrap_err().to_string()
    }

    #[test]
    fn every_index_is_checked_and_named() {
        let mut t = stump();
        t.right[0] = 3;
        assert!(rejection(&t).contains("right[0] = 3 is not -1 or a node"));
        let mut t = stump();
        t.left[1] = -2;
        assert!(rejection(&t).contains("left[1] = -2"));
        let mut t = stump();
        t.right[0] = -1;
        assert!(rejection(&t).contains("both children or none"));
        let mut t = stump();
        t.parent[2] = 1;
        assert!(rejection(&t).contains("parent[2] = 1, but node 2 is a child of node 0"));
        let mut t = stump();
        t.parent[0] = 2;
        assert!(rejection(&t).contains("parent[0] = 2"));
        let mut t = stump();
        t.parent[1] = 7;
        assert!(rejection(&t).contains("parent[1] = 7"));
        let mut t = stump();
        t.right[0] = 1;
        assert!(rejection(&t).contains("reached twice"));
        let mut t = stump();
        t.split_index[0] = DELETED_MARKER;
        assert!(rejection(&t).contains("deleted node that has children"));
        let mut t = stump();
        t.sum_hess[2] = f32::INFINITY;
        assert!(rejection(&t).contains("sum_hess[2] = inf"));
        let mut t = stump();
        t.loss_chg.pop();
        assert!(rejection(&t).contains("loss_chg has 2 entries, but left has 3"));
        assert!(rejection(&Tree::default()).contains("left is empty"));
    }

    #[test]
    fn unreached_nodes_are_checked_too() {
        // Importances read every node, not only those the root reaches.
        let mut t = stump();
        t.expand_split(
            1,
            &TreeSplit {
                feature: 0,
                threshold: 1.0,
                default_left: false,
                loss_chg: 1.0,
            },
            (0.0, 0.0, 1.0),
            (0.0, 0.0, 1.0),
        );
        t.left[0] = 3;
        t.parent[3] = 0;
        t.right[0] = 4;
        t.parent[4] = 0;
        t.split_index[1] = 5;
        assert!(rejection(&t).contains("split_index[1] = 5"));
        t.split_index[1] = 0;
        t.validate(1).unwrap();
    }
}
