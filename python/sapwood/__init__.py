"""sapwood: gradient-boosted trees, kd-tree neighbours, Boruta feature selection and GPU
kernels, with a Rust core and scikit-learn estimators.

Every long computation runs in Rust with the GIL released, in a thread pool sized by the
estimator's ``n_jobs`` (scikit-learn's convention: ``None`` or ``-1`` for every core, ``k`` for
``k`` threads, ``-k`` for all cores but ``k - 1``). Results never depend on the thread count.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from sapwood import _native
from sapwood._native import effective_n_jobs
from sapwood.boost import GBTClassifier, GBTRegressor, RFClassifier, RFRegressor, load_model
from sapwood.neighbors import (
    KDTree,
    KNeighborsClassifier,
    KNeighborsRegressor,
    NearestNeighbors,
)
from sapwood.selection import BorutaSelector

try:
    __version__ = version("sapwood")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    __version__ = _native.__version__

__all__ = [
    "BorutaSelector",
    "GBTClassifier",
    "GBTRegressor",
    "KDTree",
    "KNeighborsClassifier",
    "KNeighborsRegressor",
    "NearestNeighbors",
    "RFClassifier",
    "RFRegressor",
    "__version__",
    "effective_n_jobs",
    "load_model",
]
