"""Boruta: the statistics against scipy and BorutaPy, and the selector on data with known
relevant features."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
from scipy import stats
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from sapwood import BorutaSelector, _native

# --- statistics -------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 7, 8, 20, 99, 100, 500, 1500])
@pytest.mark.parametrize("p", [0.5, 0.1, 0.93])
def test_binomial_tails_match_scipy(n, p):
    for h in sorted({0, 1, n // 3, n // 2, n - 1, n}):
        np.testing.assert_allclose(
            _native.binomial_sf(h, n, p), stats.binom.sf(h - 1, n, p), rtol=1e-9, atol=1e-300
        )
        np.testing.assert_allclose(
            _native.binomial_cdf(h, n, p), stats.binom.cdf(h, n, p), rtol=1e-9, atol=1e-300
        )


def test_binomial_rejects_bad_probability():
    with pytest.raises(ValueError, match="success probability"):
        _native.binomial_sf(1, 3, 1.5)


def _boruta_py(boruta, alpha, two_step):
    return boruta.BorutaPy(RandomForestClassifier(), alpha=alpha, two_step=two_step)


@pytest.mark.parametrize("m", [1, 3, 10, 57])
def test_benjamini_hochberg_matches_boruta_py(boruta, m):
    rng = np.random.default_rng(m)
    for alpha in (0.01, 0.05, 0.2):
        p = rng.uniform(0, 0.1, size=m) ** 2
        p[rng.integers(0, m, size=m // 3)] = p[0]  # ties
        expected = _boruta_py(boruta, alpha, True)._fdrcorrection(p, alpha=alpha)[0]
        np.testing.assert_array_equal(_native.benjamini_hochberg(p, alpha), expected)


@pytest.mark.parametrize("two_step", [True, False])
@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.3])
def test_decisions_match_boruta_py_do_tests_on_fixed_hit_histories(boruta, two_step, alpha):
    rng = np.random.default_rng(7)
    reference = _boruta_py(boruta, alpha, two_step)
    n_features = 40
    for trial in range(25):
        iteration = int(rng.integers(1, 120))
        hits = rng.binomial(iteration, rng.uniform(0, 1, size=n_features)).astype(np.int64)
        decisions = rng.choice([-1, 0, 0, 0, 1], size=n_features).astype(np.int64)
        expected = reference._do_tests(decisions.copy(), hits, iteration)
        got = _native.boruta_tests(decisions.tolist(), hits.tolist(), iteration, alpha, two_step)
        np.testing.assert_array_equal(got, expected, err_msg=f"trial {trial}")


def test_auto_tree_count_matches_boruta_py(boruta):
    reference = boruta.BorutaPy(RandomForestClassifier(max_depth=5))
    for n in (1, 10, 21, 50, 500):
        assert _native.auto_tree_count(n, 5) == reference._get_tree_num(n)


# --- the selector -----------------------------------------------------------------------------


def _relevant_data(n_samples=400, n_features=30, seed=0):
    # shuffle=False: informative then redundant columns first, the rest is noise.
    return make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=4,
        n_redundant=2,
        shuffle=False,
        random_state=seed,
    )


@pytest.fixture(scope="module")
def fitted():
    X, y = _relevant_data()
    return BorutaSelector(random_state=0, max_iter=40).fit(X, y), X, y


def test_relevant_features_are_confirmed_and_noise_rejected(fitted):
    selector, X, _ = fitted
    assert selector.support_[:6].all()
    false_positives = int(selector.support_[6:].sum())
    assert false_positives <= 1
    assert selector.n_features_ == int(selector.support_.sum())
    counts = {
        d: int((selector.decision_ == d).sum()) for d in ("confirmed", "tentative", "rejected")
    }
    assert sum(counts.values()) == X.shape[1]
    assert counts["rejected"] >= 15


def test_fitted_attributes_are_consistent(fitted):
    selector, X, _ = fitted
    n_iter = selector.n_iter_
    assert 8 <= n_iter <= 40
    assert selector.importance_history_.shape == (n_iter, X.shape[1])
    assert selector.shadow_history_.shape == (n_iter, 3)
    assert selector.decision_history_.shape == (n_iter, X.shape[1])
    mins, means, maxes = selector.shadow_history_.T
    assert np.all(mins <= means)
    assert np.all(means <= maxes)
    # Rejected features are NaN in every fit after their rejection.
    last = selector.decision_history_[-1]
    rejected = np.flatnonzero(last == -1)
    assert rejected.size > 0  # otherwise the loop below checks nothing
    for j in rejected:
        rejected_at = np.flatnonzero(selector.decision_history_[:, j] == -1)[0]
        assert np.isnan(selector.importance_history_[rejected_at + 1 :, j]).all()
    np.testing.assert_array_equal(selector.ranking_[selector.support_], 1)
    assert selector.ranking_[~selector.support_].min() >= 2


def test_transform_and_friends(fitted):
    selector, X, _ = fitted
    Xt = selector.transform(X)
    assert Xt.shape == (X.shape[0], selector.n_features_)
    np.testing.assert_array_equal(Xt, X[:, selector.support_])
    back = selector.inverse_transform(Xt)
    assert back.shape == X.shape
    np.testing.assert_array_equal(
        selector.get_support(indices=True), np.flatnonzero(selector.support_)
    )
    assert list(selector.get_feature_names_out()) == [
        f"x{i}" for i in np.flatnonzero(selector.support_)
    ]


def test_same_random_state_same_decisions_whatever_n_jobs():
    X, y = _relevant_data(n_samples=200, n_features=15, seed=3)
    a = BorutaSelector(random_state=5, max_iter=20, n_jobs=1).fit(X, y)
    b = BorutaSelector(random_state=5, max_iter=20, n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(a.decision_history_, b.decision_history_)
    np.testing.assert_array_equal(a.importance_history_, b.importance_history_)
    np.testing.assert_array_equal(a.ranking_, b.ranking_)


def test_user_estimator_is_cloned_never_mutated():
    X, y = _relevant_data(n_samples=200, n_features=12, seed=1)
    forest = RandomForestClassifier(max_depth=4, n_estimators=7)
    before = forest.get_params()
    selector = BorutaSelector(forest, random_state=0, max_iter=12).fit(X, y)
    assert forest.get_params() == before
    assert not hasattr(forest, "estimators_")
    assert selector.estimator_ is not forest


def test_pandas_names_are_kept():
    pd = pytest.importorskip("pandas")
    X, y = _relevant_data(n_samples=200, n_features=10, seed=2)
    frame = pd.DataFrame(X, columns=[f"col_{i}" for i in range(X.shape[1])])
    selector = BorutaSelector(random_state=0, max_iter=20).fit(frame, y)
    names = selector.get_feature_names_out()
    assert all(name.startswith("col_") for name in names)
    assert "col_0" in names


def test_regression_target():
    X, y = make_regression(
        n_samples=300, n_features=10, n_informative=3, shuffle=False, random_state=0
    )
    selector = BorutaSelector(random_state=0, max_iter=25).fit(X, y)
    assert selector.support_[:3].all()


def test_tentative_rough_fix_leaves_nothing_tentative():
    X, y = _relevant_data(n_samples=150, n_features=12, seed=4)
    selector = BorutaSelector(random_state=0, max_iter=9).fit(X, y)
    tentative = selector.decision_ == "tentative"
    assert tentative.any(), "nine fits should leave something to fix"
    decision, support = selector.decision_.copy(), selector.support_.copy()
    fixed = selector.tentative_rough_fix()
    assert not (fixed.decision_ == "tentative").any()
    # Only tentative features change, and confirmed ones stay confirmed.
    np.testing.assert_array_equal(fixed.decision_[~tentative], decision[~tentative])
    assert fixed.support_[support].all()
    assert fixed.n_features_ == int(fixed.support_.sum())
    # The original is untouched.
    np.testing.assert_array_equal(selector.decision_, decision)
    np.testing.assert_array_equal(selector.support_, support)


def test_early_stopping_stops_before_max_iter():
    X, y = _relevant_data(n_samples=200, n_features=12, seed=6)
    selector = BorutaSelector(random_state=0, max_iter=100, early_stopping=True, n_iter_no_change=3)
    selector.fit(X, y)
    assert selector.n_iter_ < 100


@pytest.mark.parametrize("estimator", [None, "forest"])
def test_verbose_progress_line_without_tqdm(capsys, monkeypatch, estimator):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # importing it fails
    X, y = _relevant_data(n_samples=100, n_features=8, seed=8)
    est = None if estimator is None else RandomForestClassifier(n_estimators=20)
    sel = BorutaSelector(estimator=est, random_state=0, max_iter=9, verbose=1).fit(X, y)
    err = capsys.readouterr().err
    lines = [line for line in err.split("\r") if line.strip()]
    assert len(lines) == sel.n_iter_
    last = lines[-1].strip()
    assert last.startswith(f"Boruta: iteration {sel.n_iter_}/9")
    counts = {d: int((sel.decision_ == d).sum()) for d in ("confirmed", "tentative", "rejected")}
    assert last.endswith(
        f"confirmed {counts['confirmed']}  tentative {counts['tentative']}  "
        f"rejected {counts['rejected']}"
    )
    assert err.endswith("\n")


@pytest.mark.parametrize("estimator", [None, "forest"])
def test_verbose_progress_bar_with_tqdm(monkeypatch, estimator):
    events = []

    class FakeBar:
        def __init__(self, total, desc, unit, leave):
            events.append(("open", total, desc))
            self.n = 0

        def update(self, k):
            self.n += k

        def set_postfix_str(self, text):
            events.append(("at", self.n, text))

        def close(self):
            events.append(("close", self.n))

    monkeypatch.setitem(sys.modules, "tqdm.auto", types.SimpleNamespace(tqdm=FakeBar))
    X, y = _relevant_data(n_samples=100, n_features=8, seed=8)
    est = None if estimator is None else RandomForestClassifier(n_estimators=20)
    sel = BorutaSelector(estimator=est, random_state=0, max_iter=9, verbose=1).fit(X, y)
    assert events[0] == ("open", 9, "Boruta")
    assert [e[1] for e in events[1:-1]] == list(range(1, sel.n_iter_ + 1))
    assert events[-1] == ("close", sel.n_iter_)
    assert "rejected" in events[-2][2]


# The callback's error is reported as unraisable (a warning under pytest), not raised.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_failing_progress_callback_does_not_stop_the_selection():
    X, y = _relevant_data(n_samples=100, n_features=8, seed=8)
    seen = []

    def progress(*args):
        seen.append(args)
        raise RuntimeError("display went away")

    params = {
        "objective": "binary:logistic",
        "num_class": 0,
        "n_estimators": 20,
        "max_depth": 5,
        "subsample": 0.632,
        "perc": 100.0,
        "alpha": 0.05,
        "two_step": True,
        "max_iter": 6,
        "early_stopping": False,
        "n_iter_no_change": 20,
        "seed": 0,
        "importance": "gain",
    }
    Xf = np.ascontiguousarray(X, dtype=np.float32)
    yf = np.ascontiguousarray(y, dtype=np.float32)
    w = np.ones(len(y), dtype=np.float32)
    state = _native.boruta_forest_select(Xf, yf, w, params, progress=progress)
    assert state.iterations == 6
    assert [s[0] for s in seen] == list(range(1, 7))
    assert all(s[1] == 6 for s in seen)


def test_plots_draw():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    X, y = _relevant_data(n_samples=100, n_features=8, seed=8)
    selector = BorutaSelector(random_state=0, max_iter=10).fit(X, y)
    ax = selector.plot()
    assert len(ax.get_xticklabels()) == X.shape[1] + 3
    ax = selector.plot_history()
    assert len(ax.get_lines()) == X.shape[1] + 3


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"perc": 0}, "perc must be"),
        ({"perc": 101}, "perc must be"),
        ({"alpha": 0.0}, "alpha must be"),
        ({"alpha": 1.0}, "alpha must be"),
        ({"max_iter": 0}, "max_iter must be"),
        ({"n_estimators": 0}, "n_estimators must be"),
        ({"n_jobs": 0}, "n_jobs == 0"),
    ],
)
def test_bad_parameters(params, message):
    X, y = _relevant_data(n_samples=50, n_features=6)
    with pytest.raises(ValueError, match=message):
        BorutaSelector(**params).fit(X, y)


def test_estimator_without_importances():
    X, y = _relevant_data(n_samples=50, n_features=6)
    with pytest.raises(ValueError, match="feature_importances_"):
        BorutaSelector(LogisticRegression(), max_iter=3).fit(X, y)


def test_one_class_only():
    X, _ = _relevant_data(n_samples=50, n_features=6)
    with pytest.raises(ValueError, match="one class"):
        BorutaSelector(max_iter=3).fit(X, np.zeros(50, dtype=int))


def test_nan_with_an_estimator_that_cannot_take_it():
    from sklearn.ensemble import GradientBoostingClassifier

    X, y = _relevant_data(n_samples=50, n_features=6)
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        BorutaSelector(GradientBoostingClassifier(), max_iter=3).fit(X, y)


def test_the_built_in_forest_takes_missing_values():
    X, y = _relevant_data(n_samples=300, n_features=10)
    X[::5, 0] = np.nan
    selector = BorutaSelector(random_state=0, max_iter=30).fit(X, y)
    assert selector.support_[:4].sum() >= 3
    assert selector.estimator_ is None


@parametrize_with_checks([BorutaSelector(max_iter=4, n_estimators=5, random_state=0)])
def test_scikit_learn_compatible(estimator, check):
    check(estimator)
