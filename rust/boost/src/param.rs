//! Tree-growing parameters, with XGBoost's names, defaults and valid ranges.

use serde::{Deserialize, Serialize};

use crate::error::BoostError;

/// Parameters that control how one tree is grown and how its leaves are valued.
///
/// Names and defaults are XGBoost's (`learning_rate` is XGBoost's `eta`, `reg_lambda` its
/// `lambda`, `reg_alpha` its `alpha`). Build one with [`TreeParams::default`], change fields,
/// and call [`TreeParams::validate`] before training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeParams {
    /// Shrinkage applied to every leaf value.
    pub learning_rate: f64,
    /// Largest depth of a tree; 0 means unlimited (only with loss-guided growth).
    pub max_depth: u32,
    /// Largest number of leaves; 0 means no limit.
    pub max_leaves: u32,
    /// Smallest hessian sum a child may have.
    pub min_child_weight: f64,
    /// Smallest loss reduction a split must bring (XGBoost's `gamma`).
    pub gamma: f64,
    /// L2 regularisation on leaf weights (XGBoost's `lambda`).
    pub reg_lambda: f64,
    /// L1 regularisation on leaf weights (XGBoost's `alpha`).
    pub reg_alpha: f64,
    /// Largest absolute leaf weight before shrinkage; 0 means no limit.
    pub max_delta_step: f64,
    /// Fraction of rows sampled for each tree.
    pub subsample: f64,
    /// Fraction of columns sampled for each tree.
    pub colsample_bytree: f64,
    /// Fraction of the tree's columns sampled for each level.
    pub colsample_bylevel: f64,
    /// Fraction of the level's columns sampled for each node.
    pub colsample_bynode: f64,
    /// Largest number of histogram bins per feature (`hist` and `approx`).
    pub max_bin: u32,
    /// Monotone constraint per feature (-1, 0 or +1), padded with 0. Empty: no constraint;
    /// any vector, even all zeros, switches the gain to XGBoost's weight-based formula as
    /// XGBoost does.
    #[serde(default)]
    pub monotone_constraints: Vec<i8>,
    /// Sets of feature indices that may be used together on a path (XGBoost's
    /// `interaction_constraints`); empty: none. See [`crate::constraints`].
    #[serde(default)]
    pub interaction_constraints: Vec<Vec<u32>>,
    /// Per-feature weights of column sampling (XGBoost's `feature_weights`); empty: uniform.
    #[serde(default)]
    pub feature_weights: Vec<f64>,
    /// The categorical features (ascending indices); their values are category codes.
    #[serde(default)]
    pub categorical_features: Vec<u32>,
    /// A categorical feature with fewer categories than this is split one category against
    /// the rest; otherwise by a partition of its categories.
    #[serde(default = "default_max_cat_to_onehot")]
    pub max_cat_to_onehot: u32,
    /// Largest number of categories a partition split scans for on either side.
    #[serde(default = "default_max_cat_threshold")]
    pub max_cat_threshold: u32,
}

fn default_max_cat_to_onehot() -> u32 {
    4
}

fn default_max_cat_threshold() -> u32 {
    64
}

impl Default for TreeParams {
    fn default() -> Self {
        Self {
            learning_rate: 0.3,
            max_depth: 6,
            max_leaves: 0,
            min_child_weight: 1.0,
            gamma: 0.0,
            reg_lambda: 1.0,
            reg_alpha: 0.0,
            max_delta_step: 0.0,
            subsample: 1.0,
            colsample_bytree: 1.0,
            colsample_bylevel: 1.0,
            colsample_bynode: 1.0,
            max_bin: 256,
            monotone_constraints: Vec::new(),
            interaction_constraints: Vec::new(),
            feature_weights: Vec::new(),
            categorical_features: Vec::new(),
            max_cat_to_onehot: default_max_cat_to_onehot(),
            max_cat_threshold: default_max_cat_threshold(),
        }
    }
}

fn non_negative(name: &'static str, value: f64) -> Result<(), BoostError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(BoostError::parameter(name, "a finite number >= 0", value))
    }
}

fn unit_fraction(name: &'static str, value: f64) -> Result<(), BoostError> {
    if value > 0.0 && value <= 1.0 {
        Ok(())
    } else {
        Err(BoostError::parameter(name, "in the interval (0, 1]", value))
    }
}

impl TreeParams {
    /// Checks every field against its valid range.
    ///
    /// # Errors
    /// [`BoostError::InvalidParameter`] naming the first field that is out of range.
    pub fn validate(&self) -> Result<(), BoostError> {
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(BoostError::parameter(
                "learning_rate",
                "a finite number > 0",
                self.learning_rate,
            ));
        }
        non_negative("min_child_weight", self.min_child_weight)?;
        non_negative("gamma", self.gamma)?;
        non_negative("reg_lambda", self.reg_lambda)?;
        non_negative("reg_alpha", self.reg_alpha)?;
        non_negative("max_delta_step", self.max_delta_step)?;
        unit_fraction("subsample", self.subsample)?;
        unit_fraction("colsample_bytree", self.colsample_bytree)?;
        unit_fraction("colsample_bylevel", self.colsample_bylevel)?;
        unit_fraction("colsample_bynode", self.colsample_bynode)?;
        if self.max_bin < 2 {
            return Err(BoostError::parameter("max_bin", "at least 2", self.max_bin));
        }
        if let Some(c) = self
            .monotone_constraints
            .iter()
            .find(|c| !(-1..=1).contains(*c))
        {
            return Err(BoostError::parameter(
                "monotone_constraints",
                "values of -1, 0 or 1",
                c,
            ));
        }
        if let Some(w) = self
            .feature_weights
            .iter()
            .find(|w| !(w.is_finite() && **w >= 0.0))
        {
            return Err(BoostError::parameter(
                "feature_weights",
                "finite numbers >= 0",
                w,
            ));
        }
        if !self.feature_weights.is_empty() && self.feature_weights.iter().all(|&w| w == 0.0) {
            return Err(BoostError::parameter(
                "feature_weights",
                "at least one weight > 0",
                "all zero",
            ));
        }
        if self.max_cat_to_onehot < 1 {
            return Err(BoostError::parameter(
                "max_cat_to_onehot",
                "at least 1",
                self.max_cat_to_onehot,
            ));
        }
        if self.max_cat_threshold < 1 {
            return Err(BoostError::parameter(
                "max_cat_threshold",
                "at least 1",
                self.max_cat_threshold,
            ));
        }
        if self.categorical_features.windows(2).any(|w| w[0] >= w[1]) {
            return Err(BoostError::parameter(
                "categorical_features",
                "ascending feature indices",
                format!("{:?}", self.categorical_features),
            ));
        }
        if self.max_depth > 63 {
            return Err(BoostError::parameter(
                "max_depth",
                "at most 63",
                self.max_depth,
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(TreeParams::default().validate(), Ok(()));
    }

    #[test]
    fn out_of_range_fields_are_named() {
        let p = TreeParams {
            subsample: 0.0,
            ..TreeParams::default()
        };
        let err = p.validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "subsample must be in the interval (0, 1], got 0"
        );

        let p = TreeParams {
            reg_lambda: f64::NAN,
            ..TreeParams::default()
        };
        assert!(p
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("reg_lambda"));

        let p = TreeParams {
            max_bin: 1,
            ..TreeParams::default()
        };
        assert!(p.validate().is_err());
    }
}
