"""The package skeleton: import, version, error mapping, the thread policy and validation."""

from __future__ import annotations

from importlib.metadata import version

import numpy as np
import pytest

import sapwood
from sapwood import _native
from sapwood._validation import check_n_jobs, check_sample_weight, seed_from_random_state


def _trainer(**changes):
    """A native trainer on a tiny data set, with the parameters a default GBTRegressor sends
    to Rust, some changed behind the facade's back (as a direct caller of the native module
    could)."""
    params = dict(
        sapwood.GBTRegressor()._check_params(),
        objective="reg:squarederror",
        num_class=0,
        metrics=["rmse"],
    )
    params.update(changes)
    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10, dtype=np.float32)
    w = np.ones(10, dtype=np.float32)
    return _native.BoostTrainer(X, y, w, params, [], 1)


def test_version_matches_metadata():
    assert sapwood.__version__ == version("sapwood")
    assert sapwood.__version__ == _native.__version__


def test_core_error_arrives_as_value_error_with_its_text():
    assert _trainer() is not None
    with pytest.raises(ValueError, match=r"^subsample must be in the interval \(0, 1\], got 1.5$"):
        _trainer(subsample=1.5)
    with pytest.raises(ValueError, match="reg_lambda must be a finite number >= 0, got NaN"):
        _trainer(reg_lambda=float("nan"))


def test_wrong_argument_type_is_type_error():
    with pytest.raises(TypeError, match="max_depth"):
        _trainer(max_depth="deep")
    with pytest.raises(TypeError, match=r"TrainParams\.max_depth"):
        _trainer(max_depth=-1)  # u32 on the Rust side


def test_thread_policy_follows_scikit_learn():
    cores = _native.build_info()["cores"]
    assert sapwood.effective_n_jobs() == cores
    assert sapwood.effective_n_jobs(-1) == cores
    assert sapwood.effective_n_jobs(3) == 3
    assert sapwood.effective_n_jobs(-2) == max(1, cores - 1)
    with pytest.raises(ValueError, match="n_jobs == 0"):
        sapwood.effective_n_jobs(0)


def test_build_info_reports_the_toolchain():
    info = _native.build_info()
    assert info["rustc"].startswith("rustc ")
    assert info["version"] == sapwood.__version__
    assert isinstance(info["cpu_features_compiled"], list)
    assert isinstance(info["cpu_features_runtime"], list)
    assert isinstance(info["simd_paths"], dict)
    assert info["cores"] >= 1


def test_check_n_jobs():
    assert check_n_jobs(None) is None
    assert check_n_jobs(np.int64(2)) == 2
    with pytest.raises(ValueError, match="n_jobs == 0"):
        check_n_jobs(0)
    with pytest.raises(TypeError, match="n_jobs must be None or an int"):
        check_n_jobs(1.5)


def test_seed_from_random_state_is_deterministic():
    assert seed_from_random_state(None) == 0
    assert seed_from_random_state(42) == 42
    assert seed_from_random_state(np.random.RandomState(1)) == seed_from_random_state(
        np.random.RandomState(1)
    )
    with pytest.raises(ValueError, match="random_state must be in"):
        seed_from_random_state(-1)
    with pytest.raises(TypeError, match="random_state must be"):
        seed_from_random_state("seed")


def test_check_sample_weight():
    np.testing.assert_array_equal(check_sample_weight(None, 3), np.ones(3))
    with pytest.raises(ValueError, match="sample_weight has 2 entries, but X has 3 rows"):
        check_sample_weight([1.0, 2.0], 3)
    with pytest.raises(ValueError, match="non-negative"):
        check_sample_weight([1.0, -2.0, 1.0], 3)
    with pytest.raises(ValueError, match="NaN or infinity"):
        check_sample_weight([1.0, np.nan, 1.0], 3)
