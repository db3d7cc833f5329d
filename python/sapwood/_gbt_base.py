"""What the boosting estimators share: their parameters, the training loop that drives the
native trainer round by round (evaluation sets, custom objectives, and the training callbacks of
:mod:`sapwood.callback`, early stopping and printing among them), and access to the fitted model
(predictions, importances, trees, saving and pickling).

The public estimators built on :class:`_GBTBase` live in :mod:`sapwood.boost`; model files are
read and written by :mod:`sapwood._model_json`.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data

from sapwood import _native
from sapwood._categorical import check_codes, check_feature_types, encode_fit, encode_predict
from sapwood._model_json import (
    _CLASSIFICATION_OBJECTIVES,
    _I32_MAX,
    _RANKING_OBJECTIVES,
    _REGRESSION_OBJECTIVES,
    _XGB_DELETED,
    _classes_to_json,
    _from_xgboost,
    _jsonable_params,
    _kind,
    _native_model,
    _to_xgboost,
    _write_atomically,
    _xgboost_model_param,
    _xgboost_objective,
    tree_categories,
)
from sapwood._ranking import is_rank_metric
from sapwood._validation import (
    Checked,
    Constraint,
    Dependent,
    Integer,
    Options,
    Real,
    as_native_matrix,
    check_n_jobs,
    check_params,
    check_sample_weight,
    native_array,
    seed_from_random_state,
)
from sapwood.callback import (
    EarlyStopping,
    EvaluationMonitor,
    TrainingCallback,
    _check_callbacks,
    _fit_copies,
)

_DEFAULT_METRIC = {
    "reg:squarederror": "rmse",
    "reg:logistic": "rmse",
    "binary:logistic": "logloss",
    "multi:softprob": "mlogloss",
    "multi:softmax": "mlogloss",
    "count:poisson": "poisson-nloglik",
    "reg:absoluteerror": "mae",
    "reg:squaredlogerror": "rmsle",
    "reg:gamma": "gamma-deviance",
    "binary:logitraw": "logloss",
    "binary:hinge": "error",
    "reg:pseudohubererror": "mphe",
    "reg:tweedie": "tweedie-nloglik",
    "reg:quantileerror": "quantile",
    "survival:cox": "cox-nloglik",
    "survival:aft": "aft-nloglik",
    # Truncated at the objective's k with the top-k pair method (GBTRanker._default_metric).
    "rank:ndcg": "ndcg",
    "rank:pairwise": "ndcg",
    "rank:map": "map",
    "custom": "rmse",
}
_METRICS = (
    "rmse",
    "mae",
    "logloss",
    "error",
    "auc",
    "mlogloss",
    "merror",
    "poisson-nloglik",
    "rmsle",
    "gamma-deviance",
    "gamma-nloglik",
    "mphe",
    "tweedie-nloglik@<rho>",
    "quantile",
    "cox-nloglik",
    "aft-nloglik",
    "ndcg[@k][-]",
    "map[@k][-]",
    "pre[@k][-]",
)
_IMPORTANCE_TYPES = ("weight", "gain", "total_gain", "cover", "total_cover")


_TREE_METHODS = ("exact", "approx", "hist")
_GROW_POLICIES = ("depthwise", "lossguide")
_DEPTH = Integer(0, 63)
_EXACT_DEPTH = Integer(1, 63, shown="in [1, 63] for tree_method='exact'")
_IMPORTANCE_TYPE = Options(
    _IMPORTANCE_TYPES,
    message=f"unknown {{name}} {{value!r}}; expected one of {', '.join(_IMPORTANCE_TYPES)}",
)
_INF = math.inf
_NON_NEGATIVE = Real(0, _INF)
_FRACTION = Real(0, 1, low_open=True)


def _monotone_value(v: Any, what: str) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Integral, float)):
        raise ValueError(f"{what} must be -1, 0 or 1, got {v!r}")
    if v not in (-1, 0, 1):
        raise ValueError(f"{what} must be -1, 0 or 1, got {v!r}")
    return int(v)


def _monotone_spec(value: Any, name: str) -> list[int] | dict[str, int] | None:
    """``monotone_constraints`` read into a list of ints or a dict by feature name (None for
    none); a ``ValueError`` naming what is wrong otherwise."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not (text.startswith("(") and text.endswith(")")):
            raise ValueError(f"{name} as a string must look like '(1,-1,0)', got {value!r}")
        inner = text[1:-1].strip()
        parts = [] if not inner else [t.strip() for t in inner.split(",")]
        out = []
        for t in parts:
            try:
                out.append(int(t))
            except ValueError:
                raise ValueError(f"{name} must hold -1, 0 or 1, got {t!r} in {value!r}") from None
        return [_monotone_value(v, name) for v in out]
    if isinstance(value, Mapping):
        out_map = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"{name} as a dict must be keyed by feature name, got {k!r}")
            out_map[k] = _monotone_value(v, f"{name}[{k!r}]")
        return out_map
    if isinstance(value, (list, tuple, np.ndarray)):
        flat = (
            np.asarray(value, dtype=object).reshape(-1) if isinstance(value, np.ndarray) else value
        )
        return [_monotone_value(v, name) for v in flat]
    raise ValueError(
        f"{name} must be None, a list or tuple of -1/0/1, a string like '(1,-1,0)' or a dict "
        f"by feature name, got {type(value).__name__}"
    )


def _interaction_spec(value: Any, name: str) -> list[list[int | str]] | None:
    """``interaction_constraints`` read into lists of feature indices or names (None for
    none); a ``ValueError`` naming what is wrong otherwise."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError(
                f"{name} as a string must be JSON like '[[0, 2], [1, 3, 4]]', got {value!r}"
            ) from None
    if not isinstance(value, (list, tuple)):
        raise ValueError(
            f"{name} must be None, a list of lists of features (indices or names) or its JSON "
            f"string, got {type(value).__name__}"
        )
    sets = []
    for s in value:
        if isinstance(s, (str, bytes)) or not isinstance(s, (list, tuple, np.ndarray)):
            raise ValueError(f"{name} must be a list of lists of features, got the entry {s!r}")
        out: list[int | str] = []
        for f in s:
            if isinstance(f, str):
                out.append(f)
            elif isinstance(f, (numbers.Integral,)) and not isinstance(f, (bool, np.bool_)):
                if f < 0:
                    raise ValueError(f"{name} holds a negative feature index {f}")
                out.append(int(f))
            else:
                raise ValueError(f"{name} holds {f!r}; features are indices or names")
        sets.append(out)
    return sets


def _check_interaction(value: Any) -> Any:
    _interaction_spec(value, "interaction_constraints")
    return value


def _n_rows(x: Any) -> int:
    """Rows of a matrix as ``as_native_matrix`` gives it (an array, or a CSR tuple)."""
    return int(x[0].shape[0] - 1) if isinstance(x, tuple) else int(x.shape[0])


def _base_margin_array(value: Any, n: int, k: int, what: str = "base_margin") -> NDArray:
    """Margins given per row (XGBoost's ``base_margin``) as the ``n * k`` float32 values the
    engine takes: shape ``(n,)`` or ``(n, 1)`` for one output group, ``(n, k)`` for ``k``."""
    if hasattr(value, "to_numpy"):
        value = value.to_numpy()
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be numeric, got {type(value).__name__}") from None
    shapes = {(n,), (n, 1)} if k == 1 else {(n, k)}
    if a.shape not in shapes:
        expected = f"({n},)" if k == 1 else f"({n}, {k})"
        raise ValueError(f"{what} has shape {a.shape}; expected {expected}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{what} contains NaN or infinity")
    return native_array(a.reshape(-1), dtype=np.float32)


def _start_model(xgb_model: Any) -> Any:
    """The native model a fit continues from: a fitted sapwood estimator, a model file
    (sapwood's or XGBoost's JSON), an ``xgboost`` ``Booster`` or estimator, or None."""
    if xgb_model is None:
        return None
    if isinstance(xgb_model, _native.BoostModel):
        return xgb_model
    if isinstance(xgb_model, _GBTBase):
        check_is_fitted(xgb_model, "_model")
        return xgb_model._model
    if isinstance(xgb_model, (str, os.PathLike)):
        from sapwood.boost import load_model

        return load_model(xgb_model)._model
    booster = xgb_model.get_booster() if hasattr(xgb_model, "get_booster") else xgb_model
    if hasattr(booster, "save_raw"):
        doc = json.loads(bytes(booster.save_raw("json")).decode("utf-8"))
        converted, _, _ = _from_xgboost(doc)
        return _native_model(converted, xgboost=True)
    raise TypeError(
        "xgb_model must be a fitted sapwood estimator, a model file path, an xgboost Booster "
        f"or estimator, or None; got {type(xgb_model).__name__}"
    )


def _check_feature_weights(value: Any) -> NDArray | None:
    """``feature_weights`` as a 1-D float64 array (None for none), checked."""
    if value is None:
        return None
    try:
        w = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"feature_weights must be a sequence of numbers, got {type(value).__name__}"
        ) from None
    if w.ndim != 1:
        raise ValueError(f"feature_weights must be 1-D, got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("feature_weights must be finite and non-negative")
    if w.size and not np.any(w > 0):
        raise ValueError("feature_weights must have at least one weight > 0")
    return w


def _check_huber_slope(value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value == 0
    ):
        raise ValueError(f"huber_slope must be a finite number other than 0, got {value!r}")
    return float(value)


def _check_quantile_alpha(value: Any) -> list[float]:
    """``quantile_alpha``: a quantile in [0, 1], or a non-empty list of them (one output
    each); returned as a list."""
    values = value if isinstance(value, Sequence | np.ndarray) else [value]
    if isinstance(value, str) or len(values) == 0:
        raise ValueError(
            f"quantile_alpha must be a number in [0, 1] or a list of them, got {value!r:.40}"
        )
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not (0.0 <= float(v) <= 1.0):
            raise ValueError(
                f"quantile_alpha must be a number in [0, 1] or a list of them, got {v!r:.40}"
            )
        out.append(float(v))
    return out


def _check_monotone_categorical(monotone: Sequence[int], categorical: Sequence[int]) -> None:
    """No monotone constraint on a categorical feature: categories have no order."""
    for f in categorical:
        if monotone and monotone[f] != 0:
            raise ValueError(
                f"monotone_constraints constrains feature {f}, which is categorical: "
                "categories have no order to be monotone in"
            )


def _check_monotone(value: Any) -> Any:
    _monotone_spec(value, "monotone_constraints")
    return value


# Every parameter of the boosting estimators and what it accepts, checked in this order at fit
# (and when a pickle or model file restores the parameters). ``objective`` and
# ``eval_metric`` are checked in fit, where the estimator's kind and the objective are known;
# ``missing`` may be any value X is compared with.
_GBT_CONSTRAINTS: dict[str, Constraint | Dependent | None] = {
    "tree_method": Options(
        (None, "auto", *_TREE_METHODS),
        message="unknown {name} {value!r}; expected 'exact', 'approx', 'hist' or None",
    ),
    "grow_policy": Options(
        _GROW_POLICIES, message="unknown {name} {value!r}; expected 'depthwise' or 'lossguide'"
    ),
    "n_estimators": Integer(1, message="{name} must be an int >= 1, got {value!r}"),
    "max_depth": lambda p: _EXACT_DEPTH if p["tree_method"] == "exact" else _DEPTH,
    "max_leaves": Integer(0, _I32_MAX, shown=">= 0"),
    "max_bin": Integer(2, 65535),
    "num_parallel_tree": Integer(1),
    "monotone_constraints": Checked(_check_monotone),
    "interaction_constraints": Checked(_check_interaction),
    "feature_weights": Checked(_check_feature_weights),
    "enable_categorical": Options(
        (False, True), message="{name} must be True or False, got {value!r}"
    ),
    "feature_types": Checked(check_feature_types),
    "max_cat_to_onehot": Integer(1),
    "max_cat_threshold": Integer(1),
    "huber_slope": Checked(_check_huber_slope),
    "tweedie_variance_power": Real(1.0, 2.0, high_open=True),
    "quantile_alpha": Checked(_check_quantile_alpha),
    "aft_loss_distribution": Options(
        ("normal", "logistic", "extreme"),
        message="unknown {name} {value!r}; expected 'normal', 'logistic' or 'extreme'",
    ),
    "aft_loss_distribution_scale": Real(0.0, _INF, low_open=True, high_open=True),
    "early_stopping_rounds": Integer(
        1, also=(None,), message="{name} must be None or an int >= 1, got {value!r}"
    ),
    "callbacks": Checked(_check_callbacks),
    "importance_type": _IMPORTANCE_TYPE,
    "learning_rate": Real(0, _INF, low_open=True),
    "min_child_weight": _NON_NEGATIVE,
    "gamma": _NON_NEGATIVE,
    "reg_lambda": _NON_NEGATIVE,
    "reg_alpha": _NON_NEGATIVE,
    "max_delta_step": _NON_NEGATIVE,
    "subsample": _FRACTION,
    "colsample_bytree": _FRACTION,
    "colsample_bylevel": _FRACTION,
    "colsample_bynode": _FRACTION,
    "scale_pos_weight": Real(0, _INF, low_open=True),
    "base_score": Real(-_INF, _INF, low_open=True, also=(None,)),
    "random_state": Checked(seed_from_random_state),
    "n_jobs": Checked(check_n_jobs),
    "missing": None,
    "objective": None,
    "eval_metric": None,
}


def _is_tweedie_metric(name: str) -> bool:
    """``tweedie-nloglik@rho`` with rho in [1, 2)."""
    head, _, rho = name.partition("@")
    if head != "tweedie-nloglik":
        return False
    try:
        return 1.0 <= float(rho) < 2.0
    except ValueError:
        return False


class _GBTBase(BaseEstimator):
    """Parameters, training loop and model access shared by both estimators."""

    _default_objective = "reg:squarederror"
    _constraints: ClassVar[Mapping[str, Any]] = _GBT_CONSTRAINTS
    # Fitted attributes that callbacks may set while training (EarlyStopping).
    best_iteration_: int
    best_score_: float

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
        monotone_constraints: Any = None,
        interaction_constraints: Any = None,
        feature_weights: Any = None,
        enable_categorical: bool = False,
        feature_types: Sequence[str] | None = None,
        max_cat_to_onehot: int = 4,
        max_cat_threshold: int = 64,
        huber_slope: float = 1.0,
        tweedie_variance_power: float = 1.5,
        quantile_alpha: float = 0.5,
        aft_loss_distribution: str = "normal",
        aft_loss_distribution_scale: float = 1.0,
        missing: float = np.nan,
        objective: str | Callable | None = None,
        eval_metric: str | Sequence[str] | None = None,
        early_stopping_rounds: int | None = None,
        callbacks: Sequence[TrainingCallback] | None = None,
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
        self.monotone_constraints = monotone_constraints
        self.interaction_constraints = interaction_constraints
        self.feature_weights = feature_weights
        self.enable_categorical = enable_categorical
        self.feature_types = feature_types
        self.max_cat_to_onehot = max_cat_to_onehot
        self.max_cat_threshold = max_cat_threshold
        self.huber_slope = huber_slope
        self.tweedie_variance_power = tweedie_variance_power
        self.quantile_alpha = quantile_alpha
        self.aft_loss_distribution = aft_loss_distribution
        self.aft_loss_distribution_scale = aft_loss_distribution_scale
        self.missing = missing
        self.objective = objective
        self.eval_metric = eval_metric
        self.early_stopping_rounds = early_stopping_rounds
        self.callbacks = callbacks
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
        """(boosting rounds, trees per round and output group), of checked parameters."""
        return int(self.n_estimators), int(self.num_parallel_tree)

    def _check_params(self) -> dict[str, Any]:
        """Check the parameters (the class's ``_constraints``, then the rules that tie
        several together); return the training parameters the native trainer takes."""
        p = check_params(self)
        method = "hist" if p["tree_method"] in (None, "auto") else p["tree_method"]
        if method == "exact" and p["grow_policy"] == "lossguide":
            raise ValueError("grow_policy='lossguide' needs tree_method='hist' or 'approx'")
        if p["max_depth"] == 0 and p["max_leaves"] == 0:
            raise ValueError("max_depth=0 (no depth limit) needs max_leaves > 0")
        tree_keys = (
            "learning_rate",
            "max_depth",
            "max_leaves",
            "max_bin",
            "grow_policy",
            "min_child_weight",
            "gamma",
            "reg_lambda",
            "reg_alpha",
            "max_delta_step",
            "subsample",
            "colsample_bytree",
            "colsample_bylevel",
            "colsample_bynode",
            "scale_pos_weight",
            "base_score",
            "max_cat_to_onehot",
            "max_cat_threshold",
            "huber_slope",
            "tweedie_variance_power",
            "quantile_alpha",
            "aft_loss_distribution",
            "aft_loss_distribution_scale",
        )
        return {
            **{key: p[key] for key in tree_keys},
            "tree_method": method,
            "num_parallel_tree": self._forest_shape()[1],
            "seed": p["random_state"],
            # Set per fit from the data's features (see _monotone_vector and
            # _interaction_sets).
            "monotone_constraints": [],
            "interaction_constraints": [],
            "feature_weights": [],
            "categorical_features": [],
        }

    def _feature_weight_list(self, n_features: int) -> list[float]:
        """``feature_weights`` as one float per feature (empty: uniform sampling)."""
        w = _check_feature_weights(self.feature_weights)
        if w is None:
            return []
        if w.shape[0] != n_features:
            raise ValueError(
                f"feature_weights has {w.shape[0]} entries, but X has {n_features} features"
            )
        return [float(v) for v in w]

    def _interaction_sets(self, n_features: int) -> list[list[int]]:
        """``interaction_constraints`` as lists of feature indices (empty: none)."""
        spec = _interaction_spec(self.interaction_constraints, "interaction_constraints")
        if not spec:
            return []
        names = getattr(self, "feature_names_in_", None)
        index = {} if names is None else {str(n): i for i, n in enumerate(names)}
        sets = []
        for s in spec:
            out = []
            for f in s:
                if isinstance(f, str):
                    if names is None:
                        raise ValueError(
                            "interaction_constraints given by feature name need X with column "
                            "names (a DataFrame); give feature indices instead"
                        )
                    if f not in index:
                        raise ValueError(
                            f"interaction_constraints names a feature X does not have: {f!r}"
                        )
                    out.append(index[f])
                else:
                    if f >= n_features:
                        raise ValueError(
                            f"interaction_constraints holds feature {f}, but X has "
                            f"{n_features} features"
                        )
                    out.append(f)
            sets.append(out)
        return sets

    def _monotone_vector(self, n_features: int) -> list[int]:
        """``monotone_constraints`` as one entry per feature (-1, 0 or 1, padded with 0), or
        an empty list for none: XGBoost's formats (a tuple or list, the string ``"(1,-1,0)"``,
        or a dict by feature name)."""
        spec = _monotone_spec(self.monotone_constraints, "monotone_constraints")
        if spec is None:
            return []
        if isinstance(spec, dict):
            names = getattr(self, "feature_names_in_", None)
            if names is None:
                raise ValueError(
                    "monotone_constraints given by feature name need X with column names "
                    "(a DataFrame); give a list of one value per feature instead"
                )
            index = {str(n): i for i, n in enumerate(names)}
            unknown = [k for k in spec if k not in index]
            if unknown:
                raise ValueError(
                    f"monotone_constraints names features that X does not have: {unknown[:5]}"
                )
            vector = [0] * n_features
            for name, c in spec.items():
                vector[index[name]] = c
            return vector
        if len(spec) > n_features:
            raise ValueError(
                f"monotone_constraints has {len(spec)} entries, but X has {n_features} features"
            )
        return [*spec, *([0] * (n_features - len(spec)))] if spec else []

    def _default_metric(self, objective: str) -> str:
        default = _DEFAULT_METRIC[objective]
        if default == "tweedie-nloglik":
            # XGBoost names it with the power, as a float prints: tweedie-nloglik@1.5.
            rho = float(np.float32(self.tweedie_variance_power))
            default = f"tweedie-nloglik@{rho:.6g}"
        return default

    def _metrics(self, objective: str) -> list[str]:
        metric = self.eval_metric
        if metric is None:
            return [self._default_metric(objective)]
        if isinstance(metric, str):
            metric = [metric]
        if callable(metric) or not all(isinstance(m, str) for m in metric):
            raise TypeError("eval_metric must be None, a metric name or a list of metric names")
        for m in metric:
            if m not in _METRICS and not _is_tweedie_metric(m) and not is_rank_metric(m):
                raise ValueError(
                    f"unknown eval_metric {m!r}; expected one of {', '.join(_METRICS)}"
                )
        return list(metric)

    def _validate_training(self, X: Any, y: Any, *, y_numeric: bool) -> tuple[Any, Any]:
        """The training ``X`` (categorical columns as codes, checked) and ``y``; records
        this fit's categorical features and each categorical column's categories."""
        X, categorical, categories = encode_fit(
            X, bool(self.enable_categorical), check_feature_types(self.feature_types)
        )
        self._categorical = categorical
        self._categories = categories
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan",
            y_numeric=y_numeric,
        )
        X = self._replace_missing(X)
        types = self.feature_types
        if types is not None and len(types) != X.shape[1]:
            raise ValueError(
                f"feature_types has {len(types)} entries, but X has {X.shape[1]} features"
            )
        check_codes(X, categorical, getattr(self, "feature_names_in_", None))
        return X, y

    def _categorical_list(self) -> list[int]:
        """The categorical features of this fit, or of the fitted model."""
        categorical = self.__dict__.get("_categorical")
        if categorical is None:
            model = self.__dict__.get("_model")
            categorical = [] if model is None else list(model.categorical_features)
        return list(categorical)

    def _validate_X(self, X: Any, *, reset: bool) -> Any:
        categorical = self._categorical_list()
        X = encode_predict(X, categorical, self.__dict__.get("_categories") or {})
        X = validate_data(
            self,
            X,
            reset=reset,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan",
            ensure_min_samples=1,
        )
        X = self._replace_missing(X)
        check_codes(X, categorical, getattr(self, "feature_names_in_", None))
        return X

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
        base_margin: Any = None,
        base_margin_eval_set: Sequence[Any] | None = None,
        xgb_model: Any = None,
        groups: NDArray | None = None,
        eval_groups: Sequence[NDArray] | None = None,
    ) -> None:
        params = self._check_params()
        custom = callable(objective)
        obj_name = "custom" if custom else str(objective)
        if not custom and obj_name not in _DEFAULT_METRIC:
            raise ValueError(
                f"unknown objective {obj_name!r}; expected one of "
                f"{', '.join(_REGRESSION_OBJECTIVES + _CLASSIFICATION_OBJECTIVES)}, "
                f"{', '.join(_RANKING_OBJECTIVES)} (GBTRanker) or a callable"
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
                # survival:aft's labels are a lower and an upper bound a row.
                per_row = 2 if obj_name == "survival:aft" else 1
                if ey.shape[0] != per_row * ex.shape[0]:
                    raise ValueError(
                        f"eval_set[{i}]: y has {ey.shape[0]} entries, but X has {ex.shape[0]} rows"
                    )
                ew_raw = None if sample_weight_eval_set is None else sample_weight_eval_set[i]
                ew = check_sample_weight(ew_raw, ex.shape[0], dtype=np.float32)
                evals.append((as_native_matrix(ex), ey, ew))
        # Outputs a row: the classes, or one per quantile of reg:quantileerror.
        k = max(num_class, 1)
        if obj_name == "reg:quantileerror":
            k = len(params["quantile_alpha"])
        if base_margin_eval_set is not None and (
            eval_set is None or len(base_margin_eval_set) != len(eval_set)
        ):
            raise ValueError("base_margin_eval_set must have one entry per eval_set entry")
        eval_margins = [
            None
            if m is None
            else _base_margin_array(m, e[0].shape[0], k, f"base_margin_eval_set[{i}]")
            for i, (m, e) in enumerate(zip(base_margin_eval_set or [], evals, strict=False))
        ]
        start = _start_model(xgb_model)
        native_params = dict(
            params,
            objective=obj_name,
            num_class=num_class,
            metrics=metrics,
            monotone_constraints=self._monotone_vector(X.shape[1]),
            interaction_constraints=self._interaction_sets(X.shape[1]),
            feature_weights=self._feature_weight_list(X.shape[1]),
            categorical_features=self._categorical_list(),
        )
        _check_monotone_categorical(
            native_params["monotone_constraints"], native_params["categorical_features"]
        )
        trainer = _native.BoostTrainer(
            as_native_matrix(X),
            y,
            weights,
            native_params,
            evals,
            self.n_jobs,
            start_model=start,
            base_margin=None if base_margin is None else _base_margin_array(base_margin, n, k),
            eval_base_margins=eval_margins or None,
            groups=groups,
            eval_groups=None if eval_groups is None else list(eval_groups),
        )
        self._train(
            trainer, metrics, len(evals), verbose, X.shape[1], objective if custom else None, y
        )

    def _train(
        self,
        trainer: Any,
        metrics: list[str],
        n_evals: int,
        verbose: bool | int,
        n_features: int,
        custom: Callable | None = None,
        y: NDArray | None = None,
    ) -> None:
        """Run the boosting rounds on ``trainer`` (``boost_round()``, ``model()``,
        ``set_learning_rate()``) with this fit's callbacks, and keep the model: the loop
        shared by every way of fitting (one machine, Dask)."""
        callbacks = self._fit_callbacks(verbose, has_evals=n_evals > 0)
        history: dict[str, dict[str, list[float]]] = {
            f"validation_{i}": {m: [] for m in metrics} for i in range(n_evals)
        }
        # Callbacks see the estimator being fitted: nothing of an earlier fit, the log as it
        # grows, and n_iterations_ counting the rounds done so far.
        for stale in ("_model", "best_iteration_", "best_score_"):
            self.__dict__.pop(stale, None)
        self.evals_result_ = history
        self._rounds_done = 0
        self._trainer = trainer
        try:
            for callback in callbacks:
                callback.before_training(self)
            for epoch in range(self._forest_shape()[0]):
                # Every callback sees every round, even once one has asked to stop.
                if any([cb.before_iteration(self, epoch, history) for cb in callbacks]):
                    break
                if custom is not None:
                    margin = trainer.margin()
                    pred = margin[:, 0] if margin.shape[1] == 1 else margin
                    grad, hess = custom(y, pred)
                    grad = native_array(grad, dtype=np.float32).reshape(-1)
                    hess = native_array(hess, dtype=np.float32).reshape(-1)
                    results = trainer.boost_round(grad, hess)
                else:
                    results = trainer.boost_round()
                for i, row in enumerate(results):
                    for m, v in zip(metrics, row, strict=False):
                        history[f"validation_{i}"][m].append(float(v))
                self._rounds_done = epoch + 1
                if any([cb.after_iteration(self, epoch, history) for cb in callbacks]):
                    break
        finally:
            del self._rounds_done
            del self._trainer
        model = trainer.model()
        if "best_iteration_" in self.__dict__:
            # A callback (EarlyStopping) chose the best round: predictions stop there, and
            # the model file records it as XGBoost's does.
            attrs = {
                "best_iteration": str(self.best_iteration_),
                "best_score": repr(self.best_score_),
            }
            model = model.with_attributes(attrs)
        else:
            self.best_iteration_ = model.n_iterations - 1
            last = [v for metrics_log in history.values() for v in metrics_log.values()]
            self.best_score_ = last[-1][-1] if last and last[-1] else float("nan")
        self._model = model
        self.n_features_in_ = n_features
        for callback in callbacks:
            callback.after_training(self)
        self._check_fitted_state()

    def _set_training_learning_rate(self, learning_rate: float) -> None:
        """Set the learning rate of the rounds still to come (for
        :class:`sapwood.callback.LearningRateScheduler`); only while fitting."""
        trainer = self.__dict__.get("_trainer")
        if trainer is None:
            raise RuntimeError("the learning rate can only be changed while the model fits")
        trainer.set_learning_rate(float(learning_rate))

    def _fit_callbacks(self, verbose: bool | int, *, has_evals: bool) -> list[Any]:
        """This fit's callbacks: copies of ``callbacks``, then what ``verbose`` and
        ``early_stopping_rounds`` ask for (XGBoost's order)."""
        callbacks = _fit_copies(_check_callbacks(self.callbacks))
        if verbose:
            period = 1 if verbose is True else verbose
            if isinstance(period, bool) or not isinstance(period, numbers.Integral) or period < 1:
                raise ValueError(f"verbose must be a bool or an int >= 1, got {verbose!r}")
            callbacks.append(EvaluationMonitor(period=int(period)))
        if self.early_stopping_rounds is not None:
            if not has_evals:
                raise ValueError("early_stopping_rounds needs at least one dataset in eval_set")
            callbacks.append(EarlyStopping(int(self.early_stopping_rounds)))
        return callbacks

    def _keep_rounds(self, end: int) -> None:
        """Keep only rounds ``[0, end)`` of the fitted model (``EarlyStopping(save_best=True)``)."""
        check_is_fitted(self, "_model")
        self._model = self._model.truncated(end)
        self.best_iteration_ = min(self.best_iteration_, self._model.n_iterations - 1)

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

    def _margin(
        self, X: Any, iteration_range: tuple[int, int] | None, base_margin: Any = None
    ) -> NDArray:
        begin, end = self._range(iteration_range)
        x = self._native_X(X)
        start = self._prediction_margin(base_margin, _n_rows(x))
        return self._model.predict_margin(x, begin, end, self.n_jobs, base_margin=start)

    def _response(
        self, X: Any, iteration_range: tuple[int, int] | None, base_margin: Any = None
    ) -> NDArray:
        begin, end = self._range(iteration_range)
        x = self._native_X(X)
        start = self._prediction_margin(base_margin, _n_rows(x))
        return self._model.predict(x, begin, end, self.n_jobs, base_margin=start)

    def _prediction_margin(self, base_margin: Any, n: int) -> NDArray | None:
        if base_margin is None:
            return None
        return _base_margin_array(base_margin, n, self._model.n_groups)

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

    def shap_model(self, iteration_range: tuple[int, int] | None = None) -> dict[str, Any]:
        """The fitted trees in the ``shap`` package's dict-of-arrays format, so that
        ``shap.TreeExplainer(model.shap_model())`` explains the model without xgboost
        installed; its SHAP values equal :meth:`predict_contributions`.

        Parameters
        ----------
        iteration_range : tuple of int, optional
            Rounds ``[begin, end)`` to include, as in ``predict``.

        Returns
        -------
        model : dict
            ``trees`` (per tree: ``children_left``, ``children_right``, ``children_default``,
            ``features``, ``thresholds``, ``values``, ``node_sample_weight``),
            ``base_offset`` (the base margin), ``input_dtype`` float32 and
            ``tree_output="raw_value"``. ``shap`` compares ``x <= threshold``, so each
            threshold is the float32 just below the model's (which sends ``x < threshold``
            left). Multi-class models give one output per class.

        Raises
        ------
        ValueError
            For a model with categorical splits, which shap's dict format cannot describe.
        """
        check_is_fitted(self, "_model")
        if self._model.categorical_features:
            raise ValueError(
                "shap's dict-of-arrays trees have no categorical splits; use "
                "predict_contributions for a model with categorical features"
            )
        begin, end = self._range(iteration_range)
        doc = json.loads(self._model.to_json())
        k = int(self._model.n_groups)
        per_iteration = k * int(doc.get("num_parallel_tree", 1))
        n_iterations = len(doc["trees"]) // per_iteration
        end = n_iterations if end is None or end == 0 else min(end, n_iterations)
        trees = []
        for t in range(begin * per_iteration, end * per_iteration):
            tree = doc["trees"][t]
            left = np.asarray(tree["left"], dtype=np.int32)
            right = np.asarray(tree["right"], dtype=np.int32)
            leaf = left < 0
            cond = np.asarray(tree["split_cond"], dtype=np.float32)
            values = np.zeros((len(left), k))
            values[:, doc["tree_info"][t] if k > 1 else 0] = np.where(leaf, cond, 0.0)
            thresholds = np.where(leaf, 0.0, np.nextafter(cond, np.float32(-np.inf)))
            trees.append(
                {
                    "children_left": left,
                    "children_right": right,
                    "children_default": np.where(
                        np.asarray(tree["default_left"], dtype=bool), left, right
                    ).astype(np.int32),
                    "features": np.where(leaf, -2, np.asarray(tree["split_index"])).astype(
                        np.int32
                    ),
                    "thresholds": thresholds.astype(np.float64),
                    "values": values,
                    "node_sample_weight": np.asarray(tree["sum_hess"], dtype=np.float64),
                }
            )
        margin = np.asarray(self._model.base_margin, dtype=np.float64)
        return {
            "trees": trees,
            "base_offset": margin if k > 1 else float(margin[0]),
            "input_dtype": np.float32,
            "internal_dtype": np.float64,
            "tree_output": "raw_value",
        }

    def predict_contributions(
        self,
        X: Any,
        *,
        interactions: bool = False,
        approximate: bool = False,
        iteration_range: tuple[int, int] | None = None,
        base_margin: Any = None,
    ) -> NDArray:
        """Each feature's contribution to each prediction (SHAP values), and the bias.

        Exact TreeSHAP values (path-dependent, with the trees' covers as the background),
        computed in Rust in parallel over rows; XGBoost's ``pred_contribs``. With
        ``approximate=True``, Saabas's attributions (XGBoost's ``approx_contribs``): each
        split's feature gets the change of the expected value along the row's path.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Input samples; NaN (or absent sparse entries) are missing values.
        interactions : bool, default=False
            SHAP interaction values (XGBoost's ``pred_interactions``): for each sample a
            matrix whose entry ``(i, j)``, ``i != j``, is half the change of feature ``j``'s
            contribution between holding feature ``i`` on and off, and whose diagonal holds
            the rest of each feature's contribution (the bias in the last corner).
        approximate : bool, default=False
            Saabas's attributions instead of SHAP values.
        iteration_range : tuple of int, optional
            Boosting rounds ``[begin, end)`` to explain; by default up to the best iteration.
        base_margin : array-like of shape (n_samples,) or (n_samples, n_classes), optional
            Margins the predictions start from instead of the intercept (as given to
            ``predict``); the bias takes them in place of the base margin.

        Returns
        -------
        contributions : ndarray of float32
            Shape ``(n_samples, n_features + 1)``, or ``(n_samples, n_classes, n_features +
            1)`` for multi-class models. The last column is the bias: the trees' expected
            value plus the base margin. Each row (and class) adds up to the raw margin, before
            the link function (log-odds for classifiers). With ``interactions``, one more axis
            of ``n_features + 1``: ``(n_samples, [n_classes,] n_features + 1, n_features +
            1)``; each matrix row adds up to that feature's contribution.

        Examples
        --------
        >>> import numpy as np
        >>> from sapwood import GBTRegressor
        >>> X = np.random.default_rng(0).normal(size=(200, 3))
        >>> model = GBTRegressor(n_estimators=20, max_depth=3).fit(X, 2 * X[:, 0] + X[:, 1])
        >>> phi = model.predict_contributions(X[:5])
        >>> phi.shape
        (5, 4)
        >>> bool(np.allclose(phi.sum(axis=1), model.predict(X[:5]), atol=1e-4))
        True
        """
        begin, end = self._range(iteration_range)
        x = self._native_X(X)
        out = self._model.predict_contributions(
            x, begin, end, bool(approximate), bool(interactions), self.n_jobs
        )
        start = self._prediction_margin(base_margin, _n_rows(x))
        if start is not None:
            # The bias holds the base margin: replace the intercept by the given margins.
            k = self._model.n_groups
            shift = start.reshape(-1, k) - np.asarray(self._model.base_margin, dtype=np.float32)
            if interactions:
                out[:, :, -1, -1] += shift
            else:
                out[:, :, -1] += shift
        return out[:, 0] if out.shape[1] == 1 else out

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
        _IMPORTANCE_TYPE.check("importance_type", importance_type)
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

    def get_score(self, importance_type: str = "weight", X: Any = None) -> dict[str, float]:
        """Per-feature importance as XGBoost's ``Booster.get_score``, or from SHAP values.

        Parameters
        ----------
        importance_type : {"weight", "gain", "total_gain", "cover", "total_cover", "shap"}
            ``weight`` counts splits; ``gain``/``cover`` are averages per split, the
            ``total_`` variants sums. ``shap``: the mean absolute SHAP value of each feature
            over the rows of ``X`` (:meth:`predict_contributions`; summed over classes for
            multi-class models).
        X : array-like of shape (n_samples, n_features), optional
            The rows whose SHAP values are averaged; only (and always) for ``"shap"``.

        Returns
        -------
        scores : dict
            Feature name to score, for features used in at least one split (``"shap"``:
            features with a non-zero mean).
        """
        check_is_fitted(self, "_model")
        if importance_type == "shap":
            if X is None:
                raise ValueError("importance_type='shap' needs the rows to explain: X=...")
            mean_abs = self.shap_importance(X)
            used = np.flatnonzero(mean_abs > 0)
            return {
                name: float(mean_abs[f])
                for name, f in zip(self._feature_names(used), used, strict=True)
            }
        if X is not None:
            raise ValueError(f"X is only for importance_type='shap', not {importance_type!r}")
        features, scores = self._scores(importance_type)
        names = self._feature_names(features)
        return {name: float(s) for name, s in zip(names, scores, strict=True)}

    def shap_importance(self, X: Any) -> NDArray:
        """Mean absolute SHAP value of every feature over the rows of ``X`` (the bias left
        out; summed over classes for multi-class models), float64 of shape (n_features,)."""
        phi = np.abs(self.predict_contributions(X).astype(np.float64))
        per_group = phi[..., :-1].mean(axis=0)
        return per_group.sum(axis=0) if per_group.ndim == 2 else per_group

    @property
    def n_iterations_(self) -> int:
        """Number of boosting rounds in the model (early stopping keeps the extra ones unless
        ``EarlyStopping(save_best=True)``); while fitting, as callbacks see it, the rounds done
        so far."""
        rounds = self.__dict__.get("_rounds_done")
        if rounds is not None:
            return int(rounds)
        check_is_fitted(self, "_model")
        return int(self._model.n_iterations)

    def trees_to_dataframe(self) -> Any:
        """The trees as a pandas DataFrame, one row per node (XGBoost's layout).

        Returns
        -------
        df : pandas.DataFrame
            Columns ``Tree, Node, ID, Feature, Split, Yes, No, Missing, Gain, Cover``;
            ``Gain`` holds the leaf value at leaves. Models with categorical features add
            ``Category``: at a categorical split, the category codes that go to ``Yes`` (the
            right child, as in XGBoost's table), with ``Split`` NaN.
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
        categorical = bool(doc.get("categorical_features"))
        rows = []
        for t, tree in enumerate(doc["trees"]):
            right_cats = tree_categories(tree)
            for i in range(len(tree["left"])):
                if tree["split_index"][i] == _XGB_DELETED:
                    continue
                if tree["left"][i] < 0:
                    row = (t, i, f"{t}-{i}", "Leaf", np.nan, None, None, None)
                    row += (tree["split_cond"][i], tree["sum_hess"][i], None)
                else:
                    left, right = f"{t}-{tree['left'][i]}", f"{t}-{tree['right'][i]}"
                    missing = left if tree["default_left"][i] else right
                    cats = right_cats.get(i)
                    # A categorical split's Yes is its right child, where the listed
                    # categories go (XGBoost's table).
                    split, yes, no = (
                        (tree["split_cond"][i], left, right)
                        if cats is None
                        else (np.nan, right, left)
                    )
                    row = (t, i, f"{t}-{i}", names[tree["split_index"][i]], split, yes, no)
                    row += (missing, tree["loss_chg"][i], tree["sum_hess"][i], cats)
                rows.append(row if categorical else row[:-1])
        cols = ["Tree", "Node", "ID", "Feature", "Split", "Yes", "No", "Missing", "Gain", "Cover"]
        if categorical:
            cols.append("Category")
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

    def save_config(self) -> str:
        """The fitted model's training parameters as XGBoost's configuration JSON (what
        ``xgboost.Booster.save_config()`` returns, and ``load_config()`` reads): the tree
        parameters, including ``monotone_constraints`` and ``interaction_constraints`` (as
        feature indices), the split finder, the objective and the metrics. A model exported
        with ``save_model(path, format="xgboost")`` and given this configuration continues
        training in xgboost under the same constraints.

        Returns
        -------
        config : str
            A JSON document.
        """
        check_is_fitted(self, "_model")
        p = self._check_params()
        n = self._model.num_feature
        # The objective and model parameters as the model file writes them (not its trees).
        doc = json.loads(self._model.to_json())
        k = int(self._model.n_groups)
        objective_block = _xgboost_objective(doc, k)
        objective = objective_block["name"]
        method = p["tree_method"]
        updater = {
            "hist": "grow_quantile_histmaker",
            "approx": "grow_histmaker",
            "exact": "grow_colmaker,prune",
        }[method]
        if method == "exact":
            updaters: list[dict[str, Any]] = [
                {
                    "colmaker_train_param": {"default_direction": "learn", "opt_dense_col": "1"},
                    "name": "grow_colmaker",
                },
                {"name": "prune"},
            ]
        else:
            updaters = [
                {
                    "hist_train_param": {
                        "debug_synchronize": "0",
                        "max_cached_hist_node": "18446744073709551615",
                    },
                    "name": updater,
                }
            ]
        monotone = self._monotone_vector(n)
        interaction = self._interaction_sets(n)

        def num(v: float) -> str:
            return repr(float(np.float32(v))) if not float(v).is_integer() else str(int(v))

        tree_param = {
            "alpha": num(p["reg_alpha"]),
            "colsample_bylevel": num(p["colsample_bylevel"]),
            "colsample_bynode": num(p["colsample_bynode"]),
            "colsample_bytree": num(p["colsample_bytree"]),
            "eta": num(p["learning_rate"]),
            "gamma": num(p["gamma"]),
            "grow_policy": p["grow_policy"],
            "interaction_constraints": json.dumps(interaction, separators=(",", ":"))
            if interaction
            else "",
            "lambda": num(p["reg_lambda"]),
            "learning_rate": num(p["learning_rate"]),
            "max_bin": str(p["max_bin"]),
            "max_cat_threshold": str(p["max_cat_threshold"]),
            "max_cat_to_onehot": str(p["max_cat_to_onehot"]),
            "max_delta_step": num(p["max_delta_step"]),
            "max_depth": str(p["max_depth"]),
            "max_leaves": str(p["max_leaves"]),
            "min_child_weight": num(p["min_child_weight"]),
            "min_split_loss": num(p["gamma"]),
            "monotone_constraints": "(" + ",".join(str(c) for c in monotone) + ")",
            "refresh_leaf": "1",
            "reg_alpha": num(p["reg_alpha"]),
            "reg_lambda": num(p["reg_lambda"]),
            "sampling_method": "uniform",
            "sparse_threshold": "0.20000000000000001",
            "subsample": num(p["subsample"]),
        }
        seed = p["seed"]
        config = {
            "learner": {
                "generic_param": {
                    "device": "cpu",
                    "fail_on_invalid_gpu_id": "0",
                    "n_jobs": "0",
                    "nthread": "0",
                    "random_state": str(seed),
                    "seed": str(seed),
                    "seed_per_iteration": "0",
                    "validate_parameters": "1",
                },
                "gradient_booster": {
                    "gbtree_model_param": {
                        "num_parallel_tree": str(self._model.num_parallel_tree),
                        "num_trees": str(self._model.n_trees),
                    },
                    "gbtree_train_param": {
                        "process_type": "default",
                        "tree_method": method,
                        "updater": updater,
                        "updater_seq": updater,
                    },
                    "name": "gbtree",
                    "specified_updater": False,
                    "tree_train_param": tree_param,
                    "updater": updaters,
                },
                "learner_model_param": _xgboost_model_param(doc, k),
                "learner_train_param": {
                    "booster": "gbtree",
                    "disable_default_eval_metric": "0",
                    "multi_strategy": "one_output_per_tree",
                    "objective": objective,
                },
                "metrics": [{"name": m} for m in self._metrics(objective)]
                if objective in _DEFAULT_METRIC
                else [],
                "objective": objective_block,
            },
            "version": [3, 2, 0],
        }
        return json.dumps(config)

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
            "categories": {
                str(f): list(c) for f, c in (self.__dict__.get("_categories") or {}).items()
            },
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
        # Pickles written before these parameters existed have none: their defaults.
        for name in (
            "callbacks",
            "monotone_constraints",
            "interaction_constraints",
            "feature_weights",
            "feature_types",
        ):
            state.setdefault(name, None)
        state.setdefault("enable_categorical", False)
        state.setdefault("max_cat_to_onehot", 4)
        state.setdefault("max_cat_threshold", 64)
        state.setdefault("huber_slope", 1.0)
        state.setdefault("tweedie_variance_power", 1.5)
        state.setdefault("quantile_alpha", 0.5)
        state.setdefault("aft_loss_distribution", "normal")
        state.setdefault("aft_loss_distribution_scale", 1.0)
        self.__dict__.update(state)
        if text is not None:
            self._model = _native.BoostModel.from_json(text)
            try:
                self._check_params()
                self._check_fitted_state()
            except AttributeError as exc:
                raise ValueError(
                    f"cannot unpickle {type(self).__name__}: missing attribute ({exc})"
                ) from None
            except (TypeError, ValueError) as exc:
                raise ValueError(f"cannot unpickle {type(self).__name__}: {exc}") from None

    def _check_fitted_state(self) -> None:
        """Checks that what a model file or pickle restored around the native model agrees
        with it, so that predicting, importances and saving work or say why they cannot."""
        model = self._model
        missing = self.missing
        if missing is not None and (
            isinstance(missing, bool) or not isinstance(missing, (numbers.Real, np.floating))
        ):
            raise ValueError(f"the parameter missing must be a number, got {_kind(missing)}")
        n_features = getattr(self, "n_features_in_", model.num_feature)
        if isinstance(n_features, bool) or not isinstance(n_features, numbers.Integral):
            raise ValueError(f"n_features_in_ must be an integer, got {_kind(n_features)}")
        if n_features != model.num_feature:
            raise ValueError(
                f"n_features_in_ = {n_features}, but the model has num_feature = "
                f"{model.num_feature}"
            )
        names = getattr(self, "feature_names_in_", None)
        if names is not None and (
            not isinstance(names, np.ndarray) or names.ndim != 1 or len(names) != model.num_feature
        ):
            raise ValueError(
                f"feature_names_in_ must hold one name per feature ({model.num_feature})"
            )
        best = getattr(self, "best_iteration_", None)
        if (
            isinstance(best, bool)
            or not isinstance(best, numbers.Integral)
            or not -1 <= best < model.n_iterations
        ):
            raise ValueError(
                f"best_iteration = {best!r:.40} is outside the model's {model.n_iterations} "
                "iterations"
            )
