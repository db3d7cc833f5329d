//! Bindings of `sapwood-boruta`: the statistics, and the decision state that a Python loop over
//! any scikit-learn estimator drives one fit at a time.

use std::sync::Mutex;

use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use sapwood_boost::Objective;
use sapwood_boruta::selection::test_decisions;
use sapwood_boruta::{
    run_selection, stats, BorutaError, BorutaParams, BorutaState, Decision, ForestImportance,
    TrainingSet, TreeBudget,
};

use crate::error::{SapwoodError, SapwoodResult};
use crate::threads::run_detached;

fn decision_from_code(code: i8) -> SapwoodResult<Decision> {
    match code {
        1 => Ok(Decision::Confirmed),
        0 => Ok(Decision::Tentative),
        -1 => Ok(Decision::Rejected),
        other => Err(BorutaError::InvalidInput(format!(
            "decision codes are 1 (confirmed), 0 (tentative) or -1 (rejected), got {other}"
        ))
        .into()),
    }
}

fn codes(decisions: &[Decision]) -> Vec<i8> {
    decisions.iter().map(|d| d.code()).collect()
}

fn to_vec(array: &PyReadonlyArray1<'_, f64>) -> Vec<f64> {
    array.as_array().iter().copied().collect()
}

fn matrix<'py, T: numpy::Element + Copy>(
    py: Python<'py>,
    rows: &[Vec<T>],
    width: usize,
) -> SapwoodResult<Bound<'py, PyArray2<T>>> {
    if rows.is_empty() {
        return Ok(PyArray2::zeros(py, [0, width], false));
    }
    PyArray2::from_vec2(py, rows).map_err(|e| SapwoodError::Type(e.to_string()))
}

/// binomial_sf(h, n, p=0.5)
/// --
///
/// ``P(X >= h)`` for ``X ~ Binomial(n, p)`` (scipy's ``binom.sf(h - 1, n, p)``), exact for any n.
#[pyfunction]
#[pyo3(signature = (h, n, p=0.5))]
pub fn binomial_sf(h: u64, n: u64, p: f64) -> SapwoodResult<f64> {
    Ok(stats::binomial_sf_at_least(h, n, p)?)
}

/// binomial_cdf(h, n, p=0.5)
/// --
///
/// ``P(X <= h)`` for ``X ~ Binomial(n, p)`` (scipy's ``binom.cdf(h, n, p)``), exact for any n.
#[pyfunction]
#[pyo3(signature = (h, n, p=0.5))]
pub fn binomial_cdf(h: u64, n: u64, p: f64) -> SapwoodResult<f64> {
    Ok(stats::binomial_cdf(h, n, p)?)
}

/// benjamini_hochberg(p_values, alpha)
/// --
///
/// Step-up Benjamini–Hochberg: which hypotheses are rejected at false-discovery rate ``alpha``.
#[pyfunction]
pub fn benjamini_hochberg<'py>(
    py: Python<'py>,
    p_values: PyReadonlyArray1<'py, f64>,
    alpha: f64,
) -> SapwoodResult<Bound<'py, PyArray1<bool>>> {
    Ok(stats::benjamini_hochberg(&to_vec(&p_values), alpha)?.into_pyarray(py))
}

/// boruta_tests(decisions, hits, iteration, alpha, two_step)
/// --
///
/// BorutaPy's tests: new decision codes (1, 0, -1) from hit counts after ``iteration`` fits.
#[pyfunction]
pub fn boruta_tests<'py>(
    py: Python<'py>,
    decisions: Vec<i8>,
    hits: Vec<u64>,
    iteration: u64,
    alpha: f64,
    two_step: bool,
) -> SapwoodResult<Bound<'py, PyArray1<i8>>> {
    let decisions = decisions
        .into_iter()
        .map(decision_from_code)
        .collect::<SapwoodResult<Vec<_>>>()?;
    let out = test_decisions(&decisions, &hits, iteration, alpha, two_step)?;
    Ok(codes(&out).into_pyarray(py))
}

/// auto_tree_count(n_active_features, max_depth=None)
/// --
///
/// BorutaPy's ``n_estimators="auto"``: ``floor(100 * sqrt(2 n) / depth)``, depth 10 when unlimited.
#[pyfunction]
#[pyo3(signature = (n_active_features, max_depth=None))]
pub fn auto_tree_count(n_active_features: usize, max_depth: Option<u32>) -> usize {
    stats::auto_tree_count(n_active_features, max_depth)
}

/// The running state of one Boruta selection (hits, decisions, histories).
#[pyclass(module = "sapwood._native", name = "BorutaState", frozen)]
pub struct PyBorutaState {
    inner: Mutex<BorutaState>,
}

impl PyBorutaState {
    fn with<T>(&self, f: impl FnOnce(&mut BorutaState) -> T) -> T {
        let mut guard = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }
}

#[pymethods]
impl PyBorutaState {
    #[new]
    #[pyo3(signature = (n_features, perc=100.0, alpha=0.05, two_step=true, max_iter=100, early_stopping=false, n_iter_no_change=20))]
    fn new(
        n_features: usize,
        perc: f64,
        alpha: f64,
        two_step: bool,
        max_iter: usize,
        early_stopping: bool,
        n_iter_no_change: usize,
    ) -> SapwoodResult<Self> {
        let params = BorutaParams {
            perc,
            alpha,
            two_step,
            max_iter,
            early_stopping,
            n_iter_no_change,
        };
        Ok(Self {
            inner: Mutex::new(BorutaState::new(n_features, params)?),
        })
    }

    /// Indices of the features not rejected (those that take part in the next fit).
    fn active<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<usize>> {
        self.with(|s| s.active()).into_pyarray(py)
    }

    /// Records one fit; returns ``(threshold, finished)``.
    fn record(
        &self,
        active_importances: PyReadonlyArray1<'_, f64>,
        shadow_importances: PyReadonlyArray1<'_, f64>,
    ) -> SapwoodResult<(f64, bool)> {
        let active = to_vec(&active_importances);
        let shadow = to_vec(&shadow_importances);
        let out = self.with(|s| s.record(&active, &shadow))?;
        Ok((out.threshold, out.finished))
    }

    /// Whether the selection is over.
    #[getter]
    fn finished(&self) -> bool {
        self.with(|s| s.is_finished())
    }

    /// Whether early stopping ended the selection.
    #[getter]
    fn stopped_early(&self) -> bool {
        self.with(|s| s.stopped_early())
    }

    /// Fits recorded so far.
    #[getter]
    fn iterations(&self) -> usize {
        self.with(|s| s.iterations())
    }

    /// Decision codes: 1 confirmed, 0 tentative, -1 rejected.
    fn decisions<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i8>> {
        self.with(|s| codes(s.decisions())).into_pyarray(py)
    }

    /// Hit counts so far.
    fn hits<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u64>> {
        self.with(|s| s.hits().to_vec()).into_pyarray(py)
    }

    /// Importances per fit, shape (fits, features), NaN once rejected.
    fn importance_history<'py>(&self, py: Python<'py>) -> SapwoodResult<Bound<'py, PyArray2<f64>>> {
        let (rows, width) = self.with(|s| (s.importance_history().to_vec(), s.decisions().len()));
        matrix(py, &rows, width)
    }

    /// (min, mean, max) of the shadow importances per fit, shape (fits, 3).
    fn shadow_history<'py>(&self, py: Python<'py>) -> SapwoodResult<Bound<'py, PyArray2<f64>>> {
        let rows: Vec<Vec<f64>> =
            self.with(|s| s.shadow_history().iter().map(|r| r.to_vec()).collect());
        matrix(py, &rows, 3)
    }

    /// Decision codes after each fit, shape (fits, features).
    fn decision_history<'py>(&self, py: Python<'py>) -> SapwoodResult<Bound<'py, PyArray2<i8>>> {
        let (rows, width) = self.with(|s| {
            let rows: Vec<Vec<i8>> = s.decision_history().iter().map(|d| codes(d)).collect();
            (rows, s.decisions().len())
        });
        matrix(py, &rows, width)
    }

    /// The rough fix and the ranking: a dict with ``support``, ``support_weak``, ``ranking``.
    fn finish<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let result = self.with(|s| s.finish());
        let out = PyDict::new(py);
        out.set_item("support", result.support.into_pyarray(py))?;
        out.set_item("support_weak", result.support_weak.into_pyarray(py))?;
        out.set_item("ranking", result.ranking.into_pyarray(py))?;
        Ok(out)
    }

    /// R's TentativeRoughFix: decision codes with every tentative feature decided.
    fn rough_fixed_decisions<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i8>> {
        self.with(|s| codes(&s.rough_fixed_decisions()))
            .into_pyarray(py)
    }
}

/// Calls `progress(iteration, max_iter, confirmed, tentative, rejected)` after a fit, taking
/// the GIL only for the call. Progress is best effort: an error raised by it is reported as
/// unraisable and the selection goes on.
fn report_progress(progress: &Py<PyAny>, s: &BorutaState) {
    let count = |d| s.decisions().iter().filter(|&&x| x == d).count();
    let args = (
        s.iterations(),
        s.params().max_iter,
        count(Decision::Confirmed),
        count(Decision::Tentative),
        count(Decision::Rejected),
    );
    Python::attach(|py| {
        if let Err(err) = progress.call1(py, args) {
            err.write_unraisable(py, Some(progress.bind(py)));
        }
    });
}

/// What a selection over sapwood's forest needs besides the data, as `BorutaSelector` passes
/// it: one dict whose keys are these field names.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct ForestBorutaParams {
    /// `binary:logistic`, `multi:softprob` or `reg:squarederror`.
    objective: String,
    /// Number of classes for `multi:softprob`, else 0.
    num_class: usize,
    /// Trees per fit; `None` is BorutaPy's `"auto"`.
    n_estimators: Option<usize>,
    /// Depth of every tree.
    max_depth: u32,
    /// Fraction of rows drawn for each tree.
    subsample: f64,
    /// The tests, as [`BorutaParams`].
    perc: f64,
    alpha: f64,
    two_step: bool,
    max_iter: usize,
    early_stopping: bool,
    n_iter_no_change: usize,
    /// Seed of the shadows and of every fit.
    seed: u64,
    /// `"gain"` or `"shap"`: how the forest scores the features.
    importance: String,
}

impl ForestBorutaParams {
    fn tests(&self) -> BorutaParams {
        BorutaParams {
            perc: self.perc,
            alpha: self.alpha,
            two_step: self.two_step,
            max_iter: self.max_iter,
            early_stopping: self.early_stopping,
            n_iter_no_change: self.n_iter_no_change,
        }
    }

    fn budget(&self) -> TreeBudget {
        self.n_estimators.map_or(
            TreeBudget::Auto {
                max_depth: Some(self.max_depth),
            },
            TreeBudget::Fixed,
        )
    }
}

/// boruta_forest_select(x, y, sample_weight, params, progress=None, n_jobs=None)
/// --
///
/// Runs the whole Boruta loop in Rust with sapwood's random forest as the importance source
/// (shadows, forest fits, importances, tests), the GIL released. ``params`` is a dict of the
/// forest's and the tests' settings and the seed (the stub's ``_ForestBorutaParams``);
/// ``n_estimators=None`` there is BorutaPy's ``"auto"``. ``progress``, when given, is called
/// after every fit as ``progress(iteration, max_iter, confirmed, tentative, rejected)``.
/// Returns the final ``BorutaState``.
#[pyfunction]
#[pyo3(signature = (x, y, sample_weight, params, progress=None, n_jobs=None))]
pub fn boruta_forest_select(
    py: Python<'_>,
    x: PyReadonlyArray2<'_, f32>,
    y: PyReadonlyArray1<'_, f32>,
    sample_weight: PyReadonlyArray1<'_, f32>,
    params: ForestBorutaParams,
    progress: Option<Py<PyAny>>,
    n_jobs: Option<i64>,
) -> PyResult<PyBorutaState> {
    let objective = Objective::from_name(&params.objective).map_err(SapwoodError::from)?;
    let (n_rows, n_cols) = x.as_array().dim();
    let xs = x
        .as_slice()
        .map_err(|_| SapwoodError::layout("X", "float32"))?;
    let ys = y
        .as_slice()
        .map_err(|_| SapwoodError::layout("y", "float32"))?;
    let data = TrainingSet {
        x: xs,
        n_rows,
        n_cols,
        y: ys,
    };
    let mut source =
        ForestImportance {
            objective,
            num_class: params.num_class,
            max_depth: params.max_depth,
            subsample: params.subsample,
            weights: sample_weight.as_array().to_vec(),
            shap: match params.importance.as_str() {
                "gain" => false,
                "shap" => true,
                other => {
                    return Err(SapwoodError::Boost(sapwood_boost::BoostError::InvalidInput(
                        format!("importance must be 'gain' or 'shap', got {other:?}"),
                    ))
                    .into())
                }
            },
        };
    let state = run_detached(py, n_jobs, || {
        run_selection(
            data,
            params.tests(),
            params.budget(),
            params.seed,
            &mut source,
            |s: &BorutaState| {
                if let Some(progress) = &progress {
                    report_progress(progress, s);
                }
            },
        )
    })?
    .map_err(SapwoodError::from)?;
    Ok(PyBorutaState {
        inner: Mutex::new(state),
    })
}
