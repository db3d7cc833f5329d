//! Trees packed for prediction.
//!
//! [`FlatForest`] holds every tree twice over where that pays:
//!
//! - as linked nodes ([`FlatNode`]), renumbered so that a split's two children are adjacent.
//!   Every tree has this form; it answers leaf ids and walks deep trees;
//! - as a *full* tree of its depth, for trees no deeper than [`FULL_MAX_DEPTH`]: the splits of
//!   level `l` fill slots `2^l - 1 .. 2^(l+1) - 1` in breadth-first order, so the children of
//!   slot `i` are `2i + 1` and `2i + 2` and a step needs no child pointer. A leaf above the
//!   last level becomes a chain of splits that send every row right (NaN threshold), so every
//!   row takes exactly `depth` steps and ends in one of `2^depth` leaf slots. The arithmetic is
//!   the linked form's, so both give the same leaf.
//!
//! Rows walk a full tree in lock step: 8 at a time in portable code, or 64 at a time (four
//! vectors of 16) with AVX-512 gathers where the processor has them. The portable walk reads a
//! block of rows in one of three forms ([`Walk`]): where the trees take more steps than a row
//! has values, as a copy of integer keys that order as the floats do, each value twice so that
//! a missing value can go left in one copy and right in the other (a step is one integer
//! comparison); otherwise as floats, with the missing-value test at every step only if the
//! block holds a missing value.

use crate::tree::Tree;

/// Set in a split's feature word when missing values go left.
const DEFAULT_LEFT: u32 = 1 << 31;

/// Whether a row whose value of a split's feature is `v` goes right. `split` is the feature
/// word (with [`DEFAULT_LEFT`]). A NaN threshold sends every row right, missing or not, unless
/// the split sends missing values left: leaves and pass-through splits use one.
#[inline(always)]
fn goes_right(v: f32, threshold: f32, split: u32) -> bool {
    let missing_left = v.is_nan() & (split & DEFAULT_LEFT != 0);
    // Not `v >= threshold`: a NaN on either side must count as "not below".
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    let not_below = !(v < threshold);
    not_below & !missing_left
}

#[inline(always)]
fn feature_of(split: u32) -> usize {
    (split & !DEFAULT_LEFT) as usize
}

/// A node packed for prediction, 16 bytes. Nodes are renumbered so that the two children of
/// a split are adjacent (`right = left + 1`): a step is `left + go_right`. A leaf's threshold
/// is NaN (no value compares below it) and its `left` is itself minus one, so a walk that
/// takes more steps than a row needs stays on its leaf: several rows can walk a tree in lock
/// step without a branch on whether each has arrived.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlatNode {
    left: u32,
    feature: u32,
    threshold: f32,
    value: f32,
}

impl FlatNode {
    /// The next node for a row whose value of this node's feature is `v`.
    #[inline(always)]
    fn next(&self, v: f32) -> u32 {
        self.left
            .wrapping_add(u32::from(goes_right(v, self.threshold, self.feature)))
    }
}

/// Rows that walk one tree together in portable code: enough independent walks to hide the
/// latency of each step's loads.
const LANES: usize = 8;

/// Deepest linked tree walked in lock step; deeper (unbalanced, loss-guided) trees are walked
/// one row at a time, so short paths do not pay for the longest one.
const LOCK_STEP_MAX_DEPTH: u32 = 16;

/// Deepest tree also packed as a full tree (`20 * 2^depth` bytes: 20 KiB at depth 10).
pub const FULL_MAX_DEPTH: u32 = 10;

/// One tree in the full layout.
#[derive(Debug, Clone, Copy)]
struct FullTree<'a> {
    /// Feature word of each of the `2^depth - 1` split slots.
    split: &'a [u32],
    /// Threshold of each split slot.
    threshold: &'a [f32],
    /// Value of each of the `2^depth` leaf slots.
    leaf: &'a [f32],
    /// Per split slot, where its value sits in a row of a [`Walk::Paired`] block:
    /// `2 * feature` when missing values go left, `2 * feature + 1` when they go right.
    paired: &'a [u32],
    /// The [`order_key`] of each split slot's threshold (`i32::MIN` for a pass-through).
    key: &'a [i32],
    depth: u32,
    /// Largest feature index any split reads.
    max_feature: usize,
}

/// A block of rows as the portable walk reads it.
#[derive(Debug, Clone, Copy)]
enum Walk<'a> {
    /// Rows of features without a missing value: a step is one comparison.
    Clean(&'a [f32]),
    /// Rows of features with missing values, tested at every step.
    Missing(&'a [f32]),
    /// Rows of [`pair_keys`]: each value twice, as its [`order_key`], a missing one as
    /// `i32::MIN` in the first copy and `i32::MAX` in the second. A split reads the copy that
    /// sends a missing value its way ([`FullTree::paired`]) and compares integers, so a step
    /// is one comparison with or without missing values, and a short one.
    Paired(&'a [i32]),
}

/// An integer that orders as the float `v` does, for `v` not NaN: the bits of a positive
/// float as they are, those of a negative one with all but the sign flipped. Minus zero
/// becomes plus zero first, as they compare equal.
#[inline(always)]
#[allow(clippy::cast_possible_wrap, clippy::cast_sign_loss)]
fn order_key(v: f32) -> i32 {
    let bits = (v + 0.0).to_bits() as i32;
    bits ^ ((bits >> 31) as u32 >> 1) as i32
}

/// Writes the [`Walk::Paired`] form of `rows` to `out`: two keys a value.
fn pair_keys(rows: &[f32], out: &mut Vec<i32>) {
    out.clear();
    out.extend(rows.iter().flat_map(|&v| {
        if v.is_nan() {
            [i32::MIN, i32::MAX]
        } else {
            let key = order_key(v);
            [key, key]
        }
    }));
}

impl FullTree<'_> {
    /// The leaf slot reached by `L` rows of `rows` (`stride` values each), walked in lock step.
    /// `words` gives each split slot's index into a row (in its low 31 bits) and the largest
    /// of them: the feature words for a row of features, [`Self::paired`] for a paired row.
    /// `MASKED` says whether a word's top bit (where a missing value goes) must be cleared to
    /// give the index. `right` says whether a row goes right from its value, the split's
    /// threshold (of `thresholds`) and its word.
    #[inline(always)]
    #[allow(unsafe_code)]
    fn leaves<const L: usize, const MASKED: bool, T: Copy>(
        &self,
        (words, max_index): (&[u32], usize),
        thresholds: &[T],
        (rows, stride): (&[T], usize),
        right: impl Fn(T, T, u32) -> bool,
    ) -> [usize; L] {
        let n_split = self.split.len();
        assert!(
            thresholds.len() == n_split
                && words.len() == n_split
                && rows.len() >= L * stride
                && n_split + 1 == 1 << self.depth
                && (self.depth == 0 || max_index < stride)
        );
        let mut at = [0_usize; L];
        if self.depth > 0 {
            // The root: one split for every row, so its reads wait on nothing.
            let (word, threshold) = (words[0], thresholds[0]);
            let index = if MASKED {
                feature_of(word)
            } else {
                word as usize
            };
            for (j, i) in at.iter_mut().enumerate() {
                // SAFETY: `index <= max_index < stride` and `j < L` (asserted above).
                let v = unsafe { *rows.get_unchecked(j * stride + index) };
                *i = 1 + usize::from(right(v, threshold, word));
            }
        }
        for _ in 1..self.depth {
            for (j, i) in at.iter_mut().enumerate() {
                // SAFETY: at level `l < depth` a slot is below `2^(l+1) - 1 <= n_split`; a row
                // value sits at `j * stride + index` with `j < L` and
                // `index <= max_index < stride`, inside `rows` (asserted above).
                let (word, threshold, v) = unsafe {
                    let word = *words.get_unchecked(*i);
                    let index = if MASKED {
                        feature_of(word)
                    } else {
                        word as usize
                    };
                    let v = *rows.get_unchecked(j * stride + index);
                    (word, *thresholds.get_unchecked(*i), v)
                };
                *i = 2 * *i + 1 + usize::from(right(v, threshold, word));
            }
        }
        at.map(|i| i - n_split)
    }

    /// Adds this tree's value for rows `first..n_rows` of `block` (`stride` values a row) to
    /// `out[j * k]`, each row walked by [`Self::leaves`].
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn add_walked<const MASKED: bool, T: Copy>(
        &self,
        words: (&[u32], usize),
        thresholds: &[T],
        (block, stride): (&[T], usize),
        (first, n_rows): (usize, usize),
        out: &mut [f32],
        k: usize,
        right: impl Fn(T, T, u32) -> bool + Copy,
    ) {
        let mut j = first;
        while j + LANES <= n_rows {
            let rows = &block[j * stride..(j + LANES) * stride];
            let leaves = self.leaves::<LANES, MASKED, T>(words, thresholds, (rows, stride), right);
            for (r, leaf) in leaves.into_iter().enumerate() {
                out[(j + r) * k] += self.leaf[leaf];
            }
            j += LANES;
        }
        for j in j..n_rows {
            let row = &block[j * stride..(j + 1) * stride];
            let [leaf] = self.leaves::<1, MASKED, T>(words, thresholds, (row, stride), right);
            out[j * k] += self.leaf[leaf];
        }
    }

    /// Adds this tree's value for rows `first..n_rows` of the block `walk` holds (`n_cols`
    /// features a row) to `out[j * k]`.
    fn add_rows(
        &self,
        walk: Walk<'_>,
        (first, n_rows, n_cols): (usize, usize, usize),
        out: &mut [f32],
        k: usize,
    ) {
        let words = (self.split, self.max_feature);
        let rows = (first, n_rows);
        match walk {
            Walk::Clean(block) => {
                #[allow(clippy::neg_cmp_op_on_partial_ord)]
                let right = |v: f32, c: f32, _| !(v < c);
                self.add_walked::<true, _>(
                    words,
                    self.threshold,
                    (block, n_cols),
                    rows,
                    out,
                    k,
                    right,
                );
            }
            Walk::Missing(block) => {
                let (thresholds, block) = (self.threshold, (block, n_cols));
                self.add_walked::<true, _>(words, thresholds, block, rows, out, k, goes_right);
            }
            Walk::Paired(block) => {
                let words = (self.paired, 2 * self.max_feature + 1);
                let right = |v: i32, c: i32, _| v >= c;
                self.add_walked::<false, _>(
                    words,
                    self.key,
                    (block, 2 * n_cols),
                    rows,
                    out,
                    k,
                    right,
                );
            }
        }
    }
}

/// Trees packed for fast traversal.
#[derive(Debug, Clone, Default)]
pub struct FlatForest {
    nodes: Vec<FlatNode>,
    /// The node id in its [`Tree`] of every packed node.
    tree_ids: Vec<u32>,
    roots: Vec<u32>,
    /// Length of each tree's longest root-to-leaf path, in splits.
    depths: Vec<u32>,
    /// Per tree, where its full layout starts in `full_split` and `full_leaf`, and its largest
    /// split feature; `None` for trees deeper than [`FULL_MAX_DEPTH`].
    full: Vec<Option<(usize, usize, usize)>>,
    /// The steps a row takes through the trees of full layout: the work that pairing a
    /// block's values speeds up, to weigh against making the copy.
    full_steps: usize,
    full_split: Vec<u32>,
    full_threshold: Vec<f32>,
    full_leaf: Vec<f32>,
    /// [`FullTree::paired`] of every split slot.
    full_paired: Vec<u32>,
    /// [`FullTree::key`] of every split slot.
    full_key: Vec<i32>,
    /// Per tree, whether it has categorical splits (then it is walked by [`Self::cat_next`]
    /// and has no full layout).
    categorical: Vec<bool>,
    /// Per packed node, its categorical split's bitset in `cat_sets` (`NOT_CATEGORICAL`
    /// for other nodes); empty when no tree has categorical splits.
    cat_of: Vec<u32>,
    /// Per categorical split, where its words start in `cat_words` and how many there are.
    cat_sets: Vec<(u32, u32)>,
    /// Bitsets of right-going categories: bit `c % 32` of word `c / 32` for category `c`.
    cat_words: Vec<u32>,
}

/// [`FlatForest::cat_of`] of a node that is not a categorical split.
const NOT_CATEGORICAL: u32 = u32::MAX;

impl FlatForest {
    /// Packs `trees`.
    #[allow(clippy::cast_possible_truncation)]
    pub fn new(trees: &[Tree]) -> Self {
        let total: usize = trees.iter().map(Tree::n_nodes).sum();
        let mut forest = Self {
            nodes: Vec::with_capacity(total),
            tree_ids: Vec::with_capacity(total),
            roots: Vec::with_capacity(trees.len()),
            depths: Vec::with_capacity(trees.len()),
            full: Vec::with_capacity(trees.len()),
            ..Self::default()
        };
        let any_categorical = trees.iter().any(Tree::has_categorical);
        for t in trees {
            forest.push_linked(t);
            if any_categorical {
                forest.push_categorical(t);
            }
            let depth = t.max_depth() as u32;
            forest.depths.push(depth);
            let full = (depth <= FULL_MAX_DEPTH && !t.has_categorical())
                .then(|| forest.push_full(t, depth));
            if full.is_some() {
                forest.full_steps += depth as usize;
            }
            forest.full.push(full);
            forest.categorical.push(t.has_categorical());
        }
        forest
    }

    /// Records the bitsets of `t`'s categorical splits for the nodes [`Self::push_linked`]
    /// just packed.
    #[allow(clippy::cast_possible_truncation)]
    fn push_categorical(&mut self, t: &Tree) {
        let first = self.cat_of.len();
        for k in first..self.nodes.len() {
            let id = self.tree_ids[k] as usize;
            let set = match t.categorical.of(id) {
                Some(right) if !t.is_leaf(id) => {
                    let n_words = right.last().map_or(0, |&c| c as usize / 32 + 1);
                    let start = self.cat_words.len();
                    self.cat_words.resize(start + n_words, 0);
                    for &c in right {
                        self.cat_words[start + c as usize / 32] |= 1 << (c % 32);
                    }
                    self.cat_sets.push((start as u32, n_words as u32));
                    self.cat_sets.len() as u32 - 1
                }
                _ => NOT_CATEGORICAL,
            };
            self.cat_of.push(set);
        }
    }

    /// The next packed node after node `i` for a row whose value of its feature is `v`, for
    /// a tree with categorical splits.
    #[inline]
    fn cat_next(&self, i: usize, v: f32) -> u32 {
        let n = &self.nodes[i];
        let set = self.cat_of[i];
        if set == NOT_CATEGORICAL {
            return n.next(v);
        }
        let right = if v.is_nan() {
            n.feature & DEFAULT_LEFT == 0
        } else {
            let (start, len) = self.cat_sets[set as usize];
            #[allow(clippy::cast_precision_loss)]
            let valid = v >= 0.0 && v < crate::tree::MAX_CATEGORY as f32;
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let c = v as u32;
            valid
                && c / 32 < len
                && self.cat_words[(start + c / 32) as usize] & (1 << (c % 32)) != 0
        };
        n.left.wrapping_add(u32::from(right))
    }

    /// Appends `t` in the linked layout, breadth first: a split's children take the next two
    /// free slots.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    fn push_linked(&mut self, t: &Tree) {
        let root = self.nodes.len() as u32;
        self.roots.push(root);
        let blank = FlatNode {
            left: 0,
            feature: 0,
            threshold: 0.0,
            value: 0.0,
        };
        self.nodes.push(blank);
        self.tree_ids.push(0);
        let mut k = root as usize;
        while k < self.nodes.len() {
            let id = self.tree_ids[k] as usize;
            self.nodes[k] = if t.is_leaf(id) {
                FlatNode {
                    left: (k as u32).wrapping_sub(1),
                    feature: 0,
                    threshold: f32::NAN,
                    value: t.split_cond[id],
                }
            } else {
                let left = self.nodes.len() as u32;
                for child in [t.left[id], t.right[id]] {
                    self.nodes.push(blank);
                    self.tree_ids.push(child as u32);
                }
                let dl = if t.default_left[id] { DEFAULT_LEFT } else { 0 };
                FlatNode {
                    left,
                    feature: t.split_index[id] | dl,
                    threshold: t.split_cond[id],
                    value: 0.0,
                }
            };
            k += 1;
        }
    }

    /// Appends `t` (whose longest path has `depth` splits) in the full layout; returns where
    /// it starts and its largest split feature.
    #[allow(clippy::cast_sign_loss)]
    fn push_full(&mut self, t: &Tree, depth: u32) -> (usize, usize, usize) {
        let n_split = (1_usize << depth) - 1;
        let (s0, l0) = (self.full_split.len(), self.full_leaf.len());
        // Unreached slots (below a leaf's pass-through chain) stay pass-through splits.
        self.full_split.resize(s0 + n_split, 0);
        self.full_threshold.resize(s0 + n_split, f32::NAN);
        self.full_leaf.resize(l0 + n_split + 1, 0.0);
        let mut max_feature = 0;
        let mut stack = vec![(0_usize, 0_usize)];
        while let Some((slot, nid)) = stack.pop() {
            if slot >= n_split {
                // The last level: every node here is a leaf.
                self.full_leaf[l0 + slot - n_split] = t.split_cond[nid];
            } else if t.is_leaf(nid) {
                // Pass through: a NaN threshold sends every row right.
                stack.push((2 * slot + 2, nid));
            } else {
                let feature = t.split_index[nid];
                max_feature = max_feature.max(feature as usize);
                let dl = if t.default_left[nid] { DEFAULT_LEFT } else { 0 };
                self.full_split[s0 + slot] = feature | dl;
                self.full_threshold[s0 + slot] = t.split_cond[nid];
                stack.push((2 * slot + 1, t.left[nid] as usize));
                stack.push((2 * slot + 2, t.right[nid] as usize));
            }
        }
        // A pass-through split reads the second copy of feature 0: it sends every value right.
        self.full_paired.extend(
            self.full_split[s0..]
                .iter()
                .map(|&w| 2 * (w & !DEFAULT_LEFT) + u32::from(w & DEFAULT_LEFT == 0)),
        );
        self.full_key
            .extend(self.full_threshold[s0..].iter().map(|&c| {
                if c.is_nan() {
                    i32::MIN
                } else {
                    order_key(c)
                }
            }));
        (s0, l0, max_feature)
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.roots.len()
    }

    fn full_tree(&self, t: usize) -> Option<FullTree<'_>> {
        let (s0, l0, max_feature) = self.full[t]?;
        let depth = self.depths[t];
        let n_split = (1_usize << depth) - 1;
        Some(FullTree {
            split: &self.full_split[s0..s0 + n_split],
            threshold: &self.full_threshold[s0..s0 + n_split],
            leaf: &self.full_leaf[l0..=l0 + n_split],
            paired: &self.full_paired[s0..s0 + n_split],
            key: &self.full_key[s0..s0 + n_split],
            depth,
            max_feature,
        })
    }

    /// The packed index of the leaf row `row` reaches in tree `t`.
    #[inline]
    fn leaf_index(&self, t: usize, row: &[f32]) -> usize {
        let mut i = self.roots[t] as usize;
        let categorical = self.categorical[t];
        loop {
            let n = &self.nodes[i];
            let v = row[feature_of(n.feature)];
            let next = if categorical {
                self.cat_next(i, v)
            } else {
                n.next(v)
            } as usize;
            if next == i {
                return i;
            }
            i = next;
        }
    }

    /// The leaf value row `row` gets from tree `t`.
    #[inline]
    pub fn leaf_value(&self, t: usize, row: &[f32]) -> f32 {
        self.nodes[self.leaf_index(t, row)].value
    }

    /// The node id (in its [`Tree`]) of the leaf row `row` reaches in tree `t`.
    #[inline]
    pub fn leaf_id(&self, t: usize, row: &[f32]) -> usize {
        self.tree_ids[self.leaf_index(t, row)] as usize
    }

    /// For every tree `t`, adds its leaf value for each of the `n_rows` rows of `block`
    /// (`n_cols` values a row, row-major) to `out[j * k + groups[t]]`. Each row sums its trees
    /// in order, so the result is the same however rows are blocked or vectorised. `scratch`
    /// is a buffer the walk may use (kept across calls, it is allocated once).
    pub fn add_block(
        &self,
        groups: &[u32],
        block: &[f32],
        shape: (usize, usize),
        out: &mut [f32],
        k: usize,
        scratch: &mut Vec<i32>,
    ) {
        self.add_block_with(groups, block, shape, out, k, true, scratch);
    }

    /// [`Self::add_block`], with the vector walk allowed (where the processor has it) or not.
    #[allow(clippy::too_many_arguments)]
    fn add_block_with(
        &self,
        groups: &[u32],
        block: &[f32],
        (n_rows, n_cols): (usize, usize),
        out: &mut [f32],
        k: usize,
        vector: bool,
        scratch: &mut Vec<i32>,
    ) {
        assert!(block.len() >= n_rows * n_cols && out.len() >= n_rows * k);
        let rows = &block[..n_rows * n_cols];
        let vector = vector && simd::available();
        // What a row costs to prepare is weighed against the steps it takes through the full
        // trees. Where they take at least two steps a value, the rows are copied as integer
        // keys (Walk::Paired): a step is then one short comparison, with or without missing
        // values. Where they take at least one, a pass over the block looks for a missing
        // value, so a block without one skips the missing-value test at every step. Fewer
        // steps (wide data, few or shallow trees) are walked with the test. The vector walk
        // takes all but the last few rows, which are not worth a pass.
        let walk = if vector {
            Walk::Missing(rows)
        } else if 2 * n_cols <= self.full_steps {
            pair_keys(rows, scratch);
            Walk::Paired(scratch)
        } else if n_cols <= self.full_steps && !rows.iter().any(|v| v.is_nan()) {
            Walk::Clean(rows)
        } else {
            Walk::Missing(rows)
        };
        for (t, &g) in groups.iter().enumerate() {
            let out = &mut out[g as usize..];
            if let Some(full) = self.full_tree(t) {
                let done = if vector {
                    simd::add_rows(&full, block, (n_rows, n_cols), out, k)
                } else {
                    0
                };
                full.add_rows(walk, (done, n_rows, n_cols), out, k);
            } else {
                self.add_linked_rows(t, block, (n_rows, n_cols), out, k);
            }
        }
    }

    /// Adds tree `t`'s leaf value for each row of `block` to `out[j * k]` through the linked
    /// layout: groups of [`LANES`] rows walk in lock step for exactly the tree's depth, deeper
    /// trees one row at a time.
    fn add_linked_rows(
        &self,
        t: usize,
        block: &[f32],
        (n_rows, n_cols): (usize, usize),
        out: &mut [f32],
        k: usize,
    ) {
        let depth = self.depths[t];
        let root = self.roots[t];
        let mut first = 0;
        if depth <= LOCK_STEP_MAX_DEPTH && n_cols > 0 && !self.categorical[t] {
            for group in block[..n_rows * n_cols].chunks_exact(LANES * n_cols) {
                let mut at = [root; LANES];
                for _ in 0..depth {
                    for (j, i) in at.iter_mut().enumerate() {
                        let n = &self.nodes[*i as usize];
                        *i = n.next(group[j * n_cols + feature_of(n.feature)]);
                    }
                }
                for (j, &i) in at.iter().enumerate() {
                    out[(first + j) * k] += self.nodes[i as usize].value;
                }
                first += LANES;
            }
        }
        for j in first..n_rows {
            out[j * k] += self.leaf_value(t, &block[j * n_cols..(j + 1) * n_cols]);
        }
    }
}

/// The walk prediction takes through full trees on this processor, chosen at run time:
/// `"avx512f"` (16 rows per vector, gathers) where the processor has AVX-512F, `"portable"`
/// (rows in groups, scalar code) elsewhere. Both give identical predictions.
pub fn tree_walk_kernel() -> &'static str {
    if simd::available() {
        "avx512f"
    } else {
        "portable"
    }
}

/// The AVX-512 walk of full trees, or a stand-in that walks nothing where it is unavailable.
mod simd {
    use super::FullTree;

    /// Adds `tree`'s value for the leading rows of `block` that fill whole vectors to
    /// `out[j * k]`; returns how many rows it did (the caller does the rest). Walks nothing
    /// when the processor lacks AVX-512 or the block is too large for 32-bit offsets.
    pub(super) fn add_rows(
        tree: &FullTree<'_>,
        block: &[f32],
        (n_rows, n_cols): (usize, usize),
        out: &mut [f32],
        k: usize,
    ) -> usize {
        #[cfg(target_arch = "x86_64")]
        if available() {
            // SAFETY: the processor has AVX-512F (`available` checked it just above).
            #[allow(unsafe_code)]
            return unsafe { x86::add_rows(tree, block, (n_rows, n_cols), out, k) };
        }
        let _ = (tree, block, n_rows, n_cols, out, k);
        0
    }

    /// Whether this processor has what the vector walk needs (AVX-512F), asked at run time.
    pub(super) fn available() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::is_x86_feature_detected!("avx512f")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    mod x86 {
        use std::arch::x86_64::{
            __m512i, _mm512_add_epi32, _mm512_add_ps, _mm512_and_si512, _mm512_cmp_ps_mask,
            _mm512_i32gather_epi32, _mm512_i32gather_ps, _mm512_loadu_ps, _mm512_mask_add_epi32,
            _mm512_mullo_epi32, _mm512_set1_epi32, _mm512_setr_epi32, _mm512_setzero_si512,
            _mm512_storeu_ps, _mm512_sub_epi32, _mm512_test_epi32_mask, _CMP_NLT_UQ, _CMP_UNORD_Q,
        };

        use super::super::{FullTree, DEFAULT_LEFT};

        /// Rows in one vector.
        const WIDTH: usize = 16;
        /// Vectors walked together, so that the gathers of one overlap the others'.
        const VECTORS: usize = 4;

        /// See [`super::add_rows`]. `tree.max_feature < n_cols` and `n_rows * n_cols` must fit
        /// in an `i32`; the function checks both and walks nothing otherwise.
        #[target_feature(enable = "avx512f")]
        #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
        pub(super) fn add_rows(
            tree: &FullTree<'_>,
            block: &[f32],
            (n_rows, n_cols): (usize, usize),
            out: &mut [f32],
            k: usize,
        ) -> usize {
            let n_split = tree.split.len();
            // The invariants every gather below relies on.
            let ok = n_split + 1 == 1 << tree.depth
                && tree.threshold.len() == n_split
                && tree.leaf.len() == n_split + 1
                && tree.max_feature < n_cols
                && block.len() >= n_rows * n_cols
                && out.len() > (n_rows.max(1) - 1) * k
                && i32::try_from(n_rows * n_cols).is_ok();
            if !ok {
                return 0;
            }
            let n_vectors = n_rows / WIDTH;
            let lanes = _mm512_mullo_epi32(
                _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                _mm512_set1_epi32(n_cols as i32),
            );
            let mut v = 0;
            while v + VECTORS <= n_vectors {
                walk::<VECTORS>(tree, block, v, (n_cols, lanes), out, k);
                v += VECTORS;
            }
            while v < n_vectors {
                walk::<1>(tree, block, v, (n_cols, lanes), out, k);
                v += 1;
            }
            n_vectors * WIDTH
        }

        /// Walks the `V` vectors of rows starting at vector `first` through `tree` and adds
        /// their leaf values to `out`. `lanes` holds each lane's row offset (`lane * n_cols`).
        #[target_feature(enable = "avx512f")]
        #[inline]
        #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
        fn walk<const V: usize>(
            tree: &FullTree<'_>,
            block: &[f32],
            first: usize,
            (n_cols, lanes): (usize, __m512i),
            out: &mut [f32],
            k: usize,
        ) {
            let one = _mm512_set1_epi32(1);
            let feature_mask = _mm512_set1_epi32(!DEFAULT_LEFT as i32);
            let default_left = _mm512_set1_epi32(DEFAULT_LEFT as i32);
            let rows: [__m512i; V] = std::array::from_fn(|i| {
                let row0 = (first + i) * WIDTH;
                _mm512_add_epi32(lanes, _mm512_set1_epi32((row0 * n_cols) as i32))
            });
            let mut at = [_mm512_setzero_si512(); V];
            for _ in 0..tree.depth {
                for (i, at) in at.iter_mut().enumerate() {
                    // SAFETY: at level `l < depth` every lane's slot is below `2^(l+1) - 1`,
                    // at most `2^depth - 1 = split.len() = threshold.len()`.
                    let (split, threshold) = unsafe {
                        (
                            _mm512_i32gather_epi32::<4>(*at, tree.split.as_ptr().cast()),
                            _mm512_i32gather_ps::<4>(*at, tree.threshold.as_ptr()),
                        )
                    };
                    let offset = _mm512_add_epi32(rows[i], _mm512_and_si512(split, feature_mask));
                    // SAFETY: each lane reads `row * n_cols + feature` with `row < n_rows` (whole
                    // vectors only) and `feature <= max_feature < n_cols`, inside `block`.
                    let value = unsafe { _mm512_i32gather_ps::<4>(offset, block.as_ptr()) };
                    let not_below = _mm512_cmp_ps_mask::<_CMP_NLT_UQ>(value, threshold);
                    let missing = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(value, value);
                    let left_if_missing = _mm512_test_epi32_mask(split, default_left);
                    let right = not_below & !(missing & left_if_missing);
                    let next = _mm512_add_epi32(_mm512_add_epi32(*at, *at), one);
                    *at = _mm512_mask_add_epi32(next, right, next, one);
                }
            }
            let n_split = _mm512_set1_epi32(tree.split.len() as i32);
            for (i, at) in at.iter().enumerate() {
                // SAFETY: after `depth` steps every slot lies in `[2^depth - 1, 2^(depth+1) - 1)`,
                // so the leaf index is below `2^depth = leaf.len()`.
                let value = unsafe {
                    _mm512_i32gather_ps::<4>(_mm512_sub_epi32(*at, n_split), tree.leaf.as_ptr())
                };
                let row0 = (first + i) * WIDTH;
                if k == 1 {
                    let dst = &mut out[row0..row0 + WIDTH];
                    // SAFETY: `dst` holds exactly 16 floats.
                    unsafe {
                        let sum = _mm512_add_ps(_mm512_loadu_ps(dst.as_ptr()), value);
                        _mm512_storeu_ps(dst.as_mut_ptr(), sum);
                    }
                } else {
                    let mut values = [0.0_f32; WIDTH];
                    // SAFETY: `values` holds exactly 16 floats.
                    unsafe { _mm512_storeu_ps(values.as_mut_ptr(), value) };
                    for (j, v) in values.into_iter().enumerate() {
                        out[(row0 + j) * k] += v;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree grown by splitting random leaves (or, for a `chain`, always the newest one),
    /// `n_splits` times, over `n_features` features.
    fn random_tree(n_splits: usize, n_features: u32, seed: u64, chain: bool) -> Tree {
        let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as u32
        };
        let mut t = Tree::with_root(0.0, 0.5, 1.0);
        for k in 0..n_splits {
            let leaves: Vec<usize> = (0..t.n_nodes()).filter(|&i| t.is_leaf(i)).collect();
            let pick = next() as usize % leaves.len();
            let nid = if chain {
                leaves[leaves.len() - 1]
            } else {
                leaves[pick]
            };
            let v = k as f32;
            t.expand_split(
                nid,
                &crate::tree::TreeSplit {
                    feature: next() % n_features,
                    threshold: (next() % 100) as f32 / 10.0,
                    default_left: next() % 2 == 0,
                    loss_chg: 1.0,
                },
                (0.0, v, 1.0),
                (0.0, -v - 0.5, 1.0),
            );
        }
        t
    }

    #[test]
    fn every_walk_reaches_the_trees_own_leaf() {
        // Balanced-ish trees (full layout), chains of 13 splits (linked, lock step) and of 40
        // (linked, one row at a time), and a single leaf.
        let mut trees: Vec<Tree> = (0..9)
            .map(|s| random_tree([25, 13, 40][s as usize % 3], 4, s, s % 3 != 0))
            .collect();
        trees.push(Tree::with_root(0.0, 0.25, 1.0));
        assert!(trees
            .iter()
            .any(|t| t.max_depth() <= FULL_MAX_DEPTH as usize));
        assert!(trees.iter().any(|t| {
            (FULL_MAX_DEPTH as usize + 1..=LOCK_STEP_MAX_DEPTH as usize).contains(&t.max_depth())
        }));
        assert!(trees
            .iter()
            .any(|t| t.max_depth() > LOCK_STEP_MAX_DEPTH as usize));
        // Enough rows for four vectors at once, one vector, lanes of 8 and single rows.
        // With missing values and without (the walk then skips the missing-value test).
        let n_rows = 64 + 16 + 8 + 3;
        for missing in [true, false] {
            let data: Vec<f32> = (0..n_rows * 4)
                .map(|k| {
                    if missing && k % 7 == 3 {
                        f32::NAN
                    } else {
                        ((k * 37) % 101) as f32 / 10.0
                    }
                })
                .collect();
            walks_reach_own_leaves(&trees, &data, n_rows);
        }
    }

    /// Checks every walk of `trees` over the `n_rows` rows of 4 values in `data`: through a
    /// whole block, with and without the vector walk, and each portable walk of a full tree
    /// that the data allows.
    fn walks_reach_own_leaves(trees: &[Tree], data: &[f32], n_rows: usize) {
        let rows: Vec<&[f32]> = data.chunks(4).collect();
        let mut paired = Vec::new();
        pair_keys(data, &mut paired);
        let mut walks = vec![Walk::Missing(data), Walk::Paired(&paired)];
        if !data.iter().any(|v| v.is_nan()) {
            walks.push(Walk::Clean(data));
        }
        for (t, tree) in trees.iter().enumerate() {
            let check = |out: &[f32], what: &str| {
                for (j, row) in rows.iter().enumerate() {
                    let leaf = tree.leaf_of(row);
                    assert_eq!(
                        out[2 * j + 1],
                        tree.split_cond[leaf],
                        "{what}: tree {t} row {j}"
                    );
                    assert_eq!(out[2 * j], 0.0);
                }
            };
            let forest = FlatForest::new(std::slice::from_ref(tree));
            for vector in [false, true] {
                let mut out = vec![0.0_f32; 2 * n_rows];
                let mut scratch = Vec::new();
                forest.add_block_with(&[1], data, (n_rows, 4), &mut out, 2, vector, &mut scratch);
                check(&out, "block");
            }
            for row in &rows {
                assert_eq!(forest.leaf_id(0, row), tree.leaf_of(row));
            }
            if let Some(full) = forest.full_tree(0) {
                for &walk in &walks {
                    let mut out = vec![0.0_f32; 2 * n_rows];
                    full.add_rows(walk, (0, n_rows, 4), &mut out[1..], 2);
                    check(&out, &format!("{walk:?}"));
                }
            }
        }
    }

    #[test]
    fn every_walk_compares_as_floats_do() {
        // Stumps at infinite, zero and tiny thresholds, missing values going either way,
        // against the values around them: integer keys must order as the floats do, with
        // minus zero equal to zero.
        let tiny = f32::from_bits(1);
        let thresholds = [
            f32::NEG_INFINITY,
            -1.5,
            -0.0,
            0.0,
            tiny,
            -tiny,
            2.5,
            f32::INFINITY,
        ];
        let values = [
            f32::NAN,
            f32::NEG_INFINITY,
            f32::MIN,
            -1.5,
            -tiny,
            -0.0,
            0.0,
            tiny,
            2.5,
            f32::MAX,
            f32::INFINITY,
        ];
        let mut trees = Vec::new();
        for (s, &threshold) in thresholds.iter().enumerate() {
            for default_left in [true, false] {
                let mut stump = Tree::with_root(0.0, 0.0, 1.0);
                let split = crate::tree::TreeSplit {
                    feature: 1,
                    threshold,
                    default_left,
                    loss_chg: 1.0,
                };
                let v = s as f32 + 1.0;
                stump.expand_split(0, &split, (0.0, v, 1.0), (0.0, -v, 1.0));
                trees.push(stump);
            }
        }
        let data: Vec<f32> = values.iter().flat_map(|&v| [7.0, v]).collect();
        let n_rows = values.len();
        let forest = FlatForest::new(&trees);
        let groups: Vec<u32> = (0..trees.len() as u32).collect();
        let k = trees.len();
        let mut expected = vec![0.0_f32; n_rows * k];
        for (j, row) in data.chunks(2).enumerate() {
            for (t, tree) in trees.iter().enumerate() {
                expected[j * k + t] = tree.split_cond[tree.leaf_of(row)];
            }
        }
        // As a block (its 2 columns are paired), and tree by tree in each walk.
        let mut out = vec![0.0_f32; n_rows * k];
        forest.add_block_with(
            &groups,
            &data,
            (n_rows, 2),
            &mut out,
            k,
            false,
            &mut Vec::new(),
        );
        assert_eq!(out, expected);
        let mut paired = Vec::new();
        pair_keys(&data, &mut paired);
        for walk in [Walk::Missing(&data), Walk::Paired(&paired)] {
            let mut out = vec![0.0_f32; n_rows * k];
            for t in 0..trees.len() {
                let full = forest.full_tree(t).expect("a stump has the full layout");
                full.add_rows(walk, (0, n_rows, 2), &mut out[t..], k);
            }
            assert_eq!(out, expected, "{walk:?}");
        }
        // Walk::Clean on the rows without a missing value.
        let clean = &data[2..];
        let mut out = vec![0.0_f32; (n_rows - 1) * k];
        for t in 0..trees.len() {
            let full = forest.full_tree(t).expect("a stump has the full layout");
            full.add_rows(Walk::Clean(clean), (0, n_rows - 1, 2), &mut out[t..], k);
        }
        assert_eq!(out, expected[k..]);
    }

    #[test]
    fn categorical_splits_route_as_the_tree_does() {
        // Trees with some splits made categorical (categories 0..=40, some beyond 32 so a
        // bitset takes two words), packed with numeric trees; values include negative, too
        // large, fractional and missing ones.
        let mut trees: Vec<Tree> = (0..6).map(|s| random_tree(20, 3, s, s % 2 == 1)).collect();
        for (t, tree) in trees.iter_mut().enumerate().filter(|(t, _)| t % 3 != 2) {
            let splits: Vec<usize> = (0..tree.n_nodes()).filter(|&i| !tree.is_leaf(i)).collect();
            for (k, &nid) in splits.iter().enumerate().filter(|(k, _)| (k + t) % 2 == 0) {
                let right: Vec<u32> = (0..41_u32)
                    .filter(|c| (c * 7 + k as u32).is_multiple_of(3))
                    .collect();
                tree.set_categories(nid, &right);
            }
            tree.validate(3).unwrap();
        }
        let values = [
            0.0,
            1.0,
            2.0,
            3.5,
            33.0,
            34.0,
            40.0,
            41.0,
            1e9,
            -1.0,
            -0.5,
            f32::NAN,
        ];
        let data: Vec<f32> = (0..150 * 3)
            .map(|k| values[(k * 5 + k / 3) % values.len()])
            .collect();
        let rows: Vec<&[f32]> = data.chunks(3).collect();
        let forest = FlatForest::new(&trees);
        let mut out = vec![0.0_f32; rows.len()];
        forest.add_block(
            &[0; 6],
            &data,
            (rows.len(), 3),
            &mut out,
            1,
            &mut Vec::new(),
        );
        for (j, row) in rows.iter().enumerate() {
            let mut expected = 0.0;
            for (t, tree) in trees.iter().enumerate() {
                let leaf = tree.leaf_of(row);
                assert_eq!(forest.leaf_id(t, row), leaf, "tree {t} row {j}");
                expected += tree.split_cond[leaf];
            }
            assert_eq!(out[j], expected, "row {j}");
        }
    }

    #[test]
    fn a_block_sums_its_trees_in_order_into_their_groups() {
        let trees: Vec<Tree> = (0..12).map(|s| random_tree(7, 5, s, false)).collect();
        let groups: Vec<u32> = (0..12).map(|t| t % 3).collect();
        let forest = FlatForest::new(&trees);
        let n_rows = 100;
        let data: Vec<f32> = (0..n_rows * 5)
            .map(|k| ((k * 53) % 97) as f32 / 9.0)
            .collect();
        let mut expected = vec![0.5_f32; 3 * n_rows];
        for (j, row) in data.chunks(5).enumerate() {
            for (t, tree) in trees.iter().enumerate() {
                expected[j * 3 + groups[t] as usize] += tree.split_cond[tree.leaf_of(row)];
            }
        }
        for vector in [false, true] {
            let mut out = vec![0.5_f32; 3 * n_rows];
            forest.add_block_with(
                &groups,
                &data,
                (n_rows, 5),
                &mut out,
                3,
                vector,
                &mut Vec::new(),
            );
            assert_eq!(out, expected);
        }
        let mut single = vec![0.5_f32; n_rows];
        let forest1 = FlatForest::new(&trees[..1]);
        forest1.add_block(&[0], &data, (n_rows, 5), &mut single, 1, &mut Vec::new());
        for (j, row) in data.chunks(5).enumerate() {
            assert_eq!(single[j], 0.5 + trees[0].split_cond[trees[0].leaf_of(row)]);
        }
    }
}
