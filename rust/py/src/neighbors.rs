//! Bindings of `sapwood-neighbors`: the kd-tree as a frozen Python object.

use std::sync::Arc;

use numpy::{Element, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use sapwood_neighbors::{
    BuildParams, Float, KdTree as Tree, KnnParams, Minkowski, NeighborsError, RadiusOrder, Strategy,
};

use crate::error::{SapwoodError, SapwoodResult};
use crate::threads::run_detached;

enum AnyTree {
    F32(Arc<Tree<f32>>),
    F64(Arc<Tree<f64>>),
}

/// KdTree(data, leafsize=16, balanced=False, compact=True, boxsize=None, n_jobs=None)
/// --
///
/// An immutable kd-tree over the rows of a C-contiguous float32 or float64 2-D array.
/// Distances come back in the tree's dtype, indices as ``intp``. Use ``sapwood.KDTree``.
#[pyclass(frozen, module = "sapwood._native", name = "KdTree")]
pub struct PyKdTree {
    tree: AnyTree,
}

fn rows<'py, F: Element + Copy>(
    x: &Bound<'py, PyAny>,
    what: &str,
) -> PyResult<PyReadonlyArray2<'py, F>> {
    let arr = x.cast::<PyArray2<F>>().map_err(|_| {
        PyErr::from(SapwoodError::Type(format!(
            "{what} must be a 2-D numpy array of {}",
            std::any::type_name::<F>()
        )))
    })?;
    let ro = arr.readonly();
    if !ro.is_c_contiguous() || ro.as_slice().is_err() {
        return Err(SapwoodError::layout(what, std::any::type_name::<F>()).into());
    }
    Ok(ro)
}

fn metric(p: f64) -> SapwoodResult<Minkowski> {
    Ok(Minkowski::new(p)?)
}

fn strategy(name: &str) -> SapwoodResult<Strategy> {
    match name {
        "auto" => Ok(Strategy::Auto),
        "tree" => Ok(Strategy::Tree),
        "brute" => Ok(Strategy::Brute),
        other => Err(SapwoodError::Type(format!(
            "strategy must be 'auto', 'tree' or 'brute', got {other:?}"
        ))),
    }
}

fn order(name: &str) -> SapwoodResult<RadiusOrder> {
    match name {
        "none" => Ok(RadiusOrder::Unsorted),
        "index" => Ok(RadiusOrder::ByIndex),
        "distance" => Ok(RadiusOrder::ByDistance),
        other => Err(SapwoodError::Type(format!(
            "sort must be 'none', 'index' or 'distance', got {other:?}"
        ))),
    }
}

fn to_intp(v: Vec<usize>) -> Vec<isize> {
    v.into_iter()
        .map(|i| isize::try_from(i).unwrap_or(isize::MAX))
        .collect()
}

fn build_typed<F: Float + Element>(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    params: BuildParams,
    n_jobs: Option<i64>,
) -> PyResult<Arc<Tree<F>>> {
    let arr = rows::<F>(data, "data")?;
    let m = arr.shape()[1];
    let slice = arr
        .as_slice()
        .map_err(|e| SapwoodError::Type(e.to_string()))?;
    let tree =
        run_detached(py, n_jobs, || Tree::build(slice, m, params))?.map_err(SapwoodError::from)?;
    Ok(Arc::new(tree))
}

type Knn<'py> = (Bound<'py, PyAny>, Bound<'py, PyArray2<isize>>);

fn query_typed<'py, F: Float + Element>(
    py: Python<'py>,
    tree: &Tree<F>,
    x: &Bound<'py, PyAny>,
    params: KnnParams,
    n_jobs: Option<i64>,
) -> PyResult<Knn<'py>> {
    let arr = rows::<F>(x, "x")?;
    let nq = arr.shape()[0];
    let slice = arr
        .as_slice()
        .map_err(|e| SapwoodError::Type(e.to_string()))?;
    let total = nq
        .checked_mul(params.k)
        .filter(|t| *t <= isize::MAX as usize / 16)
        .ok_or_else(|| {
            SapwoodError::Neighbors(NeighborsError::OutOfMemory(format!(
                "{nq} queries × {} neighbours",
                params.k
            )))
        })?;
    let (d, i) = run_detached(py, n_jobs, || {
        let (mut d, mut i) = (Vec::new(), Vec::new());
        if d.try_reserve_exact(total).is_err() || i.try_reserve_exact(total).is_err() {
            return Err(NeighborsError::OutOfMemory(format!(
                "{nq} queries × {} neighbours",
                params.k
            )));
        }
        d.resize(total, F::ZERO);
        i.resize(total, 0usize);
        tree.knn(slice, &params, &mut d, &mut i).map(|()| (d, i))
    })?
    .map_err(SapwoodError::from)?;
    let d = PyArray1::from_vec(py, d).reshape([nq, params.k])?;
    let i = PyArray1::from_vec(py, to_intp(i)).reshape([nq, params.k])?;
    Ok((d.into_any(), i))
}

type Flat<'py> = (
    Bound<'py, PyArray1<isize>>,
    Option<Bound<'py, PyAny>>,
    Bound<'py, PyArray1<isize>>,
);

/// A radius search as `KdTree.query_radius` receives it, its names resolved.
struct RadiusQuery {
    /// One radius, or one per query row.
    r: Vec<f64>,
    p: Minkowski,
    eps: f64,
    with_distances: bool,
    order: RadiusOrder,
}

fn within_typed<'py, F: Float + Element>(
    py: Python<'py>,
    tree: &Tree<F>,
    x: &Bound<'py, PyAny>,
    query: &RadiusQuery,
    n_jobs: Option<i64>,
) -> PyResult<Flat<'py>> {
    let arr = rows::<F>(x, "x")?;
    let slice = arr
        .as_slice()
        .map_err(|e| SapwoodError::Type(e.to_string()))?;
    let res = run_detached(py, n_jobs, || {
        tree.within(
            slice,
            &query.r,
            query.p,
            query.eps,
            query.with_distances,
            query.order,
        )
    })?
    .map_err(SapwoodError::from)?;
    let idx = PyArray1::from_vec(py, to_intp(res.indices));
    let dist = res.distances.map(|d| PyArray1::from_vec(py, d).into_any());
    let off = PyArray1::from_vec(py, to_intp(res.offsets));
    Ok((idx, dist, off))
}

fn weights_of(w: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<f64>>> {
    w.map(|w| w.extract::<Vec<f64>>()).transpose()
}

/// A pair count as `KdTree.count_within` receives it, weights read into vectors.
struct PairCount {
    /// Non-decreasing radii.
    radii: Vec<f64>,
    /// One weight per query row (`None`: all 1).
    x_weights: Option<Vec<f64>>,
    /// One weight per tree point (`None`: all 1).
    tree_weights: Option<Vec<f64>>,
    p: Minkowski,
}

fn count_typed<'py, F: Float + Element>(
    py: Python<'py>,
    tree: &Tree<F>,
    x: &Bound<'py, PyAny>,
    count: &PairCount,
    n_jobs: Option<i64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let arr = rows::<F>(x, "x")?;
    let slice = arr
        .as_slice()
        .map_err(|e| SapwoodError::Type(e.to_string()))?;
    let counts = run_detached(py, n_jobs, || {
        tree.count_within(
            slice,
            count.x_weights.as_deref(),
            count.tree_weights.as_deref(),
            &count.radii,
            count.p,
        )
    })?
    .map_err(SapwoodError::from)?;
    Ok(PyArray1::from_vec(py, counts))
}

macro_rules! on_tree {
    ($self:expr, |$t:ident| $body:expr) => {
        match &$self.tree {
            AnyTree::F32($t) => $body,
            AnyTree::F64($t) => $body,
        }
    };
}

#[pymethods]
impl PyKdTree {
    #[new]
    #[pyo3(signature = (data, leafsize=16, balanced=false, compact=true, boxsize=None, n_jobs=None))]
    fn new(
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        leafsize: usize,
        balanced: bool,
        compact: bool,
        boxsize: Option<Vec<f64>>,
        n_jobs: Option<i64>,
    ) -> PyResult<Self> {
        let params = BuildParams {
            leafsize,
            balanced,
            compact,
            boxsize,
        };
        let tree = if data.cast::<PyArray2<f32>>().is_ok() {
            AnyTree::F32(build_typed::<f32>(py, data, params, n_jobs)?)
        } else {
            AnyTree::F64(build_typed::<f64>(py, data, params, n_jobs)?)
        };
        Ok(Self { tree })
    }

    /// query(x, k, eps=0.0, p=2.0, distance_upper_bound=inf, strategy="auto", n_jobs=None)
    /// --
    ///
    /// The ``k`` nearest neighbours of each row of ``x`` (same dtype as the tree):
    /// ``(distances, indices)``, each ``(len(x), k)``; missing ones are ``inf`` and ``n``.
    #[pyo3(signature = (x, k, eps=0.0, p=2.0, distance_upper_bound=f64::INFINITY, strategy="auto", n_jobs=None))]
    // `sapwood.KDTree` calls this positionally, so the Rust function keeps one parameter per
    // Python one; they become one struct right after extraction.
    #[expect(clippy::too_many_arguments, reason = "the Python signature is the API")]
    fn query<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        k: usize,
        eps: f64,
        p: f64,
        distance_upper_bound: f64,
        strategy: &str,
        n_jobs: Option<i64>,
    ) -> PyResult<Knn<'py>> {
        let params = KnnParams {
            k,
            eps,
            p: metric(p)?,
            distance_upper_bound,
            strategy: self::strategy(strategy)?,
        };
        on_tree!(self, |t| query_typed(py, t, x, params, n_jobs))
    }

    /// query_radius(x, r, p=2.0, eps=0.0, return_distance=True, sort="none", n_jobs=None)
    /// --
    ///
    /// Every point within ``r`` (one radius, or one per row) of each row of ``x``, as flat
    /// arrays ``(indices, distances or None, offsets)``.
    #[pyo3(signature = (x, r, p=2.0, eps=0.0, return_distance=true, sort="none", n_jobs=None))]
    // `sapwood.KDTree` calls this positionally, so the Rust function keeps one parameter per
    // Python one; they become one struct right after extraction.
    #[expect(clippy::too_many_arguments, reason = "the Python signature is the API")]
    fn query_radius<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        r: Vec<f64>,
        p: f64,
        eps: f64,
        return_distance: bool,
        sort: &str,
        n_jobs: Option<i64>,
    ) -> PyResult<Flat<'py>> {
        let query = RadiusQuery {
            r,
            p: metric(p)?,
            eps,
            with_distances: return_distance,
            order: order(sort)?,
        };
        on_tree!(self, |t| within_typed(py, t, x, &query, n_jobs))
    }

    /// count_within(x, radii, x_weights=None, tree_weights=None, p=2.0, n_jobs=None)
    /// --
    ///
    /// Cumulative (weighted) counts of pairs (row of ``x``, tree point) within each of the
    /// non-decreasing ``radii``.
    #[pyo3(signature = (x, radii, x_weights=None, tree_weights=None, p=2.0, n_jobs=None))]
    fn count_within<'py>(
        &self,
        x: &Bound<'py, PyAny>,
        radii: Vec<f64>,
        x_weights: Option<&Bound<'py, PyAny>>,
        tree_weights: Option<&Bound<'py, PyAny>>,
        p: f64,
        n_jobs: Option<i64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        // Fields in the order they were always checked: the metric, then each weight vector.
        let count = PairCount {
            p: metric(p)?,
            x_weights: weights_of(x_weights)?,
            tree_weights: weights_of(tree_weights)?,
            radii,
        };
        on_tree!(self, |t| count_typed(x.py(), t, x, &count, n_jobs))
    }

    /// The points in their input order (a new array).
    fn data<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        on_tree!(self, |t| {
            let flat = PyArray1::from_vec(py, t.data_in_input_order());
            Ok(flat.reshape([t.n(), t.m()])?.into_any())
        })
    }

    /// Number of points.
    #[getter]
    fn n(&self) -> usize {
        on_tree!(self, |t| t.n())
    }

    /// Number of coordinates per point.
    #[getter]
    fn m(&self) -> usize {
        on_tree!(self, |t| t.m())
    }

    /// Largest number of points in a leaf.
    #[getter]
    fn leafsize(&self) -> usize {
        on_tree!(self, |t| t.leafsize())
    }

    /// Number of nodes, leaves included.
    #[getter]
    fn size(&self) -> usize {
        on_tree!(self, |t| t.node_count())
    }

    /// Depth of the deepest leaf.
    #[getter]
    fn depth(&self) -> usize {
        on_tree!(self, |t| t.depth())
    }

    /// Bytes held by the tree (its copy of the points, indices and nodes).
    #[getter]
    fn nbytes(&self) -> usize {
        on_tree!(self, |t| t.memory_bytes())
    }

    /// ``"float32"`` or ``"float64"``.
    #[getter]
    fn dtype(&self) -> &'static str {
        match &self.tree {
            AnyTree::F32(_) => <f32 as Float>::NAME,
            AnyTree::F64(_) => <f64 as Float>::NAME,
        }
    }

    /// Smallest coordinate along each axis.
    #[getter]
    fn mins<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        on_tree!(self, |t| PyArray1::from_slice(py, t.mins()).into_any())
    }

    /// Largest coordinate along each axis.
    #[getter]
    fn maxes<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        on_tree!(self, |t| PyArray1::from_slice(py, t.maxes()).into_any())
    }

    /// Input row index of each stored point, in leaf order.
    #[getter]
    fn indices<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<isize>> {
        on_tree!(self, |t| PyArray1::from_vec(
            py,
            t.indices().iter().map(|&i| i as isize).collect()
        ))
    }

    /// ``(start, end)``: the leaf-order positions each node covers, nodes in pre-order.
    #[getter]
    fn node_ranges<'py>(
        &self,
        py: Python<'py>,
    ) -> (Bound<'py, PyArray1<isize>>, Bound<'py, PyArray1<isize>>) {
        let ranges = on_tree!(self, |t| t.node_ranges());
        let start = ranges.iter().map(|r| r.0 as isize).collect();
        let end = ranges.iter().map(|r| r.1 as isize).collect();
        (PyArray1::from_vec(py, start), PyArray1::from_vec(py, end))
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let cls = py.get_type::<Self>();
        let (leafsize, balanced, compact, boxsize) = on_tree!(self, |t| {
            let p = t.params();
            (p.leafsize, p.balanced, p.compact, p.boxsize.clone())
        });
        let args = (self.data(py)?, leafsize, balanced, compact, boxsize);
        PyTuple::new(py, [cls.into_any(), args.into_pyobject(py)?.into_any()])
    }
}
