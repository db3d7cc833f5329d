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
