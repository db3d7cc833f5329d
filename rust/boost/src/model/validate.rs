//! Checks a [`Booster`] read from a file: every count and index against the others and against
//! the format's limits, before anything is sized by them. Reads the model only.

use crate::error::BoostError;
use crate::model::{Booster, FORMAT_NAME, FORMAT_VERSION};

/// Largest `num_feature` a model file may declare. XGBoost stores split features as 31-bit
/// indices (2^31 - 1 marks a deleted node) and packed trees keep the default direction in the
/// top bit, so no real model goes past it; sparse models with a few hundred million features
/// stay well inside. The bound is about the format, not the machine's memory: reading a
/// model allocates nothing in proportion to `num_feature`, and neither do importances
/// ([`Booster::importance`] lists only the features split on).
pub const MAX_NUM_FEATURE: usize = (1 << 31) - 1;
/// Largest `num_class` a model file may declare (2^24): predictions hold one value per class
/// and row, and a model needs a tree per class and iteration.
pub const MAX_NUM_CLASS: usize = 1 << 24;
/// Largest `num_parallel_tree` a model file may declare (2^24), for the same reason.
pub const MAX_NUM_PARALLEL_TREE: usize = 1 << 24;

impl Booster {
    /// Checks internal consistency (after reading a file): every count and index against the
    /// others and against [`MAX_NUM_FEATURE`], [`MAX_NUM_CLASS`] and
    /// [`MAX_NUM_PARALLEL_TREE`], before anything is sized by them.
    ///
    /// # Errors
    /// [`BoostError::InvalidModel`] naming the field at fault.
    pub fn validate(&self) -> Result<(), BoostError> {
        let bad = |m: String| Err(BoostError::InvalidModel(m));
        if self.format != FORMAT_NAME {
            return bad(format!("not a sapwood model (format {:?})", self.format));
        }
        if self.version != FORMAT_VERSION {
            return bad(format!(
                "model format version {} is not supported by this build (expected {})",
                self.version, FORMAT_VERSION
            ));
        }
        if self.num_feature > MAX_NUM_FEATURE {
            return bad(format!(
                "num_feature = {} exceeds the limit of {MAX_NUM_FEATURE} (2^31 - 1, the \
                 largest split index the model format stores)",
                self.num_feature
            ));
        }
        if self.num_class > MAX_NUM_CLASS {
            return bad(format!(
                "num_class = {} exceeds the limit of {MAX_NUM_CLASS} (2^24)",
                self.num_class
            ));
        }
        if self.num_parallel_tree == 0 || self.num_parallel_tree > MAX_NUM_PARALLEL_TREE {
            return bad(format!(
                "num_parallel_tree = {} is outside 1..={MAX_NUM_PARALLEL_TREE}",
                self.num_parallel_tree
            ));
        }
        if self.objective.is_multiclass() != (self.num_class > 1) {
            return bad(format!(
                "num_class = {} does not match the objective {} (multi-class objectives need \
                 at least 2, the others 0 or 1)",
                self.num_class,
                self.objective.name()
            ));
        }
        if self.base_score.len() != self.n_groups() {
            return bad(format!(
                "base_score has {} values, but the model has {} output groups",
                self.base_score.len(),
                self.n_groups()
            ));
        }
        if let Some((i, b)) = self
            .base_score
            .iter()
            .enumerate()
            .find(|(_, b)| !b.is_finite())
        {
            return bad(format!("base_score[{i}] = {b} is not a finite number"));
        }
        for (name, v) in [
            ("objective_max_delta_step", self.objective_max_delta_step),
            ("scale_pos_weight", self.scale_pos_weight),
        ] {
            if !v.is_finite() {
                return bad(format!("{name} = {v} is not a finite number"));
            }
        }
        self.objective_params
            .validate()
            .map_err(|e| BoostError::InvalidModel(format!("objective_params: {e}")))?;
        if self.tree_info.len() != self.trees.len() {
            return bad(format!(
                "tree_info has {} entries, but there are {} trees",
                self.tree_info.len(),
                self.trees.len()
            ));
        }
        // Both factors are bounded above, so the product cannot overflow.
        let per_iteration = self.trees_per_iteration();
        if !self.trees.len().is_multiple_of(per_iteration) {
            return bad(format!(
                "there are {} trees, not a multiple of num_class * num_parallel_tree = \
                 {per_iteration}",
                self.trees.len()
            ));
        }
        if let Some(w) = self.categorical_features.windows(2).find(|w| w[0] >= w[1]) {
            return bad(format!(
                "categorical_features is not ascending ({} before {})",
                w[0], w[1]
            ));
        }
        if let Some(&f) = self
            .categorical_features
            .iter()
            .find(|&&f| f as usize >= self.num_feature)
        {
            return bad(format!(
                "categorical_features lists feature {f}, not below num_feature = {}",
                self.num_feature
            ));
        }
        for (t, (tree, &g)) in self.trees.iter().zip(&self.tree_info).enumerate() {
            if g as usize >= self.n_groups() {
                return bad(format!(
                    "tree_info[{t}] = {g} is not below the number of output groups, {}",
                    self.n_groups()
                ));
            }
            // XGBoost orders the trees of an iteration by group, parallel trees together.
            let expected = (t % per_iteration) / self.num_parallel_tree;
            if g as usize != expected {
                return bad(format!(
                    "tree_info[{t}] = {g}, but tree {t} belongs to output group {expected}"
                ));
            }
            tree.validate(self.num_feature).map_err(|e| match e {
                BoostError::InvalidModel(m) => BoostError::InvalidModel(format!("trees[{t}].{m}")),
                other => other,
            })?;
            if let Some(&nid) = tree.categorical.nodes.iter().find(|&&nid| {
                self.categorical_features
                    .binary_search(&tree.split_index[nid as usize])
                    .is_err()
            }) {
                return bad(format!(
                    "trees[{t}]: node {nid} splits feature {} by category, but it is not among \
                     categorical_features",
                    tree.split_index[nid as usize]
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::stumps;

    fn rejection(model: &Booster) -> String {
        let text = model.to_json().unwrap();
        Booster::from_json(&text).unwrap_err().to_string()
    }

    #[test]
    fn counts_are_checked_against_limits_before_use() {
        let mut m = stumps();
        m.num_feature = 1_000_000_000_000_000;
        assert!(rejection(&m)
            .contains("num_feature = 1000000000000000 exceeds the limit of 2147483647"));
        m.num_feature = MAX_NUM_FEATURE;
        assert!(Booster::from_json(&m.to_json().unwrap()).is_ok());
        let mut m = stumps();
        m.num_class = MAX_NUM_CLASS + 1;
        assert!(rejection(&m).contains("num_class"));
        let mut m = stumps();
        m.num_parallel_tree = usize::MAX;
        assert!(rejection(&m).contains("num_parallel_tree"));
        let mut m = stumps();
        m.base_score.push(0.5);
        assert!(rejection(&m).contains("base_score has 3 values"));
        let mut m = stumps();
        m.tree_info = vec![0, 1, 1, 0];
        assert!(rejection(&m).contains("tree_info[2] = 1"));
        let mut m = stumps();
        m.tree_info[3] = 7;
        assert!(rejection(&m).contains("tree_info[3] = 7"));
        let mut m = stumps();
        m.trees.pop();
        assert!(rejection(&m).contains("tree_info has 4 entries, but there are 3 trees"));
        let mut m = stumps();
        m.trees[1].split_index[0] = 3;
        assert!(rejection(&m).contains("trees[1].split_index[0] = 3 is not below num_feature = 3"));
    }
}
