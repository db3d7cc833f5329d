"""Type stubs of the compiled extension ``sapwood._native`` (checked by ``mypy.stubtest``)."""

from typing import Any, final

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "BoostModel",
    "BoostTrainer",
    "validate_tree_params",
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

@final
class BoostTrainer:
    def __new__(
        cls,
        x: Any,
        y: NDArray[np.float32],
        sample_weight: NDArray[np.float32],
        params: dict[str, Any],
        evals: list[tuple[Any, NDArray[np.float32], NDArray[np.float32]]],
        n_jobs: int | None = None,
    ) -> BoostTrainer: ...
    def boost_round(
        self, grad: NDArray[np.float32] | None = None, hess: NDArray[np.float32] | None = None
    ) -> list[list[float]]: ...
    def margin(self) -> NDArray[np.float32]: ...
    def model(self) -> BoostModel: ...

@final
class BoostModel:
    @staticmethod
    def from_json(text: str) -> BoostModel: ...
    def to_json(self) -> str: ...
    def __reduce__(self) -> tuple[Any, tuple[str]]: ...
    def predict_margin(
        self, x: Any, begin: int = 0, end: int | None = None, n_jobs: int | None = None
    ) -> NDArray[np.float32]: ...
    def predict(
        self, x: Any, begin: int = 0, end: int | None = None, n_jobs: int | None = None
    ) -> NDArray[np.float32]: ...
    def predict_leaf(
        self, x: Any, begin: int = 0, end: int | None = None, n_jobs: int | None = None
    ) -> NDArray[np.int32]: ...
    def importance(self) -> tuple[list[float], list[float], list[float]]: ...
    def with_attributes(self, attributes: dict[str, str]) -> BoostModel: ...
    def truncated(self, end: int) -> BoostModel: ...
    @property
    def attributes(self) -> dict[str, str]: ...
    @property
    def num_feature(self) -> int: ...
    @property
    def num_class(self) -> int: ...
    @property
    def n_groups(self) -> int: ...
    @property
    def n_iterations(self) -> int: ...
    @property
    def n_trees(self) -> int: ...
    @property
    def objective(self) -> str: ...
    @property
    def base_score(self) -> list[float]: ...
    @property
    def base_margin(self) -> list[float]: ...
