//! Row subsampling and column sampling by tree, level and node, seeded by `random_state`.
//!
//! Counts follow XGBoost (`max(1, floor(r * n))`, a uniform draw without replacement, sorted);
//! the random streams are sapwood's own (ChaCha8), so sampled models are reproducible but not
//! bit-identical to XGBoost's. With `feature_weights`, each draw is XGBoost's weighted
//! sampling without replacement: every candidate gets the key `ln(u) / w` (`u` uniform, `w` at
//! least 1e-6) and the largest keys are taken.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::param::TreeParams;

/// Draws the feature sets of one tree, its levels and its nodes.
#[derive(Debug, Clone)]
pub struct ColumnSampler {
    n_features: usize,
    bytree: f64,
    bylevel: f64,
    bynode: f64,
    rng: ChaCha8Rng,
    tree_set: Vec<usize>,
    /// Per-feature sampling weights (`None`: uniform).
    weights: Option<Vec<f64>>,
}

/// Weighted sampling without replacement of `ratio` of `set` (XGBoost's
/// `WeightedSamplingWithoutReplacement`).
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss
)]
fn weighted_sample(set: &[usize], ratio: f64, weights: &[f64], rng: &mut ChaCha8Rng) -> Vec<usize> {
    if ratio >= 1.0 {
        return set.to_vec();
    }
    let n = ((ratio * set.len() as f64) as usize).max(1).min(set.len());
    let mut keyed: Vec<(f64, usize)> = set
        .iter()
        .map(|&f| {
            let w = weights.get(f).copied().unwrap_or(1.0).max(1e-6);
            // u in (0, 1]: ln(u) <= 0, larger (nearer 0) for heavier features.
            let u: f64 = 1.0 - rng.random::<f64>();
            (u.ln() / w, f)
        })
        .collect();
    keyed.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut v: Vec<usize> = keyed.into_iter().take(n).map(|(_, f)| f).collect();
    v.sort_unstable();
    v
}

#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss
)]
fn sample(set: &[usize], ratio: f64, rng: &mut ChaCha8Rng) -> Vec<usize> {
    if ratio >= 1.0 {
        return set.to_vec();
    }
    let n = ((ratio * set.len() as f64) as usize).max(1).min(set.len());
    // The first `n` steps of a Fisher-Yates shuffle: a uniform draw of `n` without
    // replacement, in `n` random numbers rather than one per feature (a node of a forest
    // over many features draws a few of them).
    let mut v = if n <= SPARSE_DRAW {
        sparse_draw(set, n, rng)
    } else {
        let mut v = set.to_vec();
        for i in 0..n {
            let j = rng.random_range(i..v.len());
            v.swap(i, j);
        }
        v.truncate(n);
        v
    };
    v.sort_unstable();
    v
}

/// Most draws [`sample`] makes without copying the set.
const SPARSE_DRAW: usize = 64;

/// The first `n` steps of a Fisher-Yates shuffle of `set` without a copy of it: step `i`
/// swaps places `i` and `j >= i`, and place `i` is never read again, so only the places a
/// step wrote are kept (a few, searched newest first). The same draws, in the same order, as
/// shuffling a copy.
fn sparse_draw(set: &[usize], n: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut written: Vec<(usize, usize)> = Vec::with_capacity(n);
    let at = |written: &[(usize, usize)], p: usize| {
        written
            .iter()
            .rev()
            .find(|&&(q, _)| q == p)
            .map_or(set[p], |&(_, v)| v)
    };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let j = rng.random_range(i..set.len());
        let (vi, vj) = (at(&written, i), at(&written, j));
        out.push(vj);
        written.push((j, vi));
    }
    out
}

impl ColumnSampler {
    /// A sampler over `n_features` features with the ratios of `params`, seeded by `seed`.
    pub fn new(n_features: usize, params: &TreeParams, seed: u64) -> Self {
        Self {
            n_features,
            bytree: params.colsample_bytree,
            bylevel: params.colsample_bylevel,
            bynode: params.colsample_bynode,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_c015),
            tree_set: (0..n_features).collect(),
            weights: (!params.feature_weights.is_empty()).then(|| params.feature_weights.clone()),
        }
    }

    fn draw(&mut self, set: &[usize], ratio: f64) -> Vec<usize> {
        match &self.weights {
            Some(w) => weighted_sample(set, ratio, w, &mut self.rng),
            None => sample(set, ratio, &mut self.rng),
        }
    }

    /// The share of a level's features each node samples (`colsample_bynode`).
    pub fn node_ratio(&self) -> f64 {
        self.bynode
    }

    /// Draws the tree's feature set.
    pub fn new_tree(&mut self) {
        let all: Vec<usize> = (0..self.n_features).collect();
        self.tree_set = self.draw(&all, self.bytree);
    }

    /// The tree's feature set (sorted).
    pub fn tree_features(&self) -> &[usize] {
        &self.tree_set
    }

    /// Draws a level's feature set from the tree's.
    pub fn level_features(&mut self, _depth: u32) -> Vec<usize> {
        let tree_set = std::mem::take(&mut self.tree_set);
        let out = self.draw(&tree_set, self.bylevel);
        self.tree_set = tree_set;
        out
    }

    /// Draws a node's feature mask from the level's set, or `None` when every feature of the
    /// level is allowed.
    pub fn node_features(&mut self, level: &[usize], n_features: usize) -> Option<Vec<bool>> {
        let drawn = self.node_sample(level)?;
        let mut mask = vec![false; n_features];
        for f in drawn {
            mask[f] = true;
        }
        Some(mask)
    }

    /// Draws a node's features from the level's set, ascending, or `None` when every feature
    /// of the level is allowed: the features [`Self::node_features`] marks.
    pub fn node_sample(&mut self, level: &[usize]) -> Option<Vec<usize>> {
        (self.bynode < 1.0).then(|| self.draw(level, self.bynode))
    }
}

/// One Bernoulli(`subsample`) draw per row; all rows when `subsample` is 1.
pub fn sample_rows(n_rows: usize, subsample: f64, seed: u64) -> Vec<bool> {
    if subsample >= 1.0 {
        return vec![true; n_rows];
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0005_0b5a);
    (0..n_rows).map(|_| rng.random_bool(subsample)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drawing without a copy makes the same draws as shuffling a copy, from the same random
    /// numbers, and leaves the generator where the copy's shuffle does.
    #[test]
    fn sparse_draws_equal_a_shuffled_copy() {
        for (len, n) in [(1, 1), (5, 5), (10, 3), (1000, 31), (1000, 64), (70, 64)] {
            let set: Vec<usize> = (0..len).map(|i| i * 3 + 1).collect();
            for seed in 0..20 {
                let mut a = ChaCha8Rng::seed_from_u64(seed);
                let mut b = a.clone();
                let mut copy = set.clone();
                for i in 0..n {
                    let j = a.random_range(i..copy.len());
                    copy.swap(i, j);
                }
                copy.truncate(n);
                assert_eq!(sparse_draw(&set, n, &mut b), copy, "{len} {n} {seed}");
                assert_eq!(a.random::<u64>(), b.random::<u64>());
            }
        }
    }

    #[test]
    fn counts_follow_xgboost_and_draws_are_seeded() {
        let p = TreeParams {
            colsample_bytree: 0.5,
            colsample_bylevel: 0.5,
            ..TreeParams::default()
        };
        let mut a = ColumnSampler::new(10, &p, 7);
        let mut b = ColumnSampler::new(10, &p, 7);
        a.new_tree();
        b.new_tree();
        let la = a.level_features(0);
        assert_eq!(la.len(), 2);
        assert_eq!(la, b.level_features(0));
        assert!(la.windows(2).all(|w| w[0] < w[1]));
        let rows = sample_rows(1000, 0.3, 1);
        let kept = rows.iter().filter(|&&r| r).count();
        assert!((200..400).contains(&kept));
        assert_eq!(rows, sample_rows(1000, 0.3, 1));
    }

    #[test]
    fn feature_weights_favour_heavy_features_and_exclude_none_for_good() {
        let p = TreeParams {
            colsample_bytree: 0.2,
            feature_weights: vec![1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 50.0, 50.0],
            ..TreeParams::default()
        };
        let mut heavy = 0;
        for seed in 0..200 {
            let mut s = ColumnSampler::new(10, &p, seed);
            s.new_tree();
            let t = s.tree_features();
            assert_eq!(t.len(), 2);
            heavy += t.iter().filter(|&&f| f >= 8).count();
        }
        // Two heavy features out of ten: uniform draws would pick about 80 of 400.
        assert!(heavy > 300, "{heavy}");
        // Weights only change which features are drawn, not how many.
        let q = TreeParams {
            feature_weights: vec![0.0, 0.0, 1.0],
            colsample_bynode: 0.4,
            ..TreeParams::default()
        };
        let mut s = ColumnSampler::new(3, &q, 3);
        s.new_tree();
        let level = s.level_features(0);
        assert_eq!(s.node_features(&level, 3), Some(vec![false, false, true]));
    }
}
