//! sapwood's own random forest as Boruta's importance source, so the whole selection loop
//! runs in Rust.
//!
//! Each fit grows one round of `n_trees` histogram trees (XGBoost's random-forest mode) with
//! rows subsampled per tree and `sqrt(p)` columns per node, as the scikit-learn forest that
//! BorutaPy is used with; a feature's importance is its share of the total split gain (the
//! analogue of mean decrease in impurity), or, with `shap`, its mean absolute SHAP value over
//! the training rows (exact TreeSHAP of the fitted forest, the approach of BorutaShap).

use sapwood_boost::hist::GrowPolicy;
use sapwood_boost::updater::TreeMethod;
use sapwood_boost::{MatrixView, Objective, TrainConfig, Trainer, TreeParams};

use crate::error::BorutaError;
use crate::run::{ImportanceSource, TrainingSet};

/// A random forest of sapwood-boost histogram trees.
#[derive(Debug, Clone)]
pub struct ForestImportance {
    /// `binary:logistic`, `multi:softprob` or `reg:squarederror`.
    pub objective: Objective,
    /// Number of classes for `multi:softprob`, else 0.
    pub num_class: usize,
    /// Depth of every tree.
    pub max_depth: u32,
    /// Fraction of rows drawn for each tree.
    pub subsample: f64,
    /// Per-row weights (class balancing), one per row.
    pub weights: Vec<f32>,
    /// Score features by mean absolute SHAP value instead of their share of the gain.
    pub shap: bool,
}

impl ForestImportance {
    fn config(&self, n_cols: usize, n_trees: usize, seed: u64) -> TrainConfig {
        let per_node = ((n_cols as f64).sqrt().floor().max(1.0)) / n_cols.max(1) as f64;
        TrainConfig {
            tree: TreeParams {
                learning_rate: 1.0,
                max_depth: self.max_depth,
                reg_lambda: 1e-5,
                subsample: self.subsample,
                colsample_bynode: per_node.clamp(f64::MIN_POSITIVE, 1.0),
                ..TreeParams::default()
            },
            objective: self.objective,
            num_class: self.num_class,
            base_score: None,
            scale_pos_weight: 1.0,
            seed,
            metrics: Vec::new(),
            tree_method: TreeMethod::Hist,
            grow_policy: GrowPolicy::Depthwise,
            num_parallel_tree: n_trees.max(1),
            objective_params: sapwood_boost::objective::ObjectiveParams::default(),
        }
    }
}

impl ImportanceSource for ForestImportance {
    fn importances(
        &mut self,
        data: TrainingSet<'_>,
        n_trees: usize,
        seed: u64,
    ) -> Result<Vec<f64>, BorutaError> {
        let TrainingSet {
            x,
            n_rows,
            n_cols,
            y,
        } = data;
        let view = MatrixView::DenseF32 {
            data: x,
            n_rows,
            n_cols,
        };
        let boost = |e: sapwood_boost::BoostError| match e {
            // Keep running out of memory a MemoryError; the rest is bad input.
            sapwood_boost::BoostError::OutOfMemory(what) => BorutaError::OutOfMemory(what),
            other => BorutaError::InvalidInput(other.to_string()),
        };
        let trainer = Trainer::new(
            self.config(n_cols, n_trees, seed),
            &view,
            y,
            &self.weights,
            &[],
        )
        .map_err(boost)?;
        let model = trainer.last_round(&view).map_err(boost)?;
        if self.shap {
            let phi = model
                .predict_contributions(&view, 0, 0, false)
                .map_err(boost)?;
            // Rows, then output groups, then the features and the bias.
            let width = n_cols + 1;
            let mut mean = vec![0.0_f64; n_cols];
            for block in phi.chunks(width) {
                for (m, &v) in mean.iter_mut().zip(&block[..n_cols]) {
                    *m += f64::from(v.abs());
                }
            }
            #[allow(clippy::cast_precision_loss)]
            let n = n_rows.max(1) as f64;
            return Ok(mean.into_iter().map(|m| m / n).collect());
        }
        let mut gain = vec![0.0; n_cols];
        for f in model.importance() {
            gain[f.feature] = f.gain;
        }
        let total: f64 = gain.iter().sum();
        Ok(if total > 0.0 {
            gain.iter().map(|g| g / total).collect()
        } else {
            vec![0.0; n_cols]
        })
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::run::{run_selection, TreeBudget};
    use crate::selection::{BorutaParams, Decision};

    #[test]
    fn forest_boruta_finds_the_signal_columns() {
        let (n_rows, n_cols) = (600, 10);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let x: Vec<f32> = (0..n_rows * n_cols).map(|_| rng.random::<f32>()).collect();
        // Class depends on columns 0 and 1 only.
        let y: Vec<f32> = (0..n_rows)
            .map(|r| f32::from(u8::from(x[r * n_cols] + x[r * n_cols + 1] > 1.0)))
            .collect();
        let mut source = ForestImportance {
            objective: Objective::BinaryLogistic,
            num_class: 0,
            max_depth: 5,
            subsample: 0.632,
            weights: vec![1.0; n_rows],
            shap: false,
        };
        let data = TrainingSet {
            x: &x,
            n_rows,
            n_cols,
            y: &y,
        };
        let state = run_selection(
            data,
            BorutaParams {
                max_iter: 40,
                ..BorutaParams::default()
            },
            TreeBudget::Auto { max_depth: Some(5) },
            1,
            &mut source,
            |_| {},
        )
        .unwrap();
        assert_eq!(state.decisions()[0], Decision::Confirmed);
        assert_eq!(state.decisions()[1], Decision::Confirmed);
        // No noise column is confirmed; some may still be tentative after 40 fits.
        assert!(
            !state.decisions()[2..].contains(&Decision::Confirmed),
            "{:?}",
            state.decisions()
        );
        assert!(state.decisions()[2..].contains(&Decision::Rejected));
    }
}
