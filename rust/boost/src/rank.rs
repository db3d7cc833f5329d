//! Learning to rank: LambdaMART's gradients over query groups (`rank:pairwise`, `rank:ndcg`,
//! `rank:map`) and the ranking metrics (`ndcg`, `map`, `pre`), with XGBoost 3.x's semantics.
//!
//! Rows come in query groups, given as offsets (`groups[q]..groups[q + 1]` are the rows of
//! query `q`). Each round ranks every group's documents by score (a stable descending sort),
//! forms pairs of documents with different relevance (the pairs with one side among the top
//! `k` of that ranking, or `k` partners drawn per document), and gives each pair the logistic
//! loss of its score difference weighted by how much swapping the two changes the group's
//! metric. The unbiased variant divides each pair by position biases learnt from the loss
//! itself, as in Unbiased LambdaMART.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::BoostError;
use crate::objective::{Objective, ObjectiveParams};

/// How pairs are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PairMethod {
    /// Every pair with at least one document among the top `k` of the model's ranking.
    #[default]
    #[serde(rename = "topk")]
    TopK,
    /// `k` partners drawn at random for each document, among those of other relevance.
    #[serde(rename = "mean")]
    Mean,
}

impl PairMethod {
    /// Parses `topk` or `mean`.
    ///
    /// # Errors
    /// [`BoostError::InvalidParameter`] for any other name.
    pub fn from_name(name: &str) -> Result<Self, BoostError> {
        match name {
            "topk" => Ok(Self::TopK),
            "mean" => Ok(Self::Mean),
            _ => Err(BoostError::parameter(
                "lambdarank_pair_method",
                "'topk' or 'mean'",
                format!("{name:?}"),
            )),
        }
    }

    /// The name.
    pub fn name(self) -> &'static str {
        match self {
            Self::TopK => "topk",
            Self::Mean => "mean",
        }
    }
}

/// The truncation of the top-k pair method when `lambdarank_num_pair_per_sample` is unset.
const DEFAULT_TOP_K: u32 = 32;

/// The most positions whose bias the unbiased variant learns, with the mean pair method.
const MAX_BIAS_POSITIONS: usize = 32;

/// The clip of a pair's hessian and of the position biases.
const EPS: f64 = 1e-16;

/// The highest relevance degree of the exponential NDCG gain (`2^31 - 1` fits 32 bits).
pub const MAX_RELEVANCE: f32 = 31.0;

/// The number of pairs a document takes (`k`): `lambdarank_num_pair_per_sample`, or 32 for
/// the top-k method and 1 for the mean method.
pub fn num_pair(params: &ObjectiveParams) -> u32 {
    params
        .lambdarank_num_pair_per_sample
        .unwrap_or(match params.lambdarank_pair_method {
            PairMethod::TopK => DEFAULT_TOP_K,
            PairMethod::Mean => 1,
        })
}

/// The truncation of the metric the objective optimises: `k` for the top-k method, none for
/// the mean method.
pub fn truncation(params: &ObjectiveParams) -> Option<u32> {
    (params.lambdarank_pair_method == PairMethod::TopK).then(|| num_pair(params))
}

/// The discount of rank position `i` (from 0): `1 / log2(i + 2)`.
#[inline]
fn discount(i: usize) -> f64 {
    1.0 / (i as f64 + 2.0).log2()
}

/// The gain of a relevance degree: `2^y - 1` (the degree truncated to an integer) or `y`.
#[inline]
fn gain(y: f32, exp_gain: bool) -> f64 {
    if exp_gain {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let degree = y as u32;
        f64::from((1_u32 << degree.min(31)) - 1)
    } else {
        f64::from(y)
    }
}

thread_local! {
    /// Each thread's sort keys for [`rank_desc`], kept between the many small groups.
    static RANK_KEYS: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The stable descending order of `values` (indices into it), ties in index order.
///
/// Without NaN, each index is sorted by one integer key that orders by value, descending,
/// then by index: the keys are distinct, so an unstable sort of plain integers gives the
/// stable order, without a comparison that reads the values through the indices. (`-0.0` is
/// keyed as `0.0`, which it equals.)
fn rank_desc(values: &[f32], out: &mut Vec<usize>) {
    out.clear();
    if values.iter().any(|v| v.is_nan()) || u32::try_from(values.len()).is_err() {
        out.extend(0..values.len());
        out.sort_by(|&a, &b| {
            values[b]
                .partial_cmp(&values[a])
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        return;
    }
    RANK_KEYS.with_borrow_mut(|keys| {
        keys.clear();
        keys.extend(values.iter().enumerate().map(|(i, &v)| {
            // Ascending integers in the order of the floats, then complemented: descending.
            let bits = (v + 0.0).to_bits();
            let ascending = if bits >> 31 == 1 {
                !bits
            } else {
                bits | 0x8000_0000
            };
            (u64::from(!ascending) << 32) | i as u64
        }));
        keys.sort_unstable();
        #[allow(clippy::cast_possible_truncation)]
        out.extend(keys.iter().map(|&k| (k & 0xffff_ffff) as usize));
    });
}

/// The order [`rank_desc`] gives, found by insertion sort from `order` (a permutation of the
/// indices: the last round's ranking of the same documents, which scores that change a
/// little leave almost sorted), which it then holds. Where `values` hold a NaN, or the
/// insertion moves more than 8 entries per value, the full sort takes over.
fn rank_desc_from(values: &[f32], order: &mut [u32], out: &mut Vec<usize>) {
    let n = values.len();
    let fits = order.len() == n && u32::try_from(n).is_ok();
    if fits && !values.iter().any(|v| v.is_nan()) {
        // Descending by value, then ascending by index: the keys of `rank_desc`.
        let before = |a: u32, b: u32| {
            let (va, vb) = (values[a as usize], values[b as usize]);
            va > vb || (va == vb && a < b)
        };
        let mut budget = 8 * n;
        let mut sorted = true;
        'insert: for i in 1..n {
            let x = order[i];
            let mut j = i;
            while j > 0 && before(x, order[j - 1]) {
                order[j] = order[j - 1];
                j -= 1;
                if budget == 0 {
                    order[j] = x;
                    sorted = false;
                    break 'insert;
                }
                budget -= 1;
            }
            order[j] = x;
        }
        if sorted {
            out.clear();
            out.extend(order.iter().map(|&d| d as usize));
            return;
        }
    }
    rank_desc(values, out);
    if fits {
        for (o, &d) in order.iter_mut().zip(out.iter()) {
            #[allow(clippy::cast_possible_truncation)]
            let d = d as u32;
            *o = d;
        }
    }
}

/// Each group's documents in their given order (indices within the group), as `u32`; empty
/// when a group is too large for them (its ranking then always takes the full sort).
fn groups_order(groups: &[usize]) -> Vec<u32> {
    let fits = groups
        .windows(2)
        .all(|w| u32::try_from(w[1] - w[0]).is_ok());
    if !fits {
        return Vec::new();
    }
    let mut order = Vec::with_capacity(groups.last().copied().unwrap_or(0));
    for w in groups.windows(2) {
        #[allow(clippy::cast_possible_truncation)]
        order.extend(0..(w[1] - w[0]) as u32);
    }
    order
}

/// The inverse ideal DCG of one group, over its first `top` positions (0 when the group has
/// no relevant document).
fn inv_idcg(labels: &[f32], top: Option<u32>, exp_gain: bool, order: &mut Vec<usize>) -> f64 {
    rank_desc(labels, order);
    let n = top.map_or(labels.len(), |k| labels.len().min(k as usize));
    let idcg: f64 = (0..n)
        .map(|i| discount(i) * gain(labels[order[i]], exp_gain))
        .sum();
    if idcg == 0.0 {
        0.0
    } else {
        1.0 / idcg
    }
}

/// Checks query-group offsets against `n` rows.
///
/// # Errors
/// [`BoostError::InvalidInput`] unless the offsets start at 0, never decrease and end at `n`
/// (`[0]`: no groups, for no rows).
pub fn check_groups(groups: &[usize], n: usize, what: &str) -> Result<(), BoostError> {
    // No rows: no groups (`[0]`) or empty ones.
    if groups.is_empty() || groups[0] != 0 || groups[groups.len() - 1] != n {
        return Err(BoostError::InvalidInput(format!(
            "{what}: the query groups cover {} rows, but X has {n}",
            groups.last().copied().unwrap_or(0)
        )));
    }
    if groups.windows(2).any(|w| w[1] < w[0]) {
        return Err(BoostError::InvalidInput(format!(
            "{what}: the query group offsets decrease"
        )));
    }
    Ok(())
}

/// Checks relevance labels for a ranking objective.
///
/// # Errors
/// [`BoostError::InvalidInput`] for a negative or non-finite label, a label that is not 0 or
/// 1 for `rank:map`, and for `rank:ndcg` with the exponential gain, a fractional label or one
/// above 31.
pub fn check_labels(
    objective: Objective,
    params: &ObjectiveParams,
    labels: &[f32],
) -> Result<(), BoostError> {
    let name = objective.name();
    for &y in labels {
        if !y.is_finite() || y < 0.0 {
            return Err(BoostError::InvalidInput(format!(
                "relevance labels of {name} must be finite and non-negative, got {y}"
            )));
        }
        if objective == Objective::RankMap && y != 0.0 && y != 1.0 {
            return Err(BoostError::InvalidInput(format!(
                "relevance labels of rank:map must be 0 or 1, got {y}"
            )));
        }
        if objective == Objective::RankNdcg && params.ndcg_exp_gain {
            if y.fract() != 0.0 {
                return Err(BoostError::InvalidInput(format!(
                    "relevance labels of rank:ndcg must be integers when ndcg_exp_gain is on, \
                     got {y}"
                )));
            }
            if y > MAX_RELEVANCE {
                return Err(BoostError::InvalidInput(format!(
                    "relevance labels of rank:ndcg must be at most 31 with the exponential gain \
                     (2^y - 1), got {y}; set ndcg_exp_gain=False to use the label as the gain"
                )));
            }
        }
    }
    Ok(())
}

/// The minimal standard generator (`x <- 48271 x mod 2^31 - 1`), as C++'s `minstd_rand`.
struct MinStd(u64);

impl MinStd {
    fn new(seed: u32) -> Self {
        let s = u64::from(seed) % 2_147_483_647;
        Self(if s == 0 { 1 } else { s })
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0 * 48_271 % 2_147_483_647;
        self.0
    }

    /// A uniform integer in `[0, hi]` by downscaling with rejection (the draws of the
    /// reference implementation's standard library for this generator's range).
    fn below_or_eq(&mut self, hi: u64) -> u64 {
        const RANGE: u64 = 2_147_483_646 - 1;
        if hi >= RANGE {
            return self.next() - 1;
        }
        let span = hi + 1;
        let scaling = RANGE / span;
        let past = span * scaling;
        loop {
            let r = self.next() - 1;
            if r < past {
                return r / scaling;
            }
        }
    }
}

/// `1.5 * 2^52`: added to a double of magnitude below `2^51`, it leaves the nearest integer in
/// the low bits of the mantissa (and subtracted again, that integer as a double).
const ROUND_SHIFT: f64 = 6_755_399_441_055_744.0;
/// `ln 2` in two parts: the first with its low mantissa bits clear, so that a small integer
/// times it is exact.
const LN2_HI: f64 = 6.931_471_803_691_238e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;

/// `e^t` for `t` in `[-708, 709]` (where `2^n` below is a normal double), to about `1e-16`
/// relative, from double arithmetic written so that loops over it vectorise.
///
/// `t` is reduced to `r = t - n ln 2` with `n` the nearest integer to `t / ln 2` (so
/// `|r| <= ln 2 / 2`), `e^r` is its Taylor series to degree 12 (relative error below
/// `1e-15` there), and `2^n` is built from `n`'s bits. Only plain multiplies and adds are
/// used (no fused ones), so the results are the same with and without vector instructions.
#[inline(always)]
const fn exp_core(t: f64) -> f64 {
    let shifted = t * std::f64::consts::LOG2_E + ROUND_SHIFT;
    let n = shifted - ROUND_SHIFT;
    let r = (t - n * LN2_HI) - n * LN2_LO;
    // Estrin's scheme (a shallow tree of products, for short dependency chains).
    let r2 = r * r;
    let r4 = r2 * r2;
    let r8 = r4 * r4;
    let a0 = 1.0 + r;
    let a1 = 0.5 + r * (1.0 / 6.0);
    let a2 = 1.0 / 24.0 + r * (1.0 / 120.0);
    let a3 = 1.0 / 720.0 + r * (1.0 / 5_040.0);
    let a4 = 1.0 / 40_320.0 + r * (1.0 / 362_880.0);
    let a5 = 1.0 / 3_628_800.0 + r * (1.0 / 39_916_800.0);
    let a6 = 1.0 / 479_001_600.0;
    let p = (a0 + r2 * a1) + r4 * (a2 + r2 * a3) + r8 * ((a4 + r2 * a5) + r4 * a6);
    // `n + 1023` (between 1 and 2046) lands in the exponent field; the shift drops the
    // mantissa's high bits above it.
    let scale = f64::from_bits(shifted.to_bits().wrapping_add(1023) << 52);
    p * scale
}

/// `e^t` rounded to `f32` ([`exp_core`] of `t`, or 0 below `-200`, as the float one is).
/// Against the C library's `expf` over every float in `[-200, 88.7]`, it differs in about 1
/// in 13,000 of them, by one unit in the last place.
#[inline(always)]
const fn exp_f32(t: f32) -> f32 {
    #[allow(clippy::cast_possible_truncation)]
    let e = exp_core((t as f64).max(-200.0)) as f32;
    e
}

/// The largest exponent of a pair's sigmoid, and its exponential.
const EXP_CLIP: f32 = 88.7;
const EXP_AT_CLIP: f32 = exp_f32(EXP_CLIP);

/// The largest score magnitude whose exponentials [`TopKRows`] takes per document.
const DOC_EXP_LIMIT: f32 = 600.0;

/// The exponential of a pair's sigmoid, `e^min(-x, 88.7)` rounded to `f32` with
/// `x = s_high - s_low` (in `f32`), from the documents' `e^s_low` and `e^-s_high`
/// (`|s| <= DOC_EXP_LIMIT`): their product is `e^(s_low - s_high)`, and the factor
/// `e^eps` (a short series, `|eps|` being at most half a unit of `x`) moves it to the
/// rounded difference. This agrees with [`exp_f32`] but for the
/// rare values within about `1e-16` of halfway between two floats.
#[inline(always)]
fn pair_exp_by_doc(x: f32, s_high: f32, s_low: f32, e_low: f64, e_neg_high: f64) -> f32 {
    let t = -x;
    let eps = f64::from(t) - (f64::from(s_low) - f64::from(s_high));
    let correction = 1.0 + eps * (1.0 + eps * (0.5 + eps * (1.0 / 6.0)));
    #[allow(clippy::cast_possible_truncation)]
    let e = ((e_low * e_neg_high) * correction) as f32;
    if t < EXP_CLIP {
        e
    } else {
        EXP_AT_CLIP
    }
}

/// XGBoost's float sigmoid of a pair's score difference, `1 / (e^-x + 1 + 1e-16)` in `f32`
/// with the exponent clipped at 88.7, its exponential from [`exp_f32`].
#[inline(always)]
fn pair_sigmoid(x: f32) -> f32 {
    sigmoid_of_exp(exp_f32((-x).min(EXP_CLIP)))
}

/// The sigmoid from its exponential `e`: `1 / (e + 1 + 1e-16)`. `e + 1 >= 1`, so adding the
/// reference's `1e-16` to it changes nothing in `f32`.
#[inline(always)]
fn sigmoid_of_exp(e: f32) -> f32 {
    1.0 / (e + 1.0)
}

/// A pair's sigmoid of the score difference and its metric change, divided by the score
/// difference plus 0.01 when `norm_by_diff`.
#[inline(always)]
fn pair_terms(s_high: f32, s_low: f32, delta_metric: f64, norm_by_diff: bool) -> (f64, f64) {
    let sig = f64::from(pair_sigmoid(s_high - s_low));
    if norm_by_diff {
        (
            sig,
            delta_metric / (f64::from((s_high - s_low).abs()) + 0.01),
        )
    } else {
        (sig, delta_metric)
    }
}

/// A pair's lambda and hessian from [`pair_terms`], in `f64`.
#[inline(always)]
fn lambda_hess(sig: f64, delta_metric: f64) -> (f64, f64) {
    // `max(EPS)` as a compare and select: one instruction in vector loops, and a NaN gives
    // `EPS` either way.
    let h = sig * (1.0 - sig);
    let h = if h > EPS { h } else { EPS };
    ((sig - 1.0) * delta_metric, h * delta_metric * 2.0)
}

/// Pairs computed at once by [`TopKRows`] (one vector of `f64` with AVX2).
const PAIR_LANES: usize = 4;

/// Rows of pairs [`TopKRows`] computes before it adds them up.
const PAIR_BLOCK: usize = 8;

/// [`TopKRows`]'s buffers, kept between groups: the group's labels, scores, gradients and
/// hessians with room for a row's last lanes past its end, and a block of rows' pairs.
#[derive(Default)]
struct TopKScratch {
    ys: Vec<f32>,
    ss: Vec<f32>,
    grad: Vec<f32>,
    hess: Vec<f32>,
    /// A block of rows' pairs: the change in the metric (where given), the lambda (signed
    /// for the row's document) and the hessian.
    delta: Vec<f64>,
    lambda: Vec<f32>,
    pair_hess: Vec<f32>,
    /// Each document's `e^s` and `e^-s` (see [`pair_exp_by_doc`]).
    e_pos: Vec<f64>,
    e_neg: Vec<f64>,
    /// NDCG's gains and discounts by position.
    gains: Vec<f64>,
    discounts: Vec<f64>,
}

/// The top-k method's pairs of one group, whose labels and scores in rank order are `ys`
/// and `ss`: every pair with a document among the first `k` positions, row by row (the
/// document at position `i` with each one after it), into `grad` and `hess` (by position).
struct TopKRows<'a> {
    k: usize,
    norm_by_diff: bool,
    ys: &'a [f32],
    ss: &'a [f32],
    grad: &'a mut [f32],
    hess: &'a mut [f32],
    scratch: &'a mut TopKScratch,
}

/// The change in the metric (before its absolute value) when rank positions `i < j` swap.
enum PairDeltas<'a, D> {
    /// NDCG's, `((g_i d_i + g_j d_j) - (g_j d_i + g_i d_j)) / IDCG` from the gains and
    /// discounts by position (as [`delta_ndcg`]), computed with the pairs.
    Ndcg {
        gains: &'a [f64],
        discounts: &'a [f64],
        inv_idcg: f64,
    },
    /// `deltas(i, out)` writes those of position `i` with each later one (`out[t]` for
    /// position `i + 1 + t`).
    Given(D),
}

/// [`PairDeltas`]' closure type where none is given.
type NoDeltas = fn(usize, &mut [f64]);

impl TopKRows<'_> {
    /// Adds every pair's gradient and hessian and returns the sum of `-2 lambda` over the
    /// pairs (the top-k normalisation's input), with the metric's changes from `deltas`.
    /// With `avx2`, the processor's 256-bit vectors are used.
    ///
    /// The sums are XGBoost's, in its order: pair by pair, row by row. Rows are taken
    /// [`PAIR_BLOCK`] at a time, in two passes: the first computes each row's pairs
    /// [`PAIR_LANES`] at a time (vectorised) and adds their later documents' sides, each into
    /// its own element, row after row; the second adds each row's pairs up in order for the
    /// row's own document. Each document's exponential is taken once per group where the
    /// scores allow it ([`pair_exp_by_doc`]).
    #[inline(always)]
    fn run<D: Fn(usize, &mut [f64])>(self, avx2: bool, deltas: PairDeltas<'_, D>) -> f64 {
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: `avx2` is only set where the processor has AVX2 (`avx2_available`).
            #[allow(unsafe_code)]
            return unsafe { self.run_avx2(deltas) };
        }
        let _ = avx2;
        self.run_with(&PortablePairs, deltas)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn run_avx2<D: Fn(usize, &mut [f64])>(self, deltas: PairDeltas<'_, D>) -> f64 {
        self.run_with(&x86::Avx2Pairs, deltas)
    }

    #[inline(always)]
    fn run_with<K: PairKernel, D: Fn(usize, &mut [f64])>(
        self,
        kernel: &K,
        deltas: PairDeltas<'_, D>,
    ) -> f64 {
        const L: usize = PAIR_LANES;
        let Self {
            k,
            norm_by_diff,
            ys,
            ss,
            grad,
            hess,
            scratch: s,
        } = self;
        let cnt = ys.len();
        // Copies with room for the last lanes of a row (lanes past its end are masked).
        let padded = cnt + L;
        for (buf, from) in [
            (&mut s.ys, ys),
            (&mut s.ss, ss),
            (&mut s.grad, &*grad),
            (&mut s.hess, &*hess),
        ] {
            copy_padded(buf, from, padded);
        }
        // Room for a block of rows' pairs.
        let width = cnt.div_ceil(L) * L;
        for buf in [&mut s.lambda, &mut s.pair_hess] {
            buf.resize(PAIR_BLOCK * width, 0.0);
        }
        s.delta.resize(PAIR_BLOCK * width, 0.0);
        // The documents' exponentials, where every score allows them (no NaN either).
        let by_doc = ss.iter().all(|v| v.abs() <= DOC_EXP_LIMIT);
        if by_doc {
            s.e_pos.resize(padded, 0.0);
            s.e_neg.resize(padded, 0.0);
            kernel.doc_exps(&s.ss[..width], &mut s.e_pos[..width], &mut s.e_neg[..width]);
        }
        // NDCG's gains and discounts, with room past the end as the scores have.
        let (ndcg, inv_idcg) = match &deltas {
            PairDeltas::Ndcg {
                gains,
                discounts,
                inv_idcg,
            } => {
                copy_padded(&mut s.gains, &gains[..cnt], padded);
                copy_padded(&mut s.discounts, &discounts[..cnt], padded);
                (true, *inv_idcg)
            }
            PairDeltas::Given(_) => (false, 0.0),
        };
        let mut sum_lambda = 0.0_f64;
        let rows = cnt.min(k);
        for block in (0..rows).step_by(PAIR_BLOCK) {
            let block_rows = block..rows.min(block + PAIR_BLOCK);
            // The block's pairs first: they depend on no sum, so the processor overlaps
            // them. A row's pairs touch only later documents' sums, and those in row order.
            if let PairDeltas::Given(deltas) = &deltas {
                for i in block_rows.clone() {
                    let out = (i - block) * width;
                    deltas(i, &mut s.delta[out..out + cnt - i - 1]);
                }
            }
            kernel.rows(PairRows {
                first: block,
                rows: block_rows.len(),
                cnt,
                width,
                norm_by_diff,
                ys: &s.ys,
                ss: &s.ss,
                delta: &s.delta,
                ndcg: ndcg.then(|| NdcgDeltas {
                    gains: &s.gains,
                    discounts: &s.discounts,
                    inv_idcg,
                }),
                exps: by_doc.then(|| DocExps {
                    pos: &s.e_pos,
                    neg: &s.e_neg,
                }),
                lambda: &mut s.lambda,
                hess: &mut s.pair_hess,
                grad: &mut s.grad,
                hess_sum: &mut s.hess,
            });
            // Then each row's own document, its pairs added in order after what earlier
            // rows gave it.
            for i in block_rows {
                let (n, out) = (cnt - i - 1, (i - block) * width);
                let (mut gi, mut hi) = (s.grad[i], s.hess[i]);
                let pairs = s.lambda[out..out + n]
                    .iter()
                    .zip(&s.pair_hess[out..out + n]);
                for (&l, &h) in pairs {
                    gi += l;
                    hi += h;
                    // `-2 lambda` of the unsigned lambda, which is never positive.
                    sum_lambda += 2.0 * f64::from(l.abs());
                }
                s.grad[i] = gi;
                s.hess[i] = hi;
            }
        }
        grad.copy_from_slice(&s.grad[..cnt]);
        hess.copy_from_slice(&s.hess[..cnt]);
        sum_lambda
    }
}

/// `buf` set to `from` followed by zeros up to `len`.
fn copy_padded<T: Copy + Default>(buf: &mut Vec<T>, from: &[T], len: usize) {
    buf.clear();
    buf.extend_from_slice(from);
    buf.resize(len, T::default());
}

/// The pairs of `rows` top-k rows from row `first` of a group of `cnt` documents: each
/// row's document `i` with each of the `n = cnt - i - 1` later ones, row `r`'s pairs being
/// lanes `r * width..` of `delta` (their metric changes, before absolute values), `lambda`
/// and `hess`, in whole vectors of [`PAIR_LANES`] (lanes from `n` on lie past the row).
/// `ys`, `ss`, `grad` and `hess_sum` (and the exponentials) are by position, with room for
/// a row's last vector past `cnt`.
struct PairRows<'a> {
    first: usize,
    rows: usize,
    cnt: usize,
    width: usize,
    norm_by_diff: bool,
    ys: &'a [f32],
    ss: &'a [f32],
    delta: &'a [f64],
    /// Where set, the metric changes are NDCG's, from these rather than `delta`.
    ndcg: Option<NdcgDeltas<'a>>,
    /// The documents' exponentials, where the group's scores allow them; otherwise each
    /// pair takes [`exp_f32`].
    exps: Option<DocExps<'a>>,
    /// Out: each pair's lambda, signed for the row's document, and hessian (exact zeros
    /// for equal labels and for lanes past the row).
    lambda: &'a mut [f32],
    hess: &'a mut [f32],
    /// The documents' gradients and hessians: the later ones take their sides of the pairs.
    grad: &'a mut [f32],
    hess_sum: &'a mut [f32],
}

impl PairRows<'_> {
    /// Checks the lengths the kernels rely on.
    fn check(&self) {
        let rows_end = self.first + self.rows;
        let (padded, out) = (self.cnt + PAIR_LANES, self.rows * self.width);
        assert!(
            self.width.is_multiple_of(PAIR_LANES)
                && self.width >= self.cnt
                && rows_end <= self.cnt
                && self.ys.len() >= padded
                && self.ss.len() >= padded
                && self.grad.len() >= padded
                && self.hess_sum.len() >= padded
                && self.delta.len() >= out
                && self.lambda.len() >= out
                && self.hess.len() >= out
                && self
                    .exps
                    .as_ref()
                    .is_none_or(|e| e.pos.len() >= padded && e.neg.len() >= padded)
                && self
                    .ndcg
                    .as_ref()
                    .is_none_or(|d| { d.gains.len() >= padded && d.discounts.len() >= padded })
        );
    }
}

/// NDCG's changes for [`PairRows`] ([`PairDeltas::Ndcg`]), by position.
struct NdcgDeltas<'a> {
    gains: &'a [f64],
    discounts: &'a [f64],
    inv_idcg: f64,
}

/// The exponentials of [`pair_exp_by_doc`] for [`PairRows`]: each document's `e^s` and
/// `e^-s`.
struct DocExps<'a> {
    pos: &'a [f64],
    neg: &'a [f64],
}

/// Computes [`PairRows`], and the documents' exponentials. Every kernel gives the same
/// bits.
trait PairKernel {
    fn rows(&self, rows: PairRows<'_>);

    /// `e^s` into `pos` and `e^-s` into `neg` ([`exp_core`]) for each score of `ss`
    /// (`|s| <= DOC_EXP_LIMIT`), whose length is a whole number of [`PAIR_LANES`].
    fn doc_exps(&self, ss: &[f32], pos: &mut [f64], neg: &mut [f64]);
}

/// [`PairKernel`] in plain Rust, lane by lane.
struct PortablePairs;

impl PairKernel for PortablePairs {
    #[inline(always)]
    fn doc_exps(&self, ss: &[f32], pos: &mut [f64], neg: &mut [f64]) {
        for ((&v, p), n) in ss.iter().zip(pos).zip(neg) {
            *p = exp_core(f64::from(v));
            *n = exp_core(-f64::from(v));
        }
    }

    #[inline(always)]
    fn rows(&self, p: PairRows<'_>) {
        p.check();
        for r in 0..p.rows {
            let i = p.first + r;
            let (yi, si, n) = (p.ys[i], p.ss[i], p.cnt - i - 1);
            for t in 0..n.div_ceil(PAIR_LANES) * PAIR_LANES {
                let (j, out) = (i + 1 + t, r * p.width + t);
                let (yj, sj) = (p.ys[j], p.ss[j]);
                let i_high = yi > yj;
                // `s_high - s_low`: a sign flip of `si - sj` is exact.
                let diff = si - sj;
                let x = if i_high { diff } else { -diff };
                let d = match &p.ndcg {
                    Some(nd) => {
                        let (gi, di, gj, dj) =
                            (nd.gains[i], nd.discounts[i], nd.gains[j], nd.discounts[j]);
                        ((gi * di + gj * dj) - (gj * di + gi * dj)) * nd.inv_idcg
                    }
                    None => p.delta[out],
                }
                .abs();
                let d = if p.norm_by_diff {
                    d / (f64::from(x.abs()) + 0.01)
                } else {
                    d
                };
                let e = match &p.exps {
                    Some(doc) => {
                        let (s_high, s_low, e_low, e_neg_high) = if i_high {
                            (si, sj, doc.pos[j], doc.neg[i])
                        } else {
                            (sj, si, doc.pos[i], doc.neg[j])
                        };
                        pair_exp_by_doc(x, s_high, s_low, e_low, e_neg_high)
                    }
                    None => exp_f32((-x).min(EXP_CLIP)),
                };
                let (pair_lambda, h) = lambda_hess(f64::from(sigmoid_of_exp(e)), d);
                #[allow(clippy::cast_possible_truncation)]
                let (pair_lambda, h) = (pair_lambda as f32, h as f32);
                // Equal labels form no pair, nor do lanes past the row: exact zeros, which
                // leave every sum as it is.
                let keep = (t < n) & (yi != yj);
                let pair_lambda = if i_high { pair_lambda } else { -pair_lambda };
                let (pair_lambda, h) = if keep { (pair_lambda, h) } else { (0.0, 0.0) };
                p.lambda[out] = pair_lambda;
                p.hess[out] = h;
                p.grad[j] -= pair_lambda;
                p.hess_sum[j] += h;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86 {
    use std::arch::x86_64::{
        __m128, __m256d, _mm256_add_epi64, _mm256_add_pd, _mm256_and_pd, _mm256_blendv_pd,
        _mm256_castpd_si256, _mm256_castsi256_pd, _mm256_cvtepi32_epi64, _mm256_cvtpd_ps,
        _mm256_cvtps_pd, _mm256_div_pd, _mm256_loadu_pd, _mm256_max_pd, _mm256_mul_pd,
        _mm256_set1_epi64x, _mm256_set1_pd, _mm256_slli_epi64, _mm256_storeu_pd, _mm256_sub_pd,
        _mm256_xor_pd, _mm_add_ps, _mm_and_ps, _mm_blendv_ps, _mm_castps_si128, _mm_castsi128_ps,
        _mm_cmpgt_epi32, _mm_cmpgt_ps, _mm_cmplt_ps, _mm_cmpneq_ps, _mm_div_ps, _mm_loadu_ps,
        _mm_min_ps, _mm_set1_epi32, _mm_set1_ps, _mm_setr_epi32, _mm_storeu_ps, _mm_sub_ps,
        _mm_xor_ps,
    };

    use super::{
        PairKernel, PairRows, EPS, EXP_AT_CLIP, EXP_CLIP, LN2_HI, LN2_LO, PAIR_LANES, ROUND_SHIFT,
    };

    /// [`PairKernel`] with AVX2: the four pairs in one vector, the same operations as
    /// [`super::PortablePairs`] in the same order (no fused multiply-adds), so the same bits.
    /// Only made where the processor has AVX2.
    pub(super) struct Avx2Pairs;

    impl PairKernel for Avx2Pairs {
        #[inline(always)]
        fn doc_exps(&self, ss: &[f32], pos: &mut [f64], neg: &mut [f64]) {
            // SAFETY: an `Avx2Pairs` only exists where the processor has AVX2.
            unsafe { doc_exps(ss, pos, neg) }
        }

        #[inline(always)]
        fn rows(&self, rows: PairRows<'_>) {
            // SAFETY: an `Avx2Pairs` only exists where the processor has AVX2.
            unsafe {
                match (rows.ndcg.is_some(), rows.norm_by_diff, rows.exps.is_some()) {
                    (false, false, false) => pairs::<false, false, false>(rows),
                    (false, false, true) => pairs::<false, false, true>(rows),
                    (false, true, false) => pairs::<false, true, false>(rows),
                    (false, true, true) => pairs::<false, true, true>(rows),
                    (true, false, false) => pairs::<true, false, false>(rows),
                    (true, false, true) => pairs::<true, false, true>(rows),
                    (true, true, false) => pairs::<true, true, false>(rows),
                    (true, true, true) => pairs::<true, true, true>(rows),
                }
            }
        }
    }

    /// [`PairKernel::doc_exps`].
    #[target_feature(enable = "avx2")]
    #[inline]
    fn doc_exps(ss: &[f32], pos: &mut [f64], neg: &mut [f64]) {
        let lanes = ss.len();
        assert!(lanes.is_multiple_of(PAIR_LANES) && pos.len() == lanes && neg.len() == lanes);
        let sign = _mm256_set1_pd(-0.0);
        for base in (0..lanes).step_by(PAIR_LANES) {
            // SAFETY: `base + PAIR_LANES <= lanes`, the length of the three slices.
            unsafe {
                let s = _mm256_cvtps_pd(_mm_loadu_ps(ss.as_ptr().add(base)));
                _mm256_storeu_pd(pos.as_mut_ptr().add(base), exp_core4(s));
                let minus = _mm256_xor_pd(s, sign);
                _mm256_storeu_pd(neg.as_mut_ptr().add(base), exp_core4(minus));
            }
        }
    }

    /// `e^t` of [`super::exp_f32`], four at a time.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn exp4(t: __m128) -> __m128 {
        _mm256_cvtpd_ps(exp_core4(_mm256_max_pd(
            _mm256_cvtps_pd(t),
            _mm256_set1_pd(-200.0),
        )))
    }

    /// [`super::exp_core`], four at a time.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn exp_core4(t: __m256d) -> __m256d {
        let shift = _mm256_set1_pd(ROUND_SHIFT);
        let shifted = _mm256_add_pd(
            _mm256_mul_pd(t, _mm256_set1_pd(std::f64::consts::LOG2_E)),
            shift,
        );
        let n = _mm256_sub_pd(shifted, shift);
        let r = _mm256_sub_pd(
            _mm256_sub_pd(t, _mm256_mul_pd(n, _mm256_set1_pd(LN2_HI))),
            _mm256_mul_pd(n, _mm256_set1_pd(LN2_LO)),
        );
        let c = _mm256_set1_pd;
        // a + r * b
        let lin = |a: f64, b: f64| _mm256_add_pd(c(a), _mm256_mul_pd(r, c(b)));
        let r2 = _mm256_mul_pd(r, r);
        let r4 = _mm256_mul_pd(r2, r2);
        let r8 = _mm256_mul_pd(r4, r4);
        let a0 = _mm256_add_pd(c(1.0), r);
        let a1 = lin(0.5, 1.0 / 6.0);
        let a2 = lin(1.0 / 24.0, 1.0 / 120.0);
        let a3 = lin(1.0 / 720.0, 1.0 / 5_040.0);
        let a4 = lin(1.0 / 40_320.0, 1.0 / 362_880.0);
        let a5 = lin(1.0 / 3_628_800.0, 1.0 / 39_916_800.0);
        let a6 = c(1.0 / 479_001_600.0);
        let b0 = _mm256_add_pd(a0, _mm256_mul_pd(r2, a1));
        let b1 = _mm256_add_pd(a2, _mm256_mul_pd(r2, a3));
        let b2 = _mm256_add_pd(a4, _mm256_mul_pd(r2, a5));
        let p = _mm256_add_pd(
            _mm256_add_pd(b0, _mm256_mul_pd(r4, b1)),
            _mm256_mul_pd(r8, _mm256_add_pd(b2, _mm256_mul_pd(r4, a6))),
        );
        let scale = _mm256_castsi256_pd(_mm256_slli_epi64::<52>(_mm256_add_epi64(
            _mm256_castpd_si256(shifted),
            _mm256_set1_epi64x(1023),
        )));
        _mm256_mul_pd(p, scale)
    }

    /// [`PairKernel::rows`] for `NDCG` (`ndcg.is_some()`), `NORM` (`norm_by_diff`) and
    /// `BY_DOC` (`exps.is_some()`).
    #[target_feature(enable = "avx2")]
    #[inline]
    #[allow(clippy::too_many_lines)]
    fn pairs<const NDCG: bool, const NORM: bool, const BY_DOC: bool>(p: PairRows<'_>) {
        p.check();
        let (gains, discounts, inv_idcg) = match &p.ndcg {
            Some(nd) => (nd.gains.as_ptr(), nd.discounts.as_ptr(), nd.inv_idcg),
            None => {
                assert!(!NDCG);
                (std::ptr::null(), std::ptr::null(), 0.0)
            }
        };
        let (e_pos, e_neg) = match &p.exps {
            Some(doc) => (doc.pos.as_ptr(), doc.neg.as_ptr()),
            None => {
                assert!(!BY_DOC);
                (std::ptr::null(), std::ptr::null())
            }
        };
        let sign = _mm_set1_ps(-0.0);
        let c = _mm256_set1_pd;
        #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
        let lane = |l: usize| l as i32;
        for r in 0..p.rows {
            let i = p.first + r;
            let n = p.cnt - i - 1;
            let yi = _mm_set1_ps(p.ys[i]);
            let si = _mm_set1_ps(p.ss[i]);
            let (gi, di) = if NDCG {
                // SAFETY: `i < cnt`, within both (`check`).
                unsafe { (c(*gains.add(i)), c(*discounts.add(i))) }
            } else {
                (c(0.0), c(0.0))
            };
            let (ei_pos, ei_neg) = if BY_DOC {
                // SAFETY: `i < cnt`, within both (`check`).
                unsafe { (*e_pos.add(i), *e_neg.add(i)) }
            } else {
                (1.0, 1.0)
            };
            // This row's documents `j = i + 1 + base + lane`, and its output lanes.
            let (at, out) = (i + 1, r * p.width);
            for base in (0..n).step_by(PAIR_LANES) {
                let (j, o) = (at + base, out + base);
                // SAFETY: `j + PAIR_LANES <= cnt + PAIR_LANES` and
                // `o + PAIR_LANES <= rows * width`, within every slice (`check`).
                let (yj, sj) = unsafe {
                    (
                        _mm_loadu_ps(p.ys.as_ptr().add(j)),
                        _mm_loadu_ps(p.ss.as_ptr().add(j)),
                    )
                };
                let delta = if NDCG {
                    // SAFETY: as above.
                    let (gj, dj) = unsafe {
                        (
                            _mm256_loadu_pd(gains.add(j)),
                            _mm256_loadu_pd(discounts.add(j)),
                        )
                    };
                    let kept = _mm256_add_pd(_mm256_mul_pd(gi, di), _mm256_mul_pd(gj, dj));
                    let swapped = _mm256_add_pd(_mm256_mul_pd(gj, di), _mm256_mul_pd(gi, dj));
                    _mm256_mul_pd(_mm256_sub_pd(kept, swapped), c(inv_idcg))
                } else {
                    // SAFETY: as above.
                    unsafe { _mm256_loadu_pd(p.delta.as_ptr().add(o)) }
                };
                let i_high = _mm_cmpgt_ps(yi, yj);
                let diff = _mm_sub_ps(si, sj);
                // `s_high - s_low`
                let x = _mm_blendv_ps(_mm_xor_ps(diff, sign), diff, i_high);
                let mut d = _mm256_and_pd(delta, _mm256_castsi256_pd(_mm256_set1_epi64x(i64::MAX)));
                if NORM {
                    let abs_x = _mm_and_ps(x, _mm_castsi128_ps(_mm_set1_epi32(i32::MAX)));
                    d = _mm256_div_pd(d, _mm256_add_pd(_mm256_cvtps_pd(abs_x), c(0.01)));
                }
                let t = _mm_xor_ps(x, sign);
                let e = if BY_DOC {
                    // `super::pair_exp_by_doc`
                    let s_high = _mm_blendv_ps(sj, si, i_high);
                    let s_low = _mm_blendv_ps(si, sj, i_high);
                    let high64 =
                        _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm_castps_si128(i_high)));
                    // SAFETY: as above.
                    let (ej_pos, ej_neg) =
                        unsafe { (_mm256_loadu_pd(e_pos.add(j)), _mm256_loadu_pd(e_neg.add(j))) };
                    let e_low = _mm256_blendv_pd(c(ei_pos), ej_pos, high64);
                    let e_neg_high = _mm256_blendv_pd(ej_neg, c(ei_neg), high64);
                    let eps = _mm256_sub_pd(
                        _mm256_cvtps_pd(t),
                        _mm256_sub_pd(_mm256_cvtps_pd(s_low), _mm256_cvtps_pd(s_high)),
                    );
                    let series = _mm256_add_pd(c(0.5), _mm256_mul_pd(eps, c(1.0 / 6.0)));
                    let series = _mm256_add_pd(c(1.0), _mm256_mul_pd(eps, series));
                    let correction = _mm256_add_pd(c(1.0), _mm256_mul_pd(eps, series));
                    let e = _mm256_cvtpd_ps(_mm256_mul_pd(
                        _mm256_mul_pd(e_low, e_neg_high),
                        correction,
                    ));
                    _mm_blendv_ps(
                        _mm_set1_ps(EXP_AT_CLIP),
                        e,
                        _mm_cmplt_ps(t, _mm_set1_ps(EXP_CLIP)),
                    )
                } else {
                    // `min` gives its second operand for a NaN, as `f32::min` does here.
                    exp4(_mm_min_ps(t, _mm_set1_ps(EXP_CLIP)))
                };
                let sig32 = _mm_div_ps(_mm_set1_ps(1.0), _mm_add_ps(e, _mm_set1_ps(1.0)));
                let sig = _mm256_cvtps_pd(sig32);
                let pair_lambda = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_sub_pd(sig, c(1.0)), d));
                // `max` gives its second operand for a NaN: `EPS`, as the select of
                // `lambda_hess`.
                let h = _mm256_max_pd(_mm256_mul_pd(sig, _mm256_sub_pd(c(1.0), sig)), c(EPS));
                let h = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_mul_pd(h, d), c(2.0)));
                let pair_lambda = _mm_blendv_ps(_mm_xor_ps(pair_lambda, sign), pair_lambda, i_high);
                let valid = _mm_castsi128_ps(_mm_cmpgt_epi32(
                    _mm_set1_epi32(lane((n - base).min(PAIR_LANES))),
                    _mm_setr_epi32(0, 1, 2, 3),
                ));
                let keep = _mm_and_ps(_mm_cmpneq_ps(yi, yj), valid);
                let pair_lambda = _mm_and_ps(pair_lambda, keep);
                let h = _mm_and_ps(h, keep);
                // SAFETY: as above.
                unsafe {
                    _mm_storeu_ps(p.lambda.as_mut_ptr().add(o), pair_lambda);
                    _mm_storeu_ps(p.hess.as_mut_ptr().add(o), h);
                    let g = p.grad.as_mut_ptr().add(j);
                    _mm_storeu_ps(g, _mm_sub_ps(_mm_loadu_ps(g), pair_lambda));
                    let hj = p.hess_sum.as_mut_ptr().add(j);
                    _mm_storeu_ps(hj, _mm_add_ps(_mm_loadu_ps(hj), h));
                }
            }
        }
    }
}

/// Whether the processor has AVX2, asked at run time.
fn avx2_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The change in NDCG (before `1 / IDCG`'s scaling and the absolute value) when the
/// documents at rank positions `h` and `l` swap, from the gains and discounts by position.
#[inline(always)]
fn delta_ndcg(gains: &[f64], discounts: &[f64], h: usize, l: usize) -> f64 {
    let (gh, gl) = (gains[h], gains[l]);
    let (dh, dl) = (discounts[h], discounts[l]);
    (gh * dh + gl * dl) - (gl * dh + gh * dl)
}

/// Calls `op(i, j)` for the pairs of rank positions the mean method draws in one group whose
/// labels, in the model's rank order, are `ranked`: `k` partners of other relevance for each
/// document, drawn as the reference implementation draws them (`minstd_rand`, seeded by the
/// round and the group). The top-k method's pairs are enumerated in place by the caller.
fn mean_pairs(
    k: usize,
    seed: u32,
    ranked: &[f32],
    by_label: &mut Vec<usize>,
    op: &mut dyn FnMut(usize, usize),
) {
    let cnt = ranked.len();
    let mut rnd = MinStd::new(seed);
    // Rank positions in descending label order.
    rank_desc(ranked, by_label);
    let label_at = |p: usize| ranked[by_label[p]];
    let mut i = 0;
    while i < cnt {
        let mut j = i + 1;
        while j < cnt && label_at(i) == label_at(j) {
            j += 1;
        }
        let (lefts, rights) = (i, cnt - j);
        if lefts + rights > 0 {
            for _ in 0..k {
                for p in i..j {
                    let mut r = rnd.below_or_eq((lefts + rights - 1) as u64) as usize;
                    if r >= lefts {
                        r = r - i + j;
                    }
                    op(by_label[p], by_label[r]);
                }
            }
        }
        i = j;
    }
}

/// The per-round state of a ranking objective: the groups' ideal DCGs and, for the unbiased
/// variant, the position biases learnt so far.
#[derive(Debug, Clone)]
pub struct RankState {
    objective: Objective,
    params: ObjectiveParams,
    groups: Vec<usize>,
    /// `1 / IDCG` of each group at the objective's truncation (`rank:ndcg`).
    inv_idcg: Vec<f64>,
    /// The discount of each rank position up to the largest group's size.
    discounts: Vec<f64>,
    /// The global index of the first group (a partition of the data holds some of them).
    first_group: usize,
    /// The number of groups in all of the data.
    total_groups: usize,
    /// The global group-weight normalisation (`groups / sum of group weights`) of a
    /// partition; `None` computes it from these groups.
    weight_norm: Option<f32>,
    /// The position bias of relevant documents (`t+`), one per tracked position.
    t_plus: Vec<f64>,
    /// The position bias of irrelevant documents (`t-`).
    t_minus: Vec<f64>,
    /// Each group's documents (indices within the group) in the last round's rank order,
    /// where the next round's sort starts.
    order: Vec<u32>,
}

/// One group's buffers while its gradients are computed.
#[derive(Default)]
struct Scratch {
    rank: Vec<usize>,
    by_label: Vec<usize>,
    /// The group's labels, scores and (NDCG) gains in rank order.
    labels: Vec<f32>,
    scores: Vec<f32>,
    gains: Vec<f64>,
    /// The gradients and hessians in rank order.
    grad: Vec<f32>,
    hess: Vec<f32>,
    topk: TopKScratch,
    n_rel: Vec<f64>,
    acc: Vec<f64>,
}

impl RankState {
    /// The state for `labels` in query groups `groups` (offsets; checked).
    ///
    /// # Errors
    /// [`BoostError::InvalidInput`] for offsets that do not cover the labels.
    pub fn new(
        objective: Objective,
        params: &ObjectiveParams,
        labels: &[f32],
        groups: Vec<usize>,
    ) -> Result<Self, BoostError> {
        check_groups(&groups, labels.len(), "training data")?;
        let inv_idcg = if objective == Objective::RankNdcg {
            let top = truncation(params);
            groups
                .par_windows(2)
                .map_init(Vec::new, |order, w| {
                    inv_idcg(&labels[w[0]..w[1]], top, params.ndcg_exp_gain, order)
                })
                .collect()
        } else {
            Vec::new()
        };
        let max_group = groups.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
        let positions = match params.lambdarank_pair_method {
            PairMethod::TopK => num_pair(params) as usize,
            PairMethod::Mean => max_group.min(MAX_BIAS_POSITIONS),
        };
        Ok(Self {
            order: groups_order(&groups),
            objective,
            params: params.clone(),
            first_group: 0,
            total_groups: groups.len() - 1,
            weight_norm: None,
            groups,
            inv_idcg,
            discounts: (0..max_group).map(discount).collect(),
            t_plus: vec![1.0; positions],
            t_minus: vec![1.0; positions],
        })
    }

    /// The state of one partition of the data: its `labels` in query groups `groups` (local
    /// offsets), the first of them being group `first_group` of `total_groups`, and the
    /// group-weight normalisation of all of the data (`total_groups` over the sum of every
    /// group's weight), so that its gradients are those one machine computes for its rows.
    ///
    /// # Errors
    /// As [`RankState::new`]; [`BoostError::InvalidInput`] for the unbiased variant, whose
    /// position biases are learnt over all of the data, or a group range beyond the total.
    pub fn part(
        objective: Objective,
        params: &ObjectiveParams,
        labels: &[f32],
        groups: Vec<usize>,
        first_group: usize,
        total_groups: usize,
        weight_norm: f32,
    ) -> Result<Self, BoostError> {
        if params.lambdarank_unbiased {
            return Err(BoostError::InvalidInput(
                "lambdarank_unbiased cannot be distributed: its position biases are learnt \
                 over every query at once"
                    .into(),
            ));
        }
        let mut state = Self::new(objective, params, labels, groups)?;
        if first_group + state.groups.len() - 1 > total_groups {
            return Err(BoostError::InvalidInput(format!(
                "a partition's queries {first_group}.. lie beyond the {total_groups} queries"
            )));
        }
        if !(weight_norm.is_finite() && weight_norm > 0.0) {
            return Err(BoostError::InvalidInput(format!(
                "the query-weight normalisation must be finite and positive, got {weight_norm}"
            )));
        }
        state.first_group = first_group;
        state.total_groups = total_groups;
        state.weight_norm = Some(weight_norm);
        Ok(state)
    }

    /// The weight of each group: its first row's weight (every row of a group carries the
    /// group's weight).
    fn group_weight(&self, weights: &[f32], q: usize) -> f32 {
        let b = self.groups[q];
        if b < self.groups[q + 1] {
            weights[b]
        } else {
            1.0
        }
    }

    /// The gradient pairs of every row at `scores` for boosting round `iteration`, into `out`
    /// (one per row). `weights` holds each row's group weight. With `lambdarank_unbiased`,
    /// the position biases are then updated from this round's pairs.
    #[allow(clippy::too_many_lines)]
    pub fn gradients(
        &mut self,
        iteration: usize,
        scores: &[f32],
        labels: &[f32],
        weights: &[f32],
        out: &mut [(f32, f32)],
    ) {
        let (objective, params) = (self.objective, &self.params);
        let n_groups = self.groups.len() - 1;
        let unbiased = params.lambdarank_unbiased;
        let w_norm = self.weight_norm.unwrap_or_else(|| {
            let sum_w: f64 = (0..n_groups)
                .map(|q| f64::from(self.group_weight(weights, q)))
                .sum();
            #[allow(clippy::cast_possible_truncation)]
            let norm = (n_groups as f64 / sum_w) as f32;
            norm
        });
        let (first_group, total_groups) = (self.first_group, self.total_groups);
        let k_bias = self.t_plus.len();
        // Each group's rows of the outputs, and its last rank order.
        let mut orders = std::mem::take(&mut self.order);
        let mut jobs = Vec::with_capacity(n_groups);
        let (mut rest, mut rest_order) = (&mut *out, &mut orders[..]);
        for q in 0..n_groups {
            let (b, e) = (self.groups[q], self.groups[q + 1]);
            let (head, tail) = rest.split_at_mut(e - b);
            rest = tail;
            // (No orders kept, where a group is too large for them.)
            let (order, tail) = rest_order.split_at_mut((e - b).min(rest_order.len()));
            rest_order = tail;
            jobs.push((q, head, order));
        }
        let state = &*self;
        let avx2 = avx2_available();
        let per_group = jobs
            .into_par_iter()
            .map_init(Scratch::default, |s, (q, out, order)| {
                let (b, e) = (state.groups[q], state.groups[q + 1]);
                out.fill((0.0, 0.0));
                let mut li = vec![0.0_f64; if unbiased { k_bias } else { 0 }];
                let mut lj = li.clone();
                if e - b < 2 {
                    return (li, lj);
                }
                let cnt = e - b;
                rank_desc_from(&scores[b..e], order, &mut s.rank);
                s.labels.clear();
                s.labels.extend(s.rank.iter().map(|&d| labels[b + d]));
                s.scores.clear();
                s.scores.extend(s.rank.iter().map(|&d| scores[b + d]));
                s.grad.clear();
                s.grad.resize(cnt, 0.0);
                s.hess.clear();
                s.hess.resize(cnt, 0.0);
                if objective == Objective::RankNdcg {
                    s.gains.clear();
                    s.gains
                        .extend(s.labels.iter().map(|&y| gain(y, params.ndcg_exp_gain)));
                }
                if objective == Objective::RankMap {
                    s.n_rel.clear();
                    s.acc.clear();
                    let (mut n_rel, mut acc) = (0.0_f64, 0.0_f64);
                    for (p, &y) in s.labels.iter().enumerate() {
                        let y = f64::from(y);
                        n_rel += y;
                        acc += y / (p as f64 + 1.0);
                        s.n_rel.push(n_rel);
                        s.acc.push(acc);
                    }
                }
                let inv_idcg = state.inv_idcg.get(q).copied().unwrap_or(0.0);
                let Scratch {
                    rank,
                    by_label,
                    labels: ys,
                    scores: ss,
                    gains,
                    grad,
                    hess,
                    topk,
                    n_rel,
                    acc,
                } = s;
                let disc = &state.discounts;
                // The change in the metric when the documents at rank positions `r_high`
                // (the more relevant) and `r_low` swap.
                let delta = |r_high: usize, r_low: usize| -> f64 {
                    match objective {
                        Objective::RankNdcg => delta_ndcg(gains, disc, r_high, r_low) * inv_idcg,
                        Objective::RankMap => {
                            let (mut r_high, mut r_low) = (r_high, r_low);
                            let (mut y_high, mut y_low) = (ys[r_high], ys[r_low]);
                            if r_high > r_low {
                                std::mem::swap(&mut r_high, &mut r_low);
                                std::mem::swap(&mut y_high, &mut y_low);
                            }
                            let (rh, rl) = (r_high as f64 + 1.0, r_low as f64 + 1.0);
                            let total = n_rel[n_rel.len() - 1];
                            let (m, n) = (n_rel[r_low], n_rel[r_high]);
                            let between = acc[r_low - 1] - acc[r_high];
                            if y_high < y_low {
                                (m / rl - (n + 1.0) / rh - between) / total
                            } else {
                                (n / rh - m / rl + between) / total
                            }
                        }
                        _ => 1.0,
                    }
                };
                let norm_by_diff = params.lambdarank_score_normalization && ss[0] != ss[cnt - 1];
                let mut sum_lambda = 0.0_f64;
                let seed = u32::try_from(iteration + 1)
                    .unwrap_or(u32::MAX)
                    .wrapping_mul(u32::try_from(total_groups).unwrap_or(u32::MAX))
                    .wrapping_add(u32::try_from(first_group + q).unwrap_or(u32::MAX));
                let k = num_pair(params) as usize;
                if params.lambdarank_pair_method == PairMethod::TopK && !unbiased {
                    // The hot path: every pair with a document among the top k, row by row.
                    let rows = TopKRows {
                        k,
                        norm_by_diff,
                        ys,
                        ss,
                        grad,
                        hess,
                        scratch: topk,
                    };
                    sum_lambda = match objective {
                        Objective::RankNdcg => {
                            let ndcg: PairDeltas<'_, NoDeltas> = PairDeltas::Ndcg {
                                gains,
                                discounts: disc,
                                inv_idcg,
                            };
                            rows.run(avx2, ndcg)
                        }
                        Objective::RankMap => rows.run(
                            avx2,
                            PairDeltas::Given(|i, out: &mut [f64]| {
                                for (t, o) in out.iter_mut().enumerate() {
                                    let j = i + 1 + t;
                                    *o = if ys[i] > ys[j] {
                                        delta(i, j)
                                    } else {
                                        delta(j, i)
                                    };
                                }
                            }),
                        ),
                        _ => rows.run(avx2, PairDeltas::Given(|_, out: &mut [f64]| out.fill(1.0))),
                    };
                } else {
                    let mut op = |i: usize, j: usize| {
                        let (yi, yj) = (ys[i], ys[j]);
                        if yi == yj {
                            return;
                        }
                        let (r_high, r_low) = if yi < yj { (j, i) } else { (i, j) };
                        let (sig, delta_metric) = pair_terms(
                            ss[r_high],
                            ss[r_low],
                            delta(r_high, r_low).abs(),
                            norm_by_diff,
                        );
                        let (mut lambda, mut pair_hess) = lambda_hess(sig, delta_metric);
                        if unbiased {
                            // Biases are tracked by the documents' positions in the given order.
                            let (d_high, d_low) = (rank[r_high], rank[r_low]);
                            if d_high < k_bias && d_low < k_bias {
                                let (tp, tm) = (state.t_plus[d_high], state.t_minus[d_low]);
                                let cost = (1.0 / (1.0 - sig)).ln() * delta_metric;
                                if tm >= EPS && tp >= EPS {
                                    lambda /= tp * tm;
                                    pair_hess /= tp * tm;
                                }
                                if tm >= EPS {
                                    li[d_high] += cost / tm;
                                }
                                if tp >= EPS {
                                    lj[d_low] += cost / tp;
                                }
                            }
                        }
                        #[allow(clippy::cast_possible_truncation)]
                        let (pg, ph) = (lambda as f32, pair_hess as f32);
                        grad[r_high] += pg;
                        hess[r_high] += ph;
                        grad[r_low] -= pg;
                        hess[r_low] += ph;
                        sum_lambda += -2.0 * f64::from(pg);
                    };
                    match params.lambdarank_pair_method {
                        PairMethod::TopK => {
                            for i in 0..cnt.min(k) {
                                for j in i + 1..cnt {
                                    op(i, j);
                                }
                            }
                        }
                        PairMethod::Mean => mean_pairs(k, seed, ys, by_label, &mut op),
                    }
                }
                let mut norm = 1.0_f32;
                if params.lambdarank_normalization {
                    let n = match params.lambdarank_pair_method {
                        PairMethod::Mean => 1.0 / f64::from(num_pair(params)),
                        PairMethod::TopK if sum_lambda > 0.0 => {
                            (1.0 + sum_lambda).log2() / sum_lambda
                        }
                        PairMethod::TopK => 1.0,
                    };
                    #[allow(clippy::cast_possible_truncation)]
                    if n != 1.0 {
                        norm = n as f32;
                    }
                }
                let w = state.group_weight(weights, q);
                for ((&d, &g), &h) in rank.iter().zip(grad.iter()).zip(hess.iter()) {
                    // XGBoost's order of float products: the norm, the weight, its norm.
                    let (g, h) = if norm == 1.0 {
                        (g, h)
                    } else {
                        (g * norm, h * norm)
                    };
                    out[d] = (g * w * w_norm, h * w * w_norm);
                }
                (li, lj)
            })
            .collect::<Vec<_>>();
        self.order = orders;
        if unbiased {
            self.update_position_biases(&per_group);
        }
    }

    /// Unbiased LambdaMART's position-bias update from one round's per-group losses.
    fn update_position_biases(&mut self, losses: &[(Vec<f64>, Vec<f64>)]) {
        let k = self.t_plus.len();
        let (mut li, mut lj) = (vec![0.0_f64; k], vec![0.0_f64; k]);
        for (q, (gli, glj)) in losses.iter().enumerate() {
            let n = (self.groups[q + 1] - self.groups[q]).min(k).min(gli.len());
            for i in 0..n {
                li[i] += gli[i];
                lj[i] += glj[i];
            }
        }
        let regularizer = 1.0 / (1.0 + self.params.lambdarank_bias_norm);
        for i in 0..k {
            if li[0] >= EPS {
                self.t_plus[i] = (li[i] / li[0]).powf(regularizer);
            }
            if lj[0] >= EPS {
                self.t_minus[i] = (lj[i] / lj[0]).powf(regularizer);
            }
        }
    }
}

/// Which ranking metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RankMetricKind {
    /// Normalised discounted cumulative gain.
    Ndcg,
    /// Mean average precision (binary labels).
    Map,
    /// Precision (binary labels).
    Pre,
}

/// A ranking metric as XGBoost defines it: `ndcg`, `map` or `pre`, truncated at `@k` or not,
/// with `-` scoring a group without relevant documents 0 instead of 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankMetric {
    /// The metric.
    pub kind: RankMetricKind,
    /// The truncation (`@k`), or none.
    pub top: Option<u32>,
    /// Whether a group without relevant documents scores 0 (the `-` suffix).
    pub minus: bool,
    /// NDCG's gain: `2^y - 1` (true) or `y`.
    pub exp_gain: bool,
}

impl RankMetric {
    /// Parses `ndcg`, `map` or `pre`, optionally followed by `@k` and `-`; `None` for any
    /// other name.
    ///
    /// # Errors
    /// [`BoostError::UnknownName`] for a truncation that is not a positive integer.
    pub fn parse(name: &str, exp_gain: bool) -> Result<Option<Self>, BoostError> {
        let (base, rest) = match name.find('@') {
            Some(p) => (&name[..p], Some(&name[p + 1..])),
            None => match name.strip_suffix('-') {
                Some(b) => (b, Some("-")),
                None => (name, None),
            },
        };
        let kind = match base {
            "ndcg" => RankMetricKind::Ndcg,
            "map" => RankMetricKind::Map,
            "pre" => RankMetricKind::Pre,
            _ => return Ok(None),
        };
        let (mut top, mut minus) = (None, false);
        if let Some(rest) = rest {
            let digits = rest.strip_suffix('-').unwrap_or(rest);
            minus = rest.ends_with('-');
            if !digits.is_empty() {
                let k: u32 = digits.parse().ok().filter(|&k| k > 0).ok_or_else(|| {
                    BoostError::UnknownName(format!(
                        "eval_metric {name:?}: the truncation after '@' must be a positive \
                         integer"
                    ))
                })?;
                top = Some(k);
            } else if name.contains('@') {
                return Err(BoostError::UnknownName(format!(
                    "eval_metric {name:?}: the truncation after '@' must be a positive integer"
                )));
            }
        }
        Ok(Some(Self {
            kind,
            top,
            minus,
            exp_gain,
        }))
    }

    /// The name, as XGBoost prints it (`ndcg@10`, `map-`).
    pub fn name(&self) -> String {
        let base = match self.kind {
            RankMetricKind::Ndcg => "ndcg",
            RankMetricKind::Map => "map",
            RankMetricKind::Pre => "pre",
        };
        let mut s = base.to_string();
        if let Some(k) = self.top {
            s.push_str(&format!("@{k}"));
        }
        if self.minus {
            s.push('-');
        }
        s
    }

    /// The group-weighted mean of the metric over the query groups `groups` (offsets) of
    /// `scores` and `labels`; `weights` holds each row's group weight.
    ///
    /// # Errors
    /// [`BoostError::InvalidInput`] for offsets that do not cover the rows, labels that are
    /// not 0 or 1 (`map`, `pre`), or invalid NDCG labels.
    pub fn evaluate(
        &self,
        scores: &[f32],
        labels: &[f32],
        weights: &[f32],
        groups: &[usize],
    ) -> Result<f64, BoostError> {
        check_groups(groups, scores.len(), "evaluation set")?;
        let name = self.name();
        match self.kind {
            RankMetricKind::Map | RankMetricKind::Pre => {
                if let Some(y) = labels.iter().find(|&&y| y != 0.0 && y != 1.0) {
                    return Err(BoostError::InvalidInput(format!(
                        "eval_metric {name} needs binary relevance labels (0 or 1), got {y}"
                    )));
                }
            }
            RankMetricKind::Ndcg => {
                if let Some(y) = labels
                    .iter()
                    .find(|&&y| !y.is_finite() || (self.exp_gain && (y < 0.0 || y.fract() != 0.0)))
                {
                    return Err(BoostError::InvalidInput(format!(
                        "eval_metric {name} needs non-negative integer relevance labels, got {y}"
                    )));
                }
                if self.exp_gain {
                    if let Some(y) = labels.iter().find(|&&y| y > MAX_RELEVANCE) {
                        return Err(BoostError::InvalidInput(format!(
                            "eval_metric {name}: relevance degrees must be at most 31 with the \
                             exponential gain, got {y}"
                        )));
                    }
                }
            }
        }
        let top = self.top.map_or(usize::MAX, |k| k as usize);
        let per_group: Vec<(f64, f64)> = groups
            .par_windows(2)
            .map_init(
                || (Vec::new(), Vec::new()),
                |(rank, order), w| {
                    let (b, e) = (w[0], w[1]);
                    let wq = if b < e { f64::from(weights[b]) } else { 1.0 };
                    let (s, y) = (&scores[b..e], &labels[b..e]);
                    rank_desc(s, rank);
                    let n = top.min(e - b);
                    let score = match self.kind {
                        RankMetricKind::Ndcg => {
                            let inv = inv_idcg(y, self.top, self.exp_gain, order);
                            // A group without relevant documents scores 1 (0 with `-`),
                            // unweighted, as XGBoost scores it.
                            if inv <= 0.0 {
                                if self.minus {
                                    0.0
                                } else {
                                    1.0
                                }
                            } else {
                                let dcg: f64 = (0..n)
                                    .map(|i| discount(i) * gain(y[rank[i]], self.exp_gain) * inv)
                                    .sum();
                                dcg * wq
                            }
                        }
                        RankMetricKind::Map => {
                            let (mut hits, mut ap) = (0.0_f64, 0.0_f64);
                            for (i, &d) in rank.iter().enumerate().take(n) {
                                let p = f64::from(y[d]);
                                hits += p;
                                ap += hits / (i as f64 + 1.0) * p;
                            }
                            for &d in &rank[n..] {
                                hits += f64::from(y[d]);
                            }
                            let v = if hits > 0.0 {
                                ap / hits.min(self.top.map_or(f64::INFINITY, f64::from))
                            } else if self.minus {
                                0.0
                            } else {
                                1.0
                            };
                            v * wq
                        }
                        RankMetricKind::Pre => {
                            let hits: f64 =
                                rank.iter().take(n).map(|&d| f64::from(y[d]) * wq).sum();
                            if n == 0 {
                                0.0
                            } else {
                                hits / n as f64
                            }
                        }
                    };
                    (score, wq)
                },
            )
            .collect();
        let (sum, sw) = per_group
            .iter()
            .fold((0.0, 0.0), |(a, b), &(s, w)| (a + s, b + w));
        let score = if sw > 0.0 { sum / sw } else { sum };
        Ok(score.min(1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_desc_is_the_stable_descending_order() {
        let plain = |values: &[f32]| -> Vec<usize> {
            let mut order: Vec<usize> = (0..values.len()).collect();
            order.sort_by(|&a, &b| values[b].partial_cmp(&values[a]).unwrap());
            order
        };
        let mut out = Vec::new();
        let cases: [&[f32]; 5] = [
            &[],
            &[1.0],
            &[0.5, -0.0, 2.0, 0.0, 0.5, -1.0, f32::INFINITY, -3.5, 0.5],
            &[
                -1e-30,
                1e-30,
                0.0,
                -0.0,
                f32::MIN,
                f32::MAX,
                f32::NEG_INFINITY,
            ],
            &[3.0, 3.0, 3.0, 1.0, 3.0],
        ];
        for values in cases {
            rank_desc(values, &mut out);
            assert_eq!(out, plain(values), "{values:?}");
        }
        let many: Vec<f32> = (0..500).map(|i| ((i * 7919) % 37) as f32 - 18.0).collect();
        rank_desc(&many, &mut out);
        assert_eq!(out, plain(&many));
    }

    #[test]
    fn exp_f32_is_within_one_ulp_of_the_library() {
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(-200.0), 0.0);
        assert!(exp_f32(88.7).is_finite());
        // Every 1,009th float of [-200, 88.7], subnormal results included.
        let (mut tried, mut differ) = (0_u32, 0_u32);
        let mut bits = (-200.0_f32).to_bits();
        loop {
            let t = f32::from_bits(bits);
            let (ours, libm) = (exp_f32(t), t.exp());
            let ulps = (i64::from(ours.to_bits()) - i64::from(libm.to_bits())).abs();
            assert!(ulps <= 1, "exp({t}): {ours} against {libm}");
            tried += 1;
            differ += u32::from(ulps != 0);
            if bits < 0x8000_0000 + 1_009 {
                break;
            }
            bits -= 1_009; // towards -0.0
        }
        let mut bits = 0_u32;
        while f32::from_bits(bits) <= 88.7 {
            let t = f32::from_bits(bits);
            let (ours, libm) = (exp_f32(t), t.exp());
            let ulps = (i64::from(ours.to_bits()) - i64::from(libm.to_bits())).abs();
            assert!(ulps <= 1, "exp({t}): {ours} against {libm}");
            tried += 1;
            differ += u32::from(ulps != 0);
            bits += 1_009;
        }
        assert!(tried > 2_000_000);
        assert!(differ * 1_000 < tried, "{differ} of {tried} differ");
    }

    /// The top-k pairs of one group, pair by pair as XGBoost forms them: the reference of
    /// [`TopKRows`].
    #[allow(clippy::too_many_arguments)]
    fn topk_pairs_one_by_one(
        k: usize,
        norm_by_diff: bool,
        ys: &[f32],
        ss: &[f32],
        gains: &[f64],
        disc: &[f64],
        inv_idcg: f64,
    ) -> (Vec<f32>, Vec<f32>, f64) {
        let cnt = ys.len();
        let (mut grad, mut hess, mut sum_lambda) = (vec![0.0_f32; cnt], vec![0.0_f32; cnt], 0.0);
        for i in 0..cnt.min(k) {
            for j in i + 1..cnt {
                if ys[i] == ys[j] {
                    continue;
                }
                let (h, l) = if ys[i] > ys[j] { (i, j) } else { (j, i) };
                let d = (delta_ndcg(gains, disc, h, l) * inv_idcg).abs();
                let (sig, d) = pair_terms(ss[h], ss[l], d, norm_by_diff);
                let (lambda, hessian) = lambda_hess(sig, d);
                #[allow(clippy::cast_possible_truncation)]
                let (pg, ph) = (lambda as f32, hessian as f32);
                grad[h] += pg;
                hess[h] += ph;
                grad[l] -= pg;
                hess[l] += ph;
                sum_lambda += -2.0 * f64::from(pg);
            }
        }
        (grad, hess, sum_lambda)
    }

    #[test]
    fn topk_rows_sum_the_pairs_in_the_reference_order() {
        let mut rnd = MinStd::new(11);
        let mut scratch = TopKScratch::default();
        for case in 0..300_usize {
            let cnt = 2 + case % 23;
            let k = [1, 3, 5, 32][case % 5 % 4];
            let norm_by_diff = case % 3 != 0;
            #[allow(clippy::cast_precision_loss)]
            let ys: Vec<f32> = (0..cnt).map(|_| rnd.below_or_eq(3) as f32).collect();
            // Scores with ties and large gaps among them; the largest beyond the documents'
            // exponentials (each pair then takes its own).
            #[allow(clippy::cast_precision_loss)]
            let mut ss: Vec<f32> = (0..cnt)
                .map(|_| (rnd.below_or_eq(40) as f32 - 20.0) * [0.01, 0.7, 9.0, 40.0][case % 4])
                .collect();
            ss.sort_by(|a, b| b.partial_cmp(a).unwrap());
            let gains: Vec<f64> = ys.iter().map(|&y| gain(y, true)).collect();
            let disc: Vec<f64> = (0..cnt).map(discount).collect();
            let inv_idcg = 0.37;
            let expected =
                topk_pairs_one_by_one(k, norm_by_diff, &ys, &ss, &gains, &disc, inv_idcg);
            for avx2 in [false, avx2_available()] {
                let (mut grad, mut hess) = (vec![0.0_f32; cnt], vec![0.0_f32; cnt]);
                let rows = TopKRows {
                    k,
                    norm_by_diff,
                    ys: &ys,
                    ss: &ss,
                    grad: &mut grad,
                    hess: &mut hess,
                    scratch: &mut scratch,
                };
                let given = |i: usize, out: &mut [f64]| {
                    for (t, o) in out.iter_mut().enumerate() {
                        *o = delta_ndcg(&gains, &disc, i, i + 1 + t) * inv_idcg;
                    }
                };
                let deltas = if case % 2 == 0 {
                    PairDeltas::Given(given)
                } else {
                    PairDeltas::Ndcg {
                        gains: &gains,
                        discounts: &disc,
                        inv_idcg,
                    }
                };
                let sum_lambda = rows.run(avx2, deltas);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&grad), bits(&expected.0), "case {case}, avx2 {avx2}");
                assert_eq!(bits(&hess), bits(&expected.1), "case {case}, avx2 {avx2}");
                assert_eq!(sum_lambda.to_bits(), expected.2.to_bits(), "case {case}");
            }
        }
    }

    #[test]
    fn rank_desc_from_any_start_is_the_stable_descending_order() {
        let mut rnd = MinStd::new(5);
        let (mut expected, mut out) = (Vec::new(), Vec::new());
        for case in 0..200_usize {
            let n = case % 50;
            #[allow(clippy::cast_precision_loss)]
            let mut values: Vec<f32> = (0..n).map(|_| rnd.below_or_eq(9) as f32 - 4.0).collect();
            if case % 7 == 0 && n > 0 {
                values[n / 2] = -0.0;
            }
            // From the identity, then from the last order after a small change of the
            // values, and from its reverse (beyond the insertion's budget).
            let mut order: Vec<u32> = (0..u32::try_from(n).unwrap()).collect();
            for step in 0..3 {
                if step == 1 && n > 1 {
                    values[case % n] += 0.5;
                }
                if step == 2 {
                    order.reverse();
                }
                rank_desc(&values, &mut expected);
                rank_desc_from(&values, &mut order, &mut out);
                assert_eq!(out, expected, "case {case} step {step}");
                let held: Vec<usize> = order.iter().map(|&d| d as usize).collect();
                assert_eq!(held, expected);
            }
        }
        // A NaN takes the full sort; an order of the wrong length is left alone.
        let values = [1.0, f32::NAN, 3.0];
        let mut order = vec![0, 1, 2];
        rank_desc(&values, &mut expected);
        rank_desc_from(&values, &mut order, &mut out);
        assert_eq!(out, expected);
        rank_desc_from(&values, &mut [], &mut out);
        assert_eq!(out, expected);
    }

    #[test]
    fn minstd_matches_the_standard_sequence() {
        // The 10000th draw from seed 1 is 399268537 (the C++ standard's check value).
        let mut r = MinStd::new(1);
        let mut v = 0;
        for _ in 0..10_000 {
            v = r.next();
        }
        assert_eq!(v, 399_268_537);
        let mut r = MinStd::new(7);
        for _ in 0..1000 {
            assert!(r.below_or_eq(4) <= 4);
        }
    }

    #[test]
    fn metric_names_parse() {
        let m = RankMetric::parse("ndcg@10-", true).unwrap().unwrap();
        assert_eq!(
            (m.kind, m.top, m.minus),
            (RankMetricKind::Ndcg, Some(10), true)
        );
        assert_eq!(m.name(), "ndcg@10-");
        let m = RankMetric::parse("map-", true).unwrap().unwrap();
        assert_eq!((m.top, m.minus, m.name()), (None, true, "map-".into()));
        assert!(RankMetric::parse("rmse", true).unwrap().is_none());
        assert!(RankMetric::parse("ndcg@x", true).is_err());
        assert!(RankMetric::parse("pre@0", true).is_err());
    }

    #[test]
    fn perfect_ranking_scores_one() {
        let m = RankMetric::parse("ndcg", true).unwrap().unwrap();
        let scores = [3.0, 2.0, 1.0, 0.5, 0.1];
        let labels = [2.0, 1.0, 0.0, 1.0, 0.0];
        let w = [1.0; 5];
        let v = m.evaluate(&scores, &labels, &w, &[0, 3, 5]).unwrap();
        assert!((v - 1.0).abs() < 1e-12);
        let reversed = m
            .evaluate(&[0.1, 0.2, 0.3, 0.4, 0.5], &labels, &w, &[0, 3, 5])
            .unwrap();
        assert!(reversed < 1.0);
    }

    #[test]
    fn pair_gradients_cancel_within_a_group() {
        let params = ObjectiveParams::default();
        let labels = [2.0, 0.0, 1.0, 0.0, 1.0, 3.0];
        let scores = [0.3, -0.2, 0.1, 0.0, 0.5, -0.4];
        let w = [1.0; 6];
        for obj in [Objective::RankPairwise, Objective::RankNdcg] {
            let mut st = RankState::new(obj, &params, &labels, vec![0, 4, 6]).unwrap();
            let mut out = vec![(0.0, 0.0); 6];
            st.gradients(0, &scores, &labels, &w, &mut out);
            let g0: f32 = out[..4].iter().map(|p| p.0).sum();
            assert!(g0.abs() < 1e-6);
            assert!(out.iter().all(|p| p.1 > 0.0));
            // The most relevant document is pushed up.
            assert!(out[5].0 < 0.0);
        }
    }
}
