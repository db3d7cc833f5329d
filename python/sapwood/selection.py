"""Boruta all-relevant feature selection.

:class:`BorutaSelector` finds every feature that carries information about the target, not just
a minimal predictive subset. Each iteration adds shuffled copies ("shadows") of the features not
yet rejected, fits an importance source, and counts a hit for every real feature more important
than the shadows' ``perc``-th percentile. Binomial tests on the hit counts, corrected for
multiple testing, confirm or reject features. The statistics and decisions run in Rust
(``sapwood._native.BorutaState``); this module drives the fits.
"""

from __future__ import annotations

import copy
import sys
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.feature_selection import SelectorMixin
from sklearn.utils import get_tags
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from sapwood import _native
from sapwood._validation import (
    Checked,
    Integer,
    Options,
    Real,
    check_n_jobs,
    check_params,
    densify,
    native_array,
    seed_from_random_state,
)

__all__ = ["BorutaSelector"]

_CODES = {1: "confirmed", 0: "tentative", -1: "rejected"}


# The built-in importance source: sapwood's random forest, as BorutaPy is usually run
# (depth-5 trees, sqrt(p) features per node, class-balanced weights, rows subsampled per tree).
_FOREST_DEPTH = 5
_FOREST_SUBSAMPLE = 0.632


# What BorutaSelector's parameters accept, checked in this order at fit. As always here, True
# and False pass as the numbers 1 and 0. ``random_state`` is checked where fit turns it into a
# seed; the estimator where it is cloned.
_BORUTA_CONSTRAINTS: dict[str, Any] = {
    "perc": Real(1, 100, bools=True, message="{name} must be a number in [1, 100], got {value!r}"),
    "alpha": Real(
        0,
        1,
        low_open=True,
        high_open=True,
        bools=True,
        message="{name} must be in the open interval (0, 1), got {value!r}",
    ),
    "max_iter": Integer(1, bools=True, message="{name} must be an integer >= 1, got {value!r}"),
    "n_iter_no_change": Integer(
        1, bools=True, message="{name} must be an integer >= 1, got {value!r}"
    ),
    "n_estimators": Integer(
        1,
        also=("auto",),
        bools=True,
        message='{name} must be "auto" or an integer >= 1, got {value!r}',
    ),
    "n_jobs": Checked(check_n_jobs),
    "importance": Options(
        ("gain", "shap"), message="{name} must be 'gain' or 'shap', got {value!r}"
    ),
    "estimator": None,
    "two_step": None,
    "early_stopping": None,
    "random_state": None,
    "verbose": None,
}


class BorutaSelector(SelectorMixin, BaseEstimator):
    """Boruta all-relevant feature selection.

    Parameters
    ----------
    estimator : estimator or None, default=None
        Any scikit-learn estimator with ``feature_importances_`` after ``fit``. It is cloned,
        never modified. ``None`` uses sapwood's own random forest (depth 5, ``sqrt(p)``
        features per node, class-balanced, rows subsampled per tree), and then the whole loop
        (shadows, fits, importances, tests) runs in Rust with the GIL released; it accepts
        missing values (NaN).
    n_estimators : int or "auto", default="auto"
        Trees per fit when the estimator has ``n_estimators``. ``"auto"`` follows BorutaPy:
        ``floor(100 * sqrt(2 * n_active) / max_depth)`` (depth 10 when unlimited).
    perc : float, default=100
        Percentile of the shadow importances a feature must beat to score a hit (100 = the
        best shadow). In ``(0, 100]``.
    alpha : float, default=0.05
        Significance level of the tests, in ``(0, 1)``.
    two_step : bool, default=True
        Benjamini-Hochberg over the features then Bonferroni over the iterations (BorutaPy's
        default); ``False`` uses Bonferroni over all features.
    max_iter : int, default=100
        Largest number of importance fits.
    early_stopping : bool, default=False
        Stop once no decision changed for ``n_iter_no_change`` fits, counted from the first
        iteration at which a decision is possible.
    n_iter_no_change : int, default=20
        See ``early_stopping``.
    random_state : int, RandomState, Generator or None, default=None
        Seeds the shadow shuffles and the estimator. The same value gives the same decisions
        whatever ``n_jobs``.
    verbose : int, default=0
        ``1`` shows the progress after every fit with the confirmed / tentative / rejected
        counts: a tqdm bar when tqdm is installed (the ``progress`` extra), otherwise one
        line on standard error, rewritten in place.
    n_jobs : int or None, default=None
        Threads for the default forest (and for estimators that have ``n_jobs`` but none set).
    importance : {"gain", "shap"}, default="gain"
        How the default forest scores real and shadow features: each feature's share of the
        split gain, or its mean absolute SHAP value over the training rows (exact TreeSHAP,
        computed in Rust within the same loop; the approach of BorutaShap). ``"shap"`` needs
        ``estimator=None``.

    Attributes
    ----------
    support_ : ndarray of bool, shape (n_features_in_,)
        Confirmed features.
    support_weak_ : ndarray of bool
        Tentative features whose median importance beats the median shadow threshold.
    ranking_ : ndarray of int
        1 for confirmed, 2 for weak, then the others by median importance rank.
    n_features_ : int
        Number of confirmed features.
    decision_ : ndarray of str
        "confirmed", "tentative" or "rejected" per feature (these always add up to
        ``n_features_in_``).
    importance_history_ : ndarray, shape (n_iter_, n_features_in_)
        Importance of each feature per fit; NaN once rejected.
    shadow_history_ : ndarray, shape (n_iter_, 3)
        Minimum, mean and maximum shadow importance per fit.
    decision_history_ : ndarray of int8, shape (n_iter_, n_features_in_)
        Decisions after each fit: 1 confirmed, 0 tentative, -1 rejected.
    n_iter_ : int
        Number of fits made.
    estimator_ : estimator or None
        The last fitted clone of the importance source (``None`` for the built-in forest).

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sapwood import BorutaSelector
    >>> X, y = make_classification(n_samples=300, n_features=10, n_informative=3,
    ...                            n_redundant=0, shuffle=False, random_state=0)
    >>> selector = BorutaSelector(random_state=0, max_iter=30).fit(X, y)
    >>> bool(selector.support_[:3].all())
    True
    """

    def __init__(
        self,
        estimator: Any = None,
        n_estimators: int | str = "auto",
        perc: float = 100,
        alpha: float = 0.05,
        two_step: bool = True,
        max_iter: int = 100,
        early_stopping: bool = False,
        n_iter_no_change: int = 20,
        random_state: Any = None,
        verbose: int = 0,
        n_jobs: int | None = None,
        importance: str = "gain",
    ) -> None:
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.perc = perc
        self.alpha = alpha
        self.two_step = two_step
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.importance = importance

    _constraints: ClassVar[dict[str, Any]] = _BORUTA_CONSTRAINTS

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.sparse = True
        tags.input_tags.allow_nan = (
            True if self.estimator is None else get_tags(self.estimator).input_tags.allow_nan
        )
        return tags

    def _check_params(self) -> None:
        check_params(self)
        if self.importance == "shap" and self.estimator is not None:
            raise ValueError(
                "importance='shap' scores features with sapwood's own forest; leave "
                "estimator=None (an estimator's importances are its feature_importances_)"
            )

    def _importance_source(self) -> tuple[BaseEstimator, bool]:
        estimator = clone(self.estimator)
        if not hasattr(estimator, "fit"):
            raise TypeError(
                f"estimator must be a scikit-learn estimator, got {type(estimator).__name__}"
            )
        params = estimator.get_params()
        if "n_jobs" in params and params["n_jobs"] is None and self.n_jobs is not None:
            estimator.set_params(n_jobs=self.n_jobs)
        return estimator, is_classifier(estimator)

    def fit(self, X: Any, y: Any) -> BorutaSelector:
        """Run the selection.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : BorutaSelector
        """
        self._check_params()
        allow_nan = self.__sklearn_tags__().input_tags.allow_nan
        X, y = validate_data(
            self,
            X,
            y,
            dtype=[np.float64, np.float32],
            accept_sparse=["csr", "csc", "coo"],
            ensure_all_finite="allow-nan" if allow_nan else True,
            y_numeric=False,
        )
        # Shadow features are column permutations of dense columns; absent entries are zeros.
        X = densify(X)
        seed = seed_from_random_state(self.random_state)
        if self.estimator is None:
            state = self._select_with_forest(X, y, seed)
            self.estimator_ = None
        else:
            state = self._select_with_estimator(X, y, seed)
        self._store_result(state)
        return self

    def _select_with_forest(self, X: NDArray, y: NDArray, seed: int) -> Any:
        """The whole loop in Rust, over sapwood's random forest."""
        from sklearn.preprocessing import LabelEncoder
        from sklearn.utils.class_weight import compute_sample_weight

        target = type_of_target(y)
        if target in ("binary", "multiclass"):
            codes = LabelEncoder().fit_transform(y)
            n_classes = int(codes.max()) + 1
            if n_classes < 2:
                raise ValueError(
                    "y has only one class; feature relevance needs at least two classes"
                )
            objective = "binary:logistic" if n_classes == 2 else "multi:softprob"
            num_class = 0 if n_classes == 2 else n_classes
            labels = codes.astype(np.float32)
            weights = compute_sample_weight("balanced", codes).astype(np.float32)
        elif target == "continuous":
            objective, num_class = "reg:squarederror", 0
            labels = np.asarray(y, dtype=np.float32)
            weights = np.ones(labels.shape[0], dtype=np.float32)
        else:
            raise ValueError(f"Unknown label type: BorutaSelector cannot use a {target!r} target")
        progress = _Progress(int(self.max_iter)) if self.verbose else None
        try:
            return _native.boruta_forest_select(
                native_array(X, dtype=np.float32),
                native_array(labels),
                native_array(weights),
                {
                    "objective": objective,
                    "num_class": num_class,
                    "n_estimators": None if self.n_estimators == "auto" else int(self.n_estimators),
                    "max_depth": _FOREST_DEPTH,
                    "subsample": _FOREST_SUBSAMPLE,
                    "perc": float(self.perc),
                    "alpha": float(self.alpha),
                    "two_step": bool(self.two_step),
                    "max_iter": int(self.max_iter),
                    "early_stopping": bool(self.early_stopping),
                    "n_iter_no_change": int(self.n_iter_no_change),
                    "seed": seed,
                    "importance": self.importance,
                },
                progress=progress,
                n_jobs=self.n_jobs,
            )
        finally:
            if progress is not None:
                progress.close()

    def _select_with_estimator(self, X: NDArray, y: NDArray, seed: int) -> Any:
        """A Python loop over a clone of the user's estimator; statistics in Rust."""
        estimator, classification = self._importance_source()
        if classification and np.unique(y).size < 2:
            raise ValueError("y has only one class; feature relevance needs at least two classes")
        params = estimator.get_params()
        max_depth = params.get("max_depth")
        rng = np.random.default_rng(seed)
        n_features = X.shape[1]
        progress = _Progress(int(self.max_iter)) if self.verbose else None
        state = _native.BorutaState(
            n_features,
            perc=float(self.perc),
            alpha=float(self.alpha),
            two_step=bool(self.two_step),
            max_iter=int(self.max_iter),
            early_stopping=bool(self.early_stopping),
            n_iter_no_change=int(self.n_iter_no_change),
        )
        while not state.finished:
            active = state.active()
            current = X[:, active]
            shadows = current
            while shadows.shape[1] < 5:  # at least five shadows, as BorutaPy
                shadows = np.hstack([shadows, shadows])
            shadows = rng.permuted(shadows, axis=0)
            updates: dict[str, Any] = {}
            if "n_estimators" in params:
                updates["n_estimators"] = (
                    _native.auto_tree_count(active.size, max_depth)
                    if self.n_estimators == "auto"
                    else int(self.n_estimators)
                )
            if "random_state" in params:
                updates["random_state"] = int(rng.integers(0, 2**31 - 1))
            estimator.set_params(**updates)
            estimator.fit(np.hstack([current, shadows]), y)
            importances = getattr(estimator, "feature_importances_", None)
            if importances is None:
                raise ValueError(
                    f"{type(estimator).__name__} has no feature_importances_ after fit; "
                    "BorutaSelector needs an estimator that reports feature importances"
                )
            importances = np.asarray(importances, dtype=np.float64)
            k = active.size
            state.record(native_array(importances[:k]), native_array(importances[k:]))
            if progress is not None:
                codes = state.decisions()
                progress(
                    state.iterations,
                    int(self.max_iter),
                    int((codes == 1).sum()),
                    int((codes == 0).sum()),
                    int((codes == -1).sum()),
                )
        if progress is not None:
            progress.close()
        self.estimator_ = estimator
        return state

    def _store_result(self, state: Any) -> None:
        result = state.finish()
        codes = state.decisions()
        self.support_ = np.asarray(result["support"], dtype=bool)
        self.support_weak_ = np.asarray(result["support_weak"], dtype=bool)
        self.ranking_ = np.asarray(result["ranking"], dtype=np.int64)
        self.n_features_ = int(self.support_.sum())
        self.decision_ = np.array([_CODES[int(c)] for c in codes], dtype=object)
        self.importance_history_ = state.importance_history()
        self.shadow_history_ = state.shadow_history()
        self.decision_history_ = state.decision_history()
        self.n_iter_ = state.iterations
        self._rough_fixed = state.rough_fixed_decisions()

    def _get_support_mask(self) -> NDArray:
        check_is_fitted(self, "support_")
        return self.support_

    def tentative_rough_fix(self) -> BorutaSelector:
        """A copy of this fitted selector with no tentative features (R's TentativeRoughFix).

        A tentative feature is confirmed when its median importance beats the median shadow
        threshold, and rejected otherwise.

        Examples
        --------
        >>> from sklearn.datasets import make_classification
        >>> from sapwood import BorutaSelector
        >>> X, y = make_classification(n_samples=200, n_features=8, n_informative=2,
        ...                            n_redundant=0, shuffle=False, random_state=0)
        >>> selector = BorutaSelector(max_iter=10, random_state=0).fit(X, y)
        >>> bool((selector.decision_ == "tentative").any())
        True
        >>> fixed = selector.tentative_rough_fix()
        >>> int((fixed.decision_ == "tentative").sum())
        0
        """
        check_is_fitted(self, "support_")
        fixed = copy.deepcopy(self)
        codes = np.asarray(self._rough_fixed)
        fixed.support_ = codes == 1
        fixed.support_weak_ = np.zeros_like(fixed.support_)
        fixed.n_features_ = int(fixed.support_.sum())
        fixed.decision_ = np.array([_CODES[int(c)] for c in codes], dtype=object)
        fixed.ranking_ = np.where(
            fixed.support_, 1, np.where(self.support_weak_, 2, self.ranking_)
        ).astype(np.int64)
        return fixed

    def plot(self, ax: Any = None, feature_names: Any = None):
        """Boxplots of each feature's importance over the fits, coloured by decision (green
        confirmed, yellow tentative, red rejected), beside the shadows' min / mean / max (blue),
        ordered by median importance. Needs matplotlib (the ``plot`` extra)."""
        from sapwood.plotting import boruta_importance_plot

        check_is_fitted(self, "support_")
        return boruta_importance_plot(self, ax=ax, feature_names=feature_names)

    def plot_history(self, ax: Any = None, feature_names: Any = None):
        """Lines of each feature's importance over the fits, with the shadow min / mean / max."""
        from sapwood.plotting import boruta_history_plot

        check_is_fitted(self, "support_")
        return boruta_history_plot(self, ax=ax, feature_names=feature_names)


class _Progress:
    """How far a selection has come, shown after every fit: a ``tqdm`` bar when tqdm is
    installed (the ``progress`` extra), otherwise one line on standard error rewritten in place.

    Called as ``progress(iteration, max_iter, confirmed, tentative, rejected)``, from the
    Rust loop (which takes the GIL only for the call) or from the Python one.
    """

    def __init__(self, max_iter: int) -> None:
        self._bar: Any = None
        self._line = ""
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return
        self._bar = tqdm(total=max_iter, desc="Boruta", unit="fit", leave=True)

    def __call__(
        self, iteration: int, max_iter: int, confirmed: int, tentative: int, rejected: int
    ) -> None:
        counts = f"confirmed {confirmed}  tentative {tentative}  rejected {rejected}"
        if self._bar is not None:
            self._bar.update(iteration - self._bar.n)
            self._bar.set_postfix_str(counts)
            return
        self._line = f"\rBoruta: iteration {iteration}/{max_iter}  {counts}"
        sys.stderr.write(self._line)
        sys.stderr.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self._line:
            sys.stderr.write("\n")
            sys.stderr.flush()
