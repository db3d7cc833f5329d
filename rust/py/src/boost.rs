//! Bindings of `sapwood-boost`: the round-by-round trainer and the fitted model.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use numpy::{
    PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use sapwood_boost::forest::FlatForest;
use sapwood_boost::hist::GrowPolicy;
use sapwood_boost::objective::ObjectiveParams;
use sapwood_boost::rank::{PairMethod, RankMetric};
use sapwood_boost::survival::AftDistribution;
use sapwood_boost::train::Start;
use sapwood_boost::updater::TreeMethod;
use sapwood_boost::{
    BoostError, Booster, FeatureImportance, MatrixView, Metric, Objective, TrainConfig, Trainer,
    TreeParams,
};

use crate::error::{SapwoodError, SapwoodResult};
use crate::threads::run_detached;

/// A feature matrix argument: a C-contiguous 2-D float32/float64 array, or a CSR tuple
/// `(indptr int64, indices int32, data float32, n_cols)`.
pub(crate) enum MatrixArg<'py> {
    F32(PyReadonlyArray2<'py, f32>),
    F64(PyReadonlyArray2<'py, f64>),
    Csr(
        PyReadonlyArray1<'py, i64>,
        PyReadonlyArray1<'py, i32>,
        PyReadonlyArray1<'py, f32>,
        usize,
    ),
}

impl<'py> MatrixArg<'py> {
    pub(crate) fn extract(obj: &Bound<'py, PyAny>) -> SapwoodResult<Self> {
        if let Ok(a) = obj.extract::<PyReadonlyArray2<'py, f32>>() {
            return Ok(Self::F32(a));
        }
        if let Ok(a) = obj.extract::<PyReadonlyArray2<'py, f64>>() {
            return Ok(Self::F64(a));
        }
        if let Ok(t) = obj.cast::<PyTuple>() {
            if t.len() == 4 {
                let indptr = t.get_item(0).ok().and_then(|v| v.extract().ok());
                let indices = t.get_item(1).ok().and_then(|v| v.extract().ok());
                let data = t.get_item(2).ok().and_then(|v| v.extract().ok());
                let n_cols = t.get_item(3).ok().and_then(|v| v.extract::<usize>().ok());
                if let (Some(a), Some(b), Some(c), Some(d)) = (indptr, indices, data, n_cols) {
                    return Ok(Self::Csr(a, b, c, d));
                }
            }
        }
        Err(SapwoodError::Type(
            "X must be a 2-D float32 or float64 array, or a CSR tuple \
             (indptr int64, indices int32, data float32, n_cols)"
                .into(),
        ))
    }

    pub(crate) fn view(&self) -> SapwoodResult<MatrixView<'_>> {
        Ok(match self {
            Self::F32(a) => MatrixView::DenseF32 {
                data: a
                    .as_slice()
                    .map_err(|_| SapwoodError::layout("X", "float32"))?,
                n_rows: a.shape()[0],
                n_cols: a.shape()[1],
            },
            Self::F64(a) => MatrixView::DenseF64 {
                data: a
                    .as_slice()
                    .map_err(|_| SapwoodError::layout("X", "float64"))?,
                n_rows: a.shape()[0],
                n_cols: a.shape()[1],
            },
            Self::Csr(p, i, d, n) => MatrixView::Csr {
                indptr: p
                    .as_slice()
                    .map_err(|_| SapwoodError::layout("indptr", "int64"))?,
                indices: i
                    .as_slice()
                    .map_err(|_| SapwoodError::layout("indices", "int32"))?,
                data: d
                    .as_slice()
                    .map_err(|_| SapwoodError::layout("data", "float32"))?,
                n_cols: *n,
            },
        })
    }
}

pub(crate) fn slice<'a>(a: &'a PyReadonlyArray1<'_, f32>, what: &str) -> SapwoodResult<&'a [f32]> {
    a.as_slice()
        .map_err(|_| SapwoodError::layout(what, "float32"))
}

/// Query-group offsets (int64, non-negative) as `usize`.
pub(crate) fn group_offsets(a: &PyReadonlyArray1<'_, i64>) -> SapwoodResult<Vec<usize>> {
    a.as_slice()
        .map_err(|_| SapwoodError::layout("groups", "int64"))?
        .iter()
        .map(|&v| {
            usize::try_from(v).map_err(|_| {
                SapwoodError::Boost(BoostError::InvalidInput(format!(
                    "query group offsets must be non-negative, got {v}"
                )))
            })
        })
        .collect()
}

/// An error unless `what` has one entry per score.
fn per_score(len: usize, n: usize, what: &str) -> SapwoodResult<()> {
    if len == n {
        Ok(())
    } else {
        Err(SapwoodError::Boost(BoostError::InvalidInput(format!(
            "{len} {what} for {n} scores"
        ))))
    }
}

/// The training parameters as the estimators send them: a dict with one item per field, each
/// of the field's type. PyO3 reads the items by name (a missing or ill-typed one is a
/// `TypeError` naming the field); the names of objectives, metrics, split finders and growth
/// policies are parsed by the core, and every range is checked by the core's `validate()` when
/// the trainer is built. Python states and checks each parameter's range once, before this.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub(crate) struct TrainParams {
    learning_rate: f64,
    max_depth: u32,
    max_leaves: u32,
    min_child_weight: f64,
    gamma: f64,
    reg_lambda: f64,
    reg_alpha: f64,
    max_delta_step: f64,
    subsample: f64,
    colsample_bytree: f64,
    colsample_bylevel: f64,
    colsample_bynode: f64,
    max_bin: u32,
    monotone_constraints: Vec<i8>,
    interaction_constraints: Vec<Vec<u32>>,
    feature_weights: Vec<f64>,
    categorical_features: Vec<u32>,
    max_cat_to_onehot: u32,
    max_cat_threshold: u32,
    huber_slope: f32,
    tweedie_variance_power: f32,
    quantile_alpha: Vec<f32>,
    aft_loss_distribution: String,
    aft_loss_distribution_scale: f32,
    // The ranking parameters: only the ranker sends them.
    #[pyo3(default = String::from("topk"))]
    lambdarank_pair_method: String,
    #[pyo3(default)]
    lambdarank_num_pair_per_sample: Option<u32>,
    #[pyo3(default)]
    lambdarank_unbiased: bool,
    #[pyo3(default = 1.0)]
    lambdarank_bias_norm: f64,
    #[pyo3(default = true)]
    lambdarank_normalization: bool,
    #[pyo3(default = true)]
    lambdarank_score_normalization: bool,
    #[pyo3(default = true)]
    ndcg_exp_gain: bool,
    objective: String,
    num_class: usize,
    base_score: Option<f64>,
    scale_pos_weight: f64,
    seed: u64,
    metrics: Vec<String>,
    tree_method: String,
    grow_policy: String,
    num_parallel_tree: usize,
}

impl TrainParams {
    pub(crate) fn into_config(self) -> Result<TrainConfig, BoostError> {
        let tree = TreeParams {
            learning_rate: self.learning_rate,
            max_depth: self.max_depth,
            max_leaves: self.max_leaves,
            min_child_weight: self.min_child_weight,
            gamma: self.gamma,
            reg_lambda: self.reg_lambda,
            reg_alpha: self.reg_alpha,
            max_delta_step: self.max_delta_step,
            subsample: self.subsample,
            colsample_bytree: self.colsample_bytree,
            colsample_bylevel: self.colsample_bylevel,
            colsample_bynode: self.colsample_bynode,
            max_bin: self.max_bin,
            monotone_constraints: self.monotone_constraints,
            interaction_constraints: self.interaction_constraints,
            feature_weights: self.feature_weights,
            categorical_features: self.categorical_features,
            max_cat_to_onehot: self.max_cat_to_onehot,
            max_cat_threshold: self.max_cat_threshold,
        };
        let objective_params = ObjectiveParams {
            huber_slope: self.huber_slope,
            tweedie_variance_power: self.tweedie_variance_power,
            quantile_alpha: self.quantile_alpha,
            aft_loss_distribution: AftDistribution::from_name(&self.aft_loss_distribution)?,
            aft_loss_distribution_scale: self.aft_loss_distribution_scale,
            lambdarank_pair_method: PairMethod::from_name(&self.lambdarank_pair_method)?,
            lambdarank_num_pair_per_sample: self.lambdarank_num_pair_per_sample,
            lambdarank_unbiased: self.lambdarank_unbiased,
            lambdarank_bias_norm: self.lambdarank_bias_norm,
            lambdarank_normalization: self.lambdarank_normalization,
            lambdarank_score_normalization: self.lambdarank_score_normalization,
            ndcg_exp_gain: self.ndcg_exp_gain,
        };
        Ok(TrainConfig {
            tree,
            objective: Objective::from_name(&self.objective)?,
            num_class: self.num_class,
            base_score: self.base_score,
            scale_pos_weight: self.scale_pos_weight,
            seed: self.seed,
            metrics: self
                .metrics
                .iter()
                .map(|m| Metric::from_name_with(m, &objective_params))
                .collect::<Result<_, _>>()?,
            tree_method: self.tree_method.parse::<TreeMethod>()?,
            grow_policy: self.grow_policy.parse::<GrowPolicy>()?,
            num_parallel_tree: self.num_parallel_tree,
            objective_params,
        })
    }
}

/// Trains a boosted ensemble one round at a time (the estimators drive it).
#[pyclass(frozen, module = "sapwood._native")]
pub struct BoostTrainer {
    inner: Mutex<Trainer>,
    n_jobs: Option<i64>,
    /// The training matrix and the evaluation matrices: kept alive here and passed to the
    /// engine as views each round, never copied.
    x: Py<PyAny>,
    eval_x: Vec<Py<PyAny>>,
}

#[pymethods]
impl BoostTrainer {
    /// A trainer over ``x``; ``start_model`` continues that model (its trees kept, its rounds
    /// counted on), ``base_margin`` and ``eval_base_margins`` (float32, ``n_rows * n_groups``,
    /// ``None`` for none) replace the intercept as the rows' starting margins. ``groups`` and
    /// ``eval_groups`` (int64 offsets, ``groups[q]:groups[q + 1]`` the rows of query ``q``)
    /// give the query groups of ranking; without them each set is one query.
    #[new]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (x, y, sample_weight, params, evals, n_jobs=None, start_model=None, base_margin=None, eval_base_margins=None, groups=None, eval_groups=None))]
    fn new<'py>(
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: PyReadonlyArray1<'py, f32>,
        sample_weight: PyReadonlyArray1<'py, f32>,
        params: TrainParams,
        evals: Vec<(
            Bound<'py, PyAny>,
            PyReadonlyArray1<'py, f32>,
            PyReadonlyArray1<'py, f32>,
        )>,
        n_jobs: Option<i64>,
        start_model: Option<PyRef<'py, BoostModel>>,
        base_margin: Option<PyReadonlyArray1<'py, f32>>,
        eval_base_margins: Option<Vec<Option<PyReadonlyArray1<'py, f32>>>>,
        groups: Option<PyReadonlyArray1<'py, i64>>,
        eval_groups: Option<Vec<PyReadonlyArray1<'py, i64>>>,
    ) -> PyResult<Self> {
        let config = params.into_config().map_err(SapwoodError::from)?;
        let eval_base_margins = eval_base_margins.unwrap_or_default();
        let start = Start {
            model: start_model.map(|m| (*m.inner).clone()),
            margin: base_margin
                .as_ref()
                .map(|b| slice(b, "base_margin"))
                .transpose()?,
            eval_margins: eval_base_margins
                .iter()
                .map(|b| b.as_ref().map(|b| slice(b, "eval base_margin")).transpose())
                .collect::<SapwoodResult<_>>()?,
        };
        let xa = MatrixArg::extract(x)?;
        let xv = xa.view()?;
        let ys = slice(&y, "y")?;
        let ws = slice(&sample_weight, "sample_weight")?;
        let eval_args: Vec<MatrixArg<'py>> = evals
            .iter()
            .map(|(e, _, _)| MatrixArg::extract(e))
            .collect::<SapwoodResult<_>>()?;
        let mut eval_views = Vec::with_capacity(evals.len());
        for (a, (_, ey, ew)) in eval_args.iter().zip(&evals) {
            eval_views.push((
                a.view()?,
                slice(ey, "eval y")?,
                slice(ew, "eval sample_weight")?,
            ));
        }
        let groups = groups.as_ref().map(group_offsets).transpose()?;
        let eval_groups = eval_groups
            .as_ref()
            .map(|v| {
                v.iter()
                    .map(group_offsets)
                    .collect::<SapwoodResult<Vec<_>>>()
            })
            .transpose()?;
        let trainer = run_detached(py, n_jobs, || {
            let mut t = Trainer::with_start(config, &xv, ys, ws, &eval_views, start)?;
            if groups.is_some() || eval_groups.is_some() {
                let train = groups.unwrap_or_else(|| vec![0, ys.len()]);
                let evals = eval_groups.unwrap_or_else(|| {
                    eval_views
                        .iter()
                        .map(|(v, _, _)| vec![0, v.n_rows()])
                        .collect()
                });
                t.set_query_groups(train, evals)?;
            }
            Ok::<_, BoostError>(t)
        })?
        .map_err(SapwoodError::from)?;
        Ok(Self {
            inner: Mutex::new(trainer),
            n_jobs,
            x: x.clone().unbind(),
            eval_x: evals.iter().map(|(e, _, _)| e.clone().unbind()).collect(),
        })
    }

    /// Runs one round; returns the metric values per evaluation set. ``grad`` and ``hess``
    /// (``n_rows * n_groups`` float32, row-major) replace the objective's gradients.
    #[pyo3(signature = (grad=None, hess=None))]
    fn boost_round(
        &self,
        py: Python<'_>,
        grad: Option<PyReadonlyArray1<'_, f32>>,
        hess: Option<PyReadonlyArray1<'_, f32>>,
    ) -> PyResult<Vec<Vec<f64>>> {
        let custom: Option<Vec<(f32, f32)>> = match (&grad, &hess) {
            (Some(g), Some(h)) => {
                let (g, h) = (slice(g, "grad")?, slice(h, "hess")?);
                if g.len() != h.len() {
                    return Err(SapwoodError::Boost(BoostError::InvalidInput(
                        "grad and hess have different lengths".into(),
                    ))
                    .into());
                }
                Some(g.iter().copied().zip(h.iter().copied()).collect())
            }
            (None, None) => None,
            _ => {
                return Err(SapwoodError::Type("give both grad and hess, or neither".into()).into())
            }
        };
        let x_arg = MatrixArg::extract(self.x.bind(py))?;
        let x_view = x_arg.view()?;
        let eval_args: Vec<MatrixArg<'_>> = self
            .eval_x
            .iter()
            .map(|e| MatrixArg::extract(e.bind(py)))
            .collect::<SapwoodResult<_>>()?;
        let eval_views: Vec<MatrixView<'_>> = eval_args
            .iter()
            .map(MatrixArg::view)
            .collect::<SapwoodResult<_>>()?;
        let inner = &self.inner;
        let out = run_detached(py, self.n_jobs, || {
            let mut t = inner.lock().unwrap_or_else(PoisonError::into_inner);
            t.boost_round(&x_view, &eval_views, custom.as_deref())
        })?
        .map_err(SapwoodError::from)?;
        Ok(out)
    }

    /// Sets the learning rate of the rounds still to come (a learning-rate schedule).
    fn set_learning_rate(&self, learning_rate: f64) -> SapwoodResult<()> {
        let mut t = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(t.set_learning_rate(learning_rate)?)
    }

    /// The training margins so far, shape ``(n_rows, n_groups)``.
    fn margin<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let t = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let k = t.model().n_groups();
        let m = t.margin().to_vec();
        let n = m.len() / k;
        PyArray1::from_vec(py, m).reshape([n, k])
    }

    /// A snapshot of the model so far.
    fn model(&self) -> BoostModel {
        let t = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        BoostModel::new(t.model().clone())
    }
}

/// A fitted boosted ensemble (immutable).
#[pyclass(frozen, module = "sapwood._native")]
pub struct BoostModel {
    pub(crate) inner: Arc<Booster>,
    /// The trees of the last iteration range predicted with, packed: packing costs about as
    /// much as predicting a few rows, so repeated small predictions keep it.
    packed: Mutex<Option<(usize, usize, Arc<FlatForest>)>>,
}

impl BoostModel {
    pub(crate) fn new(booster: Booster) -> Self {
        Self {
            inner: Arc::new(booster),
            packed: Mutex::new(None),
        }
    }

    /// The trees of iterations `[begin, end)` packed for prediction, from the cache when the
    /// last call used the same range (the model itself never changes).
    fn packed(&self, begin: usize, end: usize) -> Result<Arc<FlatForest>, BoostError> {
        let mut cache = self.packed.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((b, e, forest)) = cache.as_ref() {
            if (*b, *e) == (begin, end) {
                return Ok(Arc::clone(forest));
            }
        }
        let forest = Arc::new(self.inner.pack(begin, end)?);
        *cache = Some((begin, end, Arc::clone(&forest)));
        Ok(forest)
    }
}

fn end_of(end: Option<usize>) -> usize {
    end.unwrap_or(0)
}

#[pymethods]
impl BoostModel {
    /// Largest ``num_feature`` a model file may declare.
    #[classattr]
    const MAX_NUM_FEATURE: usize = sapwood_boost::model::MAX_NUM_FEATURE;
    /// Largest ``num_class`` a model file may declare.
    #[classattr]
    const MAX_NUM_CLASS: usize = sapwood_boost::model::MAX_NUM_CLASS;
    /// Largest ``num_parallel_tree`` a model file may declare.
    #[classattr]
    const MAX_NUM_PARALLEL_TREE: usize = sapwood_boost::model::MAX_NUM_PARALLEL_TREE;

    /// Reads sapwood's model JSON; raises ``ValueError`` for anything malformed.
    #[staticmethod]
    fn from_json(text: &str) -> SapwoodResult<Self> {
        Ok(Self::new(Booster::from_json(text)?))
    }

    /// sapwood's model JSON.
    fn to_json(&self) -> SapwoodResult<String> {
        Ok(self.inner.to_json()?)
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        let ctor = slf.get_type().getattr("from_json")?;
        let text = slf.get().inner.to_json().map_err(SapwoodError::from)?;
        Ok((ctor, (text,)))
    }

    /// Raw margins, shape ``(n_rows, n_groups)``, from iterations ``[begin, end)``, starting
    /// from ``base_margin`` (float32, ``n_rows * n_groups``) instead of the intercept when given.
    #[pyo3(signature = (x, begin=0, end=None, n_jobs=None, base_margin=None))]
    fn predict_margin<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        begin: usize,
        end: Option<usize>,
        n_jobs: Option<i64>,
        base_margin: Option<PyReadonlyArray1<'py, f32>>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        self.predict_impl(py, x, begin, end, n_jobs, false, base_margin.as_ref())
    }

    /// Transformed predictions (probabilities for classification), shape ``(n_rows, n_groups)``;
    /// ``base_margin`` as in :meth:`predict_margin`.
    #[pyo3(signature = (x, begin=0, end=None, n_jobs=None, base_margin=None))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        begin: usize,
        end: Option<usize>,
        n_jobs: Option<i64>,
        base_margin: Option<PyReadonlyArray1<'py, f32>>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        self.predict_impl(py, x, begin, end, n_jobs, true, base_margin.as_ref())
    }

    /// Leaf index of every row in every tree, shape ``(n_rows, n_trees)``.
    #[pyo3(signature = (x, begin=0, end=None, n_jobs=None))]
    fn predict_leaf<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        begin: usize,
        end: Option<usize>,
        n_jobs: Option<i64>,
    ) -> PyResult<Bound<'py, PyArray2<i32>>> {
        let arg = MatrixArg::extract(x)?;
        let view = arg.view()?;
        let model = &self.inner;
        let n = view.n_rows();
        let out = run_detached(py, n_jobs, || model.predict_leaf(&view, begin, end_of(end)))?
            .map_err(SapwoodError::from)?;
        let nt = out.len().checked_div(n).unwrap_or(0);
        PyArray1::from_vec(py, out).reshape([n, nt])
    }

    /// Feature contributions, shape ``(n_rows, n_groups, num_feature + 1)``: TreeSHAP values
    /// (Saabas's attributions with ``approximate``), the last column the bias; each row and
    /// group adds up to the raw margin. With ``interactions``, SHAP interaction values of
    /// shape ``(n_rows, n_groups, num_feature + 1, num_feature + 1)``, each matrix adding up
    /// to the raw margin and each of its rows to that feature's contribution.
    #[pyo3(signature = (x, begin=0, end=None, approximate=false, interactions=false, n_jobs=None))]
    #[expect(clippy::too_many_arguments, reason = "the Python signature is the API")]
    fn predict_contributions<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        begin: usize,
        end: Option<usize>,
        approximate: bool,
        interactions: bool,
        n_jobs: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let arg = MatrixArg::extract(x)?;
        let view = arg.view()?;
        let model = &self.inner;
        let width = model.num_feature + 1;
        let mut shape = vec![view.n_rows(), model.n_groups(), width];
        let out = run_detached(py, n_jobs, || {
            if interactions {
                model.predict_interactions(&view, begin, end_of(end), approximate)
            } else {
                model.predict_contributions(&view, begin, end_of(end), approximate)
            }
        })?
        .map_err(SapwoodError::from)?;
        if interactions {
            shape.push(width);
        }
        Ok(PyArray1::from_vec(py, out).reshape(shape)?.into_any())
    }

    /// ``(features, weight, total_gain, total_cover)`` of the features used in at least one
    /// split, by ascending feature: sparse, since a model may declare far more features than
    /// it splits on.
    #[allow(clippy::type_complexity, clippy::cast_possible_wrap)]
    fn importance<'py>(
        &self,
        py: Python<'py>,
    ) -> (
        Bound<'py, PyArray1<i64>>,
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray1<f64>>,
    ) {
        let used = self.inner.importance();
        let column = |f: fn(&FeatureImportance) -> f64| used.iter().map(f).collect::<Vec<_>>();
        (
            PyArray1::from_vec(py, used.iter().map(|f| f.feature as i64).collect()),
            PyArray1::from_vec(py, column(|f| f.weight)),
            PyArray1::from_vec(py, column(|f| f.gain)),
            PyArray1::from_vec(py, column(|f| f.cover)),
        )
    }

    /// A copy with the given string attributes set.
    fn with_attributes(&self, attributes: BTreeMap<String, String>) -> Self {
        let mut m = (*self.inner).clone();
        m.attributes.extend(attributes);
        Self::new(m)
    }

    /// A copy holding only iterations ``[0, end)``.
    fn truncated(&self, end: usize) -> Self {
        let mut m = (*self.inner).clone();
        let k = m.trees_per_iteration();
        let keep = (end * k).min(m.trees.len());
        m.trees.truncate(keep);
        m.tree_info.truncate(keep);
        Self::new(m)
    }

    #[getter]
    fn attributes(&self) -> BTreeMap<String, String> {
        self.inner.attributes.clone()
    }
    #[getter]
    fn num_feature(&self) -> usize {
        self.inner.num_feature
    }
    #[getter]
    fn categorical_features(&self) -> Vec<u32> {
        self.inner.categorical_features.clone()
    }
    #[getter]
    fn num_class(&self) -> usize {
        self.inner.num_class
    }
    #[getter]
    fn n_groups(&self) -> usize {
        self.inner.n_groups()
    }
    #[getter]
    fn n_iterations(&self) -> usize {
        self.inner.n_iterations()
    }
    #[getter]
    fn num_parallel_tree(&self) -> usize {
        self.inner.num_parallel_tree
    }
    #[getter]
    fn n_trees(&self) -> usize {
        self.inner.trees.len()
    }
    #[getter]
    fn objective(&self) -> &'static str {
        self.inner.objective.name()
    }
    #[getter]
    fn base_score(&self) -> Vec<f32> {
        self.inner.base_score.clone()
    }
    #[getter]
    fn base_margin(&self) -> Vec<f32> {
        self.inner.base_margin()
    }
}

impl BoostModel {
    #[allow(clippy::too_many_arguments)]
    fn predict_impl<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        begin: usize,
        end: Option<usize>,
        n_jobs: Option<i64>,
        transform: bool,
        base_margin: Option<&PyReadonlyArray1<'py, f32>>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let arg = MatrixArg::extract(x)?;
        let view = arg.view()?;
        let model = &self.inner;
        let end = end_of(end);
        let start = base_margin.map(|b| slice(b, "base_margin")).transpose()?;
        let out = run_detached(py, n_jobs, || {
            let forest = self.packed(begin, end)?;
            let mut out = model.predict_margin_packed_from(&view, &forest, begin, end, start)?;
            if transform {
                model.transform(&mut out);
            }
            Ok::<_, BoostError>(out)
        })?
        .map_err(SapwoodError::from)?;
        let k = model.n_groups();
        let n = out.len() / k;
        PyArray1::from_vec(py, out).reshape([n, k])
    }
}

/// A ranking metric (``ndcg``, ``map`` or ``pre``, with ``@k`` and ``-``) of ``scores``
/// against relevance ``labels`` over the query groups ``groups`` (int64 offsets), averaged
/// over queries weighted by ``weights`` (each row's query weight; ``None``: 1).
#[pyfunction]
#[pyo3(signature = (metric, scores, labels, groups, weights=None, ndcg_exp_gain=true))]
pub fn rank_metric<'py>(
    py: Python<'py>,
    metric: &str,
    scores: PyReadonlyArray1<'py, f32>,
    labels: PyReadonlyArray1<'py, f32>,
    groups: PyReadonlyArray1<'py, i64>,
    weights: Option<PyReadonlyArray1<'py, f32>>,
    ndcg_exp_gain: bool,
) -> PyResult<f64> {
    let m = RankMetric::parse(metric, ndcg_exp_gain)
        .map_err(SapwoodError::from)?
        .ok_or_else(|| {
            SapwoodError::Boost(BoostError::UnknownName(format!(
                "{metric:?} is not a ranking metric; expected ndcg, map or pre (with @k, -)"
            )))
        })?;
    let s = slice(&scores, "scores")?;
    let y = slice(&labels, "labels")?;
    per_score(y.len(), s.len(), "labels")?;
    let offsets = group_offsets(&groups)?;
    let ones;
    let w = match &weights {
        Some(w) => slice(w, "weights")?,
        None => {
            ones = vec![1.0_f32; s.len()];
            &ones
        }
    };
    per_score(w.len(), s.len(), "weights")?;
    Ok(py
        .detach(|| m.evaluate(s, y, w, &offsets))
        .map_err(SapwoodError::from)?)
}
