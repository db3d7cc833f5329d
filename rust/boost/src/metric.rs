//! Evaluation metrics, weighted as scikit-learn weights them, with XGBoost's clips.

use crate::error::BoostError;
use crate::objective::ObjectiveParams;
use crate::rank::RankMetric;

/// An evaluation metric.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// Root mean squared error.
    Rmse,
    /// Mean absolute error.
    Mae,
    /// Binary log loss (a side whose probability is below 1e-16 taken at 1e-16).
    LogLoss,
    /// Binary error rate at threshold 0.5 (positive iff p > 0.5).
    Error,
    /// Area under the ROC curve, ties averaged.
    Auc,
    /// Multi-class log loss.
    MLogLoss,
    /// Multi-class error rate.
    MError,
    /// Poisson negative log-likelihood.
    PoissonNLogLik,
    /// Root mean squared log error (`log1p` of labels and predictions).
    Rmsle,
    /// Gamma regression's residual deviance.
    GammaDeviance,
    /// Gamma regression's negative log-likelihood (dispersion 1).
    GammaNLogLik,
    /// Mean pseudo-Huber error (`mphe`) at the objective's `huber_slope`.
    Mphe {
        /// The slope.
        slope: f32,
    },
    /// Tweedie regression's negative log-likelihood at variance power `rho`
    /// (`tweedie-nloglik@rho`).
    TweedieNLogLik {
        /// The variance power, in [1, 2).
        rho: f32,
    },
    /// The pinball loss (`quantile`) at the objective's `quantile_alpha`, averaged over
    /// every row and quantile.
    Quantile {
        /// The quantiles, one per output.
        alphas: Vec<f32>,
    },
    /// The negative partial log-likelihood of Cox regression, per event (`cox-nloglik`),
    /// unweighted as XGBoost's.
    CoxNLogLik,
    /// The accelerated failure time model's negative log-likelihood of the label intervals
    /// at the margins (`aft-nloglik`), with the objective's distribution at scale 1 (as
    /// XGBoost 3.2 evaluates it).
    AftNLogLik {
        /// The noise distribution.
        distribution: crate::survival::AftDistribution,
        /// Its scale.
        scale: f32,
    },
    /// A ranking metric over query groups (`ndcg`, `map`, `pre`, with `@k` and `-`).
    Rank(RankMetric),
}

const EPS: f64 = 1e-16;

impl Metric {
    /// Every metric name accepted (`tweedie-nloglik` takes its power after an `@`; `ndcg`,
    /// `map` and `pre` their truncation, or none, and optionally `-`).
    pub const NAMES: [&'static str; 19] = [
        "rmse",
        "mae",
        "logloss",
        "error",
        "auc",
        "mlogloss",
        "merror",
        "poisson-nloglik",
        "rmsle",
        "gamma-deviance",
        "gamma-nloglik",
        "mphe",
        "tweedie-nloglik@1.5",
        "quantile",
        "cox-nloglik",
        "aft-nloglik",
        "ndcg@10",
        "map@10",
        "pre@10",
    ];

    /// Parses a metric name, with the objective parameters' defaults.
    ///
    /// # Errors
    /// [`BoostError::UnknownName`] listing the known names.
    pub fn from_name(name: &str) -> Result<Self, BoostError> {
        Self::from_name_with(name, &ObjectiveParams::default())
    }

    /// Parses a metric name; `mphe` and `quantile` read `huber_slope` and `quantile_alpha`
    /// from `params`, as XGBoost's metrics read the learner's parameters.
    ///
    /// # Errors
    /// [`BoostError::UnknownName`] listing the known names; [`BoostError::InvalidParameter`]
    /// for a Tweedie power outside [1, 2).
    pub fn from_name_with(name: &str, params: &ObjectiveParams) -> Result<Self, BoostError> {
        if let Some(m) = RankMetric::parse(name, params.ndcg_exp_gain)? {
            return Ok(Self::Rank(m));
        }
        if let Some(rho) = name.strip_prefix("tweedie-nloglik@") {
            let rho: f32 = rho.parse().map_err(|_| {
                BoostError::UnknownName(format!(
                    "eval_metric {name:?}: the Tweedie power after '@' is not a number"
                ))
            })?;
            if !(1.0..2.0).contains(&rho) {
                return Err(BoostError::parameter(
                    "the power of tweedie-nloglik",
                    "in [1, 2)",
                    rho,
                ));
            }
            return Ok(Self::TweedieNLogLik { rho });
        }
        Ok(match name {
            "rmse" => Self::Rmse,
            "mae" => Self::Mae,
            "logloss" => Self::LogLoss,
            "error" => Self::Error,
            "auc" => Self::Auc,
            "mlogloss" => Self::MLogLoss,
            "merror" => Self::MError,
            "poisson-nloglik" => Self::PoissonNLogLik,
            "rmsle" => Self::Rmsle,
            "gamma-deviance" => Self::GammaDeviance,
            "gamma-nloglik" => Self::GammaNLogLik,
            "mphe" => Self::Mphe {
                slope: params.huber_slope,
            },
            "tweedie-nloglik" => Self::TweedieNLogLik {
                rho: params.tweedie_variance_power,
            },
            "quantile" => Self::Quantile {
                alphas: params.quantile_alpha.clone(),
            },
            "cox-nloglik" => Self::CoxNLogLik,
            // XGBoost 3.2's metric takes the objective's distribution but evaluates it at
            // scale 1, whatever aft_loss_distribution_scale is; so does this one.
            "aft-nloglik" => Self::AftNLogLik {
                distribution: params.aft_loss_distribution,
                scale: 1.0,
            },
            _ => {
                return Err(BoostError::UnknownName(format!(
                    "unknown eval_metric {name:?}; expected one of {}",
                    Self::NAMES.join(", ")
                )))
            }
        })
    }

    /// The metric's name (XGBoost's, `tweedie-nloglik@1.5` with its power).
    pub fn name(&self) -> String {
        match self {
            Self::Rmse => "rmse".into(),
            Self::Mae => "mae".into(),
            Self::LogLoss => "logloss".into(),
            Self::Error => "error".into(),
            Self::Auc => "auc".into(),
            Self::MLogLoss => "mlogloss".into(),
            Self::MError => "merror".into(),
            Self::PoissonNLogLik => "poisson-nloglik".into(),
            Self::Rmsle => "rmsle".into(),
            Self::GammaDeviance => "gamma-deviance".into(),
            Self::GammaNLogLik => "gamma-nloglik".into(),
            Self::Mphe { .. } => "mphe".into(),
            Self::TweedieNLogLik { rho } => format!("tweedie-nloglik@{rho}"),
            Self::Quantile { .. } => "quantile".into(),
            Self::CoxNLogLik => "cox-nloglik".into(),
            Self::AftNLogLik { .. } => "aft-nloglik".into(),
            Self::Rank(m) => m.name(),
        }
    }

    /// Whether the metric reads label intervals and margins
    /// ([`Metric::evaluate_intervals`]) rather than labels and responses.
    pub fn needs_intervals(&self) -> bool {
        matches!(self, Self::AftNLogLik { .. })
    }

    /// Evaluates a metric of label intervals (`aft-nloglik`) at the margins, weighted.
    ///
    /// # Errors
    /// [`BoostError::InvalidInput`] for a metric that does not read intervals, or bounds
    /// that do not match the margins.
    pub fn evaluate_intervals(
        &self,
        margins: &[f32],
        lower: &[f32],
        upper: &[f32],
        weights: &[f32],
    ) -> Result<f64, BoostError> {
        let Self::AftNLogLik {
            distribution,
            scale,
        } = *self
        else {
            return Err(BoostError::InvalidInput(format!(
                "eval_metric {} does not read label intervals",
                self.name()
            )));
        };
        if upper.len() != lower.len() || margins.len() != lower.len() {
            return Err(BoostError::InvalidInput(
                "aft-nloglik needs a lower and an upper bound for every row (survival:aft)".into(),
            ));
        }
        let (mut num, mut den) = (0.0_f64, 0.0_f64);
        for i in 0..lower.len() {
            let w = f64::from(weights[i]);
            num += crate::survival::loss(
                distribution,
                f64::from(lower[i]),
                f64::from(upper[i]),
                f64::from(margins[i]),
                f64::from(scale),
            ) * w;
            den += w;
        }
        Ok(if den == 0.0 { num } else { num / den })
    }

    /// Whether larger values are better (for early stopping).
    pub fn maximize(&self) -> bool {
        matches!(self, Self::Auc | Self::Rank(_))
    }

    /// Whether the metric is evaluated over query groups ([`Metric::evaluate_groups`]).
    pub fn needs_groups(&self) -> bool {
        matches!(self, Self::Rank(_))
    }

    /// Evaluates a ranking metric over the query groups `groups` (offsets into the rows);
    /// `weights` holds each row's group weight.
    ///
    /// # Errors
    /// [`BoostError::InvalidInput`] for a metric that is not a ranking metric, or groups and
    /// labels it cannot score.
    pub fn evaluate_groups(
        &self,
        scores: &[f32],
        labels: &[f32],
        weights: &[f32],
        groups: &[usize],
    ) -> Result<f64, BoostError> {
        match self {
            Self::Rank(m) => m.evaluate(scores, labels, weights, groups),
            _ => Err(BoostError::InvalidInput(format!(
                "eval_metric {} is not a ranking metric",
                self.name()
            ))),
        }
    }

    /// Evaluates predictions (`n_rows * n_groups` values in response space: probabilities for
    /// classification) against labels with per-row weights.
    ///
    /// # Errors
    /// [`BoostError::InvalidInput`] when the metric does not fit the output shape.
    pub fn evaluate(
        &self,
        preds: &[f32],
        labels: &[f32],
        weights: &[f32],
        n_groups: usize,
    ) -> Result<f64, BoostError> {
        let multi = matches!(self, Self::MLogLoss | Self::MError);
        let any_width = matches!(self, Self::Quantile { .. });
        if !any_width && multi != (n_groups > 1) {
            return Err(BoostError::InvalidInput(format!(
                "eval_metric {} does not apply to a model with {n_groups} output(s)",
                self.name()
            )));
        }
        let wsum: f64 = weights.iter().map(|&w| f64::from(w)).sum();
        let mean = |f: &dyn Fn(usize) -> f64| -> f64 {
            let s: f64 = (0..labels.len())
                .map(|i| f64::from(weights[i]) * f(i))
                .sum();
            s / wsum
        };
        let p = |i: usize| f64::from(preds[i]);
        let y = |i: usize| f64::from(labels[i]);
        Ok(match self {
            Self::Rmse => mean(&|i| (p(i) - y(i)).powi(2)).sqrt(),
            Self::Mae => mean(&|i| (p(i) - y(i)).abs()),
            // XGBoost's rule: only the side whose probability is below 1e-16 is clipped, so
            // raw margins (binary:logitraw) outside [0, 1] score as XGBoost scores them.
            Self::LogLoss => mean(&|i| {
                let (pi, yi) = (p(i), y(i));
                let neg = 1.0 - pi;
                if pi < EPS {
                    -yi * EPS.ln() - (1.0 - yi) * neg.ln()
                } else if neg < EPS {
                    -yi * pi.ln() - (1.0 - yi) * EPS.ln()
                } else {
                    -(yi * pi.ln() + (1.0 - yi) * neg.ln())
                }
            }),
            Self::Error => mean(&|i| {
                let pred = if p(i) > 0.5 { 1.0 } else { 0.0 };
                if (pred - y(i)).abs() > 0.5 {
                    1.0
                } else {
                    0.0
                }
            }),
            Self::PoissonNLogLik => mean(&|i| {
                let pi = p(i).max(EPS);
                ln_gamma(y(i) + 1.0) + pi - pi.ln() * y(i)
            }),
            // Row values in f32 and sums in f64, as XGBoost's element-wise metrics.
            Self::Rmsle => mean(&|i| {
                let d = labels[i].ln_1p() - preds[i].ln_1p();
                f64::from(d * d)
            })
            .sqrt(),
            Self::GammaDeviance => {
                let s: f64 = (0..labels.len())
                    .map(|i| {
                        let (pi, yi) = (preds[i] + 1e-6, labels[i] + 1e-6);
                        f64::from(weights[i]) * f64::from((pi / yi).ln() + yi / pi - 1.0)
                    })
                    .sum();
                2.0 * s / if wsum <= 0.0 { 1e-6 } else { wsum }
            }
            Self::GammaNLogLik => mean(&|i| {
                let pi = preds[i].max(1e-6);
                f64::from(labels[i] / pi + pi.ln())
            }),
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Self::MLogLoss => mean(&|i| {
                let k = labels[i] as usize;
                -(f64::from(preds[i * n_groups + k]).max(EPS)).ln()
            }),
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Self::MError => mean(&|i| {
                let row = &preds[i * n_groups..(i + 1) * n_groups];
                let mut best = 0;
                for (k, &v) in row.iter().enumerate() {
                    if v > row[best] {
                        best = k;
                    }
                }
                if best == labels[i] as usize {
                    0.0
                } else {
                    1.0
                }
            }),
            Self::Auc => auc(preds, labels, weights),
            // Row values in f32, sums in f64, as XGBoost's element-wise metrics.
            Self::Mphe { slope } => f32_rows(weights, |i| {
                let r = (labels[i] - preds[i]) / slope;
                slope * slope * ((1.0 + r * r).sqrt() - 1.0)
            }),
            Self::TweedieNLogLik { rho } => f32_rows(weights, |i| {
                let (yi, pi) = (labels[i], preds[i]);
                let a = yi * ((1.0 - rho) * pi.ln()).exp() / (1.0 - rho);
                let b = ((2.0 - rho) * pi.ln()).exp() / (2.0 - rho);
                -a + b
            }),
            Self::CoxNLogLik => cox_nloglik(preds, labels),
            Self::AftNLogLik { .. } => {
                return Err(BoostError::InvalidInput(
                    "aft-nloglik needs label intervals: use it with survival:aft".into(),
                ))
            }
            // Without query groups, every row is one query (as XGBoost scores it).
            Self::Rank(m) => m.evaluate(preds, labels, weights, &[0, labels.len()])?,
            Self::Quantile { alphas } => {
                // Row-major outputs, output `j` at quantile `alphas[j]`; each entry weighs
                // its row's weight.
                let (mut num, mut den) = (0.0_f64, 0.0_f64);
                for i in 0..labels.len() {
                    for (j, &alpha) in alphas.iter().enumerate().take(n_groups) {
                        let d = labels[i] - preds[i * n_groups + j];
                        let sign = f32::from(u8::from(d >= 0.0));
                        let loss = alpha * sign * d - (1.0 - alpha) * (1.0 - sign) * d;
                        num += f64::from(loss * weights[i]);
                        den += f64::from(weights[i]);
                    }
                }
                num / den
            }
        })
    }
}

/// XGBoost's weighted mean of an element-wise metric: each row's value times its weight in
/// `f32`, the sums in `f64` (the sum itself when the weights add up to 0).
fn f32_rows(weights: &[f32], value: impl Fn(usize) -> f32) -> f64 {
    let (mut num, mut den) = (0.0_f64, 0.0_f64);
    for (i, &w) in weights.iter().enumerate() {
        num += f64::from(value(i) * w);
        den += f64::from(w);
    }
    if den == 0.0 {
        num
    } else {
        num / den
    }
}

/// Cox regression's negative partial log-likelihood of hazard ratios `preds`, per event
/// (XGBoost's `cox-nloglik`: Breslow's ties, no weights).
fn cox_nloglik(preds: &[f32], labels: &[f32]) -> f64 {
    let order = crate::objective::label_abs_order(labels);
    let mut exp_sum: f64 = preds.iter().map(|&p| f64::from(p)).sum();
    let (mut out, mut accumulated, mut events) = (0.0_f64, 0.0_f64, 0_u64);
    for (k, &i) in order.iter().enumerate() {
        let label = labels[i];
        if label > 0.0 {
            out -= f64::from(preds[i].ln()) - exp_sum.ln();
            events += 1;
        }
        accumulated += f64::from(preds[i]);
        if k + 1 == order.len() || label.abs() < labels[order[k + 1]].abs() {
            exp_sum -= accumulated;
            accumulated = 0.0;
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let events = events as f64;
    out / events
}

/// Weighted ROC AUC with tied scores counted half (scikit-learn's `roc_auc_score`).
/// NaN when only one class is present.
pub fn auc(scores: &[f32], labels: &[f32], weights: &[f32]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut fp) = (0.0_f64, 0.0_f64);
    let mut area = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let s = scores[idx[i]];
        let (mut dtp, mut dfp) = (0.0, 0.0);
        while i < idx.len() && scores[idx[i]] == s {
            let w = f64::from(weights[idx[i]]);
            let y = f64::from(labels[idx[i]]);
            dtp += w * y;
            dfp += w * (1.0 - y);
            i += 1;
        }
        area += dfp * (tp + 0.5 * dtp);
        tp += dtp;
        fp += dfp;
    }
    if tp <= 0.0 || fp <= 0.0 {
        f64::NAN
    } else {
        area / (tp * fp)
    }
}

/// `ln Γ(x)` for `x > 0` (Lanczos approximation, g = 7, n = 9).
pub fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, &g) in G.iter().enumerate().skip(1) {
        #[allow(clippy::cast_precision_loss)]
        let k = i as f64;
        a += g / (x + k);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_with_ties() {
        let s = [0.1, 0.4, 0.35, 0.8];
        let y = [0.0, 0.0, 1.0, 1.0];
        assert!((auc(&s, &y, &[1.0; 4]) - 0.75).abs() < 1e-12);
        let s = [0.5, 0.5, 0.5, 0.5];
        assert!((auc(&s, &y, &[1.0; 4]) - 0.5).abs() < 1e-12);
        assert!(auc(&s, &[1.0; 4], &[1.0; 4]).is_nan());
    }

    #[test]
    fn ln_gamma_matches_factorials() {
        assert!(ln_gamma(1.0).abs() < 1e-12);
        assert!((ln_gamma(5.0) - 24.0_f64.ln()).abs() < 1e-10);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-10);
    }

    #[test]
    fn weighted_rmse_and_names() {
        let v = Metric::Rmse
            .evaluate(&[1.0, 3.0], &[0.0, 0.0], &[3.0, 1.0], 1)
            .unwrap();
        assert!((v - 3.0_f64.sqrt()).abs() < 1e-12);
        for n in Metric::NAMES {
            assert_eq!(Metric::from_name(n).unwrap().name(), n);
        }
        let params = ObjectiveParams {
            tweedie_variance_power: 1.2,
            ..ObjectiveParams::default()
        };
        assert_eq!(
            Metric::from_name_with("tweedie-nloglik", &params)
                .unwrap()
                .name(),
            "tweedie-nloglik@1.2"
        );
        assert!(Metric::from_name("tweedie-nloglik@2.5").is_err());
        assert!(Metric::from_name("tweedie-nloglik@x").is_err());
        assert!(Metric::from_name("nope").is_err());
        assert!(Metric::MLogLoss
            .evaluate(&[0.5], &[1.0], &[1.0], 1)
            .is_err());
    }
}
