"""Type stubs of the compiled extension ``sapwood._native`` (checked by ``mypy.stubtest``)."""

__all__ = [
    "validate_tree_params",
    "build_info",
    "effective_n_jobs",
    "KdTree",
    "__version__",
]

from typing import Any, final

import numpy as np
from numpy.typing import NDArray

__version__: str

@final
class KdTree:
    def __new__(
        cls,
        data: NDArray[np.floating[Any]],
        leafsize: int = 16,
        balanced: bool = False,
        compact: bool = True,
        boxsize: list[float] | None = None,
        n_jobs: int | None = None,
    ) -> KdTree: ...
    def query(
        self,
        x: NDArray[np.floating[Any]],
        k: int,
        eps: float = 0.0,
        p: float = 2.0,
        distance_upper_bound: float = ...,
        strategy: str = "auto",
        n_jobs: int | None = None,
    ) -> tuple[NDArray[np.floating[Any]], NDArray[np.intp]]: ...
    def query_radius(
        self,
        x: NDArray[np.floating[Any]],
        r: list[float],
        p: float = 2.0,
        eps: float = 0.0,
        return_distance: bool = True,
        sort: str = "none",
        n_jobs: int | None = None,
    ) -> tuple[NDArray[np.intp], NDArray[np.floating[Any]] | None, NDArray[np.intp]]: ...
    def count_within(
        self,
        x: NDArray[np.floating[Any]],
        radii: list[float],
        x_weights: NDArray[np.float64] | None = None,
        tree_weights: NDArray[np.float64] | None = None,
        p: float = 2.0,
        n_jobs: int | None = None,
    ) -> NDArray[np.float64]: ...
    def data(self) -> NDArray[np.floating[Any]]: ...
    def __reduce__(self) -> tuple[Any, ...]: ...
    @property
    def n(self) -> int: ...
    @property
    def m(self) -> int: ...
    @property
    def leafsize(self) -> int: ...
    @property
    def size(self) -> int: ...
    @property
    def depth(self) -> int: ...
    @property
    def nbytes(self) -> int: ...
    @property
    def dtype(self) -> str: ...
    @property
    def mins(self) -> NDArray[np.floating[Any]]: ...
    @property
    def maxes(self) -> NDArray[np.floating[Any]]: ...
    @property
    def indices(self) -> NDArray[np.intp]: ...
    @property
    def node_ranges(self) -> tuple[NDArray[np.intp], NDArray[np.intp]]: ...

def build_info() -> dict[str, object]: ...
def effective_n_jobs(n_jobs: int | None = None) -> int: ...
def validate_tree_params(
    learning_rate: float,
    max_depth: int,
    max_leaves: int,
    min_child_weight: float,
    gamma: float,
    reg_lambda: float,
    reg_alpha: float,
    max_delta_step: float,
    subsample: float,
    colsample_bytree: float,
    colsample_bylevel: float,
    colsample_bynode: float,
    max_bin: int,
) -> None: ...
