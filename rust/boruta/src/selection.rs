//! The Boruta decision process: hits, tests and transitions, one importance fit at a time.
//!
//! [`BorutaState`] is fed the importances of the real features and of their shadows after each
//! fit ([`BorutaState::record`]); it counts hits against the shadow threshold, tests every
//! undecided feature and moves it to confirmed or rejected. [`BorutaState::finish`] applies the
//! rough fix and ranks the features. The importance source is the caller's: the same state
//! serves the all-Rust loop over sapwood's forest and a Python loop over any estimator.

use crate::error::BorutaError;
use crate::stats::{
    average_ranks, benjamini_hochberg, binomial_cdf, binomial_sf_at_least, bonferroni, nan_median,
    percentile,
};

/// The state of one feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Not yet decided.
    Tentative,
    /// Significantly more important than the best shadow.
    Confirmed,
    /// Significantly less important than the best shadow.
    Rejected,
}

impl Decision {
    /// BorutaPy's code: 1 confirmed, 0 tentative, -1 rejected.
    pub fn code(self) -> i8 {
        match self {
            Self::Confirmed => 1,
            Self::Tentative => 0,
            Self::Rejected => -1,
        }
    }
}

/// Parameters of the selection (BorutaPy's names and defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct BorutaParams {
    /// Percentile of the shadow importances a real feature must beat (100 = the maximum).
    pub perc: f64,
    /// Significance level of the tests.
    pub alpha: f64,
    /// Benjamini–Hochberg then Bonferroni over iterations (true), or Bonferroni over all
    /// features (false).
    pub two_step: bool,
    /// Largest number of importance fits.
    pub max_iter: usize,
    /// Stop when no decision changed for `n_iter_no_change` fits.
    pub early_stopping: bool,
    /// See `early_stopping`.
    pub n_iter_no_change: usize,
}

impl Default for BorutaParams {
    fn default() -> Self {
        Self {
            perc: 100.0,
            alpha: 0.05,
            two_step: true,
            max_iter: 100,
            early_stopping: false,
            n_iter_no_change: 20,
        }
    }
}

impl BorutaParams {
    /// Checks every field against its valid range.
    ///
    /// # Errors
    /// [`BorutaError::InvalidParameter`] naming the first field out of range.
    pub fn validate(&self) -> Result<(), BorutaError> {
        if !(self.perc > 0.0 && self.perc <= 100.0) {
            return Err(BorutaError::InvalidParameter(format!(
                "perc must be in (0, 100], got {}",
                self.perc
            )));
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(BorutaError::InvalidParameter(format!(
                "alpha must be in the open interval (0, 1), got {}",
                self.alpha
            )));
        }
        if self.max_iter < 1 {
            return Err(BorutaError::InvalidParameter(
                "max_iter must be at least 1, got 0".to_owned(),
            ));
        }
        if self.early_stopping && self.n_iter_no_change < 1 {
            return Err(BorutaError::InvalidParameter(
                "n_iter_no_change must be at least 1, got 0".to_owned(),
            ));
        }
        Ok(())
    }

    /// The first iteration at which any feature can be decided: no test can succeed before
    /// `0.5^t` falls under the corrected level, so early stopping does not count earlier fits.
    pub fn first_decidable_iteration(&self, n_features: usize) -> usize {
        (1..=4096)
            .find(|&t| {
                let p = 0.5f64.powi(i32::try_from(t).unwrap_or(i32::MAX));
                if self.two_step {
                    p <= self.alpha && p <= self.alpha / t as f64
                } else {
                    p <= self.alpha / n_features.max(1) as f64
                }
            })
            .unwrap_or(4096)
    }
}

/// What one fit changed.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutcome {
    /// The shadow threshold of this fit.
    pub threshold: f64,
    /// Whether the selection is over (nothing tentative, `max_iter` reached, or early stop).
    pub finished: bool,
}

/// The final answer of a selection.
#[derive(Debug, Clone, PartialEq)]
pub struct BorutaResult {
    /// Decision per feature after the loop (before the rough fix).
    pub decisions: Vec<Decision>,
    /// Confirmed features.
    pub support: Vec<bool>,
    /// Tentative features whose median importance beats the median shadow threshold.
    pub support_weak: Vec<bool>,
    /// 1 confirmed, 2 weak, then the others by median importance rank (BorutaPy's ranking).
    pub ranking: Vec<u32>,
}

/// The running state of a Boruta selection over `n_features` features.
#[derive(Debug, Clone)]
pub struct BorutaState {
    params: BorutaParams,
    decisions: Vec<Decision>,
    hits: Vec<u64>,
    /// One row per fit: the real features' importances, NaN once rejected.
    importance_history: Vec<Vec<f64>>,
    /// One row per fit: (min, mean, max) of the shadow importances.
    shadow_history: Vec<[f64; 3]>,
    /// One row per fit: the shadow threshold.
    thresholds: Vec<f64>,
    /// One row per fit: the decisions after that fit.
    decision_history: Vec<Vec<Decision>>,
    unchanged_for: usize,
    stopped_early: bool,
}

impl BorutaState {
    /// Starts a selection with every feature tentative.
    ///
    /// # Errors
    /// [`BorutaError`] for invalid parameters or no features.
    pub fn new(n_features: usize, params: BorutaParams) -> Result<Self, BorutaError> {
        params.validate()?;
        if n_features == 0 {
            return Err(BorutaError::InvalidInput(
                "Boruta needs at least one feature".to_owned(),
            ));
        }
        Ok(Self {
            params,
            decisions: vec![Decision::Tentative; n_features],
            hits: vec![0; n_features],
            importance_history: Vec::new(),
            shadow_history: Vec::new(),
            thresholds: Vec::new(),
            decision_history: Vec::new(),
            unchanged_for: 0,
            stopped_early: false,
        })
    }

    /// The parameters of this selection.
    pub fn params(&self) -> &BorutaParams {
        &self.params
    }

    /// Decisions so far.
    pub fn decisions(&self) -> &[Decision] {
        &self.decisions
    }

    /// Hits so far.
    pub fn hits(&self) -> &[u64] {
        &self.hits
    }

    /// Fits recorded so far.
    pub fn iterations(&self) -> usize {
        self.importance_history.len()
    }

    /// Features not rejected: those that take part in the next fit.
    pub fn active(&self) -> Vec<usize> {
        (0..self.decisions.len())
            .filter(|&j| self.decisions[j] != Decision::Rejected)
            .collect()
    }

    /// Importances of the real features per fit (NaN once rejected).
    pub fn importance_history(&self) -> &[Vec<f64>] {
        &self.importance_history
    }

    /// (min, mean, max) of the shadow importances per fit.
    pub fn shadow_history(&self) -> &[[f64; 3]] {
        &self.shadow_history
    }

    /// Decisions after each fit.
    pub fn decision_history(&self) -> &[Vec<Decision>] {
        &self.decision_history
    }

    /// Whether early stopping ended the selection.
    pub fn stopped_early(&self) -> bool {
        self.stopped_early
    }

    /// Whether another fit is wanted.
    pub fn is_finished(&self) -> bool {
        self.stopped_early
            || self.iterations() >= self.params.max_iter
            || !self.decisions.contains(&Decision::Tentative)
    }

    /// Records one fit: `active_importances[i]` is the importance of feature `self.active()[i]`,
    /// `shadow_importances` those of its shadow columns.
    ///
    /// # Errors
    /// [`BorutaError::InvalidInput`] for a length mismatch, no shadows, or non-finite importances;
    /// also when the selection is already finished.
    pub fn record(
        &mut self,
        active_importances: &[f64],
        shadow_importances: &[f64],
    ) -> Result<StepOutcome, BorutaError> {
        if self.is_finished() {
            return Err(BorutaError::InvalidInput(
                "the selection is finished; no more fits can be recorded".to_owned(),
            ));
        }
        let active = self.active();
        if active_importances.len() != active.len() {
            return Err(BorutaError::InvalidInput(format!(
                "expected {} importances for the features not yet rejected, got {}",
                active.len(),
                active_importances.len()
            )));
        }
        if shadow_importances.is_empty() {
            return Err(BorutaError::InvalidInput(
                "no shadow importances were given".to_owned(),
            ));
        }
        if active_importances
            .iter()
            .chain(shadow_importances)
            .any(|v| !v.is_finite())
        {
            return Err(BorutaError::InvalidInput(
                "the estimator returned NaN or infinite feature importances".to_owned(),
            ));
        }

        let threshold = percentile(shadow_importances, self.params.perc)?;
        let mut row = vec![f64::NAN; self.decisions.len()];
        for (&j, &imp) in active.iter().zip(active_importances) {
            row[j] = imp;
            if imp > threshold {
                self.hits[j] += 1;
            }
        }
        let (lo, hi, sum) = shadow_importances.iter().fold(
            (f64::INFINITY, f64::NEG_INFINITY, 0.0),
            |(lo, hi, sum), &v| (lo.min(v), hi.max(v), sum + v),
        );
        self.shadow_history
            .push([lo, sum / shadow_importances.len() as f64, hi]);
        self.importance_history.push(row);
        self.thresholds.push(threshold);

        let before = self.decisions.clone();
        self.decisions = test_decisions(
            &self.decisions,
            &self.hits,
            self.iterations() as u64,
            self.params.alpha,
            self.params.two_step,
        )?;
        if self.params.early_stopping {
            let counting =
                self.iterations() >= self.params.first_decidable_iteration(self.decisions.len());
            if before == self.decisions && counting {
                self.unchanged_for += 1;
            } else {
                self.unchanged_for = 0;
            }
            if self.unchanged_for >= self.params.n_iter_no_change {
                self.stopped_early = true;
            }
        }
        self.decision_history.push(self.decisions.clone());
        Ok(StepOutcome {
            threshold,
            finished: self.is_finished(),
        })
    }

    /// The rough fix and the ranking, from the fits recorded so far.
    pub fn finish(&self) -> BorutaResult {
        let n = self.decisions.len();
        let shadow_median = nan_median(self.thresholds.iter().copied());
        let support: Vec<bool> = self
            .decisions
            .iter()
            .map(|&d| d == Decision::Confirmed)
            .collect();
        let support_weak: Vec<bool> = (0..n)
            .map(|j| {
                self.decisions[j] == Decision::Tentative
                    && nan_median(self.importance_history.iter().map(|row| row[j])) > shadow_median
            })
            .collect();
        let ranking = self.ranking(&support, &support_weak);
        BorutaResult {
            decisions: self.decisions.clone(),
            support,
            support_weak,
            ranking,
        }
    }

    /// R's TentativeRoughFix: a tentative feature is confirmed when its median importance beats
    /// the median shadow threshold, and rejected otherwise.
    pub fn rough_fixed_decisions(&self) -> Vec<Decision> {
        let weak = self.finish().support_weak;
        self.decisions
            .iter()
            .zip(weak)
            .map(|(&d, w)| match (d, w) {
                (Decision::Tentative, true) => Decision::Confirmed,
                (Decision::Tentative, false) => Decision::Rejected,
                (d, _) => d,
            })
            .collect()
    }

    fn ranking(&self, support: &[bool], support_weak: &[bool]) -> Vec<u32> {
        let n = support.len();
        let not_selected: Vec<usize> = (0..n)
            .filter(|&j| !support[j] && !support_weak[j])
            .collect();
        let mut ranking: Vec<u32> = (0..n).map(|j| if support[j] { 1 } else { 2 }).collect();
        if not_selected.is_empty() || self.importance_history.is_empty() {
            return ranking;
        }
        // Rank the not-selected features within each fit by decreasing importance, take each
        // feature's median rank over the fits, then rank those medians.
        let mut per_fit_ranks: Vec<Vec<f64>> = Vec::with_capacity(self.importance_history.len());
        for row in &self.importance_history {
            let negated: Vec<f64> = not_selected.iter().map(|&j| -row[j]).collect();
            per_fit_ranks.push(average_ranks(&negated));
        }
        let medians: Vec<f64> = (0..not_selected.len())
            .map(|i| nan_median(per_fit_ranks.iter().map(|r| r[i])))
            .collect();
        let ranks = average_ranks(&medians);
        let offset = if support_weak.contains(&true) {
            3.0
        } else {
            2.0
        };
        let lowest = ranks
            .iter()
            .copied()
            .filter(|r| !r.is_nan())
            .fold(f64::INFINITY, f64::min);
        for (i, &j) in not_selected.iter().enumerate() {
            let r = ranks[i];
            // A feature never measured (possible only with zero fits) ranks last.
            let shifted = if r.is_nan() {
                n as f64
            } else {
                r - lowest + offset
            };
            ranking[j] = shifted as u32;
        }
        ranking
    }
}

/// BorutaPy's `_do_tests`: given hits after `iteration` fits, move tentative features to
/// confirmed or rejected.
///
/// The correction family is every feature not rejected. With `two_step`, a feature is confirmed
/// when Benjamini–Hochberg at `alpha` accepts its p-value and that p-value is at most
/// `alpha / iteration`; without it, when its p-value is at most `alpha / n_features`.
///
/// # Errors
/// [`BorutaError`] for mismatched lengths or `alpha` outside `(0, 1)`.
pub fn test_decisions(
    decisions: &[Decision],
    hits: &[u64],
    iteration: u64,
    alpha: f64,
    two_step: bool,
) -> Result<Vec<Decision>, BorutaError> {
    if decisions.len() != hits.len() {
        return Err(BorutaError::InvalidInput(format!(
            "{} decisions but {} hit counts",
            decisions.len(),
            hits.len()
        )));
    }
    if iteration == 0 {
        return Err(BorutaError::InvalidInput(
            "tests need at least one iteration".to_owned(),
        ));
    }
    let active: Vec<usize> = (0..decisions.len())
        .filter(|&j| decisions[j] != Decision::Rejected)
        .collect();
    let mut p_accept = Vec::with_capacity(active.len());
    let mut p_reject = Vec::with_capacity(active.len());
    for &j in &active {
        p_accept.push(binomial_sf_at_least(hits[j], iteration, 0.5)?);
        p_reject.push(binomial_cdf(hits[j], iteration, 0.5)?);
    }
    let (accept, reject) = if two_step {
        let bound = alpha / iteration as f64;
        let accept: Vec<bool> = benjamini_hochberg(&p_accept, alpha)?
            .into_iter()
            .zip(&p_accept)
            .map(|(bh, &p)| bh && p <= bound)
            .collect();
        let reject: Vec<bool> = benjamini_hochberg(&p_reject, alpha)?
            .into_iter()
            .zip(&p_reject)
            .map(|(bh, &p)| bh && p <= bound)
            .collect();
        (accept, reject)
    } else {
        (
            bonferroni(&p_accept, alpha, decisions.len())?,
            bonferroni(&p_reject, alpha, decisions.len())?,
        )
    };
    let mut out = decisions.to_vec();
    for (i, &j) in active.iter().enumerate() {
        if out[j] == Decision::Tentative {
            if accept[i] {
                out[j] = Decision::Confirmed;
            } else if reject[i] {
                out[j] = Decision::Rejected;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> BorutaParams {
        BorutaParams::default()
    }

    #[test]
    fn nothing_can_be_decided_before_iteration_eight_with_two_step() {
        assert_eq!(params().first_decidable_iteration(50), 8);
        let one_step = BorutaParams {
            two_step: false,
            ..params()
        };
        assert_eq!(one_step.first_decidable_iteration(10), 8);
        assert_eq!(one_step.first_decidable_iteration(50), 10);
        assert_eq!(one_step.first_decidable_iteration(500), 14);
    }

    #[test]
    fn always_hitting_feature_is_confirmed_at_iteration_eight_and_never_hitting_rejected() {
        let mut state = BorutaState::new(3, params()).unwrap();
        for t in 1..=8 {
            // feature 0 always beats the shadows, 1 never does, 2 alternates.
            let imp = [1.0, 0.0, if t % 2 == 0 { 1.0 } else { 0.0 }];
            let active = state.active();
            let imps: Vec<f64> = active.iter().map(|&j| imp[j]).collect();
            let out = state.record(&imps, &[0.5, 0.4, 0.3, 0.2, 0.1]).unwrap();
            assert_eq!(out.threshold, 0.5);
            if t < 8 {
                assert_eq!(state.decisions(), &[Decision::Tentative; 3]);
            }
        }
        assert_eq!(
            state.decisions(),
            &[Decision::Confirmed, Decision::Rejected, Decision::Tentative]
        );
        assert_eq!(state.active(), vec![0, 2]);
        let result = state.finish();
        assert_eq!(result.support, vec![true, false, false]);
        // Median importance of feature 2 is 0.5, not above the median threshold 0.5.
        assert_eq!(result.support_weak, vec![false, false, false]);
        assert_eq!(result.ranking[0], 1);
        // Confirmed + weak + the rest account for every feature.
        assert_eq!(result.ranking.len(), 3);
        // Rejected after the eighth fit: measured until then, NaN in later fits.
        assert_eq!(state.importance_history()[7][1], 0.0);
        state.record(&[1.0, 1.0], &[0.5]).unwrap();
        assert!(state.importance_history()[8][1].is_nan());
    }

    #[test]
    fn record_rejects_bad_lengths_and_values() {
        let mut state = BorutaState::new(2, params()).unwrap();
        assert!(state.record(&[1.0], &[0.5]).is_err());
        assert!(state.record(&[1.0, 2.0], &[]).is_err());
        assert!(state.record(&[1.0, f64::NAN], &[0.5]).is_err());
        assert!(BorutaState::new(0, params()).is_err());
        let bad = BorutaParams {
            perc: 0.0,
            ..params()
        };
        assert!(BorutaState::new(2, bad).is_err());
    }

    #[test]
    fn max_iter_bounds_the_fits() {
        let mut state = BorutaState::new(
            1,
            BorutaParams {
                max_iter: 3,
                ..params()
            },
        )
        .unwrap();
        for _ in 0..3 {
            state.record(&[0.5], &[0.5]).unwrap();
        }
        assert!(state.is_finished());
        assert!(state.record(&[0.5], &[0.5]).is_err());
    }

    #[test]
    fn early_stopping_waits_for_the_first_decidable_iteration() {
        let p = BorutaParams {
            early_stopping: true,
            n_iter_no_change: 2,
            ..params()
        };
        let mut state = BorutaState::new(2, p).unwrap();
        // Alternating hits keep both features tentative forever.
        let mut t = 0;
        while !state.is_finished() {
            t += 1;
            let v = if t % 2 == 0 { 1.0 } else { 0.0 };
            let imps = vec![v; state.active().len()];
            state.record(&imps, &[0.5]).unwrap();
        }
        assert!(state.stopped_early());
        // Counting starts at iteration 8; two unchanged fits end it at 9.
        assert_eq!(state.iterations(), 9);
    }

    #[test]
    fn one_step_uses_bonferroni_over_all_features() {
        let decisions = vec![Decision::Tentative; 10];
        let hits = vec![8; 10];
        let out = test_decisions(&decisions, &hits, 8, 0.05, false).unwrap();
        // 0.5^8 = 0.0039 <= 0.05 / 10.
        assert!(out.iter().all(|&d| d == Decision::Confirmed));
        let decisions = vec![Decision::Tentative; 50];
        let hits = vec![8; 50];
        let out = test_decisions(&decisions, &hits, 8, 0.05, false).unwrap();
        assert!(out.iter().all(|&d| d == Decision::Tentative));
    }
}
