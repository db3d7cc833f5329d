"""Type stubs of the compiled extension ``sapwood._native`` (checked by ``mypy.stubtest``)."""

from typing import final

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "validate_tree_params",
    "auto_tree_count",
    "benjamini_hochberg",
    "binomial_cdf",
    "binomial_sf",
    "boruta_tests",
    "BorutaState",
    "build_info",
    "effective_n_jobs",
    "__version__",
]

__version__: str

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

# Boruta statistics and decision state.
def binomial_sf(h: int, n: int, p: float = 0.5) -> float: ...
def binomial_cdf(h: int, n: int, p: float = 0.5) -> float: ...
def benjamini_hochberg(p_values: NDArray[np.float64], alpha: float) -> NDArray[np.bool_]: ...
def boruta_tests(
    decisions: list[int], hits: list[int], iteration: int, alpha: float, two_step: bool
) -> NDArray[np.int8]: ...
def auto_tree_count(n_active_features: int, max_depth: int | None = None) -> int: ...

@final
class BorutaState:
    def __new__(
        cls,
        n_features: int,
        perc: float = 100.0,
        alpha: float = 0.05,
        two_step: bool = True,
        max_iter: int = 100,
        early_stopping: bool = False,
        n_iter_no_change: int = 20,
    ) -> BorutaState: ...
    def active(self) -> NDArray[np.uintp]: ...
    def record(
        self, active_importances: NDArray[np.float64], shadow_importances: NDArray[np.float64]
    ) -> tuple[float, bool]: ...
    @property
    def finished(self) -> bool: ...
    @property
    def stopped_early(self) -> bool: ...
    @property
    def iterations(self) -> int: ...
    def decisions(self) -> NDArray[np.int8]: ...
    def hits(self) -> NDArray[np.uint64]: ...
    def importance_history(self) -> NDArray[np.float64]: ...
    def shadow_history(self) -> NDArray[np.float64]: ...
    def decision_history(self) -> NDArray[np.int8]: ...
    def finish(self) -> dict[str, NDArray]: ...
    def rough_fixed_decisions(self) -> NDArray[np.int8]: ...
