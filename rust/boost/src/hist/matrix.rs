//! The binned matrix: every present value replaced by its bin within its feature.
//!
//! Bins are stored per feature (local indices). A dense matrix keeps each feature in one byte
//! when its bins, and a marker for missing values where it has any, fit in 256 values, and
//! in two bytes otherwise (a missing entry holds its feature's bin count); the two groups are stored row-major side by side, so a column of a
//! thousand categories or a 256-bin column with missing values does not widen every other
//! column. Sparse (CSR) input stays sparse, its absent entries missing, in the narrowest type
//! that holds every feature's bins.

use rayon::prelude::*;
use sapwood_mem::{try_vec, try_with_capacity};

use super::cuts::{upper_bin, QuantileCuts};
use crate::data::SortedColumns;
use crate::error::BoostError;

/// Rows binned per parallel task of a sparse matrix, and at most per task of a dense one.
const ROW_BLOCK: usize = 4096;

/// Rows per parallel task of a dense matrix `n_cols` wide: [`ROW_BLOCK`] for up to 32
/// columns, fewer for wider ones (down to 64), so that a wide matrix of few rows is still
/// shared among the threads. Any division gives the same bins.
fn row_block(n_cols: usize) -> usize {
    (ROW_BLOCK * 32 / n_cols.max(1)).clamp(64, ROW_BLOCK)
}

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
    /// Row-major groups of one-byte and two-byte features ([`DenseBins`]); missing entries
    /// hold their feature's marker.
    Dense,
    /// CSR: row `r`'s entries are `indptr[r]..indptr[r + 1]`, their features in `features`.
    Sparse {
        /// Row starts.
        indptr: Vec<usize>,
        /// Feature of each stored entry.
        features: Vec<u32>,
    },
}

/// A dense matrix's bins: the features kept in one byte (`narrow_features`, ascending), their
/// bins row-major in `narrow`, and likewise the features kept in two bytes. Either group may
/// be empty.
#[derive(Debug, Clone, Copy)]
pub struct DenseBins<'a> {
    /// One-byte bins, `narrow_features.len()` a row.
    pub narrow: &'a [u8],
    /// The features of `narrow`, ascending.
    pub narrow_features: &'a [u32],
    /// Two-byte bins, `wide_features.len()` a row.
    pub wide: &'a [u16],
    /// The features of `wide`, ascending.
    pub wide_features: &'a [u32],
}

/// A matrix of bin indices built from [`QuantileCuts`].
#[derive(Debug, Clone, PartialEq)]
pub struct BinnedMatrix {
    n_rows: usize,
    n_cols: usize,
    /// Sparse entries; for a dense matrix, its one-byte group.
    bins: BinStorage,
    layout: BinLayout,
    /// A dense matrix's two-byte group, `wide_features.len()` a row.
    wide: Vec<u16>,
    /// The features of the one-byte group of a dense matrix, ascending.
    narrow_features: Vec<u32>,
    /// The features of the two-byte group of a dense matrix, ascending.
    wide_features: Vec<u32>,
    /// Per feature of a dense matrix, the value that marks its missing entries (its bin
    /// count, the first value past its bins); `None` for a feature without any.
    markers: Vec<Option<u16>>,
    /// Per feature, whether some row lacks it (always for sparse storage).
    missing: Vec<bool>,
    /// A dense matrix's groups again, column-major (one-byte columns, then two-byte ones): a
    /// split reads one feature of each of its rows, and a column holds them in a few bytes a
    /// row instead of a cache line each.
    narrow_columns: Vec<u8>,
    wide_columns: Vec<u16>,
    /// A sparse matrix's entries again by feature (CSC), for the same reason: a split finds
    /// its rows' bins by walking the feature's entries alongside them, not by searching each
    /// row. Empty for a dense matrix.
    sparse_columns: SparseColumns,
}

/// A sparse matrix's entries by feature: feature `f`'s are `indptr[f]..indptr[f + 1]`, their
/// rows ascending in `rows` and their bins in `bins`.
#[derive(Debug, Clone, Default, PartialEq)]
struct SparseColumns {
    indptr: Vec<usize>,
    rows: Vec<u32>,
    bins: Vec<u16>,
}

/// One feature's present entries of a sparse matrix: their rows, ascending, and their bins.
#[derive(Debug, Clone, Copy)]
pub struct SparseColumn<'a> {
    /// The rows that have the feature, ascending.
    pub rows: &'a [u32],
    /// Their bins.
    pub bins: &'a [u16],
}

impl SparseColumns {
    /// The CSC copy of CSR entries (`indptr` row starts, `features`, `bins`), of `n_cols`
    /// features.
    #[allow(clippy::cast_possible_truncation)]
    fn of(
        indptr: &[usize],
        features: &[u32],
        bins: &BinStorage,
        n_cols: usize,
    ) -> Result<Self, BoostError> {
        let (indptr, rows, bins) = super::csr_to_csc(
            indptr,
            |k| features[k] as usize,
            n_cols,
            |r, k| (r as u32, bins.get(k)),
            "the column copy of the binned sparse matrix",
        )?;
        Ok(Self { indptr, rows, bins })
    }

    fn bytes(&self) -> usize {
        8 * self.indptr.len() + 4 * self.rows.len() + 2 * self.bins.len()
    }
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
    let block = row_block(n_cols);
    let mut columns: Vec<Vec<&mut [B]>> = out
        .chunks_mut(n_rows)
        .map(|col| col.chunks_mut(block).collect())
        .collect();
    let n_blocks = n_rows.div_ceil(block);
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
            let rows = &bins[b * block * n_cols..];
            for (f, col) in cols.iter_mut().enumerate() {
                for (r, o) in col.iter_mut().enumerate() {
                    *o = rows[r * n_cols + f];
                }
            }
        });
    Ok(out)
}

/// Whether one byte holds `bins` bins, and a marker when `needs_marker`; an error past two.
fn narrow(bins: usize, needs_marker: bool) -> Result<bool, BoostError> {
    let slots = bins + usize::from(needs_marker);
    if slots <= 256 {
        Ok(true)
    } else if slots <= 65_536 {
        Ok(false)
    } else {
        Err(BoostError::parameter("max_bin", "at most 65535", bins))
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

/// Which features of a dense row-major matrix lack a value (`NaN`) in some row.
fn missing_by_feature(data: &[f32], n_cols: usize) -> Vec<bool> {
    if n_cols == 0 {
        return Vec::new();
    }
    data.par_chunks(row_block(n_cols) * n_cols)
        .map(|block| {
            let mut seen = vec![false; n_cols];
            for row in block.chunks_exact(n_cols) {
                for (s, v) in seen.iter_mut().zip(row) {
                    *s |= v.is_nan();
                }
            }
            seen
        })
        .reduce(
            || vec![false; n_cols],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(b) {
                    *x |= y;
                }
                a
            },
        )
}

/// Bins the `features` of a dense row-major matrix (`n_cols` a row) into `B`s, those
/// features a row, in parallel row blocks; within a block, feature by feature, so one
/// feature's cuts stay at hand. A missing entry gets its feature's bin count: the first
/// value past its bins ([`BinnedMatrix::marker`]).
fn bin_dense<B: Bin>(
    data: &[f32],
    n_cols: usize,
    cuts: &QuantileCuts,
    features: &[u32],
) -> Result<Vec<B>, BoostError> {
    let width = features.len();
    let n_rows = data.len().checked_div(n_cols).unwrap_or(0);
    let mut out = try_vec(n_rows * width, B::from_u16(0), "the binned matrix")?;
    if width == 0 {
        return Ok(out);
    }
    let block = row_block(n_cols);
    out.par_chunks_mut(block * width)
        .zip(data.par_chunks(block * n_cols))
        .for_each(|(out, block)| {
            for (k, &f) in features.iter().enumerate() {
                let f = f as usize;
                let c = cuts.feature(f);
                // At most the feature's bin count, which `narrow` bounded.
                #[allow(clippy::cast_possible_truncation)]
                let marker = B::from_u16(c.len() as u16);
                let values = block[f..].iter().step_by(n_cols);
                for (o, &v) in out[k..].iter_mut().step_by(width).zip(values) {
                    *o = if v.is_nan() {
                        marker
                    } else {
                        #[allow(clippy::cast_possible_truncation)]
                        B::from_u16(upper_bin(c, v) as u16)
                    };
                }
            }
        });
    Ok(out)
}

/// The features whose bins (and missing-value marker, where `missing` says they need one) fit
/// a byte, the others, and each feature's marker.
#[allow(clippy::type_complexity)]
fn group_by_width(
    cuts: &QuantileCuts,
    missing: &[bool],
) -> Result<(Vec<u32>, Vec<u32>, Vec<Option<u16>>), BoostError> {
    let (mut narrow_features, mut wide_features) = (Vec::new(), Vec::new());
    let mut markers = Vec::with_capacity(missing.len());
    for (f, &m) in missing.iter().enumerate() {
        let n_bins = cuts.feature(f).len();
        #[allow(clippy::cast_possible_truncation)]
        if narrow(n_bins, m)? {
            narrow_features.push(f as u32);
        } else {
            wide_features.push(f as u32);
        }
        // Below 65,536, which `narrow` bounded.
        #[allow(clippy::cast_possible_truncation)]
        markers.push(m.then_some(n_bins as u16));
    }
    Ok((narrow_features, wide_features, markers))
}

/// The column-major bins of `features` from their sorted present values: one merge of each
/// column with its cuts (a value's bin never falls as the values rise), each row's bin
/// written into its feature's column; rows without a value keep the marker.
fn bin_sorted_columns<B: Bin>(
    sorted: &SortedColumns,
    cuts: &QuantileCuts,
    features: &[u32],
) -> Result<Vec<B>, BoostError> {
    let n_rows = sorted.n_rows;
    let mut out = try_vec(n_rows * features.len(), B::from_u16(0), "the binned matrix")?;
    if n_rows == 0 {
        return Ok(out);
    }
    out.par_chunks_mut(n_rows)
        .zip(features)
        .for_each(|(column, &f)| {
            let f = f as usize;
            let c = cuts.feature(f);
            // At most the feature's bin count, which `narrow` bounded.
            #[allow(clippy::cast_possible_truncation)]
            column.fill(B::from_u16(c.len() as u16));
            let mut bin = 0;
            for e in &sorted.entries[sorted.offsets[f]..sorted.offsets[f + 1]] {
                // `upper_bin`: the first cut above the value, clamped to the last.
                while bin + 1 < c.len() && c[bin] <= e.value {
                    bin += 1;
                }
                #[allow(clippy::cast_possible_truncation)]
                let b = B::from_u16(bin as u16);
                column[e.row as usize] = b;
            }
        });
    Ok(out)
}

/// The row-major copy of `width` columns of `n_rows` values each.
fn rows_of_columns<B: Copy + Default + Send + Sync>(
    columns: &[B],
    n_rows: usize,
    width: usize,
) -> Result<Vec<B>, BoostError> {
    let mut out = try_vec(columns.len(), B::default(), "the binned matrix")?;
    if width == 0 {
        return Ok(out);
    }
    let rows = row_block(width);
    out.par_chunks_mut(rows * width)
        .enumerate()
        .for_each(|(b, block)| {
            for (k, column) in columns.chunks_exact(n_rows).enumerate() {
                let column = &column[b * rows..];
                for (o, &v) in block[k..].iter_mut().step_by(width).zip(column) {
                    *o = v;
                }
            }
        });
    Ok(out)
}

impl BinnedMatrix {
    /// [`BinnedMatrix::from_dense`] for the dense matrix whose present values `sorted` holds,
    /// column by column: the same bins, from one merge of each sorted column with its cuts
    /// instead of a search per value.
    ///
    /// # Errors
    /// [`BoostError`] when the cuts' feature count disagrees with the columns.
    pub fn from_sorted(sorted: &SortedColumns, cuts: &QuantileCuts) -> Result<Self, BoostError> {
        let n_rows = sorted.n_rows;
        let n_cols = sorted.offsets.len() - 1;
        if cuts.n_features() != n_cols {
            return Err(BoostError::InvalidInput(format!(
                "cannot bin {n_cols} sorted columns with cuts for {} features",
                cuts.n_features()
            )));
        }
        let missing: Vec<bool> = sorted
            .offsets
            .windows(2)
            .map(|w| w[1] - w[0] < n_rows)
            .collect();
        let groups = group_by_width(cuts, &missing)?;
        let (narrow_features, wide_features, _) = &groups;
        let narrow_columns = bin_sorted_columns::<u8>(sorted, cuts, narrow_features)?;
        let wide_columns = bin_sorted_columns::<u16>(sorted, cuts, wide_features)?;
        let bins = rows_of_columns(&narrow_columns, n_rows, narrow_features.len())?;
        let wide = rows_of_columns(&wide_columns, n_rows, wide_features.len())?;
        Ok(Self::dense_of(
            n_rows,
            missing,
            groups,
            (bins, wide),
            (narrow_columns, wide_columns),
        ))
    }

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
        Self::from_dense_as(data, n_rows, n_cols, cuts, &[])
    }

    /// [`BinnedMatrix::from_dense`], grouping the features by width as if those flagged in
    /// `missing` lacked a value here too: a part of a distributed fit, grouped as the whole
    /// data is, so that its rows index the shared histogram layout's byte arrays directly.
    ///
    /// # Errors
    /// As [`BinnedMatrix::from_dense`].
    pub fn from_dense_as(
        data: &[f32],
        n_rows: usize,
        n_cols: usize,
        cuts: &QuantileCuts,
        missing: &[bool],
    ) -> Result<Self, BoostError> {
        if data.len() != n_rows * n_cols || cuts.n_features() != n_cols {
            return Err(BoostError::InvalidInput(format!(
                "cannot bin a {n_rows} x {n_cols} matrix of {} values with cuts for {} features",
                data.len(),
                cuts.n_features()
            )));
        }
        let mut seen = missing_by_feature(data, n_cols);
        for (m, &also) in seen.iter_mut().zip(missing) {
            *m |= also;
        }
        let missing = seen;
        let groups = group_by_width(cuts, &missing)?;
        let (narrow_features, wide_features, _) = &groups;
        let bins = bin_dense::<u8>(data, n_cols, cuts, narrow_features)?;
        let wide = bin_dense::<u16>(data, n_cols, cuts, wide_features)?;
        let narrow_columns = transpose(&bins, n_rows, narrow_features.len())?;
        let wide_columns = transpose(&wide, n_rows, wide_features.len())?;
        Ok(Self::dense_of(
            n_rows,
            missing,
            groups,
            (bins, wide),
            (narrow_columns, wide_columns),
        ))
    }

    /// A dense matrix from its parts: each feature's missing-value flag, the features grouped
    /// by width ([`group_by_width`]), and the narrow and wide bins row-major and column-major.
    #[allow(clippy::type_complexity)]
    fn dense_of(
        n_rows: usize,
        missing: Vec<bool>,
        (narrow_features, wide_features, markers): (Vec<u32>, Vec<u32>, Vec<Option<u16>>),
        (bins, wide): (Vec<u8>, Vec<u16>),
        (narrow_columns, wide_columns): (Vec<u8>, Vec<u16>),
    ) -> Self {
        Self {
            n_rows,
            n_cols: missing.len(),
            bins: BinStorage::U8(bins),
            layout: BinLayout::Dense,
            wide,
            narrow_features,
            wide_features,
            markers,
            missing,
            narrow_columns,
            wide_columns,
            sparse_columns: SparseColumns::default(),
        }
    }

    /// Bins a CSR matrix; absent entries (and stored NaNs, which are dropped) are missing.
    /// A row's columns may come in any order.
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
        // Blocks of rows are binned in parallel, each into its own part of the output: the
        // entries each block keeps (the present ones) are counted first.
        let n_blocks = n_rows.div_ceil(ROW_BLOCK);
        let block_rows = |b: usize| b * ROW_BLOCK..n_rows.min((b + 1) * ROW_BLOCK);
        let kept: Vec<usize> = (0..n_blocks)
            .into_par_iter()
            .map(|b| {
                let rows = block_rows(b);
                let entries = &values[indptr[rows.start]..indptr[rows.end]];
                entries.iter().filter(|v| !v.is_nan()).count()
            })
            .collect();
        let total = kept.iter().sum();
        let mut new_indptr = try_vec(n_rows + 1, 0_usize, what)?;
        let mut features = try_vec(total, 0_u32, what)?;
        let mut wide = try_vec(total, 0_u16, what)?;
        let mut jobs = Vec::with_capacity(n_blocks);
        let (mut rest_f, mut rest_w) = (&mut features[..], &mut wide[..]);
        let mut rest_p = &mut new_indptr[1..];
        let mut offset = 0;
        for (b, &n) in kept.iter().enumerate() {
            let (f, tail_f) = std::mem::take(&mut rest_f).split_at_mut(n);
            let (w, tail_w) = std::mem::take(&mut rest_w).split_at_mut(n);
            let (p, tail_p) = std::mem::take(&mut rest_p).split_at_mut(block_rows(b).len());
            jobs.push((b, offset, f, w, p));
            (rest_f, rest_w, rest_p) = (tail_f, tail_w, tail_p);
            offset += n;
        }
        jobs.into_par_iter()
            .for_each(|(b, offset, features, wide, ends)| {
                let mut n = 0;
                for (r, end) in block_rows(b).zip(ends.iter_mut()) {
                    let start = n;
                    for k in indptr[r]..indptr[r + 1] {
                        if let Some(bin) = bin_of(cuts, indices[k], values[k]) {
                            (features[n], wide[n]) = (indices[k] as u32, bin);
                            n += 1;
                        }
                    }
                    // A row's entries are looked up by feature (`bin`) and read feature by
                    // feature: rows whose columns come unsorted are sorted.
                    if !features[start..n].is_sorted() {
                        let mut row: Vec<(u32, u16)> = features[start..n]
                            .iter()
                            .copied()
                            .zip(wide[start..n].iter().copied())
                            .collect();
                        row.sort_by_key(|&(f, _)| f);
                        for (k, (f, b)) in row.into_iter().enumerate() {
                            (features[start + k], wide[start + k]) = (f, b);
                        }
                    }
                    *end = offset + n;
                }
            });
        let bins = if use_u8 {
            let mut narrow = try_with_capacity(wide.len(), what)?;
            narrow.par_extend(wide.par_iter().map(|&b| b as u8));
            BinStorage::U8(narrow)
        } else {
            BinStorage::U16(wide)
        };
        let sparse_columns = SparseColumns::of(&new_indptr, &features, &bins, n_cols)?;
        Ok(Self {
            n_rows,
            n_cols,
            bins,
            layout: BinLayout::Sparse {
                indptr: new_indptr,
                features,
            },
            wide: Vec::new(),
            narrow_features: Vec::new(),
            wide_features: Vec::new(),
            markers: Vec::new(),
            missing: vec![true; n_cols],
            narrow_columns: Vec::new(),
            wide_columns: Vec::new(),
            sparse_columns,
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

    /// The stored entries of a sparse matrix (for a dense one, its one-byte group; see
    /// [`BinnedMatrix::dense`]).
    pub fn storage(&self) -> &BinStorage {
        &self.bins
    }

    /// The entry layout.
    pub fn layout(&self) -> &BinLayout {
        &self.layout
    }

    /// A dense matrix's groups of one-byte and two-byte features; `None` for sparse ones.
    pub fn dense(&self) -> Option<DenseBins<'_>> {
        match (&self.layout, &self.bins) {
            (BinLayout::Dense, BinStorage::U8(narrow)) => Some(DenseBins {
                narrow,
                narrow_features: &self.narrow_features,
                wide: &self.wide,
                wide_features: &self.wide_features,
            }),
            _ => None,
        }
    }

    /// Bytes the bins take, the column-major copies included.
    pub fn bytes(&self) -> usize {
        self.bins.bytes()
            + 2 * self.wide.len()
            + self.narrow_columns.len()
            + 2 * self.wide_columns.len()
            + self.sparse_columns.bytes()
    }

    /// Feature `f`'s present entries, from the column copy of a sparse matrix (`None` for a
    /// dense one).
    pub fn sparse_column(&self, f: usize) -> Option<SparseColumn<'_>> {
        let c = &self.sparse_columns;
        let range = *c.indptr.get(f)?..*c.indptr.get(f + 1)?;
        Some(SparseColumn {
            rows: &c.rows[range.clone()],
            bins: &c.bins[range],
        })
    }

    /// Feature `f`'s bins of every row, from the column-major copy of a dense matrix
    /// (`None` for sparse matrices).
    pub fn column(&self, f: usize) -> Option<BinColumn<'_>> {
        let n = self.n_rows;
        if !matches!(self.layout, BinLayout::Dense) {
            return None;
        }
        #[allow(clippy::cast_possible_truncation)]
        let f32_ = f as u32;
        if let Ok(k) = self.narrow_features.binary_search(&f32_) {
            Some(BinColumn::U8(&self.narrow_columns[k * n..(k + 1) * n]))
        } else {
            let k = self.wide_features.binary_search(&f32_).ok()?;
            Some(BinColumn::U16(&self.wide_columns[k * n..(k + 1) * n]))
        }
    }

    /// The value that marks feature `f`'s missing entries in a dense matrix: its bin count,
    /// the first value past its bins, so that a histogram with one spare entry after the
    /// feature's bins can add every entry without a test. `None` when it has none (or the
    /// matrix is sparse).
    pub fn marker(&self, f: usize) -> Option<u16> {
        self.markers.get(f).copied().flatten()
    }

    /// Per feature, the value that marks its missing entries ([`BinnedMatrix::marker`]).
    pub fn markers(&self) -> &[Option<u16>] {
        &self.markers
    }

    /// Per feature, whether some row lacks it (every feature of a sparse matrix may).
    pub fn missing_features(&self) -> &[bool] {
        &self.missing
    }

    /// Whether any row lacks any feature.
    pub fn any_missing(&self) -> bool {
        self.missing.iter().any(|&m| m)
    }

    /// The bin of row `r`, feature `f`, or `None` when missing.
    pub fn bin(&self, r: usize, f: usize) -> Option<usize> {
        match &self.layout {
            BinLayout::Dense => {
                let b = match self.column(f)? {
                    BinColumn::U8(c) => u16::from(c[r]),
                    BinColumn::U16(c) => c[r],
                };
                (Some(b) != self.marker(f)).then_some(usize::from(b))
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
        assert_eq!(m.dense().unwrap().narrow_features, &[0, 1]);
        assert_eq!(m.marker(0), None);
        assert_eq!(m.marker(1), Some(3));
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
    fn sorted_columns_bin_as_the_search_does() {
        // Features of many values (two bytes at max_bin 1024), few, signed zeros, values
        // beyond the cuts of weighted sketches, missing values, all missing, categories;
        // more rows than a row block.
        let n_rows = 9_000;
        let n_cols = 6;
        let mut next = crate::test_support::uniform(0x2545_f491_4f6c_dd1d);
        let data: Vec<f32> = (0..n_rows * n_cols)
            .map(|k| {
                let u = next();
                match k % n_cols {
                    0 => (u * 1e4 - 5e3) as f32,
                    1 => (u * 7.0).floor() as f32,
                    2 if u < 0.5 => [-0.0, 0.0][(u * 4.0) as usize],
                    2 => u as f32,
                    3 if u < 0.1 => f32::NAN,
                    3 => (u * u * 100.0) as f32,
                    4 => f32::NAN,
                    _ => (u * 12.0).floor() as f32,
                }
            })
            .collect();
        let sorted = crate::test_support::sorted_columns(&data, n_rows, n_cols);
        let weights: Vec<f64> = (0..n_rows).map(|r| (r % 13) as f64 / 4.0).collect();
        let mut categories = vec![None; n_cols];
        categories[5] = Some(12);
        for max_bin in [2, 16, 256, 1024] {
            for w in [None, Some(&weights[..])] {
                let cuts = QuantileCuts::from_dense(&data, n_rows, n_cols, w, max_bin).unwrap();
                for cuts in [cuts.clone(), cuts.with_categories(&categories).unwrap()] {
                    let want = BinnedMatrix::from_dense(&data, n_rows, n_cols, &cuts).unwrap();
                    let got = BinnedMatrix::from_sorted(&sorted, &cuts).unwrap();
                    assert_eq!(got, want, "max_bin {max_bin}");
                }
            }
        }
        // Cuts for another number of features.
        let few = QuantileCuts::from_dense(&data[..5], 1, 5, None, 4).unwrap();
        assert!(BinnedMatrix::from_sorted(&sorted, &few).is_err());
    }

    #[test]
    fn wide_features_use_two_bytes() {
        let data: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        let cuts = QuantileCuts::from_dense(&data, 1000, 1, None, 512).unwrap();
        let m = BinnedMatrix::from_dense(&data, 1000, 1, &cuts).unwrap();
        assert_eq!(m.dense().unwrap().wide_features, &[0]);
        assert_eq!(m.bytes(), 4000);
        // 256 bins without missing values still fit one byte.
        let cuts = QuantileCuts::from_dense(&data, 1000, 1, None, 256).unwrap();
        let m = BinnedMatrix::from_dense(&data, 1000, 1, &cuts).unwrap();
        assert_eq!(m.dense().unwrap().narrow_features, &[0]);
        assert_eq!(m.bin(999, 0), Some(255));
    }

    #[test]
    fn each_feature_takes_the_width_it_needs() {
        // Feature 0: 256 bins, no missing values (one byte); feature 1: 256 bins with missing
        // values (two bytes); feature 2: few bins with missing values (one byte, marked 255);
        // feature 3: 600 bins (two bytes).
        let n = 3000;
        let data: Vec<f32> = (0..n)
            .flat_map(|r| {
                let m = r % 7 == 3;
                [
                    r as f32,
                    if m { f32::NAN } else { (r * 13 % n) as f32 },
                    if r % 5 == 1 { f32::NAN } else { (r % 9) as f32 },
                    (r % 600) as f32,
                ]
            })
            .collect();
        let cuts = QuantileCuts::from_dense(&data, n, 4, None, 256).unwrap();
        let cuts = cuts
            .with_categories(&[None, None, None, Some(600)])
            .unwrap();
        let m = BinnedMatrix::from_dense(&data, n, 4, &cuts).unwrap();
        let d = m.dense().unwrap();
        assert_eq!(d.narrow_features, &[0, 2]);
        assert_eq!(d.wide_features, &[1, 3]);
        assert_eq!(m.markers(), &[None, Some(256), Some(9), None]);
        assert_eq!(m.missing_features(), &[false, true, true, false]);
        assert_eq!(m.bytes(), n * (2 + 4) * 2);
        for r in 0..n {
            for f in 0..4 {
                assert_eq!(m.bin(r, f), cuts.search_bin(f, data[r * 4 + f]), "{r} {f}");
            }
        }
        // A part of a distributed fit whose other parts lack feature 0 somewhere groups it
        // as the whole data does: two bytes, as 256 bins and a marker need.
        let part =
            BinnedMatrix::from_dense_as(&data, n, 4, &cuts, &[true, false, false, false]).unwrap();
        assert_eq!(part.dense().unwrap().narrow_features, &[2]);
        assert_eq!(part.dense().unwrap().wide_features, &[0, 1, 3]);
        assert_eq!(part.missing_features(), &[true, true, true, false]);
        for r in 0..n {
            for f in 0..4 {
                assert_eq!(part.bin(r, f), m.bin(r, f), "{r} {f}");
            }
        }
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
        // The same rows with their columns in reverse order.
        let unsorted = BinnedMatrix::from_csr(
            &[0, 2, 3, 5],
            &[2, 0, 2, 1, 0],
            &[4.0, 1.0, 5.0, 3.0, 2.0],
            3,
            &cuts,
        )
        .unwrap();
        for r in 0..3 {
            for f in 0..3 {
                assert_eq!(d.bin(r, f), s.bin(r, f), "row {r} feature {f}");
                assert_eq!(d.bin(r, f), unsorted.bin(r, f), "row {r} feature {f}");
            }
        }
        // The column copy holds the same entries, by feature.
        for m in [&s, &unsorted] {
            for f in 0..3 {
                let c = m.sparse_column(f).unwrap();
                let from_column: Vec<Option<usize>> = (0..3_u32)
                    .map(|r| {
                        c.rows
                            .binary_search(&r)
                            .ok()
                            .map(|k| usize::from(c.bins[k]))
                    })
                    .collect();
                let from_rows: Vec<Option<usize>> = (0..3).map(|r| m.bin(r, f)).collect();
                assert_eq!(from_column, from_rows, "feature {f}");
            }
        }
        assert!(d.sparse_column(0).is_none());
        assert!(BinnedMatrix::from_csr(&[0, 2], &[0, 7], &[1.0, 2.0], 3, &cuts).is_err());
    }

    /// Sparse binning over several blocks of rows (run in parallel): NaNs dropped, unsorted
    /// rows sorted, every entry in its bin, and the column copy the same entries.
    #[test]
    fn sparse_binning_in_blocks_keeps_every_entry() {
        let mut u = crate::test_support::uniform(9);
        let (n_rows, n_cols) = (3 * ROW_BLOCK + 17, 12);
        let (mut indptr, mut indices, mut values) = (vec![0_usize], Vec::new(), Vec::new());
        for _ in 0..n_rows {
            let mut cols: Vec<usize> = (0..n_cols).filter(|_| u() < 0.25).collect();
            if u() < 0.3 {
                cols.reverse();
            }
            for c in cols {
                indices.push(c);
                values.push(if u() < 0.05 {
                    f32::NAN
                } else {
                    (u() * 40.0) as f32
                });
            }
            indptr.push(indices.len());
        }
        let cuts = QuantileCuts::from_csr(&indptr, &indices, &values, n_cols, None, 16).unwrap();
        let m = BinnedMatrix::from_csr(&indptr, &indices, &values, n_cols, &cuts).unwrap();
        for r in 0..n_rows {
            let mut want = vec![None; n_cols];
            for k in indptr[r]..indptr[r + 1] {
                want[indices[k]] = cuts.search_bin(indices[k], values[k]);
            }
            let got: Vec<Option<usize>> = (0..n_cols).map(|f| m.bin(r, f)).collect();
            assert_eq!(got, want, "row {r}");
        }
        for f in 0..n_cols {
            let c = m.sparse_column(f).unwrap();
            assert!(c.rows.is_sorted());
            for (&r, &b) in c.rows.iter().zip(c.bins) {
                assert_eq!(m.bin(r as usize, f), Some(usize::from(b)));
            }
            let present = (0..n_rows).filter(|&r| m.bin(r, f).is_some()).count();
            assert_eq!(c.rows.len(), present, "feature {f}");
        }
    }

    #[test]
    fn shape_mismatch_is_an_error() {
        let cuts = QuantileCuts::from_dense(&[1.0, 2.0], 1, 2, None, 4).unwrap();
        assert!(BinnedMatrix::from_dense(&[1.0, 2.0, 3.0], 1, 3, &cuts).is_err());
    }
}
