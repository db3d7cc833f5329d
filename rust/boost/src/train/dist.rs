//! A fit over partitions of the data (the Dask estimators), as functions a task scheduler can
//! run where each partition lives.
//!
//! - **Cuts**: each partition sketches its columns ([`sketch`]: distinct values with summed
//!   weights, pruned to a bounded size); the sketches are merged in partition order
//!   ([`cuts_from_sketches`]). When no partition had to prune (in particular when every
//!   feature has at most `max_bin` distinct values) the merge is the sketch of all of the data,
//!   and the cuts are the single-machine ones.
//! - **Trees**: each partition starts every tree of a round from its margins
//!   ([`DistConfig::start_trees`]); a [`DistTree`] then alternates the global step (from the
//!   sums every partition sent, added in partition order, so that every partition takes the
//!   same decisions) and its local step ([`crate::hist::step`]), until the tree is complete.
//! - **Margins and metrics**: each partition adds the round's trees to its margins; metrics
//!   are computed over every evaluation row at once, as on one machine.
//!
//! Row subsampling draws one stream over the global row order and each partition takes its
//! slice, so sampled models equal the single-machine ones too.

use std::sync::Arc;

use crate::constraints::Constraints;
use crate::data::MatrixView;
use crate::error::BoostError;
use crate::gain::SplitParams;
use crate::hist::cuts::push_distinct;
use crate::hist::grow::DIRECT_NODE_RATIO;
use crate::hist::{
    BinnedMatrix, GrowPlan, HistLayout, LeafRows, PartGrowth, QuantileCuts, StepSums, TreeGrowth,
    TreeShape,
};
use crate::model::Booster;
use crate::objective::{GradientInputs, Objective};
use crate::rank::RankState;
use crate::sampling::{sample_rows, ColumnSampler};
use crate::tree::Tree;
use crate::updater::TreeMethod;

use super::margins::{update_margins, update_training_margins};
use super::{empty_model, TrainConfig};

/// One partition's query groups, for the ranking objectives: the local offsets of its
/// groups (no group spans two partitions), the global index of the first, the number of
/// groups in all of the data, and the group-weight normalisation of all of the data
/// (`total_groups` over the sum of every group's weight, summed in order).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RankPart {
    /// Offsets of the partition's groups into its rows.
    pub groups: Vec<usize>,
    /// The global index of its first group.
    pub first_group: usize,
    /// The number of groups of all partitions.
    pub total_groups: usize,
    /// `total_groups` over the sum of all group weights.
    pub weight_norm: f32,
}

/// One partition's sketch of its columns: each feature's distinct present values (as `f32`)
/// with their summed weights, ascending, at most the sketch size; and which features had a
/// missing value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sketch {
    /// Per feature, `(value, weight)` ascending.
    pub features: Vec<Vec<(f32, f64)>>,
    /// Per feature, whether a value is missing (NaN).
    pub missing: Vec<bool>,
}

/// Keeps at most `size` entries of a feature's distinct values, the smallest and the largest
/// among them: each kept entry carries the weight of the dropped ones just below it, and the
/// kept ones sit at evenly spaced cumulative weights.
#[allow(clippy::cast_precision_loss)]
fn prune(distinct: Vec<(f32, f64)>, size: usize) -> Vec<(f32, f64)> {
    if distinct.len() <= size || size < 2 {
        return distinct;
    }
    let total: f64 = distinct.iter().map(|&(_, w)| w).sum();
    let step = total / (size - 1) as f64;
    let mut out = Vec::with_capacity(size);
    let (mut below, mut carried, mut next) = (0.0, 0.0, 0.0);
    let last = distinct.len() - 1;
    for (i, &(v, w)) in distinct.iter().enumerate() {
        below += w;
        carried += w;
        if i == 0 || i == last || (below >= next && out.len() + 1 < size) {
            out.push((v, carried));
            carried = 0.0;
            while next <= below {
                next += step.max(f64::MIN_POSITIVE);
            }
        }
    }
    out
}

/// Sorts `(value, weight)` pairs by value and adds the weights of equal values (as `f32`, so
/// -0 and 0 together), keeping the first of each run.
fn distinct_of(mut pairs: Vec<(f32, f64)>) -> Vec<(f32, f64)> {
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<(f32, f64)> = Vec::new();
    for (v, w) in pairs {
        push_distinct(&mut out, v, w);
    }
    out
}

/// Sketches one partition's dense columns with one weight per row, at most `size` entries a
/// feature. Values are rounded to `f32` first, as binning does.
///
/// # Errors
/// [`BoostError::InvalidInput`] for sparse input or weights of the wrong length.
#[allow(clippy::cast_possible_truncation)]
pub fn sketch(x: &MatrixView<'_>, weights: &[f32], size: usize) -> Result<Sketch, BoostError> {
    let (n_rows, n_cols) = (x.n_rows(), x.n_cols());
    if weights.len() != n_rows {
        return Err(BoostError::InvalidInput(format!(
            "{} weights for {n_rows} rows",
            weights.len()
        )));
    }
    let value = |r: usize, f: usize| -> f32 {
        match *x {
            MatrixView::DenseF32 { data, .. } => data[r * n_cols + f],
            MatrixView::DenseF64 { data, .. } => data[r * n_cols + f] as f32,
            MatrixView::Csr { .. } => f32::NAN,
        }
    };
    if matches!(x, MatrixView::Csr { .. }) {
        return Err(BoostError::InvalidInput(
            "a distributed fit takes dense partitions".into(),
        ));
    }
    use rayon::prelude::*;
    let per_feature: Vec<(Vec<(f32, f64)>, bool)> = (0..n_cols)
        .into_par_iter()
        .map(|f| {
            let mut missing = false;
            let mut pairs = Vec::with_capacity(n_rows);
            for (r, &w) in weights.iter().enumerate() {
                let v = value(r, f);
                if v.is_nan() {
                    missing = true;
                } else {
                    pairs.push((v, f64::from(w)));
                }
            }
            (prune(distinct_of(pairs), size), missing)
        })
        .collect();
    Ok(Sketch {
        missing: per_feature.iter().map(|(_, m)| *m).collect(),
        features: per_feature.into_iter().map(|(d, _)| d).collect(),
    })
}

/// The cuts of the whole data from every partition's sketch, merged in partition order, and
/// which features lack a value anywhere.
///
/// # Errors
/// [`BoostError::InvalidInput`] when the sketches disagree on the number of features or none
/// is given; [`BoostError`] from the cut rules.
pub fn cuts_from_sketches(
    sketches: &[Sketch],
    max_bin: usize,
    categorical: &[u32],
) -> Result<(QuantileCuts, Vec<bool>), BoostError> {
    let Some(first) = sketches.first() else {
        return Err(BoostError::InvalidInput("no partition to fit on".into()));
    };
    let n_features = first.features.len();
    if sketches
        .iter()
        .any(|s| s.features.len() != n_features || s.missing.len() != n_features)
    {
        return Err(BoostError::InvalidInput(
            "the partitions have different numbers of features".into(),
        ));
    }
    let merged: Vec<Vec<(f32, f64)>> = (0..n_features)
        .map(|f| {
            distinct_of(
                sketches
                    .iter()
                    .flat_map(|s| s.features[f].clone())
                    .collect(),
            )
        })
        .collect();
    let mut cuts = QuantileCuts::from_distinct(&merged, max_bin)?;
    if !categorical.is_empty() {
        // A categorical feature has a bin per category up to its largest code, which every
        // sketch keeps (pruning keeps each partition's extremes).
        let mut counts = vec![None; n_features];
        for &f in categorical {
            let f = f as usize;
            if f >= n_features {
                return Err(BoostError::InvalidInput(format!(
                    "categorical feature {f} is beyond the data's {n_features} features"
                )));
            }
            let (min, max) = (
                merged[f].first().map_or(f32::NAN, |p| p.0),
                merged[f].last().map_or(f32::NAN, |p| p.0),
            );
            counts[f] = Some(crate::updater::category_count(f, min, max)?);
        }
        cuts = cuts.with_categories(&counts)?;
    }
    let missing = (0..n_features)
        .map(|f| sketches.iter().any(|s| s.missing[f]))
        .collect();
    Ok((cuts, missing))
}

/// The histogram layout every partition of a fit shares: from the global cuts and which
/// features lack a value anywhere (as one machine derives it from all of the data).
pub fn shared_layout(cuts: &QuantileCuts, missing: &[bool]) -> HistLayout {
    HistLayout::new(cuts, true, missing)
}

/// The binned rows, cuts and histogram layout a tree grows on.
#[derive(Debug, Clone)]
pub struct TreeBins {
    /// One partition's rows, binned by `cuts`.
    pub matrix: Arc<BinnedMatrix>,
    /// The fit's (or, with `approx`, the tree's) cuts.
    pub cuts: Arc<QuantileCuts>,
    /// The layout every partition shares ([`shared_layout`]).
    pub layout: HistLayout,
}

/// A round's gradient pairs per output group, and each tree's group, seed and sampled rows.
struct RoundInputs {
    groups: Vec<Vec<(f32, f32)>>,
    trees: Vec<(usize, u64, Vec<bool>)>,
}

/// A distributed fit's settings, checked once.
#[derive(Debug, Clone)]
pub struct DistConfig {
    config: TrainConfig,
    split: SplitParams,
}

impl DistConfig {
    /// Checks `config` for a distributed fit: `hist` or `approx` (`exact` needs every row of
    /// a column at once), built-in objectives without leaf refreshes.
    ///
    /// # Errors
    /// [`BoostError::InvalidParameter`] naming what cannot be distributed.
    pub fn new(config: TrainConfig) -> Result<Self, BoostError> {
        config.validate()?;
        if config.tree_method == TreeMethod::Exact {
            return Err(BoostError::InvalidInput(
                "tree_method='exact' cannot be distributed; use tree_method='hist' or 'approx'"
                    .into(),
            ));
        }
        if matches!(
            config.objective,
            Objective::Custom
                | Objective::AbsoluteError
                | Objective::Quantile
                | Objective::Cox
                | Objective::Aft
        ) {
            return Err(BoostError::InvalidInput(format!(
                "objective '{}' cannot be distributed yet",
                config.objective.name()
            )));
        }
        if config.objective.is_ranking() && config.objective_params.lambdarank_unbiased {
            return Err(BoostError::InvalidInput(
                "lambdarank_unbiased cannot be distributed: its position biases are learnt \
                 over every query at once"
                    .into(),
            ));
        }
        let split =
            SplitParams::from_tree_params(&config.tree, config.objective.implied_max_delta_step());
        Ok(Self { config, split })
    }

    /// The model before any tree, its intercept estimated from every training label and
    /// weight (gathered in partition order) unless the configuration sets it.
    ///
    /// # Errors
    /// [`BoostError::InvalidInput`] for labels the objective does not take, or weights that
    /// sum to zero.
    pub fn empty_model(
        &self,
        n_features: usize,
        labels: &[f32],
        weights: &[f32],
    ) -> Result<Booster, BoostError> {
        self.config.check_training_targets(labels, weights)?;
        Ok(empty_model(&self.config, n_features, labels, weights))
    }

    /// One partition's gradient pairs for round `iteration`, per output group, and each
    /// tree's seed and sampled rows, in model order (group-major, then parallel tree).
    #[allow(clippy::too_many_arguments, clippy::cast_possible_truncation)]
    fn round_inputs(
        &self,
        model: &Booster,
        n: usize,
        margin: &[f32],
        labels: &[f32],
        weights: &[f32],
        iteration: u64,
        offset: usize,
        n_total: usize,
        rank: Option<&RankPart>,
    ) -> Result<RoundInputs, BoostError> {
        let k = model.n_groups();
        if labels.len() != n || weights.len() != n || margin.len() != n * k {
            return Err(BoostError::InvalidInput(
                "a partition's labels, weights or margins disagree with its rows".into(),
            ));
        }
        if offset + n > n_total {
            return Err(BoostError::InvalidInput(
                "a partition lies outside the data".into(),
            ));
        }
        let mut gpair = vec![(0.0_f32, 0.0_f32); n * k];
        if self.config.objective.is_ranking() {
            let Some(rank) = rank else {
                return Err(BoostError::InvalidInput(
                    "a ranking objective needs each partition's query groups".into(),
                ));
            };
            let mut state = RankState::part(
                self.config.objective,
                &self.config.objective_params,
                labels,
                rank.groups.clone(),
                rank.first_group,
                rank.total_groups,
                rank.weight_norm,
            )?;
            state.gradients(iteration as usize, margin, labels, weights, &mut gpair);
        } else {
            self.config.objective.gradients(
                &GradientInputs {
                    margin,
                    labels,
                    weights,
                    n_groups: k,
                    scale_pos_weight: model.scale_pos_weight,
                    max_delta_step: self.split.max_delta_step,
                    params: &self.config.objective_params,
                    upper: &[],
                },
                &mut gpair,
            );
        }
        let groups: Vec<Vec<(f32, f32)>> = if k == 1 {
            vec![gpair]
        } else {
            (0..k)
                .map(|g| (0..n).map(|i| gpair[i * k + g]).collect())
                .collect()
        };
        let npt = self.config.num_parallel_tree.max(1);
        let mut trees = Vec::with_capacity(k * npt);
        for g in 0..k {
            for t in 0..npt {
                // The single-machine trainer's seeds, row draws and column draws.
                let seed = self
                    .config
                    .seed
                    .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                    .wrapping_add(iteration * 1_000_003 + (g * npt + t) as u64);
                let active = if self.config.tree.subsample >= 1.0 {
                    vec![true; n]
                } else {
                    sample_rows(n_total, self.config.tree.subsample, seed)[offset..offset + n]
                        .to_vec()
                };
                trees.push((g, seed, active));
            }
        }
        Ok(RoundInputs { groups, trees })
    }

    /// The number of trees a round grows: one per output group and parallel tree.
    pub fn trees_per_round(&self, model: &Booster) -> usize {
        model.n_groups() * self.config.num_parallel_tree.max(1)
    }

    /// `approx`: each tree's point weights for its cuts on one partition (`n` rows), in model
    /// order: the hessian (sample weight included) of the rows the tree sees, and zero for
    /// rows left out by subsampling, as one machine weighs them.
    ///
    /// # Errors
    /// [`BoostError::InvalidInput`] when the arrays disagree in length.
    #[allow(clippy::too_many_arguments)]
    pub fn tree_weights(
        &self,
        model: &Booster,
        n: usize,
        margin: &[f32],
        labels: &[f32],
        weights: &[f32],
        iteration: u64,
        offset: usize,
        n_total: usize,
        rank: Option<&RankPart>,
    ) -> Result<Vec<Vec<f32>>, BoostError> {
        let inputs = self.round_inputs(
            model, n, margin, labels, weights, iteration, offset, n_total, rank,
        )?;
        Ok(inputs
            .trees
            .iter()
            .map(|(g, _, active)| {
                inputs.groups[*g]
                    .iter()
                    .zip(active)
                    .map(|(&(_, h), &a)| if a { h.max(0.0) } else { 0.0 })
                    .collect()
            })
            .collect())
    }

    /// Starts every tree of round `iteration` on one partition: its margins, labels and
    /// weights (rows `offset..` of `n_total` in the global order), and the binned rows, cuts
    /// and layout each tree grows on: one for all (`hist`), or one per tree (`approx`).
    /// Returns one [`DistTree`] per output group and parallel tree, in model order.
    ///
    /// # Errors
    /// [`BoostError::InvalidInput`] when the arrays disagree in length, or `bins` has
    /// neither one entry nor one per tree.
    #[allow(clippy::too_many_arguments, clippy::cast_possible_truncation)]
    pub fn start_trees(
        &self,
        model: &Booster,
        bins: &[TreeBins],
        margin: &[f32],
        labels: &[f32],
        weights: &[f32],
        iteration: u64,
        offset: usize,
        n_total: usize,
        rank: Option<&RankPart>,
    ) -> Result<Vec<DistTree>, BoostError> {
        let n_trees = self.trees_per_round(model);
        let Some(first) = bins.first() else {
            return Err(BoostError::InvalidInput("no binned rows to grow on".into()));
        };
        if bins.len() != 1 && bins.len() != n_trees {
            return Err(BoostError::InvalidInput(format!(
                "{} sets of bins for {n_trees} trees",
                bins.len()
            )));
        }
        let n = first.matrix.n_rows();
        if bins.iter().any(|b| b.matrix.n_rows() != n) {
            return Err(BoostError::InvalidInput(
                "the trees' binned rows differ in length".into(),
            ));
        }
        let inputs = self.round_inputs(
            model, n, margin, labels, weights, iteration, offset, n_total, rank,
        )?;
        let npt = self.config.num_parallel_tree.max(1);
        let mut split = self.split;
        split.learning_rate /= npt as f32;
        let shape = TreeShape {
            max_depth: self.config.tree.max_depth,
            max_leaves: self.config.tree.max_leaves,
            policy: self.config.grow_policy,
        };
        let mut out = Vec::with_capacity(n_trees);
        for (j, (g, seed, active)) in inputs.trees.iter().enumerate() {
            let b = if bins.len() == 1 { first } else { &bins[j] };
            let pairs = &inputs.groups[*g];
            let sampler = ColumnSampler::new(b.cuts.n_features(), &self.config.tree, *seed);
            let direct = sampler.node_ratio() <= DIRECT_NODE_RATIO;
            let part = PartGrowth::start(&b.matrix, pairs, active, true);
            let (growth, plan) = TreeGrowth::new(
                b.cuts.n_features(),
                shape,
                split.gamma,
                sampler,
                direct,
                Constraints::of(&self.config.tree),
            );
            let mut tree = DistTree {
                matrix: Arc::clone(&b.matrix),
                cuts: Arc::clone(&b.cuts),
                layout: b.layout.clone(),
                split,
                gpair: pairs.clone(),
                part,
                growth,
                plan,
                message: Vec::new(),
                group: *g as u32,
            };
            tree.local_step();
            out.push(tree);
        }
        Ok(out)
    }

    /// Adds a round's complete trees to one partition's training margins (`x` its rows).
    ///
    /// # Errors
    /// [`BoostError::InvalidInput`] when a tree is not complete or the margins disagree.
    pub fn update_training_margin(
        &self,
        margin: &mut [f32],
        x: &MatrixView<'_>,
        trees: Vec<DistTree>,
        n_groups: usize,
    ) -> Result<(), BoostError> {
        if margin.len() != x.n_rows() * n_groups {
            return Err(BoostError::InvalidInput(
                "the margins disagree with the partition's rows".into(),
            ));
        }
        let mut grown = Vec::with_capacity(trees.len());
        let mut groups = Vec::with_capacity(trees.len());
        let mut leaves = Vec::with_capacity(trees.len());
        for t in trees {
            let group = t.group;
            let (tree, rows) = t.finish()?;
            grown.push(tree);
            groups.push(group);
            leaves.push(Some(rows));
        }
        update_training_margins(margin, x, &grown, &groups, &leaves, n_groups);
        Ok(())
    }

    /// Adds trees to the margins of an evaluation partition `x`.
    pub fn update_margin(
        margin: &mut [f32],
        x: &MatrixView<'_>,
        trees: &[Tree],
        groups: &[u32],
        n_groups: usize,
    ) {
        update_margins(margin, x, trees, groups, n_groups);
    }

    /// The metrics of every evaluation row's margins (all partitions', in order); ranking
    /// metrics score the query groups `groups` (offsets into all of the rows; `None`: one).
    ///
    /// # Errors
    /// [`BoostError::InvalidInput`] from a metric that does not fit the model.
    pub fn evaluate(
        &self,
        model: &Booster,
        margin: &[f32],
        labels: &[f32],
        weights: &[f32],
        groups: Option<&[usize]>,
    ) -> Result<Vec<f64>, BoostError> {
        let mut p = margin.to_vec();
        model.transform(&mut p);
        let whole = [0, labels.len()];
        let groups = groups.unwrap_or(&whole);
        self.config
            .metrics
            .iter()
            .map(|m| {
                if m.needs_groups() {
                    m.evaluate_groups(&p, labels, weights, groups)
                } else {
                    m.evaluate(&p, labels, weights, model.n_groups())
                }
            })
            .collect()
    }
}

/// One partition's side of one tree: its local growth state, and (the same on every
/// partition) the global one; the sums it sends next.
#[derive(Debug, Clone)]
pub struct DistTree {
    matrix: Arc<BinnedMatrix>,
    cuts: Arc<QuantileCuts>,
    layout: HistLayout,
    split: SplitParams,
    gpair: Vec<(f32, f32)>,
    part: PartGrowth,
    growth: TreeGrowth,
    plan: GrowPlan,
    message: Vec<f64>,
    group: u32,
}

impl DistTree {
    fn local_step(&mut self) {
        let sums = self.part.step(
            &self.matrix,
            &self.cuts,
            &self.layout,
            &self.gpair,
            &self.plan,
            true,
        );
        self.message = sums.to_flat();
    }

    /// This partition's sums for the last plan ([`StepSums::to_flat`]).
    pub fn message(&self) -> &[f64] {
        &self.message
    }

    /// Whether the tree is complete.
    pub fn is_done(&self) -> bool {
        self.plan.last
    }

    /// The output group of the tree.
    pub fn group(&self) -> u32 {
        self.group
    }

    /// One global and one local step: `messages` are every partition's sums for the last
    /// plan, in partition order.
    ///
    /// # Errors
    /// [`BoostError::InvalidInput`] when the tree is complete or a message has the wrong
    /// shape.
    pub fn advance(&mut self, messages: &[&[f64]]) -> Result<(), BoostError> {
        if self.plan.last {
            return Err(BoostError::InvalidInput(
                "the tree is already complete".into(),
            ));
        }
        let mut sums = StepSums::zeros(&self.plan, &self.layout, &self.cuts);
        for m in messages {
            sums.add_flat(m)?;
        }
        let (plan, _) = self
            .growth
            .step(&self.cuts, &self.split, &self.layout, sums)?;
        self.plan = plan;
        self.local_step();
        Ok(())
    }

    /// The tree so far (the root alone before the first global step).
    pub fn tree(&self) -> Tree {
        self.growth
            .tree()
            .cloned()
            .unwrap_or_else(|| Tree::with_root(0.0, 0.0, 0.0))
    }

    /// The complete tree and the rows of each leaf on this partition.
    ///
    /// # Errors
    /// [`BoostError::InvalidInput`] when the tree is not complete.
    pub fn finish(self) -> Result<(Tree, LeafRows), BoostError> {
        if !self.plan.last {
            return Err(BoostError::InvalidInput("the tree is not complete".into()));
        }
        Ok((self.growth.into_tree(), self.part.into_leaves()))
    }

    /// Bytes held, about: the partition's rows and gradients, and its histograms.
    pub fn nbytes(&self) -> usize {
        self.gpair.len() * 12 + self.message.len() * 8 * 2
    }
}
