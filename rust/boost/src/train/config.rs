//! [`TrainConfig`]: everything a training run needs besides the data, and its checks.

use crate::error::BoostError;
use crate::hist::GrowPolicy;
use crate::metric::Metric;
use crate::objective::{Objective, ObjectiveParams};
use crate::param::TreeParams;
use crate::updater::TreeMethod;

/// Everything a training run needs besides the data.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    /// Tree parameters.
    pub tree: TreeParams,
    /// Objective.
    pub objective: Objective,
    /// Number of classes (multi-class objectives), else 0.
    pub num_class: usize,
    /// Intercept in response space; `None` estimates it as XGBoost 3.x does.
    pub base_score: Option<f64>,
    /// Weight multiplier of positive rows for logistic objectives.
    pub scale_pos_weight: f64,
    /// Seed of every random draw.
    pub seed: u64,
    /// Metrics evaluated on each evaluation set after each round.
    pub metrics: Vec<Metric>,
    /// How split candidates are enumerated.
    pub tree_method: TreeMethod,
    /// Growth order of the histogram methods.
    pub grow_policy: GrowPolicy,
    /// Trees per output group and round; leaves are scaled by its inverse (random forests).
    pub num_parallel_tree: usize,
    /// The parameters of the objectives that take one (and of the metrics that read them).
    pub objective_params: ObjectiveParams,
}

impl TrainConfig {
    /// Checks the training labels against the objective (a ranking objective's relevance
    /// rules included) and that the weights do not sum to zero.
    ///
    /// # Errors
    /// [`BoostError::InvalidInput`] naming the first offending label, or zero weights.
    pub fn check_training_targets(
        &self,
        labels: &[f32],
        weights: &[f32],
    ) -> Result<(), BoostError> {
        self.objective.check_labels(labels, self.num_class)?;
        if self.objective.is_ranking() {
            crate::rank::check_labels(self.objective, &self.objective_params, labels)?;
        }
        if weights.iter().all(|&w| w == 0.0) {
            return Err(BoostError::InvalidInput(
                "sample_weight sums to zero".into(),
            ));
        }
        Ok(())
    }

    /// Checks the configuration.
    ///
    /// # Errors
    /// [`BoostError::InvalidParameter`] naming the first problem.
    pub fn validate(&self) -> Result<(), BoostError> {
        self.tree.validate()?;
        self.objective_params.validate()?;
        if self.num_parallel_tree == 0 {
            return Err(BoostError::parameter("num_parallel_tree", "at least 1", 0));
        }
        match self.tree_method {
            TreeMethod::Exact => {
                if self.tree.max_depth == 0 {
                    return Err(BoostError::parameter(
                        "max_depth",
                        "at least 1 for tree_method=\"exact\"",
                        0,
                    ));
                }
                if self.grow_policy == GrowPolicy::Lossguide {
                    return Err(BoostError::InvalidInput(
                        "grow_policy=\"lossguide\" needs tree_method=\"hist\" or \"approx\"".into(),
                    ));
                }
            }
            TreeMethod::Hist | TreeMethod::Approx => {
                if self.tree.max_depth == 0 && self.tree.max_leaves == 0 {
                    return Err(BoostError::InvalidInput(
                        "max_depth=0 (no depth limit) needs max_leaves > 0".into(),
                    ));
                }
            }
        }
        if self.objective.is_multiclass() && self.num_class < 2 {
            return Err(BoostError::parameter(
                "num_class",
                "at least 2 for a multi-class objective",
                self.num_class,
            ));
        }
        if !(self.scale_pos_weight.is_finite() && self.scale_pos_weight > 0.0) {
            return Err(BoostError::parameter(
                "scale_pos_weight",
                "a finite number > 0",
                self.scale_pos_weight,
            ));
        }
        if let Some(b) = self.base_score {
            let ok = match self.objective {
                Objective::RegLogistic | Objective::BinaryLogistic => b > 0.0 && b < 1.0,
                Objective::Poisson => b > 0.0,
                _ => b.is_finite(),
            };
            if !ok || !b.is_finite() {
                return Err(BoostError::parameter(
                    "base_score",
                    "in the objective's output range ((0, 1) for logistic, > 0 for Poisson)",
                    b,
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::hist::GrowPolicy;
    use crate::objective::Objective;
    use crate::train::tests::config;
    use crate::updater::TreeMethod;

    #[test]
    fn invalid_method_combinations_are_errors() {
        let mut c = config(Objective::SquaredError);
        c.grow_policy = GrowPolicy::Lossguide;
        assert!(c.validate().is_err());
        let mut c = config(Objective::SquaredError);
        c.tree_method = TreeMethod::Hist;
        c.tree.max_depth = 0;
        assert!(c.validate().is_err());
        c.tree.max_leaves = 4;
        assert!(c.validate().is_ok());
        c.num_parallel_tree = 0;
        assert!(c.validate().is_err());
    }
}
