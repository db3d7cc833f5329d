"""sapwood: gradient-boosted trees, kd-tree neighbours, Boruta feature selection and GPU
kernels, with a Rust core and scikit-learn estimators.

Every long computation runs in Rust with the GIL released, in a thread pool sized by the
estimator's ``n_jobs`` (scikit-learn's convention: ``None`` or ``-1`` for every core, ``k`` for
``k`` threads, ``-k`` for all cores but ``k - 1``). Results never depend on the thread count.

The names in ``__all__`` are the estimators and functions most code needs. The submodules
are public too: :mod:`sapwood.boost`, :mod:`sapwood.neighbors`, :mod:`sapwood.kdtree`,
:mod:`sapwood.selection` and :mod:`sapwood.callback` (training callbacks) are imported with
the package; :mod:`sapwood.gpu` (GPU kernels) and :mod:`sapwood.plotting` (matplotlib figures)
are imported the first time they are used, as ``sapwood.gpu`` or ``import sapwood.gpu``.
Distributed training on Dask is :mod:`sapwood.dask` (the ``dask`` extra), imported likewise.
"""

import importlib as _importlib
from importlib import metadata as _metadata

from sapwood import _native
from sapwood._native import effective_n_jobs
from sapwood.boost import (
    GBTClassifier,
    GBTRanker,
    GBTRegressor,
    RFClassifier,
    RFRegressor,
    load_model,
)
from sapwood.neighbors import (
    KDTree,
    KNeighborsClassifier,
    KNeighborsRegressor,
    NearestNeighbors,
)
from sapwood.selection import BorutaSelector

try:
    __version__ = _metadata.version("sapwood")
except _metadata.PackageNotFoundError:  # pragma: no cover - a source tree without metadata
    __version__ = _native.__version__

__all__ = [
    "BorutaSelector",
    "GBTClassifier",
    "GBTRanker",
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

# Loaded on first use, so that ``import sapwood`` stays quick and does not touch optional
# dependencies (CuPy, matplotlib).
_LAZY_SUBMODULES = ("callback", "dask", "gpu", "plotting")


def __getattr__(name: str) -> object:
    if name in _LAZY_SUBMODULES:
        try:
            return _importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            # Only the submodule itself being absent means "no such attribute"; a missing
            # dependency inside it is the user's to see.
            if exc.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))
