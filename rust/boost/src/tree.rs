//! A regression tree stored as flat node arrays, in XGBoost's layout: node 0 is the root, the
//! two children of a node are allocated together (`right = left + 1`), a leaf has
//! `left == -1` and stores its (already shrunk) value in `split_cond`. Nodes removed by
//! pruning stay in the arrays, marked deleted, so node ids match XGBoost's.

use serde::{Deserialize, Serialize};

use crate::error::BoostError;
use crate::gain::SplitParams;

/// The `split_indices` marker XGBoost writes for a deleted node.
pub const DELETED_MARKER: u32 = (1 << 31) - 1;

/// Category values at or above this are invalid (XGBoost's limit: the largest integer an
/// `f32` holds exactly, plus one); such values, and negative ones, go left at a categorical
/// split.
pub const MAX_CATEGORY: u32 = 1 << 24;

/// Whether a row whose value is `v` (not NaN) goes right at a categorical split whose
/// right-going categories are `right` (ascending): XGBoost's rule, in which the value is
/// truncated to an integer and anything negative, too large or not listed goes left.
#[inline]
pub fn category_goes_right(right: &[u32], v: f32) -> bool {
    #[allow(clippy::cast_precision_loss)]
    let valid = v >= 0.0 && v < MAX_CATEGORY as f32;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let c = v as u32;
    valid && right.binary_search(&c).is_ok()
}

/// The categorical splits of a tree, in XGBoost's layout: the split nodes (ascending), and
/// for each the categories that go right (ascending), stored back to back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CategoricalSplits {
    /// The nodes with a categorical split, ascending.
    pub nodes: Vec<u32>,
    /// `categories[segments[k]..segments[k + 1]]` belong to `nodes[k]` (one more entry than
    /// `nodes`, or none at all when there are no nodes).
    pub segments: Vec<u32>,
    /// The categories that go right at each node, ascending within a node.
    pub categories: Vec<u32>,
}

impl CategoricalSplits {
    /// Whether the tree has no categorical split.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The right-going categories of node `nid`, `None` for a numeric split.
    #[inline]
    pub fn of(&self, nid: usize) -> Option<&[u32]> {
        #[allow(clippy::cast_possible_truncation)]
        let k = self.nodes.binary_search(&(nid as u32)).ok()?;
        Some(&self.categories[self.segments[k] as usize..self.segments[k + 1] as usize])
    }

    /// Records (or replaces) node `nid`'s right-going categories.
    #[allow(clippy::cast_possible_truncation)]
    fn set(&mut self, nid: usize, right: &[u32]) {
        self.remove(nid);
        let k = self.nodes.partition_point(|&n| (n as usize) < nid);
        if self.segments.is_empty() {
            self.segments.push(0);
        }
        let at = self.segments[k] as usize;
        self.categories.splice(at..at, right.iter().copied());
        self.nodes.insert(k, nid as u32);
        self.segments.insert(k + 1, (at + right.len()) as u32);
        for s in &mut self.segments[k + 2..] {
            *s += right.len() as u32;
        }
    }

    /// Forgets node `nid`'s categories (it became a leaf).
    #[allow(clippy::cast_possible_truncation)]
    fn remove(&mut self, nid: usize) {
        let Ok(k) = self.nodes.binary_search(&(nid as u32)) else {
            return;
        };
        let (a, b) = (self.segments[k] as usize, self.segments[k + 1] as usize);
        self.categories.drain(a..b);
        self.nodes.remove(k);
        self.segments.remove(k + 1);
        for s in &mut self.segments[k + 1..] {
            *s -= (b - a) as u32;
        }
        if self.nodes.is_empty() {
            self.segments.clear();
        }
    }
}

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
    /// The categorical splits (their `split_cond` is unused, 0).
    #[serde(default, skip_serializing_if = "CategoricalSplits::is_empty")]
    pub categorical: CategoricalSplits,
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
            categorical: CategoricalSplits::default(),
        }
    }

    /// Whether the tree has categorical splits.
    pub fn has_categorical(&self) -> bool {
        !self.categorical.is_empty()
    }

    /// Makes the split of node `nid` (made by [`Tree::expand_split`]) categorical: the
    /// categories `right` (ascending) go right, every other value left, missing values as
    /// the split's default direction.
    pub fn set_categories(&mut self, nid: usize, right: &[u32]) {
        self.split_cond[nid] = 0.0;
        self.categorical.set(nid, right);
    }

    /// Whether a row whose value of node `nid`'s split feature is `v` goes left.
    #[inline]
    pub fn goes_left(&self, nid: usize, v: f32) -> bool {
        if v.is_nan() {
            return self.default_left[nid];
        }
        if self.has_categorical() {
            if let Some(right) = self.categorical.of(nid) {
                return !category_goes_right(right, v);
            }
        }
        v < self.split_cond[nid]
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
            nid = if self.goes_left(nid, v) {
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
                self.categorical.remove(p);
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
        self.validate_categorical()?;
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

    /// Checks the categorical splits: nodes ascending and internal, segments ascending and
    /// ending at the number of categories, categories ascending within a node and below
    /// [`MAX_CATEGORY`].
    fn validate_categorical(&self) -> Result<(), BoostError> {
        let c = &self.categorical;
        let bad = |m: String| Err(BoostError::InvalidModel(m));
        if c.nodes.is_empty() {
            if !c.segments.is_empty() || !c.categories.is_empty() {
                return bad("categorical splits list categories but no nodes".into());
            }
            return Ok(());
        }
        if c.segments.len() != c.nodes.len() + 1
            || c.segments[0] != 0
            || c.segments.last().copied() != u32::try_from(c.categories.len()).ok()
            || c.segments.windows(2).any(|w| w[0] > w[1])
        {
            return bad(format!(
                "categorical segments {:?} do not divide {} categories among {} nodes",
                &c.segments[..c.segments.len().min(8)],
                c.categories.len(),
                c.nodes.len()
            ));
        }
        for (k, &nid) in c.nodes.iter().enumerate() {
            if k > 0 && c.nodes[k - 1] >= nid {
                return bad("categorical nodes are not in ascending order".into());
            }
            if nid as usize >= self.n_nodes() || self.is_leaf(nid as usize) {
                return bad(format!(
                    "categorical node {nid} is not a split node of this tree"
                ));
            }
            let cats = &c.categories[c.segments[k] as usize..c.segments[k + 1] as usize];
            if cats.windows(2).any(|w| w[0] >= w[1]) || cats.iter().any(|&v| v >= MAX_CATEGORY) {
                return bad(format!(
                    "the categories of categorical node {nid} are not ascending and below {MAX_CATEGORY}"
                ));
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
    fn categorical_splits_route_record_and_prune() {
        let mut t = stump();
        t.set_categories(0, &[1, 3, 40]);
        assert!(t.has_categorical());
        // Listed categories go right; others, negative, huge or missing as told.
        assert_eq!(t.leaf_of(&[1.0]), 2);
        assert_eq!(t.leaf_of(&[3.9]), 2);
        assert_eq!(t.leaf_of(&[40.0]), 2);
        assert_eq!(t.leaf_of(&[2.0]), 1);
        assert_eq!(t.leaf_of(&[-1.0]), 1);
        assert_eq!(t.leaf_of(&[1e9]), 1);
        assert_eq!(t.leaf_of(&[f32::NAN]), 1);
        t.validate(1).unwrap();
        t.expand_split(
            2,
            &TreeSplit {
                feature: 0,
                threshold: 0.0,
                default_left: false,
                loss_chg: 0.5,
            },
            (0.0, 0.1, 1.0),
            (0.0, 0.2, 1.0),
        );
        t.set_categories(2, &[40]);
        assert_eq!(t.categorical.nodes, vec![0, 2]);
        assert_eq!(t.categorical.segments, vec![0, 3, 4]);
        assert_eq!(t.leaf_of(&[40.0]), 4);
        assert_eq!(t.leaf_of(&[3.0]), 3);
        // Pruning the lower split forgets its categories.
        let mut p = SplitParams::from_tree_params(&TreeParams::default(), None);
        p.gamma = 1.0;
        assert_eq!(t.prune(&p), 2);
        assert_eq!(t.categorical.nodes, vec![0]);
        assert_eq!(t.categorical.categories, vec![1, 3, 40]);
        t.validate(1).unwrap();
        let mut bad = t.clone();
        bad.categorical.categories = vec![3, 1, 40];
        assert!(rejection(&bad).contains("not ascending"));
        let mut bad = t.clone();
        bad.categorical.nodes = vec![1];
        assert!(rejection(&bad).contains("categorical node 1 is not a split node"));
        let mut bad = t;
        bad.categorical.segments = vec![0, 2];
        assert!(rejection(&bad).contains("do not divide 3 categories"));
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
