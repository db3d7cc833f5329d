//! Learning objectives: per-row gradients and hessians, the output transform, the intercept
//! (`base_score`) estimate and the default metric, with XGBoost's definitions.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::BoostError;
use crate::rank::PairMethod;
use crate::survival::{self, AftDistribution};

/// A learning objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Objective {
    /// `reg:squarederror`.
    #[serde(rename = "reg:squarederror")]
    SquaredError,
    /// `reg:logistic`: labels in [0, 1], sigmoid output, rmse metric.
    #[serde(rename = "reg:logistic")]
    RegLogistic,
    /// `binary:logistic`: labels in {0, 1}, probability output.
    #[serde(rename = "binary:logistic")]
    BinaryLogistic,
    /// `multi:softprob`: class probabilities.
    #[serde(rename = "multi:softprob")]
    MultiSoftprob,
    /// `multi:softmax`: the most likely class.
    #[serde(rename = "multi:softmax")]
    MultiSoftmax,
    /// `count:poisson`: log link, implied `max_delta_step` of 0.7.
    #[serde(rename = "count:poisson")]
    Poisson,
    /// `reg:absoluteerror`: leaves refreshed to medians of the residuals.
    #[serde(rename = "reg:absoluteerror")]
    AbsoluteError,
    /// Gradients supplied by the caller; identity output.
    #[serde(rename = "custom")]
    Custom,
    /// `reg:squaredlogerror`: labels above -1, the squared error of `log1p`.
    #[serde(rename = "reg:squaredlogerror")]
    SquaredLogError,
    /// `reg:gamma`: positive labels, log link.
    #[serde(rename = "reg:gamma")]
    Gamma,
    /// `binary:logitraw`: the logistic loss with raw margins as output.
    #[serde(rename = "binary:logitraw")]
    LogitRaw,
    /// `binary:hinge`: the hinge loss, 0 or 1 as output.
    #[serde(rename = "binary:hinge")]
    Hinge,
    /// `reg:pseudohubererror`: the pseudo-Huber loss of slope `huber_slope`.
    #[serde(rename = "reg:pseudohubererror")]
    PseudoHuber,
    /// `reg:tweedie`: non-negative labels, log link, variance power
    /// `tweedie_variance_power`.
    #[serde(rename = "reg:tweedie")]
    Tweedie,
    /// `reg:quantileerror`: the pinball loss at `quantile_alpha`; leaves refreshed to that
    /// quantile of the residuals.
    #[serde(rename = "reg:quantileerror")]
    Quantile,
    /// `survival:cox`: Cox proportional hazards on survival times (a negative label is a
    /// right-censored time), Breslow's ties; hazard ratios as output.
    #[serde(rename = "survival:cox")]
    Cox,
    /// `survival:aft`: the accelerated failure time model on label intervals (lower and upper
    /// bounds of the survival time), log link.
    #[serde(rename = "survival:aft")]
    Aft,
    /// `rank:pairwise`: LambdaMART with every pair weighted alike (RankNet's loss).
    #[serde(rename = "rank:pairwise")]
    RankPairwise,
    /// `rank:ndcg`: LambdaMART with pairs weighted by the change in NDCG.
    #[serde(rename = "rank:ndcg")]
    RankNdcg,
    /// `rank:map`: LambdaMART with pairs weighted by the change in mean average precision
    /// (binary relevance).
    #[serde(rename = "rank:map")]
    RankMap,
}

/// The parameters of the objectives that take one, with XGBoost's names and defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveParams {
    /// `reg:pseudohubererror`'s slope (`huber_slope`), not 0.
    #[serde(default = "default_huber_slope")]
    pub huber_slope: f32,
    /// `reg:tweedie`'s variance power, in [1, 2).
    #[serde(default = "default_tweedie_variance_power")]
    pub tweedie_variance_power: f32,
    /// `reg:quantileerror`'s quantiles, each in [0, 1]: one output per quantile.
    #[serde(default = "default_quantile_alpha", deserialize_with = "one_or_many")]
    pub quantile_alpha: Vec<f32>,
    /// `survival:aft`'s noise distribution.
    #[serde(default)]
    pub aft_loss_distribution: AftDistribution,
    /// `survival:aft`'s scale of the noise, above 0.
    #[serde(default = "default_aft_scale")]
    pub aft_loss_distribution_scale: f32,
    /// Ranking: how pairs are formed (`topk` or `mean`).
    #[serde(default)]
    pub lambdarank_pair_method: PairMethod,
    /// Ranking: the truncation `k` of the top-k method, or the partners drawn per document
    /// of the mean method; `None` for 32 and 1.
    #[serde(default)]
    pub lambdarank_num_pair_per_sample: Option<u32>,
    /// Ranking: learn and divide by position biases (Unbiased LambdaMART).
    #[serde(default)]
    pub lambdarank_unbiased: bool,
    /// Ranking: the exponent `p` of the position biases' regulariser `1 / (1 + p)`.
    #[serde(default = "default_bias_norm")]
    pub lambdarank_bias_norm: f64,
    /// Ranking: normalise each group's gradients (by the number of pairs for the mean
    /// method, by `log2(1 + sum) / sum` of the lambdas for top-k).
    #[serde(default = "default_true")]
    pub lambdarank_normalization: bool,
    /// Ranking: divide each pair's metric change by the score difference plus 0.01.
    #[serde(default = "default_true")]
    pub lambdarank_score_normalization: bool,
    /// `rank:ndcg` and the `ndcg` metric: the gain `2^y - 1` (true) or `y`.
    #[serde(default = "default_true")]
    pub ndcg_exp_gain: bool,
}

fn default_bias_norm() -> f64 {
    1.0
}

fn default_true() -> bool {
    true
}

fn default_aft_scale() -> f32 {
    1.0
}

fn default_huber_slope() -> f32 {
    1.0
}

fn default_tweedie_variance_power() -> f32 {
    1.5
}

fn default_quantile_alpha() -> Vec<f32> {
    vec![0.5]
}

/// A number or a list of numbers, as a list.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(f32),
        Many(Vec<f32>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(v) => vec![v],
        OneOrMany::Many(v) => v,
    })
}

impl Default for ObjectiveParams {
    fn default() -> Self {
        Self {
            huber_slope: default_huber_slope(),
            tweedie_variance_power: default_tweedie_variance_power(),
            quantile_alpha: default_quantile_alpha(),
            aft_loss_distribution: AftDistribution::default(),
            aft_loss_distribution_scale: default_aft_scale(),
            lambdarank_pair_method: PairMethod::default(),
            lambdarank_num_pair_per_sample: None,
            lambdarank_unbiased: false,
            lambdarank_bias_norm: default_bias_norm(),
            lambdarank_normalization: true,
            lambdarank_score_normalization: true,
            ndcg_exp_gain: true,
        }
    }
}

impl ObjectiveParams {
    /// Checks each parameter's range.
    ///
    /// # Errors
    /// [`BoostError::InvalidParameter`] naming the parameter.
    pub fn validate(&self) -> Result<(), BoostError> {
        if !(self.huber_slope.is_finite() && self.huber_slope != 0.0) {
            return Err(BoostError::parameter(
                "huber_slope",
                "a finite number other than 0",
                self.huber_slope,
            ));
        }
        if !(1.0..2.0).contains(&self.tweedie_variance_power) {
            return Err(BoostError::parameter(
                "tweedie_variance_power",
                "in [1, 2)",
                self.tweedie_variance_power,
            ));
        }
        if !(self.aft_loss_distribution_scale.is_finite() && self.aft_loss_distribution_scale > 0.0)
        {
            return Err(BoostError::parameter(
                "aft_loss_distribution_scale",
                "a finite number > 0",
                self.aft_loss_distribution_scale,
            ));
        }
        if self.lambdarank_num_pair_per_sample == Some(0) {
            return Err(BoostError::parameter(
                "lambdarank_num_pair_per_sample",
                "at least 1",
                0,
            ));
        }
        if !(self.lambdarank_bias_norm.is_finite() && self.lambdarank_bias_norm >= 0.0) {
            return Err(BoostError::parameter(
                "lambdarank_bias_norm",
                "a finite number >= 0",
                self.lambdarank_bias_norm,
            ));
        }
        if self.quantile_alpha.is_empty() {
            return Err(BoostError::parameter(
                "quantile_alpha",
                "at least one quantile",
                "an empty list",
            ));
        }
        if let Some(a) = self
            .quantile_alpha
            .iter()
            .find(|a| !(0.0..=1.0).contains(*a))
        {
            return Err(BoostError::parameter("quantile_alpha", "in [0, 1]", a));
        }
        Ok(())
    }
}

/// What [`Objective::gradients`] reads: the training rows at the current margins, and the two
/// objective parameters that enter a gradient pair.
#[derive(Debug, Clone, Copy)]
pub struct GradientInputs<'a> {
    /// Current margins, `n_rows * n_groups`, row-major.
    pub margin: &'a [f32],
    /// One label per row.
    pub labels: &'a [f32],
    /// One sample weight per row.
    pub weights: &'a [f32],
    /// Output groups (classes for multi-class objectives, else 1).
    pub n_groups: usize,
    /// Weight multiplier of positive rows (logistic objectives).
    pub scale_pos_weight: f32,
    /// Added to the margin inside the Poisson hessian's exponent.
    pub max_delta_step: f32,
    /// The parameters of the objectives that take one.
    pub params: &'a ObjectiveParams,
    /// `survival:aft`: each row's upper bound (`labels` holding the lower ones); empty
    /// otherwise.
    pub upper: &'a [f32],
}

/// The clip XGBoost applies to hessians and probabilities.
const EPS: f32 = 1e-16;

/// Rows per parallel task of [`Objective::gradients`].
const GRADIENT_BLOCK: usize = 16_384;

/// Sets `out[i] = pair(margin[i], labels[i], weights[i])` for every row, in parallel fixed
/// blocks of tight loops the compiler can pipeline (the exponentials of neighbouring rows
/// overlap).
fn per_row(
    out: &mut [(f32, f32)],
    margin: &[f32],
    labels: &[f32],
    weights: &[f32],
    pair: impl Fn(f32, f32, f32) -> (f32, f32) + Sync,
) {
    out.par_chunks_mut(GRADIENT_BLOCK)
        .zip(margin.par_chunks(GRADIENT_BLOCK))
        .zip(labels.par_chunks(GRADIENT_BLOCK))
        .zip(weights.par_chunks(GRADIENT_BLOCK))
        .for_each(|(((o, m), y), w)| {
            for (((o, &m), &y), &w) in o.iter_mut().zip(m).zip(y).zip(w) {
                *o = pair(m, y, w);
            }
        });
}

/// XGBoost's float sigmoid.
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    let e = (-x).min(88.7).exp();
    1.0 / (e + 1.0 + EPS)
}

/// Softmax in place with a max shift, accumulated in `f32` as XGBoost does.
pub fn softmax(v: &mut [f32]) {
    let mut max = v[0];
    for &x in v.iter().skip(1) {
        if x > max {
            max = x;
        }
    }
    let mut sum = 0.0_f32;
    for x in v.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    for x in v.iter_mut() {
        *x /= sum;
    }
}

impl Objective {
    /// Every objective name accepted.
    pub const NAMES: [&'static str; 7] = [
        "reg:squarederror",
        "reg:logistic",
        "binary:logistic",
        "multi:softprob",
        "multi:softmax",
        "count:poisson",
        "reg:absoluteerror",
    ];

    /// Parses an objective name.
    ///
    /// # Errors
    /// [`BoostError::UnknownName`] listing the known names.
    pub fn from_name(name: &str) -> Result<Self, BoostError> {
        Ok(match name {
            "reg:squarederror" => Self::SquaredError,
            "reg:logistic" => Self::RegLogistic,
            "binary:logistic" => Self::BinaryLogistic,
            "multi:softprob" => Self::MultiSoftprob,
            "multi:softmax" => Self::MultiSoftmax,
            "count:poisson" => Self::Poisson,
            "reg:absoluteerror" => Self::AbsoluteError,
            "custom" => Self::Custom,
            "reg:squaredlogerror" => Self::SquaredLogError,
            "reg:gamma" => Self::Gamma,
            "binary:logitraw" => Self::LogitRaw,
            "binary:hinge" => Self::Hinge,
            "reg:pseudohubererror" => Self::PseudoHuber,
            "reg:tweedie" => Self::Tweedie,
            "reg:quantileerror" => Self::Quantile,
            "survival:cox" => Self::Cox,
            "survival:aft" => Self::Aft,
            "rank:pairwise" => Self::RankPairwise,
            "rank:ndcg" => Self::RankNdcg,
            "rank:map" => Self::RankMap,
            _ => {
                return Err(BoostError::UnknownName(format!(
                    "unknown objective {name:?}; expected one of {}",
                    Self::NAMES.join(", ")
                )))
            }
        })
    }

    /// The objective's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::SquaredError => "reg:squarederror",
            Self::RegLogistic => "reg:logistic",
            Self::BinaryLogistic => "binary:logistic",
            Self::MultiSoftprob => "multi:softprob",
            Self::MultiSoftmax => "multi:softmax",
            Self::Poisson => "count:poisson",
            Self::AbsoluteError => "reg:absoluteerror",
            Self::Custom => "custom",
            Self::SquaredLogError => "reg:squaredlogerror",
            Self::Gamma => "reg:gamma",
            Self::LogitRaw => "binary:logitraw",
            Self::Hinge => "binary:hinge",
            Self::PseudoHuber => "reg:pseudohubererror",
            Self::Tweedie => "reg:tweedie",
            Self::Quantile => "reg:quantileerror",
            Self::Cox => "survival:cox",
            Self::Aft => "survival:aft",
            Self::RankPairwise => "rank:pairwise",
            Self::RankNdcg => "rank:ndcg",
            Self::RankMap => "rank:map",
        }
    }

    /// The number of outputs (margins a row): the classes of a multi-class objective, the
    /// quantiles of `reg:quantileerror`, else one.
    pub fn n_outputs(self, num_class: usize, params: &ObjectiveParams) -> usize {
        if self.is_multiclass() {
            num_class.max(1)
        } else if self == Self::Quantile {
            params.quantile_alpha.len().max(1)
        } else {
            1
        }
    }

    /// Whether leaves are refreshed after growth to a quantile of their rows' residuals
    /// (`reg:absoluteerror`, `reg:quantileerror`).
    pub fn has_adaptive_leaves(self) -> bool {
        matches!(self, Self::AbsoluteError | Self::Quantile)
    }

    /// Whether the objective ranks documents within query groups (`rank:*`).
    pub fn is_ranking(self) -> bool {
        matches!(self, Self::RankPairwise | Self::RankNdcg | Self::RankMap)
    }

    /// Whether the objective is multi-class.
    pub fn is_multiclass(self) -> bool {
        matches!(self, Self::MultiSoftprob | Self::MultiSoftmax)
    }

    /// The metric evaluated when none is asked for.
    pub fn default_metric(self) -> &'static str {
        match self {
            Self::SquaredError | Self::RegLogistic | Self::Custom => "rmse",
            Self::BinaryLogistic => "logloss",
            Self::MultiSoftprob | Self::MultiSoftmax => "mlogloss",
            Self::Poisson => "poisson-nloglik",
            Self::AbsoluteError => "mae",
            Self::SquaredLogError => "rmsle",
            Self::Gamma => "gamma-deviance",
            Self::LogitRaw => "logloss",
            Self::Hinge => "error",
            Self::PseudoHuber => "mphe",
            Self::Tweedie => "tweedie-nloglik",
            Self::Quantile => "quantile",
            Self::Cox => "cox-nloglik",
            Self::Aft => "aft-nloglik",
            // Truncated at the objective's k with the top-k pair method: see
            // `rank::truncation`.
            Self::RankPairwise | Self::RankNdcg => "ndcg",
            Self::RankMap => "map",
        }
    }

    /// The `max_delta_step` the objective implies for trees (Poisson: 0.7).
    pub fn implied_max_delta_step(self) -> Option<f64> {
        match self {
            Self::Poisson => Some(0.7),
            _ => None,
        }
    }

    /// Checks labels against the objective's domain.
    ///
    /// # Errors
    /// [`BoostError::InvalidInput`] naming the first offending label.
    pub fn check_labels(self, labels: &[f32], num_class: usize) -> Result<(), BoostError> {
        for &y in labels {
            let ok = match self {
                Self::RegLogistic | Self::BinaryLogistic | Self::LogitRaw | Self::Hinge => {
                    (0.0..=1.0).contains(&y)
                }
                Self::SquaredLogError => y > -1.0,
                Self::Gamma => y > 0.0,
                Self::MultiSoftprob | Self::MultiSoftmax => {
                    y >= 0.0 && y.fract() == 0.0 && (y as usize) < num_class
                }
                Self::Poisson | Self::Tweedie | Self::Aft => y >= 0.0,
                Self::RankPairwise | Self::RankNdcg | Self::RankMap => y >= 0.0,
                _ => y.is_finite(),
            };
            if !ok || !y.is_finite() {
                let domain = match self {
                    Self::RegLogistic | Self::BinaryLogistic | Self::LogitRaw | Self::Hinge => {
                        "in [0, 1]"
                    }
                    Self::SquaredLogError => "greater than -1",
                    Self::Gamma => "positive",
                    Self::MultiSoftprob | Self::MultiSoftmax => "integers in [0, num_class)",
                    Self::Poisson | Self::Tweedie => "non-negative",
                    Self::Aft => "non-negative lower bounds",
                    Self::RankPairwise | Self::RankNdcg | Self::RankMap => {
                        "non-negative relevance degrees"
                    }
                    _ => "finite",
                };
                return Err(BoostError::InvalidInput(format!(
                    "labels of {} must be {domain}, got {y}",
                    self.name()
                )));
            }
        }
        Ok(())
    }

    /// Gradient pairs of every row (and every class, class-minor) at `input.margin`, into
    /// `out` (`n_rows * n_groups` entries).
    pub fn gradients(self, input: &GradientInputs<'_>, out: &mut [(f32, f32)]) {
        let GradientInputs {
            margin,
            labels,
            weights,
            n_groups,
            scale_pos_weight,
            max_delta_step,
            params,
            upper,
        } = *input;
        match self {
            Self::MultiSoftprob | Self::MultiSoftmax => {
                out.par_chunks_mut(n_groups)
                    .zip(margin.par_chunks(n_groups))
                    .enumerate()
                    .for_each_init(
                        || vec![0.0_f32; n_groups],
                        |p, (i, (o, m))| {
                            p.copy_from_slice(m);
                            softmax(p);
                            let label = labels[i] as usize;
                            let w = weights[i];
                            for k in 0..n_groups {
                                let pk = p[k];
                                let h = (2.0 * pk * (1.0 - pk) * w).max(EPS);
                                let g = if label == k { pk - 1.0 } else { pk };
                                o[k] = (g * w, h);
                            }
                        },
                    );
            }
            Self::SquaredError | Self::Custom => {
                per_row(out, margin, labels, weights, |m, y, w| ((m - y) * w, w));
            }
            Self::RegLogistic | Self::BinaryLogistic => {
                per_row(out, margin, labels, weights, |m, y, w| {
                    // Labels are 0 or 1 in no predictable order: select, do not branch.
                    let w = std::hint::select_unpredictable(y == 1.0, w * scale_pos_weight, w);
                    let p = sigmoid(m);
                    ((p - y) * w, (p * (1.0 - p)).max(EPS) * w)
                });
            }
            Self::Poisson => per_row(out, margin, labels, weights, |m, y, w| {
                ((m.exp() - y) * w, (m + max_delta_step).exp() * w)
            }),
            Self::AbsoluteError => per_row(out, margin, labels, weights, |m, y, w| {
                let d = m - y;
                let s = f32::from(u8::from(d > 0.0)) - f32::from(u8::from(d < 0.0));
                (s * w, w)
            }),
            // XGBoost's regression losses weigh rows labelled 1 by scale_pos_weight.
            Self::SquaredLogError => per_row(out, margin, labels, weights, |m, y, w| {
                let w = if y == 1.0 { w * scale_pos_weight } else { w };
                let p = m.max(-1.0 + 1e-6);
                let g = (p.ln_1p() - y.ln_1p()) / (p + 1.0);
                let h = ((-p.ln_1p() + y.ln_1p() + 1.0) / (p + 1.0).powi(2)).max(1e-6);
                (g * w, h * w)
            }),
            Self::Gamma => per_row(out, margin, labels, weights, |m, y, w| {
                let w = if y == 1.0 { w * scale_pos_weight } else { w };
                let p = m.exp();
                ((1.0 - y / p) * w, (y / p) * w)
            }),
            Self::LogitRaw => per_row(out, margin, labels, weights, |m, y, w| {
                let w = if y == 1.0 { w * scale_pos_weight } else { w };
                let p = sigmoid(m);
                ((p - y) * w, (p * (1.0 - p)).max(EPS) * w)
            }),
            Self::PseudoHuber => {
                let slope = params.huber_slope;
                per_row(out, margin, labels, weights, |m, y, w| {
                    let z = m - y;
                    let scale_sqrt = (1.0 + (z * z) / (slope * slope)).sqrt();
                    let grad = z / scale_sqrt;
                    let scale = slope * slope + z * z;
                    let hess = (slope * slope) / (scale * scale_sqrt);
                    (grad * w, hess * w)
                });
            }
            Self::Tweedie => {
                let rho = params.tweedie_variance_power;
                per_row(out, margin, labels, weights, |m, y, w| {
                    let (a, b) = (((1.0 - rho) * m).exp(), ((2.0 - rho) * m).exp());
                    let grad = -y * a + b;
                    let hess = -y * (1.0 - rho) * a + (2.0 - rho) * b;
                    (grad * w, hess * w)
                });
            }
            Self::Quantile => {
                // One output per quantile: entry `j` of a row takes `quantile_alpha[j]`.
                let alphas = &params.quantile_alpha;
                out.par_chunks_mut(GRADIENT_BLOCK * n_groups)
                    .zip(margin.par_chunks(GRADIENT_BLOCK * n_groups))
                    .enumerate()
                    .for_each(|(b, (o, m))| {
                        let first = b * GRADIENT_BLOCK;
                        for (k, (o, &m)) in o.iter_mut().zip(m).enumerate() {
                            let i = first + k / n_groups;
                            let alpha = alphas[(k % n_groups).min(alphas.len() - 1)];
                            let (y, w) = (labels[i], weights[i]);
                            *o = if m - y >= 0.0 {
                                ((1.0 - alpha) * w, w)
                            } else {
                                (-alpha * w, w)
                            };
                        }
                    });
            }
            Self::Cox => cox_gradients(margin, labels, weights, out),
            // The trainer computes ranking gradients over its query groups
            // (`rank::RankState`); without groups, every row is one query.
            Self::RankPairwise | Self::RankNdcg | Self::RankMap => {
                if let Ok(mut state) =
                    crate::rank::RankState::new(self, params, labels, vec![0, labels.len()])
                {
                    state.gradients(0, margin, labels, weights, out);
                }
            }
            Self::Aft => {
                let d = params.aft_loss_distribution;
                let sigma = f64::from(params.aft_loss_distribution_scale);
                out.par_chunks_mut(GRADIENT_BLOCK)
                    .enumerate()
                    .for_each(|(b, o)| {
                        let start = b * GRADIENT_BLOCK;
                        for (j, o) in o.iter_mut().enumerate() {
                            let i = start + j;
                            let (lo, hi) = (f64::from(labels[i]), f64::from(upper[i]));
                            let m = f64::from(margin[i]);
                            #[allow(clippy::cast_possible_truncation)]
                            let g = survival::gradient(d, lo, hi, m, sigma) as f32;
                            #[allow(clippy::cast_possible_truncation)]
                            let h = survival::hessian(d, lo, hi, m, sigma) as f32;
                            *o = (g * weights[i], h * weights[i]);
                        }
                    });
            }
            Self::Hinge => per_row(out, margin, labels, weights, |m, y, w| {
                let y = y * 2.0 - 1.0;
                if m * y < 1.0 {
                    (-y * w, w)
                } else {
                    (0.0, f32::MIN_POSITIVE)
                }
            }),
        }
    }

    /// Turns one row of margins into the response, in place (sigmoid, softmax, exp...).
    /// `multi:softmax` gives probabilities here; the class is the argmax.
    pub fn transform(self, row: &mut [f32]) {
        match self {
            Self::RegLogistic | Self::BinaryLogistic => {
                for x in row.iter_mut() {
                    *x = sigmoid(*x);
                }
            }
            Self::MultiSoftprob | Self::MultiSoftmax => softmax(row),
            Self::Poisson | Self::Gamma | Self::Tweedie | Self::Cox | Self::Aft => {
                for x in row.iter_mut() {
                    *x = x.exp();
                }
            }
            Self::Hinge => {
                for x in row.iter_mut() {
                    *x = if *x > 0.0 { 1.0 } else { 0.0 };
                }
            }
            _ => {}
        }
    }

    /// The margin added to every prediction for an intercept stored in response space.
    #[allow(clippy::cast_possible_truncation)]
    pub fn prob_to_margin(self, base_score: f32) -> f32 {
        match self {
            Self::RegLogistic | Self::BinaryLogistic => {
                let b = base_score.clamp(1e-6, 1.0 - 1e-6);
                -(1.0 / b - 1.0).ln()
            }
            Self::Poisson => base_score.max(1e-16).ln(),
            Self::Gamma | Self::Tweedie | Self::Cox | Self::Aft => base_score.ln(),
            _ => base_score,
        }
    }

    /// XGBoost 3.x's intercept estimate, in response space (margins for multi-class).
    #[allow(clippy::cast_possible_truncation)]
    pub fn estimate_base_score(
        self,
        labels: &[f32],
        weights: &[f32],
        num_class: usize,
        scale_pos_weight: f32,
        params: &ObjectiveParams,
    ) -> Vec<f32> {
        let total_w: f64 = weights.iter().map(|&w| f64::from(w)).sum();
        let mean = || {
            let s: f64 = labels
                .iter()
                .zip(weights)
                .map(|(&y, &w)| f64::from(y) * f64::from(w))
                .sum();
            if total_w > 0.0 {
                s / total_w
            } else {
                0.0
            }
        };
        match self {
            // XGBoost's default intercept, 0.5 (a survival time, for AFT).
            Self::Custom | Self::Aft => vec![0.5],
            // The two documents of a pair get opposite lambdas, so the Newton step from 0 is
            // 0 (XGBoost's estimate differs by rounding, about 1e-9).
            Self::RankPairwise | Self::RankNdcg | Self::RankMap => vec![0.0],
            Self::SquaredError | Self::Poisson | Self::Tweedie => vec![mean() as f32],
            Self::PseudoHuber => vec![self.newton_intercept(labels, weights, 1.0, params)],
            Self::Quantile => params
                .quantile_alpha
                .iter()
                .map(|&a| {
                    weighted_quantile(
                        labels,
                        weights,
                        weights.iter().all(|&w| w == 1.0),
                        f64::from(a),
                    )
                })
                .collect(),
            // GLM-like: the weighted mean; with scale_pos_weight, one Newton step from 0.
            Self::Gamma | Self::LogitRaw if scale_pos_weight == 1.0 => vec![mean() as f32],
            Self::Gamma | Self::LogitRaw | Self::SquaredLogError | Self::Hinge | Self::Cox => {
                vec![self.newton_intercept(labels, weights, scale_pos_weight, params)]
            }
            Self::RegLogistic | Self::BinaryLogistic => {
                if scale_pos_weight == 1.0 {
                    vec![mean() as f32]
                } else {
                    // One Newton step from margin 0, as XGBoost does with scale_pos_weight.
                    let (mut g, mut h) = (0.0_f64, 0.0_f64);
                    for (&y, &w) in labels.iter().zip(weights) {
                        let w = if y == 1.0 { w * scale_pos_weight } else { w };
                        g += f64::from((0.5 - y) * w);
                        h += f64::from(0.25 * w);
                    }
                    let m = if h > 0.0 { (-g / h) as f32 } else { 0.0 };
                    vec![sigmoid(m)]
                }
            }
            Self::MultiSoftprob | Self::MultiSoftmax => {
                let mut freq = vec![0.0_f64; num_class];
                for (&y, &w) in labels.iter().zip(weights) {
                    freq[y as usize] += f64::from(w);
                }
                // Class frequencies, their logs and the mean log in f32, as XGBoost does.
                let logs: Vec<f32> = freq
                    .iter()
                    .map(|&f| {
                        ((f / total_w.max(f64::MIN_POSITIVE)) as f32)
                            .max(1e-16)
                            .ln()
                    })
                    .collect();
                let mut sum = 0.0_f32;
                for &l in &logs {
                    sum += l;
                }
                let avg = sum / num_class as f32;
                logs.iter().map(|&l| l - avg).collect()
            }
            Self::AbsoluteError => {
                let values: Vec<f32> = labels.to_vec();
                vec![weighted_median(
                    &values,
                    weights,
                    weights.iter().all(|&w| w == 1.0),
                )]
            }
        }
    }
}

impl Objective {
    /// XGBoost's `FitIntercept`: the gradients at margin 0, one unregularised Newton step
    /// (`-sum(g) / sum(h)`, sums in f64), in response space.
    #[allow(clippy::cast_possible_truncation)]
    fn newton_intercept(
        self,
        labels: &[f32],
        weights: &[f32],
        scale_pos_weight: f32,
        params: &ObjectiveParams,
    ) -> f32 {
        let n = labels.len();
        let margin = vec![0.0_f32; n];
        let mut gpair = vec![(0.0_f32, 0.0_f32); n];
        self.gradients(
            &GradientInputs {
                margin: &margin,
                labels,
                weights,
                n_groups: 1,
                scale_pos_weight,
                max_delta_step: 0.0,
                params,
                upper: &[],
            },
            &mut gpair,
        );
        let (mut g, mut h) = (0.0_f64, 0.0_f64);
        for &(gi, hi) in &gpair {
            g += f64::from(gi);
            h += f64::from(hi);
        }
        let mut w = [if h > 0.0 { (-g / h) as f32 } else { 0.0 }];
        self.transform(&mut w);
        w[0]
    }
}

/// The rows in order of the absolute value of their labels (stable): survival times, the
/// censored ones (negative labels) among them.
pub fn label_abs_order(labels: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by(|&a, &b| {
        labels[a]
            .abs()
            .partial_cmp(&labels[b].abs())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    order
}

/// `survival:cox`'s gradient pairs (XGBoost's, in `f64` along the rows in order of time):
/// for a row at time `t`, `exp(m) * R - [event]` and `exp(m) * R - exp(m)^2 * S`, where `R`
/// and `S` sum `1 / D` and `1 / D^2` over the events up to `t`, and `D` is the sum of
/// `exp(m)` over the rows still at risk (Breslow's method: rows tied in time share `D`).
#[allow(clippy::cast_possible_truncation)]
fn cox_gradients(margin: &[f32], labels: &[f32], weights: &[f32], out: &mut [(f32, f32)]) {
    let order = label_abs_order(labels);
    let mut exp_sum: f64 = order.iter().map(|&i| f64::from(margin[i]).exp()).sum();
    let (mut r, mut s) = (0.0_f64, 0.0_f64);
    let (mut last_exp, mut last_abs, mut accumulated) = (0.0_f64, 0.0_f64, 0.0_f64);
    for &i in &order {
        let exp_p = f64::from(margin[i]).exp();
        let (w, y) = (f64::from(weights[i]), f64::from(labels[i]));
        let abs_y = y.abs();
        accumulated += last_exp;
        if last_abs < abs_y {
            exp_sum -= accumulated;
            accumulated = 0.0;
        }
        if y > 0.0 {
            r += 1.0 / exp_sum;
            s += 1.0 / (exp_sum * exp_sum);
        }
        let event = if y > 0.0 { 1.0 } else { 0.0 };
        let grad = exp_p * r - event;
        let hess = exp_p * r - exp_p * exp_p * s;
        out[i] = ((grad * w) as f32, (hess * w) as f32);
        last_abs = abs_y;
        last_exp = exp_p;
    }
}

/// The median XGBoost uses for `reg:absoluteerror`: interpolated for unit weights, the lower
/// weighted quantile otherwise. NaN for an empty input.
pub fn weighted_median(values: &[f32], weights: &[f32], unweighted: bool) -> f32 {
    weighted_quantile(values, weights, unweighted, 0.5)
}

/// XGBoost's quantile at `alpha` (`common::Quantile`, interpolated, for unit weights; the
/// lower weighted quantile, `common::WeightedQuantile`, otherwise). NaN for an empty input.
#[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
pub fn weighted_quantile(values: &[f32], weights: &[f32], unweighted: bool, alpha: f64) -> f32 {
    let n = values.len();
    if n == 0 {
        return f32::NAN;
    }
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    if unweighted {
        let nf = n as f64;
        if alpha <= 1.0 / (nf + 1.0) {
            return values[idx[0]];
        }
        if alpha >= nf / (nf + 1.0) {
            return values[idx[n - 1]];
        }
        let x = alpha * (nf + 1.0);
        let k = x.floor() - 1.0;
        let d = (x - 1.0) - k;
        let k = k as usize;
        let v0 = f64::from(values[idx[k]]);
        let v1 = f64::from(values[idx[k + 1]]);
        (v0 + d * (v1 - v0)) as f32
    } else {
        let mut cdf = Vec::with_capacity(n);
        let mut acc = 0.0_f32;
        for &i in &idx {
            acc += weights[i];
            cdf.push(acc);
        }
        // XGBoost multiplies in f64 and keeps the threshold in f32.
        let thresh = (f64::from(acc) * alpha) as f32;
        let pos = cdf.partition_point(|&c| c < thresh).min(n - 1);
        values[idx[pos]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in Objective::NAMES {
            assert_eq!(Objective::from_name(name).unwrap().name(), name);
        }
        assert!(Objective::from_name("reg:nope")
            .unwrap_err()
            .to_string()
            .contains("unknown objective"));
    }

    #[test]
    fn multiclass_hessian_has_the_factor_two() {
        let mut out = vec![(0.0, 0.0); 2];
        let input = GradientInputs {
            margin: &[0.0, 0.0],
            labels: &[1.0],
            weights: &[1.0],
            n_groups: 2,
            scale_pos_weight: 1.0,
            max_delta_step: 0.0,
            params: &ObjectiveParams::default(),
            upper: &[],
        };
        Objective::MultiSoftprob.gradients(&input, &mut out);
        assert_eq!(out[0], (0.5, 0.5));
        assert_eq!(out[1], (-0.5, 0.5));
    }

    #[test]
    fn poisson_hessian_uses_max_delta_step() {
        let mut out = vec![(0.0, 0.0); 1];
        let input = GradientInputs {
            margin: &[0.0],
            labels: &[2.0],
            weights: &[1.0],
            n_groups: 1,
            scale_pos_weight: 1.0,
            max_delta_step: 0.7,
            params: &ObjectiveParams::default(),
            upper: &[],
        };
        Objective::Poisson.gradients(&input, &mut out);
        assert!((out[0].0 + 1.0).abs() < 1e-6);
        assert!((out[0].1 - 0.7_f32.exp()).abs() < 1e-6);
    }

    #[test]
    fn intercepts() {
        let y = [0.0, 1.0, 1.0, 1.0];
        let w = [1.0; 4];
        assert_eq!(
            Objective::BinaryLogistic.estimate_base_score(
                &y,
                &w,
                0,
                1.0,
                &ObjectiveParams::default()
            ),
            vec![0.75]
        );
        let m = Objective::MultiSoftprob.estimate_base_score(
            &y,
            &w,
            2,
            1.0,
            &ObjectiveParams::default(),
        );
        assert!((m[0] + m[1]).abs() < 1e-6 && m[1] > m[0]);
        assert_eq!(weighted_median(&[3.0, 1.0, 2.0], &[1.0; 3], true), 2.0);
        assert_eq!(weighted_median(&[1.0, 2.0, 3.0, 4.0], &[1.0; 4], true), 2.5);
        assert_eq!(
            weighted_median(&[1.0, 2.0, 3.0], &[1.0, 1.0, 5.0], false),
            3.0
        );
    }
}
