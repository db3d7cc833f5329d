//! Bindings of the distributed fit (`sapwood_boost::train::dist`): what the tasks of
//! `sapwood.dask` call on each partition. Every object that crosses between tasks is either a
//! NumPy array, a string, or one of these classes; [`DistCuts`] and [`DistConfig`] pickle,
//! [`DistPart`] and [`DistTree`] stay where they were made (they report their size, so that
//! the scheduler moves their small inputs to them rather than the other way round).

use std::sync::{Arc, Mutex, PoisonError};

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use sapwood_boost::hist::{BinnedMatrix, HistLayout, QuantileCuts};
use sapwood_boost::train::dist::{self, Sketch};
use sapwood_boost::{BoostError, MatrixView, Tree};

use crate::boost::{group_offsets, slice, BoostModel, MatrixArg, TrainParams};
use crate::error::{SapwoodError, SapwoodResult};
use crate::threads::run_detached;

type SketchArrays<'py> = (
    Bound<'py, PyArray1<f32>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<u64>>,
    Bound<'py, PyArray1<bool>>,
);

/// One partition's sketch of its columns: ``(values, weights, counts per feature, missing per
/// feature)``.
#[pyfunction]
#[pyo3(signature = (x, sample_weight, size, n_jobs=None))]
pub fn dist_sketch<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    sample_weight: PyReadonlyArray1<'py, f32>,
    size: usize,
    n_jobs: Option<i64>,
) -> PyResult<SketchArrays<'py>> {
    let xa = MatrixArg::extract(x)?;
    let xv = xa.view()?;
    let w = slice(&sample_weight, "sample_weight")?;
    let s = run_detached(py, n_jobs, || dist::sketch(&xv, w, size))?.map_err(SapwoodError::from)?;
    let mut values = Vec::new();
    let mut weights = Vec::new();
    let mut counts = Vec::with_capacity(s.features.len());
    for f in &s.features {
        counts.push(f.len() as u64);
        for &(v, w) in f {
            values.push(v);
            weights.push(w);
        }
    }
    Ok((
        PyArray1::from_vec(py, values),
        PyArray1::from_vec(py, weights),
        PyArray1::from_vec(py, counts),
        PyArray1::from_vec(py, s.missing),
    ))
}

type SketchArg<'py> = (
    PyReadonlyArray1<'py, f32>,
    PyReadonlyArray1<'py, f64>,
    PyReadonlyArray1<'py, u64>,
    PyReadonlyArray1<'py, bool>,
);

fn sketch_of(arg: &SketchArg<'_>) -> SapwoodResult<Sketch> {
    let (v, w, c, m) = arg;
    let (v, w, c) = (
        v.as_slice()
            .map_err(|_| SapwoodError::layout("sketch", "float32"))?,
        w.as_slice()
            .map_err(|_| SapwoodError::layout("sketch", "float64"))?,
        c.as_slice()
            .map_err(|_| SapwoodError::layout("sketch", "uint64"))?,
    );
    let m = m
        .as_slice()
        .map_err(|_| SapwoodError::layout("sketch", "bool"))?;
    let total: u64 = c.iter().sum();
    if v.len() != w.len() || total != v.len() as u64 || m.len() != c.len() {
        return Err(SapwoodError::Boost(BoostError::InvalidInput(
            "a malformed sketch".into(),
        )));
    }
    let mut at = 0usize;
    let mut features = Vec::with_capacity(c.len());
    for &n in c {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        features.push(
            v[at..at + n]
                .iter()
                .copied()
                .zip(w[at..at + n].iter().copied())
                .collect(),
        );
        at += n;
    }
    Ok(Sketch {
        features,
        missing: m.to_vec(),
    })
}

/// The cuts of a distributed fit, and the histogram layout every partition shares.
#[pyclass(frozen, module = "sapwood._native")]
pub struct DistCuts {
    cuts: Arc<QuantileCuts>,
    /// Per feature, whether a value is missing in any partition.
    missing: Vec<bool>,
}

impl DistCuts {
    fn layout(&self) -> HistLayout {
        dist::shared_layout(&self.cuts, &self.missing)
    }
}

#[pymethods]
impl DistCuts {
    /// Merges every partition's sketch, in partition order, into the cuts of the whole data;
    /// the ``categorical`` features (ascending) get one bin per category.
    #[staticmethod]
    #[pyo3(signature = (sketches, max_bin, categorical=Vec::new()))]
    fn merge(
        sketches: Vec<SketchArg<'_>>,
        max_bin: usize,
        categorical: Vec<u32>,
    ) -> SapwoodResult<Self> {
        let sketches: Vec<Sketch> = sketches
            .iter()
            .map(sketch_of)
            .collect::<SapwoodResult<_>>()?;
        let (cuts, missing) = dist::cuts_from_sketches(&sketches, max_bin, &categorical)?;
        Ok(Self {
            cuts: Arc::new(cuts),
            missing,
        })
    }

    /// Cuts from the parts :meth:`__reduce__` gives.
    #[staticmethod]
    #[pyo3(signature = (values, offsets, min_values, missing, categorical=Vec::new()))]
    fn from_parts(
        values: Vec<f32>,
        offsets: Vec<usize>,
        min_values: Vec<f32>,
        missing: Vec<bool>,
        categorical: Vec<bool>,
    ) -> SapwoodResult<Self> {
        let cuts = QuantileCuts::from_parts(values, offsets, min_values)?
            .with_categorical_flags(categorical)?;
        if missing.len() != cuts.n_features() {
            return Err(SapwoodError::Boost(BoostError::InvalidInput(format!(
                "{} missing-value flags for {} features",
                missing.len(),
                cuts.n_features()
            ))));
        }
        Ok(Self {
            cuts: Arc::new(cuts),
            missing,
        })
    }

    #[allow(clippy::type_complexity)]
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(
        Bound<'py, PyAny>,
        (Vec<f32>, Vec<usize>, Vec<f32>, Vec<bool>, Vec<bool>),
    )> {
        let ctor = slf.get_type().getattr("from_parts")?;
        let me = slf.get();
        let (v, o, m) = me.cuts.parts();
        let flags = me.cuts.categorical_flags().to_vec();
        Ok((
            ctor,
            (
                v.to_vec(),
                o.to_vec(),
                m.to_vec(),
                me.missing.clone(),
                flags,
            ),
        ))
    }

    /// Number of features.
    #[getter]
    fn n_features(&self) -> usize {
        self.cuts.n_features()
    }
}

/// One partition's rows, binned by the fit's cuts.
#[pyclass(frozen, module = "sapwood._native")]
pub struct DistPart {
    matrix: Arc<BinnedMatrix>,
}

#[pymethods]
impl DistPart {
    #[new]
    #[pyo3(signature = (x, cuts, n_jobs=None))]
    fn new(
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        cuts: &DistCuts,
        n_jobs: Option<i64>,
    ) -> PyResult<Self> {
        let xa = MatrixArg::extract(x)?;
        let xv = xa.view()?;
        let c = &cuts.cuts;
        let matrix = run_detached(py, n_jobs, || -> Result<BinnedMatrix, BoostError> {
            match xv {
                MatrixView::DenseF32 {
                    data,
                    n_rows,
                    n_cols,
                } => BinnedMatrix::from_dense_as(data, n_rows, n_cols, c, &cuts.missing),
                MatrixView::DenseF64 {
                    data,
                    n_rows,
                    n_cols,
                } => {
                    #[allow(clippy::cast_possible_truncation)]
                    let rounded: Vec<f32> = data.iter().map(|&v| v as f32).collect();
                    BinnedMatrix::from_dense_as(&rounded, n_rows, n_cols, c, &cuts.missing)
                }
                MatrixView::Csr { .. } => Err(BoostError::InvalidInput(
                    "a distributed fit takes dense partitions".into(),
                )),
            }
        })?
        .map_err(SapwoodError::from)?;
        Ok(Self {
            matrix: Arc::new(matrix),
        })
    }

    /// Number of rows.
    #[getter]
    fn n_rows(&self) -> usize {
        self.matrix.n_rows()
    }

    fn __sizeof__(&self) -> usize {
        self.matrix.bytes() + 64
    }
}

/// A distributed fit's settings (the estimator's training parameters, checked).
#[pyclass(frozen, module = "sapwood._native")]
pub struct DistConfig {
    inner: dist::DistConfig,
    params: Py<PyDict>,
}

#[pymethods]
impl DistConfig {
    #[new]
    fn new(params: &Bound<'_, PyDict>) -> PyResult<Self> {
        let p: TrainParams = params.extract()?;
        let config = p.into_config().map_err(SapwoodError::from)?;
        Ok(Self {
            inner: dist::DistConfig::new(config).map_err(SapwoodError::from)?,
            params: params.clone().unbind(),
        })
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (Py<PyDict>,))> {
        let py = slf.py();
        Ok((slf.get_type().into_any(), (slf.get().params.clone_ref(py),)))
    }

    /// The model before any tree, its intercept from every label and weight.
    fn empty_model(
        &self,
        n_features: usize,
        y: PyReadonlyArray1<'_, f32>,
        sample_weight: PyReadonlyArray1<'_, f32>,
    ) -> SapwoodResult<BoostModel> {
        let model = self.inner.empty_model(
            n_features,
            slice(&y, "y")?,
            slice(&sample_weight, "sample_weight")?,
        )?;
        Ok(BoostModel::new(model))
    }

    /// The number of trees a round grows (output groups times parallel trees).
    fn trees_per_round(&self, model: &BoostModel) -> usize {
        self.inner.trees_per_round(&model.inner)
    }

    /// ``approx``: each tree of round ``iteration``'s point weights for its cuts on one
    /// partition of ``n_rows`` rows (float32), in model order.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (model, n_rows, margin, y, sample_weight, iteration, offset, n_total, rank=None))]
    fn tree_weights<'py>(
        &self,
        py: Python<'py>,
        model: &BoostModel,
        n_rows: usize,
        margin: PyReadonlyArray1<'py, f32>,
        y: PyReadonlyArray1<'py, f32>,
        sample_weight: PyReadonlyArray1<'py, f32>,
        iteration: u64,
        offset: usize,
        n_total: usize,
        rank: Option<RankArg<'py>>,
    ) -> PyResult<Vec<Bound<'py, PyArray1<f32>>>> {
        let rank = rank.map(rank_part).transpose()?;
        let weights = self
            .inner
            .tree_weights(
                &model.inner,
                n_rows,
                slice(&margin, "margin")?,
                slice(&y, "y")?,
                slice(&sample_weight, "sample_weight")?,
                iteration,
                offset,
                n_total,
                rank.as_ref(),
            )
            .map_err(SapwoodError::from)?;
        Ok(weights
            .into_iter()
            .map(|w| PyArray1::from_vec(py, w))
            .collect())
    }

    /// Starts the trees of round ``iteration`` on one partition (rows ``offset`` onwards of
    /// ``n_total``); one :class:`DistTree` per output group and parallel tree. ``parts`` and
    /// ``cuts`` hold the binned rows and cuts the trees grow on: one of each for every tree
    /// (``hist``), or one per tree (``approx``).
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (model, parts, cuts, margin, y, sample_weight, iteration, offset, n_total, n_jobs=None, rank=None))]
    fn start_trees(
        &self,
        py: Python<'_>,
        model: &BoostModel,
        parts: Vec<PyRef<'_, DistPart>>,
        cuts: Vec<PyRef<'_, DistCuts>>,
        margin: PyReadonlyArray1<'_, f32>,
        y: PyReadonlyArray1<'_, f32>,
        sample_weight: PyReadonlyArray1<'_, f32>,
        iteration: u64,
        offset: usize,
        n_total: usize,
        n_jobs: Option<i64>,
        rank: Option<RankArg<'_>>,
    ) -> PyResult<Vec<DistTree>> {
        let rank = rank.map(rank_part).transpose()?;
        if parts.len() != cuts.len() {
            return Err(SapwoodError::Boost(BoostError::InvalidInput(format!(
                "{} binned partitions for {} sets of cuts",
                parts.len(),
                cuts.len()
            )))
            .into());
        }
        let bins: Vec<dist::TreeBins> = parts
            .iter()
            .zip(&cuts)
            .map(|(p, c)| dist::TreeBins {
                matrix: Arc::clone(&p.matrix),
                cuts: Arc::clone(&c.cuts),
                layout: c.layout(),
            })
            .collect();
        let (m, ys, ws) = (
            slice(&margin, "margin")?,
            slice(&y, "y")?,
            slice(&sample_weight, "sample_weight")?,
        );
        let trees = run_detached(py, n_jobs, || {
            self.inner.start_trees(
                &model.inner,
                &bins,
                m,
                ys,
                ws,
                iteration,
                offset,
                n_total,
                rank.as_ref(),
            )
        })?
        .map_err(SapwoodError::from)?;
        Ok(trees.into_iter().map(DistTree::wrap).collect())
    }

    /// One partition's training margins (``n_rows * n_groups``) with a round's complete trees
    /// added; the trees' states are used up.
    #[pyo3(signature = (x, margin, trees, n_groups, n_jobs=None))]
    fn update_training_margin<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        margin: PyReadonlyArray1<'py, f32>,
        trees: Vec<PyRef<'py, DistTree>>,
        n_groups: usize,
        n_jobs: Option<i64>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let xa = MatrixArg::extract(x)?;
        let xv = xa.view()?;
        let mut m = slice(&margin, "margin")?.to_vec();
        let states = trees
            .iter()
            .map(|t| t.take())
            .collect::<SapwoodResult<Vec<_>>>()?;
        run_detached(py, n_jobs, || {
            self.inner
                .update_training_margin(&mut m, &xv, states, n_groups)
        })?
        .map_err(SapwoodError::from)?;
        Ok(PyArray1::from_vec(py, m))
    }

    /// The margins of an evaluation partition with trees (their JSON) added.
    #[staticmethod]
    #[pyo3(signature = (x, margin, trees, groups, n_groups, n_jobs=None))]
    fn update_margin<'py>(
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        margin: PyReadonlyArray1<'py, f32>,
        trees: Vec<String>,
        groups: Vec<u32>,
        n_groups: usize,
        n_jobs: Option<i64>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let xa = MatrixArg::extract(x)?;
        let xv = xa.view()?;
        let mut m = slice(&margin, "margin")?.to_vec();
        if m.len() != xv.n_rows() * n_groups || trees.len() != groups.len() {
            return Err(SapwoodError::Boost(BoostError::InvalidInput(
                "the margins or trees disagree with the partition".into(),
            ))
            .into());
        }
        let trees = parse_trees(&trees)?;
        run_detached(py, n_jobs, || {
            dist::DistConfig::update_margin(&mut m, &xv, &trees, &groups, n_groups);
        })?;
        Ok(PyArray1::from_vec(py, m))
    }

    /// The metric values of every evaluation row's margins; ranking metrics score the query
    /// groups ``groups`` (int64 offsets into all of the rows; ``None``: one query).
    #[pyo3(signature = (model, margin, y, sample_weight, groups=None))]
    fn evaluate(
        &self,
        model: &BoostModel,
        margin: PyReadonlyArray1<'_, f32>,
        y: PyReadonlyArray1<'_, f32>,
        sample_weight: PyReadonlyArray1<'_, f32>,
        groups: Option<PyReadonlyArray1<'_, i64>>,
    ) -> SapwoodResult<Vec<f64>> {
        let groups = groups.as_ref().map(group_offsets).transpose()?;
        Ok(self.inner.evaluate(
            &model.inner,
            slice(&margin, "margin")?,
            slice(&y, "y")?,
            slice(&sample_weight, "sample_weight")?,
            groups.as_deref(),
        )?)
    }

    /// ``model`` with trees (their JSON, in model order) and their output groups appended.
    #[staticmethod]
    fn with_trees(
        model: &BoostModel,
        trees: Vec<String>,
        groups: Vec<u32>,
    ) -> SapwoodResult<BoostModel> {
        let mut booster = (*model.inner).clone();
        if trees.len() != groups.len() {
            return Err(SapwoodError::Boost(BoostError::InvalidInput(
                "one output group per tree".into(),
            )));
        }
        booster.trees.extend(parse_trees(&trees)?);
        booster.tree_info.extend(groups);
        booster.validate()?;
        Ok(BoostModel::new(booster))
    }
}

/// A partition's query groups as Python sends them: (local int64 offsets, the global index of
/// its first group, the number of groups in all of the data, the group-weight normalisation).
type RankArg<'py> = (PyReadonlyArray1<'py, i64>, usize, usize, f32);

fn rank_part(arg: RankArg<'_>) -> SapwoodResult<dist::RankPart> {
    let (groups, first_group, total_groups, weight_norm) = arg;
    Ok(dist::RankPart {
        groups: group_offsets(&groups)?,
        first_group,
        total_groups,
        weight_norm,
    })
}

fn parse_trees(trees: &[String]) -> SapwoodResult<Vec<Tree>> {
    trees
        .iter()
        .map(|t| {
            serde_json::from_str::<Tree>(t).map_err(|e| {
                SapwoodError::Boost(BoostError::InvalidInput(format!("a malformed tree: {e}")))
            })
        })
        .collect()
}

/// One partition's side of one growing tree. Each step takes the state over into a new object
/// (an old one cannot step again).
#[pyclass(module = "sapwood._native")]
pub struct DistTree {
    inner: Mutex<Option<dist::DistTree>>,
    nbytes: usize,
}

impl DistTree {
    fn wrap(t: dist::DistTree) -> Self {
        Self {
            nbytes: t.nbytes(),
            inner: Mutex::new(Some(t)),
        }
    }

    fn take(&self) -> SapwoodResult<dist::DistTree> {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(|| {
                SapwoodError::Boost(BoostError::InvalidInput(
                    "this tree state has already been used by a later step".into(),
                ))
            })
    }

    fn with<T>(&self, f: impl FnOnce(&dist::DistTree) -> T) -> SapwoodResult<T> {
        let guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        guard.as_ref().map(f).ok_or_else(|| {
            SapwoodError::Boost(BoostError::InvalidInput(
                "this tree state has already been used by a later step".into(),
            ))
        })
    }
}

#[pymethods]
impl DistTree {
    /// This partition's sums for the current plan (float64).
    fn message<'py>(&self, py: Python<'py>) -> SapwoodResult<Bound<'py, PyArray1<f64>>> {
        let m = self.with(|t| t.message().to_vec())?;
        Ok(PyArray1::from_vec(py, m))
    }

    /// Whether the tree is complete.
    #[getter]
    fn done(&self) -> SapwoodResult<bool> {
        self.with(dist::DistTree::is_done)
    }

    /// One global and one local step from every partition's sums, in partition order; the
    /// state moves to the returned object.
    #[pyo3(signature = (messages, n_jobs=None))]
    fn advance(
        &self,
        py: Python<'_>,
        messages: Vec<PyReadonlyArray1<'_, f64>>,
        n_jobs: Option<i64>,
    ) -> PyResult<DistTree> {
        let slices: Vec<&[f64]> = messages
            .iter()
            .map(|m| {
                m.as_slice()
                    .map_err(|_| SapwoodError::layout("message", "float64"))
            })
            .collect::<SapwoodResult<_>>()?;
        let mut state = self.take()?;
        run_detached(py, n_jobs, || state.advance(&slices))?.map_err(SapwoodError::from)?;
        Ok(Self::wrap(state))
    }

    /// The tree as JSON (complete once :attr:`done`).
    fn tree_json(&self) -> SapwoodResult<String> {
        let tree = self.with(dist::DistTree::tree)?;
        serde_json::to_string(&tree).map_err(|e| {
            SapwoodError::Boost(BoostError::InvalidInput(format!("tree to JSON: {e}")))
        })
    }

    /// The tree's output group.
    #[getter]
    fn group(&self) -> SapwoodResult<u32> {
        self.with(dist::DistTree::group)
    }

    fn __sizeof__(&self) -> usize {
        self.nbytes
    }
}
