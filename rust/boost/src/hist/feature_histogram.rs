//! Histograms of a few features: what a node builds from its rows when it may split on a
//! small sampled subset of the features (random forests with `sqrt(p)` columns per node), so
//! that it never touches the other features' bins.

use super::histogram::{sum_blocks, Touched};
use super::matrix::{BinColumn, BinLayout, BinStorage, BinnedMatrix, DenseBins};
use super::QuantileCuts;
use crate::gain::GradStats;

/// Most entries a node's rows add per histogram entry for its histogram to mark the entries
/// they reach: a node this small leaves most bins empty, and the split search then visits the
/// marked ones alone instead of scanning every bin.
const MARKED_ENTRIES_PER_BIN: f64 = 1.0;

/// Histograms of a few features only, laid out one after another: what a node needs when it
/// may split on a small sampled subset of the features (random forests with `sqrt(p)`
/// columns per node), so it never touches the bins of the others.
#[derive(Debug, Clone)]
pub struct FeatureHistogram {
    features: Vec<usize>,
    /// `offsets[i]..offsets[i + 1] - 1` are the bins of `features[i]`; a spare entry follows.
    offsets: Vec<usize>,
    bins: Vec<GradStats>,
    /// The entries a small node's rows reached (a superset of the non-zero ones); `None`:
    /// not recorded (every bin may be non-zero).
    touched: Option<Touched>,
}

impl PartialEq for FeatureHistogram {
    fn eq(&self, other: &Self) -> bool {
        self.features == other.features && self.offsets == other.offsets && self.bins == other.bins
    }
}

/// Where each of `features`' bins start, one after another, each feature with one spare
/// entry past its bins (where a dense matrix's missing entries land, unread), and the end.
fn offsets_of(cuts: &QuantileCuts, features: &[usize]) -> Vec<usize> {
    let mut offsets = Vec::with_capacity(features.len() + 1);
    offsets.push(0);
    for &f in features {
        offsets.push(offsets[offsets.len() - 1] + cuts.feature(f).len() + 1);
    }
    offsets
}

impl FeatureHistogram {
    /// Zero histograms of `features`: what other parts' histograms are added into.
    pub fn zeros(cuts: &QuantileCuts, features: &[usize]) -> Self {
        let offsets = offsets_of(cuts, features);
        let n_bins = offsets[features.len()];
        Self {
            features: features.to_vec(),
            offsets,
            bins: vec![GradStats::default(); n_bins],
            touched: None,
        }
    }

    /// Every entry: the features' bins one after another, each followed by a spare entry.
    pub fn bins(&self) -> &[GradStats] {
        &self.bins
    }

    /// Every entry, to add into (which forgets which entries rows reached).
    pub fn bins_mut(&mut self) -> &mut [GradStats] {
        self.touched = None;
        &mut self.bins
    }

    /// Builds the histograms of `features` over `rows` from per-row gradient pairs.
    pub fn build(
        matrix: &BinnedMatrix,
        cuts: &QuantileCuts,
        features: &[usize],
        rows: &[u32],
        gpairs: &[(f32, f32)],
    ) -> Self {
        let offsets = offsets_of(cuts, features);
        let n_bins = offsets[features.len()];
        // For sparse rows: feature -> bin offset of its histogram, or none when not chosen.
        let local: Vec<usize> = match matrix.layout() {
            BinLayout::Dense => Vec::new(),
            BinLayout::Sparse { .. } => {
                let mut local = vec![usize::MAX; matrix.n_cols()];
                for (i, &f) in features.iter().enumerate() {
                    local[f] = offsets[i];
                }
                local
            }
        };
        // For dense rows: each chosen feature's place in its group's rows and its offset, the
        // one-byte ones and the two-byte ones apart.
        let dense = matrix.dense();
        let (mut narrow, mut wide) = (Vec::new(), Vec::new());
        if let Some(d) = &dense {
            for (&f, &offset) in features.iter().zip(&offsets) {
                #[allow(clippy::cast_possible_truncation)]
                let f = f as u32;
                match d.narrow_features.binary_search(&f) {
                    Ok(k) => narrow.push((k, offset)),
                    Err(_) => wide.push((
                        d.wide_features
                            .binary_search(&f)
                            .expect("every feature is in one group"),
                        offset,
                    )),
                }
            }
        }
        let subset = Subset {
            matrix,
            narrow: &narrow,
            wide: &wide,
            local: &local,
            features,
            offsets: &offsets,
            gpairs,
        };
        let block = |chunk: &[u32], marks: Option<&mut Touched>| -> Vec<GradStats> {
            let mut part = vec![GradStats::default(); n_bins];
            match marks {
                Some(marks) => subset.add(chunk, &mut Marking(&mut part, marks)),
                None => subset.add(chunk, &mut Plain(&mut part)),
            }
            part
        };
        // A small node (one block of rows) marks the entries its rows reach, where they are
        // few for the bins.
        #[allow(clippy::cast_precision_loss)]
        let entries = rows.len() as f64 * features.len() as f64;
        #[allow(clippy::cast_precision_loss)]
        let few = entries <= MARKED_ENTRIES_PER_BIN * n_bins as f64;
        let (bins, touched) = if few && rows.len() <= super::histogram::HIST_ROW_BLOCK {
            let mut marks = Touched::none(n_bins);
            (block(rows, Some(&mut marks)), Some(marks))
        } else {
            (sum_blocks(rows, n_bins, |chunk| block(chunk, None)), None)
        };
        Self {
            features: features.to_vec(),
            bins,
            offsets,
            touched,
        }
    }

    /// The `i`-th feature's entries that rows reached, as `(marks, first)`: entry `first + b`
    /// of the marks is the feature's bin `b`. `None` when not recorded.
    pub(crate) fn feature_marks(&self, i: usize) -> Option<(&Touched, usize)> {
        self.touched.as_ref().map(|t| (t, self.offsets[i]))
    }

    /// The features held, in the order given to [`FeatureHistogram::build`].
    pub fn features(&self) -> &[usize] {
        &self.features
    }

    /// The bins of the `i`-th feature held.
    pub fn feature_bins(&self, i: usize) -> &[GradStats] {
        &self.bins[self.offsets[i]..self.offsets[i + 1] - 1]
    }
}

/// Where rows' gradient pairs are added: a histogram's entries, marking the entries reached
/// or not.
trait Sink {
    fn add(&mut self, at: usize, pair: (f32, f32));
}

/// Adds to the entries alone.
struct Plain<'a>(&'a mut [GradStats]);

impl Sink for Plain<'_> {
    #[inline(always)]
    fn add(&mut self, at: usize, pair: (f32, f32)) {
        self.0[at].add_pair(pair.0, pair.1);
    }
}

/// Adds to the entries and marks each entry reached.
struct Marking<'a>(&'a mut [GradStats], &'a mut Touched);

impl Sink for Marking<'_> {
    #[inline(always)]
    fn add(&mut self, at: usize, pair: (f32, f32)) {
        self.0[at].add_pair(pair.0, pair.1);
        self.1.mark(at);
    }
}

/// What a few-feature histogram adds from a matrix's rows: for dense rows, each chosen
/// feature's place in its group's rows and its offset (the one-byte ones in `narrow`, the
/// two-byte ones in `wide`); for sparse rows, `local[f]`, feature `f`'s offset or
/// `usize::MAX` when `f` is not chosen.
struct Subset<'a> {
    matrix: &'a BinnedMatrix,
    narrow: &'a [(usize, usize)],
    wide: &'a [(usize, usize)],
    local: &'a [usize],
    /// The chosen features, and where each one's bins start.
    features: &'a [usize],
    offsets: &'a [usize],
    gpairs: &'a [(f32, f32)],
}

impl Subset<'_> {
    /// Adds the gradient pairs of `rows` (ascending) to `out`, for the chosen features only.
    /// Dense rows are read from the matrix's columns where that reaches fewer cache lines:
    /// a wide row holds each chosen feature on a line of its own, while a column holds many
    /// of a node's rows on one line where they lie close together.
    fn add<S: Sink>(&self, rows: &[u32], out: &mut S) {
        let (local, gpairs) = (self.local, self.gpairs);
        match (
            self.matrix.dense(),
            self.matrix.layout(),
            self.matrix.storage(),
        ) {
            (Some(d), _, _) => {
                let row_bytes = d.narrow_features.len() + 2 * d.wide_features.len();
                let chosen = self.features.len();
                let span = match (rows.first(), rows.last()) {
                    (Some(&a), Some(&b)) => b.saturating_sub(a) as usize + 1,
                    _ => 0,
                };
                let by_rows = rows.len() * chosen.min(row_bytes.div_ceil(64));
                let by_columns = chosen * rows.len().min(span / 64 + 1);
                if by_columns < by_rows {
                    let chosen = self.features.iter().zip(self.offsets);
                    accumulate_columns(self.matrix, chosen, rows, gpairs, out);
                } else {
                    accumulate_dense_subset(&d, self.narrow, self.wide, rows, gpairs, out);
                }
            }
            (None, BinLayout::Sparse { indptr, features }, BinStorage::U8(b)) => {
                accumulate_sparse_subset(b, indptr, features, local, rows, gpairs, out);
            }
            (None, BinLayout::Sparse { indptr, features }, BinStorage::U16(b)) => {
                accumulate_sparse_subset(b, indptr, features, local, rows, gpairs, out);
            }
            (None, BinLayout::Dense, _) => unreachable!("a dense matrix has dense bins"),
        }
    }
}

/// Adds the gradient pairs of `rows` into `out` for the chosen features only (dense layout):
/// `(k, offset)` in `narrow` adds the `k`-th one-byte bin of a row at `offset`, in `wide` the
/// `k`-th two-byte one. A missing entry holds its feature's bin count and lands in the spare
/// entry past its bins.
fn accumulate_dense_subset<S: Sink>(
    d: &DenseBins<'_>,
    narrow: &[(usize, usize)],
    wide: &[(usize, usize)],
    rows: &[u32],
    gpairs: &[(f32, f32)],
    out: &mut S,
) {
    let (n8, n16) = (d.narrow_features.len(), d.wide_features.len());
    for &r in rows {
        let r = r as usize;
        let pair = gpairs[r];
        let row = &d.narrow[r * n8..(r + 1) * n8];
        for &(k, offset) in narrow {
            out.add(offset + usize::from(row[k]), pair);
        }
        if !wide.is_empty() {
            let row = &d.wide[r * n16..(r + 1) * n16];
            for &(k, offset) in wide {
                out.add(offset + usize::from(row[k]), pair);
            }
        }
    }
}

/// As [`accumulate_dense_subset`], one chosen feature `(f, offset)` after another from the
/// matrix's columns: each bin still receives its rows in their order, so the sums are the
/// same to the bit.
fn accumulate_columns<'a, S: Sink>(
    matrix: &BinnedMatrix,
    chosen: impl Iterator<Item = (&'a usize, &'a usize)>,
    rows: &[u32],
    gpairs: &[(f32, f32)],
    out: &mut S,
) {
    for (&f, &offset) in chosen {
        match matrix.column(f).expect("a dense matrix has columns") {
            BinColumn::U8(c) => {
                for &r in rows {
                    out.add(offset + usize::from(c[r as usize]), gpairs[r as usize]);
                }
            }
            BinColumn::U16(c) => {
                for &r in rows {
                    out.add(offset + usize::from(c[r as usize]), gpairs[r as usize]);
                }
            }
        }
    }
}

/// As [`accumulate_dense_subset`] for CSR rows; `local[f]` is feature `f`'s bin offset, or
/// `usize::MAX` when `f` is not chosen.
fn accumulate_sparse_subset<B: Copy + Into<u16>, S: Sink>(
    bins: &[B],
    indptr: &[usize],
    features: &[u32],
    local: &[usize],
    rows: &[u32],
    gpairs: &[(f32, f32)],
    out: &mut S,
) {
    for &r in rows {
        let r = r as usize;
        let pair = gpairs[r];
        for k in indptr[r]..indptr[r + 1] {
            let off = local[features[k] as usize];
            if off != usize::MAX {
                let b: u16 = bins[k].into();
                out.add(off + usize::from(b), pair);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hist::Histogram;

    fn sample(n_rows: usize, n_cols: usize) -> (Vec<f32>, Vec<(f32, f32)>) {
        let data: Vec<f32> = (0..n_rows * n_cols)
            .map(|k| {
                if k % 13 == 0 {
                    f32::NAN
                } else {
                    ((k * 7919) % 1009) as f32 / 37.0
                }
            })
            .collect();
        let g: Vec<(f32, f32)> = (0..n_rows)
            .map(|i| (((i * 31) % 17) as f32 - 8.0, 1.0 + (i % 3) as f32))
            .collect();
        (data, g)
    }

    #[test]
    fn feature_histogram_equals_the_full_one_on_its_features() {
        let (n_rows, n_cols) = (7000, 5);
        let (data, g) = sample(n_rows, n_cols);
        let cuts = QuantileCuts::from_dense(&data, n_rows, n_cols, None, 32).unwrap();
        let m = BinnedMatrix::from_dense(&data, n_rows, n_cols, &cuts).unwrap();
        let rows: Vec<u32> = (0..n_rows as u32).filter(|r| r % 4 != 1).collect();
        let full = Histogram::build(&m, &cuts, &rows, &g);
        let sub = FeatureHistogram::build(&m, &cuts, &[1, 4], &rows, &g);
        assert_eq!(sub.features(), &[1, 4]);
        assert_eq!(sub.feature_bins(0), full.feature(&cuts, 1));
        assert_eq!(sub.feature_bins(1), full.feature(&cuts, 4));

        // CSR input gives the same sums.
        let mut indptr = vec![0];
        let (mut idx, mut val) = (Vec::new(), Vec::new());
        for r in 0..n_rows {
            for c in 0..n_cols {
                let v = data[r * n_cols + c];
                if !v.is_nan() {
                    idx.push(c);
                    val.push(v);
                }
            }
            indptr.push(idx.len());
        }
        let s = BinnedMatrix::from_csr(&indptr, &idx, &val, n_cols, &cuts).unwrap();
        let sparse = FeatureHistogram::build(&s, &cuts, &[1, 4], &rows, &g);
        for i in 0..2 {
            assert_eq!(sparse.feature_bins(i), sub.feature_bins(i));
        }
    }

    #[test]
    fn every_way_of_adding_rows_gives_the_same_sums_and_marks_cover_them() {
        // Wide rows (each chosen feature on a line of its own), 256 bins: small nodes mark
        // their entries, close rows are read by column, scattered ones by row.
        let (n_rows, n_cols) = (3000, 90);
        let (data, g) = sample(n_rows, n_cols);
        let cuts = QuantileCuts::from_dense(&data, n_rows, n_cols, None, 256).unwrap();
        let m = BinnedMatrix::from_dense(&data, n_rows, n_cols, &cuts).unwrap();
        let chosen = [0_usize, 7, 8, 41, 89];
        let subsets: Vec<Vec<u32>> = vec![
            (0..n_rows as u32).collect(),
            (100..160).collect(),
            (0..n_rows as u32).step_by(97).collect(),
            (0..n_rows as u32).filter(|r| r % 5 < 2).collect(),
            vec![17],
            Vec::new(),
        ];
        for rows in &subsets {
            let full = Histogram::build(&m, &cuts, rows, &g);
            let sub = FeatureHistogram::build(&m, &cuts, &chosen, rows, &g);
            for (i, &f) in chosen.iter().enumerate() {
                assert_eq!(
                    sub.feature_bins(i),
                    full.feature(&cuts, f),
                    "{} rows",
                    rows.len()
                );
                if let Some((marks, first)) = sub.feature_marks(i) {
                    let mut marked = vec![false; sub.feature_bins(i).len()];
                    marks.visit(first, first + marked.len(), |e, len| {
                        marked[e - first..e - first + len].fill(true);
                    });
                    for (b, bin) in sub.feature_bins(i).iter().enumerate() {
                        assert!(marked[b] || bin.is_zero(), "{} rows, bin {b}", rows.len());
                    }
                }
            }
            // A few rows over many bins are marked; many rows are not.
            assert_eq!(
                sub.feature_marks(0).is_some(),
                rows.len() * chosen.len() <= 1285
            );
        }
        // Adding into a histogram forgets its marks.
        let mut h = FeatureHistogram::build(&m, &cuts, &chosen, &subsets[4], &g);
        h.bins_mut()[0].add(GradStats::new(1.0, 1.0));
        assert!(h.feature_marks(0).is_none());
    }
}
