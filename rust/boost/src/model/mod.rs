//! The fitted model: [`Booster`], an ensemble of trees with its objective and intercept.
//!
//! This module holds the model's fields and what is read straight off them (output groups,
//! iterations, the base margin, feature importances). Its submodules hold the rest of what a
//! fitted model does: `predict` walks the trees for margins, responses and leaf indices;
//! `json` writes and reads sapwood's JSON; `validate` checks a model read from a file before
//! anything is sized by it. The model knows nothing of training: [`crate::train`] builds a
//! `Booster` round by round, and imports go that way only.

mod explain;
mod json;
mod predict;
mod validate;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::objective::Objective;
use crate::tree::Tree;

pub(crate) use predict::add_forest;
pub use validate::{MAX_NUM_CLASS, MAX_NUM_FEATURE, MAX_NUM_PARALLEL_TREE};

/// The schema name written into sapwood's model JSON.
pub const FORMAT_NAME: &str = "sapwood-boost";
/// The schema version written into sapwood's model JSON.
pub const FORMAT_VERSION: u32 = 1;

/// A fitted gradient-boosted tree ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Booster {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// Schema version, [`FORMAT_VERSION`] when written by this build.
    pub version: u32,
    /// The objective.
    pub objective: Objective,
    /// Number of classes for multi-class objectives, 0 otherwise.
    pub num_class: usize,
    /// Number of features.
    pub num_feature: usize,
    /// Intercept in response space (margins for multi-class), one per output group.
    pub base_score: Vec<f32>,
    /// The trees, iteration after iteration, class-major within an iteration.
    pub trees: Vec<Tree>,
    /// Output group of each tree.
    pub tree_info: Vec<u32>,
    /// Trees grown per output group and iteration (XGBoost's random-forest mode); their
    /// leaves already carry the `1 / num_parallel_tree` factor.
    #[serde(default = "one_usize")]
    pub num_parallel_tree: usize,
    /// `max_delta_step` of the objective (Poisson), kept for export.
    #[serde(default)]
    pub objective_max_delta_step: f32,
    /// `scale_pos_weight` of the objective, kept for export.
    #[serde(default = "one")]
    pub scale_pos_weight: f32,
    /// Free-form string attributes (best_iteration, best_score, ...).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// The parameters of the objectives that take one, kept for export.
    #[serde(default)]
    pub objective_params: crate::objective::ObjectiveParams,
    /// The categorical features (ascending); XGBoost's feature type `"c"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categorical_features: Vec<u32>,
}

fn one() -> f32 {
    1.0
}

fn one_usize() -> usize {
    1
}

impl Booster {
    /// Number of output groups (classes for multi-class, quantiles for `reg:quantileerror`,
    /// else 1).
    pub fn n_groups(&self) -> usize {
        self.objective
            .n_outputs(self.num_class, &self.objective_params)
    }

    /// Trees per boosting iteration.
    pub fn trees_per_iteration(&self) -> usize {
        self.n_groups() * self.num_parallel_tree.max(1)
    }

    /// Number of boosting iterations.
    pub fn n_iterations(&self) -> usize {
        self.trees.len() / self.trees_per_iteration()
    }

    /// The margin every prediction starts from, per group.
    pub fn base_margin(&self) -> Vec<f32> {
        if self.objective.is_multiclass() {
            self.base_score.clone()
        } else {
            self.base_score
                .iter()
                .map(|&b| self.objective.prob_to_margin(b))
                .collect()
        }
    }

    /// Split count, total gain and total cover of every feature used in at least one split,
    /// by ascending feature. Only used features are listed: a model file may declare up to
    /// [`MAX_NUM_FEATURE`] features, and vectors of that length are the caller's choice to
    /// make (and to allocate fallibly), not a side effect of asking for importances.
    pub fn importance(&self) -> Vec<FeatureImportance> {
        let mut by_feature: BTreeMap<u32, FeatureImportance> = BTreeMap::new();
        for tree in &self.trees {
            for i in 0..tree.n_nodes() {
                if tree.is_leaf(i) || tree.is_deleted(i) {
                    continue;
                }
                let f = tree.split_index[i];
                let e = by_feature.entry(f).or_insert(FeatureImportance {
                    feature: f as usize,
                    weight: 0.0,
                    gain: 0.0,
                    cover: 0.0,
                });
                e.weight += 1.0;
                e.gain += f64::from(tree.loss_chg[i]);
                e.cover += f64::from(tree.sum_hess[i]);
            }
        }
        by_feature.into_values().collect()
    }
}

/// What [`Booster::importance`] reports for one feature.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureImportance {
    /// The feature's index.
    pub feature: usize,
    /// Number of splits on the feature.
    pub weight: f64,
    /// Sum of the loss changes of those splits.
    pub gain: f64,
    /// Sum of the hessians (covers) of the split nodes.
    pub cover: f64,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A two-class model of two iterations of stumps over three features.
    pub(crate) fn stumps() -> Booster {
        let mut tree = Tree::with_root(0.0, 0.0, 4.0);
        tree.expand_split(
            0,
            &crate::tree::TreeSplit {
                feature: 2,
                threshold: 0.5,
                default_left: true,
                loss_chg: 3.0,
            },
            (-1.0, -0.1, 2.0),
            (1.0, 0.1, 2.0),
        );
        Booster {
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
            objective: Objective::MultiSoftprob,
            num_class: 2,
            num_feature: 3,
            base_score: vec![0.0, 0.0],
            trees: vec![tree; 4],
            tree_info: vec![0, 1, 0, 1],
            num_parallel_tree: 1,
            objective_max_delta_step: 0.0,
            scale_pos_weight: 1.0,
            attributes: BTreeMap::new(),
            objective_params: crate::objective::ObjectiveParams::default(),
            categorical_features: Vec::new(),
        }
    }

    #[test]
    fn importance_lists_only_the_features_split_on() {
        let mut m = stumps();
        m.num_feature = MAX_NUM_FEATURE;
        let imp = m.importance();
        assert_eq!(
            imp,
            vec![FeatureImportance {
                feature: 2,
                weight: 4.0,
                gain: 12.0,
                cover: 16.0
            }]
        );
    }
}
