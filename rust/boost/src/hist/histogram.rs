//! Gradient histograms: per (feature, bin) sums of gradients and hessians over a node's rows.
//!
//! Dense rows are processed in blocks (sized by the row count alone) whose partial histograms
//! are added in block order; sparse rows in one pass per range of features. Either way the
//! sums never depend on the thread count. A node's sibling comes from the parent by
//! subtraction, so only the smaller child is built from rows.

use std::sync::Arc;

use rayon::prelude::*;

use super::matrix::{BinLayout, BinStorage, BinnedMatrix, DenseBins};
use super::prefetch::{prefetch, PREFETCH_DISTANCE};
use super::QuantileCuts;
use crate::gain::GradStats;

/// Fewest rows per block: smaller nodes are summed in one pass (a block costs a whole zeroed
/// histogram and its reduction, worth it only for a large share of rows).
pub const HIST_ROW_BLOCK: usize = 16384;

/// Most blocks per node: each block fills a whole histogram, so more would cost more in
/// zeroing and reduction than they gain in parallelism on the machines sapwood targets.
pub const HIST_MAX_BLOCKS: usize = 16;

/// A histogram over every bin of every feature, in its fit's [`HistLayout`]: feature `f`'s
/// bins start at `offsets[f]`.
///
/// A histogram summed from sparse rows also records which entries its rows reached (one bit
/// an entry, [`Touched`]): every other entry is zero, so subtraction, split search and
/// clearing visit those alone, and a node deep in a tree over wide sparse data costs what
/// its rows hold rather than what the histogram spans. Its buffer goes back to the layout's
/// spares, cleared, when it is dropped.
#[derive(Debug, Clone)]
pub struct Histogram {
    bins: Vec<GradStats>,
    offsets: Arc<[usize]>,
    /// The entries its rows reached (a superset of the non-zero ones); `None`: unknown.
    touched: Option<Touched>,
    /// Where the buffer goes, cleared, when the histogram is dropped.
    spares: Option<Spares>,
}

impl PartialEq for Histogram {
    fn eq(&self, other: &Self) -> bool {
        self.bins == other.bins && self.offsets == other.offsets
    }
}

impl Drop for Histogram {
    fn drop(&mut self) {
        if let (Some(touched), Some(spares)) = (&self.touched, &self.spares) {
            touched.clear(&mut self.bins);
            if let Ok(mut free) = spares.lock() {
                free.push(std::mem::take(&mut self.bins));
            }
        }
    }
}

/// Zeroed histogram buffers of one layout, kept for reuse: a sparse histogram is cleared
/// where its rows reached instead of zeroed whole.
type Spares = Arc<std::sync::Mutex<Vec<Vec<GradStats>>>>;

/// One bit per histogram entry: set where rows were added (entry `i` is bit `i % 64` of word
/// `i / 64`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Touched(Vec<u64>);

impl Touched {
    /// No entry touched, over `n` entries.
    pub(crate) fn none(n: usize) -> Self {
        Self(vec![0; n.div_ceil(64)])
    }

    /// Calls `f(i, len)` for the touched entries in `start..end`, ascending: a word wholly
    /// touched as one run (`len` 64), else each entry alone (`len` 1).
    #[inline]
    pub(crate) fn visit(&self, start: usize, end: usize, mut f: impl FnMut(usize, usize)) {
        if start >= end {
            return;
        }
        let (first, last) = (start / 64, (end - 1) / 64);
        for w in first..=last {
            let mut word = self.0[w];
            if w == first {
                word &= u64::MAX << (start % 64);
            }
            if w == last && !end.is_multiple_of(64) {
                word &= u64::MAX >> (64 - end % 64);
            }
            if word == u64::MAX {
                f(w * 64, 64);
                continue;
            }
            while word != 0 {
                f(w * 64 + word.trailing_zeros() as usize, 1);
                word &= word - 1;
            }
        }
    }

    /// Marks entry `i`.
    #[inline(always)]
    pub(crate) fn mark(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }

    /// Zeroes the touched entries of `bins`.
    fn clear(&self, bins: &mut [GradStats]) {
        self.visit(0, bins.len(), |i, len| {
            bins[i..i + len].fill(GradStats::default());
        });
    }

    /// Marks of `n` entries with those `at` marked.
    #[cfg(test)]
    pub(crate) fn marking(n: usize, at: &[usize]) -> Self {
        let mut marks = Self::none(n);
        for &i in at {
            marks.mark(i);
        }
        marks
    }

    /// ORs in `part`, a part's bits whose word 0 is this one's word `first_word`.
    fn merge(&mut self, first_word: usize, part: &[u64]) {
        for (w, &bits) in self.0[first_word..].iter_mut().zip(part) {
            *w |= bits;
        }
    }
}

/// Where one group's features land in a histogram: per feature of the group (in its order),
/// its first entry. Every feature has one spare entry past its bins, where its missing
/// entries (marked by its bin count, [`BinnedMatrix::marker`]) are added and left unread, so
/// a row is added without a test.
type Targets = [usize];

/// The two-byte features of a dense matrix, to be added by offset beside the byte arrays.
#[derive(Clone, Copy)]
struct Wide<'a> {
    bins: &'a [u16],
    targets: &'a Targets,
}

impl Wide<'_> {
    #[inline(always)]
    fn add_row(&self, r: usize, pair: (f32, f32), out: &mut [GradStats]) {
        let width = self.targets.len();
        if width == 0 {
            return;
        }
        let row = &self.bins[r * width..(r + 1) * width];
        add_targets(self.targets, row, pair, out);
    }
}

/// Adds one row's bins (`row`, one per target) into `out`.
#[inline(always)]
fn add_targets<B: Copy + Into<u16>>(
    targets: &Targets,
    row: &[B],
    pair: (f32, f32),
    out: &mut [GradStats],
) {
    for (&offset, &b) in targets.iter().zip(row) {
        let b: u16 = b.into();
        out[offset + usize::from(b)].add_pair(pair.0, pair.1);
    }
}

/// Adds the gradient pairs of `rows` into `out` from a dense matrix's two groups, each feature
/// by its offset (any layout).
fn accumulate_dense(
    d: &DenseBins<'_>,
    narrow: &Targets,
    wide: Wide<'_>,
    rows: &[u32],
    gpairs: &[(f32, f32)],
    out: &mut [GradStats],
) {
    let n8 = narrow.len();
    for (i, &r) in rows.iter().enumerate() {
        if let Some(&ahead) = rows.get(i + PREFETCH_DISTANCE) {
            prefetch(d.narrow, ahead as usize * n8);
            prefetch(wide.bins, ahead as usize * wide.targets.len());
            prefetch(gpairs, ahead as usize);
        }
        let r = r as usize;
        let pair = gpairs[r];
        add_targets(narrow, &d.narrow[r * n8..(r + 1) * n8], pair, out);
        wide.add_row(r, pair, out);
    }
}

/// [`accumulate_dense`] for the consecutive rows `range`.
fn accumulate_dense_range(
    d: &DenseBins<'_>,
    narrow: &Targets,
    wide: Wide<'_>,
    range: std::ops::Range<usize>,
    gpairs: &[(f32, f32)],
    out: &mut [GradStats],
) {
    let n8 = narrow.len();
    for r in range {
        let pair = gpairs[r];
        add_targets(narrow, &d.narrow[r * n8..(r + 1) * n8], pair, out);
        wide.add_row(r, pair, out);
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

/// [`accumulate_dense`] into byte arrays of `S` entries a feature ([`Arrays`]): each one-byte
/// feature's part of `out` is an array indexed by the stored byte itself (masked to the
/// array, which changes no real bin), so a bin needs neither its feature's offset, nor a
/// bounds check, nor a test for the missing marker. Rows that lie close together (at least
/// one in eight of their span) are added in chunks, feature group by feature group; every bin
/// still receives its rows in row order. The two-byte features follow, chunk by chunk, by
/// offset from the end of the arrays.
fn accumulate_arrays<const S: usize, const WIDE: bool>(
    bins: &[u8],
    n_cols: usize,
    wide: Wide<'_>,
    rows: &[u32],
    gpairs: &[(f32, f32)],
    out: &mut [GradStats],
) {
    let (hists, rest) = out.split_at_mut(S * n_cols);
    let (hists, _) = hists.as_chunks_mut::<S>();
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
                        if WIDE {
                            prefetch(wide.bins, ahead as usize * wide.targets.len());
                        }
                        prefetch(gpairs, ahead as usize);
                    }
                }
                let r = r as usize;
                let row = &bins[r * n_cols + features.start..r * n_cols + features.end];
                add_array_row(hists, row, gpairs[r]);
            }
        }
        if WIDE {
            for &r in chunk {
                let r = r as usize;
                wide.add_row(r, gpairs[r], rest);
            }
        }
    }
}

/// [`accumulate_arrays`] for the consecutive rows `range`.
fn accumulate_arrays_range<const S: usize, const WIDE: bool>(
    bins: &[u8],
    n_cols: usize,
    wide: Wide<'_>,
    range: std::ops::Range<usize>,
    gpairs: &[(f32, f32)],
    out: &mut [GradStats],
) {
    let (hists, rest) = out.split_at_mut(S * n_cols);
    let (hists, _) = hists.as_chunks_mut::<S>();
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
        if WIDE {
            for (r, &pair) in (start..end).zip(&gpairs[start..end]) {
                wide.add_row(r, pair, rest);
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

/// Adds the entries of the listed `rows` of a sparse matrix whose features lie in
/// `features_in` into `out`, which holds the histogram's entries from `base` on, and marks
/// each entry reached in `touched`, whose word 0 covers entries `64 * (base / 64)` on. A row's
/// entries ascend by feature, so those in range are contiguous.
#[allow(clippy::too_many_arguments)]
fn accumulate_sparse_range<B: Copy + Into<u16>>(
    bins: &[B],
    indptr: &[usize],
    features: &[u32],
    offsets: &[usize],
    rows: &[u32],
    gpairs: &[(f32, f32)],
    features_in: std::ops::Range<u32>,
    base: usize,
    out: &mut [GradStats],
    touched: &mut [u64],
) {
    let bit_base = base / 64 * 64;
    let (lo, hi) = (features_in.start, features_in.end);
    for (i, &r) in rows.iter().enumerate() {
        // The rows lie scattered through the entries: ask for a row's offsets two distances
        // ahead, and for its entries and gradients one distance ahead.
        if let Some(&far) = rows.get(i + 2 * PREFETCH_DISTANCE) {
            prefetch(indptr, far as usize);
        }
        if let Some(&near) = rows.get(i + PREFETCH_DISTANCE) {
            let at = indptr[near as usize];
            prefetch(features, at);
            prefetch(bins, at);
            prefetch(gpairs, near as usize);
        }
        let r = r as usize;
        let pair = gpairs[r];
        let (start, end) = (indptr[r], indptr[r + 1]);
        let first = if lo == 0 {
            start
        } else {
            start + features[start..end].partition_point(|&f| f < lo)
        };
        for k in first..end {
            let f = features[k];
            if f >= hi {
                break;
            }
            let b: u16 = bins[k].into();
            let at = offsets[f as usize] + usize::from(b);
            out[at - base].add_pair(pair.0, pair.1);
            let bit = at - bit_base;
            touched[bit / 64] |= 1 << (bit % 64);
        }
    }
}

/// Fewest rows for which a sparse node's histogram is summed in parallel, over ranges of
/// features: fewer rows cost less than the ranges' setup.
const SPARSE_PARALLEL_ROWS: usize = 4096;

/// Adds the listed `rows` of a sparse matrix into `out`, a histogram in the compact layout
/// (the one sparse data always takes: offsets ascend with the feature), in parallel over
/// ranges of features, and marks the entries reached in `touched`. Each range's bins receive
/// their rows in row order, as in one pass over all the rows, so the sums do not depend on
/// how many ranges there are; no partial histograms are zeroed or added, which for wide
/// sparse data cost more than the entries themselves.
#[allow(clippy::too_many_arguments)]
fn accumulate_sparse<B: Copy + Into<u16> + Sync>(
    bins: &[B],
    indptr: &[usize],
    features: &[u32],
    offsets: &[usize],
    rows: &[u32],
    gpairs: &[(f32, f32)],
    out: &mut [GradStats],
    touched: &mut Touched,
) {
    debug_assert!(offsets.is_sorted(), "sparse data takes the compact layout");
    #[allow(clippy::cast_possible_truncation)]
    let n_features = offsets.len() as u32;
    let pieces = if rows.len() < SPARSE_PARALLEL_ROWS {
        1
    } else {
        rayon::current_num_threads().min(offsets.len())
    };
    // Ranges of features holding about equal shares of the histogram, and where each's
    // entries start.
    let n_bins = out.len();
    let start_of = |f: u32| offsets.get(f as usize).copied().unwrap_or(n_bins);
    let mut bounds = vec![0_u32];
    for p in 1..pieces {
        #[allow(clippy::cast_possible_truncation)]
        let f = offsets.partition_point(|&o| o < n_bins * p / pieces) as u32;
        if f > bounds[bounds.len() - 1] && f < n_features {
            bounds.push(f);
        }
    }
    bounds.push(n_features);
    let mut parts = Vec::with_capacity(bounds.len() - 1);
    let mut rest = out;
    for w in bounds.windows(2) {
        let (head, tail) = rest.split_at_mut(start_of(w[1]) - start_of(w[0]));
        parts.push((w[0]..w[1], head));
        rest = tail;
    }
    if parts.len() == 1 {
        let (range, part) = parts.pop().expect("one range");
        let base = start_of(range.start);
        let marks = &mut touched.0[base / 64..];
        accumulate_sparse_range(
            bins, indptr, features, offsets, rows, gpairs, range, base, part, marks,
        );
        return;
    }
    // Ranges meet inside a word of marks, so each marks its own words, ORed in after.
    let marks: Vec<(usize, Vec<u64>)> = parts
        .into_par_iter()
        .map(|(range, part)| {
            let base = start_of(range.start);
            let end = base + part.len();
            let mut marks = vec![0_u64; end.div_ceil(64) - base / 64];
            accumulate_sparse_range(
                bins, indptr, features, offsets, rows, gpairs, range, base, part, &mut marks,
            );
            (base / 64, marks)
        })
        .collect();
    for (first_word, part) in &marks {
        touched.merge(*first_word, part);
    }
}

/// The byte-array layout at one width: entries per feature, and the adders of a row list and
/// of consecutive rows at that width.
#[derive(Clone, Copy)]
struct Arrays {
    stride: usize,
    /// The adders without two-byte features, then with.
    add_rows: [AddList; 2],
    add_range: [AddRange; 2],
}

/// Adds listed rows of a byte matrix (`n_cols` a row) and its two-byte features into a
/// histogram.
type AddList = fn(&[u8], usize, Wide<'_>, &[u32], &[(f32, f32)], &mut [GradStats]);

/// Adds consecutive rows of a byte matrix (`n_cols` a row) and its two-byte features into a
/// histogram.
type AddRange = fn(&[u8], usize, Wide<'_>, std::ops::Range<usize>, &[(f32, f32)], &mut [GradStats]);

impl Arrays {
    /// The layout at width `S`.
    fn of<const S: usize>() -> Self {
        Self {
            stride: S,
            add_rows: [accumulate_arrays::<S, false>, accumulate_arrays::<S, true>],
            add_range: [
                accumulate_arrays_range::<S, false>,
                accumulate_arrays_range::<S, true>,
            ],
        }
    }

    /// The byte arrays of histograms over `cuts`, and the features they hold, or `None` for
    /// the compact layout. The arrays hold the features whose bins, and a slot for missing
    /// entries where the feature has any (`missing`), fit in 256; the others follow them,
    /// compact. The arrays are the smallest power of two (16 to 256) that holds each of their
    /// features and its missing marker (its bin count), which lands in a slot no bin uses. They
    /// are taken for dense matrices whose byte-array features fill four fifths of them on
    /// average (continuous data at the default `max_bin`, with or without missing values),
    /// where dropping the per-bin offset and bounds check is worth the padding, which then
    /// costs at most a quarter more histogram memory.
    fn for_cuts(cuts: &QuantileCuts, dense: bool, missing: &[bool]) -> Option<(Self, Vec<u32>)> {
        if !dense {
            return None;
        }
        let slots = |f: usize| cuts.feature(f).len() + usize::from(missing[f]);
        #[allow(clippy::cast_possible_truncation)]
        let narrow: Vec<u32> = (0..cuts.n_features())
            .filter(|&f| slots(f) <= 256)
            .map(|f| f as u32)
            .collect();
        let most = narrow.iter().map(|&f| slots(f as usize)).max()?;
        let stride = most.next_power_of_two().max(16);
        let used: usize = narrow.iter().map(|&f| cuts.feature(f as usize).len()).sum();
        if 4 * narrow.len() * stride > 5 * used {
            return None;
        }
        let arrays = match stride {
            16 => Self::of::<16>(),
            32 => Self::of::<32>(),
            64 => Self::of::<64>(),
            128 => Self::of::<128>(),
            256 => Self::of::<256>(),
            _ => return None,
        };
        Some((arrays, narrow))
    }
}

/// How a fit's histograms are laid out: compact (each feature's bins and one spare entry,
/// feature after feature), or one byte-indexed array per feature kept in one byte followed
/// by the other features' bins (and a spare entry each), compact. The spare entry past a
/// feature's bins takes the rows that lack it ([`BinnedMatrix::marker`]) and is never read.
///
/// It derives from the cuts, which are global, and from two facts about the data as a whole
/// (whether all of it is stored dense, which features lack a value somewhere), never from
/// one part's storage alone: every part of a distributed fit then lays its histograms out
/// alike, and they add entry by entry. A part whose storage groups its features otherwise
/// is added by offset.
#[derive(Clone)]
pub struct HistLayout {
    arrays: Option<Arrays>,
    /// The features in byte arrays, ascending (empty when compact).
    array_features: Arc<[u32]>,
    /// Where each feature's bins start.
    offsets: Arc<[usize]>,
    n_bins: usize,
    any_missing: bool,
    /// Whether all of the data is stored dense.
    dense: bool,
    /// Cleared buffers of dropped sparse histograms, for the next ones to take.
    spares: Spares,
}

impl std::fmt::Debug for HistLayout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistLayout")
            .field("stride", &self.stride())
            .field("array_features", &self.array_features)
            .field("n_bins", &self.n_bins)
            .field("any_missing", &self.any_missing)
            .finish()
    }
}

impl HistLayout {
    /// The layout for histograms over `cuts` when all of the data is stored dense (`dense`)
    /// and `missing[f]` says whether any row may lack feature `f` (a missing value, or an
    /// entry absent from sparse storage).
    pub fn new(cuts: &QuantileCuts, dense: bool, missing: &[bool]) -> Self {
        let n_cols = cuts.n_features();
        let any_missing = missing.iter().any(|&m| m);
        match Arrays::for_cuts(cuts, dense, missing) {
            Some((arrays, narrow)) => {
                let mut offsets = vec![0; n_cols];
                let mut in_arrays = vec![false; n_cols];
                for (k, &f) in narrow.iter().enumerate() {
                    offsets[f as usize] = arrays.stride * k;
                    in_arrays[f as usize] = true;
                }
                let mut at = arrays.stride * narrow.len();
                for f in (0..n_cols).filter(|&f| !in_arrays[f]) {
                    offsets[f] = at;
                    at += cuts.feature(f).len() + 1;
                }
                Self {
                    arrays: Some(arrays),
                    array_features: narrow.into(),
                    offsets: offsets.into(),
                    n_bins: at,
                    any_missing,
                    dense,
                    spares: Spares::default(),
                }
            }
            None => Self {
                arrays: None,
                array_features: Arc::from([]),
                offsets: (0..n_cols).map(|f| cuts.offset(f) + f).collect(),
                n_bins: cuts.total_bins() + n_cols,
                any_missing,
                dense,
                spares: Spares::default(),
            },
        }
    }

    /// The layout when `matrix` is all of the data (one machine).
    pub fn of(matrix: &BinnedMatrix, cuts: &QuantileCuts) -> Self {
        let dense = matches!(matrix.layout(), BinLayout::Dense);
        Self::new(cuts, dense, matrix.missing_features())
    }

    /// Whether any row may lack a feature: then split search also tries sending the rows
    /// that lack it left.
    pub fn any_missing(&self) -> bool {
        self.any_missing
    }

    /// Whether all of the data is stored dense (else a node's bins are mostly empty).
    pub fn dense(&self) -> bool {
        self.dense
    }

    /// Entries in a histogram of this layout.
    pub fn n_bins(&self) -> usize {
        self.n_bins
    }

    /// Entries per byte array; `None` when compact.
    pub fn stride(&self) -> Option<usize> {
        self.arrays.map(|a| a.stride)
    }

    /// Where each feature's bins start.
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// How to add a dense matrix's rows in this layout: the byte arrays when its one-byte
    /// group is exactly their features (so its rows index them directly), and each group's
    /// targets. With the arrays, the two-byte group's offsets count from the end of the
    /// arrays.
    fn plan<'a>(&self, d: DenseBins<'a>) -> DensePlan<'a> {
        let arrays = self
            .arrays
            .filter(|_| d.narrow_features == &*self.array_features);
        let base = arrays.map_or(0, |a| a.stride * d.narrow_features.len());
        let of = |fs: &[u32], base: usize| {
            fs.iter()
                .map(|&f| self.offsets[f as usize] - base)
                .collect()
        };
        DensePlan {
            d,
            arrays,
            // The byte arrays index the one-byte group by position: no targets needed (a
            // node of few rows over many features would spend more on them than on its rows).
            narrow: if arrays.is_some() {
                Vec::new()
            } else {
                of(d.narrow_features, 0)
            },
            wide: of(d.wide_features, base),
        }
    }
}

/// How a dense matrix's rows are added in a layout ([`HistLayout::plan`]).
struct DensePlan<'a> {
    d: DenseBins<'a>,
    arrays: Option<Arrays>,
    /// The one-byte group's targets, without the byte arrays only.
    narrow: Vec<usize>,
    wide: Vec<usize>,
}

impl DensePlan<'_> {
    /// The two-byte group, added by offset.
    fn wide(&self) -> Wide<'_> {
        Wide {
            bins: self.d.wide,
            targets: &self.wide,
        }
    }

    /// Adds the listed `rows` into `out`.
    fn add_rows(&self, rows: &[u32], gpairs: &[(f32, f32)], out: &mut [GradStats]) {
        let n8 = self.d.narrow_features.len();
        match self.arrays {
            Some(a) => (a.add_rows[usize::from(!self.wide.is_empty())])(
                self.d.narrow,
                n8,
                self.wide(),
                rows,
                gpairs,
                out,
            ),
            None => accumulate_dense(&self.d, &self.narrow, self.wide(), rows, gpairs, out),
        }
    }

    /// Adds the consecutive rows `range` into `out`.
    fn add_range(
        &self,
        range: std::ops::Range<usize>,
        gpairs: &[(f32, f32)],
        out: &mut [GradStats],
    ) {
        let n8 = self.d.narrow_features.len();
        match self.arrays {
            Some(a) => (a.add_range[usize::from(!self.wide.is_empty())])(
                self.d.narrow,
                n8,
                self.wide(),
                range,
                gpairs,
                out,
            ),
            None => accumulate_dense_range(&self.d, &self.narrow, self.wide(), range, gpairs, out),
        }
    }
}

/// The entries per byte array when histograms over `matrix` take them, indexed by the stored
/// byte ([`accumulate_arrays`]); `None` for the compact layout.
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
    /// The stored entries, in the histogram's layout.
    pub fn bins(&self) -> &[GradStats] {
        &self.bins
    }

    /// The stored entries, to add into (which forgets which entries rows reached).
    pub fn bins_mut(&mut self) -> &mut [GradStats] {
        self.touched = None;
        &mut self.bins
    }

    /// A histogram of `bins` in `layout`, without marks.
    fn of_bins(layout: &HistLayout, bins: Vec<GradStats>) -> Self {
        Self {
            bins,
            offsets: Arc::clone(&layout.offsets),
            touched: None,
            spares: None,
        }
    }

    /// A zero histogram in `layout`: what other parts' histograms are added into.
    pub fn zeros(layout: &HistLayout) -> Self {
        Self::of_bins(layout, vec![GradStats::default(); layout.n_bins])
    }

    /// Feature `f`'s entries that rows reached, as `(marks, first)`: entry `first + i` of
    /// the marks is the feature's bin `i`. `None` when not known (every bin may be non-zero).
    #[inline]
    pub(crate) fn feature_marks(&self, f: usize) -> Option<(&Touched, usize)> {
        self.touched.as_ref().map(|t| (t, self.offsets[f]))
    }

    /// Feature `f`'s bins.
    #[inline]
    pub fn feature<'a>(&'a self, cuts: &QuantileCuts, f: usize) -> &'a [GradStats] {
        let start = self.offsets[f];
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
        _cuts: &QuantileCuts,
        rows: &[u32],
        gpairs: &[(f32, f32)],
    ) -> Self {
        let n_bins = layout.n_bins;
        let bins = match (matrix.dense(), matrix.layout(), matrix.storage()) {
            (Some(d), _, _) => {
                let plan = layout.plan(d);
                sum_blocks(rows, n_bins, |chunk| {
                    let mut part = vec![GradStats::default(); n_bins];
                    plan.add_rows(chunk, gpairs, &mut part);
                    part
                })
            }
            (None, BinLayout::Sparse { indptr, features }, storage) => {
                // One histogram, in parallel over features rather than over blocks of rows:
                // a wide sparse histogram is larger than the entries that fill it. Its
                // buffer is a cleared spare where one is left.
                let offsets = &layout.offsets;
                let spare = layout.spares.lock().ok().and_then(|mut free| free.pop());
                let mut bins = spare.unwrap_or_else(|| vec![GradStats::default(); n_bins]);
                let mut touched = Touched::none(n_bins);
                let (t, out) = (&mut touched, &mut bins[..]);
                match storage {
                    BinStorage::U8(b) => {
                        accumulate_sparse(b, indptr, features, offsets, rows, gpairs, out, t);
                    }
                    BinStorage::U16(b) => {
                        accumulate_sparse(b, indptr, features, offsets, rows, gpairs, out, t);
                    }
                }
                return Self {
                    bins,
                    offsets: Arc::clone(&layout.offsets),
                    touched: Some(touched),
                    spares: Some(Arc::clone(&layout.spares)),
                };
            }
            (None, BinLayout::Dense, _) => unreachable!("a dense matrix has dense bins"),
        };
        Self::of_bins(layout, bins)
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
        let n_bins = layout.n_bins;
        let Some(d) = matrix.dense() else {
            let rows: Vec<u32> = (0..n_rows as u32).collect();
            return Self::build_in(layout, matrix, cuts, &rows, gpairs);
        };
        let plan = layout.plan(d);
        let bins = sum_range_blocks(n_rows, n_bins, |range| {
            let mut part = vec![GradStats::default(); n_bins];
            plan.add_range(range, gpairs, &mut part);
            part
        });
        Self::of_bins(layout, bins)
    }

    /// `parent - self`, computed in the parent's own buffer (which it takes over): the
    /// histogram of the sibling node, without allocating another. Where the parent knows
    /// which entries its rows reached, only those are subtracted (a child's rows reach no
    /// others), and the sibling keeps the parent's marks.
    pub fn sibling_from(&self, mut parent: Histogram) -> Histogram {
        let subtract = |p: &mut [GradStats], c: &[GradStats]| {
            for (p, c) in p.iter_mut().zip(c) {
                *p = GradStats::difference(*p, *c);
            }
        };
        let n = parent.bins.len().min(self.bins.len());
        match parent.touched.take() {
            Some(marks) => {
                // In parallel blocks of entries: near the root the parent's marks cover most
                // of a wide histogram, and a split's other work is parallel too.
                const BLOCK: usize = 1 << 15;
                parent.bins[..n]
                    .par_chunks_mut(BLOCK)
                    .zip(self.bins[..n].par_chunks(BLOCK))
                    .enumerate()
                    .for_each(|(b, (p, c))| {
                        let start = b * BLOCK;
                        marks.visit(start, start + p.len(), |i, len| {
                            let i = i - start;
                            subtract(&mut p[i..i + len], &c[i..i + len]);
                        });
                    });
                parent.touched = Some(marks);
            }
            None => subtract(&mut parent.bins, &self.bins),
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
    use crate::hist::FeatureHistogram;

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
        assert_eq!(m.marker(1), Some(255));
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

    #[test]
    fn mixed_widths_give_the_plain_sums_in_every_layout() {
        // Features 0-2: 256 bins, 3: 256 bins and missing values, 4: 600 categories, 5: 200
        // bins and missing values. 3 and 4 take two bytes, the others one.
        let (n_rows, n_cols) = (6000, 6);
        let data: Vec<f32> = (0..n_rows)
            .flat_map(|r| {
                [
                    ((r * 7919) % 10_007) as f32,
                    ((r * 31 + 5) % 9_973) as f32 / 3.0,
                    (r as f32).sin(),
                    if r % 9 == 2 {
                        f32::NAN
                    } else {
                        ((r * 13) % 5000) as f32
                    },
                    ((r * 17) % 600) as f32,
                    if r % 4 == 1 {
                        f32::NAN
                    } else {
                        ((r * 3) % 200) as f32
                    },
                ]
            })
            .collect();
        let cuts = QuantileCuts::from_dense(&data, n_rows, n_cols, None, 256).unwrap();
        let cuts = cuts
            .with_categories(&[None, None, None, None, Some(600), None])
            .unwrap();
        let m = BinnedMatrix::from_dense(&data, n_rows, n_cols, &cuts).unwrap();
        let d = m.dense().unwrap();
        assert_eq!(d.narrow_features, &[0, 1, 2, 5]);
        assert_eq!(d.wide_features, &[3, 4]);
        let g: Vec<(f32, f32)> = (0..n_rows)
            .map(|r| (((r * 31) % 17) as f32 - 8.3, 0.1 + (r % 5) as f32))
            .collect();
        let own = HistLayout::of(&m, &cuts);
        assert_eq!(own.stride(), Some(256));
        // Another part's missing values put feature 2 among the two-byte ones: the arrays
        // hold 0, 1 and 5, and this matrix's rows are added by offset.
        let shared = HistLayout::new(&cuts, true, &[false, false, true, true, true, true]);
        assert_eq!(shared.stride(), Some(256));
        let compact = HistLayout::new(&cuts, false, m.missing_features());
        assert_eq!(compact.stride(), None);
        let all: Vec<u32> = (0..n_rows as u32).collect();
        let near: Vec<u32> = (0..n_rows as u32).filter(|r| r % 3 != 0).collect();
        let scattered: Vec<u32> = (0..n_rows as u32).step_by(11).collect();
        for layout in [&own, &shared, &compact] {
            for rows in [&all, &near, &scattered] {
                let h = Histogram::build_in(layout, &m, &cuts, rows, &g);
                assert_eq!(h.bins().len(), layout.n_bins());
                for f in 0..n_cols {
                    let mut want = vec![GradStats::default(); cuts.feature(f).len()];
                    for &r in rows.iter() {
                        if let Some(b) = m.bin(r as usize, f) {
                            want[b].add_pair(g[r as usize].0, g[r as usize].1);
                        }
                    }
                    assert_eq!(h.feature(&cuts, f), &want[..], "{layout:?}, feature {f}");
                }
            }
            assert_eq!(
                Histogram::build_all_in(layout, &m, &cuts, &g),
                Histogram::build_in(layout, &m, &cuts, &all, &g)
            );
        }
        // A few features, from either group.
        let sub = FeatureHistogram::build(&m, &cuts, &[4, 0, 3], &near, &g);
        let full = Histogram::build(&m, &cuts, &near, &g);
        for (i, f) in [4, 0, 3].into_iter().enumerate() {
            assert_eq!(sub.feature_bins(i), full.feature(&cuts, f));
        }
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
        // The bins of every feature one after another (the spare entries left out).
        let flat = |h: &Histogram| -> Vec<GradStats> {
            (0..n_cols)
                .flat_map(|f| h.feature(&cuts, f).to_vec())
                .collect()
        };
        let expect_r = brute(&data, n_cols, &cuts, &right, &g);
        for (a, b) in flat(&r).iter().zip(&expect_r) {
            assert!((a.grad - b.grad).abs() < 1e-9 && (a.hess - b.hess).abs() < 1e-9);
        }
        assert_eq!(flat(&l), brute(&data, n_cols, &cuts, &left, &g));
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

    /// An `n_rows` x `n_cols` CSR matrix of about `per_row` entries a row (ascending by
    /// feature), binned at `max_bin`, and a gradient pair a row, from one stream seeded by
    /// `seed`.
    fn sparse_sample(
        n_rows: usize,
        n_cols: usize,
        per_row: usize,
        seed: u64,
        max_bin: usize,
    ) -> (QuantileCuts, BinnedMatrix, Vec<(f32, f32)>) {
        let mut state = seed;
        let mut next = move |m: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % m
        };
        let (mut indptr, mut indices, mut values) = (vec![0_usize], Vec::new(), Vec::new());
        for _ in 0..n_rows {
            let mut cols: Vec<usize> = (0..per_row).map(|_| next(n_cols as u64) as usize).collect();
            cols.sort_unstable();
            cols.dedup();
            for c in cols {
                indices.push(c);
                values.push(next(1000) as f32 / 7.0);
            }
            indptr.push(indices.len());
        }
        let cuts =
            QuantileCuts::from_csr(&indptr, &indices, &values, n_cols, None, max_bin).unwrap();
        let m = BinnedMatrix::from_csr(&indptr, &indices, &values, n_cols, &cuts).unwrap();
        let g: Vec<(f32, f32)> = (0..n_rows)
            .map(|_| (next(2001) as f32 / 97.0 - 10.0, next(100) as f32 / 31.0))
            .collect();
        (cuts, m, g)
    }

    #[test]
    fn sparse_ranges_of_features_give_one_pass_sums_at_any_thread_count() {
        // 9,000 rows x 300 features, about 12 entries a row, sorted by feature.
        let (n_rows, n_cols) = (9000_usize, 300_usize);
        let (cuts, m, g) = sparse_sample(n_rows, n_cols, 12, 5, 64);
        let rows: Vec<u32> = (0..n_rows as u32).filter(|r| r % 3 != 1).collect();
        let layout = HistLayout::of(&m, &cuts);
        let BinLayout::Sparse { indptr, features } = m.layout() else {
            panic!("a CSR matrix is stored sparse");
        };
        let BinStorage::U8(bins) = m.storage() else {
            panic!("64 bins fit in a byte");
        };
        let mut one_pass = vec![GradStats::default(); layout.n_bins()];
        let mut marks = Touched::none(layout.n_bins());
        accumulate_sparse_range(
            bins,
            indptr,
            features,
            layout.offsets(),
            &rows,
            &g,
            0..n_cols as u32,
            0,
            &mut one_pass,
            &mut marks.0,
        );
        // The marks are exactly the entries the rows reach.
        let mut reached = vec![false; layout.n_bins()];
        for &r in &rows {
            for k in indptr[r as usize]..indptr[r as usize + 1] {
                reached[layout.offsets()[features[k] as usize] + usize::from(bins[k])] = true;
            }
        }
        let mut marked = vec![false; layout.n_bins()];
        marks.visit(0, layout.n_bins(), |i, len| marked[i..i + len].fill(true));
        assert_eq!(marked, reached);
        for threads in [1, 2, 3, 8] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let h = pool.install(|| Histogram::build_in(&layout, &m, &cuts, &rows, &g));
            assert_eq!(h.bins(), &one_pass[..], "{threads} threads");
            assert_eq!(h.touched.as_ref(), Some(&marks), "{threads} threads");
        }
    }

    #[test]
    fn marked_sparse_histograms_subtract_and_reuse_their_buffers_exactly() {
        // 40 features hold fewer entries than a block of the parallel subtraction, 400 more.
        for (n_cols, per_row) in [(40_usize, 4), (400, 40)] {
            let n_rows = 3000_usize;
            let (cuts, m, g) = sparse_sample(n_rows, n_cols, per_row, 11, 200);
            let layout = HistLayout::of(&m, &cuts);
            assert_eq!(layout.n_bins() > 1 << 15, n_cols == 400);
            let all: Vec<u32> = (0..n_rows as u32).collect();
            let mut next = crate::test_support::uniform(11);
            let (left, _): (Vec<u32>, Vec<u32>) = all.iter().partition(|_| next() < 0.2);
            let (ll, lr): (Vec<u32>, Vec<u32>) = left.iter().partition(|&&r| r % 2 == 0);
            let fresh = |rows: &[u32]| {
                let bins = Histogram::build_in(&layout, &m, &cuts, rows, &g)
                    .bins()
                    .to_vec();
                Histogram::of_bins(&layout, bins)
            };
            for _ in 0..3 {
                // Subtracting marked entries alone gives the full subtraction; the sibling keeps
                // the parent's marks, and a grandchild's sibling is again exact.
                let parent = Histogram::build_in(&layout, &m, &cuts, &all, &g);
                let marks = parent.touched.clone();
                let small = Histogram::build_in(&layout, &m, &cuts, &left, &g);
                let big = small.sibling_from(parent);
                assert_eq!(big.touched, marks);
                assert_eq!(big, fresh(&left).sibling_from(fresh(&all)));
                let leaf = Histogram::build_in(&layout, &m, &cuts, &ll, &g);
                let other = leaf.sibling_from(small);
                assert_eq!(other, fresh(&ll).sibling_from(fresh(&left)));
                // The sibling's entries off the marks are zero, as are its rows' sums there.
                let mut reached = vec![false; layout.n_bins()];
                let direct = fresh(&lr);
                let marks = other.touched.as_ref().expect("marked");
                marks.visit(0, layout.n_bins(), |i, len| reached[i..i + len].fill(true));
                for (i, b) in other.bins().iter().enumerate() {
                    assert!(reached[i] || (b.is_zero() && direct.bins()[i].is_zero()));
                }
                // The buffers dropped here return cleared, so the next round builds the same.
            }
            assert!(!layout.spares.lock().unwrap().is_empty());
            // Adding into a histogram forgets its marks: it is then treated as unmarked.
            let mut h = Histogram::build_in(&layout, &m, &cuts, &left, &g);
            h.bins_mut()[0].add(GradStats::new(1.0, 1.0));
            assert!(h.feature_marks(0).is_none());
        }
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
        let (hd, hs) = (
            Histogram::build(&d, &cuts, &rows, &g),
            Histogram::build(&s, &cuts, &rows, &g),
        );
        for f in 0..2 {
            assert_eq!(hd.feature(&cuts, f), hs.feature(&cuts, f));
        }
    }
}
