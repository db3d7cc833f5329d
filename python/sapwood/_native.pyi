"""Type stubs of the compiled extension ``sapwood._native`` (checked by ``mypy.stubtest``)."""

__all__ = ["validate_tree_params", "build_info", "cuda_sources", "effective_n_jobs", "__version__"]

__version__: str

def build_info() -> dict[str, object]: ...
def cuda_sources() -> dict[str, str]: ...
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
