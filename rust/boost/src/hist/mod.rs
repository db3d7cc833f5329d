//! Histogram split finding (`hist` and `approx`): quantile cuts, the binned matrix, gradient
//! histograms, and tree growth as named phases.
//!
//! | module | phase |
//! |---|---|
//! | [`cuts`], [`matrix`] | setup: quantile cuts and the binned matrix |
//! | [`partition`] | the root's rows and sums; each split's division of a node's rows |
//! | [`histogram`], [`feature_histogram`] | gradient histograms from rows, in the fit's [`HistLayout`] (or of a few features) |
//! | [`step`] | growth as local steps (one part's rows) and global steps (the tree), the seam of a distributed fit |
//! | [`evaluate`] | the best split of a node from its summed histograms and sums |
//! | [`expand`], [`driver`] | nodes waiting to be split, their order, the tree's limits |
//! | [`grow`] | the loop over those phases |

pub mod cuts;
pub mod driver;
pub mod evaluate;
pub mod expand;
pub mod feature_histogram;
pub mod grow;
pub mod histogram;
pub mod matrix;
pub mod partition;
pub(crate) mod prefetch;
pub mod step;

pub use cuts::QuantileCuts;
pub use driver::{GrowPolicy, TreeShape};
pub use feature_histogram::FeatureHistogram;
pub use grow::{HistGrower, LeafRows};
pub use histogram::{HistLayout, Histogram};
pub use matrix::{BinLayout, BinStorage, BinnedMatrix};
pub use step::{GrowPlan, PartGrowth, StepHistogram, StepSums, TreeGrowth};

/// Whether compressed (CSR or CSC) arrays agree: `indptr` non-decreasing and ending at the
/// number of stored values, one index per value, every index below `n_minor`.
pub(crate) fn compressed_is_well_formed(
    indptr: &[usize],
    indices: &[usize],
    n_values: usize,
    n_minor: usize,
) -> bool {
    indices.len() == n_values
        && indptr.last() == Some(&n_values)
        && indptr.windows(2).all(|w| w[0] <= w[1])
        && indices.iter().all(|&i| i < n_minor)
}

/// The entries of a CSR matrix (row starts `indptr`, entry `k` in column `col_of(k)`, below
/// `n_cols`) in column order: the columns' starts, and per entry the two parts of its
/// `entry(row, k)` (say its row and its value), rows ascending within each column. The
/// columns are divided into ranges of about equal entries, filled in parallel, each by a pass
/// over every entry that keeps its own; the result does not depend on the number of ranges.
///
/// # Errors
/// [`crate::error::BoostError`] when the memory for the copy (named `what`) cannot be had.
#[allow(clippy::type_complexity)]
pub(crate) fn csr_to_csc<A, B>(
    indptr: &[usize],
    col_of: impl Fn(usize) -> usize + Sync,
    n_cols: usize,
    entry: impl Fn(usize, usize) -> (A, B) + Sync,
    what: &str,
) -> Result<(Vec<usize>, Vec<A>, Vec<B>), crate::error::BoostError>
where
    A: Copy + Default + Send,
    B: Copy + Default + Send,
{
    use rayon::prelude::*;
    let nnz = indptr.last().copied().unwrap_or(0);
    let mut starts = sapwood_mem::try_vec(n_cols + 1, 0_usize, what)?;
    for k in 0..nnz {
        starts[col_of(k) + 1] += 1;
    }
    for c in 0..n_cols {
        starts[c + 1] += starts[c];
    }
    let mut firsts = sapwood_mem::try_vec(nnz, A::default(), what)?;
    let mut seconds = sapwood_mem::try_vec(nnz, B::default(), what)?;
    // Column ranges, as many as the threads: each pass reads every entry, so more ranges
    // would read more than they write.
    let n_ranges = rayon::current_num_threads().clamp(1, n_cols.max(1));
    let mut ranges = Vec::with_capacity(n_ranges);
    let (mut rest_a, mut rest_b): (&mut [A], &mut [B]) = (&mut firsts, &mut seconds);
    let mut c0 = 0;
    for i in 1..=n_ranges {
        let c1 = if i == n_ranges {
            n_cols
        } else {
            let goal = nnz / n_ranges * i;
            starts
                .partition_point(|&s| s <= goal)
                .saturating_sub(1)
                .clamp(c0, n_cols)
        };
        let len = starts[c1] - starts[c0];
        let (part_a, tail_a) = std::mem::take(&mut rest_a).split_at_mut(len);
        let (part_b, tail_b) = std::mem::take(&mut rest_b).split_at_mut(len);
        ranges.push((c0, c1, part_a, part_b));
        (rest_a, rest_b) = (tail_a, tail_b);
        c0 = c1;
    }
    let starts_ref = &starts;
    ranges.into_par_iter().for_each(|(c0, c1, part_a, part_b)| {
        if c0 == c1 {
            return;
        }
        let base = starts_ref[c0];
        let mut next: Vec<usize> = starts_ref[c0..c1].iter().map(|s| s - base).collect();
        for (r, w) in indptr.windows(2).enumerate() {
            for k in w[0]..w[1] {
                let c = col_of(k);
                if (c0..c1).contains(&c) {
                    let slot = &mut next[c - c0];
                    (part_a[*slot], part_b[*slot]) = entry(r, k);
                    *slot += 1;
                }
            }
        }
    });
    Ok((starts, firsts, seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::uniform;

    /// The transpose equals a plain counting sort at any number of threads, rows unsorted
    /// within a row and empty columns included.
    #[test]
    fn csr_to_csc_is_a_counting_sort_at_any_thread_count() {
        let mut u = uniform(3);
        for (n_rows, n_cols, density) in
            [(0, 4, 0.5), (50, 1, 0.9), (300, 17, 0.2), (200, 40, 0.02)]
        {
            let (mut indptr, mut indices) = (vec![0_usize], Vec::new());
            for _ in 0..n_rows {
                let mut cols: Vec<usize> = (0..n_cols).filter(|_| u() < density).collect();
                if u() < 0.5 {
                    cols.reverse();
                }
                indices.extend(cols);
                indptr.push(indices.len());
            }
            let mut want: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n_cols];
            for r in 0..n_rows {
                for k in indptr[r]..indptr[r + 1] {
                    want[indices[k]].push((r, k));
                }
            }
            for threads in [1, 2, 3, 8] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let (starts, rows, ks) = pool
                    .install(|| csr_to_csc(&indptr, |k| indices[k], n_cols, |r, k| (r, k), "test"))
                    .unwrap();
                for (c, want) in want.iter().enumerate() {
                    let got: Vec<(usize, usize)> = (starts[c]..starts[c + 1])
                        .map(|i| (rows[i], ks[i]))
                        .collect();
                    assert_eq!(&got, want, "column {c}, {threads} threads");
                }
                assert_eq!(starts[n_cols], indices.len());
            }
        }
    }
}
