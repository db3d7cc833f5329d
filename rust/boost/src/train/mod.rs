//! Training: [`Trainer`] runs boosting rounds and builds a [`Booster`].
//!
//! A round takes the objective's gradients (or the caller's) at the current margins, draws
//! each tree's rows and columns, grows the trees through the [`Updater`], refreshes leaves
//! where the objective asks for it (`median`), adds the new trees to the training and
//! evaluation margins (`margins`) and evaluates the metrics. [`TrainConfig`] (`config`) says
//! how. What a round may touch: the trainer's own margins and gradient buffer, and the model
//! it builds (trees appended, attributes set). The model never imports this module.

mod config;
pub mod dist;
mod margins;
mod median;

use std::collections::BTreeMap;

use rayon::prelude::*;
use sapwood_mem::{len_of, try_reserve, try_to_vec, try_vec, try_with_capacity};

use crate::constraints::Constraints;
use crate::data::MatrixView;
use crate::error::BoostError;
use crate::gain::SplitParams;
use crate::hist::TreeShape;
use crate::model::{Booster, FORMAT_NAME, FORMAT_VERSION};
use crate::objective::{GradientInputs, Objective};
use crate::rank::{self, RankState};
use crate::sampling::{sample_rows, ColumnSampler};
use crate::updater::{TreeMethod, Updater};

pub use config::TrainConfig;
use margins::{update_margins, update_training_margins};

/// One evaluation set: its labels and weights, copied once, and its margins after each round.
struct EvalSet {
    n_rows: usize,
    labels: Vec<f32>,
    /// `survival:aft`: the upper bounds (`labels` holds the lower ones); empty otherwise.
    upper: Vec<f32>,
    weights: Vec<f32>,
    margin: Vec<f32>,
    /// Query-group offsets (ranking metrics); one group of every row unless set.
    groups: Vec<usize>,
}

/// The labels of `n` rows as `(lower, upper)` bounds: for `survival:aft`, `labels` holds the
/// `n` lower bounds then the `n` upper bounds (each at least its lower bound, `inf` for right
/// censoring); other objectives have one label a row and no upper bounds.
fn label_bounds<'a>(
    objective: Objective,
    labels: &'a [f32],
    n: usize,
    what: &str,
) -> Result<(&'a [f32], &'a [f32]), BoostError> {
    if objective != Objective::Aft {
        return Ok((labels, &[]));
    }
    if labels.len() != 2 * n {
        return Err(BoostError::InvalidInput(format!(
            "{what}: survival:aft needs a lower and an upper bound for each of the {n} rows, \
             got {} values",
            labels.len()
        )));
    }
    let (lower, upper) = labels.split_at(n);
    if let Some(i) = (0..n).find(|&i| upper[i].is_nan() || upper[i] < lower[i]) {
        return Err(BoostError::InvalidInput(format!(
            "{what}: the upper bound of row {i} ({}) is below its lower bound ({})",
            upper[i], lower[i]
        )));
    }
    Ok((lower, upper))
}

/// Trains a [`Booster`] one round at a time, keeping the presorted columns and the margins of
/// the training and evaluation sets between rounds. The feature matrices themselves are not
/// copied: the caller passes the same views to every [`Trainer::boost_round`].
pub struct Trainer {
    config: TrainConfig,
    split: SplitParams,
    updater: Updater,
    labels: Vec<f32>,
    /// `survival:aft`: the upper bounds of the labels (`labels` holds the lower ones).
    upper: Vec<f32>,
    weights: Vec<f32>,
    margin: Vec<f32>,
    /// The gradient pairs of the last round, kept so that each round refills the same buffer.
    gpair: Vec<(f32, f32)>,
    /// The training rows' query-group offsets (one group of every row unless set).
    groups: Vec<usize>,
    /// Ranking objectives: what the rounds learn about the query groups, from the first round
    /// on.
    rank: Option<RankState>,
    evals: Vec<EvalSet>,
    model: Booster,
}

/// A model without trees for `config` over `n_features` features, its intercept given or
/// estimated from the training `labels` and `weights` (all of them, in row order).
pub(crate) fn empty_model(
    config: &TrainConfig,
    n_features: usize,
    labels: &[f32],
    weights: &[f32],
) -> Booster {
    let k = config
        .objective
        .n_outputs(config.num_class, &config.objective_params);
    #[allow(clippy::cast_possible_truncation)]
    let spw = config.scale_pos_weight as f32;
    #[allow(clippy::cast_possible_truncation)]
    let base_score = match config.base_score {
        Some(b) if config.objective.is_multiclass() => {
            vec![config.objective.prob_to_margin(b as f32); k]
        }
        Some(b) => vec![b as f32; k],
        None => config.objective.estimate_base_score(
            labels,
            weights,
            config.num_class,
            spw,
            &config.objective_params,
        ),
    };
    let split =
        SplitParams::from_tree_params(&config.tree, config.objective.implied_max_delta_step());
    Booster {
        format: FORMAT_NAME.into(),
        version: FORMAT_VERSION,
        objective: config.objective,
        num_class: config.num_class,
        num_feature: n_features,
        base_score,
        trees: Vec::new(),
        tree_info: Vec::new(),
        num_parallel_tree: config.num_parallel_tree,
        objective_max_delta_step: if config.objective == Objective::Poisson {
            split.max_delta_step
        } else {
            0.0
        },
        scale_pos_weight: spw,
        attributes: BTreeMap::new(),
        objective_params: config.objective_params.clone(),
        categorical_features: config.tree.categorical_features.clone(),
    }
}

/// `n` rows of the base margin `base`, allocated fallibly.
fn repeated_margin(base: &[f32], n: usize, what: &str) -> Result<Vec<f32>, BoostError> {
    let mut margin = try_with_capacity(len_of(n, base.len(), what)?, what)?;
    for _ in 0..n {
        margin.extend_from_slice(base);
    }
    Ok(margin)
}

fn check_rows(what: &str, n: usize, labels: &[f32], weights: &[f32]) -> Result<(), BoostError> {
    if labels.len() != n {
        return Err(BoostError::InvalidInput(format!(
            "{what}: y has {} entries, but X has {n} rows",
            labels.len()
        )));
    }
    if weights.len() != n {
        return Err(BoostError::InvalidInput(format!(
            "{what}: sample_weight has {} entries, but X has {n} rows",
            weights.len()
        )));
    }
    if labels.iter().any(|y| !y.is_finite()) {
        return Err(BoostError::InvalidInput(format!(
            "{what}: y contains NaN or infinity"
        )));
    }
    if weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
        return Err(BoostError::InvalidInput(format!(
            "{what}: sample_weight must be finite and non-negative"
        )));
    }
    Ok(())
}

/// Where a fit starts from, besides the data: a model to continue (its trees kept, its
/// intercept not estimated again, its rounds counted on, so that the row and column draws go
/// on where they stopped), and margins given per row that replace the intercept (XGBoost's
/// `base_margin`, `n_rows * n_groups`), for the training rows and each evaluation set.
#[derive(Debug, Default)]
pub struct Start<'a> {
    /// The model to continue.
    pub model: Option<Booster>,
    /// The training rows' starting margins.
    pub margin: Option<&'a [f32]>,
    /// Each evaluation set's starting margins (missing entries: none).
    pub eval_margins: Vec<Option<&'a [f32]>>,
}

/// Checks that `model` can be continued by a fit of `config` on `n_features` features.
fn check_continued(
    model: &Booster,
    config: &TrainConfig,
    n_features: usize,
) -> Result<(), BoostError> {
    if model.num_feature != n_features {
        return Err(BoostError::InvalidInput(format!(
            "the model to continue has {} features, but X has {n_features}",
            model.num_feature
        )));
    }
    if model.objective != config.objective || model.num_class != config.num_class {
        return Err(BoostError::InvalidInput(format!(
            "the model to continue was trained with objective '{}' ({} classes); this fit uses \
             '{}' ({} classes)",
            model.objective.name(),
            model.num_class,
            config.objective.name(),
            config.num_class
        )));
    }
    if model.categorical_features != config.tree.categorical_features {
        return Err(BoostError::InvalidInput(format!(
            "the model to continue has categorical features {:?}; this fit {:?}",
            model.categorical_features, config.tree.categorical_features
        )));
    }
    if model.num_parallel_tree.max(1) != config.num_parallel_tree.max(1) {
        return Err(BoostError::InvalidInput(format!(
            "the model to continue grows {} parallel trees a round; this fit {}",
            model.num_parallel_tree.max(1),
            config.num_parallel_tree.max(1)
        )));
    }
    Ok(())
}

/// The starting margins of `n` rows: `given` (checked) or the intercept `base` repeated, with
/// the trees of `model` added in order (as training adds them round after round).
fn start_margin(
    model: &Booster,
    x: &MatrixView<'_>,
    given: Option<&[f32]>,
    what: &str,
) -> Result<Vec<f32>, BoostError> {
    let n = x.n_rows();
    let k = model.n_groups();
    let mut margin = match given {
        Some(m) => {
            if m.len() != n * k {
                return Err(BoostError::InvalidInput(format!(
                    "{what}: base_margin has {} values, expected {n} rows x {k} output groups",
                    m.len()
                )));
            }
            if m.iter().any(|v| !v.is_finite()) {
                return Err(BoostError::InvalidInput(format!(
                    "{what}: base_margin contains NaN or infinity"
                )));
            }
            try_to_vec(m, what)?
        }
        None => repeated_margin(&model.base_margin(), n, what)?,
    };
    if !model.trees.is_empty() {
        update_margins(&mut margin, x, &model.trees, &model.tree_info, k);
    }
    Ok(margin)
}

impl Trainer {
    /// Prepares training: validates, presorts the columns, sets the intercept.
    ///
    /// # Errors
    /// [`BoostError`] for invalid parameters or data.
    pub fn new(
        config: TrainConfig,
        x: &MatrixView<'_>,
        labels: &[f32],
        weights: &[f32],
        evals: &[(MatrixView<'_>, &[f32], &[f32])],
    ) -> Result<Self, BoostError> {
        Self::with_start(config, x, labels, weights, evals, Start::default())
    }

    /// [`Trainer::new`] from `start`: a model to continue and margins given per row.
    ///
    /// # Errors
    /// [`BoostError`] for invalid parameters or data, a model that does not fit the data or
    /// the configuration, or margins of the wrong length.
    pub fn with_start(
        config: TrainConfig,
        x: &MatrixView<'_>,
        labels: &[f32],
        weights: &[f32],
        evals: &[(MatrixView<'_>, &[f32], &[f32])],
        start: Start<'_>,
    ) -> Result<Self, BoostError> {
        config.validate()?;
        x.validate()?;
        let n = x.n_rows();
        if n == 0 || x.n_cols() == 0 {
            return Err(BoostError::InvalidInput(format!(
                "X must have at least one row and one column, got shape ({n}, {})",
                x.n_cols()
            )));
        }
        let (labels, upper) = label_bounds(config.objective, labels, n, "training data")?;
        check_rows("training data", n, labels, weights)?;
        config.check_training_targets(labels, weights)?;
        for (i, (ex, ey, ew)) in evals.iter().enumerate() {
            ex.validate()?;
            let what = format!("eval_set[{i}]");
            let (ey, _) = label_bounds(config.objective, ey, ex.n_rows(), &what)?;
            check_rows(&what, ex.n_rows(), ey, ew)?;
            if ex.n_cols() != x.n_cols() {
                return Err(BoostError::InvalidInput(format!(
                    "eval_set[{i}] has {} features, but X has {}",
                    ex.n_cols(),
                    x.n_cols()
                )));
            }
            config.objective.check_labels(ey, config.num_class)?;
        }
        if start.eval_margins.len() > evals.len() {
            return Err(BoostError::InvalidInput(format!(
                "{} evaluation base margins for {} evaluation sets",
                start.eval_margins.len(),
                evals.len()
            )));
        }
        let fresh = empty_model(&config, x.n_cols(), labels, weights);
        let model = match start.model {
            Some(mut m) => {
                check_continued(&m, &config, x.n_cols())?;
                // The intercept and trees stay; the objective's settings are this fit's.
                m.scale_pos_weight = fresh.scale_pos_weight;
                m.objective_max_delta_step = fresh.objective_max_delta_step;
                m.objective_params = fresh.objective_params.clone();
                m
            }
            None => fresh,
        };
        let split =
            SplitParams::from_tree_params(&config.tree, config.objective.implied_max_delta_step());
        let updater = Updater::with_categorical(
            config.tree_method,
            x,
            weights,
            config.tree.max_bin as usize,
            &config.tree.categorical_features,
        )?;
        let margin = start_margin(&model, x, start.margin, "the training margins")?;
        let evals = evals
            .iter()
            .enumerate()
            .map(|(i, (ex, ey, ew))| {
                let given = start.eval_margins.get(i).copied().flatten();
                Ok(EvalSet {
                    n_rows: ex.n_rows(),
                    labels: try_to_vec(
                        label_bounds(config.objective, ey, ex.n_rows(), "eval_set")?.0,
                        "the evaluation labels",
                    )?,
                    upper: try_to_vec(
                        label_bounds(config.objective, ey, ex.n_rows(), "eval_set")?.1,
                        "the evaluation upper bounds",
                    )?,
                    weights: try_to_vec(ew, "the evaluation weights")?,
                    margin: start_margin(&model, ex, given, &format!("eval_set[{i}]"))?,
                    groups: vec![0, ex.n_rows()],
                })
            })
            .collect::<Result<_, BoostError>>()?;
        Ok(Self {
            split,
            updater,
            labels: try_to_vec(labels, "the training labels")?,
            upper: try_to_vec(upper, "the training upper bounds")?,
            weights: try_to_vec(weights, "the training weights")?,
            margin,
            gpair: Vec::new(),
            groups: vec![0, n],
            rank: None,
            config,
            evals,
            model,
        })
    }

    /// Sets the query groups of the training rows and of each evaluation set, as offsets
    /// (`groups[q]..groups[q + 1]` are the rows of query `q`): ranking objectives form their
    /// pairs within a group, ranking metrics score each group. Without this call every set
    /// is one query.
    ///
    /// # Errors
    /// [`BoostError::InvalidInput`] for offsets that do not start at 0, decrease or do not
    /// end at the set's row count, or a count of evaluation groupings other than the sets'.
    pub fn set_query_groups(
        &mut self,
        train: Vec<usize>,
        evals: Vec<Vec<usize>>,
    ) -> Result<(), BoostError> {
        rank::check_groups(&train, self.labels.len(), "training data")?;
        if evals.len() != self.evals.len() {
            return Err(BoostError::InvalidInput(format!(
                "{} evaluation query groupings for {} evaluation sets",
                evals.len(),
                self.evals.len()
            )));
        }
        for (i, (g, e)) in evals.iter().zip(&self.evals).enumerate() {
            rank::check_groups(g, e.n_rows, &format!("eval_set[{i}]"))?;
        }
        self.groups = train;
        // The groups changed: a ranking objective starts over from them.
        self.rank = None;
        for (g, e) in evals.into_iter().zip(&mut self.evals) {
            e.groups = g;
        }
        Ok(())
    }

    /// Sets the learning rate of the rounds still to come, as a learning-rate schedule does;
    /// the trees already grown keep theirs.
    ///
    /// # Errors
    /// [`BoostError::InvalidParameter`] unless `learning_rate` is finite and above 0.
    pub fn set_learning_rate(&mut self, learning_rate: f64) -> Result<(), BoostError> {
        let mut tree = self.config.tree.clone();
        tree.learning_rate = learning_rate;
        tree.validate()?;
        self.config.tree = tree;
        self.split = SplitParams::from_tree_params(
            &self.config.tree,
            self.config.objective.implied_max_delta_step(),
        );
        Ok(())
    }

    /// Current training margins (`n_rows * n_groups`).
    pub fn margin(&self) -> &[f32] {
        &self.margin
    }

    /// The model so far.
    pub fn model(&self) -> &Booster {
        &self.model
    }

    /// Mutable access to the model (to set attributes).
    pub fn model_mut(&mut self) -> &mut Booster {
        &mut self.model
    }

    /// Runs one boosting round (one tree per output group) and returns, for each evaluation
    /// set, the value of each metric. `custom` supplies the gradient pairs instead of the
    /// objective (`n_rows * n_groups`, row-major).
    ///
    /// # Errors
    /// [`BoostError::InvalidInput`] for custom gradients of the wrong size or non-finite.
    pub fn boost_round(
        &mut self,
        x: &MatrixView<'_>,
        evals: &[MatrixView<'_>],
        custom: Option<&[(f32, f32)]>,
    ) -> Result<Vec<Vec<f64>>, BoostError> {
        self.round(x, evals, custom, true)
    }

    /// Runs a last round, as [`Self::boost_round`] without evaluation sets, and returns the
    /// model. The round is not added to the training margins, which nothing reads after it:
    /// for a caller that wants only the trees (a forest's importances) that saves a walk of
    /// every row through every tree of the round.
    ///
    /// # Errors
    /// As [`Self::boost_round`]; also when the trainer has evaluation sets.
    pub fn last_round(mut self, x: &MatrixView<'_>) -> Result<Booster, BoostError> {
        if !self.evals.is_empty() {
            return Err(BoostError::InvalidInput(
                "a last round takes no evaluation sets".into(),
            ));
        }
        self.round(x, &[], None, false)?;
        Ok(self.model)
    }

    /// [`Self::boost_round`], adding the round's trees to the training margins where
    /// `with_margins` says so.
    #[allow(clippy::cast_possible_truncation)]
    fn round(
        &mut self,
        x: &MatrixView<'_>,
        evals: &[MatrixView<'_>],
        custom: Option<&[(f32, f32)]>,
        with_margins: bool,
    ) -> Result<Vec<Vec<f64>>, BoostError> {
        let n = self.labels.len();
        let k = self.model.n_groups();
        if x.n_rows() != n || x.n_cols() != self.model.num_feature {
            return Err(BoostError::InvalidInput(
                "the training matrix changed shape between boosting rounds".into(),
            ));
        }
        if evals.len() != self.evals.len()
            || evals
                .iter()
                .zip(&self.evals)
                .any(|(v, e)| v.n_rows() != e.n_rows || v.n_cols() != self.model.num_feature)
        {
            return Err(BoostError::InvalidInput(
                "the evaluation sets changed between boosting rounds".into(),
            ));
        }
        let mut gpair = std::mem::take(&mut self.gpair);
        match custom {
            Some(g) => {
                if g.len() != n * k {
                    return Err(BoostError::InvalidInput(format!(
                        "the custom objective returned {} gradients, expected {}",
                        g.len(),
                        n * k
                    )));
                }
                if g.iter().any(|(a, b)| !a.is_finite() || !b.is_finite()) {
                    return Err(BoostError::InvalidInput(
                        "the custom objective returned NaN or infinite gradients".into(),
                    ));
                }
                gpair.clear();
                gpair.extend_from_slice(g);
            }
            None => {
                // Every pair is overwritten: the buffer's old contents never matter.
                let len = len_of(n, k, "the gradient pairs")?;
                let more = len.saturating_sub(gpair.len());
                try_reserve(&mut gpair, more, "the gradient pairs")?;
                gpair.resize(len, (0.0, 0.0));
                if self.config.objective.is_ranking() {
                    let state = match self.rank.as_mut() {
                        Some(state) => state,
                        None => self.rank.insert(RankState::new(
                            self.config.objective,
                            &self.config.objective_params,
                            &self.labels,
                            self.groups.clone(),
                        )?),
                    };
                    state.gradients(
                        self.model.n_iterations(),
                        &self.margin,
                        &self.labels,
                        &self.weights,
                        &mut gpair,
                    );
                } else {
                    let input = GradientInputs {
                        margin: &self.margin,
                        labels: &self.labels,
                        weights: &self.weights,
                        n_groups: k,
                        scale_pos_weight: self.model.scale_pos_weight,
                        max_delta_step: self.split.max_delta_step,
                        params: &self.config.objective_params,
                        upper: &self.upper,
                    };
                    self.config.objective.gradients(&input, &mut gpair);
                }
            }
        }
        let iteration = self.model.n_iterations() as u64;
        let npt = self.config.num_parallel_tree.max(1);
        // A round of `npt` parallel trees shares the learning rate (XGBoost's forests).
        let mut split = self.split;
        split.learning_rate /= npt as f32;
        let shape = TreeShape {
            max_depth: self.config.tree.max_depth,
            max_leaves: self.config.tree.max_leaves,
            policy: self.config.grow_policy,
        };
        let mut new_trees = Vec::with_capacity(k * npt);
        let mut new_groups = Vec::with_capacity(k * npt);
        let mut new_leaves = Vec::with_capacity(k * npt);
        // One output group's pairs (the pairs themselves when there is one group).
        let mut group_pairs = try_vec(
            if k == 1 { 0 } else { n },
            (0.0_f32, 0.0_f32),
            "one output group's gradient pairs",
        )?;
        for g in 0..k {
            if k > 1 {
                group_pairs
                    .par_iter_mut()
                    .enumerate()
                    .for_each(|(i, p)| *p = gpair[i * k + g]);
            }
            let group_pairs: &[(f32, f32)] = if k == 1 { &gpair } else { &group_pairs };
            let seed_of = |t: usize| {
                self.config
                    .seed
                    .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                    .wrapping_add(iteration * 1_000_003 + (g * npt + t) as u64)
            };
            let (subsample, tree_params) = (self.config.tree.subsample, &self.config.tree);
            let n_cols = x.n_cols();
            let trees = self.updater.grow_trees(
                x,
                group_pairs,
                npt,
                |t| {
                    let seed = seed_of(t);
                    (
                        sample_rows(n, subsample, seed),
                        ColumnSampler::new(n_cols, tree_params, seed),
                    )
                },
                &split,
                shape,
                &Constraints::of(tree_params),
            )?;
            for (t, (mut tree, leaves)) in trees.into_iter().enumerate() {
                // XGBoost's exact updater reports no row positions to the objective, so
                // reg:absoluteerror keeps its Newton leaves there; the histogram methods
                // refresh the leaves to the median residual, from the rows growth placed in
                // each leaf where it lists them (as XGBoost takes them from its partitioner).
                if self.config.objective.has_adaptive_leaves()
                    && self.config.tree_method != TreeMethod::Exact
                {
                    let lr = split.learning_rate;
                    let alphas = &self.config.objective_params.quantile_alpha;
                    let alpha = if self.config.objective == Objective::Quantile {
                        f64::from(alphas[g.min(alphas.len() - 1)])
                    } else {
                        0.5
                    };
                    match leaves
                        .as_ref()
                        .filter(|rows| median::leaf_rows_are_complete(&tree, rows, group_pairs))
                    {
                        Some(rows) => {
                            self.refresh_leaves_to_quantile_from_rows(
                                &mut tree,
                                rows,
                                lr,
                                (alpha, g),
                            );
                        }
                        None => {
                            let active = sample_rows(n, subsample, seed_of(t));
                            self.refresh_leaves_to_quantile(x, &mut tree, &active, lr, (alpha, g));
                        }
                    }
                }
                new_trees.push(tree);
                new_groups.push(g as u32);
                new_leaves.push(leaves);
            }
        }
        // Growth allocates node by node; if that drew on the allocator's reserve, stop here,
        // before the round touches the margins or the model.
        sapwood_mem::checkpoint("a boosting round")?;
        self.gpair = gpair;
        // Update margins in tree order.
        if with_margins {
            update_training_margins(&mut self.margin, x, &new_trees, &new_groups, &new_leaves, k);
        }
        for (e, v) in self.evals.iter_mut().zip(evals) {
            update_margins(&mut e.margin, v, &new_trees, &new_groups, k);
        }
        self.model.trees.extend(new_trees);
        self.model.tree_info.extend(new_groups);
        let mut results = Vec::with_capacity(self.evals.len());
        for e in &self.evals {
            let mut p = e.margin.clone();
            self.model.transform(&mut p);
            let mut row = Vec::with_capacity(self.config.metrics.len());
            for m in &self.config.metrics {
                row.push(if m.needs_intervals() {
                    m.evaluate_intervals(&e.margin, &e.labels, &e.upper, &e.weights)?
                } else if m.needs_groups() {
                    m.evaluate_groups(&p, &e.labels, &e.weights, &e.groups)?
                } else {
                    m.evaluate(&p, &e.labels, &e.weights, k)?
                });
            }
            results.push(row);
        }
        Ok(results)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::hist::GrowPolicy;
    use crate::metric::Metric;
    use crate::param::TreeParams;

    pub(crate) fn config(objective: Objective) -> TrainConfig {
        TrainConfig {
            tree: TreeParams::default(),
            objective,
            num_class: 0,
            base_score: None,
            scale_pos_weight: 1.0,
            seed: 0,
            metrics: vec![Metric::Rmse],
            tree_method: TreeMethod::Exact,
            grow_policy: GrowPolicy::Depthwise,
            num_parallel_tree: 1,
            objective_params: crate::objective::ObjectiveParams::default(),
        }
    }

    /// The matrix of [`regression_data`]'s rows (three columns).
    fn regression_view(x: &[f64]) -> MatrixView<'_> {
        MatrixView::DenseF64 {
            data: x,
            n_rows: x.len() / 3,
            n_cols: 3,
        }
    }

    fn regression_data(n: usize) -> (Vec<f64>, Vec<f32>) {
        let x: Vec<f64> = (0..n * 3)
            .map(|i| {
                let missing = i % 17 == 0 && i % 3 != 1;
                f64::from((i * 37 % 101) as u32) + if missing { f64::NAN } else { 0.0 }
            })
            .collect();
        let y: Vec<f32> = (0..n)
            .map(|i| {
                let a = if x[3 * i].is_nan() { 20.0 } else { x[3 * i] };
                (a * 0.1 - x[3 * i + 1] * 0.05).sin() as f32
            })
            .collect();
        (x, y)
    }

    /// A last round grows the same trees as a round that updates the margins.
    #[test]
    fn a_last_round_grows_the_same_forest() {
        let n = 400;
        let (x, y) = regression_data(n);
        let w = vec![1.0; n];
        let view = regression_view(&x);
        let mut c = config(Objective::SquaredError);
        c.metrics.clear();
        c.tree_method = TreeMethod::Hist;
        c.num_parallel_tree = 4;
        c.tree.subsample = 0.7;
        c.tree.max_depth = 3;
        let mut a = Trainer::new(c.clone(), &view, &y, &w, &[]).unwrap();
        a.boost_round(&view, &[], None).unwrap();
        a.boost_round(&view, &[], None).unwrap();
        let mut b = Trainer::new(c.clone(), &view, &y, &w, &[]).unwrap();
        b.boost_round(&view, &[], None).unwrap();
        let model = b.last_round(&view).unwrap();
        assert_eq!(model.trees, a.model().trees);
        let with_evals = Trainer::new(c, &view, &y, &w, &[(view, &y, &w)]).unwrap();
        assert!(with_evals.last_round(&view).is_err());
    }

    #[test]
    fn histogram_methods_never_increase_the_training_loss() {
        let n = 500;
        let (x, y) = regression_data(n);
        let w = vec![1.0; n];
        let view = regression_view(&x);
        for (method, policy, max_depth, max_leaves) in [
            (TreeMethod::Hist, GrowPolicy::Depthwise, 4, 0),
            (TreeMethod::Hist, GrowPolicy::Lossguide, 0, 8),
            (TreeMethod::Approx, GrowPolicy::Depthwise, 3, 0),
            (TreeMethod::Approx, GrowPolicy::Lossguide, 5, 6),
        ] {
            let mut c = config(Objective::SquaredError);
            c.tree_method = method;
            c.grow_policy = policy;
            c.tree.max_depth = max_depth;
            c.tree.max_leaves = max_leaves;
            c.tree.max_bin = 16;
            let mut t = Trainer::new(c, &view, &y, &w, &[(view, &y, &w)]).unwrap();
            let mut last = f64::INFINITY;
            for _ in 0..15 {
                let rmse = t.boost_round(&view, &[view], None).unwrap()[0][0];
                assert!(
                    rmse <= last + 1e-6,
                    "{method:?} {policy:?}: {rmse} after {last}"
                );
                last = rmse;
            }
            if max_leaves > 0 {
                for tree in &t.model().trees {
                    let leaves = (0..tree.n_nodes()).filter(|&i| tree.is_leaf(i)).count();
                    assert!(leaves <= max_leaves as usize);
                }
            }
        }
    }

    #[test]
    fn a_new_learning_rate_applies_to_the_rounds_to_come() {
        let n = 200;
        let (x, y) = regression_data(n);
        let w = vec![1.0; n];
        let view = regression_view(&x);
        let mut c = config(Objective::SquaredError);
        c.tree_method = TreeMethod::Hist;
        c.tree.learning_rate = 0.5;
        let leaves = |t: &Trainer, i: usize| -> Vec<f32> {
            let tree = &t.model().trees[i];
            (0..tree.n_nodes())
                .filter(|&j| tree.is_leaf(j))
                .map(|j| tree.split_cond[j])
                .collect()
        };
        // Two rounds at 0.5, against one at 0.5 and one at 0.25: the first trees are the same,
        // and the second tree's leaves are half as large (same structure, same gradients).
        let mut a = Trainer::new(c.clone(), &view, &y, &w, &[]).unwrap();
        let mut b = Trainer::new(c, &view, &y, &w, &[]).unwrap();
        a.boost_round(&view, &[], None).unwrap();
        b.boost_round(&view, &[], None).unwrap();
        assert_eq!(leaves(&a, 0), leaves(&b, 0));
        b.set_learning_rate(0.25).unwrap();
        a.boost_round(&view, &[], None).unwrap();
        b.boost_round(&view, &[], None).unwrap();
        let (la, lb) = (leaves(&a, 1), leaves(&b, 1));
        assert_eq!(la.len(), lb.len());
        for (u, v) in la.iter().zip(&lb) {
            assert!((u * 0.5 - v).abs() <= 1e-6 * u.abs().max(1.0), "{u} {v}");
        }
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                b.set_learning_rate(bad),
                Err(BoostError::InvalidParameter {
                    name: "learning_rate",
                    ..
                })
            ));
        }
    }

    #[test]
    fn parallel_trees_share_the_learning_rate() {
        let n = 300;
        let (x, y) = regression_data(n);
        let w = vec![1.0; n];
        let view = regression_view(&x);
        let mut c = config(Objective::SquaredError);
        c.tree_method = TreeMethod::Hist;
        c.num_parallel_tree = 4;
        c.tree.subsample = 0.8;
        c.tree.colsample_bynode = 0.8;
        c.tree.learning_rate = 1.0;
        let mut t = Trainer::new(c, &view, &y, &w, &[]).unwrap();
        t.boost_round(&view, &[], None).unwrap();
        let model = t.model();
        assert_eq!(model.trees.len(), 4);
        assert_eq!(model.n_iterations(), 1);
        // Each tree's leaves are a quarter of a full-step tree's: the prediction is the mean
        // of the four trees, which must stay within the label range.
        let pred = model.predict(&view, 0, 0).unwrap();
        let (lo, hi) = y
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        assert!(pred.iter().all(|&p| p >= lo - 1e-4 && p <= hi + 1e-4));
        // The trees differ (independent row and column draws).
        assert_ne!(model.trees[0], model.trees[1]);
        let back = Booster::from_json(&model.to_json().unwrap()).unwrap();
        assert_eq!(back.num_parallel_tree, 4);
    }

    #[test]
    fn training_reduces_the_error_and_round_trips_through_json() {
        let n = 200;
        let x: Vec<f64> = (0..n * 2)
            .map(|i| f64::from((i * 37 % 101) as u32))
            .collect();
        let y: Vec<f32> = (0..n)
            .map(|i| (x[2 * i] * 0.1 + x[2 * i + 1] * 0.05) as f32)
            .collect();
        let w = vec![1.0; n];
        let view = MatrixView::DenseF64 {
            data: &x,
            n_rows: n,
            n_cols: 2,
        };
        let mut t = Trainer::new(
            config(Objective::SquaredError),
            &view,
            &y,
            &w,
            &[(view, &y, &w)],
        )
        .unwrap();
        let first = t.boost_round(&view, &[view], None).unwrap()[0][0];
        let mut last = first;
        for _ in 0..10 {
            last = t.boost_round(&view, &[view], None).unwrap()[0][0];
        }
        assert!(last < first * 0.5);
        let model = t.model().clone();
        let back = Booster::from_json(&model.to_json().unwrap()).unwrap();
        assert_eq!(back, model);
        let p1 = model.predict(&view, 0, 0).unwrap();
        assert_eq!(p1, back.predict(&view, 0, 0).unwrap());
        let wide = MatrixView::DenseF64 {
            data: &x[..6],
            n_rows: 2,
            n_cols: 3,
        };
        assert!(model
            .predict(&wide, 0, 0)
            .unwrap_err()
            .to_string()
            .contains("3 features"));
        // A packed forest predicts as the per-call one, and only for its own range.
        let packed = model.pack(2, 7).unwrap();
        assert_eq!(
            model.predict_margin_packed(&view, &packed, 2, 7).unwrap(),
            model.predict_margin(&view, 2, 7).unwrap()
        );
        assert!(model
            .predict_margin_packed(&view, &packed, 0, 0)
            .unwrap_err()
            .to_string()
            .contains("packed forest"));
    }

    /// XGBoost's test_tree_regularization.py: one row, y = 1, base_score 0.5, eta 1.
    #[test]
    fn single_row_predictions_match_xgboost_closed_form() {
        let x = [0.0_f32];
        let view = MatrixView::DenseF32 {
            data: &x,
            n_rows: 1,
            n_cols: 1,
        };
        for (alpha, lambda, want) in [(0.1, 0.0, 0.9), (0.0, 1.0, 0.75), (0.1, 1.0, 0.7)] {
            let mut cfg = config(Objective::SquaredError);
            cfg.base_score = Some(0.5);
            cfg.tree.learning_rate = 1.0;
            cfg.tree.reg_alpha = alpha;
            cfg.tree.reg_lambda = lambda;
            cfg.tree.min_child_weight = 0.0;
            let mut t = Trainer::new(cfg, &view, &[1.0], &[1.0], &[]).unwrap();
            t.boost_round(&view, &[], None).unwrap();
            let p = t.model().predict(&view, 0, 0).unwrap();
            assert!(
                (p[0] - want).abs() < 1e-6,
                "alpha {alpha} lambda {lambda}: {}",
                p[0]
            );
        }
    }
}
