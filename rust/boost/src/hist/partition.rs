//! Row partitioning: the rows a tree grows on and their gradient sums, and each split's
//! division of a node's rows between its children.
//!
//! Rows are local to the data a grower sees (one machine's, or one partition's); sums and
//! histograms built from them become global at the seam in [`super::sync`].

use rayon::prelude::*;

use super::evaluate::BinSplit;
use super::matrix::{BinColumn, BinnedMatrix};
use super::prefetch::{prefetch, PARTITION_PREFETCH_DISTANCE};
use crate::gain::GradStats;

/// Rows per block when the root's gradient sums are added up.
const ROOT_SUM_BLOCK: usize = 1 << 16;

thread_local! {
    /// Each thread's buffer for the right-hand rows of [`split_in_place`]: every row is
    /// written to it, so it needs room for all of them; kept between calls so that it is not
    /// allocated and zeroed for every block.
    static SPLIT_SCRATCH: std::cell::RefCell<Vec<u32>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Moves the rows of `rows` where `goes_left` holds to its front, keeping their order, and
/// returns how many there are with the others, in order, in a new vector. Both sides are
/// written without a branch per row, as a row's side is hard to predict: the left rows over
/// `rows` itself (a row is read before its place is written), the right ones into the
/// thread's scratch buffer. `ahead(r)` is called for the row some iterations ahead, to
/// prefetch what `goes_left` will read.
fn split_in_place(
    rows: &mut [u32],
    goes_left: impl Fn(u32) -> bool,
    ahead: impl Fn(u32),
) -> (usize, Vec<u32>) {
    // Out of the cell for the loop: a plain local buffer lets the compiler keep everything
    // the closures read in registers across the stores.
    let mut right = SPLIT_SCRATCH.with_borrow_mut(std::mem::take);
    if right.len() < rows.len() {
        right.resize(rows.len(), 0);
    }
    let (nl, nr) = split_into(rows, &goes_left, &ahead, &mut right);
    let out = (nl, right[..nr].to_vec());
    SPLIT_SCRATCH.set(right);
    out
}

/// The loop of [`split_in_place`]: returns how many rows went each way.
#[inline(always)]
fn split_into(
    rows: &mut [u32],
    goes_left: &impl Fn(u32) -> bool,
    ahead: &impl Fn(u32),
    right: &mut [u32],
) -> (usize, usize) {
    let n = rows.len();
    let right = &mut right[..n];
    let (mut nl, mut nr) = (0, 0);
    for i in 0..n {
        if let Some(&next) = rows.get(i + PARTITION_PREFETCH_DISTANCE) {
            ahead(next);
        }
        let r = rows[i];
        let l = usize::from(goes_left(r));
        // `nl <= i`: the left rows are compacted forwards over rows already read.
        rows[nl] = r;
        right[nr] = r;
        nl += l;
        nr += 1 - l;
    }
    (nl, nr)
}

/// Gives back the room of a node's row vector when its left rows fill less than half of it
/// (then they are the smaller side, and cheap to move), so that a level's rows never hold
/// more than twice their memory; otherwise keeps it, as moving most of a node's rows would
/// cost more than the room. Kept without this, the vectors of a depth-8 tree grew the fit's
/// memory on 1M x 28 by 18 MB (an eighth).
fn shrink(rows: &mut Vec<u32>) {
    if rows.len() < rows.capacity() / 2 {
        rows.shrink_to_fit();
    }
}

/// A walk through a sparse feature's rows (ascending) alongside a node's rows, which ascend
/// too: each row's entry is found from where the last one's search ended, a few steps on,
/// then by bisection over the rest for a row far ahead. A row below the last one (rows that
/// do not ascend) is searched from the start, so any order gives the right entries.
struct ColumnWalk<'a> {
    rows: &'a [u32],
    /// Where the last search ended: every entry before it is of a lower row.
    at: std::cell::Cell<usize>,
}

impl<'a> ColumnWalk<'a> {
    /// Entries taken one by one before the walk bisects the rest.
    const STEPS: usize = 8;

    fn new(rows: &'a [u32]) -> Self {
        Self {
            rows,
            at: std::cell::Cell::new(0),
        }
    }

    /// The entry of row `r`, if it has one.
    #[inline]
    fn find(&self, r: u32) -> Option<usize> {
        let rows = self.rows;
        let mut k = self.at.get();
        if k > 0 && rows[k - 1] >= r {
            k = rows.partition_point(|&x| x < r);
        } else {
            let stop = rows.len().min(k + Self::STEPS);
            while k < stop && rows[k] < r {
                k += 1;
            }
            if k == stop && k < rows.len() && rows[k] < r {
                k += rows[k..].partition_point(|&x| x < r);
            }
        }
        self.at.set(k);
        (k < rows.len() && rows[k] == r).then_some(k)
    }
}

/// Divides a node's rows between its children, reading the split feature's bins straight
/// from the binned matrix.
pub(crate) struct RowPartitioner<'a> {
    matrix: &'a BinnedMatrix,
}

impl<'a> RowPartitioner<'a> {
    /// A partitioner over the rows of `matrix`.
    pub fn new(matrix: &'a BinnedMatrix) -> Self {
        Self { matrix }
    }

    /// Splits the rows of a node by the split's bins; the order within each side is kept.
    /// The left rows stay in the node's own vector ([`shrink`]).
    pub fn split(&self, mut rows: Vec<u32>, split: &BinSplit) -> (Vec<u32>, Vec<u32>) {
        const BLOCK: usize = 8192;
        if rows.len() <= BLOCK {
            let (nl, right) = self.split_block(&mut rows, split);
            rows.truncate(nl);
            shrink(&mut rows);
            return (rows, right);
        }
        let parts: Vec<(usize, Vec<u32>)> = rows
            .par_chunks_mut(BLOCK)
            .map(|chunk| self.split_block(chunk, split))
            .collect();
        let n_right: usize = parts.iter().map(|p| p.1.len()).sum();
        let mut right = Vec::with_capacity(n_right);
        let mut w = 0;
        for (b, (nl, r)) in parts.into_iter().enumerate() {
            rows.copy_within(b * BLOCK..b * BLOCK + nl, w);
            w += nl;
            right.extend(r);
        }
        rows.truncate(w);
        shrink(&mut rows);
        (rows, right)
    }

    /// [`RowPartitioner::split`] of one block of rows: a numeric split sends left the present
    /// rows whose bin is at most `left_max_bin`, a categorical one those whose bin (their
    /// category) is not among the right-going categories.
    fn split_block(&self, rows: &mut [u32], split: &BinSplit) -> (usize, Vec<u32>) {
        let f = split.cand.feature as usize;
        let default_left = split.cand.default_left;
        match &split.right_categories {
            Some(right) => {
                let top = right.last().map_or(0, |&c| c as usize + 1);
                let mut side = vec![true; top];
                for &c in right.iter() {
                    side[c as usize] = false;
                }
                self.split_by(rows, f, default_left, |b| {
                    side.get(b).copied().unwrap_or(true)
                })
            }
            None => {
                let left_max = i64::from(split.left_max_bin); // -1: no present row goes left
                #[allow(clippy::cast_possible_wrap)]
                self.split_by(rows, f, default_left, |b| b as i64 <= left_max)
            }
        }
    }

    /// Splits `rows` by feature `f`: a present row goes left where `present_left` holds for
    /// its bin, a row lacking the feature as `default_left` says. Dense matrices are read
    /// from their column-major copy (one byte or two a row), sparse ones from their copy by
    /// feature ([`ColumnWalk`]).
    fn split_by(
        &self,
        rows: &mut [u32],
        f: usize,
        default_left: bool,
        present_left: impl Fn(usize) -> bool,
    ) -> (usize, Vec<u32>) {
        let missing = self.matrix.marker(f).map(usize::from);
        let bin_left = |b: usize| {
            if Some(b) == missing {
                default_left
            } else {
                present_left(b)
            }
        };
        match self.matrix.column(f) {
            Some(BinColumn::U8(column)) => {
                // Each byte's side, looked up rather than worked out per row.
                let side: [bool; 256] = std::array::from_fn(&bin_left);
                split_in_place(
                    rows,
                    |r| side[usize::from(column[r as usize])],
                    |r| prefetch(column, r as usize),
                )
            }
            Some(BinColumn::U16(column)) => split_in_place(
                rows,
                |r| bin_left(usize::from(column[r as usize])),
                |r| prefetch(column, r as usize),
            ),
            None => {
                let column = self
                    .matrix
                    .sparse_column(f)
                    .expect("a matrix without columns is sparse, with its copy by feature");
                let entries = ColumnWalk::new(column.rows);
                split_in_place(
                    rows,
                    |r| {
                        entries
                            .find(r)
                            .map_or(default_left, |k| present_left(usize::from(column.bins[k])))
                    },
                    |_| {},
                )
            }
        }
    }

    /// The rows a tree grows on (flagged in `active`, without a negative hessian) and their
    /// gradient sums over consecutive blocks of [`ROOT_SUM_BLOCK`] of them, to be added in
    /// order: the same sums for any thread count. When every row takes part (the usual case,
    /// found in the same pass that sums them) the rows are simply all of them.
    #[allow(clippy::cast_possible_truncation)]
    pub fn root_rows(&self, gpair: &[(f32, f32)], active: &[bool]) -> (Vec<u32>, Vec<GradStats>) {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gain::SplitCandidate;
    use crate::hist::cuts::QuantileCuts;
    use crate::test_support::uniform;

    #[test]
    fn column_walk_finds_every_entry_in_any_row_order() {
        let mut u = uniform(11);
        for case in 0..50 {
            let n = 1 + (u() * 400.0) as usize;
            let density = [0.01, 0.2, 0.9][case % 3];
            let column: Vec<u32> = (0..n as u32).filter(|_| u() < density).collect();
            let ascending: Vec<u32> = (0..n as u32).filter(|_| u() < 0.5).collect();
            let mut shuffled = ascending.clone();
            for i in (1..shuffled.len()).rev() {
                shuffled.swap(i, (u() * (i + 1) as f64) as usize);
            }
            for rows in [&ascending, &shuffled] {
                let walk = ColumnWalk::new(&column);
                for &r in rows {
                    assert_eq!(walk.find(r), column.binary_search(&r).ok(), "case {case}");
                }
            }
        }
    }

    /// A split of a sparse matrix's rows by the column copy equals one by each row's bin,
    /// for rows in blocks of their own and split in parallel blocks, in order or not.
    #[test]
    fn sparse_splits_follow_each_rows_bin() {
        let mut u = uniform(5);
        let (n_rows, n_cols) = (20_000, 30);
        let (mut indptr, mut indices, mut values) = (vec![0_usize], Vec::new(), Vec::new());
        for r in 0..n_rows {
            // Column 0 is in every row; the others in a few, some rows in reverse order.
            let mut cols: Vec<usize> = (1..n_cols).filter(|_| u() < 0.1).collect();
            cols.insert(0, 0);
            if r % 3 == 0 {
                cols.reverse();
            }
            for c in cols {
                indices.push(c);
                values.push((u() * 50.0).floor() as f32);
            }
            indptr.push(indices.len());
        }
        let cuts = QuantileCuts::from_csr(&indptr, &indices, &values, n_cols, None, 16).unwrap();
        let m = BinnedMatrix::from_csr(&indptr, &indices, &values, n_cols, &cuts).unwrap();
        let partitioner = RowPartitioner::new(&m);
        let all: Vec<u32> = (0..n_rows as u32).collect();
        let some: Vec<u32> = all.iter().copied().filter(|_| u() < 0.3).collect();
        let unordered: Vec<u32> = some.iter().rev().copied().collect();
        for f in [0, 1, 7, 29] {
            for (left_max_bin, default_left) in [(-1, true), (3, false), (8, true), (15, false)] {
                let split = BinSplit {
                    cand: SplitCandidate {
                        feature: f as u32,
                        default_left,
                        ..SplitCandidate::default()
                    },
                    left_max_bin,
                    right_categories: None,
                };
                for rows in [&all, &some, &unordered] {
                    let goes_left = |r: &u32| {
                        m.bin(*r as usize, f)
                            .map_or(default_left, |b| b as i32 <= left_max_bin)
                    };
                    let want: (Vec<u32>, Vec<u32>) = rows.iter().partition(|r| goes_left(r));
                    let got = partitioner.split(rows.clone(), &split);
                    assert_eq!(got, want, "feature {f}, left_max_bin {left_max_bin}");
                }
            }
        }
    }
}
