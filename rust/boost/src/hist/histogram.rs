//! Gradient histograms: per (feature, bin) sums of gradients and hessians over a node's rows.
//!
//! Rows are processed in blocks (sized by the row count alone) whose partial histograms are
//! added in block order, so the sums never depend on the thread count. A node's sibling comes from the parent by
//! subtraction, so only the smaller child is built from rows.

use rayon::prelude::*;

use super::matrix::{BinLayout, BinStorage, BinnedMatrix};
use super::prefetch::{prefetch, PREFETCH_DISTANCE};
use super::QuantileCuts;
use crate::gain::GradStats;

/// Fewest rows per block: smaller nodes are summed in one pass (a block costs a whole zeroed
/// histogram and its reduction, worth it only for a large share of rows).
pub const HIST_ROW_BLOCK: usize = 16384;

/// Most blocks per node: each block fills a whole histogram, so more would cost more in
/// zeroing and reduction than they gain in parallelism on the machines sapwood targets.
pub const HIST_MAX_BLOCKS: usize = 16;

/// A histogram over every bin of every feature. Compact: `cuts.total_bins()` entries, feature
/// `f`'s bins starting at `cuts.offset(f)`. Byte arrays (see [`array_stride`]): `stride`
/// entries a feature, feature `f`'s bins starting at `stride * f`, the rest of its array
/// unused.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    bins: Vec<GradStats>,
    /// Entries per feature with byte arrays; 0 when compact.
    stride: usize,
}

/// Adds the gradient pairs of `rows` into `out` (dense layout, bins of type `B`).
fn accumulate_dense<B: Copy + Into<u16>>(
    bins: &[B],
    n_cols: usize,
    offsets: &[usize],
    missing: Option<u16>,
    rows: &[u32],
    gpairs: &[(f32, f32)],
    out: &mut [GradStats],
) {
    for (i, &r) in rows.iter().enumerate() {
        if let Some(&ahead) = rows.get(i + PREFETCH_DISTANCE) {
            prefetch(bins, ahead as usize * n_cols);
            prefetch(gpairs, ahead as usize);
        }
        let r = r as usize;
        let pair = gpairs[r];
        let row = &bins[r * n_cols..(r + 1) * n_cols];
        for (&offset, &b) in offsets.iter().zip(row) {
            let b: u16 = b.into();
            if Some(b) != missing {
                out[offset + usize::from(b)].add_pair(pair.0, pair.1);
            }
        }
    }
}

/// Bytes of histogram that one pass over a chunk of rows updates when a node's rows lie close
/// together: 16 features of 256 bins, so that with 28 such features a pass updates about half
/// the histogram, which stays closer to L1, while the chunk's rows are still cached for the
/// next pass (the root histogram of 1M × 28 builds about 25% faster than in one pass).
const GROUP_BYTES: usize = 16 * 256 * size_of::<GradStats>();

/// Rows per chunk of those passes.
const GROUP_ROWS: usize = 2048;

/// Features per group of [`GROUP_BYTES`] with `S` entries a feature.
const fn group_features<const S: usize>() -> usize {
    GROUP_BYTES / (S * size_of::<GradStats>())
}

/// [`accumulate_dense`] into byte arrays of `S` entries a feature ([`Arrays`]): each
/// feature's part of `out` is an array indexed by the stored byte itself (masked to the
/// array, which changes no real bin), so a bin needs neither its feature's offset, nor a
/// bounds check, nor a test for the missing marker. Rows that lie close together (at least
/// one in eight of their span) are added in chunks, feature group by feature group; every bin
/// still receives its rows in row order.
fn accumulate_arrays<const S: usize>(
    bins: &[u8],
    n_cols: usize,
    rows: &[u32],
    gpairs: &[(f32, f32)],
    out: &mut [GradStats],
) {
    let (hists, _) = out.as_chunks_mut::<S>();
    let span = match (rows.first(), rows.last()) {
        (Some(&a), Some(&b)) => b.abs_diff(a) as usize + 1,
        _ => 0,
    };
    let group = if rows.len() * 8 >= span {
        group_features::<S>()
    } else {
        n_cols
    };
    for (c, chunk) in rows.chunks(GROUP_ROWS).enumerate() {
        for (g, first) in (0..n_cols).step_by(group.max(1)).enumerate() {
            let features = first..n_cols.min(first + group);
            let hists = &mut hists[features.clone()];
            for (i, &r) in chunk.iter().enumerate() {
                // The first group's pass brings each row in; later passes find it cached.
                if g == 0 {
                    if let Some(&ahead) = rows.get(c * GROUP_ROWS + i + PREFETCH_DISTANCE) {
                        prefetch(bins, ahead as usize * n_cols);
                        prefetch(gpairs, ahead as usize);
                    }
                }
                let r = r as usize;
                let row = &bins[r * n_cols + features.start..r * n_cols + features.end];
                add_array_row(hists, row, gpairs[r]);
            }
        }
    }
}

/// [`accumulate_arrays`] for the consecutive rows `range`.
fn accumulate_arrays_range<const S: usize>(
    bins: &[u8],
    n_cols: usize,
    range: std::ops::Range<usize>,
    gpairs: &[(f32, f32)],
    out: &mut [GradStats],
) {
    let (hists, _) = out.as_chunks_mut::<S>();
    let group = group_features::<S>();
    for start in range.clone().step_by(GROUP_ROWS) {
        let end = range.end.min(start + GROUP_ROWS);
        let rows = &bins[start * n_cols..end * n_cols];
        for first in (0..n_cols).step_by(group) {
            let features = first..n_cols.min(first + group);
            let hists = &mut hists[features.clone()];
            for (row, &pair) in rows.chunks_exact(n_cols.max(1)).zip(&gpairs[start..end]) {
                add_array_row(hists, &row[features.clone()], pair);
            }
        }
    }
}

#[inline(always)]
fn add_array_row<const S: usize>(hists: &mut [[GradStats; S]], row: &[u8], pair: (f32, f32)) {
    for (h, &b) in hists.iter_mut().zip(row) {
        h[usize::from(b) & (S - 1)].add_pair(pair.0, pair.1);
    }
}

/// [`accumulate_dense`] for the consecutive rows `range`: the bins are read in order, with no
/// row indices to follow.
fn accumulate_dense_range<B: Copy + Into<u16>>(
    bins: &[B],
    n_cols: usize,
    offsets: &[usize],
    missing: Option<u16>,
    range: std::ops::Range<usize>,
    gpairs: &[(f32, f32)],
    out: &mut [GradStats],
) {
    let rows = &bins[range.start * n_cols..range.end * n_cols];
    for (row, &pair) in rows.chunks_exact(n_cols.max(1)).zip(&gpairs[range]) {
        for (&offset, &b) in offsets.iter().zip(row) {
            let b: u16 = b.into();
            if Some(b) != missing {
                out[offset + usize::from(b)].add_pair(pair.0, pair.1);
            }
        }
    }
}

fn accumulate_sparse<B: Copy + Into<u16>>(
    bins: &[B],
    indptr: &[usize],
    features: &[u32],
    offsets: &[usize],
    rows: &[u32],
    gpairs: &[(f32, f32)],
    out: &mut [GradStats],
) {
    for &r in rows {
        let r = r as usize;
        let pair = gpairs[r];
        for k in indptr[r]..indptr[r + 1] {
            let b: u16 = bins[k].into();
            out[offsets[features[k] as usize] + usize::from(b)].add_pair(pair.0, pair.1);
        }
    }
}

/// The byte-array layout at one width: entries per feature, and the adders of a row list and
/// of consecutive rows at that width.
#[derive(Clone, Copy)]
struct Arrays {
    stride: usize,
    add_rows: AddList,
    add_range: AddRange,
}

/// Adds listed rows of a byte matrix (`n_cols` a row) into a histogram.
type AddList = fn(&[u8], usize, &[u32], &[(f32, f32)], &mut [GradStats]);

/// Adds consecutive rows of a byte matrix (`n_cols` a row) into a histogram.
type AddRange = fn(&[u8], usize, std::ops::Range<usize>, &[(f32, f32)], &mut [GradStats]);

impl Arrays {
    /// The layout at width `S`.
    fn of<const S: usize>() -> Self {
        Self {
            stride: S,
            add_rows: accumulate_arrays::<S>,
            add_range: accumulate_arrays_range::<S>,
        }
    }

    /// The layout of histograms over `cuts`, or `None` for the compact one. The arrays are
    /// the smallest power of two (16 to 256) that holds every feature's bins, and one more
    /// slot when entries are missing, whose marker byte (255) then lands, masked, in a slot
    /// no bin uses. They are taken for dense byte matrices whose features fill four fifths of
    /// them on average (continuous data at the default `max_bin`, with or without missing
    /// values), where dropping the per-bin offset and bounds check is worth the padding,
    /// which then costs at most a quarter more histogram memory.
    fn for_cuts(cuts: &QuantileCuts, dense_bytes: bool, any_missing: bool) -> Option<Self> {
        let n_cols = cuts.n_features();
        if !dense_bytes || n_cols == 0 {
            return None;
        }
        let slots = cuts.max_bins_per_feature() + usize::from(any_missing);
        let stride = slots.next_power_of_two().max(16);
        if 4 * n_cols * stride > 5 * cuts.total_bins() {
            return None;
        }
        match stride {
            16 => Some(Self::of::<16>()),
            32 => Some(Self::of::<32>()),
            64 => Some(Self::of::<64>()),
            128 => Some(Self::of::<128>()),
            256 => Some(Self::of::<256>()),
            _ => None,
        }
    }
}

/// How a fit's histograms are laid out: compact (`cuts.total_bins()` entries, feature `f`'s
/// bins from `cuts.offset(f)`) or one byte-indexed array per feature.
///
/// It derives from the cuts, which are global, and from two facts about the data as a whole
/// (whether all of it is stored as dense bytes, whether any value is missing), never from one
/// part's storage alone: every part of a distributed fit then lays its histograms out alike,
/// and they add entry by entry.
#[derive(Clone, Copy)]
pub struct HistLayout {
    arrays: Option<Arrays>,
    n_bins: usize,
    any_missing: bool,
}

impl std::fmt::Debug for HistLayout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistLayout")
            .field("stride", &self.stride())
            .field("n_bins", &self.n_bins)
            .field("any_missing", &self.any_missing)
            .finish()
    }
}

impl HistLayout {
    /// The layout for histograms over `cuts` when all of the data is stored as dense bytes
    /// (`dense_bytes`) and when any row may lack a feature (`any_missing`: a missing value,
    /// or an entry absent from sparse storage).
    pub fn new(cuts: &QuantileCuts, dense_bytes: bool, any_missing: bool) -> Self {
        let arrays = Arrays::for_cuts(cuts, dense_bytes, any_missing);
        let n_bins = arrays.map_or(cuts.total_bins(), |a| a.stride * cuts.n_features());
        Self {
            arrays,
            n_bins,
            any_missing,
        }
    }

    /// The layout when `matrix` is all of the data (one machine).
    pub fn of(matrix: &BinnedMatrix, cuts: &QuantileCuts) -> Self {
        let dense = matches!(matrix.layout(), BinLayout::Dense);
        let dense_bytes = dense
            && matches!(matrix.storage(), BinStorage::U8(_))
            && cuts.n_features() == matrix.n_cols();
        Self::new(
            cuts,
            dense_bytes,
            !dense || matrix.missing_marker().is_some(),
        )
    }

    /// Whether any row may lack a feature: then split search also tries sending the rows
    /// that lack it left.
    pub fn any_missing(&self) -> bool {
        self.any_missing
    }

    /// Entries in a histogram of this layout.
    pub fn n_bins(&self) -> usize {
        self.n_bins
    }

    /// Entries per feature with byte arrays; `None` when compact.
    pub fn stride(&self) -> Option<usize> {
        self.arrays.map(|a| a.stride)
    }

    /// Where each feature's bins start.
    fn offsets(&self, cuts: &QuantileCuts) -> Vec<usize> {
        (0..cuts.n_features())
            .map(|f| self.arrays.map_or(cuts.offset(f), |a| a.stride * f))
            .collect()
    }
}

/// The entries per feature when histograms over `matrix` take one array per feature, indexed
/// by the stored byte ([`accumulate_arrays`]); `None` for the compact layout.
pub fn array_stride(matrix: &BinnedMatrix, cuts: &QuantileCuts) -> Option<usize> {
    HistLayout::of(matrix, cuts).stride()
}

/// Sums `rows` in blocks sized by the row count alone, each block by `block`, and adds the
/// block sums in block order, so the result never depends on the thread count.
pub(super) fn sum_blocks<F>(rows: &[u32], n_bins: usize, block: F) -> Vec<GradStats>
where
    F: Fn(&[u32]) -> Vec<GradStats> + Sync + Send,
{
    if rows.len() <= HIST_ROW_BLOCK {
        return block(rows);
    }
    let block_rows = rows.len().div_ceil(HIST_MAX_BLOCKS).max(HIST_ROW_BLOCK);
    let parts: Vec<Vec<GradStats>> = rows.par_chunks(block_rows).map(block).collect();
    add_in_order(&parts, n_bins)
}

/// [`sum_blocks`] over the consecutive rows `0..n_rows`, in the same blocks.
fn sum_range_blocks<F>(n_rows: usize, n_bins: usize, block: F) -> Vec<GradStats>
where
    F: Fn(std::ops::Range<usize>) -> Vec<GradStats> + Sync + Send,
{
    if n_rows <= HIST_ROW_BLOCK {
        return block(0..n_rows);
    }
    let block_rows = n_rows.div_ceil(HIST_MAX_BLOCKS).max(HIST_ROW_BLOCK);
    let parts: Vec<Vec<GradStats>> = (0..n_rows.div_ceil(block_rows))
        .into_par_iter()
        .map(|b| block(b * block_rows..n_rows.min((b + 1) * block_rows)))
        .collect();
    add_in_order(&parts, n_bins)
}

/// The sum of block histograms, added in block order.
fn add_in_order(parts: &[Vec<GradStats>], n_bins: usize) -> Vec<GradStats> {
    let mut bins = vec![GradStats::default(); n_bins];
    for part in parts {
        for (acc, v) in bins.iter_mut().zip(part) {
            acc.add(*v);
        }
    }
    bins
}

impl Histogram {
    /// The stored entries, in the histogram's layout (compact or byte arrays).
    pub fn bins(&self) -> &[GradStats] {
        &self.bins
    }

    /// The stored entries, to add into.
    pub fn bins_mut(&mut self) -> &mut [GradStats] {
        &mut self.bins
    }

    /// A zero histogram in `layout`: what other parts' histograms are added into.
    pub fn zeros(layout: &HistLayout) -> Self {
        Self {
            bins: vec![GradStats::default(); layout.n_bins],
            stride: layout.arrays.map_or(0, |a| a.stride),
        }
    }

    /// Feature `f`'s bins.
    pub fn feature<'a>(&'a self, cuts: &QuantileCuts, f: usize) -> &'a [GradStats] {
        let start = if self.stride > 0 {
            self.stride * f
        } else {
            cuts.offset(f)
        };
        &self.bins[start..start + cuts.feature(f).len()]
    }

    /// Builds the histogram of `rows` (indices into `matrix`) from per-row gradient pairs, in
    /// the layout of `matrix` alone ([`HistLayout::of`]).
    pub fn build(
        matrix: &BinnedMatrix,
        cuts: &QuantileCuts,
        rows: &[u32],
        gpairs: &[(f32, f32)],
    ) -> Self {
        Self::build_in(&HistLayout::of(matrix, cuts), matrix, cuts, rows, gpairs)
    }

    /// Builds the histogram of `rows` (indices into `matrix`) from per-row gradient pairs, in
    /// the fit's `layout`.
    pub fn build_in(
        layout: &HistLayout,
        matrix: &BinnedMatrix,
        cuts: &QuantileCuts,
        rows: &[u32],
        gpairs: &[(f32, f32)],
    ) -> Self {
        let offsets = layout.offsets(cuts);
        let arrays = layout.arrays;
        let n_bins = layout.n_bins;
        let block = |chunk: &[u32]| -> Vec<GradStats> {
            let mut part = vec![GradStats::default(); n_bins];
            match (arrays, matrix.layout(), matrix.storage()) {
                (Some(a), BinLayout::Dense, BinStorage::U8(b)) => {
                    (a.add_rows)(b, matrix.n_cols(), chunk, gpairs, &mut part);
                }
                (_, BinLayout::Dense, BinStorage::U8(b)) => accumulate_dense(
                    b,
                    matrix.n_cols(),
                    &offsets,
                    matrix.missing_marker(),
                    chunk,
                    gpairs,
                    &mut part,
                ),
                (_, BinLayout::Dense, BinStorage::U16(b)) => accumulate_dense(
                    b,
                    matrix.n_cols(),
                    &offsets,
                    matrix.missing_marker(),
                    chunk,
                    gpairs,
                    &mut part,
                ),
                (_, BinLayout::Sparse { indptr, features }, BinStorage::U8(b)) => {
                    accumulate_sparse(b, indptr, features, &offsets, chunk, gpairs, &mut part)
                }
                (_, BinLayout::Sparse { indptr, features }, BinStorage::U16(b)) => {
                    accumulate_sparse(b, indptr, features, &offsets, chunk, gpairs, &mut part)
                }
            }
            part
        };
        Self {
            bins: sum_blocks(rows, n_bins, block),
            stride: arrays.map_or(0, |a| a.stride),
        }
    }

    /// [`Histogram::build`] over every row of `matrix` (`0..n_rows`, in order): the same sums,
    /// read straight through the matrix. Sparse matrices go through the row list.
    #[allow(clippy::cast_possible_truncation)]
    pub fn build_all(matrix: &BinnedMatrix, cuts: &QuantileCuts, gpairs: &[(f32, f32)]) -> Self {
        Self::build_all_in(&HistLayout::of(matrix, cuts), matrix, cuts, gpairs)
    }

    /// [`Histogram::build_all`] in the fit's `layout`.
    #[allow(clippy::cast_possible_truncation)]
    pub fn build_all_in(
        layout: &HistLayout,
        matrix: &BinnedMatrix,
        cuts: &QuantileCuts,
        gpairs: &[(f32, f32)],
    ) -> Self {
        let n_rows = matrix.n_rows();
        let (n_cols, missing) = (matrix.n_cols(), matrix.missing_marker());
        let arrays = layout.arrays;
        let n_bins = layout.n_bins;
        let dense = |bins: &(dyn Fn(std::ops::Range<usize>, &mut [GradStats]) + Sync)| {
            sum_range_blocks(n_rows, n_bins, |range| {
                let mut part = vec![GradStats::default(); n_bins];
                bins(range, &mut part);
                part
            })
        };
        let offsets = layout.offsets(cuts);
        let bins = match (arrays, matrix.layout(), matrix.storage()) {
            (Some(a), BinLayout::Dense, BinStorage::U8(b)) => dense(&|range, out| {
                (a.add_range)(b, n_cols, range, gpairs, out);
            }),
            (_, BinLayout::Dense, BinStorage::U8(b)) => dense(&|range, out| {
                accumulate_dense_range(b, n_cols, &offsets, missing, range, gpairs, out);
            }),
            (_, BinLayout::Dense, BinStorage::U16(b)) => dense(&|range, out| {
                accumulate_dense_range(b, n_cols, &offsets, missing, range, gpairs, out);
            }),
            (_, BinLayout::Sparse { .. }, _) => {
                let rows: Vec<u32> = (0..n_rows as u32).collect();
                return Self::build_in(layout, matrix, cuts, &rows, gpairs);
            }
        };
        Self {
            bins,
            stride: arrays.map_or(0, |a| a.stride),
        }
    }

    /// `parent - self`, computed in the parent's own buffer (which it takes over): the
    /// histogram of the sibling node, without allocating another.
    pub fn sibling_from(&self, mut parent: Histogram) -> Histogram {
        for (p, c) in parent.bins.iter_mut().zip(&self.bins) {
            *p = GradStats::difference(*p, *c);
        }
        parent
    }

    /// `parent - self`: the histogram of the sibling node, in a new buffer.
    pub fn sibling(&self, parent: &Histogram) -> Histogram {
        self.sibling_from(parent.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_array_stride_gives_the_plain_sums() {
        // (max_bin, missing values) -> the stride chosen, or compact.
        let (n_rows, n_cols) = (4000, 5);
        for (max_bin, missing, stride) in [
            (16, false, Some(16)),
            (63, true, Some(64)),
            (64, false, Some(64)),
            (64, true, None),
            (100, false, None),
            (128, false, Some(128)),
            (256, true, Some(256)),
        ] {
            let data: Vec<f32> = (0..n_rows * n_cols)
                .map(|k| {
                    if missing && k % 11 == 4 {
                        f32::NAN
                    } else {
                        ((k * 7919 + k / 7) % 10_007) as f32
                    }
                })
                .collect();
            let max_bin = if missing && max_bin == 256 {
                255
            } else {
                max_bin
            };
            let cuts = QuantileCuts::from_dense(&data, n_rows, n_cols, None, max_bin).unwrap();
            let m = BinnedMatrix::from_dense(&data, n_rows, n_cols, &cuts).unwrap();
            assert_eq!(
                array_stride(&m, &cuts),
                stride,
                "max_bin {max_bin}, missing {missing}"
            );
            let g: Vec<(f32, f32)> = (0..n_rows).map(|r| ((r % 9) as f32 - 4.1, 0.5)).collect();
            let near: Vec<u32> = (0..n_rows as u32).filter(|r| r % 5 != 2).collect();
            let scattered: Vec<u32> = (0..n_rows as u32).step_by(13).collect();
            for rows in [&near, &scattered] {
                let h = Histogram::build(&m, &cuts, rows, &g);
                for f in 0..n_cols {
                    let mut want = vec![GradStats::default(); cuts.feature(f).len()];
                    for &r in rows.iter() {
                        if let Some(b) = m.bin(r as usize, f) {
                            want[b].add_pair(g[r as usize].0, g[r as usize].1);
                        }
                    }
                    assert_eq!(h.feature(&cuts, f), &want[..], "max_bin {max_bin}, f {f}");
                }
            }
        }
    }

    #[test]
    fn byte_arrays_leave_missing_entries_out() {
        // 255 bins a feature and a missing marker: the marker's slot is outside every
        // feature's bins. One feature of few values keeps the padding under 1.25x.
        let (n_rows, n_cols) = (3000, 6);
        let data: Vec<f32> = (0..n_rows * n_cols)
            .map(|k| match (k % n_cols, k % 17) {
                (_, 3) => f32::NAN,
                (0, _) => (k % 5) as f32,
                _ => ((k * 7919) % 10_007) as f32,
            })
            .collect();
        let cuts = QuantileCuts::from_dense(&data, n_rows, n_cols, None, 255).unwrap();
        let m = BinnedMatrix::from_dense(&data, n_rows, n_cols, &cuts).unwrap();
        assert_eq!(m.missing_marker(), Some(255));
        assert_eq!(array_stride(&m, &cuts), Some(256));
        let g: Vec<(f32, f32)> = (0..n_rows).map(|r| ((r % 7) as f32 - 2.5, 1.5)).collect();
        let rows: Vec<u32> = (0..n_rows as u32).filter(|r| r % 4 != 1).collect();
        let h = Histogram::build(&m, &cuts, &rows, &g);
        for f in 0..n_cols {
            let mut want = vec![GradStats::default(); cuts.feature(f).len()];
            for &r in &rows {
                if let Some(b) = m.bin(r as usize, f) {
                    want[b].add_pair(g[r as usize].0, g[r as usize].1);
                }
            }
            assert_eq!(h.feature(&cuts, f), &want[..], "feature {f}");
        }
    }

    #[test]
    fn byte_arrays_and_feature_groups_give_the_plain_sums() {
        // 20 continuous features of 256 bins each (two feature groups), some rows close
        // together (grouped passes) and some far apart (one pass).
        let (n_rows, n_cols) = (6000, 20);
        let data: Vec<f32> = (0..n_rows * n_cols)
            .map(|k| ((k * 7919 + k / 13) % 100_003) as f32 / 7.0)
            .collect();
        let cuts = QuantileCuts::from_dense(&data, n_rows, n_cols, None, 256).unwrap();
        let m = BinnedMatrix::from_dense(&data, n_rows, n_cols, &cuts).unwrap();
        assert_eq!(array_stride(&m, &cuts), Some(256));
        let per_feature = |h: &Histogram| -> Vec<GradStats> {
            (0..n_cols)
                .flat_map(|f| h.feature(&cuts, f).to_vec())
                .collect()
        };
        let g: Vec<(f32, f32)> = (0..n_rows)
            .map(|r| (((r * 31) % 17) as f32 - 8.3, 0.1 + (r % 5) as f32))
            .collect();
        let all: Vec<u32> = (0..n_rows as u32).collect();
        let sparse: Vec<u32> = (0..n_rows as u32).step_by(11).collect();
        let near: Vec<u32> = (0..n_rows as u32).filter(|r| r % 3 != 0).collect();
        for rows in [&all, &sparse, &near] {
            let mut want = vec![GradStats::default(); cuts.total_bins()];
            for &r in rows.iter() {
                for f in 0..n_cols {
                    let b = m.bin(r as usize, f).unwrap();
                    want[cuts.offset(f) + b].add_pair(g[r as usize].0, g[r as usize].1);
                }
            }
            if rows.len() <= HIST_ROW_BLOCK {
                assert_eq!(per_feature(&Histogram::build(&m, &cuts, rows, &g)), want);
            }
        }
        // Blocks of several thousand rows: the same as the listed build of every row.
        assert_eq!(
            Histogram::build_all(&m, &cuts, &g),
            Histogram::build(&m, &cuts, &all, &g)
        );
    }

    fn brute(
        data: &[f32],
        n_cols: usize,
        cuts: &QuantileCuts,
        rows: &[u32],
        g: &[(f32, f32)],
    ) -> Vec<GradStats> {
        let mut out = vec![GradStats::default(); cuts.total_bins()];
        for &r in rows {
            for f in 0..n_cols {
                if let Some(b) = cuts.search_bin(f, data[r as usize * n_cols + f]) {
                    out[cuts.offset(f) + b].add_pair(g[r as usize].0, g[r as usize].1);
                }
            }
        }
        out
    }

    fn sample(n_rows: usize, n_cols: usize) -> (Vec<f32>, Vec<(f32, f32)>) {
        let data: Vec<f32> = (0..n_rows * n_cols)
            .map(|k| {
                let x = ((k * 7919) % 1009) as f32 / 37.0;
                if k % 13 == 0 {
                    f32::NAN
                } else {
                    x
                }
            })
            .collect();
        let g: Vec<(f32, f32)> = (0..n_rows)
            .map(|i| (((i * 31) % 17) as f32 - 8.0, 1.0 + (i % 3) as f32))
            .collect();
        (data, g)
    }

    #[test]
    fn histogram_equals_brute_force_and_sibling_subtracts() {
        let (n_rows, n_cols) = (5000, 4);
        let (data, g) = sample(n_rows, n_cols);
        let cuts = QuantileCuts::from_dense(&data, n_rows, n_cols, None, 32).unwrap();
        let m = BinnedMatrix::from_dense(&data, n_rows, n_cols, &cuts).unwrap();
        let all: Vec<u32> = (0..n_rows as u32).collect();
        let left: Vec<u32> = all.iter().copied().filter(|r| r % 3 == 0).collect();
        let right: Vec<u32> = all.iter().copied().filter(|r| r % 3 != 0).collect();
        let parent = Histogram::build(&m, &cuts, &all, &g);
        let l = Histogram::build(&m, &cuts, &left, &g);
        let r = l.sibling(&parent);
        let expect_r = brute(&data, n_cols, &cuts, &right, &g);
        for (a, b) in r.bins().iter().zip(&expect_r) {
            assert!((a.grad - b.grad).abs() < 1e-9 && (a.hess - b.hess).abs() < 1e-9);
        }
        assert_eq!(l.bins(), brute(&data, n_cols, &cuts, &left, &g).as_slice());
        assert_eq!(l.feature(&cuts, 1).len(), cuts.feature(1).len());
        assert_eq!(l.sibling_from(parent.clone()).bins(), r.bins());
    }

    #[test]
    fn sums_do_not_depend_on_the_thread_count() {
        let (n_rows, n_cols) = (20_000, 3);
        let (data, g) = sample(n_rows, n_cols);
        let cuts = QuantileCuts::from_dense(&data, n_rows, n_cols, None, 64).unwrap();
        let m = BinnedMatrix::from_dense(&data, n_rows, n_cols, &cuts).unwrap();
        let all: Vec<u32> = (0..n_rows as u32).collect();
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let three = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let a = one.install(|| Histogram::build(&m, &cuts, &all, &g));
        let b = three.install(|| Histogram::build(&m, &cuts, &all, &g));
        assert_eq!(a, b);
    }

    #[test]
    fn sparse_histogram_matches_dense() {
        // Column 0 = [1, _, 3, 2], column 1 = [_, 5, _, 6] as CSR.
        let dense = [1.0, f32::NAN, f32::NAN, 5.0, 3.0, f32::NAN, 2.0, 6.0];
        let cuts = QuantileCuts::from_dense(&dense, 4, 2, None, 16).unwrap();
        let d = BinnedMatrix::from_dense(&dense, 4, 2, &cuts).unwrap();
        let s = BinnedMatrix::from_csr(
            &[0, 1, 2, 3, 5],
            &[0, 1, 0, 0, 1],
            &[1.0, 5.0, 3.0, 2.0, 6.0],
            2,
            &cuts,
        )
        .unwrap();
        let g = [(1.0, 1.0), (2.0, 1.0), (3.0, 2.0), (4.0, 2.0)];
        let rows = [0, 1, 2, 3];
        assert_eq!(
            Histogram::build(&d, &cuts, &rows, &g),
            Histogram::build(&s, &cuts, &rows, &g)
        );
    }
}
