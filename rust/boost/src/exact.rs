//! The exact greedy split finder (XGBoost's `grow_colmaker`): columns presorted once; the tree
//! grows level by level; at each level one pass per column (columns in parallel) updates the
//! running sums of every open node and proposes a candidate at every boundary between two
//! distinct values.
//!
//! Scans: backward (large to small) always, so the accumulated sums are the right child and
//! missing rows go left (`default_left = true`); forward (small to large, missing go right)
//! only for columns with missing values that are not constant. The threshold is the `f32`
//! midpoint of the two values (or the smaller one when the midpoint rounds onto the larger).
//! The result does not depend on the thread count: each column's best split per node is
//! computed alone, then columns are merged in index order with XGBoost's tie rule.
//!
//! The gain, weight and `min_child_weight` rules are [`crate::gain`]'s, the same that the
//! histogram finders' [`crate::hist::evaluate`] applies to summed bins; only the enumeration
//! of candidates differs (every boundary between distinct values here, bin boundaries there).

use rayon::prelude::*;

use crate::constraints::Constraints;
use crate::data::{Entry, MatrixView, SortedColumns};
use crate::gain::{Bounds, GradStats, SplitCandidate, SplitParams, RT_EPS};
use crate::hist::prefetch::prefetch;
use crate::profile::{self, Phase};
use crate::sampling::ColumnSampler;
use crate::tree::{Tree, TreeSplit};

/// How many entries ahead of the current one a column scan prefetches.
const PREFETCH_DISTANCE: usize = 64;

/// From how many children on a level's columns with a value in every row are partitioned
/// in one pass over the whole column ([`ColumnSegments::partition_dense`]) rather than node
/// by node. With few children, consecutive entries often go to the same one, and its cursor
/// makes a chain of dependent stores; with many, each node's pass reads a sparse subset of
/// the column's cache lines. (On 100k x 28, 50 trees of depth 6: 4.6 s node by node at
/// every level, 4.2 s from 4 or 8 children on, 4.9 s from 2 on.)
const STREAM_PARTITION_CHILDREN: usize = 8;

/// Per-node sums, structure score and weight, and the bounds of its children's weights.
#[derive(Debug, Clone, Copy, Default)]
struct NodeEntry {
    stats: GradStats,
    root_gain: f32,
    weight: f32,
    bounds: Bounds,
}

/// Running state of one node during one column scan.
#[derive(Debug, Clone, Copy, Default)]
struct ScanState {
    stats: GradStats,
    last_value: f32,
    best: SplitCandidate,
}

/// A present value, as its position in the presorted column (four bytes, so that the per-tree
/// copy of every column costs half the presorted columns). Scans read the value and row from
/// the column, in ascending order, and the row's gradient pair from the gradient array; both
/// stay in cache.
type WorkEntry = u32;

/// One column's present values for the rows still growing, grouped by node: the entries of
/// each open node form one contiguous segment, in ascending value order. After each level the
/// segments are stably partitioned into the children's segments, so a node's scan is a
/// sequential pass over its own rows (the global sort order, restricted to the node).
#[derive(Debug, Clone, Default)]
struct ColumnSegments {
    entries: Vec<WorkEntry>,
    /// `(start, end)` of each open node's segment, in level order.
    segments: Vec<(usize, usize)>,
}

impl ColumnSegments {
    /// Splits every segment of a node that was expanded into its two children's segments
    /// (left rows first, order kept) and drops the rest. `side[row]` is 0 for a row that went
    /// to its node's left child; `children[slot]` is set when the level's node split.
    fn partition(
        &mut self,
        col: &[Entry],
        side: &[u8],
        children: &[Option<usize>],
        scratch: &mut Vec<WorkEntry>,
    ) {
        let mut out = Vec::with_capacity(self.segments.len() * 2);
        let mut w = 0usize;
        for (slot, &(a, b)) in self.segments.iter().enumerate() {
            if children[slot].is_none() {
                continue;
            }
            scratch.clear();
            scratch.resize(b - a, 0);
            let start = w;
            let mut n_right = 0usize;
            // Branch-free: every row of a node that split goes to one of its two children.
            // Writing at `w` is safe because `w <= k` (left rows are compacted forwards).
            for k in a..b {
                // The column entry two distances ahead, the side of the row one ahead.
                if let Some(&e) = self.entries[..b].get(k + 2 * PREFETCH_DISTANCE) {
                    prefetch(col, e as usize);
                }
                if let Some(&e) = self.entries[..b].get(k + PREFETCH_DISTANCE) {
                    prefetch(side, col[e as usize].row as usize);
                }
                let e = self.entries[k];
                let is_left = usize::from(side[col[e as usize].row as usize] == 0);
                self.entries[w] = e;
                scratch[n_right] = e;
                w += is_left;
                n_right += 1 - is_left;
            }
            let mid = w;
            self.entries[w..w + n_right].copy_from_slice(&scratch[..n_right]);
            w += n_right;
            out.push((start, mid));
            out.push((mid, w));
        }
        self.entries.truncate(w);
        self.segments = out;
    }

    /// The segments [`Self::partition`] gives, for a column with a value in every row (so
    /// that each child's segment holds all of its rows), from one pass over the whole column
    /// in value order: each entry goes to the end of its row's child segment. This reads the
    /// column once, in order, where the per-node passes read a sparse subset of its cache
    /// lines once per node. `position[row]` is the row's node (children are numbered from
    /// `first_child` on) or negative; `starts` are the children's segment starts, the last
    /// being the end.
    fn partition_dense(
        &mut self,
        col: &[Entry],
        position: &[i32],
        first_child: i32,
        starts: &[usize],
    ) {
        let n_children = starts.len() - 1;
        let mut cursor = starts[..n_children].to_vec();
        self.entries.clear();
        self.entries.resize(starts[n_children], 0);
        for (k, e) in (0u32..).zip(col) {
            if let Some(ahead) = col.get(k as usize + PREFETCH_DISTANCE) {
                prefetch(position, ahead.row as usize);
            }
            let child = position[e.row as usize].wrapping_sub(first_child);
            #[allow(clippy::cast_sign_loss)]
            if let Some(at) = cursor.get_mut(child as u32 as usize) {
                self.entries[*at] = k;
                *at += 1;
            }
        }
        self.segments.clear();
        self.segments
            .extend(starts.windows(2).map(|w| (w[0], w[1])));
    }
}

/// Where each child's segment starts, its rows being those whose `position` is the child
/// (numbered from `first_child` on, `n_children` of them); the last entry is the end.
fn child_starts(position: &[i32], first_child: i32, n_children: usize) -> Vec<usize> {
    let mut starts = vec![0usize; n_children + 1];
    for &p in position {
        #[allow(clippy::cast_sign_loss)]
        if p >= first_child {
            starts[(p - first_child) as usize + 1] += 1;
        }
    }
    for c in 1..starts.len() {
        starts[c] += starts[c - 1];
    }
    starts
}

thread_local! {
    /// Each worker thread's buffer for the right-hand rows of a partition, kept for the life
    /// of the thread so that levels and trees do not allocate it again.
    static PARTITION_SCRATCH: std::cell::RefCell<Vec<WorkEntry>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Buffers the exact finder reuses from tree to tree (one column copy per feature), so that
/// boosting does not allocate and fault in fresh memory for every tree.
#[derive(Debug, Clone, Default)]
pub struct ExactWorkspace {
    columns: Vec<ColumnSegments>,
}

/// Everything the exact finder's trees read: the training matrix (for routing rows), its
/// presorted columns, the gain rules and the depth limit.
pub struct ExactGrower<'a> {
    /// The presorted columns of `rows`.
    pub cols: &'a SortedColumns,
    /// The training matrix.
    pub rows: &'a MatrixView<'a>,
    /// Gain and weight parameters (shared with the histogram finders: [`crate::gain`]).
    pub params: &'a SplitParams,
    /// Largest depth.
    pub max_depth: u32,
    /// Monotone and interaction constraints.
    pub constraints: &'a Constraints,
}

impl ExactGrower<'_> {
    /// Grows one tree on the rows whose `active` flag is set, from one gradient pair per row;
    /// rows with a negative hessian are left out, as in XGBoost. `workspace` keeps buffers
    /// from tree to tree.
    pub fn grow(
        &self,
        gpair: &[(f32, f32)],
        active: &[bool],
        sampler: &mut ColumnSampler,
        workspace: &mut ExactWorkspace,
    ) -> Tree {
        grow_tree(self, gpair, active, sampler, workspace)
    }
}

#[allow(clippy::cast_possible_truncation)]
fn grow_tree(
    grower: &ExactGrower<'_>,
    gpair: &[(f32, f32)],
    active: &[bool],
    sampler: &mut ColumnSampler,
    workspace: &mut ExactWorkspace,
) -> Tree {
    let ExactGrower {
        cols,
        rows,
        params,
        max_depth,
        constraints,
    } = *grower;
    let n_rows = cols.n_rows;
    let n_cols = rows.n_cols();
    // position[row] = node id, or -1 when the row no longer takes part.
    let mut position: Vec<i32> = (0..n_rows)
        .into_par_iter()
        .map(|r| {
            if active[r] && gpair[r].1 >= 0.0 {
                0
            } else {
                -1
            }
        })
        .collect();
    let root = sum_stats(&position, gpair, 1)[0];
    let mut tree = Tree::with_root(0.0, 0.0, root.hess as f32);
    let mut nodes = vec![node_entry(params, root, Bounds::default())];
    tree.base_weight[0] = nodes[0].weight;
    let mut level: Vec<usize> = vec![0];
    // Interaction constraints: the features used on each node's path.
    let mut paths: Vec<Vec<usize>> = vec![Vec::new()];
    sampler.new_tree();
    let tree_features = sampler.tree_features().to_vec();
    // Each column of the tree's feature set, restricted to the rows that take part.
    workspace
        .columns
        .resize_with(n_cols, ColumnSegments::default);
    let work = &mut workspace.columns;
    {
        let mut wanted = vec![false; n_cols];
        for &f in &tree_features {
            wanted[f] = true;
        }
        let position = &position;
        work.par_iter_mut().enumerate().for_each(|(j, w)| {
            w.entries.clear();
            w.segments.clear();
            if !wanted[j] {
                return;
            }
            let col = cols.column(j);
            // Reserve the column's length up front: growing by doubling would leave up to
            // twice the memory behind for the whole fit.
            w.entries.reserve_exact(col.len());
            w.entries.extend(
                col.iter()
                    .zip(0u32..)
                    .filter(|(e, _)| position[e.row as usize] >= 0)
                    .map(|(_, rank)| rank),
            );
            w.segments = vec![(0, w.entries.len())];
        });
    }

    for depth in 0..max_depth {
        if level.is_empty() {
            break;
        }
        let level_features = sampler.level_features(depth);
        let node_features: Vec<Option<Vec<bool>>> = level
            .iter()
            .map(|&nid| {
                let drawn = sampler.node_features(&level_features, n_cols);
                // Interaction constraints leave out the drawn features a node may not use.
                match (
                    drawn,
                    paths.get(nid).and_then(|p| constraints.allowed(p, n_cols)),
                ) {
                    (drawn, None) => drawn,
                    (None, Some(allowed)) => Some(allowed),
                    (Some(d), Some(allowed)) => {
                        Some(d.iter().zip(&allowed).map(|(&a, &b)| a && b).collect())
                    }
                }
            })
            .collect();
        let level_nodes: Vec<NodeEntry> = level.iter().map(|&nid| nodes[nid]).collect();
        // Scan features in parallel batches and merge each batch in feature order, so memory
        // stays bounded on wide data and the result never depends on the thread count.
        let mut bests = vec![SplitCandidate::default(); level.len()];
        let batch = (rayon::current_num_threads() * 4).max(1);
        let scan_start = profile::enabled().then(std::time::Instant::now);
        for features in level_features.chunks(batch) {
            let per_feature: Vec<Vec<SplitCandidate>> = features
                .par_iter()
                .map(|&f| {
                    scan_feature(
                        cols,
                        &work[f],
                        gpair,
                        f,
                        &level_nodes,
                        &node_features,
                        params,
                        constraints.monotone_of(f),
                    )
                })
                .collect();
            for cands in &per_feature {
                for (b, c) in bests.iter_mut().zip(cands) {
                    b.update(c);
                }
            }
        }
        if let Some(start) = scan_start {
            profile::add(Phase::Evaluate, start.elapsed());
        }
        let mut next = Vec::new();
        let mut split_of_node: Vec<Option<(u32, f32, bool, usize)>> = vec![None; tree.n_nodes()];
        let mut children: Vec<Option<usize>> = vec![None; level.len()];
        for (s, &nid) in level.iter().enumerate() {
            let best = bests[s];
            if best.loss_chg > RT_EPS {
                let own = nodes[nid].bounds;
                let lw = node_entry(params, best.left, own);
                let rw = node_entry(params, best.right, own);
                let split = TreeSplit {
                    feature: best.feature,
                    threshold: best.threshold,
                    default_left: best.default_left,
                    loss_chg: best.loss_chg,
                };
                let l = tree.expand_split(
                    nid,
                    &split,
                    (
                        lw.weight,
                        lw.weight * params.learning_rate,
                        best.left.hess as f32,
                    ),
                    (
                        rw.weight,
                        rw.weight * params.learning_rate,
                        best.right.hess as f32,
                    ),
                );
                next.push(l);
                next.push(l + 1);
                if !constraints.interaction.is_empty() {
                    let path = Constraints::extend_path(&paths[nid], best.feature as usize);
                    paths.resize(l + 2, Vec::new());
                    paths[l].clone_from(&path);
                    paths[l + 1] = path;
                }
                split_of_node[nid] = Some((best.feature, best.threshold, best.default_left, l));
                children[s] = Some(l);
            } else {
                tree.split_cond[nid] = nodes[nid].weight * params.learning_rate;
                tree.loss_chg[nid] = best.loss_chg;
            }
        }
        // Route rows to children.
        let route_start = profile::enabled().then(std::time::Instant::now);
        position
            .par_chunks_mut(4096)
            .enumerate()
            .for_each(|(c, chunk)| {
                for (k, p) in chunk.iter_mut().enumerate() {
                    if *p < 0 {
                        continue;
                    }
                    match split_of_node[*p as usize] {
                        None => *p = -1,
                        Some((f, t, dl, l)) => {
                            let r = c * 4096 + k;
                            let v = value_at(rows, r, f as usize);
                            let left = if v.is_nan() { dl } else { v < t };
                            *p = if left { l as i32 } else { l as i32 + 1 };
                        }
                    }
                }
            });
        if let Some(start) = route_start {
            profile::add(Phase::Partition, start.elapsed());
        }
        if next.is_empty() || depth + 1 == max_depth {
            level = next;
            if !level.is_empty() {
                refresh_children(
                    &mut tree,
                    &mut nodes,
                    &level,
                    &position,
                    gpair,
                    params,
                    constraints,
                );
            }
            break;
        }
        {
            // A column with a value in every row takes one pass from enough children on;
            // the others go node by node, by each row's side.
            let in_one_pass = |j: usize| {
                next.len() >= STREAM_PARTITION_CHILDREN && cols.column(j).len() == n_rows
            };
            let partitioned = |j: usize| !work[j].segments.is_empty();
            let first_child = next[0] as i32;
            let starts = if (0..n_cols).any(|j| partitioned(j) && in_one_pass(j)) {
                child_starts(&position, first_child, next.len())
            } else {
                Vec::new()
            };
            // One byte per row (cache-friendly): 0 = went left, 1 = right or gone.
            let side: Vec<u8> = if (0..n_cols).any(|j| partitioned(j) && !in_one_pass(j)) {
                position
                    .par_iter()
                    .map(|&p| u8::from(p < 0 || p % 2 == 0))
                    .collect()
            } else {
                Vec::new()
            };
            let (children, position, starts) = (&children, &position, &starts);
            profile::time(Phase::Partition, || {
                work.par_iter_mut().enumerate().for_each(|(j, w)| {
                    if w.segments.is_empty() {
                        return;
                    }
                    let col = cols.column(j);
                    if in_one_pass(j) {
                        w.partition_dense(col, position, first_child, starts);
                    } else {
                        PARTITION_SCRATCH.with(|scratch| {
                            w.partition(col, &side, children, &mut scratch.borrow_mut());
                        });
                    }
                });
            });
        }
        refresh_children(
            &mut tree,
            &mut nodes,
            &next,
            &position,
            gpair,
            params,
            constraints,
        );
        level = next;
    }
    for &nid in &level {
        tree.split_cond[nid] = nodes[nid].weight * params.learning_rate;
    }
    tree.prune(params);
    tree
}

/// Child sums from the rows themselves, as XGBoost's `InitNewNode` does (weights and scores
/// within the parent's bounds); then, under monotone constraints, the children's own bounds
/// from those weights, as XGBoost's `AddSplit`.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn refresh_children(
    tree: &mut Tree,
    nodes: &mut Vec<NodeEntry>,
    new_nodes: &[usize],
    position: &[i32],
    gpair: &[(f32, f32)],
    params: &SplitParams,
    constraints: &Constraints,
) {
    let sums = sum_stats(position, gpair, tree.n_nodes());
    nodes.resize(tree.n_nodes(), NodeEntry::default());
    for &nid in new_nodes {
        let parent = tree.parent[nid] as usize;
        nodes[nid] = node_entry(params, sums[nid], nodes[parent].bounds);
        tree.base_weight[nid] = nodes[nid].weight;
        tree.sum_hess[nid] = sums[nid].hess as f32;
    }
    if params.constrained {
        // Children come in pairs (left, left + 1) of one parent.
        for pair in new_nodes.chunks(2) {
            let (l, parent) = (pair[0], tree.parent[pair[0]] as usize);
            let c = constraints.monotone_of(tree.split_index[parent] as usize);
            let (lb, rb) = nodes[parent]
                .bounds
                .children(c, nodes[l].weight, nodes[l + 1].weight);
            nodes[l].bounds = lb;
            nodes[l + 1].bounds = rb;
        }
    }
}

/// A node's sums, score and weight, within its parent's bounds `parent` (its own bounds are
/// set once its sibling is known).
fn node_entry(params: &SplitParams, stats: GradStats, parent: Bounds) -> NodeEntry {
    NodeEntry {
        stats,
        root_gain: params.bounded_gain(stats, parent),
        weight: params.bounded_weight(stats, parent),
        bounds: Bounds::default(),
    }
}

/// The value of feature `f` in row `r`.
#[inline]
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn value_at(rows: &MatrixView<'_>, r: usize, f: usize) -> f32 {
    match *rows {
        MatrixView::DenseF32 { data, n_cols, .. } => data[r * n_cols + f],
        MatrixView::DenseF64 { data, n_cols, .. } => data[r * n_cols + f] as f32,
        MatrixView::Csr {
            indptr,
            indices,
            data,
            ..
        } => {
            let (a, b) = (indptr[r] as usize, indptr[r + 1] as usize);
            let idx = &indices[a..b];
            let mut found = f32::NAN;
            for (k, &j) in idx.iter().enumerate() {
                if j as usize == f {
                    found = data[a + k];
                    break;
                }
            }
            found
        }
    }
}

/// Sums of gradient pairs per node id, over rows with a non-negative position.
fn sum_stats(position: &[i32], gpair: &[(f32, f32)], n_nodes: usize) -> Vec<GradStats> {
    const CHUNK: usize = 8192;
    let partial: Vec<Vec<GradStats>> = position
        .par_chunks(CHUNK)
        .zip(gpair.par_chunks(CHUNK))
        .map(|(pos, gp)| {
            let mut acc = vec![GradStats::default(); n_nodes];
            for (&p, &(g, h)) in pos.iter().zip(gp) {
                if p >= 0 {
                    #[allow(clippy::cast_sign_loss)]
                    acc[p as usize].add_pair(g, h);
                }
            }
            acc
        })
        .collect();
    let mut total = vec![GradStats::default(); n_nodes];
    for part in partial {
        for (t, s) in total.iter_mut().zip(part) {
            t.add(s);
        }
    }
    total
}

/// Best split per level slot on one column.
#[allow(clippy::cast_possible_truncation, clippy::too_many_arguments)]
fn scan_feature(
    cols: &SortedColumns,
    work: &ColumnSegments,
    gpair: &[(f32, f32)],
    feature: usize,
    nodes: &[NodeEntry],
    node_features: &[Option<Vec<bool>>],
    params: &SplitParams,
    constraint: i8,
) -> Vec<SplitCandidate> {
    let col = cols.column(feature);
    let fid = feature as u32;
    let constant = !col.is_empty() && col[0].value == col[col.len() - 1].value;
    let forward = cols.density[feature] < 1.0 && !constant;
    let mut out = vec![SplitCandidate::default(); nodes.len()];
    for (slot, node) in nodes.iter().enumerate() {
        if let Some(mask) = &node_features[slot] {
            if !mask[feature] {
                continue;
            }
        }
        let (a, b) = work.segments[slot];
        let seg = &work.entries[a..b];
        let mut scan = ScanState::default();
        if forward {
            let ahead = |i: usize| i + PREFETCH_DISTANCE;
            let entries = (0..seg.len()).map(|i| fetch(seg, col, gpair, i, ahead));
            enumerate(
                entries, gpair, true, fid, node, params, constraint, &mut scan,
            );
        }
        let behind = |i: usize| i.wrapping_sub(PREFETCH_DISTANCE);
        enumerate(
            (0..seg.len())
                .rev()
                .map(|i| fetch(seg, col, gpair, i, behind)),
            gpair,
            false,
            fid,
            node,
            params,
            constraint,
            &mut scan,
        );
        out[slot] = scan.best;
    }
    out
}

/// The column entry at position `i` of a segment, prefetching the column entry two prefetch
/// distances ahead and the gradient pair of the row one distance ahead (`ahead(i)` is the
/// position one distance further in the scan direction; out of range is ignored).
#[inline(always)]
fn fetch(
    seg: &[WorkEntry],
    col: &[Entry],
    gpair: &[(f32, f32)],
    i: usize,
    ahead: impl Fn(usize) -> usize,
) -> Entry {
    let near = ahead(i);
    if let Some(&r) = seg.get(ahead(near)) {
        prefetch(col, r as usize);
    }
    if let Some(&r) = seg.get(near) {
        prefetch(gpair, col[r as usize].row as usize);
    }
    col[seg[i] as usize]
}

/// One directional pass over a node's segment of a column (XGBoost's `EnumerateSplit`).
#[inline]
#[allow(clippy::too_many_arguments)]
fn enumerate(
    entries: impl Iterator<Item = Entry>,
    gpair: &[(f32, f32)],
    forward: bool,
    fid: u32,
    node: &NodeEntry,
    params: &SplitParams,
    constraint: i8,
    s: &mut ScanState,
) {
    s.stats = GradStats::default();
    let mcw = f64::from(params.min_child_weight);
    for e in entries {
        let (g, h) = gpair[e.row as usize];
        let fvalue = e.value;
        // A boundary between two distinct values, both sides heavy enough, is a candidate;
        // its exact gain is computed only where it may beat the best so far.
        if !s.stats.is_empty() && fvalue != s.last_value && s.stats.hess >= mcw {
            let c = GradStats::difference(node.stats, s.stats);
            // Forward: accumulated = left, rest (incl. missing) = right.
            // Backward: accumulated = right, rest (incl. missing) = left.
            let (left, right) = if forward { (s.stats, c) } else { (c, s.stats) };
            if c.hess >= mcw && params.may_beat(left, right, node.root_gain, s.best.loss_chg) {
                let loss_chg = params.constrained_split_gain(left, right, node.bounds, constraint)
                    - node.root_gain;
                if s.best.needs_replace(loss_chg, fid) {
                    let mid = (fvalue + s.last_value) * 0.5;
                    let threshold = if mid == fvalue { s.last_value } else { mid };
                    propose(s, loss_chg, fid, threshold, !forward, left, right);
                }
            }
        }
        s.stats.add_pair(g, h);
        s.last_value = fvalue;
    }
    // All present values on one side, all missing ones on the other.
    let c = GradStats::difference(node.stats, s.stats);
    if s.stats.hess >= mcw && c.hess >= mcw {
        let gap = s.last_value.abs() + RT_EPS;
        let (left, right, threshold) = if forward {
            (s.stats, c, s.last_value + gap)
        } else {
            (c, s.stats, s.last_value - gap)
        };
        let loss_chg =
            params.constrained_split_gain(left, right, node.bounds, constraint) - node.root_gain;
        propose(s, loss_chg, fid, threshold, !forward, left, right);
    }
}

#[inline]
fn propose(
    s: &mut ScanState,
    loss_chg: f32,
    feature: u32,
    threshold: f32,
    default_left: bool,
    left: GradStats,
    right: GradStats,
) {
    if s.best.needs_replace(loss_chg, feature) {
        s.best = SplitCandidate {
            loss_chg,
            feature,
            threshold,
            default_left,
            left,
            right,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::TreeParams;

    fn grow(x: &[f32], n_cols: usize, g: &[(f32, f32)], tp: &TreeParams) -> Tree {
        let view = MatrixView::DenseF32 {
            data: x,
            n_rows: g.len(),
            n_cols,
        };
        let cols = SortedColumns::build(&view).unwrap();
        let p = SplitParams::from_tree_params(tp, None);
        let mut sampler = ColumnSampler::new(n_cols, tp, 0);
        let grower = ExactGrower {
            cols: &cols,
            rows: &view,
            params: &p,
            max_depth: tp.max_depth,
            constraints: &Constraints::default(),
        };
        grower.grow(
            g,
            &vec![true; g.len()],
            &mut sampler,
            &mut ExactWorkspace::default(),
        )
    }

    #[test]
    fn partition_in_one_pass_equals_node_by_node() {
        // A dense column of 1,000 rows over 16 nodes, some of which do not split and some
        // rows of which take no part; children numbered from 40 on.
        let n_rows = 1_000_u32;
        let mut x = 0x9e37_79b9_u32;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        let rows: Vec<u32> = {
            let mut r: Vec<u32> = (0..n_rows).collect();
            for i in (1..r.len()).rev() {
                r.swap(i, next() as usize % (i + 1));
            }
            r
        };
        #[allow(clippy::cast_precision_loss)]
        let col: Vec<Entry> = rows
            .iter()
            .enumerate()
            .map(|(k, &row)| Entry {
                row,
                value: k as f32,
            })
            .collect();
        let node_of: Vec<usize> = (0..n_rows).map(|_| next() as usize % 16).collect();
        let taking_part: Vec<bool> = (0..n_rows).map(|_| next() % 10 != 0).collect();
        let children: Vec<Option<usize>> =
            (0..16).map(|s| (s % 5 != 3).then(|| 40 + 2 * s)).collect();
        // The level's segments: each node's rows in column order.
        let mut seg = ColumnSegments::default();
        for node in 0..16 {
            let start = seg.entries.len();
            for (k, e) in (0u32..).zip(&col) {
                if taking_part[e.row as usize] && node_of[e.row as usize] == node {
                    seg.entries.push(k);
                }
            }
            seg.segments.push((start, seg.entries.len()));
        }
        // Rows go left or right at random; rows of nodes that did not split drop out.
        let mut position = vec![-1_i32; n_rows as usize];
        let mut side = vec![1_u8; n_rows as usize];
        for r in 0..n_rows as usize {
            if let (true, Some(l)) = (taking_part[r], children[node_of[r]]) {
                let left = next() % 2 == 0;
                position[r] = i32::try_from(l).unwrap() + i32::from(!left);
                side[r] = u8::from(!left);
            }
        }
        let first = 40_i32;
        let starts = child_starts(&position, first, 32);
        // Children of nodes that did not split have empty segments in one pass: drop them.
        let mut streamed = seg.clone();
        streamed.partition_dense(&col, &position, first, &starts);
        let mut by_node = seg;
        by_node.partition(&col, &side, &children, &mut Vec::new());
        let kept: Vec<(usize, usize)> = (0..16)
            .filter(|&s| children[s].is_some())
            .flat_map(|s| [2 * s, 2 * s + 1])
            .map(|c| streamed.segments[c])
            .collect();
        assert_eq!(streamed.entries, by_node.entries);
        assert_eq!(kept, by_node.segments);
    }

    #[test]
    fn midpoint_threshold_and_default_left_on_dense_columns() {
        // x in {1, 2 | 3, 4, 6}, y = {0, 0, 10, 10, 10}, margin 0: g = -y, h = 1.
        let x = [1.0, 2.0, 3.0, 4.0, 6.0];
        let g: Vec<(f32, f32)> = [0.0, 0.0, 10.0, 10.0, 10.0]
            .iter()
            .map(|&y: &f32| (-y, 1.0))
            .collect();
        let tp = TreeParams {
            max_depth: 1,
            reg_lambda: 0.0,
            ..TreeParams::default()
        };
        let t = grow(&x, 1, &g, &tp);
        assert_eq!(t.split_cond[0], 2.5);
        assert!(t.default_left[0]);
        // loss change = 0 + 900/3 - 900/5 = 120
        assert!((t.loss_chg[0] - 120.0).abs() < 1e-3);
    }

    #[test]
    fn equal_values_are_never_separated() {
        let x = [1.0, 1.0, 1.0, 1.0];
        let g = [(-1.0, 1.0), (1.0, 1.0), (-1.0, 1.0), (1.0, 1.0)];
        let t = grow(&x, 1, &g, &TreeParams::default());
        assert_eq!(t.n_nodes(), 1);
    }

    #[test]
    fn missing_values_learn_their_direction() {
        // Feature with NaN for rows whose gradient matches the low group.
        let x = [1.0, 2.0, f32::NAN, 8.0, 9.0, f32::NAN];
        let g = [
            (-5.0, 1.0),
            (-5.0, 1.0),
            (-5.0, 1.0),
            (5.0, 1.0),
            (5.0, 1.0),
            (5.0, 1.0),
        ];
        let tp = TreeParams {
            max_depth: 1,
            min_child_weight: 0.0,
            ..TreeParams::default()
        };
        let t = grow(&x, 1, &g, &tp);
        assert!(!t.is_leaf(0));
        assert_eq!(t.split_cond[0], 5.0);
    }

    #[test]
    fn ties_between_features_pick_the_smaller_index() {
        // Two identical columns.
        let x = [1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0];
        let g = [(-1.0, 1.0), (-1.0, 1.0), (1.0, 1.0), (1.0, 1.0)];
        let tp = TreeParams {
            max_depth: 1,
            ..TreeParams::default()
        };
        let t = grow(&x, 2, &g, &tp);
        assert_eq!(t.split_index[0], 0);
    }
}
