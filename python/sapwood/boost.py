"""Gradient-boosted trees with XGBoost's semantics: ``GBTRegressor``, ``GBTClassifier``,
``RFRegressor``, ``RFClassifier`` and ``load_model``.

Training runs in Rust (``sapwood._native.BoostTrainer``) one boosting round at a time, driven by
the shared base in :mod:`sapwood._gbt_base`; models are converted to and from XGBoost's JSON
format by :mod:`sapwood._model_json`. This module holds the public estimators and
:func:`load_model`, which turns a model file back into one of them.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets

from sapwood import _native
from sapwood._gbt_base import _GBT_CONSTRAINTS, _GBTBase
from sapwood._model_json import (
    _CLASSIFICATION_OBJECTIVES,
    _I32_MAX,
    _RANKING_OBJECTIVES,
    _REGRESSION_OBJECTIVES,
    _SAPWOOD_FORMAT,
    _as_float,
    _as_int,
    _as_list,
    _as_str,
    _classes_from_json,
    _field,
    _first_non_finite,
    _from_xgboost,
    _kind,
    _native_model,
)
from sapwood._ranking import group_offsets, row_weights, split_qid
from sapwood._validation import Integer, Options, Real, check_params, finite_vector, native_array
from sapwood.callback import TrainingCallback

__all__ = [
    "GBTClassifier",
    "GBTRanker",
    "GBTRegressor",
    "RFClassifier",
    "RFRegressor",
    "load_model",
]


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
    monotone_constraints : tuple, list, str or dict, optional
        Per feature, +1 (the prediction may only rise with the feature), -1 (only fall) or 0:
        a sequence padded with 0, XGBoost's string ``"(1,-1,0)"``, or a dict by feature name
        (X must be a DataFrame). As in XGBoost, each node's weights are clipped to bounds
        narrowed at every split on a constrained feature, splits whose children break a
        constraint are rejected, and any vector (even all zeros) switches to the
        weight-based gain. Every tree method and growth policy.
    interaction_constraints : list of lists, or str, optional
        Sets of features (indices, or names when X is a DataFrame) that may be used together
        on one path, or their JSON string ``"[[0, 2], [1, 3, 4]]"``. As in XGBoost, the root
        may split on any feature, and a node on the features used above it and those of every
        set that holds all of them (a feature in no set goes only with itself).
    feature_weights : array-like of shape (n_features,), optional
        Non-negative weights of column sampling (``colsample_by*``): each draw takes features
        with probability growing with their weight (XGBoost's weighted sampling without
        replacement). No effect without column sampling.
    enable_categorical : bool, default=False
        Split categorical features by category (``hist`` and ``approx``), as XGBoost does:
        pandas ``category`` columns (also polars ``Categorical``/``Enum`` and pyarrow
        dictionary columns), and the features ``feature_types`` marks ``"c"``, whose values
        are then category codes (integers from 0; NaN is missing). A frame's categories are
        kept with the model, and a frame given to ``predict`` is recoded by category value
        (its categories may be listed in another order, or only some of them; one the model
        never saw is a ``ValueError``).
    feature_types : list of str, optional
        XGBoost's type per feature: ``"c"`` for categorical (needs ``enable_categorical``),
        ``"q"``, ``"float"``, ``"int"`` or ``"i"`` for numeric. For arrays of category codes.
    max_cat_to_onehot : int, default=4
        A categorical feature with fewer categories than this is split one category against
        the rest; otherwise by a partition of its categories, sorted by their gradient
        statistics and scanned from both ends.
    max_cat_threshold : int, default=64
        The most categories a partition split scans through on either side.
    huber_slope : float, default=1.0
        The slope (delta) of ``reg:pseudohubererror``, and of the ``mphe`` metric.
    tweedie_variance_power : float, default=1.5
        The variance power of ``reg:tweedie``, in [1, 2): towards 1 a Poisson-like, towards 2
        a gamma-like distribution. The default metric is ``tweedie-nloglik@<power>``.
    quantile_alpha : float or list of float, default=0.5
        The quantile ``reg:quantileerror`` fits, in [0, 1], or a list of them: one output
        per quantile (``predict`` then returns one column each), as in XGBoost. Leaves are
        refreshed to their quantile of the rows' residuals; the ``quantile`` metric averages
        over every row and quantile.
    aft_loss_distribution : {"normal", "logistic", "extreme"}, default="normal"
        The noise distribution of ``survival:aft`` (log survival time = margin + scale x
        noise), and of the ``aft-nloglik`` metric.
    aft_loss_distribution_scale : float, default=1.0
        The noise scale of ``survival:aft``. (``aft-nloglik`` is evaluated at scale 1, as
        XGBoost 3.2 evaluates it.)
    missing : float, default=nan
        Value treated as missing (NaN always is).
    objective : str or callable, default="reg:squarederror"
        ``reg:squarederror``, ``reg:logistic``, ``count:poisson``, ``reg:absoluteerror``,
        ``reg:squaredlogerror``, ``reg:gamma``, ``reg:pseudohubererror``, ``reg:tweedie``,
        ``reg:quantileerror``, ``survival:cox`` (survival times, a negative label a
        right-censored time; hazard ratios as output), ``survival:aft`` (survival-time
        intervals, see ``fit``; times as output), or a callable
        ``(y_true, y_pred) -> (grad, hess)`` on raw margins.
    eval_metric : str or list of str, optional
        Metrics computed on ``eval_set`` (``rmse``, ``mae``, ``logloss``, ``error``,
        ``auc``, ``mlogloss``, ``merror``, ``poisson-nloglik``, ``rmsle``,
        ``gamma-deviance``, ``gamma-nloglik``, ``mphe``, ``tweedie-nloglik@<power>``,
        ``quantile``, ``cox-nloglik``, ``aft-nloglik``).
    early_stopping_rounds : int, optional
        Stop when the last metric on the last eval set has not improved for this many
        rounds; predictions then use the best iteration. The same as
        ``callbacks=[EarlyStopping(early_stopping_rounds)]``.
    callbacks : list of TrainingCallback, optional
        Objects whose hooks run before and after training and each round, with XGBoost's
        protocol (:mod:`sapwood.callback`: ``EarlyStopping``, ``EvaluationMonitor``,
        ``ProgressBar``, or subclasses of ``TrainingCallback``); any ``after_iteration``
        returning ``True`` stops training. Kept as given; each fit runs on deep copies.
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
        y: Any = None,
        sample_weight: Any = None,
        eval_set: Sequence[tuple[Any, Any]] | None = None,
        sample_weight_eval_set: Sequence[Any] | None = None,
        verbose: bool | int = False,
        *,
        base_margin: Any = None,
        base_margin_eval_set: Sequence[Any] | None = None,
        xgb_model: Any = None,
        label_lower_bound: Any = None,
        label_upper_bound: Any = None,
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
            Print the evaluation log every round (or every ``verbose`` rounds, and the last),
            as XGBoost does: ``[i]\\tvalidation_0-rmse:0.12345``. Adds an
            ``EvaluationMonitor(period=verbose)`` after ``callbacks``.
        base_margin : array-like of shape (n_samples,) or (n_samples, n_classes), optional
            Margins the training rows start from instead of the intercept (XGBoost's
            ``base_margin``: boosting from an existing prediction); give them to ``predict``
            too. The intercept is still estimated from ``y``, for rows without them.
        base_margin_eval_set : list of array-like, optional
            The same for each ``eval_set`` entry (None for none).
        xgb_model : estimator, path, or xgboost model, optional
            A model to continue: a fitted sapwood estimator, a model file (sapwood's or
            XGBoost's JSON), or an ``xgboost`` ``Booster`` or estimator. ``n_estimators`` more
            rounds are added to its trees; its intercept is kept, and its rounds count on, so
            that fitting 5 rounds and then 5 more equals fitting 10, row and column sampling
            included.
        label_lower_bound, label_upper_bound : array-like of shape (n_samples,), optional
            ``objective="survival:aft"`` only: each row's survival time as an interval
            (XGBoost's label bounds). Equal bounds are an observed time, an upper bound of
            ``inf`` a right-censored one, a lower bound of 0 a left-censored one. Without
            them, ``y`` gives the bounds: one column of observed times, or two columns
            ``[lower, upper]`` (as each ``eval_set`` entry's ``y`` does).

        Returns
        -------
        self : GBTRegressor
        """
        objective = self.objective if self.objective is not None else self._default_objective
        aft = objective == "survival:aft"
        if not aft and (label_lower_bound is not None or label_upper_bound is not None):
            raise ValueError(
                "label_lower_bound and label_upper_bound need objective='survival:aft'"
            )
        upper = None
        if aft:
            y, upper = _aft_bounds(y, label_lower_bound, label_upper_bound, "y")
        X, y = self._validate_training(X, y, y_numeric=True)
        if isinstance(objective, str) and objective in _CLASSIFICATION_OBJECTIVES:
            raise ValueError(
                f"objective {objective!r} is a classification objective; use GBTClassifier"
            )
        if isinstance(objective, str) and objective in _RANKING_OBJECTIVES:
            raise ValueError(f"objective {objective!r} is a ranking objective; use GBTRanker")

        def encode(v: Any) -> NDArray:
            if aft:
                # The lower bounds, then the upper ones.
                lower, high = _aft_bounds(v, None, None, "eval_set y")
                return native_array(np.concatenate([lower, high]), dtype=np.float32)
            return finite_vector(v, "eval_set y")

        labels = native_array(np.concatenate([y, upper]), dtype=np.float32) if aft else encode(y)

        self._fit(
            X,
            labels,
            objective,
            0,
            sample_weight,
            eval_set,
            sample_weight_eval_set,
            verbose,
            encode,
            base_margin=base_margin,
            base_margin_eval_set=base_margin_eval_set,
            xgb_model=xgb_model,
        )
        return self

    def predict(
        self,
        X: Any,
        output_margin: bool = False,
        iteration_range: tuple[int, int] | None = None,
        base_margin: Any = None,
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
        base_margin : array-like of shape (n_samples,) or (n_samples, n_classes), optional
            Margins to start from instead of the intercept (as given to ``fit``).

        Returns
        -------
        y : ndarray of shape (n_samples,), dtype float32
        """
        if output_margin:
            out = self._margin(X, iteration_range, base_margin)
        else:
            out = self._response(X, iteration_range, base_margin)
        # One column a quantile for reg:quantileerror with several.
        return out[:, 0] if out.shape[1] == 1 else out


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
num_parallel_tree, monotone_constraints, interaction_constraints, feature_weights, \
enable_categorical, feature_types, max_cat_to_onehot, max_cat_threshold, huber_slope, \
tweedie_variance_power, quantile_alpha, aft_loss_distribution, aft_loss_distribution_scale, \
missing, eval_metric, \
early_stopping_rounds, callbacks, importance_type, n_jobs, random_state
        As in :class:`GBTRegressor`.
    objective : str or callable, optional
        ``binary:logistic``, ``multi:softprob`` or ``multi:softmax`` (chosen from the number
        of classes when ``None``), ``binary:logitraw`` (raw margins as output) or
        ``binary:hinge`` (0 or 1 as output); a callable ``(y_true, y_pred) -> (grad, hess)``
        receives encoded labels and raw margins.

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
        *,
        base_margin: Any = None,
        base_margin_eval_set: Sequence[Any] | None = None,
        xgb_model: Any = None,
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
            Print the evaluation log every round (or every ``verbose`` rounds, and the last),
            as XGBoost does: ``[i]\\tvalidation_0-rmse:0.12345``. Adds an
            ``EvaluationMonitor(period=verbose)`` after ``callbacks``.
        base_margin : array-like of shape (n_samples,) or (n_samples, n_classes), optional
            Margins the training rows start from instead of the intercept (XGBoost's
            ``base_margin``: boosting from an existing prediction); give them to ``predict``
            too. The intercept is still estimated from ``y``, for rows without them.
        base_margin_eval_set : list of array-like, optional
            The same for each ``eval_set`` entry (None for none).
        xgb_model : estimator, path, or xgboost model, optional
            A model to continue: a fitted sapwood estimator, a model file (sapwood's or
            XGBoost's JSON), or an ``xgboost`` ``Booster`` or estimator. ``n_estimators`` more
            rounds are added to its trees; its intercept is kept, and its rounds count on, so
            that fitting 5 rounds and then 5 more equals fitting 10, row and column sampling
            included.

        Returns
        -------
        self : GBTClassifier
        """
        X, y = self._validate_training(X, y, y_numeric=False)
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
            objective, num_class = _classification_shape(objective, self.n_classes_)
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
            base_margin=base_margin,
            base_margin_eval_set=base_margin_eval_set,
            xgb_model=xgb_model,
        )
        return self

    def predict_proba(
        self,
        X: Any,
        iteration_range: tuple[int, int] | None = None,
        base_margin: Any = None,
    ) -> NDArray:
        """Class probabilities.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Input samples.
        iteration_range : tuple of int, optional
            Rounds ``[begin, end)``; ``(0, 0)`` means all. Default: up to the best round.
        base_margin : array-like of shape (n_samples,) or (n_samples, n_classes), optional
            Margins to start from instead of the intercept (as given to ``fit``).

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), dtype float32
        """
        p = self._response(X, iteration_range, base_margin)
        if p.shape[1] == 1:
            p1 = p[:, 0]
            return np.column_stack([1.0 - p1, p1]).astype(np.float32)
        return p

    def predict(
        self,
        X: Any,
        output_margin: bool = False,
        iteration_range: tuple[int, int] | None = None,
        base_margin: Any = None,
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
        base_margin : array-like of shape (n_samples,) or (n_samples, n_classes), optional
            Margins to start from instead of the intercept (as given to ``fit``).

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        if output_margin:
            m = self._margin(X, iteration_range, base_margin)
            return m[:, 0] if m.shape[1] == 1 else m
        p = self._response(X, iteration_range, base_margin)
        codes = (p[:, 0] > 0.5).astype(np.intp) if p.shape[1] == 1 else np.argmax(p, axis=1)
        return self.classes_[codes]

    def _check_fitted_state(self) -> None:
        super()._check_fitted_state()
        model = self._model
        classes = getattr(self, "classes_", None)
        expected = max(model.num_class, 2)
        if not isinstance(classes, np.ndarray) or classes.ndim != 1 or len(classes) != expected:
            raise ValueError(
                f"classes must hold {expected} labels, one per class of the model "
                f"(num_class = {model.num_class})"
            )
        if getattr(self, "n_classes_", expected) != expected:
            raise ValueError(f"n_classes_ must be {expected}")
        if model.objective not in _CLASSIFICATION_OBJECTIVES and model.objective != "custom":
            raise ValueError(
                f"a {type(self).__name__} needs a classification objective, the model has "
                f"{model.objective}"
            )


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
max_leaves, missing, objective, eval_metric, early_stopping_rounds, callbacks, importance_type, \\
n_jobs, random_state
        As in the boosted estimators. ``early_stopping_rounds`` has no meaning for a single
        round and must stay ``None``; callbacks run around the one round.

    The model exports to XGBoost's JSON like the boosted ones (``num_parallel_tree`` =
    ``n_estimators``, one iteration), and XGBoost predicts the same from it.
"""


_RANK_CONSTRAINTS: dict[str, Any] = {
    **_GBT_CONSTRAINTS,
    "lambdarank_pair_method": Options(
        ("topk", "mean"), message="unknown {name} {value!r}; expected 'topk' or 'mean'"
    ),
    "lambdarank_num_pair_per_sample": Integer(
        1, 2**32 - 2, also=(None,), shown="None or an int in [1, 2^32 - 2]"
    ),
    "lambdarank_unbiased": Options(
        (False, True), message="{name} must be True or False, got {value!r}"
    ),
    "lambdarank_bias_norm": Real(0.0, math.inf, high_open=True),
    "lambdarank_normalization": Options(
        (False, True), message="{name} must be True or False, got {value!r}"
    ),
    "lambdarank_score_normalization": Options(
        (False, True), message="{name} must be True or False, got {value!r}"
    ),
    "ndcg_exp_gain": Options((False, True), message="{name} must be True or False, got {value!r}"),
}
_RANK_KEYS = (
    "lambdarank_pair_method",
    "lambdarank_num_pair_per_sample",
    "lambdarank_unbiased",
    "lambdarank_bias_norm",
    "lambdarank_normalization",
    "lambdarank_score_normalization",
    "ndcg_exp_gain",
)


class GBTRanker(_GBTBase):
    """Gradient-boosted trees for learning to rank (LambdaMART), with XGBoost's semantics
    (``XGBRanker``).

    Rows are documents grouped by query: ``fit`` takes each row's query id (``qid``, sorted)
    or the size of each query (``group``), or a ``qid`` column of a DataFrame ``X``. Labels
    are relevance degrees (non-negative; integers up to 31 for ``rank:ndcg`` with the
    exponential gain, 0 or 1 for ``rank:map``). ``predict`` gives scores: a higher score
    ranks a document higher within its query.

    Each round ranks every query's documents by the current scores and takes pairs of
    documents with different relevance; a pair's gradient is the logistic loss of its score
    difference, weighted by the change in NDCG (``rank:ndcg``) or MAP (``rank:map``) that
    swapping the two would make, or by 1 (``rank:pairwise``).

    Parameters
    ----------
    objective : str, default="rank:ndcg"
        ``rank:ndcg``, ``rank:pairwise`` or ``rank:map``.
    lambdarank_pair_method : {"topk", "mean"}, default="topk"
        ``topk``: every pair with a document among the top ``k`` of the current ranking.
        ``mean``: ``k`` partners drawn for each document among those of other relevance.
    lambdarank_num_pair_per_sample : int, optional
        ``k``: the truncation of ``topk`` (default 32; also the truncation of the default
        metric, ``ndcg@32``) or the partners per document of ``mean`` (default 1).
    lambdarank_unbiased : bool, default=False
        Learn position biases from the training clicks and divide each pair by them
        (Unbiased LambdaMART), for click data collected from an earlier ranking in which
        rows are listed in the order they were shown.
    lambdarank_bias_norm : float, default=1
        ``p`` of the position biases' regulariser, ``1 / (1 + p)``.
    lambdarank_normalization : bool, default=True
        Normalise each query's gradients (by ``log2(1 + s) / s`` of the sum ``s`` of its
        lambdas for ``topk``, by the pairs per document for ``mean``).
    lambdarank_score_normalization : bool, default=True
        Divide each pair's metric change by the pair's score difference plus 0.01.
    ndcg_exp_gain : bool, default=True
        NDCG's gain: ``2^y - 1`` (True) or ``y`` (False; any non-negative relevance).
    eval_metric : str or list of str, optional
        Defaults to ``ndcg@k`` (``map@k`` for ``rank:map``; untruncated for ``mean``). The
        ranking metrics are ``ndcg``, ``map`` and ``pre``, each optionally truncated
        (``ndcg@10``) and with ``-`` (``ndcg@10-``: a query without relevant documents
        scores 0, not 1); they are averaged over queries, weighted by the query weights.
    n_estimators, learning_rate, max_depth, min_child_weight, gamma, reg_lambda, reg_alpha, \
max_delta_step, subsample, colsample_bytree, colsample_bylevel, colsample_bynode, \
scale_pos_weight, base_score, tree_method, max_bin, grow_policy, max_leaves, \
num_parallel_tree, monotone_constraints, interaction_constraints, feature_weights, \
enable_categorical, feature_types, max_cat_to_onehot, max_cat_threshold, huber_slope, \
tweedie_variance_power, quantile_alpha, aft_loss_distribution, aft_loss_distribution_scale, \
missing, early_stopping_rounds, callbacks, importance_type, n_jobs, random_state
        As in :class:`GBTRegressor` (the objective parameters of other objectives are
        unused).

    Notes
    -----
    As in XGBoost, ``qid`` must be sorted: rows of a query are contiguous and queries come in
    increasing id order. Unsorted ids are a ``ValueError`` (sort the rows first, e.g. with
    ``np.argsort(qid, kind="stable")``). A query of one document, or of documents of equal
    relevance, forms no pair: its rows get no gradient, and it scores 1 in ``ndcg`` and
    ``map`` (0 with ``-``). ``sample_weight`` weighs queries: one weight a query.

    Attributes
    ----------
    evals_result_, best_iteration_, best_score_, feature_importances_, n_features_in_
        As in :class:`GBTRegressor`.

    Examples
    --------
    >>> import numpy as np
    >>> from sapwood import GBTRanker
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> qid = np.repeat(np.arange(20), 10)
    >>> y = (X[:, 0] > 0.5).astype(int) + (X[:, 0] > 1.2)
    >>> ranker = GBTRanker(n_estimators=20).fit(X, y, qid=qid)
    >>> bool(ranker.score(X, y, qid=qid) > 0.9)
    True
    """

    _default_objective = "rank:ndcg"
    _constraints: ClassVar[Mapping[str, Any]] = _RANK_CONSTRAINTS

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
        lambdarank_pair_method: str = "topk",
        lambdarank_num_pair_per_sample: int | None = None,
        lambdarank_unbiased: bool = False,
        lambdarank_bias_norm: float = 1.0,
        lambdarank_normalization: bool = True,
        lambdarank_score_normalization: bool = True,
        ndcg_exp_gain: bool = True,
        missing: float = np.nan,
        objective: str = "rank:ndcg",
        eval_metric: str | Sequence[str] | None = None,
        early_stopping_rounds: int | None = None,
        callbacks: Sequence[TrainingCallback] | None = None,
        importance_type: str = "gain",
        n_jobs: int | None = None,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        _store_params(self, locals())

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        # Relevance degrees are non-negative: the checks' regression targets are not.
        tags.target_tags.required = True
        return tags

    def _check_params(self) -> dict[str, Any]:
        params = super()._check_params()
        p = check_params(self)
        return {**params, **{key: p[key] for key in _RANK_KEYS}}

    def _truncation(self) -> int | None:
        """The ``k`` of the top-k pair method (None for ``mean``)."""
        if self.lambdarank_pair_method != "topk":
            return None
        k = self.lambdarank_num_pair_per_sample
        return 32 if k is None else int(k)

    def _default_metric(self, objective: str) -> str:
        base = super()._default_metric(objective)
        k = self._truncation()
        return base if k is None else f"{base}@{k}"

    def _objective(self) -> str:
        objective = self.objective if self.objective is not None else self._default_objective
        if not isinstance(objective, str) or objective not in _RANKING_OBJECTIVES:
            raise ValueError(
                f"GBTRanker needs a ranking objective ({', '.join(_RANKING_OBJECTIVES)}), got "
                f"{objective!r}"
            )
        return objective

    def _validate_X(self, X: Any, *, reset: bool) -> Any:
        # A DataFrame's qid column names the queries, it is not a feature.
        X, _ = split_qid(X, None, "X")
        return super()._validate_X(X, reset=reset)

    def fit(
        self,
        X: Any,
        y: Any,
        *,
        group: Any = None,
        qid: Any = None,
        sample_weight: Any = None,
        base_margin: Any = None,
        eval_set: Sequence[tuple[Any, Any]] | None = None,
        eval_group: Sequence[Any] | None = None,
        eval_qid: Sequence[Any] | None = None,
        verbose: bool | int = False,
        xgb_model: Any = None,
        sample_weight_eval_set: Sequence[Any] | None = None,
        base_margin_eval_set: Sequence[Any] | None = None,
    ) -> GBTRanker:
        """Fit the ranker.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)
            Documents (NaN = missing). A DataFrame may hold the query ids as a ``qid``
            column instead of the ``qid`` argument.
        y : array-like of shape (n_samples,)
            Relevance degrees.
        group : array-like of shape (n_queries,), optional
            The number of rows of each query, in row order.
        qid : array-like of shape (n_samples,), optional
            Each row's query id, sorted (non-decreasing). Without ``qid`` or ``group`` (or a
            ``qid`` column), every row belongs to one query.
        sample_weight : array-like of shape (n_queries,), optional
            One non-negative weight a query.
        base_margin : array-like of shape (n_samples,), optional
            Starting scores instead of the intercept.
        eval_set : list of (X, y), optional
            Datasets evaluated after every round.
        eval_group, eval_qid : list of array-like, optional
            The queries of each ``eval_set`` entry (or a ``qid`` column of its ``X``).
        verbose : bool or int, default=False
            Print the evaluation log every round (or every ``verbose`` rounds).
        xgb_model : estimator, path, or xgboost model, optional
            A model to continue.
        sample_weight_eval_set : list of array-like, optional
            Query weights of each ``eval_set`` entry.
        base_margin_eval_set : list of array-like, optional
            Starting scores of each ``eval_set`` entry.

        Returns
        -------
        self : GBTRanker
        """
        objective = self._objective()
        X, qid = split_qid(X, qid, "fit")
        X, y = self._validate_training(X, y, y_numeric=True)
        n = X.shape[0]
        offsets = group_offsets(n, qid, group, "fit")
        weights = row_weights(sample_weight, offsets, "fit")
        evals: list[tuple[Any, Any]] = []
        eval_offsets = []
        eval_weights: list[Any] = []
        if eval_set is not None:
            for name, value in (
                ("eval_group", eval_group),
                ("eval_qid", eval_qid),
                ("sample_weight_eval_set", sample_weight_eval_set),
            ):
                if value is not None and len(value) != len(eval_set):
                    raise ValueError(f"{name} must have one entry per eval_set entry")
            for i, pair in enumerate(eval_set):
                if len(pair) != 2:
                    raise ValueError("eval_set must be a list of (X, y) pairs")
                what = f"eval_set[{i}]"
                ex, eq = split_qid(pair[0], None if eval_qid is None else eval_qid[i], what)
                ne = _n_rows_of(ex)
                eg = None if eval_group is None else eval_group[i]
                o = group_offsets(ne, eq, eg, what)
                eval_offsets.append(o)
                ew = None if sample_weight_eval_set is None else sample_weight_eval_set[i]
                eval_weights.append(row_weights(ew, o, what))
                evals.append((ex, pair[1]))
        elif eval_group is not None or eval_qid is not None:
            raise ValueError("eval_group and eval_qid need eval_set")

        def encode(v: Any) -> NDArray:
            return finite_vector(v, "eval_set y")

        self._fit(
            X,
            encode(y),
            objective,
            0,
            weights,
            evals or None,
            eval_weights if evals else None,
            verbose,
            encode,
            base_margin=base_margin,
            base_margin_eval_set=base_margin_eval_set,
            xgb_model=xgb_model,
            groups=offsets,
            eval_groups=eval_offsets,
        )
        return self

    def predict(
        self,
        X: Any,
        output_margin: bool = False,
        iteration_range: tuple[int, int] | None = None,
        base_margin: Any = None,
    ) -> NDArray:
        """Score documents: within a query, a higher score ranks higher.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)
            Documents (a ``qid`` column of a DataFrame is ignored).
        output_margin : bool, default=False
            The same scores (ranking objectives have no output transform).
        iteration_range : tuple of int, optional
            Rounds ``[begin, end)``; ``(0, 0)`` means all. Default: up to the best round.
        base_margin : array-like of shape (n_samples,), optional
            Starting scores (as given to ``fit``).

        Returns
        -------
        scores : ndarray of shape (n_samples,), dtype float32
        """
        return self._margin(X, iteration_range, base_margin)[:, 0]

    def score(
        self,
        X: Any,
        y: Any,
        qid: Any = None,
        *,
        group: Any = None,
        sample_weight: Any = None,
    ) -> float:
        """NDCG of the predicted ranking, averaged over queries (``ndcg@k`` at the
        objective's truncation ``k`` for the top-k pair method, else over whole queries).

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)
            Documents; a DataFrame may hold the query ids as a ``qid`` column.
        y : array-like of shape (n_samples,)
            Relevance degrees.
        qid : array-like of shape (n_samples,), optional
            Each row's query id, sorted. Without ``qid`` or ``group``, one query.
        group : array-like of shape (n_queries,), optional
            The number of rows of each query.
        sample_weight : array-like of shape (n_queries,), optional
            One weight a query.

        Returns
        -------
        score : float
        """
        X, qid = split_qid(X, qid, "score")
        scores = self.predict(X)
        labels = np.asarray(y, dtype=np.float64).reshape(-1)
        if labels.shape[0] != scores.shape[0]:
            raise ValueError(f"y has {labels.shape[0]} entries, but X has {scores.shape[0]} rows")
        offsets = group_offsets(scores.shape[0], qid, group, "score")
        w = row_weights(sample_weight, offsets, "score")
        k = self._truncation()
        return float(
            _native.rank_metric(
                "ndcg" if k is None else f"ndcg@{k}",
                native_array(scores, dtype=np.float32),
                native_array(labels, dtype=np.float32),
                offsets,
                None if w is None else native_array(w, dtype=np.float32),
                bool(self.ndcg_exp_gain),
            )
        )

    def _check_fitted_state(self) -> None:
        super()._check_fitted_state()
        if self._model.objective not in _RANKING_OBJECTIVES:
            raise ValueError(
                f"a GBTRanker needs a ranking objective, the model has {self._model.objective}"
            )


def _n_rows_of(X: Any) -> int:
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) >= 1:
        return int(shape[0])
    return len(X)


class _RFMixin:
    """A random forest as XGBoost grows it: one round of ``n_estimators`` parallel trees."""

    n_estimators: int

    # The boosting table, where n_estimators counts the trees of the one round, a forest has
    # no num_parallel_tree of its own, and early stopping has nothing to stop.
    _constraints: ClassVar[Mapping[str, Any]] = {
        **{k: v for k, v in _GBT_CONSTRAINTS.items() if k != "num_parallel_tree"},
        "early_stopping_rounds": Options(
            (None,), message="early_stopping_rounds is not supported by random forests"
        ),
    }

    def _forest_shape(self) -> tuple[int, int]:
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
        _store_params(self, locals())


def _aft_bounds(y: Any, lower: Any, upper: Any, what: str) -> tuple[NDArray, NDArray]:
    """``survival:aft``'s label intervals as (lower, upper) float64 vectors: from explicit
    bounds, or from ``y`` (one column of observed times, or two columns ``[lower, upper]``)."""
    if lower is not None or upper is not None:
        if lower is None or upper is None:
            raise ValueError("give both label_lower_bound and label_upper_bound")
        lo = np.asarray(lower, dtype=np.float64).reshape(-1)
        hi = np.asarray(upper, dtype=np.float64).reshape(-1)
    else:
        if y is None:
            raise ValueError(
                "survival:aft needs y (observed times, or [lower, upper] columns) or "
                "label_lower_bound and label_upper_bound"
            )
        arr = np.asarray(y, dtype=np.float64)
        if arr.ndim == 2 and arr.shape[1] == 2:
            lo, hi = arr[:, 0].copy(), arr[:, 1].copy()
        elif arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] == 1):
            lo = arr.reshape(-1)
            hi = lo.copy()
        else:
            raise ValueError(
                f"{what} for survival:aft must be one column of times or two columns "
                f"[lower, upper], got shape {arr.shape}"
            )
    if lo.shape != hi.shape:
        raise ValueError(
            f"label_lower_bound has {lo.shape[0]} values, label_upper_bound {hi.shape[0]}"
        )
    if not np.all(np.isfinite(lo)) or np.any(lo < 0):
        raise ValueError(f"{what}: the lower bounds must be finite and non-negative")
    if np.any(np.isnan(hi)) or np.any(hi < lo):
        raise ValueError(f"{what}: every upper bound must be at least its lower bound")
    return lo, hi


def _classification_shape(objective: str, n_classes: int) -> tuple[str, int]:
    """A checked classification objective for ``n_classes`` classes, and the engine's
    ``num_class``: ``binary:logistic`` becomes ``multi:softprob`` beyond two classes, the other
    binary objectives take two classes only, and a ``multi:`` objective on two classes keeps
    two outputs."""
    if objective == "binary:logistic" and n_classes > 2:
        objective = "multi:softprob"
    if objective.startswith("binary:") and n_classes > 2:
        raise ValueError(f"objective {objective!r} takes two classes; y has {n_classes}")
    if objective.startswith("multi:") and n_classes == 2:
        return objective, 2
    return objective, 0 if objective.startswith("binary:") else n_classes


def _store_params(estimator: Any, params: dict[str, Any]) -> None:
    """Store constructor arguments as same-named attributes (scikit-learn's contract)."""
    for name, value in params.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


RFRegressor.__doc__ = (RFRegressor.__doc__ or "") + _RF_DOC
RFClassifier.__doc__ = (RFClassifier.__doc__ or "") + _RF_DOC


_ESTIMATORS = ("GBTRegressor", "GBTClassifier", "GBTRanker", "RFRegressor", "RFClassifier")


def _categories_from_json(value: Any, categorical: list[int]) -> dict[int, list[Any]]:
    """The ``categories`` block of a sapwood file: each categorical feature's categories."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"estimator.categories must be an object, got {_kind(value)}")
    out: dict[int, list[Any]] = {}
    for key, cats in value.items():
        f = _as_int(
            key if not isinstance(key, str) or not key.isdigit() else int(key),
            "estimator.categories key",
            0,
            _I32_MAX,
        )
        if f not in categorical:
            raise ValueError(f"estimator.categories lists feature {f}, which is not categorical")
        cats = _as_list(cats, f"estimator.categories[{key!r}]")
        if len(set(map(repr, cats))) != len(cats):
            raise ValueError(f"estimator.categories[{key!r}] repeats a category")
        out[f] = list(cats)
    return out


def _estimator_from_info(info: Any, model: Any, names: list[str]) -> _GBTBase:
    """A fitted estimator around ``model`` from the ``estimator`` block of a sapwood file
    (or what was read from an XGBoost file), every field checked."""
    if not isinstance(info, dict):
        raise ValueError(f"estimator must be an object, got {_kind(info)}")
    cls_name = info.get("class")
    if cls_name is None:
        cls_name = (
            "GBTClassifier"
            if model.objective in _CLASSIFICATION_OBJECTIVES
            else "GBTRanker"
            if model.objective in _RANKING_OBJECTIVES
            else "GBTRegressor"
        )
    if cls_name not in _ESTIMATORS:
        raise ValueError(
            f"estimator.class = {cls_name!r:.40} is not one of {', '.join(_ESTIMATORS)}"
        )
    cls = {
        c.__name__: c for c in (GBTRegressor, GBTClassifier, GBTRanker, RFRegressor, RFClassifier)
    }[cls_name]
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
    est._categorical = list(model.categorical_features)
    est._categories = _categories_from_json(info.get("categories"), est._categorical)
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
    est._check_fitted_state()
    return est


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
