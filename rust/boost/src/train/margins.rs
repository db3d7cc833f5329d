//! Adding a round's new trees to the margins: the training rows' from the row lists growth
//! returned where it has them, any matrix's by walking the trees. Writes the margins only.

use rayon::prelude::*;

use crate::data::MatrixView;
use crate::forest::FlatForest;
use crate::hist::LeafRows;
use crate::model::add_forest;
use crate::tree::Tree;

/// Fewest rows per block when leaf values are added to the training margins.
const MARGIN_BLOCK: usize = 16_384;

/// [`update_margins`] for the training rows: a tree whose growth placed every row in a leaf
/// adds each leaf's value to its rows directly (XGBoost's prediction cache); other trees are
/// walked, each run of them together (a forest whose trees saw samples of the rows walks
/// once). Each row still adds its trees in order, so the sums are the same.
pub(super) fn update_training_margins(
    margin: &mut [f32],
    x: &MatrixView<'_>,
    trees: &[Tree],
    groups: &[u32],
    leaves: &[Option<LeafRows>],
    k: usize,
) {
    let n_rows = x.n_rows();
    // The first tree of the run not yet added, all of them walked.
    let mut walk_from = 0;
    for (t, ((tree, &g), rows)) in trees.iter().zip(groups).zip(leaves).enumerate() {
        let placed = rows.as_ref().filter(|rows| {
            rows.iter().map(|(_, r)| r.len()).sum::<usize>() == n_rows
                && rows
                    .iter()
                    .all(|&(nid, _)| tree.is_leaf(nid) && !tree.is_deleted(nid))
        });
        let Some(rows) = placed else {
            continue;
        };
        if walk_from < t {
            update_margins(margin, x, &trees[walk_from..t], &groups[walk_from..t], k);
        }
        walk_from = t + 1;
        // Rows in parallel blocks: a leaf's rows are in ascending order (partitions
        // keep the order), so each block finds its share of every leaf by bisection.
        let block = n_rows
            .div_ceil(rayon::current_num_threads() * 4)
            .max(MARGIN_BLOCK);
        margin
            .par_chunks_mut(block * k)
            .enumerate()
            .for_each(|(c, out)| {
                let (lo, hi) = (c * block, c * block + out.len() / k);
                for (nid, rs) in rows {
                    let value = tree.split_cond[*nid];
                    let a = rs.partition_point(|&r| (r as usize) < lo);
                    let b = rs.partition_point(|&r| (r as usize) < hi);
                    for &r in &rs[a..b] {
                        out[(r as usize - lo) * k + g as usize] += value;
                    }
                }
            });
    }
    if walk_from < trees.len() {
        update_margins(margin, x, &trees[walk_from..], &groups[walk_from..], k);
    }
}

/// Adds `trees` (of output groups `groups`) to the margins of the rows of `x`, by walking them.
pub(super) fn update_margins(
    margin: &mut [f32],
    x: &MatrixView<'_>,
    trees: &[Tree],
    groups: &[u32],
    k: usize,
) {
    let forest = FlatForest::new(trees);
    add_forest(margin, x, &forest, groups, k);
}
