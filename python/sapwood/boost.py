"""Gradient-boosted trees with XGBoost's semantics: ``GBTRegressor``, ``GBTClassifier`` and
``load_model``.

Training runs in Rust (``sapwood._native.BoostTrainer``) one boosting round at a time; this
module validates input, drives the rounds (evaluation sets, early stopping, custom objectives)
and converts models to and from XGBoost's JSON format.
"""

from __future__ import annotations

import json
import math
import numbers
import os
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
                grad = np.ascontiguousarray(grad, dtype=np.float32).reshape(-1)
                hess = np.ascontiguousarray(hess, dtype=np.float32).reshape(-1)
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
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)

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
        text = state.pop("_model_json", None)
        self.__dict__.update(state)
        if text is not None:
            self._model = _native.BoostModel.from_json(text)


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
            return np.ascontiguousarray(arr, dtype=np.float32)

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
            return np.ascontiguousarray(encoder.transform(arr), dtype=np.float32)

        self._fit(
            X,
            np.ascontiguousarray(codes, dtype=np.float32),
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


def _classes_from_json(doc: Any) -> Any:
    if doc is None:
        return None
    dtype = doc["dtype"]
    if dtype.startswith("<U") or dtype.startswith("|S") or dtype == "object":
        return np.asarray(doc["values"], dtype=object if dtype == "object" else None)
    return np.asarray(doc["values"], dtype=dtype)


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


def _parse_base_score(text: Any) -> list[float]:
    s = str(text).strip()
    if s.startswith("[") and s.endswith("]"):
        s = s[1:-1]
    return [float(v) for v in s.split(",") if v.strip()]


def _from_xgboost(doc: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
    """XGBoost JSON document -> (sapwood model JSON, estimator info, feature names)."""
    learner = doc["learner"]
    booster = learner["gradient_booster"]
    if booster.get("name") != "gbtree":
        raise ValueError(
            f"only gbtree boosters can be loaded, this file holds {booster.get('name')!r}"
        )
    model = booster["model"]
    objective = learner["objective"]["name"]
    supported = _REGRESSION_OBJECTIVES + _CLASSIFICATION_OBJECTIVES
    if objective not in supported:
        raise ValueError(
            f"XGBoost objective {objective!r} is not supported; sapwood reads "
            f"{', '.join(supported)}"
        )
    mparam = learner["learner_model_param"]
    num_class = int(mparam.get("num_class", "0"))
    if objective.startswith("multi:") and num_class < 2:
        raise ValueError("a multi-class XGBoost model must have num_class >= 2")
    if not objective.startswith("multi:"):
        num_class = 0
    k = max(num_class, 1)
    npt = int(model["gbtree_model_param"].get("num_parallel_tree", "1"))
    if npt < 1:
        raise ValueError(f"num_parallel_tree must be >= 1, got {npt}")
    base = _parse_base_score(mparam.get("base_score", "0.5"))
    if objective.startswith("multi:"):
        if len(base) == 1:
            base = base * k
    else:
        base = base[:1]
    trees = []
    for tree in model["trees"]:
        if any(int(v) != 0 for v in tree.get("split_type", [])):
            raise ValueError("categorical splits in XGBoost models are not supported")
        if int(tree["tree_param"].get("size_leaf_vector", "1")) > 1:
            raise ValueError("vector-leaf XGBoost trees are not supported")
        parents = [-1 if int(p) in (_XGB_DELETED, -1) else int(p) for p in tree["parents"]]
        trees.append(
            {
                "left": [int(v) for v in tree["left_children"]],
                "right": [int(v) for v in tree["right_children"]],
                "parent": parents,
                "split_index": [int(v) for v in tree["split_indices"]],
                "split_cond": [float(v) for v in tree["split_conditions"]],
                "default_left": [bool(int(v)) for v in tree["default_left"]],
                "base_weight": [float(v) for v in tree["base_weights"]],
                "loss_chg": [float(v) for v in tree["loss_changes"]],
                "sum_hess": [float(v) for v in tree["sum_hessian"]],
            }
        )
    objective_block = learner["objective"]
    mds = objective_block.get("poisson_regression_param", {}).get("max_delta_step", "0.7")
    spw = objective_block.get("reg_loss_param", {}).get("scale_pos_weight", "1")
    out = {
        "format": _SAPWOOD_FORMAT,
        "version": 1,
        "objective": objective,
        "num_class": num_class,
        "num_feature": int(mparam["num_feature"]),
        "base_score": base,
        "trees": trees,
        "tree_info": [int(v) for v in model["tree_info"]],
        "num_parallel_tree": npt,
        "objective_max_delta_step": float(mds) if objective == "count:poisson" else 0.0,
        "scale_pos_weight": float(spw),
        "attributes": {str(a): str(b) for a, b in learner.get("attributes", {}).items()},
    }
    names = [str(n) for n in learner.get("feature_names", [])]
    return json.dumps(out), {}, names


def load_model(path: str | os.PathLike[str]) -> _GBTBase:
    """Read a model written by ``save_model`` (either format) or by XGBoost (JSON, xgboost ≥ 2).

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
        If the file is not a readable model.
    """
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read model {os.fspath(path)!r}: not a JSON model file") from exc
    if not isinstance(doc, dict):
        raise ValueError(f"cannot read model {os.fspath(path)!r}: not a JSON model file")
    try:
        if doc.get("format") == _SAPWOOD_FORMAT:
            info = doc.pop("estimator", None) or {}
            text = json.dumps(doc)
            names = info.get("feature_names", [])
        elif "learner" in doc:
            text, info, names = _from_xgboost(doc)
        else:
            raise ValueError("neither a sapwood nor an XGBoost model")
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        raise ValueError(
            f"cannot read model {os.fspath(path)!r}: missing or bad field {exc}"
        ) from exc
    except ValueError as exc:
        raise ValueError(f"cannot read model {os.fspath(path)!r}: {exc}") from exc
    model = _native.BoostModel.from_json(text)
    cls_name = info.get("class")
    if cls_name is None:
        cls_name = (
            "GBTClassifier" if model.objective in _CLASSIFICATION_OBJECTIVES else "GBTRegressor"
        )
    classes_by_name = {
        c.__name__: c for c in (GBTRegressor, GBTClassifier, RFRegressor, RFClassifier)
    }
    cls = classes_by_name.get(cls_name, GBTRegressor)
    est = cls()
    params = info.get("params")
    if params:
        valid = est.get_params()
        est.set_params(**{k: v for k, v in params.items() if k in valid})
        if "missing" in params and params["missing"] is None:
            est.set_params(missing=np.nan)
    est._model = model
    est.n_features_in_ = model.num_feature
    if names:
        est.feature_names_in_ = np.asarray(names, dtype=object)
    attrs = model.attributes
    best = info.get("best_iteration", attrs.get("best_iteration"))
    est.best_iteration_ = int(best) if best is not None else model.n_iterations - 1
    score = info.get("best_score", attrs.get("best_score"))
    est.best_score_ = float(score) if score is not None else float("nan")
    est.evals_result_ = {}
    if issubclass(cls, GBTClassifier):
        classes = _classes_from_json(info.get("classes"))
        if classes is None:
            classes = np.arange(max(model.num_class, 2))
        est.classes_ = classes
        est.n_classes_ = len(classes)
    return est
