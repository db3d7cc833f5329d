//! Split evaluation: the best split of a node from its summed histograms and its gradient
//! sums, never from rows or gradient pairs (so the same code serves one machine and the sums
//! of many).
//!
//! For every candidate feature a forward scan over the bins (left = bins up to `i`, missing
//! rows go right, threshold `cut[i]`) and, only when the node has rows missing that feature,
//! a backward scan (missing rows go left, threshold the lower bound of bin `i`). Candidates are
//! compared with [`SplitCandidate::needs_replace`], within a feature and then across features
//! in the order given, so the result never depends on the thread count.

use std::sync::Arc;

use rayon::prelude::*;

use super::cuts::QuantileCuts;
use super::feature_histogram::FeatureHistogram;
use super::histogram::{Histogram, Touched};
use crate::gain::{Bounds, GradStats, SplitCandidate, SplitParams};

/// A split found from a histogram: the candidate and the bins that go left.
#[derive(Debug, Clone, Default)]
pub(crate) struct BinSplit {
    /// The split: feature, threshold, default direction, loss change and the children's sums.
    pub cand: SplitCandidate,
    /// Present rows whose bin is at most this go left (-1: none do); numeric splits only.
    pub left_max_bin: i32,
    /// A categorical split's right-going categories (= bins), ascending; `None` for a
    /// numeric split.
    pub right_categories: Option<Arc<[u32]>>,
}

/// The lower bound XGBoost records below a feature's smallest value.
fn lower_bound(min: f32) -> f32 {
    if min.is_finite() {
        min - (min.abs() + 1e-5)
    } else {
        f32::MIN
    }
}

/// Adds the bins from `start` on to `acc` until [`SCAN_CHUNK`] non-empty ones are added or
/// the bins end, writing the running sums after each non-empty bin to `acc_g`/`acc_h` and
/// its index to `at` (from its front). Returns how many were written, how many bins were
/// passed, and the sums. Each bin is added without a branch: an empty one adds zero and its
/// slots are overwritten by the next. Kept out of line: inlined into the whole scan, the
/// running sums went through the stack on every bin.
#[inline(never)]
#[allow(clippy::cast_possible_truncation)]
fn running_sums<const SKIP_EMPTY: bool>(
    bins: &[GradStats],
    start: usize,
    mut acc: GradStats,
    acc_g: &mut [f64; SCAN_CHUNK],
    acc_h: &mut [f64; SCAN_CHUNK],
    at: &mut [u32],
) -> (usize, usize, GradStats) {
    let n = bins.len();
    let (mut m, mut i) = (0, start);
    // Adds bin `i` (branch-free: an empty bin's slots are overwritten by the next).
    let mut step = |i: usize, m: &mut usize| {
        let b = bins[i];
        acc.add(b);
        (acc_g[*m], acc_h[*m], at[*m]) = (acc.grad, acc.hess, i as u32);
        *m += usize::from(!b.is_zero());
    };
    while SKIP_EMPTY && i < n && i % 4 != 0 && m < SCAN_CHUNK {
        step(i, &mut m);
        i += 1;
    }
    // With `SKIP_EMPTY`, four bins at a time: four empty ones add nothing and hold no
    // candidate, and are passed without a turn each of the chain of additions. Where few
    // runs are empty the test costs more than it saves.
    while SKIP_EMPTY && i + 4 <= n && m + 4 <= SCAN_CHUNK {
        let q = &bins[i..i + 4];
        if !(q[0].is_zero() & q[1].is_zero() & q[2].is_zero() & q[3].is_zero()) {
            for k in i..i + 4 {
                step(k, &mut m);
            }
        }
        i += 4;
    }
    while i < n && m < SCAN_CHUNK {
        step(i, &mut m);
        i += 1;
    }
    (m, i - start, acc)
}

/// The backward running sums of the bins at `at` into `bwd` (after bins `at[m-1-j..]` at
/// `j`, `m` bins listed): [`listed_sums`]'s backward way alone, for a scan that found its
/// forward sums as it listed the bins.
#[inline(never)]
fn backward_sums(bins: &[GradStats], at: &[u32], bwd: (&mut [f64], &mut [f64])) {
    let mut back = GradStats::default();
    for (&k, (g, h)) in at.iter().rev().zip(bwd.0.iter_mut().zip(bwd.1.iter_mut())) {
        back.add(bins[k as usize]);
        (*g, *h) = (back.grad, back.hess);
    }
}

/// A thread's room for the scans of one feature, grown to the most bins seen.
#[derive(Default)]
struct ScanBuffers {
    /// The indices of the feature's non-empty bins, ascending.
    at: Vec<u32>,
    /// Running sums after each listed bin, forward (`fwd`) and backward (`bwd`, from the
    /// last listed bin): gradients then hessians.
    fwd: (Vec<f64>, Vec<f64>),
    bwd: (Vec<f64>, Vec<f64>),
    /// The loss changes of one direction's candidates.
    loss: Vec<f32>,
}

impl ScanBuffers {
    /// Makes every buffer hold at least `n` values.
    fn reserve(&mut self, n: usize) {
        if self.at.len() < n {
            self.at.resize(n, 0);
            for v in [
                &mut self.fwd.0,
                &mut self.fwd.1,
                &mut self.bwd.0,
                &mut self.bwd.1,
            ] {
                v.resize(n, 0.0);
            }
            self.loss.resize(n, 0.0);
        }
    }
}

thread_local! {
    /// Each thread's [`ScanBuffers`].
    static SCAN: std::cell::RefCell<ScanBuffers> = std::cell::RefCell::new(ScanBuffers::default());
}

/// The running sums of the bins at `at`, both ways in one loop: forward into `fwd` (after
/// bins `at[..=j]` at `j`) and, where given, backward into `bwd` (after bins `at[m-1-j..]`
/// at `j`, `m` bins listed). Each way adds its bins in the same order as a scan of its own;
/// the two chains of additions are independent, so each hides the other's latency.
/// Returns the forward total.
#[inline(never)]
fn listed_sums(
    bins: &[GradStats],
    at: &[u32],
    fwd: (&mut [f64], &mut [f64]),
    bwd: Option<(&mut [f64], &mut [f64])>,
) -> GradStats {
    let mut acc = GradStats::default();
    let forward = at.iter().zip(fwd.0.iter_mut().zip(fwd.1.iter_mut()));
    match bwd {
        Some((bg, bh)) => {
            let mut back = GradStats::default();
            let backward = at.iter().rev().zip(bg.iter_mut().zip(bh.iter_mut()));
            for ((&i, (g, h)), (&k, (rg, rh))) in forward.zip(backward) {
                acc.add(bins[i as usize]);
                back.add(bins[k as usize]);
                (*g, *h, *rg, *rh) = (acc.grad, acc.hess, back.grad, back.hess);
            }
        }
        None => {
            for (&i, (g, h)) in forward {
                acc.add(bins[i as usize]);
                (*g, *h) = (acc.grad, acc.hess);
            }
        }
    }
    acc
}

/// Bins scanned per step: the running sums of a chunk are laid out first, then the loss
/// changes of the whole chunk are computed in one vectorisable loop.
const SCAN_CHUNK: usize = 64;

/// Loss changes of the splits whose one side (the left one when `side_is_left`) has the
/// running sums `(acc_g, acc_h)` (the other side holds the rest of `node`); `-inf` where a side
/// is too light or, under monotone constraints, where the children's weights break the
/// feature's constraint. Equal, bit for bit, to
/// `params.constrained_split_gain(left, right, node.bounds, constraint) - node.gain`.
fn loss_changes(
    acc_g: &[f64],
    acc_h: &[f64],
    node: &NodeSums,
    params: &SplitParams,
    constraint: i8,
    side_is_left: bool,
    out: &mut [f32],
) {
    let mcw = f64::from(params.min_child_weight);
    let node_gain = node.gain;
    let stats = node.stats;
    if params.reg_alpha == 0.0 && params.max_delta_step == 0.0 && !params.constrained {
        let plain = PlainGain {
            stats,
            lambda: f64::from(params.reg_lambda),
            mcw,
            node_gain,
        };
        plain.loss_changes(acc_g, acc_h, out);
    } else {
        for ((o, &g), &h) in out.iter_mut().zip(acc_g).zip(acc_h) {
            let side = GradStats { grad: g, hess: h };
            let rest = GradStats::difference(stats, side);
            let (left, right) = if side_is_left {
                (side, rest)
            } else {
                (rest, side)
            };
            *o = if side.hess >= mcw && rest.hess >= mcw {
                params.constrained_split_gain(left, right, node.bounds, constraint) - node_gain
            } else {
                f32::NEG_INFINITY
            };
        }
    }
}

/// [`loss_changes`] without L1, a weight cap or constraints, where the gain of a side is
/// `G^2 / (H + lambda)`: the node's sums, `lambda`, `min_child_weight` and the node's gain.
#[derive(Clone, Copy)]
struct PlainGain {
    stats: GradStats,
    lambda: f64,
    mcw: f64,
    node_gain: f32,
}

impl PlainGain {
    /// Writes the loss changes, with AVX2 where the processor has it.
    fn loss_changes(self, acc_g: &[f64], acc_h: &[f64], out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if avx2() {
            // SAFETY: `avx2()` holds only where the processor has AVX2.
            #[allow(unsafe_code)]
            unsafe {
                self.loss_changes_avx2(acc_g, acc_h, out);
            }
            return;
        }
        self.portable(acc_g, acc_h, out);
    }

    /// One loop without branches, so that it vectorises (the divisions dominate).
    #[inline(always)]
    fn portable(self, acc_g: &[f64], acc_h: &[f64], out: &mut [f32]) {
        let Self {
            stats,
            lambda,
            mcw,
            node_gain,
        } = self;
        for ((o, &g), &h) in out.iter_mut().zip(acc_g).zip(acc_h) {
            let (rg, rh) = (stats.grad - g, stats.hess - h);
            // Non-short-circuit `&` keeps the loop free of branches.
            let valid = (h > 0.0) & (rh > 0.0) & (h >= mcw) & (rh >= mcw);
            #[allow(clippy::cast_possible_truncation)]
            let loss = (g * g / (h + lambda)) as f32 + (rg * rg / (rh + lambda)) as f32 - node_gain;
            *o = if valid { loss } else { f32::NEG_INFINITY };
        }
    }

    /// [`PlainGain::portable`] compiled for AVX2: four divisions an instruction rather than
    /// two, and the same bits (IEEE division and rounding; no fused multiply-add).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn loss_changes_avx2(self, acc_g: &[f64], acc_h: &[f64], out: &mut [f32]) {
        self.portable(acc_g, acc_h, out);
    }
}

/// Whether the processor has AVX2 (found once).
#[cfg(target_arch = "x86_64")]
fn avx2() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| std::is_x86_feature_detected!("avx2"))
}

/// The position of the first loss change strictly above `floor` and above every earlier one
/// (XGBoost's replacement rule within a feature); infinite values never win. That is the
/// first position of the largest finite value, if it beats `floor`: the largest is found in
/// eight independent lanes (so the loop vectorises), and its position only when it wins,
/// which few chunks do.
fn first_best(loss: &[f32], floor: f32) -> Option<usize> {
    const LANES: usize = 8;
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let chunks = loss.chunks_exact(LANES);
    let rest = chunks.remainder();
    let take = |lane: &mut f32, l: f32| {
        // NaN and +inf compare false and are passed over, as in the rule.
        if l > *lane && l != f32::INFINITY {
            *lane = l;
        }
    };
    for c in chunks {
        for (lane, &l) in lanes.iter_mut().zip(c) {
            take(lane, l);
        }
    }
    for (lane, &l) in lanes.iter_mut().zip(rest) {
        take(lane, l);
    }
    let top = lanes
        .iter()
        .fold(f32::NEG_INFINITY, |m, &l| if l > m { l } else { m });
    if top > floor {
        loss.iter().position(|&l| l == top)
    } else {
        None
    }
}

/// The best of a chunk of candidate splits of `node` whose one side (the left one when
/// `side_is_left`) has the running sums `(acc_g, acc_h)`: the first whose loss change beats
/// `floor` and every earlier one ([`first_best`]), as its position in the chunk, its loss
/// change, that side's sums and the other side's. `loss` is room for the loss changes (at
/// least as many as the sums). A chunk may be a whole scan: the rule picks the same split.
#[allow(clippy::too_many_arguments)]
fn best_in_chunk(
    acc_g: &[f64],
    acc_h: &[f64],
    node: &NodeSums,
    params: &SplitParams,
    constraint: i8,
    side_is_left: bool,
    floor: f32,
    loss: &mut [f32],
) -> Option<(usize, f32, GradStats, GradStats)> {
    let loss = &mut loss[..acc_g.len()];
    loss_changes(acc_g, acc_h, node, params, constraint, side_is_left, loss);
    let j = first_best(loss, floor)?;
    let side = GradStats {
        grad: acc_g[j],
        hess: acc_h[j],
    };
    Some((j, loss[j], side, GradStats::difference(node.stats, side)))
}

/// One feature's side of a split search: its summed bins and what they are cut at.
pub(crate) struct FeatureBins<'a> {
    /// The node's summed bins of the feature.
    pub bins: &'a [GradStats],
    /// The feature's cut values (bin `i` holds values up to `cut_values[i]`).
    pub cut_values: &'a [f32],
    /// The feature's smallest value (the lower bound of its first bin).
    pub min_value: f32,
    /// The feature's index.
    pub feature: u32,
    /// Whether most bins are expected empty (sparse storage): runs of empty bins are then
    /// passed four at a time. Either way gives the same split.
    pub sparse: bool,
    /// The bins the node's rows reached, where known: marks, and the entry of bin 0. Only
    /// those are visited; the split is the same.
    pub marks: Option<(&'a Touched, usize)>,
}

/// The node a split is searched for: its gradient sums, their gain, and the bounds its
/// children's weights are clipped to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NodeSums {
    /// Sums over the node's rows.
    pub stats: GradStats,
    /// The node's score (`params.gain(stats)`; under constraints at its weight clipped to
    /// its parent's bounds, as XGBoost scores it).
    pub gain: f32,
    /// The node's bounds (unbounded without constraints).
    pub bounds: Bounds,
}

/// The loss change of splitting `node` into `left` and `right` (XGBoost's `IsValid` and
/// `CalcSplitGain - root_gain`), `-inf` when a side is lighter than `min_child_weight`.
fn categorical_loss(left: GradStats, right: GradStats, node: &NodeSums, p: &SplitParams) -> f32 {
    let mcw = f64::from(p.min_child_weight);
    if left.hess >= mcw && right.hess >= mcw {
        p.constrained_split_gain(left, right, node.bounds, 0) - node.gain
    } else {
        f32::NEG_INFINITY
    }
}

/// The best split of one node on a categorical feature whose bin `c` holds category `c`:
/// XGBoost's search. With fewer categories than `max_cat_to_onehot`, each category against
/// the rest, the rows missing the feature going left (with the rest) and then right (with the
/// category). Otherwise the categories are stably sorted by their weight and, both ways, the
/// first `k` of them sent right with the missing rows left, or the last `k` left with the
/// missing rows right, for `k` below `max_cat_threshold`.
#[allow(clippy::cast_possible_truncation)]
fn evaluate_categorical(
    bins: &[GradStats],
    feature: u32,
    sums: NodeSums,
    p: &SplitParams,
) -> BinSplit {
    let node = sums.stats;
    let n = bins.len();
    let mut best = BinSplit::default();
    // The winner so far: its default direction, sums and which categories go right.
    let mut pick: Option<(bool, GradStats, GradStats, RightSet)> = None;
    let mut propose = |loss: f32, default_left, left, right, set: RightSet| {
        if loss != f32::INFINITY && best.cand.needs_replace(loss, feature) {
            best.cand.loss_chg = loss;
            best.cand.feature = feature;
            pick = Some((default_left, left, right, set));
        }
    };
    let mut order: Vec<u32> = Vec::new();
    if n < p.max_cat_to_onehot as usize {
        let mut present = GradStats::default();
        for b in bins {
            present.add(*b);
        }
        let missing = GradStats::difference(node, present);
        for (c, &b) in bins.iter().enumerate() {
            let one = RightSet::One(c as u32);
            let right = b;
            let left = GradStats::difference(node, right);
            propose(
                categorical_loss(left, right, &sums, p),
                true,
                left,
                right,
                one,
            );
            let mut right = b;
            right.add(missing);
            let left = GradStats::difference(node, right);
            propose(
                categorical_loss(left, right, &sums, p),
                false,
                left,
                right,
                one,
            );
        }
    } else {
        let weights: Vec<f32> = bins.iter().map(|&b| p.weight(b)).collect();
        order = (0..n as u32).collect();
        let scanned = (p.max_cat_threshold as usize).min(n);
        // XGBoost's stable sort by weight (compared by `<`, so -0 and 0 tie) is the order by
        // (weight, category), a total order as weights are never NaN. Only the `scanned`
        // first and last positions are read, so with many categories only those are sorted.
        let by_weight = |a: &u32, b: &u32| {
            weights[*a as usize]
                .partial_cmp(&weights[*b as usize])
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.cmp(b))
        };
        if n > 2 * scanned + 32 {
            order.select_nth_unstable_by(scanned - 1, by_weight);
            order[..scanned].sort_unstable_by(by_weight);
            let tail = n - scanned;
            order[scanned..].select_nth_unstable_by(tail - scanned, by_weight);
            order[tail..].sort_unstable_by(by_weight);
        } else {
            order.sort_unstable_by(by_weight);
        }
        // Forward: the first k + 1 sorted categories go right, missing rows left.
        let mut right = GradStats::default();
        for k in 0..scanned.saturating_sub(1) {
            right.add(bins[order[k] as usize]);
            let left = GradStats::difference(node, right);
            let loss = categorical_loss(left, right, &sums, p);
            propose(loss, true, left, right, RightSet::Prefix(k + 1));
        }
        // Backward: the categories from position k on go left, missing rows right.
        let mut left = GradStats::default();
        for k in ((n + 1 - scanned.max(1))..n).rev() {
            left.add(bins[order[k] as usize]);
            let right = GradStats::difference(node, left);
            let loss = categorical_loss(left, right, &sums, p);
            propose(loss, false, left, right, RightSet::Prefix(k));
        }
    }
    if let Some((default_left, left, right, set)) = pick {
        let cats: Vec<u32> = match set {
            RightSet::One(c) => vec![c],
            RightSet::Prefix(k) => {
                let mut cats = order[..k].to_vec();
                cats.sort_unstable();
                cats
            }
        };
        best.cand.threshold = 0.0;
        best.cand.default_left = default_left;
        best.cand.left = left;
        best.cand.right = right;
        best.left_max_bin = -1;
        best.right_categories = Some(cats.into());
    }
    best
}

/// The categories a candidate categorical split sends right.
#[derive(Clone, Copy)]
enum RightSet {
    /// One category (a one-hot split).
    One(u32),
    /// The first `k` categories in the sorted order (a partition split).
    Prefix(usize),
}

/// The best split of one node on one feature.
#[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
pub(crate) fn evaluate_feature(
    feature_bins: &FeatureBins<'_>,
    sums: NodeSums,
    maybe_missing: bool,
    params: &SplitParams,
    constraint: i8,
) -> BinSplit {
    let FeatureBins {
        bins,
        cut_values,
        min_value,
        feature,
        sparse,
        marks,
    } = *feature_bins;
    let node = sums.stats;
    let mut best = BinSplit::default();
    // The threshold is looked up once, for the feature's best: `left_max_bin` names it (the
    // forward scan's bin `b` and the backward scan's bin `b + 1` both cut at `cut[b]`).
    let propose = |best: &mut BinSplit, loss_chg: f32, default_left, left, right, lmb| {
        if best.cand.needs_replace(loss_chg, feature) {
            *best = BinSplit {
                cand: SplitCandidate {
                    loss_chg,
                    feature,
                    threshold: f32::NAN,
                    default_left,
                    left,
                    right,
                },
                left_max_bin: lmb,
                right_categories: None,
            };
        }
    };
    // A node has missing rows for this feature when the bins do not hold all its hessian.
    let has_missing =
        |acc: GradStats| maybe_missing && node.hess - acc.hess > 1e-9 * node.hess.abs().max(1.0);
    let n = bins.len();
    // Only non-empty bins are candidates: an empty bin repeats the previous candidate with an
    // equal loss change, which never replaces it (small nodes, and sparse features, have
    // few). The forward scan (left accumulates bins 0..=i, missing rows go right, threshold
    // cut[i]) lists them, and the backward scan (right accumulates bins i..end, missing rows
    // go left, threshold the lower bound of bin i) adds only those, as empty bins add
    // nothing.
    SCAN.with_borrow_mut(|buf| {
        buf.reserve(n);
        let ScanBuffers {
            at: at_buf,
            fwd,
            bwd,
            loss,
        } = buf;
        // Both scans list the same bins: `m` of them, the forward total, and whether the
        // backward sums are laid out already.
        let (m, total, backward_laid_out) = if let Some((marks, first)) = marks {
            // With marks, the non-empty bins are listed from them first; then both scans'
            // running sums are laid out together, and the forward loss changes in one go.
            let mut m = 0;
            marks.visit(first, first + n, |e, len| {
                let start = e - first;
                for (b, bin) in (start..).zip(&bins[start..start + len]) {
                    at_buf[m] = b as u32;
                    m += usize::from(!bin.is_zero());
                }
            });
            let at = &at_buf[..m];
            let (fg, fh) = (&mut fwd.0[..m], &mut fwd.1[..m]);
            let (bg, bh) = (&mut bwd.0[..m], &mut bwd.1[..m]);
            let total = listed_sums(bins, at, (fg, fh), maybe_missing.then_some((bg, bh)));
            let floor = best.cand.loss_chg;
            if let Some((j, loss_chg, left, right)) =
                best_in_chunk(fg, fh, &sums, params, constraint, true, floor, loss)
            {
                propose(&mut best, loss_chg, false, left, right, at[j] as i32);
            }
            (m, total, maybe_missing)
        } else {
            // Without marks, the forward scan adds every bin, in chunks, and lists the
            // non-empty ones as it goes.
            let mut acc_g = [0.0_f64; SCAN_CHUNK];
            let mut acc_h = [0.0_f64; SCAN_CHUNK];
            let mut acc = GradStats::default();
            let (mut i, mut filled) = (0, 0);
            while i < n {
                let at_rest = &mut at_buf[filled..];
                let (m, added, run) = if sparse {
                    running_sums::<true>(bins, i, acc, &mut acc_g, &mut acc_h, at_rest)
                } else {
                    running_sums::<false>(bins, i, acc, &mut acc_g, &mut acc_h, at_rest)
                };
                (i, acc) = (i + added, run);
                let at = &at_buf[filled..filled + m];
                filled += m;
                let (g, h) = (&acc_g[..m], &acc_h[..m]);
                let floor = best.cand.loss_chg;
                if let Some((j, loss_chg, left, right)) =
                    best_in_chunk(g, h, &sums, params, constraint, true, floor, loss)
                {
                    propose(&mut best, loss_chg, false, left, right, at[j] as i32);
                }
            }
            (filled, acc, false)
        };
        if !has_missing(total) {
            return;
        }
        // Backward, over the listed bins from the last: its loss changes in one go.
        let at = &at_buf[..m];
        let (bg, bh) = (&mut bwd.0[..m], &mut bwd.1[..m]);
        if !backward_laid_out {
            backward_sums(bins, at, (&mut *bg, &mut *bh));
        }
        let floor = best.cand.loss_chg;
        if let Some((j, loss_chg, right, left)) =
            best_in_chunk(bg, bh, &sums, params, constraint, false, floor, loss)
        {
            propose(
                &mut best,
                loss_chg,
                true,
                left,
                right,
                at[m - 1 - j] as i32 - 1,
            );
        }
    });
    // A proposal leaves the threshold NaN (the default candidate has 0).
    if best.cand.threshold.is_nan() {
        let lmb = best.left_max_bin;
        best.cand.threshold = match usize::try_from(lmb) {
            Ok(b) => cut_values[b],
            Err(_) => lower_bound(min_value),
        };
    }
    best
}

/// A node's summed histograms, as the evaluator reads them.
#[derive(Clone, Copy)]
pub(crate) enum NodeHistogram<'h> {
    /// Every bin of every feature.
    Full(&'h Histogram),
    /// The bins of the candidate features only, in the order of the candidates.
    Features(&'h FeatureHistogram),
}

/// Finds the best split of a node from its histograms and sums.
pub(crate) struct SplitEvaluator<'a> {
    cuts: &'a QuantileCuts,
    params: &'a SplitParams,
    /// Whether a row may lack a feature (missing values, or sparse storage): then the backward
    /// scan runs for a node whose bins do not hold all of its hessian.
    maybe_missing: bool,
    /// Monotone constraint per feature (empty: none).
    monotone: &'a [i8],
    /// Whether the data is stored sparse (most bins of a node empty).
    sparse: bool,
}

impl<'a> SplitEvaluator<'a> {
    /// An evaluator over `cuts` with the gain rules of `params` and the features' monotone
    /// constraints `monotone` (empty: none), for data stored sparse or not (`sparse`).
    pub fn new(
        cuts: &'a QuantileCuts,
        params: &'a SplitParams,
        maybe_missing: bool,
        monotone: &'a [i8],
        sparse: bool,
    ) -> Self {
        Self {
            cuts,
            params,
            maybe_missing,
            monotone,
            sparse,
        }
    }

    /// The best split of a node with sums, score and bounds `node` over the candidate
    /// `features` (in order). A full histogram's features are scanned in parallel; a feature
    /// histogram, built for a few sampled features, one after another.
    pub fn best_split(
        &self,
        node: NodeSums,
        features: &[usize],
        hist: NodeHistogram<'_>,
    ) -> BinSplit {
        let scan = |i: usize, f: usize| {
            let (bins, marks) = match hist {
                NodeHistogram::Full(h) => (h.feature(self.cuts, f), h.feature_marks(f)),
                NodeHistogram::Features(h) => (h.feature_bins(i), h.feature_marks(i)),
            };
            #[allow(clippy::cast_possible_truncation)]
            let feature_bins = FeatureBins {
                bins,
                cut_values: self.cuts.feature(f),
                min_value: self.cuts.min_value(f),
                feature: f as u32,
                sparse: self.sparse,
                marks,
            };
            if self.cuts.is_categorical(f) {
                return evaluate_categorical(bins, f as u32, node, self.params);
            }
            let constraint = self.monotone.get(f).copied().unwrap_or(0);
            evaluate_feature(
                &feature_bins,
                node,
                self.maybe_missing,
                self.params,
                constraint,
            )
        };
        let mut best = BinSplit::default();
        let mut keep_best = |s: &BinSplit| {
            if best.cand.needs_replace(s.cand.loss_chg, s.cand.feature) {
                best = s.clone();
            }
        };
        match hist {
            NodeHistogram::Full(_) => {
                let per_feature: Vec<BinSplit> = features
                    .par_iter()
                    .enumerate()
                    .map(|(i, &f)| scan(i, f))
                    .collect();
                per_feature.iter().for_each(&mut keep_best);
            }
            NodeHistogram::Features(_) => {
                for (i, &f) in features.iter().enumerate() {
                    keep_best(&scan(i, f));
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::TreeParams;

    /// XGBoost's partition search written plainly: a full stable sort, both scans.
    fn reference_partition(
        bins: &[GradStats],
        node: &NodeSums,
        p: &SplitParams,
    ) -> (f32, bool, Vec<u32>) {
        let n = bins.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| p.weight(bins[a]).partial_cmp(&p.weight(bins[b])).unwrap());
        let scanned = (p.max_cat_threshold as usize).min(n);
        let mut best = (0.0_f32, false, Vec::new());
        let mut right = GradStats::default();
        for k in 0..scanned - 1 {
            right.add(bins[order[k]]);
            let left = GradStats::difference(node.stats, right);
            let loss = categorical_loss(left, right, node, p);
            if loss > best.0 {
                best = (loss, true, order[..=k].iter().map(|&c| c as u32).collect());
            }
        }
        let mut left = GradStats::default();
        for k in (n + 1 - scanned..n).rev() {
            left.add(bins[order[k]]);
            let right = GradStats::difference(node.stats, left);
            let loss = categorical_loss(left, right, node, p);
            if loss > best.0 {
                best = (loss, false, order[..k].iter().map(|&c| c as u32).collect());
            }
        }
        best.2.sort_unstable();
        best
    }

    #[test]
    fn partition_search_equals_the_full_sort() {
        let mut seed = 7_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for case in 0..60 {
            let n = [5, 12, 40, 150, 700][case % 5];
            let tp = TreeParams {
                max_cat_to_onehot: 2,
                max_cat_threshold: [3, 8, 64][case % 3],
                min_child_weight: [0.0, 1.0][case % 2],
                ..TreeParams::default()
            };
            let p = SplitParams::from_tree_params(&tp, None);
            let mut stats = GradStats::default();
            let bins: Vec<GradStats> = (0..n)
                .map(|_| {
                    let r = next();
                    if r % 5 == 0 {
                        // Empty categories, and ties in weight.
                        return GradStats::default();
                    }
                    let g = ((r >> 8) % 2001) as f64 / 100.0 - 10.0;
                    let h = ((r >> 24) % 50) as f64 / 10.0 + 0.1;
                    GradStats::new(g.round(), h)
                })
                .collect();
            for b in &bins {
                stats.add(*b);
            }
            // Rows missing the feature.
            stats.add(GradStats::new(3.0, 2.0));
            let node = NodeSums {
                stats,
                gain: p.gain(stats),
                bounds: Bounds::default(),
            };
            let got = evaluate_categorical(&bins, 0, node, &p);
            let (loss, default_left, cats) = reference_partition(&bins, &node, &p);
            assert_eq!(got.cand.loss_chg, loss, "case {case}");
            if loss > 0.0 {
                assert_eq!(got.cand.default_left, default_left, "case {case}");
                assert_eq!(
                    got.right_categories.as_deref(),
                    Some(&cats[..]),
                    "case {case}"
                );
            }
        }
    }

    #[test]
    fn one_hot_sends_one_category_right() {
        let tp = TreeParams {
            min_child_weight: 0.0,
            ..TreeParams::default()
        };
        let p = SplitParams::from_tree_params(&tp, None);
        let bins = [
            GradStats::new(1.0, 1.0),
            GradStats::new(-6.0, 1.0),
            GradStats::new(1.5, 1.0),
        ];
        let mut stats = GradStats::new(2.0, 1.0); // missing rows
        for b in bins {
            stats.add(b);
        }
        let node = NodeSums {
            stats,
            gain: p.gain(stats),
            bounds: Bounds::default(),
        };
        let best = evaluate_categorical(&bins, 4, node, &p);
        assert_eq!(best.right_categories.as_deref(), Some(&[1_u32][..]));
        assert_eq!(best.cand.feature, 4);
        // The missing rows (gradient +2) sit better with the other categories, on the left.
        assert!(best.cand.default_left);
        assert_eq!(best.cand.right.grad, -6.0);
    }

    fn reference_scan(bins: &[GradStats], node: GradStats, p: &SplitParams) -> (f32, i32, bool) {
        let node_gain = p.gain(node);
        let mcw = f64::from(p.min_child_weight);
        let mut best = SplitCandidate::default();
        let mut at = (-2, false);
        let mut acc = GradStats::default();
        for (i, b) in bins.iter().enumerate() {
            acc.add(*b);
            let rest = GradStats::difference(node, acc);
            if acc.hess >= mcw && rest.hess >= mcw {
                let l = p.split_gain(acc, rest) - node_gain;
                if best.needs_replace(l, 3) {
                    best.loss_chg = l;
                    best.feature = 3;
                    at = (i as i32, false);
                }
            }
        }
        if node.hess - acc.hess <= 1e-9 * node.hess.abs().max(1.0) {
            return (best.loss_chg, at.0, at.1);
        }
        let mut acc = GradStats::default();
        for i in (0..bins.len()).rev() {
            acc.add(bins[i]);
            let rest = GradStats::difference(node, acc);
            if acc.hess >= mcw && rest.hess >= mcw {
                let l = p.split_gain(rest, acc) - node_gain;
                if best.needs_replace(l, 3) {
                    best.loss_chg = l;
                    best.feature = 3;
                    at = (i as i32 - 1, true);
                }
            }
        }
        (best.loss_chg, at.0, at.1)
    }

    #[test]
    fn first_best_follows_the_replacement_rule() {
        // The rule written plainly: take each value above the best so far.
        let rule = |loss: &[f32], floor: f32| {
            let (mut top, mut pick) = (floor, None);
            for (j, &l) in loss.iter().enumerate() {
                if l > top && l != f32::INFINITY {
                    (top, pick) = (l, Some(j));
                }
            }
            pick
        };
        let mut uniform = crate::test_support::uniform(3);
        #[allow(clippy::cast_precision_loss)]
        let mut next = move |m: u64| (uniform() * m as f64) as u64;
        let special = [
            f32::NEG_INFINITY,
            f32::INFINITY,
            f32::NAN,
            0.0,
            -0.0,
            1.5,
            1.5,
            -2.0,
        ];
        for case in 0..2000 {
            let n = 1 + next(SCAN_CHUNK as u64) as usize;
            let loss: Vec<f32> = (0..n)
                .map(|_| {
                    if next(3) == 0 {
                        special[next(special.len() as u64) as usize]
                    } else {
                        next(40) as f32 / 8.0 - 2.0
                    }
                })
                .collect();
            for floor in [
                f32::NEG_INFINITY,
                -0.0,
                0.0,
                1.5,
                2.0,
                next(40) as f32 / 8.0,
            ] {
                assert_eq!(
                    first_best(&loss, floor),
                    rule(&loss, floor),
                    "{case} {loss:?}"
                );
            }
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn vector_loss_changes_equal_the_portable_ones_bit_for_bit() {
        if !avx2() {
            return;
        }
        let mut next = crate::test_support::uniform(7);
        for case in 0_u32..200 {
            let n = 1 + case as usize % SCAN_CHUNK;
            // Running sums with empty sides, light sides and sides equal to the node.
            let g: Vec<f64> = (0..n).map(|_| next() * 40.0 - 20.0).collect();
            let h: Vec<f64> = (0..n)
                .map(|i| match i % 7 {
                    0 => 0.0,
                    1 => 30.0,
                    _ => (next() * 30.0).floor() / 4.0,
                })
                .collect();
            let plain = PlainGain {
                stats: GradStats::new(next() * 10.0 - 5.0, 30.0),
                lambda: f64::from(case % 3),
                mcw: f64::from(case % 4) * 0.5,
                node_gain: (next() * 3.0) as f32,
            };
            let mut portable = vec![0.0_f32; n];
            let mut vector = vec![1.0_f32; n];
            plain.portable(&g, &h, &mut portable);
            // SAFETY: the processor has AVX2 (checked above).
            #[allow(unsafe_code)]
            unsafe {
                plain.loss_changes_avx2(&g, &h, &mut vector);
            }
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&portable), bits(&vector), "case {case}");
        }
    }

    #[test]
    fn chunked_and_listed_scans_equal_the_candidate_by_candidate_scan() {
        let mut state = 17_u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 40) as f64 / f64::from(1u32 << 24)
        };
        for case in 0..200 {
            let n_bins = 1 + (next() * 700.0) as usize;
            let bins: Vec<GradStats> = (0..n_bins)
                .map(|_| {
                    if next() < 0.3 {
                        GradStats::default()
                    } else {
                        GradStats::new(next() * 4.0 - 2.0, (next() * 3.0).floor())
                    }
                })
                .collect();
            let mut node = GradStats::default();
            bins.iter().for_each(|b| node.add(*b));
            // Missing rows: extra sums the bins do not hold.
            node.add(GradStats::new(next() - 0.5, (next() * 4.0).floor()));
            let tp = TreeParams {
                reg_alpha: if case % 3 == 0 { 0.5 } else { 0.0 },
                max_delta_step: if case % 5 == 0 { 0.7 } else { 0.0 },
                min_child_weight: f64::from(case % 4),
                reg_lambda: f64::from(case % 2),
                ..TreeParams::default()
            };
            let p = SplitParams::from_tree_params(&tp, None);
            let cuts: Vec<f32> = (0..n_bins).map(|i| i as f32).collect();
            // Marks of the non-empty bins and some empty ones, the feature starting at
            // entry `first` of the marks.
            let first = case as usize * 7 % 150;
            let marked: Vec<usize> = (0..n_bins)
                .filter(|&i| !bins[i].is_zero() || next() < 0.2)
                .map(|i| first + i)
                .collect();
            let marks = Touched::marking(first + n_bins, &marked);
            for with_marks in [false, true] {
                let feature_bins = FeatureBins {
                    bins: &bins,
                    cut_values: &cuts,
                    min_value: -1.0,
                    feature: 3,
                    sparse: case % 2 == 0,
                    marks: with_marks.then_some((&marks, first)),
                };
                let sums = NodeSums {
                    stats: node,
                    gain: p.gain(node),
                    bounds: Bounds::default(),
                };
                let got = evaluate_feature(&feature_bins, sums, true, &p, 0);
                let (loss, lmb, default_left) = reference_scan(&bins, node, &p);
                assert_eq!(got.cand.loss_chg.to_bits(), loss.to_bits(), "case {case}");
                if lmb != -2 {
                    assert_eq!(
                        (got.left_max_bin, got.cand.default_left),
                        (lmb, default_left)
                    );
                    // The threshold is the cut below the right side's first bin.
                    let threshold = usize::try_from(lmb).map_or(lower_bound(-1.0), |b| cuts[b]);
                    assert_eq!(got.cand.threshold.to_bits(), threshold.to_bits());
                }
            }
        }
    }
}
