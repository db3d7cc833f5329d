//! The tree updaters: how one tree is grown from the gradients, per `tree_method`.
//!
//! - `exact`: presorted columns, every distinct value a candidate ([`crate::exact`]).
//! - `hist`: quantile cuts weighted by the sample weights, sketched once per fit; the binned
//!   matrix is kept for every tree ([`crate::hist`]).
//! - `approx`: cuts weighted by the hessian (which carries the sample weight), sketched again
//!   for each tree whose hessians differ from the last one's; then the same histogram search.

use std::str::FromStr;

use rayon::prelude::*;
use sapwood_mem::{len_of, try_with_capacity};

use crate::constraints::Constraints;
use crate::data::{MatrixView, SortedColumns};
use crate::error::BoostError;
use crate::exact::{self, ExactWorkspace};
use crate::gain::{GradStats, SplitParams};
use crate::hist::histogram::HIST_MAX_BLOCKS;
use crate::hist::{
    BinnedMatrix, GrowPolicy, HistGrower, HistLayout, LeafRows, QuantileCuts, TreeShape,
};
use crate::profile::{self, Phase};
use crate::sampling::ColumnSampler;
use crate::tree::Tree;

/// XGBoost's `tree_method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeMethod {
    /// Exact greedy over presorted columns.
    Exact,
    /// Hessian-weighted quantile sketch per tree, then histograms.
    Approx,
    /// Quantile sketch once per fit, then histograms.
    Hist,
}

impl FromStr for TreeMethod {
    type Err = BoostError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "exact" => Ok(Self::Exact),
            "approx" => Ok(Self::Approx),
            "hist" | "auto" => Ok(Self::Hist),
            other => Err(BoostError::UnknownName(format!(
                "unknown tree_method {other:?}; expected \"exact\", \"approx\" or \"hist\""
            ))),
        }
    }
}

impl FromStr for GrowPolicy {
    type Err = BoostError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "depthwise" => Ok(Self::Depthwise),
            "lossguide" => Ok(Self::Lossguide),
            other => Err(BoostError::UnknownName(format!(
                "unknown grow_policy {other:?}; expected \"depthwise\" or \"lossguide\""
            ))),
        }
    }
}

/// Cuts and the binned matrix built from them.
#[derive(Debug, Clone)]
pub struct Binned {
    /// Cut points per feature.
    pub cuts: QuantileCuts,
    /// Bin indices of the training matrix.
    pub matrix: BinnedMatrix,
    /// The histogram layout of every tree of the fit (whose spare buffers the trees share).
    pub layout: HistLayout,
}

/// Bins a matrix with cuts weighted by `weights` (one per row). Values are compared as
/// `f32`, as in every split finder; `f64` input is rounded once here.
///
/// # Errors
/// [`BoostError`] for `max_bin` out of range or inconsistent shapes.
#[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
pub fn bin_matrix(
    data: &MatrixView<'_>,
    weights: &[f64],
    max_bin: usize,
) -> Result<Binned, BoostError> {
    bin_matrix_with_categories(data, weights, max_bin, &[])
}

/// [`bin_matrix`] with the features whose entry of `categories` is `Some(n)` binned as
/// categorical over categories `0..n` (one bin each; empty `categories`: none).
///
/// # Errors
/// As [`bin_matrix`].
pub fn bin_matrix_with_categories(
    data: &MatrixView<'_>,
    weights: &[f64],
    max_bin: usize,
    categories: &[Option<usize>],
) -> Result<Binned, BoostError> {
    bin_matrix_presorted(data, None, weights, max_bin, categories)
}

/// [`bin_matrix_with_categories`], with the cuts sketched from `sorted` where given: the
/// columns of `data` sorted once ([`QuantileCuts::from_sorted`]), the same cuts without
/// sorting again.
///
/// # Errors
/// As [`bin_matrix`].
fn bin_matrix_presorted(
    data: &MatrixView<'_>,
    sorted: Option<&SortedColumns>,
    weights: &[f64],
    max_bin: usize,
    categories: &[Option<usize>],
) -> Result<Binned, BoostError> {
    let binned = profile::time(Phase::Setup, || {
        bin_matrix_unchecked(data, sorted, weights, max_bin, categories)
    })?;
    reserve_histograms(&binned.cuts)?;
    Ok(binned)
}

/// The number of categories of categorical feature `f` whose present values run from `min`
/// to `max` (NaN: none present): one more than the largest value, as XGBoost counts them (at
/// least one).
///
/// # Errors
/// [`BoostError::InvalidInput`] for a negative value or one not below
/// [`crate::tree::MAX_CATEGORY`].
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss
)]
pub(crate) fn category_count(f: usize, min: f32, max: f32) -> Result<usize, BoostError> {
    if max.is_nan() {
        return Ok(1);
    }
    let limit = crate::tree::MAX_CATEGORY as f32;
    if min < 0.0 || max >= limit {
        return Err(BoostError::InvalidInput(format!(
            "feature {f} is categorical, but holds the value {}: categories must be \
             integers from 0 to {}",
            if min < 0.0 { min } else { max },
            crate::tree::MAX_CATEGORY - 1
        )));
    }
    Ok(max as usize + 1)
}

/// The number of categories of each feature listed in `categorical` ([`category_count`]);
/// `None` for the other features.
///
/// # Errors
/// [`BoostError::InvalidInput`] for a feature index beyond the data, or a value of a
/// categorical feature that is negative or not below [`crate::tree::MAX_CATEGORY`].
#[allow(clippy::cast_possible_truncation)]
pub fn category_counts(
    data: &MatrixView<'_>,
    categorical: &[u32],
) -> Result<Vec<Option<usize>>, BoostError> {
    let n_cols = data.n_cols();
    let mut out = vec![None; n_cols];
    if let Some(&f) = categorical.iter().find(|&&f| f as usize >= n_cols) {
        return Err(BoostError::InvalidInput(format!(
            "categorical feature {f} is beyond the data's {n_cols} features"
        )));
    }
    // The smallest and largest present value of column `f` (`min` and `max` skip NaN).
    let range = |f: usize| {
        let (mut lo, mut hi) = (f32::NAN, f32::NAN);
        let mut see = |v: f32| {
            lo = lo.min(v);
            hi = hi.max(v);
        };
        match *data {
            MatrixView::DenseF32 { data, .. } => {
                data.iter().skip(f).step_by(n_cols).for_each(|&v| see(v));
            }
            MatrixView::DenseF64 { data, .. } => {
                data.iter()
                    .skip(f)
                    .step_by(n_cols)
                    .for_each(|&v| see(v as f32));
            }
            MatrixView::Csr { indices, data, .. } => indices
                .iter()
                .zip(data)
                .filter(|&(&c, _)| c as usize == f)
                .for_each(|(_, &v)| see(v)),
        }
        (lo, hi)
    };
    let ranges: Vec<(f32, f32)> = categorical.par_iter().map(|&f| range(f as usize)).collect();
    for (&f, &(min, max)) in categorical.iter().zip(&ranges) {
        out[f as usize] = Some(category_count(f as usize, min, max)?);
    }
    Ok(out)
}

/// Growth keeps a histogram of every bin for each open node, and a node's histogram is summed
/// from up to [`HIST_MAX_BLOCKS`] partial ones. Checks that the working set of one such build
/// can be had before the first tree, so that data with very many bins fails at once with an
/// error naming the histograms, not partway through a tree.
fn reserve_histograms(cuts: &QuantileCuts) -> Result<(), BoostError> {
    let what = "the histograms";
    let len = len_of(cuts.total_bins(), HIST_MAX_BLOCKS + 2, what)?;
    drop(try_with_capacity::<GradStats>(len, what)?);
    Ok(())
}

/// A CSR matrix's row pointers and column indices as `usize`, as the binning takes them.
fn widen_csr(indptr: &[i64], indices: &[i32]) -> Result<(Vec<usize>, Vec<usize>), BoostError> {
    let mut wide_indptr = try_with_capacity(indptr.len(), "the sparse row pointers")?;
    wide_indptr.extend(indptr.iter().map(|&p| p as usize));
    let mut wide_indices = try_with_capacity(indices.len(), "the sparse column indices")?;
    wide_indices.extend(indices.iter().map(|&c| c as usize));
    Ok((wide_indptr, wide_indices))
}

#[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
fn bin_matrix_unchecked(
    data: &MatrixView<'_>,
    sorted: Option<&SortedColumns>,
    weights: &[f64],
    max_bin: usize,
    categories: &[Option<usize>],
) -> Result<Binned, BoostError> {
    // The sketch's cuts, categorised; a sketch allocates per feature, so stop if that drew
    // on the allocator's reserve.
    let finish = |cuts: QuantileCuts| -> Result<QuantileCuts, BoostError> {
        let cuts = if categories.is_empty() {
            cuts
        } else {
            cuts.with_categories(categories)?
        };
        sapwood_mem::checkpoint("the quantile sketch")?;
        Ok(cuts)
    };
    let presorted =
        |sorted: &SortedColumns| finish(QuantileCuts::from_sorted(sorted, weights, max_bin)?);
    let dense = |values: &[f32], n_rows: usize, n_cols: usize| {
        let sketch = QuantileCuts::from_dense(values, n_rows, n_cols, Some(weights), max_bin)?;
        let cuts = finish(sketch)?;
        let matrix = BinnedMatrix::from_dense(values, n_rows, n_cols, &cuts)?;
        Ok::<_, BoostError>((cuts, matrix))
    };
    let (cuts, matrix) = match (*data, sorted) {
        (
            MatrixView::Csr {
                indptr,
                indices,
                data,
                n_cols,
            },
            _,
        ) => {
            let (indptr, indices) = widen_csr(indptr, indices)?;
            let cuts = match sorted {
                Some(sorted) => presorted(sorted)?,
                None => finish(QuantileCuts::from_csr(
                    &indptr,
                    &indices,
                    data,
                    n_cols,
                    Some(weights),
                    max_bin,
                )?)?,
            };
            let matrix = BinnedMatrix::from_csr(&indptr, &indices, data, n_cols, &cuts)?;
            (cuts, matrix)
        }
        // Dense data bins from its sorted columns where given: one merge a column, no
        // search a value.
        (_, Some(sorted)) => {
            let cuts = presorted(sorted)?;
            let matrix = BinnedMatrix::from_sorted(sorted, &cuts)?;
            (cuts, matrix)
        }
        (
            MatrixView::DenseF32 {
                data,
                n_rows,
                n_cols,
            },
            None,
        ) => dense(data, n_rows, n_cols)?,
        (
            MatrixView::DenseF64 {
                data,
                n_rows,
                n_cols,
            },
            None,
        ) => {
            let mut rounded = try_with_capacity(data.len(), "a float32 copy of the data")?;
            rounded.par_extend(data.par_iter().map(|&v| v as f32));
            dense(&rounded, n_rows, n_cols)?
        }
    };
    let layout = HistLayout::of(&matrix, &cuts);
    Ok(Binned {
        cuts,
        matrix,
        layout,
    })
}

/// What one tree grows from: one output group's gradient pairs, the rows taking part, the
/// gain rules and the shape limits.
#[derive(Clone, Copy)]
struct TreeJob<'a> {
    gpair: &'a [(f32, f32)],
    active: &'a [bool],
    split: &'a SplitParams,
    shape: TreeShape,
    constraints: &'a Constraints,
}

/// The per-fit state of the chosen split finder.
#[derive(Debug, Clone)]
pub enum Updater {
    /// `exact`: the presorted columns and the finder's scratch space.
    Exact(SortedColumns, ExactWorkspace),
    /// `hist`: cuts and bins made once.
    Hist(Binned),
    /// `approx`: cuts and bins of the last tree, with the hessians they were made from.
    Approx {
        /// The current cuts and bins (`None` before the first tree).
        binned: Option<Binned>,
        /// The columns sorted at the first tree, from which every tree's cuts are sketched
        /// (`None` before the first tree; `Some(None)` where they could not be allocated:
        /// each tree then sorts its columns again).
        sorted: Option<Option<SortedColumns>>,
        /// The point weights of the current cuts.
        weights: Vec<f64>,
        /// `max_bin`.
        max_bin: usize,
        /// The number of categories of each categorical feature (empty: none).
        categories: Vec<Option<usize>>,
    },
}

impl Updater {
    /// Prepares the split finder for a fit over `data` with per-row sample `weights`.
    ///
    /// # Errors
    /// [`BoostError`] from presorting or binning.
    pub fn new(
        method: TreeMethod,
        data: &MatrixView<'_>,
        weights: &[f32],
        max_bin: usize,
    ) -> Result<Self, BoostError> {
        Self::with_categorical(method, data, weights, max_bin, &[])
    }

    /// [`Updater::new`] where the features listed in `categorical` (ascending) hold category
    /// codes and split by category (`hist` and `approx`).
    ///
    /// # Errors
    /// As [`Updater::new`]; `exact` with categorical features, or a categorical feature
    /// holding a negative or too large value.
    pub fn with_categorical(
        method: TreeMethod,
        data: &MatrixView<'_>,
        weights: &[f32],
        max_bin: usize,
        categorical: &[u32],
    ) -> Result<Self, BoostError> {
        if method == TreeMethod::Exact && !categorical.is_empty() {
            return Err(BoostError::InvalidInput(
                "tree_method='exact' does not support categorical features; use 'hist' or \
                 'approx'"
                    .into(),
            ));
        }
        let categories = if categorical.is_empty() {
            Vec::new()
        } else {
            category_counts(data, categorical)?
        };
        match method {
            TreeMethod::Exact => Ok(Self::Exact(
                profile::time(Phase::Setup, || SortedColumns::build(data))?,
                ExactWorkspace::default(),
            )),
            TreeMethod::Hist => {
                let w: Vec<f64> = weights.iter().map(|&w| f64::from(w)).collect();
                Ok(Self::Hist(bin_matrix_with_categories(
                    data,
                    &w,
                    max_bin,
                    &categories,
                )?))
            }
            TreeMethod::Approx => Ok(Self::Approx {
                binned: None,
                sorted: None,
                weights: Vec::new(),
                max_bin,
                categories,
            }),
        }
    }

    /// Grows one tree from one output group's gradient pairs over the rows flagged `active`.
    ///
    /// # Errors
    /// [`BoostError`] when `approx` cannot bin the data.
    pub fn grow_tree(
        &mut self,
        data: &MatrixView<'_>,
        gpair: &[(f32, f32)],
        active: &[bool],
        split: &SplitParams,
        shape: TreeShape,
        sampler: &mut ColumnSampler,
    ) -> Result<Tree, BoostError> {
        let none = Constraints::default();
        let job = TreeJob {
            gpair,
            active,
            split,
            shape,
            constraints: &none,
        };
        self.grow_one(data, &job, sampler).map(|(tree, _)| tree)
    }

    /// [`Updater::grow_tree`], also returning the rows that ended in each leaf where the
    /// finder knows them (`hist` and `approx`; `exact` does not keep row lists).
    fn grow_one(
        &mut self,
        data: &MatrixView<'_>,
        job: &TreeJob<'_>,
        sampler: &mut ColumnSampler,
    ) -> Result<(Tree, Option<LeafRows>), BoostError> {
        let TreeJob {
            gpair,
            active,
            split,
            shape,
            constraints,
        } = *job;
        match self {
            Self::Exact(cols, workspace) => {
                let grower = exact::ExactGrower {
                    cols,
                    rows: data,
                    params: split,
                    max_depth: shape.max_depth,
                    constraints,
                };
                Ok((grower.grow(gpair, active, sampler, workspace), None))
            }
            Self::Hist(b) => {
                let grower = HistGrower::new(&b.matrix, &b.cuts, split, shape)
                    .with_layout(&b.layout)
                    .with_constraints(constraints);
                let (tree, leaves) = grower.grow_with_leaves(gpair, active, sampler);
                Ok((tree, Some(leaves)))
            }
            Self::Approx {
                binned,
                sorted,
                weights,
                max_bin,
                categories,
            } => {
                // Point weights: the hessian (sample weight included) of the rows this tree
                // sees; rows left out by subsampling weigh nothing.
                let hess: Vec<f64> = gpair
                    .iter()
                    .zip(active)
                    .map(|(&(_, h), &a)| if a { f64::from(h.max(0.0)) } else { 0.0 })
                    .collect();
                if binned.is_none() || *weights != hess {
                    let use_hess = hess.iter().any(|&h| h > 0.0);
                    let w = if use_hess {
                        hess.clone()
                    } else {
                        vec![1.0; hess.len()]
                    };
                    if sorted.is_none() {
                        let built = profile::time(Phase::Setup, || SortedColumns::build(data));
                        *sorted = Some(match built {
                            Ok(columns) => Some(columns),
                            Err(BoostError::OutOfMemory(_)) => None,
                            Err(e) => return Err(e),
                        });
                    }
                    let sorted = sorted.as_ref().and_then(Option::as_ref);
                    *binned = Some(bin_matrix_presorted(
                        data, sorted, &w, *max_bin, categories,
                    )?);
                    *weights = hess;
                }
                let b = binned.as_ref().expect("binned above");
                let grower = HistGrower::new(&b.matrix, &b.cuts, split, shape)
                    .with_layout(&b.layout)
                    .with_constraints(constraints);
                let (tree, leaves) = grower.grow_with_leaves(gpair, active, sampler);
                Ok((tree, Some(leaves)))
            }
        }
    }

    /// Grows the `n_trees` trees of one forest round from one output group's gradient pairs;
    /// `job(t)` gives tree `t`'s active rows and column sampler. `hist` grows the trees in
    /// parallel (each tree's draws come from its own seed, so the forest does not depend on
    /// the thread count); the other methods grow them one after another. `hist` and `approx`
    /// also return each leaf's rows (see [`LeafRows`]); `exact` returns `None`.
    ///
    /// # Errors
    /// [`BoostError`] when `approx` cannot bin the data.
    #[allow(clippy::too_many_arguments)]
    pub fn grow_trees<J>(
        &mut self,
        data: &MatrixView<'_>,
        gpair: &[(f32, f32)],
        n_trees: usize,
        job: J,
        split: &SplitParams,
        shape: TreeShape,
        constraints: &Constraints,
    ) -> Result<Vec<(Tree, Option<LeafRows>)>, BoostError>
    where
        J: Fn(usize) -> (Vec<bool>, ColumnSampler) + Sync,
    {
        if let Self::Hist(b) = self {
            let grower = HistGrower::new(&b.matrix, &b.cuts, split, shape)
                .with_layout(&b.layout)
                .with_constraints(constraints);
            let grow = |t: usize| {
                // A forest round grows many trees; stop once memory has run out.
                sapwood_mem::checkpoint("a tree")?;
                let (active, mut sampler) = job(t);
                let (tree, leaves) = grower.grow_with_leaves(gpair, &active, &mut sampler);
                Ok((tree, Some(leaves)))
            };
            return if n_trees > 1 {
                (0..n_trees).into_par_iter().map(grow).collect()
            } else {
                (0..n_trees).map(grow).collect()
            };
        }
        (0..n_trees)
            .map(|t| {
                sapwood_mem::checkpoint("a tree")?;
                let (active, mut sampler) = job(t);
                let one = TreeJob {
                    gpair,
                    active: &active,
                    split,
                    shape,
                    constraints,
                };
                self.grow_one(data, &one, &mut sampler)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::TreeParams;

    fn data() -> (Vec<f32>, Vec<(f32, f32)>) {
        let n = 300;
        let x: Vec<f32> = (0..n * 2)
            .map(|k| {
                if k % 11 == 0 {
                    f32::NAN
                } else {
                    (k % 37) as f32
                }
            })
            .collect();
        let g = (0..n)
            .map(|r| {
                (
                    if x[r * 2] > 18.0 { -1.0 } else { 1.0 },
                    0.5 + (r % 3) as f32,
                )
            })
            .collect();
        (x, g)
    }

    #[test]
    fn every_method_grows_a_useful_tree() {
        let (x, g) = data();
        let m = MatrixView::DenseF32 {
            data: &x,
            n_rows: 300,
            n_cols: 2,
        };
        let tp = TreeParams::default();
        let split = SplitParams::from_tree_params(&tp, None);
        let shape = TreeShape {
            max_depth: 3,
            max_leaves: 0,
            policy: GrowPolicy::Depthwise,
        };
        for method in [TreeMethod::Exact, TreeMethod::Hist, TreeMethod::Approx] {
            let mut u = Updater::new(method, &m, &vec![1.0; 300], 256).unwrap();
            let mut sampler = ColumnSampler::new(2, &tp, 0);
            let t = u
                .grow_tree(&m, &g, &vec![true; 300], &split, shape, &mut sampler)
                .unwrap();
            assert!(t.n_nodes() >= 3, "{method:?}");
            assert_eq!(t.split_index[0], 0, "{method:?}");
        }
    }

    #[test]
    fn hist_and_exact_agree_when_every_value_has_its_own_bin() {
        // With few distinct values, hist thresholds are the next distinct value and exact's
        // the midpoint: the partitions, and so the leaf values, are the same.
        let (x, g) = data();
        let m = MatrixView::DenseF32 {
            data: &x,
            n_rows: 300,
            n_cols: 2,
        };
        let tp = TreeParams::default();
        let split = SplitParams::from_tree_params(&tp, None);
        let shape = TreeShape {
            max_depth: 4,
            max_leaves: 0,
            policy: GrowPolicy::Depthwise,
        };
        let grow = |method| {
            let mut u = Updater::new(method, &m, &vec![1.0; 300], 256).unwrap();
            let mut sampler = ColumnSampler::new(2, &tp, 0);
            u.grow_tree(&m, &g, &vec![true; 300], &split, shape, &mut sampler)
                .unwrap()
        };
        let (e, h) = (grow(TreeMethod::Exact), grow(TreeMethod::Hist));
        let mut leaves_e: Vec<f32> = (0..e.n_nodes())
            .filter(|&i| e.is_leaf(i) && !e.is_deleted(i))
            .map(|i| e.split_cond[i])
            .collect();
        let mut leaves_h: Vec<f32> = (0..h.n_nodes())
            .filter(|&i| h.is_leaf(i))
            .map(|i| h.split_cond[i])
            .collect();
        leaves_e.sort_by(f32::total_cmp);
        leaves_h.sort_by(f32::total_cmp);
        assert_eq!(leaves_e.len(), leaves_h.len());
        for (a, b) in leaves_e.iter().zip(&leaves_h) {
            assert!((a - b).abs() < 1e-5, "{leaves_e:?} vs {leaves_h:?}");
        }
    }

    #[test]
    fn names_parse() {
        assert_eq!("hist".parse::<TreeMethod>().unwrap(), TreeMethod::Hist);
        assert!("gpu_hist".parse::<TreeMethod>().is_err());
        assert_eq!(
            "lossguide".parse::<GrowPolicy>().unwrap(),
            GrowPolicy::Lossguide
        );
        assert!("breadth".parse::<GrowPolicy>().is_err());
    }
}
