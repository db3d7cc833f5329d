//! Histograms of a few features: what a node builds from its rows when it may split on a
//! small sampled subset of the features (random forests with `sqrt(p)` columns per node), so
//! that it never touches the other features' bins.

use super::histogram::sum_blocks;
use super::matrix::{BinLayout, BinStorage, BinnedMatrix, DenseBins};
use super::QuantileCuts;
use crate::gain::GradStats;

/// Histograms of a few features only, laid out one after another: what a node needs when it
/// may split on a small sampled subset of the features (random forests with `sqrt(p)`
/// columns per node), so it never touches the bins of the others.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureHistogram {
    features: Vec<usize>,
    /// `offsets[i]..offsets[i + 1] - 1` are the bins of `features[i]`; a spare entry follows.
    offsets: Vec<usize>,
    bins: Vec<GradStats>,
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
        }
    }

    /// Every entry: the features' bins one after another, each followed by a spare entry.
    pub fn bins(&self) -> &[GradStats] {
        &self.bins
    }

    /// Every entry, to add into.
    pub fn bins_mut(&mut self) -> &mut [GradStats] {
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
        let block = |chunk: &[u32]| -> Vec<GradStats> {
            let mut part = vec![GradStats::default(); n_bins];
            match (dense, matrix.layout(), matrix.storage()) {
                (Some(d), _, _) => {
                    accumulate_dense_subset(&d, &narrow, &wide, chunk, gpairs, &mut part);
                }
                (None, BinLayout::Sparse { indptr, features }, BinStorage::U8(b)) => {
                    accumulate_sparse_subset(b, indptr, features, &local, chunk, gpairs, &mut part);
                }
                (None, BinLayout::Sparse { indptr, features }, BinStorage::U16(b)) => {
                    accumulate_sparse_subset(b, indptr, features, &local, chunk, gpairs, &mut part);
                }
                (None, BinLayout::Dense, _) => unreachable!("a dense matrix has dense bins"),
            }
            part
        };
        Self {
            features: features.to_vec(),
            bins: sum_blocks(rows, n_bins, block),
            offsets,
        }
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

/// Adds the gradient pairs of `rows` into `out` for the chosen features only (dense layout):
/// `(k, offset)` in `narrow` adds the `k`-th one-byte bin of a row at `offset`, in `wide` the
/// `k`-th two-byte one. A missing entry holds its feature's bin count and lands in the spare
/// entry past its bins.
fn accumulate_dense_subset(
    d: &DenseBins<'_>,
    narrow: &[(usize, usize)],
    wide: &[(usize, usize)],
    rows: &[u32],
    gpairs: &[(f32, f32)],
    out: &mut [GradStats],
) {
    let (n8, n16) = (d.narrow_features.len(), d.wide_features.len());
    for &r in rows {
        let r = r as usize;
        let pair = gpairs[r];
        let row = &d.narrow[r * n8..(r + 1) * n8];
        for &(k, offset) in narrow {
            out[offset + usize::from(row[k])].add_pair(pair.0, pair.1);
        }
        if !wide.is_empty() {
            let row = &d.wide[r * n16..(r + 1) * n16];
            for &(k, offset) in wide {
                out[offset + usize::from(row[k])].add_pair(pair.0, pair.1);
            }
        }
    }
}

/// As [`accumulate_dense_subset`] for CSR rows; `local[f]` is feature `f`'s bin offset, or
/// `usize::MAX` when `f` is not chosen.
fn accumulate_sparse_subset<B: Copy + Into<u16>>(
    bins: &[B],
    indptr: &[usize],
    features: &[u32],
    local: &[usize],
    rows: &[u32],
    gpairs: &[(f32, f32)],
    out: &mut [GradStats],
) {
    for &r in rows {
        let r = r as usize;
        let pair = gpairs[r];
        for k in indptr[r]..indptr[r + 1] {
            let off = local[features[k] as usize];
            if off != usize::MAX {
                let b: u16 = bins[k].into();
                out[off + usize::from(b)].add_pair(pair.0, pair.1);
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
}
