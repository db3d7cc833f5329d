"""Gradient-boosted trees with XGBoost's semantics: ``GBTRegressor``, ``GBTClassifier`` and
``load_model``.

Training runs in Rust (``sapwood._native.BoostTrainer``) one boosting round at a time; this
module validates input, drives the rounds (evaluation sets, early stopping, custom objectives)
and converts models to and from XGBoost's JSON format.
"""

from __future__ import annotations

import contextlib
import json
import math
import numbers
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from sapwood import _native
from sapwood._validation import (
    as_native_matrix,
    check_n_jobs,
    check_sample_weight,
    native_array,
    seed_from_random_state,
)

__all__ = ["GBTClassifier", "GBTRegressor", "RFClassifier", "RFRegressor", "load_model"]

_TREE_METHODS = ("exact", "approx", "hist")
_GROW_POLICIES = ("depthwise", "lossguide")
_REGRESSION_OBJECTIVES = (
    "reg:squarederror",
    "reg:logistic",
    "count:poisson",
    "reg:absoluteerror",
)
_CLASSIFICATION_OBJECTIVES = ("binary:logistic", "multi:softprob", "multi:softmax")
_XGB_DELETED = 2147483647
_SAPWOOD_FORMAT = "sapwood-boost"


def _check_number(name: str, value: Any, low: float, high: float, *, low_open: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    v = float(value)
    ok = math.isfinite(v) and (v > low if low_open else v >= low) and v <= high
    if not ok:
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must be in {bracket}{low}, {high}], got {value!r}")
    return v


class _GBTBase(BaseEstimator):
    """Parameters, training loop and model access shared by both estimators."""

    _default_objective = "reg:squarederror"

    def __init__(
        self,
        *,
        n_estimators: int = 100,
        learning_rate: float = 0.3,
        max_depth: int = 6,
        min_child_weight: float = 1.0,
        gamma: float = 0.0,
        reg_lambda: float = 1.0,
        reg_alpha: float = 0.0,
        max_delta_step: float = 0.0,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        colsample_bylevel: float = 1.0,
        colsample_bynode: float = 1.0,
        scale_pos_weight: float = 1.0,
        base_score: float | None = None,
        tree_method: str | None = None,
        max_bin: int = 256,
        grow_policy: str = "depthwise",
        max_leaves: int = 0,
        num_parallel_tree: int = 1,
        missing: float = np.nan,
        objective: str | Callable | None = None,
        eval_metric: str | Sequence[str] | None = None,
        early_stopping_rounds: int | None = None,
        importance_type: str = "gain",
        n_jobs: int | None = None,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.gamma = gamma
        self.reg_lambda = reg_lambda
        self.reg_alpha = reg_alpha
        self.max_delta_step = max_delta_step
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.colsample_bylevel = colsample_bylevel
        self.colsample_bynode = colsample_bynode
        self.scale_pos_weight = scale_pos_weight
        self.base_score = base_score
        self.tree_method = tree_method
        self.max_bin = max_bin
        self.grow_policy = grow_policy
        self.max_leaves = max_leaves
        self.num_parallel_tree = num_parallel_tree
        self.missing = missing
        self.objective = objective
        self.eval_metric = eval_metric
        self.early_stopping_rounds = early_stopping_rounds
        self.importance_type = importance_type
        self.n_jobs = n_jobs
        self.random_state = random_state

    # ----------------------------------------------------------------------------- checks
    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.sparse = True
        return tags

    def _forest_shape(self) -> tuple[int, int]:
        """(boosting rounds, trees per round and output group)."""
        npt = self.num_parallel_tree
        if isinstance(npt, bool) or not isinstance(npt, numbers.Integral):
            raise TypeError(f"num_parallel_tree must be an int, got {type(npt).__name__}")
        if npt < 1:
            raise ValueError(f"num_parallel_tree must be >= 1, got {npt}")
        return int(self.n_estimators), int(npt)

    def _check_params(self) -> dict[str, Any]:
        method = "hist" if self.tree_method in (None, "auto") else self.tree_method
        if method not in _TREE_METHODS:
            raise ValueError(
                f"unknown tree_method {self.tree_method!r}; expected 'exact', 'approx', 'hist' "
                "or None"
            )
        if self.grow_policy not in _GROW_POLICIES:
            raise ValueError(
                f"unknown grow_policy {self.grow_policy!r}; expected 'depthwise' or 'lossguide'"
            )
        if method == "exact" and self.grow_policy == "lossguide":
            raise ValueError("grow_policy='lossguide' needs tree_method='hist' or 'approx'")
        n_est = self.n_estimators
        if isinstance(n_est, bool) or not isinstance(n_est, numbers.Integral) or n_est < 1:
            raise ValueError(f"n_estimators must be an int >= 1, got {n_est!r}")
        ints = {
            "max_depth": self.max_depth,
            "max_bin": self.max_bin,
            "max_leaves": self.max_leaves,
        }
        for name, value in ints.items():
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        depth = int(self.max_depth)
        if method == "exact" and not 1 <= depth <= 63:
            raise ValueError(f"max_depth must be in [1, 63] for tree_method='exact', got {depth}")
        if not 0 <= depth <= 63:
            raise ValueError(f"max_depth must be in [0, 63], got {depth}")
        if not 0 <= self.max_leaves <= 2**31 - 1:
            raise ValueError(f"max_leaves must be >= 0, got {self.max_leaves}")
        if depth == 0 and self.max_leaves == 0:
            raise ValueError("max_depth=0 (no depth limit) needs max_leaves > 0")
        if not 2 <= self.max_bin <= 65535:
            raise ValueError(f"max_bin must be in [2, 65535], got {self.max_bin}")
        self._forest_shape()
        esr = self.early_stopping_rounds
        if esr is not None and (
            isinstance(esr, bool) or not isinstance(esr, numbers.Integral) or esr < 1
        ):
            raise ValueError(f"early_stopping_rounds must be None or an int >= 1, got {esr!r}")
        if self.importance_type not in _IMPORTANCE_TYPES:
            raise ValueError(
                f"unknown importance_type {self.importance_type!r}; expected one of "
                f"{', '.join(_IMPORTANCE_TYPES)}"
            )
        inf = math.inf
        params = {
            "learning_rate": _check_number(
                "learning_rate", self.learning_rate, 0, inf, low_open=True
            ),
            "max_depth": depth,
            "max_leaves": int(self.max_leaves),
            "max_bin": int(self.max_bin),
            "tree_method": method,
            "grow_policy": str(self.grow_policy),
            "num_parallel_tree": self._forest_shape()[1],
            "min_child_weight": _check_number(
                "min_child_weight", self.min_child_weight, 0, inf, low_open=False
            ),
            "gamma": _check_number("gamma", self.gamma, 0, inf, low_open=False),
            "reg_lambda": _check_number("reg_lambda", self.reg_lambda, 0, inf, low_open=False),
            "reg_alpha": _check_number("reg_alpha", self.reg_alpha, 0, inf, low_open=False),
            "max_delta_step": _check_number(
                "max_delta_step", self.max_delta_step, 0, inf, low_open=False
            ),
            "subsample": _check_number("subsample", self.subsample, 0, 1, low_open=True),
            "colsample_bytree": _check_number(
                "colsample_bytree", self.colsample_bytree, 0, 1, low_open=True
            ),
            "colsample_bylevel": _check_number(
                "colsample_bylevel", self.colsample_bylevel, 0, 1, low_open=True
            ),
            "colsample_bynode": _check_number(
                "colsample_bynode", self.colsample_bynode, 0, 1, low_open=True
            ),
            "scale_pos_weight": _check_number(
                "scale_pos_weight", self.scale_pos_weight, 0, inf, low_open=True
            ),
            "base_score": None
            if self.base_score is None
            else _check_number("base_score", self.base_score, -inf, inf, low_open=True),
            "seed": seed_from_random_state(self.random_state),
        }
        check_n_jobs(self.n_jobs)
        return params

    def _metrics(self, objective: str) -> list[str]:
        metric = self.eval_metric
        if metric is None:
            return [_DEFAULT_METRIC[objective]]
        if isinstance(metric, str):
            metric = [metric]
        if callable(metric) or not all(isinstance(m, str) for m in metric):
            raise TypeError("eval_metric must be None, a metric name or a list of metric names")
        for m in metric:
            if m not in _METRICS:
                raise ValueError(
                    f"unknown eval_metric {m!r}; expected one of {', '.join(_METRICS)}"
                )
        return list(metric)

    def _validate_X(self, X: Any, *, reset: bool) -> Any:
        X = validate_data(
            self,
            X,
            reset=reset,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan",
            ensure_min_samples=1,
        )
        return self._replace_missing(X)

    def _replace_missing(self, X: Any) -> Any:
        missing = self.missing
        if missing is None or (isinstance(missing, float) and math.isnan(missing)):
            return X
        if sp.issparse(X):
            X = X.copy()
            X.data[X.data == missing] = np.nan
            return X
        return np.where(missing == X, np.nan, X)

    # ----------------------------------------------------------------------------- fitting
    def _fit(
        self,
        X: Any,
        y: NDArray,
        objective: str | Callable,
        num_class: int,
        sample_weight: Any,
        eval_set: Sequence[tuple[Any, Any]] | None,
        sample_weight_eval_set: Sequence[Any] | None,
        verbose: bool | int,
        encode_y: Callable[[Any], NDArray],
    ) -> None:
        params = self._check_params()
        custom = callable(objective)
        obj_name = "custom" if custom else str(objective)
        if not custom and obj_name not in _DEFAULT_METRIC:
            raise ValueError(
                f"unknown objective {obj_name!r}; expected one of "
                f"{', '.join(_REGRESSION_OBJECTIVES + _CLASSIFICATION_OBJECTIVES)} or a callable"
            )
        metrics = self._metrics(obj_name)
        n = X.shape[0]
        weights = check_sample_weight(sample_weight, n, dtype=np.float32)
        evals = []
        if eval_set is not None:
            if sample_weight_eval_set is not None and len(sample_weight_eval_set) != len(eval_set):
                raise ValueError("sample_weight_eval_set must have one entry per eval_set entry")
            for i, pair in enumerate(eval_set):
                if len(pair) != 2:
                    raise ValueError("eval_set must be a list of (X, y) pairs")
                ex = self._validate_X(pair[0], reset=False)
                ey = encode_y(pair[1])
                if ey.shape[0] != ex.shape[0]:
                    raise ValueError(
                        f"eval_set[{i}]: y has {ey.shape[0]} entries, but X has {ex.shape[0]} rows"
                    )
                ew_raw = None if sample_weight_eval_set is None else sample_weight_eval_set[i]
                ew = check_sample_weight(ew_raw, ex.shape[0], dtype=np.float32)
                evals.append((as_native_matrix(ex), ey, ew))
        native_params = dict(
            params,
            objective=obj_name,
            num_class=num_class,
            metrics=metrics,
        )
        trainer = _native.BoostTrainer(
            as_native_matrix(X), y, weights, native_params, evals, self.n_jobs
        )
        maximize = metrics[-1] in _MAXIMIZE
        history: dict[str, dict[str, list[float]]] = {
            f"validation_{i}": {m: [] for m in metrics} for i in range(len(evals))
        }
        best_score = None
        best_iteration = None
        stop_rounds = self.early_stopping_rounds
        if stop_rounds is not None and not evals:
            raise ValueError("early_stopping_rounds needs at least one dataset in eval_set")
        for it in range(self._forest_shape()[0]):
            if custom:
                margin = trainer.margin()
                pred = margin[:, 0] if margin.shape[1] == 1 else margin
                grad, hess = objective(y, pred)  # type: ignore[operator]
                grad = native_array(grad, dtype=np.float32).reshape(-1)
                hess = native_array(hess, dtype=np.float32).reshape(-1)
                results = trainer.boost_round(grad, hess)
            else:
                results = trainer.boost_round()
            for i, row in enumerate(results):
                for m, v in zip(metrics, row, strict=False):
                    history[f"validation_{i}"][m].append(float(v))
            if verbose and results:
                every = 1 if verbose is True else int(verbose)
                if it % every == 0:
                    text = "\t".join(
                        f"validation_{i}-{m}:{v:.5f}"
                        for i, row in enumerate(results)
                        for m, v in zip(metrics, row, strict=False)
                    )
                    print(f"[{it}]\t{text}")
            if stop_rounds is not None:
                score = results[-1][-1]
                better = best_score is None or (
                    score > best_score if maximize else score < best_score
                )
                if better:
                    best_score, best_iteration = score, it
                elif it - int(best_iteration) >= stop_rounds:  # type: ignore[arg-type]
                    break
        model = trainer.model()
        if best_iteration is None:
            best_iteration = model.n_iterations - 1
            self.best_score_ = float(results[-1][-1]) if evals else float("nan")
        else:
            self.best_score_ = float(best_score)  # type: ignore[arg-type]
        self.best_iteration_ = int(best_iteration)
        attrs = {}
        if stop_rounds is not None:
            attrs = {"best_iteration": str(self.best_iteration_), "best_score": repr(best_score)}
        self._model = model.with_attributes(attrs) if attrs else model
        self.evals_result_ = history
        self.n_features_in_ = X.shape[1]

    # ----------------------------------------------------------------------------- predicting
    def _range(self, iteration_range: tuple[int, int] | None) -> tuple[int, int | None]:
        check_is_fitted(self, "_model")
        if iteration_range is None:
            return 0, self.best_iteration_ + 1
        begin, end = iteration_range
        if end == 0:
            return int(begin), None
        return int(begin), int(end)

    def _native_X(self, X: Any) -> Any:
        check_is_fitted(self, "_model")
        return as_native_matrix(self._validate_X(X, reset=False))

    def _margin(self, X: Any, iteration_range: tuple[int, int] | None) -> NDArray:
        begin, end = self._range(iteration_range)
        return self._model.predict_margin(self._native_X(X), begin, end, self.n_jobs)

    def _response(self, X: Any, iteration_range: tuple[int, int] | None) -> NDArray:
        begin, end = self._range(iteration_range)
        return self._model.predict(self._native_X(X), begin, end, self.n_jobs)

    def apply(self, X: Any, iteration_range: tuple[int, int] | None = None) -> NDArray:
        """Leaf index of every sample in every tree.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Input samples; NaN (or absent sparse entries) are missing values.
        iteration_range : tuple of int, optional
            Boosting rounds ``[begin, end)`` to use; by default up to the best iteration.

        Returns
        -------
        leaves : ndarray of shape (n_samples, n_trees), dtype int32
            Node ids in XGBoost's numbering.
        """
        begin, end = self._range(iteration_range)
        return self._model.predict_leaf(self._native_X(X), begin, end, self.n_jobs)

    # ----------------------------------------------------------------------------- inspection
    @property
    def feature_importances_(self) -> NDArray:
        """Importances normalised to sum to 1, by ``importance_type`` (float32)."""
        check_is_fitted(self, "_model")
        features, scores = self._scores(self.importance_type)
        total = scores.sum()
        # Zero-filled pages cost nothing until written, and only the used features are.
        out = np.zeros(self._model.num_feature, dtype=np.float32)
        out[features] = scores / total if total > 0 else scores
        return out

    def _scores(self, importance_type: str) -> tuple[NDArray, NDArray]:
        """The features used in at least one split (ascending) and their scores: sparse, as a
        model may declare far more features than it splits on."""
        if importance_type not in _IMPORTANCE_TYPES:
            raise ValueError(
                f"unknown importance_type {importance_type!r}; expected one of "
                f"{', '.join(_IMPORTANCE_TYPES)}"
            )
        features, weight, gain, cover = self._model.importance()
        # Every listed feature has at least one split, so the averages are defined.
        table = {
            "weight": weight,
            "total_gain": gain,
            "total_cover": cover,
            "gain": gain / weight,
            "cover": cover / weight,
        }
        return features, table[importance_type]

    def _feature_names(self, features: Any) -> list[str]:
        names = getattr(self, "feature_names_in_", None)
        if names is not None:
            return [str(names[i]) for i in features]
        return [f"f{i}" for i in features]

    def get_score(self, importance_type: str = "weight") -> dict[str, float]:
        """Per-feature importance as XGBoost's ``Booster.get_score``.

        Parameters
        ----------
        importance_type : {"weight", "gain", "total_gain", "cover", "total_cover"}
            ``weight`` counts splits; ``gain``/``cover`` are averages per split, the
            ``total_`` variants sums.

        Returns
        -------
        scores : dict
            Feature name to score, for features used in at least one split.
        """
        check_is_fitted(self, "_model")
        features, scores = self._scores(importance_type)
        names = self._feature_names(features)
        return {name: float(s) for name, s in zip(names, scores, strict=True)}

    @property
    def n_iterations_(self) -> int:
        """Number of boosting rounds in the model (early stopping keeps the extra ones)."""
        check_is_fitted(self, "_model")
        return int(self._model.n_iterations)

    def trees_to_dataframe(self) -> Any:
        """The trees as a pandas DataFrame, one row per node (XGBoost's layout).

        Returns
        -------
        df : pandas.DataFrame
            Columns ``Tree, Node, ID, Feature, Split, Yes, No, Missing, Gain, Cover``;
            ``Gain`` holds the leaf value at leaves.
        """
        import pandas as pd

        check_is_fitted(self, "_model")
        doc = json.loads(self._model.to_json())
        used = sorted(
            {
                f
                for t in doc["trees"]
                for f, left in zip(t["split_index"], t["left"], strict=True)
                if left >= 0
            }
        )
        names = dict(zip(used, self._feature_names(used), strict=True))
        rows = []
        for t, tree in enumerate(doc["trees"]):
            for i in range(len(tree["left"])):
                if tree["split_index"][i] == _XGB_DELETED:
                    continue
                leaf = tree["left"][i] < 0
                node_id = f"{t}-{i}"
                if leaf:
                    rows.append(
                        (
                            t,
                            i,
                            node_id,
                            "Leaf",
                            np.nan,
                            None,
                            None,
                            None,
                            tree["split_cond"][i],
                            tree["sum_hess"][i],
                        )
                    )
                else:
                    left, right = tree["left"][i], tree["right"][i]
                    rows.append(
                        (
                            t,
                            i,
                            node_id,
                            names[tree["split_index"][i]],
                            tree["split_cond"][i],
                            f"{t}-{left}",
                            f"{t}-{right}",
                            f"{t}-{left if tree['default_left'][i] else right}",
                            tree["loss_chg"][i],
                            tree["sum_hess"][i],
                        )
                    )
        cols = ["Tree", "Node", "ID", "Feature", "Split", "Yes", "No", "Missing", "Gain", "Cover"]
        return pd.DataFrame(rows, columns=cols)

    # ----------------------------------------------------------------------------- model files
    def save_model(self, path: str | os.PathLike[str], format: str = "json") -> None:
        """Write the fitted model to ``path``.

        Parameters
        ----------
        path : str or path-like
            Destination file.
        format : {"json", "xgboost"}
            ``"json"``: sapwood's versioned JSON (keeps the estimator type, classes and
            feature names). ``"xgboost"``: XGBoost's JSON model format, readable by
            ``xgboost.Booster(model_file=path)``.
        """
        check_is_fitted(self, "_model")
        if format == "json":
            text = self._sapwood_document()
        elif format == "xgboost":
            text = json.dumps(_to_xgboost(self._model, self._feature_names_for_export()))
        else:
            raise ValueError(f"unknown model format {format!r}; expected 'json' or 'xgboost'")
        _write_atomically(path, text)

    def _feature_names_for_export(self) -> list[str]:
        names = getattr(self, "feature_names_in_", None)
        return [] if names is None else [str(n) for n in names]

    def _sapwood_document(self) -> str:
        doc = json.loads(self._model.to_json())
        doc["estimator"] = {
            "class": type(self).__name__,
            "params": _jsonable_params(self.get_params()),
            "feature_names": self._feature_names_for_export(),
            "classes": _classes_to_json(getattr(self, "classes_", None)),
            "best_iteration": self.best_iteration_,
            "best_score": self.best_score_,
        }
        return json.dumps(doc)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        model = state.pop("_model", None)
        if model is not None:
            state["_model_json"] = model.to_json()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Pickles are as untrusted as model files: the model is validated by the native
        # reader, and what sits around it must agree with it.
        if not isinstance(state, dict):
            raise ValueError(f"cannot unpickle {type(self).__name__}: the state is not a dict")
        state = dict(state)
        text = state.pop("_model_json", None)
        if text is not None and not isinstance(text, str):
            raise ValueError(f"cannot unpickle {type(self).__name__}: the model is not a string")
        fitted = sorted(k for k in state if k.endswith("_") and not k.startswith("_"))
        if text is None and fitted:
            raise ValueError(
                f"cannot unpickle {type(self).__name__}: fitted attributes ({', '.join(fitted)}) "
                "but no model"
            )
        self.__dict__.update(state)
        if text is not None:
            self._model = _native.BoostModel.from_json(text)
            try:
                self._check_params()
                _check_fitted_state(self)
            except AttributeError as exc:
                raise ValueError(
                    f"cannot unpickle {type(self).__name__}: missing attribute ({exc})"
                ) from None
            except (TypeError, ValueError) as exc:
                raise ValueError(f"cannot unpickle {type(self).__name__}: {exc}") from None


class GBTRegressor(RegressorMixin, _GBTBase):
    """Gradient-boosted trees for regression, with XGBoost's semantics.

    Parameters follow XGBoost's scikit-learn wrapper (names and effective defaults).

    Parameters
    ----------
    n_estimators : int, default=100
        Number of boosting rounds.
    learning_rate : float, default=0.3
        Shrinkage of every leaf value (XGBoost's ``eta``).
    max_depth : int, default=6
        Depth of each tree.
    min_child_weight : float, default=1
        Smallest hessian sum of a child.
    gamma : float, default=0
        Splits whose loss change is below ``gamma`` are pruned (bottom-up).
    reg_lambda, reg_alpha : float, default=1, 0
        L2 and L1 regularisation of leaf weights.
    max_delta_step : float, default=0
        Largest absolute leaf weight (0 = no limit; Poisson implies 0.7).
    subsample : float, default=1
        Fraction of rows drawn for each tree.
    colsample_bytree, colsample_bylevel, colsample_bynode : float, default=1
        Fractions of columns drawn per tree, per level of the tree's set, per node of the
        level's set.
    scale_pos_weight : float, default=1
        Weight multiplier of rows with label 1 (logistic objectives).
    base_score : float, optional
        Intercept in response space; estimated as XGBoost 3.x does when ``None``.
    tree_method : {"hist", "approx", "exact"} or None, default=None
        Split finder. ``"hist"`` (the default, also ``None`` and ``"auto"``) bins every feature
        once into at most ``max_bin`` quantile bins; ``"approx"`` re-bins before every tree
        with hessian-weighted quantiles; ``"exact"`` tries every distinct value.
    max_bin : int, default=256
        Largest number of bins per feature (``hist`` and ``approx``).
    grow_policy : {"depthwise", "lossguide"}, default="depthwise"
        Split a whole level at a time, or the leaf with the largest loss reduction first
        (``hist`` and ``approx``).
    max_leaves : int, default=0
        Largest number of leaves per tree (0 = no limit).
    num_parallel_tree : int, default=1
        Trees grown per round and output group, their leaves scaled by its inverse (a
        boosted random forest when above 1).
    missing : float, default=nan
        Value treated as missing (NaN always is).
    objective : str or callable, default="reg:squarederror"
        ``reg:squarederror``, ``reg:logistic``, ``count:poisson``, ``reg:absoluteerror``,
        or a callable ``(y_true, y_pred) -> (grad, hess)`` on raw margins.
    eval_metric : str or list of str, optional
        Metrics computed on ``eval_set`` (``rmse``, ``mae``, ``logloss``, ``error``,
        ``auc``, ``mlogloss``, ``merror``, ``poisson-nloglik``).
    early_stopping_rounds : int, optional
        Stop when the last metric on the last eval set has not improved for this many
        rounds; predictions then use the best iteration.
    importance_type : str, default="gain"
        What ``feature_importances_`` reports.
    n_jobs : int, optional
        Threads (scikit-learn's convention). Results do not depend on it.
    random_state : int, RandomState or None
        Seed of row and column sampling.

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame.
    evals_result_ : dict
        ``{"validation_0": {metric: [values per round]}, ...}``.
    best_iteration_ : int
        Best round (0-based) under early stopping, else the last round.
    best_score_ : float
        Score of the best round on the last eval set (NaN without one).
    feature_importances_ : ndarray of shape (n_features,)
        Normalised importances.

    Examples
    --------
    >>> import numpy as np
    >>> from sapwood import GBTRegressor
    >>> X = np.arange(20, dtype=float).reshape(10, 2)
    >>> y = X[:, 0] * 2.0
    >>> model = GBTRegressor(n_estimators=20, tree_method="exact").fit(X, y)
    >>> bool(abs(model.predict(X[:1])[0] - y[0]) < 1.0)
    True
    """

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        return super().__sklearn_tags__()

    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        eval_set: Sequence[tuple[Any, Any]] | None = None,
        sample_weight_eval_set: Sequence[Any] | None = None,
        verbose: bool | int = False,
    ) -> GBTRegressor:
        """Fit the ensemble.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Training samples (NaN = missing; absent sparse entries = missing).
        y : array-like of shape (n_samples,)
            Targets.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative row weights.
        eval_set : list of (X, y), optional
            Datasets evaluated after every round (named ``validation_0``, ...).
        sample_weight_eval_set : list of array-like, optional
            Weights of the eval sets.
        verbose : bool or int, default=False
            Print the metrics every round (or every ``verbose`` rounds).

        Returns
        -------
        self : GBTRegressor
        """
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan",
            y_numeric=True,
        )
        X = self._replace_missing(X)
        objective = self.objective if self.objective is not None else self._default_objective
        if isinstance(objective, str) and objective in _CLASSIFICATION_OBJECTIVES:
            raise ValueError(
                f"objective {objective!r} is a classification objective; use GBTClassifier"
            )

        def encode(v: Any) -> NDArray:
            arr = np.asarray(v, dtype=np.float64).reshape(-1)
            if not np.all(np.isfinite(arr)):
                raise ValueError("eval_set y contains NaN or infinity")
            return native_array(arr, dtype=np.float32)

        self._fit(
            X,
            encode(y),
            objective,
            0,
            sample_weight,
            eval_set,
            sample_weight_eval_set,
            verbose,
            encode,
        )
        return self

    def predict(
        self,
        X: Any,
        output_margin: bool = False,
        iteration_range: tuple[int, int] | None = None,
    ) -> NDArray:
        """Predict targets.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Input samples.
        output_margin : bool, default=False
            Return raw margins (before the objective's transform).
        iteration_range : tuple of int, optional
            Rounds ``[begin, end)``; ``(0, 0)`` means all. Default: up to the best round.

        Returns
        -------
        y : ndarray of shape (n_samples,), dtype float32
        """
        if output_margin:
            out = self._margin(X, iteration_range)
        else:
            out = self._response(X, iteration_range)
        return out[:, 0]


class GBTClassifier(ClassifierMixin, _GBTBase):
    """Gradient-boosted trees for classification, with XGBoost's semantics.

    Labels may be of any type (strings too); ``classes_`` holds them sorted. Two classes
    train ``binary:logistic``, more train ``multi:softprob`` (or ``multi:softmax`` when
    asked). Parameters are those of :class:`GBTRegressor`.

    Parameters
    ----------
    n_estimators, learning_rate, max_depth, min_child_weight, gamma, reg_lambda, reg_alpha, \
max_delta_step, subsample, colsample_bytree, colsample_bylevel, colsample_bynode, \
scale_pos_weight, base_score, tree_method, max_bin, grow_policy, max_leaves, \
num_parallel_tree, missing, eval_metric, early_stopping_rounds, importance_type, n_jobs, \
random_state
        As in :class:`GBTRegressor`.
    objective : str or callable, optional
        ``binary:logistic``, ``multi:softprob`` or ``multi:softmax``; chosen from the number
        of classes when ``None``; a callable ``(y_true, y_pred) -> (grad, hess)`` receives
        encoded labels and raw margins.

    Attributes
    ----------
    classes_ : ndarray
        The class labels.
    n_classes_ : int
        Number of classes.
    evals_result_, best_iteration_, best_score_, feature_importances_, n_features_in_
        As in :class:`GBTRegressor`.

    Examples
    --------
    >>> import numpy as np
    >>> from sapwood import GBTClassifier
    >>> X = np.arange(40, dtype=float).reshape(20, 2)
    >>> y = np.where(X[:, 0] > 18, "big", "small")
    >>> clf = GBTClassifier(n_estimators=10, tree_method="exact").fit(X, y)
    >>> clf.predict(X[:2]).tolist()
    ['small', 'small']
    """

    _default_objective = "binary:logistic"

    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        eval_set: Sequence[tuple[Any, Any]] | None = None,
        sample_weight_eval_set: Sequence[Any] | None = None,
        verbose: bool | int = False,
    ) -> GBTClassifier:
        """Fit the ensemble.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Training samples (NaN = missing; absent sparse entries = missing).
        y : array-like of shape (n_samples,)
            Class labels of any type.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative row weights.
        eval_set : list of (X, y), optional
            Datasets evaluated after every round; labels as in ``y``.
        sample_weight_eval_set : list of array-like, optional
            Weights of the eval sets.
        verbose : bool or int, default=False
            Print the metrics every round (or every ``verbose`` rounds).

        Returns
        -------
        self : GBTClassifier
        """
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan",
        )
        X = self._replace_missing(X)
        check_classification_targets(y)
        encoder = LabelEncoder()
        codes = encoder.fit_transform(y)
        self.classes_ = encoder.classes_
        self.n_classes_ = len(self.classes_)
        if self.n_classes_ < 2:
            raise ValueError(
                f"GBTClassifier needs at least 2 classes in y, got 1 class: {self.classes_[0]!r}"
            )
        objective = self.objective
        if objective is None:
            objective = "binary:logistic" if self.n_classes_ == 2 else "multi:softprob"
        if isinstance(objective, str):
            if objective not in _CLASSIFICATION_OBJECTIVES:
                if objective in _REGRESSION_OBJECTIVES:
                    raise ValueError(
                        f"objective {objective!r} is a regression objective; use GBTRegressor"
                    )
                raise ValueError(
                    f"unknown objective {objective!r}; expected one of "
                    f"{', '.join(_CLASSIFICATION_OBJECTIVES)} or a callable"
                )
            if objective == "binary:logistic" and self.n_classes_ > 2:
                objective = "multi:softprob"
            if objective.startswith("multi:") and self.n_classes_ == 2:
                num_class = 2
            else:
                num_class = 0 if objective == "binary:logistic" else self.n_classes_
        else:
            num_class = 0 if self.n_classes_ == 2 else self.n_classes_

        def encode(v: Any) -> NDArray:
            arr = np.asarray(v).reshape(-1)
            unknown = ~np.isin(arr, self.classes_)
            if np.any(unknown):
                raise ValueError(
                    f"eval_set y has labels not seen in y: {np.unique(arr[unknown])[:5]!r}"
                )
            return native_array(encoder.transform(arr), dtype=np.float32)

        self._fit(
            X,
            native_array(codes, dtype=np.float32),
            objective,
            num_class,
            sample_weight,
            eval_set,
            sample_weight_eval_set,
            verbose,
            encode,
        )
        return self

    def predict_proba(self, X: Any, iteration_range: tuple[int, int] | None = None) -> NDArray:
        """Class probabilities.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Input samples.
        iteration_range : tuple of int, optional
            Rounds ``[begin, end)``; ``(0, 0)`` means all. Default: up to the best round.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), dtype float32
        """
        p = self._response(X, iteration_range)
        if p.shape[1] == 1:
            p1 = p[:, 0]
            return np.column_stack([1.0 - p1, p1]).astype(np.float32)
        return p

    def predict(
        self,
        X: Any,
        output_margin: bool = False,
        iteration_range: tuple[int, int] | None = None,
    ) -> NDArray:
        """Predict class labels (or raw margins).

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Input samples.
        output_margin : bool, default=False
            Return raw margins: shape (n_samples,) for two classes, else
            (n_samples, n_classes).
        iteration_range : tuple of int, optional
            Rounds ``[begin, end)``; ``(0, 0)`` means all. Default: up to the best round.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        if output_margin:
            m = self._margin(X, iteration_range)
            return m[:, 0] if m.shape[1] == 1 else m
        p = self._response(X, iteration_range)
        codes = (p[:, 0] > 0.5).astype(np.intp) if p.shape[1] == 1 else np.argmax(p, axis=1)
        return self.classes_[codes]


_RF_DOC = """
    Parameters
    ----------
    n_estimators : int, default=100
        Number of trees, all grown in one round (XGBoost's ``num_parallel_tree``).
    learning_rate : float, default=1
        Shrinkage; the leaves of the round's trees are further scaled by ``1 / n_estimators``,
        so predictions average the trees.
    subsample : float, default=0.8
        Fraction of rows drawn (without replacement) for each tree.
    colsample_bynode : float, default=0.8
        Fraction of columns drawn at each node.
    reg_lambda : float, default=1e-5
        L2 regularisation of leaf weights.
    max_depth, min_child_weight, gamma, reg_alpha, max_delta_step, colsample_bytree, \\
colsample_bylevel, scale_pos_weight, base_score, tree_method, max_bin, grow_policy, \\
max_leaves, missing, objective, eval_metric, early_stopping_rounds, importance_type, n_jobs, \\
random_state
        As in the boosted estimators. ``early_stopping_rounds`` has no meaning for a single
        round and must stay ``None``.

    The model exports to XGBoost's JSON like the boosted ones (``num_parallel_tree`` =
    ``n_estimators``, one iteration), and XGBoost predicts the same from it.
"""


class _RFMixin:
    """A random forest as XGBoost grows it: one round of ``n_estimators`` parallel trees."""

    n_estimators: int
    early_stopping_rounds: int | None

    def _forest_shape(self) -> tuple[int, int]:
        if self.early_stopping_rounds is not None:
            raise ValueError("early_stopping_rounds is not supported by random forests")
        return 1, int(self.n_estimators)


class RFRegressor(_RFMixin, GBTRegressor):
    """Random forest for regression, grown by the boosting engine (XGBoost's random-forest
    mode: ``XGBRFRegressor``)."""

    def __init__(
        self,
        *,
        n_estimators: int = 100,
        learning_rate: float = 1.0,
        max_depth: int = 6,
        min_child_weight: float = 1.0,
        gamma: float = 0.0,
        reg_lambda: float = 1e-5,
        reg_alpha: float = 0.0,
        max_delta_step: float = 0.0,
        subsample: float = 0.8,
        colsample_bytree: float = 1.0,
        colsample_bylevel: float = 1.0,
        colsample_bynode: float = 0.8,
        scale_pos_weight: float = 1.0,
        base_score: float | None = None,
        tree_method: str | None = None,
        max_bin: int = 256,
        grow_policy: str = "depthwise",
        max_leaves: int = 0,
        missing: float = np.nan,
        objective: str | Callable | None = None,
        eval_metric: str | Sequence[str] | None = None,
        early_stopping_rounds: int | None = None,
        importance_type: str = "gain",
        n_jobs: int | None = None,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        _store_params(self, locals())


class RFClassifier(_RFMixin, GBTClassifier):
    """Random forest for classification, grown by the boosting engine (XGBoost's
    random-forest mode: ``XGBRFClassifier``)."""

    def __init__(
        self,
        *,
        n_estimators: int = 100,
        learning_rate: float = 1.0,
        max_depth: int = 6,
        min_child_weight: float = 1.0,
        gamma: float = 0.0,
        reg_lambda: float = 1e-5,
        reg_alpha: float = 0.0,
        max_delta_step: float = 0.0,
        subsample: float = 0.8,
        colsample_bytree: float = 1.0,
        colsample_bylevel: float = 1.0,
        colsample_bynode: float = 0.8,
        scale_pos_weight: float = 1.0,
        base_score: float | None = None,
        tree_method: str | None = None,
        max_bin: int = 256,
        grow_policy: str = "depthwise",
        max_leaves: int = 0,
        missing: float = np.nan,
        objective: str | Callable | None = None,
        eval_metric: str | Sequence[str] | None = None,
        early_stopping_rounds: int | None = None,
        importance_type: str = "gain",
        n_jobs: int | None = None,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        _store_params(self, locals())


def _store_params(estimator: Any, params: dict[str, Any]) -> None:
    """Store constructor arguments as same-named attributes (scikit-learn's contract)."""
    for name, value in params.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


RFRegressor.__doc__ = (RFRegressor.__doc__ or "") + _RF_DOC
RFClassifier.__doc__ = (RFClassifier.__doc__ or "") + _RF_DOC


# --------------------------------------------------------------------------------- tables
_DEFAULT_METRIC = {
    "reg:squarederror": "rmse",
    "reg:logistic": "rmse",
    "binary:logistic": "logloss",
    "multi:softprob": "mlogloss",
    "multi:softmax": "mlogloss",
    "count:poisson": "poisson-nloglik",
    "reg:absoluteerror": "mae",
    "custom": "rmse",
}
_METRICS = ("rmse", "mae", "logloss", "error", "auc", "mlogloss", "merror", "poisson-nloglik")
_MAXIMIZE = ("auc",)
_IMPORTANCE_TYPES = ("weight", "gain", "total_gain", "cover", "total_cover")


# --------------------------------------------------------------------------------- model I/O
# Model files and pickles are untrusted input. Every field read below is checked for its
# type and range (counts and indices against each other happen in the native validator),
# and each failure is a ValueError naming the field: a corrupt file must never surface as an
# OverflowError, KeyError or TypeError from deep inside the loader, nor allocate memory in
# proportion to a number it declares before that number is known to be plausible.
_MISSING = object()
_F32_MAX = float(np.finfo(np.float32).max)
_I32_MAX = 2**31 - 1
_U32_MAX = 2**32 - 1
_INT_TEXT = re.compile(r"[+-]?[0-9]{1,30}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def _field(obj: Any, path: str, key: str, default: Any = _MISSING) -> Any:
    """``obj[key]`` where ``obj`` (found at ``path``) must be a JSON object."""
    if not isinstance(obj, dict):
        raise ValueError(f"{path or 'the document'} must be an object, got {_kind(obj)}")
    if key in obj:
        return obj[key]
    if default is _MISSING:
        raise ValueError(f"{_join(path, key)} is missing")
    return default


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _as_list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{path} must be a list, got {_kind(value)}")
    return value


def _as_str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{path} must be a string, got {_kind(value)}")
    return value


def _as_int(value: Any, path: str, low: int, high: int) -> int:
    """An integer field, written as a JSON number or (as XGBoost writes parameters) a string."""
    v: int | None = None
    if isinstance(value, bool):
        v = None
    elif isinstance(value, int):
        v = value
    elif isinstance(value, float) and value.is_integer():
        v = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if _INT_TEXT.fullmatch(text):
            v = int(text)
        else:
            try:
                number = float(text)
            except ValueError:
                number = math.nan
            if number.is_integer():
                v = int(number)
    if v is None:
        raise ValueError(f"{path} must be an integer, got {value!r:.40}")
    if not low <= v <= high:
        raise ValueError(f"{path} = {v} is outside the valid range [{low}, {high}]")
    return v


def _as_float(value: Any, path: str, *, allow_nan: bool = False) -> float:
    """A finite number (float32 range), written as a JSON number or a string."""
    v = math.nan
    ok = False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            v, ok = float(value), True
        except OverflowError:
            ok = False
    elif isinstance(value, str):
        try:
            v, ok = float(value.strip()), True
        except ValueError:
            ok = False
    if not ok:
        raise ValueError(f"{path} must be a number, got {value!r:.40}")
    if math.isnan(v) and allow_nan:
        return v
    if not (math.isfinite(v) and abs(v) <= _F32_MAX):
        raise ValueError(f"{path} = {value!r:.40} is not a finite float32 number")
    return v


def _int_list(value: Any, path: str, low: int, high: int) -> list[int]:
    items = _as_list(value, path)
    # The common case, plain in-range integers, in one pass at C speed.
    if all(type(v) is int for v in items) and (
        not items or (low <= min(items) and max(items) <= high)
    ):
        return items
    return [_as_int(v, f"{path}[{i}]", low, high) for i, v in enumerate(items)]


def _float_list(value: Any, path: str) -> list[float]:
    items = _as_list(value, path)
    if all(type(v) is float for v in items):
        arr = np.asarray(items, dtype=np.float64)
        if arr.size == 0 or (np.isfinite(arr).all() and np.abs(arr).max() <= _F32_MAX):
            return items
    return [_as_float(v, f"{path}[{i}]") for i, v in enumerate(items)]


def _bool_list(value: Any, path: str) -> list[bool]:
    items = _as_list(value, path)
    out = []
    for i, v in enumerate(items):
        if type(v) is bool or (type(v) is int and v in (0, 1)):
            out.append(bool(v))
        else:
            raise ValueError(f"{path}[{i}] must be 0, 1, true or false, got {v!r:.40}")
    return out


def _write_atomically(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory, flushed to
    disk and renamed over the target, so that an interrupted save leaves either the old file
    or the new one, never a truncated model; the temporary file is removed on failure."""
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(target)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates the file readable by its owner only; give it the permissions an
        # ordinary open() would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if hasattr(os, "O_DIRECTORY"):
        # The rename itself is durable only once the directory is flushed too.
        with contextlib.suppress(OSError):
            dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


def _jsonable_params(params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in params.items():
        if v is None or isinstance(v, (bool, int, float, str)):
            out[k] = None if isinstance(v, float) and math.isnan(v) else v
        elif isinstance(v, (np.integer, np.floating)):
            out[k] = v.item()
    return out


def _classes_to_json(classes: Any) -> Any:
    if classes is None:
        return None
    return {"dtype": str(classes.dtype), "values": classes.tolist()}


def _classes_from_json(doc: Any, path: str = "estimator.classes") -> Any:
    if doc is None:
        return None
    dtype = _as_str(_field(doc, path, "dtype"), f"{path}.dtype")
    values = _as_list(_field(doc, path, "values"), f"{path}.values")
    for i, v in enumerate(values):
        if v is None or isinstance(v, (list, dict)):
            raise ValueError(f"{path}.values[{i}] must be a label, got {_kind(v)}")
    if dtype.startswith("<U") or dtype.startswith("|S") or dtype == "object":
        return np.asarray(values, dtype=object if dtype == "object" else None)
    try:
        kind = np.dtype(dtype).kind
    except TypeError as exc:
        raise ValueError(f"{path}.dtype = {dtype!r:.40} is not a NumPy dtype") from exc
    if kind not in "biuf":
        raise ValueError(f"{path}.dtype = {dtype!r:.40} is not a label dtype")
    try:
        return np.asarray(values, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"{path}.values do not fit dtype {dtype}: {exc}") from exc


def _f32(v: float) -> float:
    return float(np.float32(v))


def _to_xgboost(model: Any, feature_names: list[str]) -> dict[str, Any]:
    """sapwood model -> XGBoost JSON document (as XGBoost 3.x writes it)."""
    doc = json.loads(model.to_json())
    objective = doc["objective"]
    k = max(doc["num_class"], 1)
    if objective == "custom":
        objective = "reg:squarederror"
    if objective in ("reg:squarederror", "reg:logistic", "binary:logistic"):
        obj_block: dict[str, Any] = {
            "name": objective,
            "reg_loss_param": {"scale_pos_weight": repr(_f32(doc.get("scale_pos_weight", 1.0)))},
        }
    elif objective == "count:poisson":
        obj_block = {
            "name": objective,
            "poisson_regression_param": {
                "max_delta_step": repr(_f32(doc["objective_max_delta_step"]))
            },
        }
    elif objective.startswith("multi:"):
        obj_block = {"name": objective, "softmax_multiclass_param": {"num_class": str(k)}}
    else:
        obj_block = {"name": objective}
    trees = []
    for t, tree in enumerate(doc["trees"]):
        n = len(tree["left"])
        parents = [_XGB_DELETED if p < 0 else int(p) for p in tree["parent"]]
        trees.append(
            {
                "id": t,
                "tree_param": {
                    "num_nodes": str(n),
                    "num_feature": str(doc["num_feature"]),
                    "size_leaf_vector": "1",
                    "num_deleted": str(sum(1 for s in tree["split_index"] if s == _XGB_DELETED)),
                },
                "left_children": [int(v) for v in tree["left"]],
                "right_children": [int(v) for v in tree["right"]],
                "parents": parents,
                "split_indices": [int(v) for v in tree["split_index"]],
                "split_conditions": [float(v) for v in tree["split_cond"]],
                "default_left": [1 if v else 0 for v in tree["default_left"]],
                "split_type": [0] * n,
                "base_weights": [float(v) for v in tree["base_weight"]],
                "loss_changes": [float(v) for v in tree["loss_chg"]],
                "sum_hessian": [float(v) for v in tree["sum_hess"]],
                "categories": [],
                "categories_nodes": [],
                "categories_segments": [],
                "categories_sizes": [],
            }
        )
    n_trees = len(trees)
    npt = int(doc.get("num_parallel_tree", 1))
    base = ",".join(repr(_f32(b)) for b in doc["base_score"])
    return {
        "version": [3, 2, 0],
        "learner": {
            "attributes": {str(a): str(b) for a, b in doc.get("attributes", {}).items()},
            "feature_names": list(feature_names),
            "feature_types": ["float"] * len(feature_names),
            "learner_model_param": {
                "base_score": f"[{base}]",
                "boost_from_average": "1",
                "num_class": str(doc["num_class"]),
                "num_feature": str(doc["num_feature"]),
                "num_target": "1",
            },
            "objective": obj_block,
            "gradient_booster": {
                "name": "gbtree",
                "model": {
                    "gbtree_model_param": {
                        "num_trees": str(n_trees),
                        "num_parallel_tree": str(npt),
                    },
                    "tree_info": [int(v) for v in doc["tree_info"]],
                    "iteration_indptr": list(range(0, n_trees + 1, k * npt)),
                    "trees": trees,
                },
            },
        },
    }


def _parse_base_score(
    text: Any, path: str = "learner.learner_model_param.base_score"
) -> list[float]:
    """XGBoost's intercept: ``"5E-1"``, ``"[5E-1,2E-1]"`` (XGBoost 3) or plain numbers."""
    if isinstance(text, list):
        return [_as_float(v, f"{path}[{i}]") for i, v in enumerate(text)]
    if not isinstance(text, str):
        return [_as_float(text, path)]
    s = text.strip()
    if s.startswith("[") and s.endswith("]"):
        s = s[1:-1]
    return [_as_float(v, f"{path}[{i}]") for i, v in enumerate(s.split(",")) if v.strip()]


def _xgboost_tree(tree: Any, path: str, t: int) -> dict[str, Any]:
    """One XGBoost tree -> sapwood's node arrays (indices checked by the native validator)."""
    # XGBoost places each tree at the position its id names.
    tree_id = _as_int(_field(tree, path, "id", t), f"{path}.id", 0, _I32_MAX)
    if tree_id != t:
        raise ValueError(f"{path}.id = {tree_id}, expected {t}")
    tparam = _field(tree, path, "tree_param")
    tp_path = f"{path}.tree_param"
    leaf_size = _field(tparam, tp_path, "size_leaf_vector", "1")
    if _as_int(leaf_size, f"{tp_path}.size_leaf_vector", 0, _I32_MAX) > 1:
        raise ValueError(f"{tp_path}.size_leaf_vector > 1: vector-leaf trees are not supported")
    left = _int_list(_field(tree, path, "left_children"), f"{path}.left_children", -1, _I32_MAX)
    n = len(left)
    n_nodes = _as_int(_field(tparam, tp_path, "num_nodes"), f"{tp_path}.num_nodes", 1, _I32_MAX)
    if n_nodes != n:
        raise ValueError(f"{tp_path}.num_nodes = {n_nodes}, but left_children has {n} entries")
    split_type = _int_list(_field(tree, path, "split_type", []), f"{path}.split_type", 0, 255)
    for i, v in enumerate(split_type):
        if v != 0:
            raise ValueError(
                f"{path}.split_type[{i}] = {v}: categorical splits in XGBoost models are not "
                "supported"
            )
    for key in ("categories", "categories_nodes", "categories_segments", "categories_sizes"):
        if _as_list(_field(tree, path, key, []), f"{path}.{key}"):
            raise ValueError(
                f"{path}.{key} is not empty: categorical splits in XGBoost models are not supported"
            )
    split_index = _int_list(
        _field(tree, path, "split_indices"), f"{path}.split_indices", 0, _U32_MAX
    )
    n_deleted = _as_int(_field(tparam, tp_path, "num_deleted", "0"), f"{tp_path}.num_deleted", 0, n)
    marked = sum(1 for s in split_index if s == _XGB_DELETED)
    if n_deleted != marked:
        raise ValueError(
            f"{tp_path}.num_deleted = {n_deleted}, but split_indices marks {marked} deleted nodes"
        )
    parents = _int_list(_field(tree, path, "parents"), f"{path}.parents", -1, _I32_MAX)
    return {
        "left": left,
        "right": _int_list(
            _field(tree, path, "right_children"), f"{path}.right_children", -1, _I32_MAX
        ),
        # XGBoost marks the root's parent with its deleted-node marker.
        "parent": [-1 if p == _XGB_DELETED else p for p in parents],
        "split_index": split_index,
        "split_cond": _float_list(
            _field(tree, path, "split_conditions"), f"{path}.split_conditions"
        ),
        "default_left": _bool_list(_field(tree, path, "default_left"), f"{path}.default_left"),
        "base_weight": _float_list(_field(tree, path, "base_weights"), f"{path}.base_weights"),
        "loss_chg": _float_list(_field(tree, path, "loss_changes"), f"{path}.loss_changes"),
        "sum_hess": _float_list(_field(tree, path, "sum_hessian"), f"{path}.sum_hessian"),
    }


# sapwood's node array names, as the native validator reports them, and XGBoost's.
_XGB_TREE_FIELDS = {
    "left": "left_children",
    "right": "right_children",
    "parent": "parents",
    "split_index": "split_indices",
    "split_cond": "split_conditions",
    "base_weight": "base_weights",
    "loss_chg": "loss_changes",
    "sum_hess": "sum_hessian",
}


def _from_xgboost(doc: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
    """XGBoost JSON document -> (sapwood model JSON, estimator info, feature names)."""
    learner = _field(doc, "", "learner")
    booster = _field(learner, "learner", "gradient_booster")
    name = _field(booster, "learner.gradient_booster", "name", None)
    if name != "gbtree":
        raise ValueError(f"only gbtree boosters can be loaded, this file holds {name!r:.40}")
    mpath = "learner.gradient_booster.model"
    model = _field(booster, "learner.gradient_booster", "model")
    objective_block = _field(learner, "learner", "objective")
    objective = _field(objective_block, "learner.objective", "name")
    supported = _REGRESSION_OBJECTIVES + _CLASSIFICATION_OBJECTIVES
    if objective not in supported:
        raise ValueError(
            f"learner.objective.name: XGBoost objective {objective!r:.40} is not supported; "
            f"sapwood reads {', '.join(supported)}"
        )
    ppath = "learner.learner_model_param"
    mparam = _field(learner, "learner", "learner_model_param")
    limits = _native.BoostModel
    num_class = _as_int(
        _field(mparam, ppath, "num_class", "0"), f"{ppath}.num_class", 0, limits.MAX_NUM_CLASS
    )
    multi = objective.startswith("multi:")
    if multi and num_class < 2:
        raise ValueError(f"{ppath}.num_class = {num_class}: a multi-class model needs >= 2")
    if not multi:
        num_class = 0
    num_feature = _as_int(
        _field(mparam, ppath, "num_feature"), f"{ppath}.num_feature", 0, limits.MAX_NUM_FEATURE
    )
    if _as_int(_field(mparam, ppath, "num_target", "1"), f"{ppath}.num_target", 0, _I32_MAX) > 1:
        raise ValueError(f"{ppath}.num_target > 1: multi-target models are not supported")
    k = max(num_class, 1)
    gparam = _field(model, mpath, "gbtree_model_param")
    gpath = f"{mpath}.gbtree_model_param"
    npt = _as_int(
        _field(gparam, gpath, "num_parallel_tree", "1"),
        f"{gpath}.num_parallel_tree",
        1,
        limits.MAX_NUM_PARALLEL_TREE,
    )
    base = _parse_base_score(_field(mparam, ppath, "base_score", "0.5"))
    if multi and len(base) == 1:
        base = base * k
    if len(base) != k:
        raise ValueError(
            f"{ppath}.base_score has {len(base)} values, expected "
            + (f"1 or num_class = {k}" if multi else "1")
        )
    raw_trees = _as_list(_field(model, mpath, "trees"), f"{mpath}.trees")
    n_trees = len(raw_trees)
    declared = _as_int(
        _field(gparam, gpath, "num_trees", str(n_trees)), f"{gpath}.num_trees", 0, _I32_MAX
    )
    if declared != n_trees:
        raise ValueError(f"{gpath}.num_trees = {declared}, but {mpath}.trees holds {n_trees}")
    tree_info = _int_list(_field(model, mpath, "tree_info"), f"{mpath}.tree_info", 0, _U32_MAX)
    indptr = _field(model, mpath, "iteration_indptr", None)
    if indptr is not None:
        per = k * npt
        got = _int_list(indptr, f"{mpath}.iteration_indptr", 0, _I32_MAX)
        if n_trees % per or got != list(range(0, n_trees + 1, per)):
            raise ValueError(
                f"{mpath}.iteration_indptr does not split the {n_trees} trees into iterations "
                f"of num_class * num_parallel_tree = {per}"
            )
    trees = [_xgboost_tree(t, f"{mpath}.trees[{i}]", i) for i, t in enumerate(raw_trees)]
    mds = None
    if objective == "count:poisson":
        block = _field(objective_block, "learner.objective", "poisson_regression_param", {})
        mds = _as_float(
            _field(block, "learner.objective.poisson_regression_param", "max_delta_step", "0.7"),
            "learner.objective.poisson_regression_param.max_delta_step",
        )
    block = _field(objective_block, "learner.objective", "reg_loss_param", {})
    spw = _as_float(
        _field(block, "learner.objective.reg_loss_param", "scale_pos_weight", "1"),
        "learner.objective.reg_loss_param.scale_pos_weight",
    )
    attributes = _field(learner, "learner", "attributes", {})
    if not isinstance(attributes, dict):
        raise ValueError(f"learner.attributes must be an object, got {_kind(attributes)}")
    for key, value in attributes.items():
        if value is None or isinstance(value, (list, dict)):
            raise ValueError(f"learner.attributes.{key} must be a string, got {_kind(value)}")
    names = [
        _as_str(v, f"learner.feature_names[{i}]")
        for i, v in enumerate(
            _as_list(_field(learner, "learner", "feature_names", []), "learner.feature_names")
        )
    ]
    if names and len(names) != num_feature:
        raise ValueError(
            f"learner.feature_names has {len(names)} names, but num_feature = {num_feature}"
        )
    out = {
        "format": _SAPWOOD_FORMAT,
        "version": 1,
        "objective": objective,
        "num_class": num_class,
        "num_feature": num_feature,
        "base_score": base,
        "trees": trees,
        "tree_info": tree_info,
        "num_parallel_tree": npt,
        "objective_max_delta_step": mds if mds is not None else 0.0,
        "scale_pos_weight": spw,
        "attributes": {str(a): str(b) for a, b in attributes.items()},
    }
    info: dict[str, Any] = {}
    if "best_iteration" in attributes:
        info["best_iteration"] = _as_int(
            attributes["best_iteration"], "learner.attributes.best_iteration", -1, _I32_MAX
        )
    if "best_score" in attributes:
        info["best_score"] = _as_float(
            attributes["best_score"], "learner.attributes.best_score", allow_nan=True
        )
    return json.dumps(out, allow_nan=False), info, names


def _native_model(text: str, *, xgboost: bool) -> Any:
    """The native model of a sapwood JSON document; the validator's field names are
    translated back to XGBoost's when the document was converted from an XGBoost file."""
    try:
        return _native.BoostModel.from_json(text)
    except ValueError as exc:
        message = str(exc).removeprefix("cannot read model: ")
        if xgboost:
            message = re.sub(
                r"\btrees\[(\d+)\]\.(\w+)",
                lambda m: (
                    "learner.gradient_booster.model.trees"
                    f"[{m[1]}].{_XGB_TREE_FIELDS.get(m[2], m[2])}"
                ),
                message,
            )
            message = re.sub(
                r"\b(tree_info)\b", "learner.gradient_booster.model.tree_info", message
            )
        raise ValueError(message) from None


def _first_non_finite(value: Any, path: str) -> str:
    """The path of the first NaN or infinity in a parsed JSON document."""
    items: Any = ()
    if isinstance(value, float) and not math.isfinite(value):
        return path
    if isinstance(value, dict):
        items = ((_join(path, str(k)), v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(value))
    for sub_path, sub in items:
        found = _first_non_finite(sub, sub_path)
        if found:
            return found
    return ""


_ESTIMATORS = ("GBTRegressor", "GBTClassifier", "RFRegressor", "RFClassifier")


def _estimator_from_info(info: Any, model: Any, names: list[str]) -> _GBTBase:
    """A fitted estimator around ``model`` from the ``estimator`` block of a sapwood file
    (or what was read from an XGBoost file), every field checked."""
    if not isinstance(info, dict):
        raise ValueError(f"estimator must be an object, got {_kind(info)}")
    cls_name = info.get("class")
    if cls_name is None:
        cls_name = (
            "GBTClassifier" if model.objective in _CLASSIFICATION_OBJECTIVES else "GBTRegressor"
        )
    if cls_name not in _ESTIMATORS:
        raise ValueError(
            f"estimator.class = {cls_name!r:.40} is not one of {', '.join(_ESTIMATORS)}"
        )
    cls = {c.__name__: c for c in (GBTRegressor, GBTClassifier, RFRegressor, RFClassifier)}[
        cls_name
    ]
    est = cls()
    params = info.get("params")
    if params is not None:
        if not isinstance(params, dict):
            raise ValueError(f"estimator.params must be an object, got {_kind(params)}")
        valid = est.get_params()
        est.set_params(**{k: v for k, v in params.items() if k in valid})
        if "missing" in params and params["missing"] is None:
            est.set_params(missing=np.nan)
        try:
            est._check_params()
        except (TypeError, ValueError) as exc:
            raise ValueError(f"estimator.params: {exc}") from None
    est._model = model
    est.n_features_in_ = model.num_feature
    if names:
        est.feature_names_in_ = np.asarray(names, dtype=object)
    attrs = model.attributes
    best = info.get("best_iteration", attrs.get("best_iteration"))
    est.best_iteration_ = (
        model.n_iterations - 1
        if best is None
        else _as_int(best, "estimator.best_iteration", -1, _I32_MAX)
    )
    score = info.get("best_score", attrs.get("best_score"))
    est.best_score_ = (
        float("nan") if score is None else _as_float(score, "estimator.best_score", allow_nan=True)
    )
    est.evals_result_ = {}
    if issubclass(cls, GBTClassifier):
        classes = _classes_from_json(info.get("classes"))
        if classes is None:
            classes = np.arange(max(model.num_class, 2))
        est.classes_ = classes
        est.n_classes_ = len(classes)
    _check_fitted_state(est)
    return est


def _check_fitted_state(est: _GBTBase) -> None:
    """Checks that what a model file or pickle restored around the native model agrees with
    it, so that predicting, importances and saving work or say why they cannot."""
    model = est._model
    missing = est.missing
    if missing is not None and (
        isinstance(missing, bool) or not isinstance(missing, (numbers.Real, np.floating))
    ):
        raise ValueError(f"the parameter missing must be a number, got {_kind(missing)}")
    n_features = getattr(est, "n_features_in_", model.num_feature)
    if isinstance(n_features, bool) or not isinstance(n_features, numbers.Integral):
        raise ValueError(f"n_features_in_ must be an integer, got {_kind(n_features)}")
    if n_features != model.num_feature:
        raise ValueError(
            f"n_features_in_ = {n_features}, but the model has num_feature = {model.num_feature}"
        )
    names = getattr(est, "feature_names_in_", None)
    if names is not None and (
        not isinstance(names, np.ndarray) or names.ndim != 1 or len(names) != model.num_feature
    ):
        raise ValueError(f"feature_names_in_ must hold one name per feature ({model.num_feature})")
    best = getattr(est, "best_iteration_", None)
    if (
        isinstance(best, bool)
        or not isinstance(best, numbers.Integral)
        or not -1 <= best < model.n_iterations
    ):
        raise ValueError(
            f"best_iteration = {best!r:.40} is outside the model's {model.n_iterations} iterations"
        )
    if isinstance(est, GBTClassifier):
        classes = getattr(est, "classes_", None)
        expected = max(model.num_class, 2)
        if not isinstance(classes, np.ndarray) or classes.ndim != 1 or len(classes) != expected:
            raise ValueError(
                f"classes must hold {expected} labels, one per class of the model "
                f"(num_class = {model.num_class})"
            )
        if getattr(est, "n_classes_", expected) != expected:
            raise ValueError(f"n_classes_ must be {expected}")
        if model.objective not in _CLASSIFICATION_OBJECTIVES and model.objective != "custom":
            raise ValueError(
                f"a {type(est).__name__} needs a classification objective, the model has "
                f"{model.objective}"
            )


def load_model(path: str | os.PathLike[str]) -> _GBTBase:
    """Read a model written by ``save_model`` (either format) or by XGBoost (JSON, xgboost ≥ 2).

    Model files are treated as untrusted: every count and index is checked against the
    others and against the limits of the format (``num_feature`` at most 2^31 - 1,
    ``num_class`` and ``num_parallel_tree`` at most 2^24) before anything is sized by it.

    Parameters
    ----------
    path : str or path-like
        The model file.

    Returns
    -------
    estimator : GBTRegressor, GBTClassifier, RFRegressor or RFClassifier
        A fitted estimator. XGBoost classification models give a ``GBTClassifier`` with
        ``classes_ = [0, 1, ...]``.

    Raises
    ------
    ValueError
        If the file is not a readable model; the message names the field at fault.
    """
    where = os.fspath(path)
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        text = raw.decode("utf-8")
        doc = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"cannot read model {where!r}: not a JSON model file") from exc
    if not isinstance(doc, dict):
        raise ValueError(f"cannot read model {where!r}: not a JSON model file")
    try:
        if doc.get("format") == _SAPWOOD_FORMAT:
            info = doc.get("estimator") or {}
            # The estimator block is Python's (its best_score may be NaN, which strict JSON
            # readers refuse); the native reader gets the rest.
            model_doc = {k: v for k, v in doc.items() if k != "estimator"}
            try:
                text = json.dumps(model_doc, allow_nan=False)
            except ValueError:
                raise ValueError(
                    f"{_first_non_finite(model_doc, '')} is not a finite number"
                ) from None
            model = _native_model(text, xgboost=False)
            names = [
                _as_str(v, f"estimator.feature_names[{i}]")
                for i, v in enumerate(
                    _as_list(
                        _field(info, "estimator", "feature_names", []), "estimator.feature_names"
                    )
                )
            ]
        elif "learner" in doc:
            converted, info, names = _from_xgboost(doc)
            model = _native_model(converted, xgboost=True)
        else:
            raise ValueError("neither a sapwood nor an XGBoost model")
        return _estimator_from_info(info, model, names)
    except ValueError as exc:
        raise ValueError(f"cannot read model {where!r}: {exc}") from None
    except (KeyError, TypeError, AttributeError, IndexError, OverflowError, RecursionError) as exc:
        # Every field above is checked explicitly; this keeps any case missed a ValueError.
        raise ValueError(
            f"cannot read model {where!r}: bad field ({type(exc).__name__}: {exc})"
        ) from exc
