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

    /// Turns leaf-or-internal node `nid` into a split with two new leaf children; returns the
    /// left child's id.
    #[allow(
        clippy::too_many_arguments,
        clippy::cast_possible_truncation,
        clippy::cast_possible_wrap
    )]
    pub fn expand(
        &mut self,
        nid: usize,
        feature: u32,
        threshold: f32,
        default_left: bool,
        loss_chg: f32,
        left: (f32, f32, f32),
        right: (f32, f32, f32),
    ) -> usize {
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

    /// Checks that the arrays describe a tree over `n_features` features: equal lengths,
    /// children in range, every node reached at most once from the root.
    ///
    /// # Errors
    /// [`BoostError::InvalidModel`] naming the inconsistency.
    #[allow(clippy::cast_sign_loss)]
    pub fn validate(&self, n_features: usize) -> Result<(), BoostError> {
        let n = self.n_nodes();
        let bad = |m: &str| Err(BoostError::InvalidModel(m.to_string()));
        if n == 0 {
            return bad("a tree has no nodes");
        }
        if [
            self.right.len(),
            self.parent.len(),
            self.split_index.len(),
            self.split_cond.len(),
            self.default_left.len(),
            self.base_weight.len(),
            self.loss_chg.len(),
            self.sum_hess.len(),
        ]
        .iter()
        .any(|&len| len != n)
        {
            return bad("the node arrays of a tree have different lengths");
        }
        let mut seen = vec![false; n];
        let mut stack = vec![0usize];
        while let Some(i) = stack.pop() {
            if seen[i] {
                return bad("a tree's nodes form a cycle or share children");
            }
            seen[i] = true;
            let (l, r) = (self.left[i], self.right[i]);
            if l < 0 {
                if r >= 0 {
                    return bad("a node has a right child but no left child");
                }
                if !self.split_cond[i].is_finite() {
                    return bad("a leaf value is not finite");
                }
                continue;
            }
            if r < 0 || l as usize >= n || r as usize >= n {
                return bad("a child index is out of range");
            }
            if self.split_index[i] as usize >= n_features {
                return bad("a split feature index is out of range");
            }
            if self.split_cond[i].is_nan() {
                return bad("a split threshold is NaN");
            }
            stack.push(l as usize);
            stack.push(r as usize);
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
        t.expand(0, 0, 2.5, true, 3.0, (-1.0, -0.3, 2.0), (1.0, 0.3, 2.0));
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
}
