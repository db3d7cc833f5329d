"""Type stubs of the compiled extension ``sapwood._native`` (checked by ``mypy.stubtest``)."""

from collections.abc import Callable
from typing import Any, ClassVar, TypedDict, final

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "auto_tree_count",
    "benjamini_hochberg",
    "binomial_cdf",
    "binomial_sf",
    "boruta_forest_select",
    "boruta_tests",
    "BorutaState",
    "KdTree",
    "build_info",
    "cuda_sources",
    "BoostModel",
    "BoostTrainer",
    "DistConfig",
    "DistCuts",
    "DistPart",
    "DistTree",
    "dist_sketch",
    "effective_n_jobs",
    "grow_profile",
    "rank_metric",
    "__version__",
]

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
def cuda_sources() -> dict[str, str]: ...
def effective_n_jobs(n_jobs: int | None = None) -> int: ...
def grow_profile(reset: bool = True) -> dict[str, float | bool]: ...
def rank_metric(
    metric: str,
    scores: NDArray[np.float32],
    labels: NDArray[np.float32],
    groups: NDArray[np.int64],
    weights: NDArray[np.float32] | None = None,
    ndcg_exp_gain: bool = True,
) -> float: ...

# Boruta statistics and decision state.
def binomial_sf(h: int, n: int, p: float = 0.5) -> float: ...
def binomial_cdf(h: int, n: int, p: float = 0.5) -> float: ...
def benjamini_hochberg(p_values: NDArray[np.float64], alpha: float) -> NDArray[np.bool_]: ...
def boruta_tests(
    decisions: list[int], hits: list[int], iteration: int, alpha: float, two_step: bool
) -> NDArray[np.int8]: ...
def auto_tree_count(n_active_features: int, max_depth: int | None = None) -> int: ...

class _ForestBorutaParams(TypedDict):
    """What ``boruta_forest_select`` reads from its ``params`` dict, item by item: the forest
    that scores importances, the tests (as ``BorutaState`` takes them) and the seed."""

    objective: str
    num_class: int
    n_estimators: int | None
    max_depth: int
    subsample: float
    perc: float
    alpha: float
    two_step: bool
    max_iter: int
    early_stopping: bool
    n_iter_no_change: int
    seed: int
    importance: str

def boruta_forest_select(
    x: NDArray[np.float32],
    y: NDArray[np.float32],
    sample_weight: NDArray[np.float32],
    params: _ForestBorutaParams,
    progress: Callable[[int, int, int, int, int], object] | None = None,
    n_jobs: int | None = None,
) -> BorutaState: ...

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

# A partition's query groups: local offsets, its first query's index, the number of queries,
# the query-weight normalisation.
_RankPart = tuple[NDArray[np.int64], int, int, float]

class _TrainParams(TypedDict):
    """What ``BoostTrainer`` reads from its ``params`` dict, item by item: each value of its
    type (the names are parsed and the ranges checked by the core)."""

    learning_rate: float
    max_depth: int
    max_leaves: int
    min_child_weight: float
    gamma: float
    reg_lambda: float
    reg_alpha: float
    max_delta_step: float
    subsample: float
    colsample_bytree: float
    colsample_bylevel: float
    colsample_bynode: float
    max_bin: int
    objective: str
    num_class: int
    base_score: float | None
    scale_pos_weight: float
    seed: int
    metrics: list[str]
    tree_method: str
    grow_policy: str
    num_parallel_tree: int

@final
class BoostTrainer:
    def __new__(
        cls,
        x: Any,
        y: NDArray[np.float32],
        sample_weight: NDArray[np.float32],
        params: _TrainParams,
        evals: list[tuple[Any, NDArray[np.float32], NDArray[np.float32]]],
        n_jobs: int | None = None,
        start_model: BoostModel | None = None,
        base_margin: NDArray[np.float32] | None = None,
        eval_base_margins: list[NDArray[np.float32] | None] | None = None,
        groups: NDArray[np.int64] | None = None,
        eval_groups: list[NDArray[np.int64]] | None = None,
    ) -> BoostTrainer: ...
    def boost_round(
        self, grad: NDArray[np.float32] | None = None, hess: NDArray[np.float32] | None = None
    ) -> list[list[float]]: ...
    def set_learning_rate(self, learning_rate: float) -> None: ...
    def margin(self) -> NDArray[np.float32]: ...
    def model(self) -> BoostModel: ...

@final
class BoostModel:
    MAX_NUM_FEATURE: ClassVar[int]
    MAX_NUM_CLASS: ClassVar[int]
    MAX_NUM_PARALLEL_TREE: ClassVar[int]
    @staticmethod
    def from_json(text: str) -> BoostModel: ...
    def to_json(self) -> str: ...
    def __reduce__(self) -> tuple[Any, tuple[str]]: ...
    def predict_margin(
        self,
        x: Any,
        begin: int = 0,
        end: int | None = None,
        n_jobs: int | None = None,
        base_margin: NDArray[np.float32] | None = None,
    ) -> NDArray[np.float32]: ...
    def predict(
        self,
        x: Any,
        begin: int = 0,
        end: int | None = None,
        n_jobs: int | None = None,
        base_margin: NDArray[np.float32] | None = None,
    ) -> NDArray[np.float32]: ...
    def predict_leaf(
        self, x: Any, begin: int = 0, end: int | None = None, n_jobs: int | None = None
    ) -> NDArray[np.int32]: ...
    def predict_contributions(
        self,
        x: Any,
        begin: int = 0,
        end: int | None = None,
        approximate: bool = False,
        interactions: bool = False,
        n_jobs: int | None = None,
    ) -> NDArray[np.float32]: ...
    def importance(
        self,
    ) -> tuple[
        NDArray[np.int64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]
    ]: ...
    def with_attributes(self, attributes: dict[str, str]) -> BoostModel: ...
    def truncated(self, end: int) -> BoostModel: ...
    @property
    def attributes(self) -> dict[str, str]: ...
    @property
    def num_feature(self) -> int: ...
    @property
    def categorical_features(self) -> list[int]: ...
    @property
    def num_class(self) -> int: ...
    @property
    def n_groups(self) -> int: ...
    @property
    def n_iterations(self) -> int: ...
    @property
    def num_parallel_tree(self) -> int: ...
    @property
    def n_trees(self) -> int: ...
    @property
    def objective(self) -> str: ...
    @property
    def base_score(self) -> list[float]: ...
    @property
    def base_margin(self) -> list[float]: ...

# Distributed fit (sapwood.dask): one partition's steps.
_Sketch = tuple[NDArray[np.float32], NDArray[np.float64], NDArray[np.uint64], NDArray[np.bool_]]

def dist_sketch(
    x: Any, sample_weight: NDArray[np.float32], size: int, n_jobs: int | None = None
) -> _Sketch: ...

@final
class DistCuts:
    @staticmethod
    def merge(sketches: list[_Sketch], max_bin: int, categorical: list[int] = ...) -> DistCuts: ...
    @staticmethod
    def from_parts(
        values: list[float],
        offsets: list[int],
        min_values: list[float],
        missing: list[bool],
        categorical: list[bool] = ...,
    ) -> DistCuts: ...
    def __reduce__(
        self,
    ) -> tuple[Any, tuple[list[float], list[int], list[float], list[bool], list[bool]]]: ...
    @property
    def n_features(self) -> int: ...

@final
class DistPart:
    def __new__(cls, x: Any, cuts: DistCuts, n_jobs: int | None = None) -> DistPart: ...
    @property
    def n_rows(self) -> int: ...
    def __sizeof__(self) -> int: ...

@final
class DistConfig:
    def __new__(cls, params: _TrainParams) -> DistConfig: ...
    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]: ...
    def empty_model(
        self, n_features: int, y: NDArray[np.float32], sample_weight: NDArray[np.float32]
    ) -> BoostModel: ...
    def trees_per_round(self, model: BoostModel) -> int: ...
    def tree_weights(
        self,
        model: BoostModel,
        n_rows: int,
        margin: NDArray[np.float32],
        y: NDArray[np.float32],
        sample_weight: NDArray[np.float32],
        iteration: int,
        offset: int,
        n_total: int,
        rank: _RankPart | None = None,
    ) -> list[NDArray[np.float32]]: ...
    def start_trees(
        self,
        model: BoostModel,
        parts: list[DistPart],
        cuts: list[DistCuts],
        margin: NDArray[np.float32],
        y: NDArray[np.float32],
        sample_weight: NDArray[np.float32],
        iteration: int,
        offset: int,
        n_total: int,
        n_jobs: int | None = None,
        rank: _RankPart | None = None,
    ) -> list[DistTree]: ...
    def update_training_margin(
        self,
        x: Any,
        margin: NDArray[np.float32],
        trees: list[DistTree],
        n_groups: int,
        n_jobs: int | None = None,
    ) -> NDArray[np.float32]: ...
    @staticmethod
    def update_margin(
        x: Any,
        margin: NDArray[np.float32],
        trees: list[str],
        groups: list[int],
        n_groups: int,
        n_jobs: int | None = None,
    ) -> NDArray[np.float32]: ...
    def evaluate(
        self,
        model: BoostModel,
        margin: NDArray[np.float32],
        y: NDArray[np.float32],
        sample_weight: NDArray[np.float32],
        groups: NDArray[np.int64] | None = None,
    ) -> list[float]: ...
    @staticmethod
    def with_trees(model: BoostModel, trees: list[str], groups: list[int]) -> BoostModel: ...

@final
class DistTree:
    def message(self) -> NDArray[np.float64]: ...
    @property
    def done(self) -> bool: ...
    def advance(
        self, messages: list[NDArray[np.float64]], n_jobs: int | None = None
    ) -> DistTree: ...
    def tree_json(self) -> str: ...
    @property
    def group(self) -> int: ...
    def __sizeof__(self) -> int: ...
