//! The statistics of Boruta: binomial tails, multiple-testing corrections, the shadow threshold,
//! the tree-count rule, and feature ranking.
//!
//! Everything here is a pure function of its arguments, so it can be checked against scipy and
//! against BorutaPy's decisions on fixed hit histories.

use crate::error::BorutaError;

/// `ln C(n, k)` for every `k` in `0..=n`, built by the multiplicative recurrence.
fn log_binomial_coefficients(n: u64) -> Vec<f64> {
    let mut out = Vec::with_capacity(usize::try_from(n).unwrap_or(0) + 1);
    let mut current = 0.0_f64;
    out.push(current);
    for k in 0..n {
        current += ((n - k) as f64).ln() - ((k + 1) as f64).ln();
        out.push(current);
    }
    out
}

/// `ln(Σ exp(terms))`, computed without overflow or underflow of the terms.
fn log_sum_exp(terms: impl Iterator<Item = f64> + Clone) -> f64 {
    let max = terms.clone().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    max + terms.map(|t| (t - max).exp()).sum::<f64>().ln()
}

fn log_pmf_terms(n: u64, p: f64) -> Result<Vec<f64>, BorutaError> {
    if !(0.0..=1.0).contains(&p) {
        return Err(BorutaError::InvalidParameter(format!(
            "the success probability must be in [0, 1], got {p}"
        )));
    }
    let (ln_p, ln_q) = (p.ln(), (1.0 - p).ln());
    Ok(log_binomial_coefficients(n)
        .into_iter()
        .enumerate()
        .map(|(k, log_c)| {
            let k = k as f64;
            let m = n as f64 - k;
            // 0 * ln(0) is 0 here: a term with no successes does not involve p.
            let a = if k == 0.0 { 0.0 } else { k * ln_p };
            let b = if m == 0.0 { 0.0 } else { m * ln_q };
            log_c + a + b
        })
        .collect())
}

/// `P(X ≥ h)` for `X ~ Binomial(n, p)`: scipy's `binom.sf(h - 1, n, p)`.
///
/// Exact for any `n` (the sum runs in log space), so ½ⁿ never underflows to a wrong zero.
///
/// # Errors
/// [`BorutaError::InvalidParameter`] when `p` is outside `[0, 1]`.
pub fn binomial_sf_at_least(h: u64, n: u64, p: f64) -> Result<f64, BorutaError> {
    if h == 0 {
        return Ok(1.0);
    }
    if h > n {
        return Ok(0.0);
    }
    let terms = log_pmf_terms(n, p)?;
    let lower = usize::try_from(h).unwrap_or(usize::MAX);
    Ok(log_sum_exp(terms[lower..].iter().copied()).exp().min(1.0))
}

/// `P(X ≤ h)` for `X ~ Binomial(n, p)`: scipy's `binom.cdf(h, n, p)`.
///
/// # Errors
/// [`BorutaError::InvalidParameter`] when `p` is outside `[0, 1]`.
pub fn binomial_cdf(h: u64, n: u64, p: f64) -> Result<f64, BorutaError> {
    if h >= n {
        // Still validate p so that bad input is never silently accepted.
        log_pmf_terms(0, p)?;
        return Ok(1.0);
    }
    let terms = log_pmf_terms(n, p)?;
    let upper = usize::try_from(h).unwrap_or(usize::MAX);
    Ok(log_sum_exp(terms[..=upper].iter().copied()).exp().min(1.0))
}

fn check_alpha(alpha: f64) -> Result<(), BorutaError> {
    if alpha > 0.0 && alpha < 1.0 {
        Ok(())
    } else {
        Err(BorutaError::InvalidParameter(format!(
            "alpha must be in the open interval (0, 1), got {alpha}"
        )))
    }
}

fn check_p_values(p_values: &[f64]) -> Result<(), BorutaError> {
    match p_values.iter().find(|p| !(0.0..=1.0).contains(*p)) {
        Some(p) => Err(BorutaError::InvalidInput(format!(
            "p-values must lie in [0, 1], got {p}"
        ))),
        None => Ok(()),
    }
}

/// Benjamini–Hochberg step-up procedure at false-discovery rate `alpha`.
///
/// Returns, per hypothesis, whether it is rejected: all `p_(i)` with `i ≤ k*`, where
/// `k* = max{k : p_(k) ≤ k·alpha/m}` (statsmodels' `fdrcorrection`, method "indep").
///
/// # Errors
/// [`BorutaError`] when `alpha` is outside `(0, 1)` or a p-value outside `[0, 1]`.
pub fn benjamini_hochberg(p_values: &[f64], alpha: f64) -> Result<Vec<bool>, BorutaError> {
    check_alpha(alpha)?;
    check_p_values(p_values)?;
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    // Stable sort: ties keep their input order, so the result is deterministic.
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let cutoff = order
        .iter()
        .enumerate()
        .filter(|&(rank, &i)| p_values[i] <= (rank + 1) as f64 * alpha / m as f64)
        .map(|(rank, _)| rank + 1)
        .max()
        .unwrap_or(0);
    let mut rejected = vec![false; m];
    for &i in &order[..cutoff] {
        rejected[i] = true;
    }
    Ok(rejected)
}

/// Bonferroni: reject `p ≤ alpha / n_tests`.
///
/// # Errors
/// [`BorutaError`] when `alpha` is outside `(0, 1)`, `n_tests` is 0 or a p-value is outside `[0, 1]`.
pub fn bonferroni(p_values: &[f64], alpha: f64, n_tests: usize) -> Result<Vec<bool>, BorutaError> {
    check_alpha(alpha)?;
    check_p_values(p_values)?;
    if n_tests == 0 {
        return Err(BorutaError::InvalidParameter(
            "the number of tests for a Bonferroni correction must be at least 1".to_owned(),
        ));
    }
    let bound = alpha / n_tests as f64;
    Ok(p_values.iter().map(|&p| p <= bound).collect())
}

/// The `q`-th percentile (0..=100) of `values` with numpy's default linear interpolation.
///
/// # Errors
/// [`BorutaError`] for an empty slice, a NaN value or `q` outside `[0, 100]`.
pub fn percentile(values: &[f64], q: f64) -> Result<f64, BorutaError> {
    if values.is_empty() {
        return Err(BorutaError::InvalidInput(
            "cannot take a percentile of no values".to_owned(),
        ));
    }
    if !(0.0..=100.0).contains(&q) {
        return Err(BorutaError::InvalidParameter(format!(
            "percentile must be in [0, 100], got {q}"
        )));
    }
    if values.iter().any(|v| v.is_nan()) {
        return Err(BorutaError::InvalidInput(
            "shadow importances contain NaN".to_owned(),
        ));
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let position = (sorted.len() - 1) as f64 * q / 100.0;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    let fraction = position - below as f64;
    Ok(sorted[below] + (sorted[above] - sorted[below]) * fraction)
}

/// BorutaPy's `n_estimators="auto"`: `floor(100 · sqrt(2·n_active) / depth)` trees, depth 10 when
/// the forest has no depth limit.
pub fn auto_tree_count(n_active_features: usize, max_depth: Option<u32>) -> usize {
    let depth = f64::from(max_depth.filter(|&d| d > 0).unwrap_or(10));
    let n_columns = 2.0 * n_active_features as f64;
    (100.0 * n_columns.sqrt() / depth).floor() as usize
}

/// Ranks with ties given their average rank (scipy's `rankdata(method="average")`), 1-based.
/// NaN entries stay NaN and take no rank.
pub fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).filter(|&i| !values[i].is_nan()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![f64::NAN; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start..end hold equal values: ranks start+1 ..= end, averaged.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

/// The median of the non-NaN values, or NaN when there are none.
pub fn nan_median(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut kept: Vec<f64> = values.into_iter().filter(|v| !v.is_nan()).collect();
    if kept.is_empty() {
        return f64::NAN;
    }
    kept.sort_by(f64::total_cmp);
    let mid = kept.len() / 2;
    if kept.len() % 2 == 1 {
        kept[mid]
    } else {
        (kept[mid - 1] + kept[mid]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(f64::MIN_POSITIVE)
    }

    #[test]
    fn binomial_tails_match_closed_forms() {
        // P(X >= 8 | n = 8) = 0.5^8; P(X <= 0 | n = 8) = 0.5^8.
        assert!(close(
            binomial_sf_at_least(8, 8, 0.5).unwrap(),
            0.5f64.powi(8),
            1e-12
        ));
        assert!(close(
            binomial_cdf(0, 8, 0.5).unwrap(),
            0.5f64.powi(8),
            1e-12
        ));
        // Symmetry at p = 1/2: P(X >= h) = P(X <= n - h).
        for n in [1u64, 7, 20, 99, 500] {
            for h in 0..=n {
                let a = binomial_sf_at_least(h, n, 0.5).unwrap();
                let b = binomial_cdf(n - h, n, 0.5).unwrap();
                assert!(close(a, b, 1e-10), "n={n} h={h}: {a} vs {b}");
            }
        }
        assert_eq!(binomial_sf_at_least(0, 10, 0.5).unwrap(), 1.0);
        assert_eq!(binomial_sf_at_least(11, 10, 0.5).unwrap(), 0.0);
        assert_eq!(binomial_cdf(10, 10, 0.5).unwrap(), 1.0);
    }

    #[test]
    fn binomial_tail_is_exact_far_past_f64_underflow_of_half_to_the_n() {
        // 0.5^2000 underflows to 0 in f64, yet P(X >= 1000 | n = 2000) is close to 1/2.
        let p = binomial_sf_at_least(1000, 2000, 0.5).unwrap();
        assert!((p - 0.508_920_5).abs() < 1e-6, "{p}");
    }

    #[test]
    fn binomial_rejects_bad_probability() {
        assert!(binomial_cdf(1, 3, 1.5).is_err());
        assert!(binomial_sf_at_least(1, 3, -0.1).is_err());
        assert!(binomial_cdf(5, 3, f64::NAN).is_err());
    }

    #[test]
    fn benjamini_hochberg_steps_up() {
        // Sorted p: 0.01 (<= 0.0125), 0.02 (<= 0.025), 0.04 (> 0.0375), 0.045 (<= 0.05): all four.
        let p = [0.04, 0.01, 0.045, 0.02];
        assert_eq!(benjamini_hochberg(&p, 0.05).unwrap(), vec![true; 4]);
        let p = [0.04, 0.01, 0.06, 0.02];
        assert_eq!(
            benjamini_hochberg(&p, 0.05).unwrap(),
            vec![false, true, false, true]
        );
        assert!(benjamini_hochberg(&[], 0.05).unwrap().is_empty());
        assert!(benjamini_hochberg(&[0.1], 1.0).is_err());
        assert!(benjamini_hochberg(&[1.1], 0.05).is_err());
    }

    #[test]
    fn bonferroni_divides_alpha() {
        assert_eq!(
            bonferroni(&[0.01, 0.011, 0.5], 0.05, 5).unwrap(),
            vec![true, false, false]
        );
        assert!(bonferroni(&[0.01], 0.05, 0).is_err());
    }

    #[test]
    fn percentile_interpolates_like_numpy() {
        let v = [3.0, 1.0, 4.0, 1.5];
        assert_eq!(percentile(&v, 100.0).unwrap(), 4.0);
        assert_eq!(percentile(&v, 0.0).unwrap(), 1.0);
        // numpy.percentile([1, 1.5, 3, 4], 50) == 2.25
        assert!((percentile(&v, 50.0).unwrap() - 2.25).abs() < 1e-15);
        assert!(percentile(&[], 50.0).is_err());
        assert!(percentile(&v, 101.0).is_err());
        assert!(percentile(&[f64::NAN], 50.0).is_err());
    }

    #[test]
    fn auto_tree_count_matches_boruta_py() {
        assert_eq!(auto_tree_count(500, Some(5)), 632);
        assert_eq!(auto_tree_count(50, Some(5)), 200);
        assert_eq!(auto_tree_count(21, Some(5)), 129);
        assert_eq!(auto_tree_count(10, Some(5)), 89);
        assert_eq!(auto_tree_count(10, None), 44);
        assert_eq!(auto_tree_count(100, Some(10)), 141);
    }

    #[test]
    fn ranks_average_ties_and_skip_nan() {
        let r = average_ranks(&[10.0, 20.0, 10.0, f64::NAN, 5.0]);
        assert_eq!(r[0], 2.5);
        assert_eq!(r[1], 4.0);
        assert_eq!(r[2], 2.5);
        assert!(r[3].is_nan());
        assert_eq!(r[4], 1.0);
        assert_eq!(nan_median([3.0, f64::NAN, 1.0, 2.0, 10.0]), 2.5);
        assert!(nan_median([f64::NAN]).is_nan());
    }
}
