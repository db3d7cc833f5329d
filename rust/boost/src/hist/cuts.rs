//! Quantile cut points: the bin boundaries of the `hist` and `approx` split finders.
//!
//! The contract is XGBoost's, as observed through its `get_quantile_cut()`:
//! - a feature with no more distinct values than `max_bin` gets every distinct value except
//!   the smallest as a cut, so each distinct value has its own bin;
//! - values whose rows all weigh 0 are left out (unless every row does);
//! - otherwise `max_bin - 1` interior cuts sit at the weighted ranks `k / max_bin`, made
//!   strictly increasing;
//! - the last cut is a sentinel `max + (|max| + 1e-5)` above every value; a feature with no
//!   values at all gets the single cut `1e-5`.
//!
//! A value `v` falls in bin `i`, the first cut strictly greater than `v` (`x < cut` goes left,
//! as in every split). Missing values (NaN) belong to no bin.

use rayon::prelude::*;

use crate::data::{Entry, SortedColumns};
use crate::error::BoostError;

/// Cut points of every feature, stored back to back.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantileCuts {
    /// `values[offsets[f]..offsets[f + 1]]` are feature `f`'s cuts, strictly increasing.
    values: Vec<f32>,
    offsets: Vec<usize>,
    /// The smallest value of each feature (`+inf` when it has none).
    min_values: Vec<f32>,
    /// Whether each feature is categorical (empty: none is).
    categorical: Vec<bool>,
}

/// Sentinel above the largest value of a feature.
fn sentinel(max: f32) -> f32 {
    max + (max.abs() + 1e-5)
}

/// Cuts of one feature from its present `(value, weight)` pairs, sorted by value.
fn feature_cuts(sorted: &[(f32, f64)], max_bin: usize) -> Vec<f32> {
    let Some(&(max, _)) = sorted.last() else {
        return vec![1e-5];
    };
    // Distinct values with their summed weights.
    let mut distinct: Vec<(f32, f64)> = Vec::new();
    for &(v, w) in sorted {
        push_distinct(&mut distinct, v, w);
    }
    cuts_of_distinct(&distinct, max, max_bin)
}

/// Adds value `v` of weight `w` to `distinct` (ascending distinct values with their summed
/// weights), values coming in ascending order: to the last entry when equal to it (zero and
/// minus zero are; the entry keeps the first one's sign), else as a new entry.
pub(crate) fn push_distinct(distinct: &mut Vec<(f32, f64)>, v: f32, w: f64) {
    match distinct.last_mut() {
        Some((last, total)) if *last == v => *total += w,
        _ => distinct.push((v, w)),
    }
}

/// [`feature_cuts`] where every weight is one, from the values sorted as [`f32::total_cmp`]
/// orders them. The weighted rules reduce to positions here: the cumulative weight up to the
/// end of a run of equal values is the run's end, so the first run whose end passes rank `r`
/// is the one holding position `floor(r)`. No list of distinct values is built.
fn unweighted_feature_cuts(sorted: &[f32], max_bin: usize) -> Vec<f32> {
    let Some(&max) = sorted.last() else {
        return vec![1e-5];
    };
    // The first position of the run of values equal (as `f32`, so -0 and 0 together) to
    // `sorted[p]`.
    let run_start = |p: usize| sorted[..p].partition_point(|&x| x < sorted[p]);
    let mut n_distinct = 1;
    let mut capped: Vec<f32> = Vec::with_capacity(max_bin + 1);
    for w in sorted.windows(2) {
        if w[1] != w[0] {
            n_distinct += 1;
            if capped.len() < max_bin + 1 {
                capped.push(w[1]);
            }
        }
    }
    let mut cuts: Vec<f32> = if n_distinct <= max_bin {
        // Every distinct value but the smallest (`capped` holds the first value of each
        // later run).
        capped
    } else {
        let n = sorted.len();
        let total = n as f64;
        let mut cuts = Vec::with_capacity(max_bin);
        for k in 1..max_bin {
            let rank = total * k as f64 / max_bin as f64;
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let p = (rank as usize).min(n - 1);
            let start = run_start(p);
            // The smallest value never makes a cut: take the next distinct one.
            let cut = if start == 0 { capped[0] } else { sorted[start] };
            if cuts.last().is_none_or(|&last| last < cut) {
                cuts.push(cut);
            }
        }
        cuts
    };
    let top = sentinel(max);
    if cuts.last().is_none_or(|&c| c < top) {
        cuts.push(top);
    }
    cuts
}

/// Bits of the key sorted per radix pass: three passes cover 32 bits, and 2048 counters stay
/// in L1.
const RADIX_BITS: u32 = 11;

/// The order-preserving integer image of a value: keys compare as [`f32::total_cmp`] orders
/// the values.
#[inline]
fn sort_key(v: f32) -> u32 {
    let b = v.to_bits();
    if b >> 31 == 1 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// The value of a [`sort_key`].
#[inline]
fn from_sort_key(k: u32) -> f32 {
    f32::from_bits(if k >> 31 == 1 { k & 0x7fff_ffff } else { !k })
}

/// Sorts finite or infinite (not NaN) values in [`f32::total_cmp`] order: a radix sort
/// ([`radix_sort`]) of the order-preserving integer image of each value, 11 bits a pass.
fn radix_sort_f32(values: &mut [f32]) {
    let mut keys: Vec<u32> = values.iter().map(|&v| sort_key(v)).collect();
    radix_sort::<u32, { 1 << RADIX_BITS }>(&mut keys, 3);
    for (v, &k) in values.iter_mut().zip(&keys) {
        *v = from_sort_key(k);
    }
}

/// Sorts 64-bit keys a byte a pass ([`radix_sort`]): a weight's rank below 256 leaves
/// three of its four bytes the same in every key, and those passes are skipped.
fn radix_sort_u64(keys: &mut Vec<u64>) {
    radix_sort::<u64, 256>(keys, 8);
}

/// Sorts `keys` by their low `passes` digits of `RADIX` (a power of two) values each: a
/// least-significant digit radix sort. One read counts every pass's digits; a pass whose
/// digit is the same in every key is skipped.
fn radix_sort<K: Copy + Default + Into<u64>, const RADIX: usize>(keys: &mut Vec<K>, passes: u32) {
    let bits = RADIX.trailing_zeros();
    #[allow(clippy::cast_possible_truncation)]
    let digit = |k: K, pass: u32| ((k.into() >> (bits * pass)) & (RADIX as u64 - 1)) as usize;
    let mut counts = vec![[0usize; RADIX]; passes as usize];
    for &k in keys.iter() {
        for (pass, c) in (0..).zip(counts.iter_mut()) {
            c[digit(k, pass)] += 1;
        }
    }
    let mut spare = vec![K::default(); keys.len()];
    for (pass, c) in (0..).zip(counts.iter_mut()) {
        if c.contains(&keys.len()) {
            continue;
        }
        let mut at = 0;
        for slot in c.iter_mut() {
            let n = *slot;
            *slot = at;
            at += n;
        }
        for &k in keys.iter() {
            let d = digit(k, pass);
            spare[c[d]] = k;
            c[d] += 1;
        }
        std::mem::swap(keys, &mut spare);
    }
}

/// Each row's weight as its rank among the distinct weights ([`f64::total_cmp`] order), and
/// the distinct weights: a present value and its row's weight then sort as one integer,
/// `sort_key(value) << 32 | rank`, in the order of the pair.
#[allow(clippy::cast_possible_truncation)]
fn weight_ranks(weights: &[f64]) -> (Vec<u32>, Vec<f64>) {
    let mut distinct = weights.to_vec();
    distinct.par_sort_unstable_by(f64::total_cmp);
    distinct.dedup_by(|a, b| a.total_cmp(b).is_eq());
    let ranks = weights
        .par_iter()
        .map(|w| {
            distinct
                .binary_search_by(|d| d.total_cmp(w))
                .expect("every weight is among the distinct ones") as u32
        })
        .collect();
    (ranks, distinct)
}

/// The cuts of a feature from its distinct values (ascending, with summed weights) and its
/// largest value.
fn cuts_of_distinct(distinct: &[(f32, f64)], max: f32, max_bin: usize) -> Vec<f32> {
    // Values of weight 0 (rows of sample weight or hessian 0) take no part in the sketch, as
    // XGBoost's sketch skips them, unless no value has any weight.
    let kept: Vec<(f32, f64)>;
    let (distinct, max) =
        if distinct.iter().any(|&(_, w)| w == 0.0) && distinct.iter().any(|&(_, w)| w > 0.0) {
            kept = distinct.iter().copied().filter(|&(_, w)| w > 0.0).collect();
            let top = kept[kept.len() - 1].0;
            (&kept[..], top)
        } else {
            (distinct, max)
        };
    let mut cuts: Vec<f32> = if distinct.len() <= max_bin {
        distinct.iter().skip(1).map(|&(v, _)| v).collect()
    } else {
        weighted_interior_cuts(distinct, max_bin)
    };
    let top = sentinel(max);
    if cuts.last().is_none_or(|&c| c < top) {
        cuts.push(top);
    }
    cuts
}

/// `max_bin - 1` cuts at the weighted ranks `k / max_bin`: for each rank, the first distinct
/// value whose cumulative weight (everything strictly below it plus half its own) reaches it.
fn weighted_interior_cuts(distinct: &[(f32, f64)], max_bin: usize) -> Vec<f32> {
    let total: f64 = distinct.iter().map(|&(_, w)| w).sum();
    let mut cuts = Vec::with_capacity(max_bin);
    if total <= 0.0 {
        // No weight anywhere: fall back to equal weights so the cuts still split the range.
        let unweighted: Vec<(f32, f64)> = distinct.iter().map(|&(v, _)| (v, 1.0)).collect();
        return weighted_interior_cuts(&unweighted, max_bin);
    }
    let mut below = 0.0; // weight strictly below distinct[i]
    let mut i = 0;
    for k in 1..max_bin {
        let rank = total * k as f64 / max_bin as f64;
        while i + 1 < distinct.len() && below + distinct[i].1 <= rank {
            below += distinct[i].1;
            i += 1;
        }
        // distinct[i] is the first value whose cumulative weight passes the rank; a cut at
        // that value puts everything below it into the lower bins. The smallest value never
        // makes a cut (nothing would fall below it).
        let cut = if i == 0 { distinct[1].0 } else { distinct[i].0 };
        if cuts.last().is_none_or(|&last| last < cut) {
            cuts.push(cut);
        }
    }
    cuts
}

/// [`feature_cuts`] and the smallest value of one feature from its present values sorted as
/// [`f32::total_cmp`] orders them, weighted by `weights[row]`. The weights of a value are
/// summed in ascending order, as [`feature_cuts`] sums them after sorting pairs by value then
/// weight, so the cuts are the same to the bit. `scratch` holds the distinct values and the
/// weights of one value between calls.
fn sorted_feature_cuts(
    column: &[Entry],
    weights: &[f64],
    max_bin: usize,
    (distinct, run): &mut (Vec<(f32, f64)>, Vec<f64>),
) -> (Vec<f32>, f32) {
    let (Some(first), Some(last)) = (column.first(), column.last()) else {
        return (vec![1e-5], f32::INFINITY);
    };
    distinct.clear();
    let mut i = 0;
    while i < column.len() {
        let value = column[i].value;
        let bits = value.to_bits();
        let mut j = i + 1;
        while j < column.len() && column[j].value.to_bits() == bits {
            j += 1;
        }
        if j == i + 1 {
            push_distinct(distinct, value, weights[column[i].row as usize]);
        } else {
            run.clear();
            run.extend(column[i..j].iter().map(|e| weights[e.row as usize]));
            run.sort_unstable_by(f64::total_cmp);
            for &w in run.iter() {
                push_distinct(distinct, value, w);
            }
        }
        i = j;
    }
    (cuts_of_distinct(distinct, last.value, max_bin), first.value)
}

/// Features whose columns one pass over a dense matrix gathers.
const SKETCH_GROUP: usize = 4;

/// Rows per block of that pass.
const SKETCH_ROW_BLOCK: usize = 65_536;

/// Each feature's cuts and smallest value for a dense row-major matrix without weights. The
/// present values of [`SKETCH_GROUP`] features are gathered in one parallel pass over the
/// rows (a column read alone would bring in every row's cache lines for four bytes), then
/// those features are sorted and cut in parallel.
fn dense_unweighted_cuts(data: &[f32], n_cols: usize, max_bin: usize) -> Vec<(Vec<f32>, f32)> {
    let mut per_feature = Vec::with_capacity(n_cols);
    for first in (0..n_cols).step_by(SKETCH_GROUP) {
        let group = first..(first + SKETCH_GROUP).min(n_cols);
        let blocks: Vec<Vec<Vec<f32>>> = data
            .par_chunks(SKETCH_ROW_BLOCK * n_cols)
            .map(|block| {
                let mut columns: Vec<Vec<f32>> = group
                    .clone()
                    .map(|_| Vec::with_capacity(block.len() / n_cols))
                    .collect();
                for row in block.chunks_exact(n_cols) {
                    for (column, &v) in columns.iter_mut().zip(&row[group.clone()]) {
                        if !v.is_nan() {
                            column.push(v);
                        }
                    }
                }
                columns
            })
            .collect();
        let cut: Vec<(Vec<f32>, f32)> = (0..group.len())
            .into_par_iter()
            .map(|j| {
                let mut present: Vec<f32> =
                    Vec::with_capacity(blocks.iter().map(|b| b[j].len()).sum());
                for b in &blocks {
                    present.extend_from_slice(&b[j]);
                }
                radix_sort_f32(&mut present);
                let min = present.first().copied().unwrap_or(f32::INFINITY);
                (unweighted_feature_cuts(&present, max_bin), min)
            })
            .collect();
        per_feature.extend(cut);
    }
    per_feature
}

impl QuantileCuts {
    /// Cuts for a dense row-major matrix (`NaN` = missing), with one weight per row
    /// (`None` = all ones). Features are sketched in parallel; the result does not depend on
    /// the thread count.
    ///
    /// # Errors
    /// [`BoostError`] for `max_bin < 2`, a matrix whose length is not `n_rows * n_cols`, or a
    /// weight vector of the wrong length.
    pub fn from_dense(
        data: &[f32],
        n_rows: usize,
        n_cols: usize,
        weights: Option<&[f64]>,
        max_bin: usize,
    ) -> Result<Self, BoostError> {
        if data.len() != n_rows * n_cols {
            return Err(BoostError::InvalidInput(format!(
                "a {n_rows} x {n_cols} matrix needs {} values, got {}",
                n_rows * n_cols,
                data.len()
            )));
        }
        if Self::unit_weights(max_bin, weights, n_rows)? {
            return Ok(Self::assemble(dense_unweighted_cuts(data, n_cols, max_bin)));
        }
        Self::from_columns(n_cols, max_bin, weights, n_rows, |f| {
            (0..n_rows).map(|r| (r, data[r * n_cols + f])).collect()
        })
    }

    /// Cuts for a CSC matrix: absent entries are missing, like NaN.
    ///
    /// # Errors
    /// As [`QuantileCuts::from_dense`], plus malformed CSC arrays.
    pub fn from_csc(
        indptr: &[usize],
        indices: &[usize],
        values: &[f32],
        n_rows: usize,
        weights: Option<&[f64]>,
        max_bin: usize,
    ) -> Result<Self, BoostError> {
        if indptr.is_empty() {
            return Err(BoostError::InvalidInput(
                "a CSC matrix needs at least one indptr entry".to_owned(),
            ));
        }
        if !super::compressed_is_well_formed(indptr, indices, values.len(), n_rows) {
            return Err(BoostError::InvalidInput(
                "malformed CSC matrix: indptr, indices and data disagree".to_owned(),
            ));
        }
        Self::from_csc_unchecked(indptr, indices, values, n_rows, weights, max_bin)
    }

    /// [`QuantileCuts::from_csc`] of arrays known to be well formed.
    fn from_csc_unchecked(
        indptr: &[usize],
        indices: &[usize],
        values: &[f32],
        n_rows: usize,
        weights: Option<&[f64]>,
        max_bin: usize,
    ) -> Result<Self, BoostError> {
        Self::from_columns(indptr.len() - 1, max_bin, weights, n_rows, |f| {
            (indptr[f]..indptr[f + 1])
                .map(|k| (indices[k], values[k]))
                .collect()
        })
    }

    /// Cuts for a CSR matrix: absent entries are missing, like NaN.
    ///
    /// # Errors
    /// As [`QuantileCuts::from_dense`], plus malformed CSR arrays.
    pub fn from_csr(
        indptr: &[usize],
        indices: &[usize],
        values: &[f32],
        n_cols: usize,
        weights: Option<&[f64]>,
        max_bin: usize,
    ) -> Result<Self, BoostError> {
        let n_rows = indptr.len().checked_sub(1).ok_or_else(|| {
            BoostError::InvalidInput("a CSR matrix needs at least one indptr entry".to_owned())
        })?;
        if !super::compressed_is_well_formed(indptr, indices, values.len(), n_cols) {
            return Err(BoostError::InvalidInput(
                "malformed CSR matrix: indptr, indices and data disagree".to_owned(),
            ));
        }
        // Transpose to CSC (rows stay in increasing order within each column).
        let (col_ptr, rows, vals) = super::csr_to_csc(
            indptr,
            |k| indices[k],
            n_cols,
            |r, k| (r, values[k]),
            "the transposed sparse matrix",
        )?;
        // Well formed by construction: no second check.
        Self::from_csc_unchecked(&col_ptr, &rows, &vals, n_rows, weights, max_bin)
    }

    fn from_columns(
        n_cols: usize,
        max_bin: usize,
        weights: Option<&[f64]>,
        n_rows: usize,
        column: impl Fn(usize) -> Vec<(usize, f32)> + Sync,
    ) -> Result<Self, BoostError> {
        // Unit weights everywhere sketch as no weights (the same cuts, by a faster sort).
        let unit = Self::unit_weights(max_bin, weights, n_rows)?;
        let weights = weights.filter(|_| !unit);
        let ranked = weights.map(weight_ranks);
        let per_feature: Vec<(Vec<f32>, f32)> = (0..n_cols)
            .into_par_iter()
            .map(|f| {
                if weights.is_none() {
                    let mut present: Vec<f32> = column(f)
                        .into_iter()
                        .filter_map(|(_, v)| (!v.is_nan()).then_some(v))
                        .collect();
                    radix_sort_f32(&mut present);
                    let min = present.first().copied().unwrap_or(f32::INFINITY);
                    return (unweighted_feature_cuts(&present, max_bin), min);
                }
                // Equal values are ordered by weight, so the order (and every weight sum) is
                // fully determined: value and weight rank sort as one integer.
                let (ranks, distinct) = ranked.as_ref().expect("ranked where weighted");
                let mut keys: Vec<u64> = column(f)
                    .into_iter()
                    .filter(|(_, v)| !v.is_nan())
                    .map(|(r, v)| u64::from(sort_key(v)) << 32 | u64::from(ranks[r]))
                    .collect();
                radix_sort_u64(&mut keys);
                #[allow(clippy::cast_possible_truncation)]
                let present: Vec<(f32, f64)> = keys
                    .iter()
                    .map(|&k| (from_sort_key((k >> 32) as u32), distinct[k as u32 as usize]))
                    .collect();
                let min = present.first().map_or(f32::INFINITY, |p| p.0);
                (feature_cuts(&present, max_bin), min)
            })
            .collect();
        Ok(Self::assemble(per_feature))
    }

    /// Cuts from columns sorted once ([`SortedColumns`]) under the row weights `weights`:
    /// the cuts [`QuantileCuts::from_dense`] makes from the same data and weights, without
    /// sorting again. `approx` sketches every tree under new weights; its columns are sorted
    /// at the first tree, and each later sketch is one pass over them.
    ///
    /// # Errors
    /// As [`QuantileCuts::from_dense`].
    pub fn from_sorted(
        sorted: &SortedColumns,
        weights: &[f64],
        max_bin: usize,
    ) -> Result<Self, BoostError> {
        Self::check_arguments(max_bin, Some(weights), sorted.n_rows)?;
        let n_cols = sorted.offsets.len() - 1;
        let per_feature: Vec<(Vec<f32>, f32)> = (0..n_cols)
            .into_par_iter()
            .map_init(
                || (Vec::new(), Vec::new()),
                |scratch, f| {
                    let column = &sorted.entries[sorted.offsets[f]..sorted.offsets[f + 1]];
                    sorted_feature_cuts(column, weights, max_bin, scratch)
                },
            )
            .collect();
        Ok(Self::assemble(per_feature))
    }

    /// Checks `max_bin` and the weights' length.
    fn check_arguments(
        max_bin: usize,
        weights: Option<&[f64]>,
        n_rows: usize,
    ) -> Result<(), BoostError> {
        if max_bin < 2 {
            return Err(BoostError::parameter("max_bin", "at least 2", max_bin));
        }
        match weights {
            Some(w) if w.len() != n_rows => Err(BoostError::InvalidInput(format!(
                "{} weights for {n_rows} rows",
                w.len()
            ))),
            _ => Ok(()),
        }
    }

    /// [`Self::check_arguments`]; then tells whether every weight is one (or there are none),
    /// so the features may be sketched unweighted.
    fn unit_weights(
        max_bin: usize,
        weights: Option<&[f64]>,
        n_rows: usize,
    ) -> Result<bool, BoostError> {
        Self::check_arguments(max_bin, weights, n_rows)?;
        Ok(weights.is_none_or(|w| w.par_iter().all(|&v| v == 1.0)))
    }

    /// Cuts from each feature's distinct present values with their summed weights (ascending,
    /// as a sketch of all of the data gives them): the rules of [`QuantileCuts::from_dense`].
    ///
    /// # Errors
    /// [`BoostError`] for `max_bin < 2`, or values that are not ascending and finite.
    pub fn from_distinct(features: &[Vec<(f32, f64)>], max_bin: usize) -> Result<Self, BoostError> {
        if max_bin < 2 {
            return Err(BoostError::parameter("max_bin", "at least 2", max_bin));
        }
        let mut per_feature = Vec::with_capacity(features.len());
        for (f, distinct) in features.iter().enumerate() {
            if distinct
                .iter()
                .any(|(v, w)| !v.is_finite() || !w.is_finite() || *w < 0.0)
                || distinct.windows(2).any(|p| p[0].0 >= p[1].0)
            {
                return Err(BoostError::InvalidInput(format!(
                    "the sketch of feature {f} is not ascending, finite and non-negative"
                )));
            }
            per_feature.push(match (distinct.first(), distinct.last()) {
                (Some(&(min, _)), Some(&(max, _))) => {
                    (cuts_of_distinct(distinct, max, max_bin), min)
                }
                _ => (vec![1e-5], f32::INFINITY),
            });
        }
        Ok(Self::assemble(per_feature))
    }

    /// The cut values, each feature's start in them (one more than the features) and each
    /// feature's smallest value: what [`QuantileCuts::from_parts`] takes back.
    pub fn parts(&self) -> (&[f32], &[usize], &[f32]) {
        (&self.values, &self.offsets, &self.min_values)
    }

    /// Cuts from [`QuantileCuts::parts`].
    ///
    /// # Errors
    /// [`BoostError::InvalidInput`] when the parts do not describe strictly increasing cuts.
    pub fn from_parts(
        values: Vec<f32>,
        offsets: Vec<usize>,
        min_values: Vec<f32>,
    ) -> Result<Self, BoostError> {
        let ok = offsets.len() == min_values.len() + 1
            && offsets.first() == Some(&0)
            && offsets.last() == Some(&values.len())
            && offsets.windows(2).all(|w| w[0] < w[1])
            && offsets
                .windows(2)
                .all(|w| values[w[0]..w[1]].windows(2).all(|c| c[0] < c[1]));
        if !ok {
            return Err(BoostError::InvalidInput("malformed quantile cuts".into()));
        }
        Ok(Self {
            values,
            offsets,
            min_values,
            categorical: Vec::new(),
        })
    }

    /// The cuts from each feature's cuts and smallest value, in feature order.
    fn assemble(per_feature: Vec<(Vec<f32>, f32)>) -> Self {
        let mut values = Vec::new();
        let mut offsets = Vec::with_capacity(per_feature.len() + 1);
        let mut min_values = Vec::with_capacity(per_feature.len());
        offsets.push(0);
        for (cuts, min) in per_feature {
            values.extend_from_slice(&cuts);
            offsets.push(values.len());
            min_values.push(min);
        }
        Self {
            values,
            offsets,
            min_values,
            categorical: Vec::new(),
        }
    }

    /// These cuts with the features whose entry of `categories` is `Some(n)` made
    /// categorical over categories `0..n` (`n >= 1`): one bin per category, as XGBoost bins
    /// them. Bin `c` holds category `c`; its cut is `c + 1`, so a value falls in the bin of
    /// its integer part, the first cut strictly above it.
    ///
    /// # Errors
    /// [`BoostError::InvalidInput`] when `categories` does not have one entry per feature or
    /// gives a feature no category.
    #[allow(clippy::cast_precision_loss)]
    pub fn with_categories(self, categories: &[Option<usize>]) -> Result<Self, BoostError> {
        if categories.len() != self.n_features() {
            return Err(BoostError::InvalidInput(format!(
                "{} feature types for {} features",
                categories.len(),
                self.n_features()
            )));
        }
        if categories.iter().all(Option::is_none) {
            return Ok(self);
        }
        let per_feature = categories
            .iter()
            .enumerate()
            .map(|(f, n)| match *n {
                Some(0) => Err(BoostError::InvalidInput(format!(
                    "categorical feature {f} has no category"
                ))),
                Some(n) => Ok(((1..=n).map(|c| c as f32).collect(), 0.0)),
                None => Ok((self.feature(f).to_vec(), self.min_values[f])),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut cuts = Self::assemble(per_feature);
        cuts.categorical = categories.iter().map(Option::is_some).collect();
        Ok(cuts)
    }

    /// Each feature's categorical flag (empty: none is categorical): what
    /// [`QuantileCuts::with_categorical_flags`] takes back with [`QuantileCuts::parts`].
    pub fn categorical_flags(&self) -> &[bool] {
        &self.categorical
    }

    /// These cuts with each feature's categorical flag restored (cuts sent elsewhere as
    /// [`QuantileCuts::parts`]).
    ///
    /// # Errors
    /// [`BoostError::InvalidInput`] unless `flags` is empty or has one entry per feature, and
    /// each flagged feature's cuts are categories' (`1, 2, ..., n`).
    #[allow(clippy::cast_precision_loss)]
    pub fn with_categorical_flags(mut self, flags: Vec<bool>) -> Result<Self, BoostError> {
        if !flags.is_empty() && flags.len() != self.n_features() {
            return Err(BoostError::InvalidInput(format!(
                "{} categorical flags for {} features",
                flags.len(),
                self.n_features()
            )));
        }
        for (f, &flag) in flags.iter().enumerate() {
            if flag
                && !self
                    .feature(f)
                    .iter()
                    .enumerate()
                    .all(|(c, &v)| v == (c + 1) as f32)
            {
                return Err(BoostError::InvalidInput(format!(
                    "feature {f} is flagged categorical, but its cuts are not categories'"
                )));
            }
        }
        self.categorical = flags;
        Ok(self)
    }

    /// Whether feature `f` is categorical (its bin `c` holds category `c`).
    #[inline]
    pub fn is_categorical(&self, f: usize) -> bool {
        self.categorical.get(f).copied().unwrap_or(false)
    }

    /// Whether any feature is categorical.
    pub fn has_categorical(&self) -> bool {
        self.categorical.contains(&true)
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.min_values.len()
    }

    /// Feature `f`'s cuts (the upper bounds of its bins).
    pub fn feature(&self, f: usize) -> &[f32] {
        &self.values[self.offsets[f]..self.offsets[f + 1]]
    }

    /// Index of feature `f`'s first bin among all bins.
    pub fn offset(&self, f: usize) -> usize {
        self.offsets[f]
    }

    /// Total number of bins over all features.
    pub fn total_bins(&self) -> usize {
        self.values.len()
    }

    /// The largest number of bins of any feature.
    pub fn max_bins_per_feature(&self) -> usize {
        self.offsets
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or(0)
    }

    /// Smallest present value of feature `f` (`+inf` if none).
    pub fn min_value(&self, f: usize) -> f32 {
        self.min_values[f]
    }

    /// The bin of `value` within feature `f`: the first cut strictly greater than it, clamped
    /// to the last bin. `None` for NaN (missing).
    pub fn search_bin(&self, f: usize, value: f32) -> Option<usize> {
        (!value.is_nan()).then(|| upper_bin(self.feature(f), value))
    }
}

/// The first of `cuts` (ascending, not empty) strictly greater than `v`, clamped to the last
/// one: a branch-free binary search whose steps depend only on `cuts.len()`, so the searches
/// of neighbouring values overlap.
#[inline(always)]
pub(crate) fn upper_bin(cuts: &[f32], v: f32) -> usize {
    let mut base = 0;
    let mut size = cuts.len();
    while size > 1 {
        let half = size / 2;
        base = std::hint::select_unpredictable(cuts[base + half] <= v, base + half, base);
        size -= half;
    }
    (base + usize::from(cuts[base] <= v)).min(cuts.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radix_sort_orders_as_total_cmp_and_unweighted_cuts_match() {
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let mut values: Vec<f32> = (0..50_000)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                match i % 97 {
                    0 => -0.0,
                    1 => 0.0,
                    2 => f32::INFINITY,
                    3 => f32::NEG_INFINITY,
                    4 => 1.5,
                    _ => {
                        ((x >> 11) as f64 / (1u64 << 53) as f64 - 0.5) as f32
                            * 10f32.powi(i % 7 - 3)
                    }
                }
            })
            .collect();
        let mut want = values.clone();
        want.sort_by(f32::total_cmp);
        radix_sort_f32(&mut values);
        assert_eq!(
            values.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            want.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        let finite: Vec<f32> = want.iter().copied().filter(|v| v.is_finite()).collect();
        let pairs: Vec<(f32, f64)> = finite.iter().map(|&v| (v, 1.0)).collect();
        let bits = |c: Vec<f32>| c.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        for max_bin in [2, 16, 256, 100_000] {
            assert_eq!(
                bits(unweighted_feature_cuts(&finite, max_bin)),
                bits(feature_cuts(&pairs, max_bin))
            );
        }
    }

    /// The weighted sketch sorts (value, weight) pairs as integers: the same order, and the
    /// same cuts, as sorting the pairs by value and then weight.
    #[test]
    fn weighted_sketch_sorts_pairs_by_value_then_weight() {
        let mut u = crate::test_support::uniform(21);
        let (n_rows, n_cols) = (3000, 4);
        let data: Vec<f32> = (0..n_rows * n_cols)
            .map(|k| match k % 5 {
                // Many ties, signed zeros and a missing value now and then.
                0 => (u() * 8.0).floor() as f32 - 4.0,
                1 if u() < 0.1 => f32::NAN,
                2 if u() < 0.05 => -0.0,
                _ => (u() * 1e4) as f32 * 1e-3 - 3.0,
            })
            .collect();
        let weights: Vec<f64> = (0..n_rows)
            .map(|r| [0.5, 1.0, 2.5, 0.0, 1e-3][r % 5] * if r % 7 == 0 { 3.0 } else { 1.0 })
            .collect();
        for max_bin in [4, 64, 256] {
            let cuts =
                QuantileCuts::from_dense(&data, n_rows, n_cols, Some(&weights), max_bin).unwrap();
            for f in 0..n_cols {
                let mut pairs: Vec<(f32, f64)> = (0..n_rows)
                    .map(|r| (data[r * n_cols + f], weights[r]))
                    .filter(|(v, _)| !v.is_nan())
                    .collect();
                pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
                let bits = |c: &[f32]| c.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(cuts.feature(f)),
                    bits(&feature_cuts(&pairs, max_bin)),
                    "feature {f}, max_bin {max_bin}"
                );
                assert_eq!(cuts.min_value(f).to_bits(), pairs[0].0.to_bits());
            }
        }
        let mut keys: Vec<u64> = (0..5000)
            .map(|_| (u() * 1e18) as u64 >> (u() * 40.0) as u32)
            .collect();
        let mut want = keys.clone();
        want.sort_unstable();
        radix_sort_u64(&mut keys);
        assert_eq!(keys, want);
    }

    #[test]
    fn dense_sketch_without_weights_matches_the_weighted_rules() {
        // Six columns: continuous, long runs (half the values the minimum), signed zeros,
        // few distinct values, with NaNs, and all NaN; more rows than one gathering block.
        let n_rows = 70_000;
        let n_cols = 6;
        let mut next = crate::test_support::uniform(0x2545_f491_4f6c_dd1d);
        let data: Vec<f32> = (0..n_rows * n_cols)
            .map(|k| {
                let u = next();
                match k % n_cols {
                    0 => (u * 1000.0 - 500.0) as f32,
                    1 => (if u < 0.5 { -3.0 } else { (u * 40.0).floor() }) as f32,
                    2 => match (u * 300.0) as u32 {
                        0..=99 => -0.0,
                        100..=199 => 0.0,
                        v => v as f32 / 7.0,
                    },
                    3 => (u * 9.0).floor() as f32,
                    4 if u < 0.3 => f32::NAN,
                    4 => (u * u * 1e4) as f32,
                    _ => f32::NAN,
                }
            })
            .collect();
        for max_bin in [2, 7, 64, 256] {
            let cuts = QuantileCuts::from_dense(&data, n_rows, n_cols, None, max_bin).unwrap();
            let unit = vec![1.0; n_rows];
            let same = QuantileCuts::from_dense(&data, n_rows, n_cols, Some(&unit), max_bin);
            assert_eq!(same.unwrap(), cuts);
            for f in 0..n_cols {
                let mut pairs: Vec<(f32, f64)> = (0..n_rows)
                    .map(|r| data[r * n_cols + f])
                    .filter(|v| !v.is_nan())
                    .map(|v| (v, 1.0))
                    .collect();
                pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
                let want = feature_cuts(&pairs, max_bin);
                let got = cuts.feature(f);
                assert_eq!(
                    got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    "feature {f}, max_bin {max_bin}"
                );
                let min = pairs.first().map_or(f32::INFINITY, |p| p.0);
                assert_eq!(cuts.min_value(f).to_bits(), min.to_bits());
            }
        }
    }

    fn column_cuts(col: &[f32], max_bin: usize) -> Vec<f32> {
        QuantileCuts::from_dense(col, col.len(), 1, None, max_bin)
            .unwrap()
            .feature(0)
            .to_vec()
    }

    #[test]
    fn few_distinct_values_get_one_bin_each() {
        let cuts = column_cuts(&[3.0, 1.0, 2.0, 2.0, f32::NAN, 1.0], 256);
        assert_eq!(cuts, vec![2.0, 3.0, 3.0 + 3.0 + 1e-5]);
        let q = QuantileCuts::from_dense(&[3.0, 1.0, 2.0], 3, 1, None, 256).unwrap();
        assert_eq!(q.search_bin(0, 1.0), Some(0));
        assert_eq!(q.search_bin(0, 2.0), Some(1));
        assert_eq!(q.search_bin(0, 3.0), Some(2));
        assert_eq!(q.search_bin(0, 100.0), Some(2));
        assert_eq!(q.search_bin(0, f32::NAN), None);
        assert_eq!(q.min_value(0), 1.0);
    }

    #[test]
    fn empty_feature_gets_the_single_small_cut() {
        let q = QuantileCuts::from_dense(&[f32::NAN, f32::NAN], 2, 1, None, 16).unwrap();
        assert_eq!(q.feature(0), &[1e-5]);
        assert_eq!(q.min_value(0), f32::INFINITY);
    }

    #[test]
    fn many_distinct_values_get_max_bin_bins_at_quantiles() {
        let col: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        let cuts = column_cuts(&col, 8);
        assert_eq!(cuts.len(), 8);
        assert!(cuts.windows(2).all(|w| w[0] < w[1]));
        // Interior cuts near the octiles of 0..999.
        for (k, &c) in cuts[..7].iter().enumerate() {
            let expected = 1000.0 * (k + 1) as f32 / 8.0;
            assert!((c - expected).abs() <= 1.0, "cut {k}: {c} vs {expected}");
        }
        assert!(cuts[7] > 999.0);
    }

    #[test]
    fn weights_move_the_cuts() {
        let col: Vec<f32> = (0..100).map(|i| i as f32).collect();
        // All the weight on the upper half: the median cut moves up.
        let w: Vec<f64> = (0..100).map(|i| if i >= 50 { 10.0 } else { 0.1 }).collect();
        let q = QuantileCuts::from_dense(&col, 100, 1, Some(&w), 4).unwrap();
        let cuts = q.feature(0);
        assert!(cuts[1] > 70.0, "{cuts:?}");
    }

    #[test]
    fn csc_matches_dense_with_absent_as_missing() {
        // 4 x 2 matrix: column 0 = [1, NaN, 3, 2], column 1 = [NaN, 5, NaN, NaN]
        let dense = [1.0, f32::NAN, f32::NAN, 5.0, 3.0, f32::NAN, 2.0, f32::NAN];
        let a = QuantileCuts::from_dense(&dense, 4, 2, None, 16).unwrap();
        let b = QuantileCuts::from_csc(
            &[0, 3, 4],
            &[0, 2, 3, 1],
            &[1.0, 3.0, 2.0, 5.0],
            4,
            None,
            16,
        )
        .unwrap();
        assert_eq!(a, b);
        assert!(QuantileCuts::from_csc(&[0, 3, 9], &[0], &[1.0], 4, None, 16).is_err());
        // The same matrix as CSR: rows [1, _], [_, 5], [3, _], [2, _].
        let c = QuantileCuts::from_csr(
            &[0, 1, 2, 3, 4],
            &[0, 1, 0, 0],
            &[1.0, 5.0, 3.0, 2.0],
            2,
            None,
            16,
        )
        .unwrap();
        assert_eq!(a, c);
    }

    #[test]
    fn presorted_columns_sketch_as_sorting_does() {
        // Columns with ties (values of many weights, summed in order), signed zeros, NaN,
        // all NaN and few distinct values; weights with zeros, ties and a wide range, so
        // that the order of a sum shows in its last bits.
        let n_rows = 5_000;
        let n_cols = 5;
        let mut next = crate::test_support::uniform(0x9e37_79b9_7f4a_7c15);
        let data: Vec<f32> = (0..n_rows * n_cols)
            .map(|k| {
                let u = next();
                match k % n_cols {
                    0 => (u * 2000.0).floor() as f32 / 4.0,
                    1 => match (u * 3.0) as u32 {
                        0 => -0.0,
                        1 => 0.0,
                        _ => (u * 1e6) as f32,
                    },
                    2 if u < 0.2 => f32::NAN,
                    2 => u as f32,
                    3 => (u * 5.0).floor() as f32,
                    _ => f32::NAN,
                }
            })
            .collect();
        let weights: Vec<f64> = (0..n_rows)
            .map(|_| match (next() * 10.0) as u32 {
                0 => 0.0,
                1 => 0.25,
                v => f64::from(v as f32 * next() as f32 * 1e-3_f32.powi(v as i32 % 3)),
            })
            .collect();
        let sorted = crate::test_support::sorted_columns(&data, n_rows, n_cols);
        let zeros = vec![0.0; n_rows];
        for w in [&weights, &zeros] {
            for max_bin in [2, 16, 256, 4096] {
                let want = QuantileCuts::from_dense(&data, n_rows, n_cols, Some(w), max_bin);
                let got = QuantileCuts::from_sorted(&sorted, w, max_bin).unwrap();
                let want = want.unwrap();
                for f in 0..n_cols {
                    let bits = |c: &[f32]| c.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                    assert_eq!(
                        bits(got.feature(f)),
                        bits(want.feature(f)),
                        "f {f} {max_bin}"
                    );
                    assert_eq!(got.min_value(f).to_bits(), want.min_value(f).to_bits());
                }
                assert_eq!(got, want);
            }
        }
        assert!(QuantileCuts::from_sorted(&sorted, &weights[1..], 16).is_err());
        assert!(QuantileCuts::from_sorted(&sorted, &weights, 1).is_err());
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(QuantileCuts::from_dense(&[1.0], 1, 1, None, 1).is_err());
        assert!(QuantileCuts::from_dense(&[1.0, 2.0], 1, 1, None, 4).is_err());
        assert!(QuantileCuts::from_dense(&[1.0], 1, 1, Some(&[1.0, 2.0]), 4).is_err());
    }
}
