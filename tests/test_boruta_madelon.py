"""Boruta on Madelon-like data: 20 relevant columns among 500.

The default forest runs the whole loop in Rust (seconds); the scikit-learn forest takes a
minute or two on two cores.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier

from sapwood import BorutaSelector

N_RELEVANT = 20


@pytest.fixture(scope="module")
def madelon():
    # shuffle=False: 5 informative and 15 redundant columns first, 480 noise columns after.
    return make_classification(
        n_samples=2000,
        n_features=500,
        n_informative=5,
        n_redundant=15,
        shuffle=False,
        random_state=0,
    )


def _check(selector):
    confirmed = np.flatnonzero(selector.support_)
    assert np.isin(np.arange(N_RELEVANT), confirmed).all(), confirmed
    assert int((confirmed >= N_RELEVANT).sum()) <= 1, confirmed


@pytest.mark.parametrize("seed", [0, 1])
def test_default_forest_confirms_every_relevant_column(madelon, seed):
    X, y = madelon
    _check(BorutaSelector(random_state=seed).fit(X, y))


def test_scikit_learn_forest_confirms_every_relevant_column(madelon):
    X, y = madelon
    forest = RandomForestClassifier(max_depth=5, class_weight="balanced", n_jobs=-1)
    _check(BorutaSelector(forest, random_state=0).fit(X, y))


def test_shap_importance_confirms_every_relevant_column(madelon):
    """Boruta on mean absolute SHAP values of the native forest (the loop still in Rust):
    every relevant column, and no more false positives than the gain-based default."""
    X, y = madelon
    shap = BorutaSelector(importance="shap", random_state=0).fit(X, y)
    _check(shap)
    gain = BorutaSelector(random_state=0).fit(X, y)
    false_shap = int((np.flatnonzero(shap.support_) >= N_RELEVANT).sum())
    false_gain = int((np.flatnonzero(gain.support_) >= N_RELEVANT).sum())
    assert false_shap <= max(false_gain, 1)


def test_shap_importance_needs_the_native_forest():
    X, y = make_classification(n_samples=100, n_features=5, random_state=0)
    with pytest.raises(ValueError, match="estimator=None"):
        BorutaSelector(RandomForestClassifier(), importance="shap").fit(X, y)
    with pytest.raises(ValueError, match="'gain' or 'shap'"):
        BorutaSelector(importance="permutation").fit(X, y)
