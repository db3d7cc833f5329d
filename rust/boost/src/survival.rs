//! The accelerated failure time model (`survival:aft`): its loss, gradient and hessian for a
//! label interval `[lower, upper]` (equal bounds: an observed time; `upper = inf`: right
//! censored; `lower = 0`: left censored), with XGBoost's noise distributions, clips and limits
//! where a denominator vanishes. Margins are log survival times.

use serde::{Deserialize, Serialize};

use crate::error::BoostError;

/// The distribution of the noise term (`aft_loss_distribution`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum AftDistribution {
    /// The standard normal.
    #[default]
    #[serde(rename = "normal")]
    Normal,
    /// The standard logistic.
    #[serde(rename = "logistic")]
    Logistic,
    /// The (minimum) extreme value, Gumbel.
    #[serde(rename = "extreme")]
    Extreme,
}

impl AftDistribution {
    /// Parses `normal`, `logistic` or `extreme`.
    ///
    /// # Errors
    /// [`BoostError::UnknownName`] for anything else.
    pub fn from_name(name: &str) -> Result<Self, BoostError> {
        match name {
            "normal" => Ok(Self::Normal),
            "logistic" => Ok(Self::Logistic),
            "extreme" => Ok(Self::Extreme),
            _ => Err(BoostError::UnknownName(format!(
                "unknown aft_loss_distribution {name:?}; expected normal, logistic or extreme"
            ))),
        }
    }

    /// The name XGBoost gives it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::Logistic => "logistic",
            Self::Extreme => "extreme",
        }
    }

    fn pdf(self, z: f64) -> f64 {
        match self {
            Self::Normal => (-z * z / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt(),
            Self::Logistic => {
                let w = z.exp();
                let d = 1.0 + w;
                if w.is_infinite() || (w * w).is_infinite() {
                    0.0
                } else {
                    w / (d * d)
                }
            }
            Self::Extreme => {
                let w = z.exp();
                if w.is_infinite() {
                    0.0
                } else {
                    w * (-w).exp()
                }
            }
        }
    }

    fn cdf(self, z: f64) -> f64 {
        match self {
            Self::Normal => 0.5 * (1.0 + libm::erf(z / 2.0_f64.sqrt())),
            Self::Logistic => {
                let w = z.exp();
                if w.is_infinite() {
                    1.0
                } else {
                    w / (1.0 + w)
                }
            }
            Self::Extreme => 1.0 - (-z.exp()).exp(),
        }
    }

    fn grad_pdf(self, z: f64) -> f64 {
        match self {
            Self::Normal => -z * self.pdf(z),
            Self::Logistic => {
                let w = z.exp();
                if w.is_infinite() {
                    0.0
                } else {
                    self.pdf(z) * (1.0 - w) / (1.0 + w)
                }
            }
            Self::Extreme => {
                let w = z.exp();
                if w.is_infinite() {
                    0.0
                } else {
                    (1.0 - w) * self.pdf(z)
                }
            }
        }
    }

    fn hess_pdf(self, z: f64) -> f64 {
        match self {
            Self::Normal => (z * z - 1.0) * self.pdf(z),
            Self::Logistic => {
                let w = z.exp();
                if w.is_infinite() || (w * w).is_infinite() {
                    0.0
                } else {
                    self.pdf(z) * (w * w - 4.0 * w + 1.0) / ((1.0 + w) * (1.0 + w))
                }
            }
            Self::Extreme => {
                let w = z.exp();
                if w.is_infinite() || (w * w).is_infinite() {
                    0.0
                } else {
                    (w * w - 3.0 * w + 1.0) * self.pdf(z)
                }
            }
        }
    }
}

/// How a label interval is censored.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Censoring {
    None,
    Right,
    Left,
    Interval,
}

const MIN_GRADIENT: f64 = -15.0;
const MAX_GRADIENT: f64 = 15.0;
const MIN_HESSIAN: f64 = 1e-16;
const MAX_HESSIAN: f64 = 15.0;
const EPS: f64 = 1e-12;

/// The gradient's limit where the prediction runs off to infinity (`sign`: a z-score above 0).
fn grad_limit(d: AftDistribution, c: Censoring, sign: bool, sigma: f64) -> f64 {
    use Censoring as C;
    match (d, c) {
        (AftDistribution::Normal, C::None | C::Interval) => {
            if sign {
                MIN_GRADIENT
            } else {
                MAX_GRADIENT
            }
        }
        (AftDistribution::Normal | AftDistribution::Extreme, C::Right) => {
            if sign {
                MIN_GRADIENT
            } else {
                0.0
            }
        }
        (AftDistribution::Normal, C::Left) => {
            if sign {
                0.0
            } else {
                MAX_GRADIENT
            }
        }
        (AftDistribution::Logistic, C::None | C::Interval) => {
            if sign {
                -1.0 / sigma
            } else {
                1.0 / sigma
            }
        }
        (AftDistribution::Logistic, C::Right) => {
            if sign {
                -1.0 / sigma
            } else {
                0.0
            }
        }
        (AftDistribution::Logistic | AftDistribution::Extreme, C::Left) => {
            if sign {
                0.0
            } else {
                1.0 / sigma
            }
        }
        (AftDistribution::Extreme, C::None | C::Interval) => {
            if sign {
                MIN_GRADIENT
            } else {
                1.0 / sigma
            }
        }
    }
}

/// The hessian's limit where the prediction runs off to infinity.
fn hess_limit(d: AftDistribution, c: Censoring, sign: bool, sigma: f64) -> f64 {
    use Censoring as C;
    match d {
        AftDistribution::Normal => match c {
            C::None | C::Interval => 1.0 / (sigma * sigma),
            C::Right => {
                if sign {
                    1.0 / (sigma * sigma)
                } else {
                    MIN_HESSIAN
                }
            }
            C::Left => {
                if sign {
                    MIN_HESSIAN
                } else {
                    1.0 / (sigma * sigma)
                }
            }
        },
        AftDistribution::Logistic => MIN_HESSIAN,
        AftDistribution::Extreme => match c {
            C::Left => MIN_HESSIAN,
            _ => {
                if sign {
                    MAX_HESSIAN
                } else {
                    MIN_HESSIAN
                }
            }
        },
    }
}

/// The pieces of an interval's likelihood at margin `pred`: censoring, z-score sign, and the
/// values at the bounds (`pdf`, `cdf`, `grad_pdf` at each side, `0`/`1` beyond them).
struct Sides {
    censoring: Censoring,
    sign: bool,
    pdf: (f64, f64),
    cdf: (f64, f64),
    grad_pdf: (f64, f64),
}

fn sides(d: AftDistribution, lower: f64, upper: f64, pred: f64, sigma: f64) -> Sides {
    let (mut z_u, mut z_l) = (0.0, 0.0);
    let mut censoring = Censoring::Interval;
    let (pdf_u, cdf_u, grad_u) = if upper.is_infinite() {
        censoring = Censoring::Right;
        (0.0, 1.0, 0.0)
    } else {
        z_u = (upper.ln() - pred) / sigma;
        (d.pdf(z_u), d.cdf(z_u), d.grad_pdf(z_u))
    };
    let (pdf_l, cdf_l, grad_l) = if lower <= 0.0 {
        censoring = Censoring::Left;
        (0.0, 0.0, 0.0)
    } else {
        z_l = (lower.ln() - pred) / sigma;
        (d.pdf(z_l), d.cdf(z_l), d.grad_pdf(z_l))
    };
    Sides {
        censoring,
        sign: z_u > 0.0 || z_l > 0.0,
        pdf: (pdf_u, pdf_l),
        cdf: (cdf_u, cdf_l),
        grad_pdf: (grad_u, grad_l),
    }
}

/// The negative log-likelihood of the interval `[lower, upper]` at margin `pred`.
pub fn loss(d: AftDistribution, lower: f64, upper: f64, pred: f64, sigma: f64) -> f64 {
    if lower == upper {
        let z = (lower.ln() - pred) / sigma;
        return -(d.pdf(z) / (sigma * lower)).max(EPS).ln();
    }
    let cdf_u = if upper.is_infinite() {
        1.0
    } else {
        d.cdf((upper.ln() - pred) / sigma)
    };
    let cdf_l = if lower <= 0.0 {
        0.0
    } else {
        d.cdf((lower.ln() - pred) / sigma)
    };
    -(cdf_u - cdf_l).max(EPS).ln()
}

/// The gradient of [`loss`] in the margin, clipped to [-15, 15].
pub fn gradient(d: AftDistribution, lower: f64, upper: f64, pred: f64, sigma: f64) -> f64 {
    let (numerator, denominator, censoring, sign) = if lower == upper {
        let z = (lower.ln() - pred) / sigma;
        (d.grad_pdf(z), sigma * d.pdf(z), Censoring::None, z > 0.0)
    } else {
        let s = sides(d, lower, upper, pred, sigma);
        (
            s.pdf.0 - s.pdf.1,
            sigma * (s.cdf.0 - s.cdf.1),
            s.censoring,
            s.sign,
        )
    };
    let mut g = numerator / denominator;
    if denominator < EPS && !g.is_finite() {
        g = grad_limit(d, censoring, sign, sigma);
    }
    g.clamp(MIN_GRADIENT, MAX_GRADIENT)
}

/// The hessian of [`loss`] in the margin, clipped to [1e-16, 15].
pub fn hessian(d: AftDistribution, lower: f64, upper: f64, pred: f64, sigma: f64) -> f64 {
    let (numerator, denominator, censoring, sign) = if lower == upper {
        let z = (lower.ln() - pred) / sigma;
        let (pdf, grad_pdf, hess_pdf) = (d.pdf(z), d.grad_pdf(z), d.hess_pdf(z));
        (
            -(pdf * hess_pdf - grad_pdf * grad_pdf),
            sigma * sigma * pdf * pdf,
            Censoring::None,
            z > 0.0,
        )
    } else {
        let s = sides(d, lower, upper, pred, sigma);
        let cdf_diff = s.cdf.0 - s.cdf.1;
        let pdf_diff = s.pdf.0 - s.pdf.1;
        let grad_diff = s.grad_pdf.0 - s.grad_pdf.1;
        let root = sigma * cdf_diff;
        (
            -(cdf_diff * grad_diff - pdf_diff * pdf_diff),
            root * root,
            s.censoring,
            s.sign,
        )
    };
    let mut h = numerator / denominator;
    if denominator < EPS && !h.is_finite() {
        h = hess_limit(d, censoring, sign, sigma);
    }
    h.clamp(MIN_HESSIAN, MAX_HESSIAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradients_are_the_loss_slopes() {
        let intervals = [(2.0, 2.0), (1.0, 3.0), (2.0, f64::INFINITY), (0.0, 4.0)];
        for d in [
            AftDistribution::Normal,
            AftDistribution::Logistic,
            AftDistribution::Extreme,
        ] {
            for &(lo, hi) in &intervals {
                for pred in [-0.5, 0.3, 1.2] {
                    let h = 1e-5;
                    let numeric = (loss(d, lo, hi, pred + h, 1.3) - loss(d, lo, hi, pred - h, 1.3))
                        / (2.0 * h);
                    let g = gradient(d, lo, hi, pred, 1.3);
                    assert!(
                        (g - numeric).abs() < 1e-5,
                        "{d:?} {lo} {hi} {pred}: {g} {numeric}"
                    );
                    let numeric_h = (gradient(d, lo, hi, pred + h, 1.3)
                        - gradient(d, lo, hi, pred - h, 1.3))
                        / (2.0 * h);
                    let hess = hessian(d, lo, hi, pred, 1.3);
                    assert!(
                        (hess - numeric_h.max(1e-16)).abs() < 1e-4,
                        "{d:?} {lo} {hi} {pred}: {hess} {numeric_h}"
                    );
                }
            }
        }
    }

    #[test]
    fn far_predictions_take_the_limits() {
        let g = gradient(AftDistribution::Normal, 1.0, 1.0, 80.0, 1.0);
        assert_eq!(g, MAX_GRADIENT);
        assert_eq!(hessian(AftDistribution::Normal, 1.0, 1.0, 80.0, 1.0), 1.0);
        assert_eq!(
            gradient(AftDistribution::Logistic, 1.0, f64::INFINITY, -800.0, 1.0),
            -1.0
        );
    }
}
