"""The sections of ``sapwood demo``: each capability shows itself on built-in or generated data.

A section is a name, a title and a function that prints its results. Nothing is downloaded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sapwood import _native


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    run: Callable[[], None]


def _threads() -> None:
    """The thread policy every engine follows."""
    for n_jobs in (None, -1, 1, 2):
        print(f"  n_jobs={n_jobs!s:<5} -> {_native.effective_n_jobs(n_jobs)} thread(s)")
    print(f"  numpy {np.__version__}; GIL released during every long Rust call")


def _timed(label: str, fn: Callable[[], object]) -> object:
    start = time.perf_counter()
    out = fn()
    print(f"  {label:<40} {time.perf_counter() - start:8.3f} s")
    return out


def _boosting() -> None:
    """Gradient boosting (exact split finder) on scikit-learn's breast-cancer and diabetes data."""
    from sklearn.datasets import load_breast_cancer, load_diabetes
    from sklearn.metrics import mean_squared_error, roc_auc_score
    from sklearn.model_selection import train_test_split

    from sapwood import GBTClassifier, GBTRegressor

    X, y = load_breast_cancer(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0)
    clf = GBTClassifier(
        n_estimators=200,
        learning_rate=0.1,
        max_depth=4,
        tree_method="exact",
        early_stopping_rounds=10,
        eval_metric="logloss",
    )
    _timed(
        "GBTClassifier.fit (breast cancer, exact)", lambda: clf.fit(Xtr, ytr, eval_set=[(Xte, yte)])
    )
    auc = roc_auc_score(yte, clf.predict_proba(Xte)[:, 1])
    print(f"  best iteration {clf.best_iteration_}, test AUC {auc:.4f}")
    top = np.argsort(clf.feature_importances_)[::-1][:3]
    print(f"  top features by gain: {', '.join(f'f{i}' for i in top)}")

    X, y = load_diabetes(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0)
    reg = GBTRegressor(n_estimators=100, learning_rate=0.05, max_depth=3, tree_method="exact")
    _timed("GBTRegressor.fit (diabetes, exact)", lambda: reg.fit(Xtr, ytr))
    rmse = mean_squared_error(yte, reg.predict(Xte)) ** 0.5
    print(f"  test RMSE {rmse:.2f} (target std {yte.std():.2f})")


SECTIONS: list[Section] = [
    Section("threads", "Thread policy", _threads),
    Section("boosting", "Gradient-boosted trees (exact)", _boosting),
]
