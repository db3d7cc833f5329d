//! The binned matrix: every present value replaced by its bin within its feature.
//!
//! Bins are stored per feature (local indices), in one byte when every feature has at most
//! 256 bins (255 when a missing marker is needed) and in two bytes otherwise. Dense input is
//! stored row-major; sparse (CSR) input stays sparse, its absent entries missing.

use rayon::prelude::*;
use sapwood_mem::{try_vec, try_with_capacity};

use super::cuts::{upper_bin, QuantileCuts};
use crate::error::BoostError;

/// Rows binned per parallel task; fixed so the layout never depends on the thread count.
const ROW_BLOCK: usize = 4096;

/// Bin indices in the narrowest integer type that holds them.
#[derive(Debug, Clone, PartialEq)]
pub enum BinStorage {
    /// At most 256 bins per feature (255 with a missing marker).
    U8(Vec<u8>),
    /// Up to 65,535 bins per feature.
    U16(Vec<u16>),
}

impl BinStorage {
    /// Bytes used by the bin indices.
    pub fn bytes(&self) -> usize {
        match self {
            Self::U8(v) => v.len(),
            Self::U16(v) => 2 * v.len(),
        }
    }

    fn get(&self, k: usize) -> u16 {
        match self {
            Self::U8(v) => u16::from(v[k]),
            Self::U16(v) => v[k],
        }
    }
}

/// One feature's bins of every row of a dense matrix.
#[derive(Debug, Clone, Copy)]
pub enum BinColumn<'a> {
    /// One byte a bin.
    U8(&'a [u8]),
    /// Two bytes a bin.
    U16(&'a [u16]),
}

/// How the binned entries are laid out.
#[derive(Debug, Clone, PartialEq)]
pub enum BinLayout {
    /// `n_rows * n_cols` entries, row-major; missing entries hold the marker.
    Dense,
    /// CSR: row `r`'s entries are `indptr[r]..indptr[r + 1]`, their features in `features`.
    Sparse {
        /// Row starts.
        indptr: Vec<usize>,
        /// Feature of each stored entry.
        features: Vec<u32>,
    },
}

/// A matrix of bin indices built from [`QuantileCuts`].
#[derive(Debug, Clone, PartialEq)]
pub struct BinnedMatrix {
    n_rows: usize,
    n_cols: usize,
    bins: BinStorage,
    layout: BinLayout,
    /// The value that marks a missing dense entry; `None` when no entry is missing (then every
    /// value, the type's largest included, is a real bin).
    missing: Option<u16>,
    /// A dense matrix's bins again, column-major (feature `f`'s bins at
    /// `f * n_rows..(f + 1) * n_rows`): a split reads one feature of each of its rows, and a
    /// column holds them in a few bytes a row instead of a cache line each.
    columns: Option<BinStorage>,
}

/// The column-major copy of row-major `bins` (`n_cols` a row), in parallel blocks of rows.
fn transpose<B: Copy + Default + Send + Sync>(
    bins: &[B],
    n_rows: usize,
    n_cols: usize,
) -> Result<Vec<B>, BoostError> {
    let mut out = try_vec(bins.len(), B::default(), "the column-major binned matrix")?;
    if n_cols == 0 || n_rows == 0 {
        return Ok(out);
    }
    // Feature `f`'s column, split into the row blocks, so each task writes its own slices.
    let mut columns: Vec<Vec<&mut [B]>> = out
        .chunks_mut(n_rows)
        .map(|col| col.chunks_mut(ROW_BLOCK).collect())
        .collect();
    let n_blocks = n_rows.div_ceil(ROW_BLOCK);
    let mut per_block: Vec<Vec<&mut [B]>> = (0..n_blocks).map(|_| Vec::new()).collect();
    for col in &mut columns {
        for (b, slice) in col.drain(..).enumerate() {
            per_block[b].push(slice);
        }
    }
    per_block
        .into_par_iter()
        .enumerate()
        .for_each(|(b, mut cols)| {
            let rows = &bins[b * ROW_BLOCK * n_cols..];
            for (f, col) in cols.iter_mut().enumerate() {
                for (r, o) in col.iter_mut().enumerate() {
                    *o = rows[r * n_cols + f];
                }
            }
        });
    Ok(out)
}

fn narrow(max_bins: usize, needs_marker: bool) -> Result<bool, BoostError> {
    let slots = max_bins + usize::from(needs_marker);
    if slots <= 256 {
        Ok(true)
    } else if slots <= 65_536 {
        Ok(false)
    } else {
        Err(BoostError::parameter("max_bin", "at most 65535", max_bins))
    }
}

fn bin_of(cuts: &QuantileCuts, f: usize, v: f32) -> Option<u16> {
    // search_bin returns an index below the feature's bin count, which `narrow` bounded.
    cuts.search_bin(f, v).map(|b| b as u16)
}

/// A bin index type.
trait Bin: Copy + Send + Sync {
    fn from_u16(b: u16) -> Self;
}

impl Bin for u8 {
    #[allow(clippy::cast_possible_truncation)]
    fn from_u16(b: u16) -> Self {
        b as u8
    }
}

impl Bin for u16 {
    fn from_u16(b: u16) -> Self {
        b
    }
}

/// Bins a dense row-major matrix into `B`s (missing entries get `marker`), in parallel row
/// blocks; within a block, feature by feature, so one feature's cuts stay at hand.
fn bin_dense<B: Bin>(
    data: &[f32],
    n_cols: usize,
    cuts: &QuantileCuts,
    marker: u16,
) -> Result<Vec<B>, BoostError> {
    let mut out = try_vec(data.len(), B::from_u16(marker), "the binned matrix")?;
    let chunk = (ROW_BLOCK * n_cols).max(1);
    out.par_chunks_mut(chunk)
        .zip(data.par_chunks(chunk))
        .for_each(|(out, block)| {
            for f in 0..n_cols {
                let c = cuts.feature(f);
                let values = block[f..].iter().step_by(n_cols);
                for (o, &v) in out[f..].iter_mut().step_by(n_cols).zip(values) {
                    if !v.is_nan() {
                        // Below the feature's bin count, which `narrow` bounded.
                        #[allow(clippy::cast_possible_truncation)]
                        let b = upper_bin(c, v) as u16;
                        *o = B::from_u16(b);
                    }
                }
            }
        });
    Ok(out)
}

impl BinnedMatrix {
    /// Bins a dense row-major matrix (`NaN` = missing).
    ///
    /// # Errors
    /// [`BoostError`] when the shape disagrees with `data` or with the cuts' feature count.
    pub fn from_dense(
        data: &[f32],
        n_rows: usize,
        n_cols: usize,
        cuts: &QuantileCuts,
    ) -> Result<Self, BoostError> {
        if data.len() != n_rows * n_cols || cuts.n_features() != n_cols {
            return Err(BoostError::InvalidInput(format!(
                "cannot bin a {n_rows} x {n_cols} matrix of {} values with cuts for {} features",
                data.len(),
                cuts.n_features()
            )));
        }
        let has_missing = data.par_iter().any(|v| v.is_nan());
        let use_u8 = narrow(cuts.max_bins_per_feature(), has_missing)?;
        let marker = if use_u8 { u16::from(u8::MAX) } else { u16::MAX };
        let missing = has_missing.then_some(marker);
        let (bins, columns) = if use_u8 {
            let bins = bin_dense::<u8>(data, n_cols, cuts, marker)?;
            let columns = transpose(&bins, n_rows, n_cols)?;
            (BinStorage::U8(bins), BinStorage::U8(columns))
        } else {
            let bins = bin_dense::<u16>(data, n_cols, cuts, marker)?;
            let columns = transpose(&bins, n_rows, n_cols)?;
            (BinStorage::U16(bins), BinStorage::U16(columns))
        };
        Ok(Self {
            n_rows,
            n_cols,
            bins,
            layout: BinLayout::Dense,
            missing,
            columns: Some(columns),
        })
    }

    /// Bins a CSR matrix; absent entries (and stored NaNs, which are dropped) are missing.
    ///
    /// # Errors
    /// [`BoostError`] for malformed CSR arrays or a feature count that disagrees with the cuts.
    pub fn from_csr(
        indptr: &[usize],
        indices: &[usize],
        values: &[f32],
        n_cols: usize,
        cuts: &QuantileCuts,
    ) -> Result<Self, BoostError> {
        let n_rows = indptr.len().checked_sub(1).ok_or_else(|| {
            BoostError::InvalidInput("a CSR matrix needs at least one indptr entry".to_owned())
        })?;
        let well_formed = super::compressed_is_well_formed(indptr, indices, values.len(), n_cols)
            && cuts.n_features() == n_cols;
        if !well_formed {
            return Err(BoostError::InvalidInput(
                "malformed CSR matrix: indptr, indices, data and the feature count disagree"
                    .to_owned(),
            ));
        }
        let use_u8 = narrow(cuts.max_bins_per_feature(), false)?;
        let what = "the binned sparse matrix";
        let mut new_indptr = try_with_capacity(indptr.len(), what)?;
        let mut features = try_with_capacity(values.len(), what)?;
        let mut wide: Vec<u16> = try_with_capacity(values.len(), what)?;
        new_indptr.push(0);
        for r in 0..n_rows {
            for k in indptr[r]..indptr[r + 1] {
                if let Some(b) = bin_of(cuts, indices[k], values[k]) {
                    features.push(indices[k] as u32);
                    wide.push(b);
                }
            }
            new_indptr.push(features.len());
        }
        let bins = if use_u8 {
            let mut narrow = try_with_capacity(wide.len(), what)?;
            narrow.extend(wide.iter().map(|&b| b as u8));
            BinStorage::U8(narrow)
        } else {
            BinStorage::U16(wide)
        };
        Ok(Self {
            n_rows,
            n_cols,
            bins,
            layout: BinLayout::Sparse {
                indptr: new_indptr,
                features,
            },
            missing: None,
            columns: None,
        })
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of features.
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// The stored bin indices.
    pub fn storage(&self) -> &BinStorage {
        &self.bins
    }

    /// The entry layout.
    pub fn layout(&self) -> &BinLayout {
        &self.layout
    }

    /// Feature `f`'s bins of every row, from the column-major copy of a dense matrix
    /// (`None` for sparse matrices).
    pub fn column(&self, f: usize) -> Option<BinColumn<'_>> {
        let n = self.n_rows;
        match self.columns.as_ref()? {
            BinStorage::U8(c) => Some(BinColumn::U8(&c[f * n..(f + 1) * n])),
            BinStorage::U16(c) => Some(BinColumn::U16(&c[f * n..(f + 1) * n])),
        }
    }

    /// The marker of a missing dense entry, if any entry is missing.
    pub fn missing_marker(&self) -> Option<u16> {
        self.missing
    }

    /// The bin of row `r`, feature `f`, or `None` when missing.
    pub fn bin(&self, r: usize, f: usize) -> Option<usize> {
        match &self.layout {
            BinLayout::Dense => {
                let b = self.bins.get(r * self.n_cols + f);
                (Some(b) != self.missing).then_some(usize::from(b))
            }
            BinLayout::Sparse { indptr, features } => {
                let row = &features[indptr[r]..indptr[r + 1]];
                row.binary_search(&(f as u32))
                    .ok()
                    .map(|k| usize::from(self.bins.get(indptr[r] + k)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_free_search_finds_the_first_cut_above_each_value() {
        for n_cuts in [1_usize, 2, 3, 7, 8, 9, 255, 256, 300] {
            let values: Vec<f32> = (0..n_cuts * 20 + 7)
                .map(|k| (k as f32 - 10.0) * 0.25)
                .collect();
            let col: Vec<f32> = (0..n_cuts).map(|k| k as f32 * 5.0 / 4.0 - 1.0).collect();
            let cuts = QuantileCuts::from_dense(&col, n_cuts, 1, None, 512).unwrap();
            let c = cuts.feature(0);
            for v in values.iter().copied().chain(c.iter().copied()).chain([
                f32::INFINITY,
                f32::NEG_INFINITY,
                -0.0,
                0.0,
                f32::MAX,
            ]) {
                // The search's definition: the first cut above `v`, clamped to the last.
                let want = c.partition_point(|&x| x <= v).min(c.len() - 1);
                assert_eq!(upper_bin(c, v), want, "{n_cuts} cuts, {v}");
                assert_eq!(cuts.search_bin(0, v), Some(want));
            }
        }
    }

    #[test]
    fn dense_bins_follow_the_cuts_and_mark_missing() {
        let data = [1.0, 10.0, 2.0, f32::NAN, 3.0, 30.0, 2.0, 20.0];
        let cuts = QuantileCuts::from_dense(&data, 4, 2, None, 256).unwrap();
        let m = BinnedMatrix::from_dense(&data, 4, 2, &cuts).unwrap();
        assert!(matches!(m.storage(), BinStorage::U8(_)));
        assert_eq!(m.bin(0, 0), Some(0));
        assert_eq!(m.bin(1, 0), Some(1));
        assert_eq!(m.bin(2, 0), Some(2));
        assert_eq!(m.bin(1, 1), None);
        assert_eq!(m.bin(2, 1), Some(2));
        for r in 0..4 {
            for f in 0..2 {
                assert_eq!(m.bin(r, f), cuts.search_bin(f, data[r * 2 + f]));
            }
        }
    }

    #[test]
    fn wide_features_use_two_bytes() {
        let data: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        let cuts = QuantileCuts::from_dense(&data, 1000, 1, None, 512).unwrap();
        let m = BinnedMatrix::from_dense(&data, 1000, 1, &cuts).unwrap();
        assert!(matches!(m.storage(), BinStorage::U16(_)));
        assert_eq!(m.storage().bytes(), 2000);
        // 256 bins without missing values still fit one byte.
        let cuts = QuantileCuts::from_dense(&data, 1000, 1, None, 256).unwrap();
        let m = BinnedMatrix::from_dense(&data, 1000, 1, &cuts).unwrap();
        assert!(matches!(m.storage(), BinStorage::U8(_)));
        assert_eq!(m.bin(999, 0), Some(255));
    }

    #[test]
    fn sparse_matches_dense_with_absent_as_missing() {
        // 3 x 3: [[1, _, 4], [_, _, 5], [2, 3, _]]
        let dense = [
            1.0,
            f32::NAN,
            4.0,
            f32::NAN,
            f32::NAN,
            5.0,
            2.0,
            3.0,
            f32::NAN,
        ];
        let cuts = QuantileCuts::from_dense(&dense, 3, 3, None, 256).unwrap();
        let d = BinnedMatrix::from_dense(&dense, 3, 3, &cuts).unwrap();
        let s = BinnedMatrix::from_csr(
            &[0, 2, 3, 5],
            &[0, 2, 2, 0, 1],
            &[1.0, 4.0, 5.0, 2.0, 3.0],
            3,
            &cuts,
        )
        .unwrap();
        for r in 0..3 {
            for f in 0..3 {
                assert_eq!(d.bin(r, f), s.bin(r, f), "row {r} feature {f}");
            }
        }
        assert!(BinnedMatrix::from_csr(&[0, 2], &[0, 7], &[1.0, 2.0], 3, &cuts).is_err());
    }

    #[test]
    fn shape_mismatch_is_an_error() {
        let cuts = QuantileCuts::from_dense(&[1.0, 2.0], 1, 2, None, 4).unwrap();
        assert!(BinnedMatrix::from_dense(&[1.0, 2.0, 3.0], 1, 3, &cuts).is_err());
    }
}
