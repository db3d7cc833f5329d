//! The fitted model ([`Booster`]) and the round-by-round trainer ([`Trainer`]).

use std::collections::BTreeMap;

use rayon::prelude::*;
use sapwood_mem::{len_of, try_reserve, try_to_vec, try_vec, try_with_capacity};
use serde::{Deserialize, Serialize};

use crate::data::MatrixView;
use crate::error::BoostError;
use crate::forest::FlatForest;
use crate::gain::SplitParams;
use crate::hist::{GrowPolicy, LeafRows, TreeShape};
use crate::metric::Metric;
use crate::objective::{weighted_median, GradientInputs, Objective};
use crate::param::TreeParams;
use crate::sampling::{sample_rows, ColumnSampler};
use crate::tree::Tree;
use crate::updater::{TreeMethod, Updater};

/// The schema name written into sapwood's model JSON.
pub const FORMAT_NAME: &str = "sapwood-boost";
/// The schema version written into sapwood's model JSON.
pub const FORMAT_VERSION: u32 = 1;

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

const ROW_CHUNK: usize = 512;

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
}

fn one() -> f32 {
    1.0
}

fn one_usize() -> usize {
    1
}

impl Booster {
    /// Number of output groups (classes for multi-class, else 1).
    pub fn n_groups(&self) -> usize {
        self.num_class.max(1)
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
            vec![self.objective.prob_to_margin(self.base_score[0])]
        }
    }

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
        }
        Ok(())
    }

    /// Serialises to sapwood's JSON.
    ///
    /// # Errors
    /// [`BoostError::InvalidModel`] if serialisation fails.
    pub fn to_json(&self) -> Result<String, BoostError> {
        serde_json::to_string(self).map_err(|e| BoostError::InvalidModel(e.to_string()))
    }

    /// Reads sapwood's JSON and validates it. Fields this schema does not know (the
    /// estimator block the Python package adds) are skipped.
    ///
    /// # Errors
    /// [`BoostError::InvalidModel`] for malformed or inconsistent input, naming the field.
    pub fn from_json(text: &str) -> Result<Self, BoostError> {
        let model: Self = serde_json::from_str(text)
            .map_err(|e| BoostError::InvalidModel(describe_json_error(text, &e)))?;
        model.validate()?;
        Ok(model)
    }

    fn check_width(&self, x: &MatrixView<'_>) -> Result<(), BoostError> {
        x.validate()?;
        if x.n_cols() != self.num_feature {
            return Err(BoostError::InvalidInput(format!(
                "X has {} features, but the model was fitted with {}",
                x.n_cols(),
                self.num_feature
            )));
        }
        Ok(())
    }

    fn tree_range(&self, begin: usize, end: usize) -> Result<std::ops::Range<usize>, BoostError> {
        let n_it = self.n_iterations();
        let end = if end == 0 { n_it } else { end };
        if begin > end || end > n_it {
            return Err(BoostError::InvalidInput(format!(
                "iteration_range ({begin}, {end}) is outside the model's {n_it} iterations"
            )));
        }
        let k = self.trees_per_iteration();
        Ok(begin * k..end * k)
    }

    /// Raw margins (`n_rows * n_groups`, row-major) using iterations `[begin, end)`;
    /// `end == 0` means all of them.
    ///
    /// # Errors
    /// [`BoostError::InvalidInput`] for a width mismatch or an invalid range.
    pub fn predict_margin(
        &self,
        x: &MatrixView<'_>,
        begin: usize,
        end: usize,
    ) -> Result<Vec<f32>, BoostError> {
        let forest = self.pack(begin, end)?;
        self.predict_margin_packed(x, &forest, begin, end)
    }

    /// The trees of iterations `[begin, end)` packed for prediction: what each call of
    /// [`Self::predict_margin`] builds, for callers that keep it across calls (packing costs
    /// about as much as predicting a few rows).
    ///
    /// # Errors
    /// [`BoostError::InvalidInput`] for an invalid range.
    pub fn pack(&self, begin: usize, end: usize) -> Result<FlatForest, BoostError> {
        let range = self.tree_range(begin, end)?;
        Ok(FlatForest::new(&self.trees[range]))
    }

    /// [`Self::predict_margin`] through `forest`, which [`Self::pack`] built for the same
    /// iterations.
    ///
    /// # Errors
    /// As [`Self::predict_margin`], and when `forest` holds a different number of trees.
    pub fn predict_margin_packed(
        &self,
        x: &MatrixView<'_>,
        forest: &FlatForest,
        begin: usize,
        end: usize,
    ) -> Result<Vec<f32>, BoostError> {
        self.check_width(x)?;
        let range = self.tree_range(begin, end)?;
        if forest.n_trees() != range.len() {
            return Err(BoostError::InvalidInput(format!(
                "the packed forest holds {} trees, iterations ({begin}, {end}) have {}",
                forest.n_trees(),
                range.len()
            )));
        }
        let k = self.n_groups();
        let base = self.base_margin();
        let what = "the prediction output";
        let mut out = try_vec(len_of(x.n_rows(), k, what)?, 0.0_f32, what)?;
        for o in out.chunks_mut(k) {
            o.copy_from_slice(&base);
        }
        reserve_row_buffers(x, predict_block_rows(x))?;
        add_forest(&mut out, x, forest, &self.tree_info[range], k);
        Ok(out)
    }

    /// Predictions in response space (probabilities for classification).
    ///
    /// # Errors
    /// As [`Self::predict_margin`].
    pub fn predict(
        &self,
        x: &MatrixView<'_>,
        begin: usize,
        end: usize,
    ) -> Result<Vec<f32>, BoostError> {
        let mut m = self.predict_margin(x, begin, end)?;
        self.transform(&mut m);
        Ok(m)
    }

    /// Applies the objective's output transform to margins in place.
    pub fn transform(&self, margins: &mut [f32]) {
        let k = self.n_groups();
        let obj = self.objective;
        let per_row = matches!(obj, Objective::MultiSoftprob | Objective::MultiSoftmax);
        margins
            .par_chunks_mut(k * TRANSFORM_BLOCK)
            .for_each(|block| {
                if per_row {
                    block.chunks_mut(k).for_each(|r| obj.transform(r));
                } else {
                    // Element by element: one call for the whole block.
                    obj.transform(block);
                }
            });
    }

    /// The leaf index of every row in every tree of iterations `[begin, end)`
    /// (`n_rows * n_trees`, row-major).
    ///
    /// # Errors
    /// As [`Self::predict_margin`].
    #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
    pub fn predict_leaf(
        &self,
        x: &MatrixView<'_>,
        begin: usize,
        end: usize,
    ) -> Result<Vec<i32>, BoostError> {
        self.check_width(x)?;
        let range = self.tree_range(begin, end)?;
        let forest = FlatForest::new(&self.trees[range]);
        let nt = forest.n_trees().max(1);
        let what = "the leaf index output";
        let mut out = try_vec(len_of(x.n_rows(), forest.n_trees(), what)?, 0_i32, what)?;
        // Each thread densifies one row at a time into a buffer of `num_feature` values.
        drop(try_with_capacity::<f32>(self.num_feature, "a row buffer")?);
        out.par_chunks_mut(ROW_CHUNK * nt)
            .enumerate()
            .for_each_init(
                || vec![0.0_f32; self.num_feature],
                |buf, (c, block)| {
                    for (j, o) in block.chunks_mut(nt).enumerate() {
                        let i = c * ROW_CHUNK + j;
                        let row: &[f32] = match x.row_slice(i) {
                            Some(r) => r,
                            None => {
                                x.fill_row(i, buf);
                                buf
                            }
                        };
                        for (t, o) in o.iter_mut().enumerate() {
                            *o = forest.leaf_id(t, row) as i32;
                        }
                    }
                },
            );
        Ok(out)
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

/// Says where in a model document a parse error is. serde_json reports a value of the wrong
/// type or range by line and column only, which points nowhere useful in a one-line file;
/// this re-reads the document loosely (only after a failure, so loading stays one pass) and
/// names the first field that does not fit the schema.
fn describe_json_error(text: &str, err: &serde_json::Error) -> String {
    if !err.is_data() {
        return format!("not valid JSON: {err}");
    }
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(text) else {
        return err.to_string();
    };
    first_bad_field(&doc).unwrap_or_else(|| err.to_string())
}

/// The first field of a loosely parsed model document whose value does not deserialise, as
/// `"path: reason"`; `None` when each field on its own is fine.
fn first_bad_field(doc: &serde_json::Value) -> Option<String> {
    use serde::de::DeserializeOwned;
    use serde_json::Value;

    type Check = fn(&Value) -> Result<(), (String, String)>;
    fn one<T: DeserializeOwned>(v: &Value) -> Result<(), (String, String)> {
        T::deserialize(v)
            .map(drop)
            .map_err(|e| (String::new(), e.to_string()))
    }
    fn each<T: DeserializeOwned>(v: &Value) -> Result<(), (String, String)> {
        let Value::Array(items) = v else {
            return one::<Vec<T>>(v);
        };
        items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| one::<T>(item).map_err(|(_, e)| (format!("[{i}]"), e)))
    }
    let Value::Object(obj) = doc else {
        return Some("the document is not a JSON object".into());
    };
    let top: [(&str, Check); 11] = [
        ("format", one::<String>),
        ("version", one::<u32>),
        ("objective", one::<Objective>),
        ("num_class", one::<usize>),
        ("num_feature", one::<usize>),
        ("base_score", each::<f32>),
        ("tree_info", each::<u32>),
        ("num_parallel_tree", one::<usize>),
        ("objective_max_delta_step", one::<f32>),
        ("scale_pos_weight", one::<f32>),
        ("attributes", one::<BTreeMap<String, String>>),
    ];
    let tree_fields: [(&str, Check); 9] = [
        ("left", each::<i32>),
        ("right", each::<i32>),
        ("parent", each::<i32>),
        ("split_index", each::<u32>),
        ("split_cond", each::<f32>),
        ("default_left", each::<bool>),
        ("base_weight", each::<f32>),
        ("loss_chg", each::<f32>),
        ("sum_hess", each::<f32>),
    ];
    for (name, check) in &top {
        if let Some(v) = obj.get(*name) {
            if let Err((at, e)) = check(v) {
                return Some(format!("{name}{at}: {e}"));
            }
        }
    }
    let trees = obj.get("trees")?;
    let Value::Array(trees) = trees else {
        return Some(format!(
            "trees: expected a list of trees, got {}",
            kind(trees)
        ));
    };
    for (t, tree) in trees.iter().enumerate() {
        let Value::Object(tree) = tree else {
            return Some(format!(
                "trees[{t}]: expected an object, got {}",
                kind(tree)
            ));
        };
        for (name, check) in &tree_fields {
            match tree.get(*name) {
                None => return Some(format!("trees[{t}].{name} is missing")),
                Some(v) => {
                    if let Err((at, e)) = check(v) {
                        return Some(format!("trees[{t}].{name}{at}: {e}"));
                    }
                }
            }
        }
    }
    None
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

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
}

impl TrainConfig {
    /// Checks the configuration.
    ///
    /// # Errors
    /// [`BoostError::InvalidParameter`] naming the first problem.
    pub fn validate(&self) -> Result<(), BoostError> {
        self.tree.validate()?;
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

struct EvalSet {
    n_rows: usize,
    labels: Vec<f32>,
    weights: Vec<f32>,
    margin: Vec<f32>,
}

/// Trains a [`Booster`] one round at a time, keeping the presorted columns and the margins of
/// the training and evaluation sets between rounds. The feature matrices themselves are not
/// copied: the caller passes the same views to every [`Trainer::boost_round`].
pub struct Trainer {
    config: TrainConfig,
    split: SplitParams,
    updater: Updater,
    labels: Vec<f32>,
    weights: Vec<f32>,
    margin: Vec<f32>,
    /// The gradient pairs of the last round, kept so that each round refills the same buffer.
    gpair: Vec<(f32, f32)>,
    evals: Vec<EvalSet>,
    model: Booster,
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
        config.validate()?;
        x.validate()?;
        let n = x.n_rows();
        if n == 0 || x.n_cols() == 0 {
            return Err(BoostError::InvalidInput(format!(
                "X must have at least one row and one column, got shape ({n}, {})",
                x.n_cols()
            )));
        }
        check_rows("training data", n, labels, weights)?;
        config.objective.check_labels(labels, config.num_class)?;
        if weights.iter().all(|&w| w == 0.0) {
            return Err(BoostError::InvalidInput(
                "sample_weight sums to zero".into(),
            ));
        }
        for (i, (ex, ey, ew)) in evals.iter().enumerate() {
            ex.validate()?;
            check_rows(&format!("eval_set[{i}]"), ex.n_rows(), ey, ew)?;
            if ex.n_cols() != x.n_cols() {
                return Err(BoostError::InvalidInput(format!(
                    "eval_set[{i}] has {} features, but X has {}",
                    ex.n_cols(),
                    x.n_cols()
                )));
            }
            config.objective.check_labels(ey, config.num_class)?;
        }
        let k = config.num_class.max(1);
        #[allow(clippy::cast_possible_truncation)]
        let spw = config.scale_pos_weight as f32;
        #[allow(clippy::cast_possible_truncation)]
        let base_score = match config.base_score {
            Some(b) if config.objective.is_multiclass() => {
                vec![config.objective.prob_to_margin(b as f32); k]
            }
            Some(b) => vec![b as f32],
            None => config
                .objective
                .estimate_base_score(labels, weights, config.num_class, spw),
        };
        let split =
            SplitParams::from_tree_params(&config.tree, config.objective.implied_max_delta_step());
        let model = Booster {
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
            objective: config.objective,
            num_class: config.num_class,
            num_feature: x.n_cols(),
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
        };
        let base = model.base_margin();
        let updater = Updater::new(config.tree_method, x, weights, config.tree.max_bin as usize)?;
        let margin = repeated_margin(&base, n, "the training margins")?;
        let evals = evals
            .iter()
            .map(|(ex, ey, ew)| {
                Ok(EvalSet {
                    n_rows: ex.n_rows(),
                    labels: try_to_vec(ey, "the evaluation labels")?,
                    weights: try_to_vec(ew, "the evaluation weights")?,
                    margin: repeated_margin(&base, ex.n_rows(), "the evaluation margins")?,
                })
            })
            .collect::<Result<_, BoostError>>()?;
        Ok(Self {
            config,
            split,
            updater,
            labels: try_to_vec(labels, "the training labels")?,
            weights: try_to_vec(weights, "the training weights")?,
            margin,
            gpair: Vec::new(),
            evals,
            model,
        })
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
    #[allow(clippy::cast_possible_truncation)]
    pub fn boost_round(
        &mut self,
        x: &MatrixView<'_>,
        evals: &[MatrixView<'_>],
        custom: Option<&[(f32, f32)]>,
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
                let input = GradientInputs {
                    margin: &self.margin,
                    labels: &self.labels,
                    weights: &self.weights,
                    n_groups: k,
                    scale_pos_weight: self.model.scale_pos_weight,
                    max_delta_step: self.split.max_delta_step,
                };
                self.config.objective.gradients(&input, &mut gpair);
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
            )?;
            for (t, (mut tree, leaves)) in trees.into_iter().enumerate() {
                // XGBoost's exact updater reports no row positions to the objective, so
                // reg:absoluteerror keeps its Newton leaves there; the histogram methods
                // refresh the leaves to the median residual.
                if self.config.objective == Objective::AbsoluteError
                    && self.config.tree_method != TreeMethod::Exact
                {
                    let active = sample_rows(n, subsample, seed_of(t));
                    self.refresh_leaves_to_median(x, &mut tree, &active, split.learning_rate);
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
        update_training_margins(&mut self.margin, x, &new_trees, &new_groups, &new_leaves, k);
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
                row.push(m.evaluate(&p, &e.labels, &e.weights, k)?);
            }
            results.push(row);
        }
        Ok(results)
    }

    /// `reg:absoluteerror` with an adaptive-leaf split finder: each leaf of `tree` becomes the
    /// median of the residuals `y - margin` of its (`active`) training rows, times the
    /// learning rate; leaves without rows keep their value.
    #[allow(clippy::cast_sign_loss)]
    pub fn refresh_leaves_to_median(
        &self,
        view: &MatrixView<'_>,
        tree: &mut Tree,
        active: &[bool],
        learning_rate: f32,
    ) {
        let n = self.labels.len();
        let mut buf = vec![0.0_f32; view.n_cols()];
        let mut per_leaf: Vec<(Vec<f32>, Vec<f32>)> =
            vec![(Vec::new(), Vec::new()); tree.n_nodes()];
        for (i, _) in active.iter().enumerate().take(n).filter(|(_, &a)| a) {
            view.fill_row(i, &mut buf);
            let leaf = tree.leaf_of(&buf);
            per_leaf[leaf].0.push(self.labels[i] - self.margin[i]);
            per_leaf[leaf].1.push(self.weights[i]);
        }
        let unweighted = self.weights.iter().all(|&w| w == 1.0);
        for (leaf, (res, w)) in per_leaf.iter().enumerate() {
            if tree.is_leaf(leaf) && !tree.is_deleted(leaf) && !res.is_empty() {
                let q = weighted_median(res, w, unweighted);
                tree.split_cond[leaf] = q * learning_rate;
            }
        }
    }
}

/// Fewest rows per block when leaf values are added to the training margins.
const MARGIN_BLOCK: usize = 16_384;

/// [`update_margins`] for the training rows: a tree whose growth placed every row in a leaf
/// adds each leaf's value to its rows directly (XGBoost's prediction cache); other trees are
/// walked. Each row still adds its trees in order, so the sums are the same.
fn update_training_margins(
    margin: &mut [f32],
    x: &MatrixView<'_>,
    trees: &[Tree],
    groups: &[u32],
    leaves: &[Option<LeafRows>],
    k: usize,
) {
    let n_rows = x.n_rows();
    for ((tree, &g), rows) in trees.iter().zip(groups).zip(leaves) {
        let placed = rows.as_ref().filter(|rows| {
            rows.iter().map(|(_, r)| r.len()).sum::<usize>() == n_rows
                && rows
                    .iter()
                    .all(|&(nid, _)| tree.is_leaf(nid) && !tree.is_deleted(nid))
        });
        match placed {
            Some(rows) => {
                // Rows in parallel blocks: a leaf's rows are in ascending order (partitions
                // keep the order), so each block finds its share of every leaf by bisection.
                let block = n_rows
                    .div_ceil(rayon::current_num_threads() * 4)
                    .max(MARGIN_BLOCK);
                margin
                    .par_chunks_mut(block * k)
                    .enumerate()
                    .for_each(|(c, out)| {
                        let (lo, hi) = (c * block, c * block + out.len() / k);
                        for (nid, rs) in rows {
                            let value = tree.split_cond[*nid];
                            let a = rs.partition_point(|&r| (r as usize) < lo);
                            let b = rs.partition_point(|&r| (r as usize) < hi);
                            for &r in &rs[a..b] {
                                out[(r as usize - lo) * k + g as usize] += value;
                            }
                        }
                    });
            }
            None => update_margins(
                margin,
                x,
                std::slice::from_ref(tree),
                std::slice::from_ref(&g),
                k,
            ),
        }
    }
}

fn update_margins(
    margin: &mut [f32],
    x: &MatrixView<'_>,
    trees: &[Tree],
    groups: &[u32],
    k: usize,
) {
    let forest = FlatForest::new(trees);
    add_forest(margin, x, &forest, groups, k);
}

/// Rows per parallel task of [`Booster::transform`].
const TRANSFORM_BLOCK: usize = 4096;

/// Rows per block of [`add_forest`]: small enough for the rows to stay in L1, large enough
/// for independent traversals to overlap.
const PREDICT_BLOCK: usize = 64;

/// The most values a thread's buffer of densified rows holds when predicting from sparse or
/// float64 input (4 MiB): very wide matrices go fewer rows to a block, down to one.
const PREDICT_BUFFER_VALUES: usize = 1 << 20;

/// Rows per block of [`add_forest`] for `x`.
fn predict_block_rows(x: &MatrixView<'_>) -> usize {
    match x {
        MatrixView::DenseF32 { .. } => PREDICT_BLOCK,
        _ => (PREDICT_BUFFER_VALUES / x.n_cols().max(1)).clamp(1, PREDICT_BLOCK),
    }
}

/// Checks that a buffer of densified rows can be had before a prediction starts, so that a
/// model of very many features fails with an error rather than inside a worker thread.
fn reserve_row_buffers(x: &MatrixView<'_>, rows: usize) -> Result<(), BoostError> {
    if !matches!(x, MatrixView::DenseF32 { .. }) {
        let what = "a buffer of densified rows";
        drop(try_with_capacity::<f32>(
            len_of(rows, x.n_cols(), what)?,
            what,
        )?);
    }
    Ok(())
}

/// Adds each tree's leaf value to its output group (`out` is `n_rows * k`, row-major). Rows
/// go in parallel blocks; within a block, tree after tree, so each row still sums its trees
/// in model order (the result does not depend on blocking or threads).
fn add_forest(out: &mut [f32], x: &MatrixView<'_>, forest: &FlatForest, groups: &[u32], k: usize) {
    let n_cols = x.n_cols();
    let dense = matches!(x, MatrixView::DenseF32 { .. });
    let block_rows = predict_block_rows(x);
    out.par_chunks_mut(block_rows * k)
        .enumerate()
        .for_each_init(
            || vec![0.0_f32; if dense { 0 } else { block_rows * n_cols }],
            |buf, (c, block)| {
                let first = c * block_rows;
                let n_rows = block.len() / k;
                if !dense {
                    for j in 0..n_rows {
                        x.fill_row(first + j, &mut buf[j * n_cols..(j + 1) * n_cols]);
                    }
                }
                let rows: &[f32] = match x {
                    MatrixView::DenseF32 { data, .. } => {
                        &data[first * n_cols..(first + n_rows) * n_cols]
                    }
                    _ => &buf[..n_rows * n_cols],
                };
                forest.add_block(groups, rows, (n_rows, n_cols), block, k);
            },
        );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(objective: Objective) -> TrainConfig {
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

    #[test]
    fn histogram_methods_never_increase_the_training_loss() {
        let n = 500;
        let (x, y) = regression_data(n);
        let w = vec![1.0; n];
        let view = MatrixView::DenseF64 {
            data: &x,
            n_rows: n,
            n_cols: 3,
        };
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
    fn parallel_trees_share_the_learning_rate() {
        let n = 300;
        let (x, y) = regression_data(n);
        let w = vec![1.0; n];
        let view = MatrixView::DenseF64 {
            data: &x,
            n_rows: n,
            n_cols: 3,
        };
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

    #[test]
    fn median_refresh_sets_leaves_to_residual_medians() {
        let x = [0.0_f32, 1.0, 2.0, 10.0, 11.0, 12.0];
        let y = [1.0_f32, 2.0, 9.0, 5.0, 6.0, 7.0];
        let w = [1.0_f32; 6];
        let view = MatrixView::DenseF32 {
            data: &x,
            n_rows: 6,
            n_cols: 1,
        };
        let mut cfg = config(Objective::AbsoluteError);
        cfg.tree.learning_rate = 1.0;
        let t = Trainer::new(cfg, &view, &y, &w, &[]).unwrap();
        let mut tree = Tree::with_root(0.0, 0.0, 6.0);
        tree.expand(0, 0, 5.0, true, 1.0, (0.0, 0.0, 3.0), (0.0, 0.0, 3.0));
        t.refresh_leaves_to_median(&view, &mut tree, &[true; 6], 1.0);
        let base = t.margin()[0];
        assert!((tree.split_cond[1] - (2.0 - base)).abs() < 1e-6);
        assert!((tree.split_cond[2] - (6.0 - base)).abs() < 1e-6);
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

    #[test]
    fn garbage_models_are_rejected() {
        assert!(Booster::from_json("{").is_err());
        assert!(Booster::from_json("{\"format\": \"x\"}").is_err());
    }

    /// A two-class model of two iterations of stumps over three features.
    fn stumps() -> Booster {
        let mut tree = Tree::with_root(0.0, 0.0, 4.0);
        tree.expand(0, 2, 0.5, true, 3.0, (-1.0, -0.1, 2.0), (1.0, 0.1, 2.0));
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
        }
    }

    fn rejection(model: &Booster) -> String {
        let text = model.to_json().unwrap();
        Booster::from_json(&text).unwrap_err().to_string()
    }

    fn rejection_of_text(edit: impl Fn(&mut serde_json::Value)) -> String {
        let mut doc: serde_json::Value =
            serde_json::from_str(&stumps().to_json().unwrap()).unwrap();
        edit(&mut doc);
        Booster::from_json(&doc.to_string())
            .unwrap_err()
            .to_string()
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

    #[test]
    fn parse_errors_name_the_field() {
        let err = rejection_of_text(|d| d["num_feature"] = serde_json::json!(1e15));
        assert!(
            err.contains("num_feature: invalid type: floating point"),
            "{err}"
        );
        let err = rejection_of_text(|d| d["trees"][1]["left"][2] = serde_json::Value::Null);
        assert!(
            err.contains("trees[1].left[2]: invalid type: null"),
            "{err}"
        );
        let err = rejection_of_text(|d| d["tree_info"][0] = serde_json::json!(-1));
        assert!(
            err.contains("tree_info[0]: invalid value: integer `-1`"),
            "{err}"
        );
        let err = rejection_of_text(|d| d["trees"][0] = serde_json::json!([]));
        assert!(
            err.contains("trees[0]: expected an object, got a list"),
            "{err}"
        );
        let err = rejection_of_text(|d| d["objective"] = serde_json::json!("reg:nope"));
        assert!(
            err.starts_with("cannot read model: objective: unknown variant"),
            "{err}"
        );
        let err = Booster::from_json("{\"format\": 1e309}")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not valid JSON"), "{err}");
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
