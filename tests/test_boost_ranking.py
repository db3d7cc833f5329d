"""Learning to rank: ``GBTRanker`` against xgboost's ``XGBRanker`` (same scores, same
metrics), its query-group input, model files, and bad input."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from sapwood import GBTRanker, GBTRegressor, _native, load_model
from sapwood.callback import EarlyStopping

xgb = pytest.importorskip("xgboost")


def _queries(n_q=40, sizes=(2, 30), seed=0, max_rel=4, binary=False, n_features=5):
    """Queries of random sizes; features rounded to one decimal (at most max_bin distinct
    values, so hist and exact see the same splits); relevance from a noisy score."""
    rng = np.random.default_rng(seed)
    size = rng.integers(sizes[0], sizes[1], n_q)
    n = int(size.sum())
    X = rng.normal(size=(n, n_features)).round(1)
    s = X[:, 0] + 0.5 * X[:, 1] + rng.normal(0, 0.5, n)
    y = np.clip(np.floor(s + 2), 0, max_rel)
    if binary:
        y = (y >= 2).astype(float)
    return X, y, np.repeat(np.arange(n_q), size)


def _scaled_diff(a, b):
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(a)))))


_CASES = [
    {"objective": "rank:ndcg"},
    {"objective": "rank:pairwise"},
    {"objective": "rank:map"},
    {"objective": "rank:ndcg", "lambdarank_pair_method": "mean"},
    {
        "objective": "rank:pairwise",
        "lambdarank_pair_method": "mean",
        "lambdarank_num_pair_per_sample": 3,
    },
    {"objective": "rank:map", "lambdarank_pair_method": "mean"},
    {"objective": "rank:ndcg", "lambdarank_num_pair_per_sample": 5},
    {"objective": "rank:ndcg", "ndcg_exp_gain": False},
    {"objective": "rank:ndcg", "lambdarank_unbiased": True},
    {"objective": "rank:ndcg", "lambdarank_unbiased": True, "lambdarank_pair_method": "mean"},
    {"objective": "rank:pairwise", "lambdarank_unbiased": True, "lambdarank_bias_norm": 0.5},
    {
        "objective": "rank:ndcg",
        "lambdarank_normalization": False,
        "lambdarank_score_normalization": False,
    },
]


@pytest.mark.parametrize("tree_method", ["hist", "exact"])
@pytest.mark.parametrize("params", _CASES, ids=lambda p: "-".join(map(str, p.values())))
def test_scores_equal_xgboost(params, tree_method):
    X, y, qid = _queries(binary=params["objective"] == "rank:map")
    kw = {"n_estimators": 10, "tree_method": tree_method, "max_depth": 4, **params}
    expected = xgb.XGBRanker(**kw).fit(X, y, qid=qid).predict(X)
    got = GBTRanker(**kw).fit(X, y, qid=qid).predict(X)
    assert _scaled_diff(expected, got) < 1e-5


@pytest.mark.parametrize(
    ("objective", "weighted"),
    [("rank:ndcg", True), ("rank:map", True), ("rank:pairwise", False)],
)
def test_approx_weighted_queries_and_single_documents_equal_xgboost(objective, weighted):
    # Queries of one document (no pairs: zero gradients, values left out of approx's
    # sketch) and per-query weights.
    X, y, qid = _queries(n_q=60, sizes=(1, 60), seed=5, binary=objective == "rank:map")
    w = np.random.default_rng(1).uniform(0.2, 3.0, 60) if weighted else None
    for method in ("approx", "hist"):
        kw = {"n_estimators": 10, "tree_method": method, "max_depth": 5, "objective": objective}
        expected = xgb.XGBRanker(**kw).fit(X, y, qid=qid, sample_weight=w).predict(X)
        got = GBTRanker(**kw).fit(X, y, qid=qid, sample_weight=w).predict(X)
        assert _scaled_diff(expected, got) < 1e-5, method


def test_metrics_equal_xgboost():
    X, y, qid = _queries(seed=1)
    Xe, ye, qe = _queries(seed=2, n_q=25)
    ye[qe == 3] = 0  # a query without relevant documents
    yb, yeb = (y >= 2).astype(float), (ye >= 2).astype(float)
    w = np.random.default_rng(0).uniform(0.5, 2, 25)
    for objective, yt, yv, metrics in [
        ("rank:ndcg", y, ye, ["ndcg", "ndcg@5", "ndcg@3-", "ndcg-"]),
        ("rank:map", yb, yeb, ["map", "map@5", "map-", "pre@3", "pre", "ndcg@10"]),
        ("rank:pairwise", y, ye, None),
        ("rank:ndcg", y, ye, None),
    ]:
        for weights in (None, [w]):
            kw = {"n_estimators": 5, "objective": objective, "eval_metric": metrics}
            fit = {"qid": qid, "eval_set": [(Xe, yv)], "eval_qid": [qe]}
            xm = xgb.XGBRanker(**kw).fit(X, yt, sample_weight_eval_set=weights, **fit)
            sm = GBTRanker(**kw).fit(X, yt, sample_weight_eval_set=weights, **fit)
            expected = xm.evals_result()["validation_0"]
            got = sm.evals_result_["validation_0"]
            assert list(got) == list(expected)
            for name in expected:
                np.testing.assert_allclose(got[name], expected[name], rtol=1e-9, atol=1e-12)


def test_default_metric_follows_the_pair_method():
    X, y, qid = _queries(n_q=10)
    fit = {"qid": qid, "eval_set": [(X, y)], "eval_qid": [qid]}
    assert list(GBTRanker(n_estimators=2).fit(X, y, **fit).evals_result_["validation_0"]) == [
        "ndcg@32"
    ]
    m = GBTRanker(n_estimators=2, lambdarank_pair_method="mean").fit(X, y, **fit)
    assert list(m.evals_result_["validation_0"]) == ["ndcg"]
    yb = (y > 1).astype(int)
    fit = {"qid": qid, "eval_set": [(X, yb)], "eval_qid": [qid]}
    m = GBTRanker(n_estimators=2, objective="rank:map").fit(X, yb, **fit)
    assert list(m.evals_result_["validation_0"]) == ["map@32"]


def test_score_is_ndcg_and_equals_xgboost():
    X, y, qid = _queries(seed=3)
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    df.insert(0, "qid", qid)
    ours = GBTRanker(n_estimators=8).fit(df, y)
    theirs = xgb.XGBRanker(n_estimators=8).fit(df, y)
    assert ours.score(df, y) == pytest.approx(theirs.score(df, y), abs=1e-9)
    features = df.drop(columns="qid")
    assert ours.score(features, y, qid=qid) == pytest.approx(ours.score(df, y))
    # The qid column is not a feature.
    assert list(ours.feature_names_in_) == [f"f{i}" for i in range(X.shape[1])]
    np.testing.assert_array_equal(ours.predict(df), ours.predict(features))


def test_qid_group_and_column_are_the_same_queries():
    X, y, qid = _queries(seed=4)
    by_qid = GBTRanker(n_estimators=5).fit(X, y, qid=qid).predict(X)
    sizes = np.bincount(qid)
    by_group = GBTRanker(n_estimators=5).fit(X, y, group=sizes).predict(X)
    np.testing.assert_array_equal(by_qid, by_group)
    # Query ids need not be consecutive, only sorted.
    by_sparse_ids = GBTRanker(n_estimators=5).fit(X, y, qid=qid * 7 + 3).predict(X)
    np.testing.assert_array_equal(by_qid, by_sparse_ids)


def test_held_out_ndcg_matches_xgboost():
    rng = np.random.default_rng(7)
    n_q, per = 300, 20
    X = rng.normal(size=(n_q * per, 10))
    s = X[:, 0] + np.sin(2 * X[:, 1]) + 0.5 * X[:, 2] * X[:, 3] + rng.normal(0, 0.3, n_q * per)
    y = np.clip(np.floor(s + 1.5), 0, 4)
    qid = np.repeat(np.arange(n_q), per)
    train, test = qid < 200, qid >= 200
    kw = {"n_estimators": 50, "max_depth": 6, "learning_rate": 0.1}
    ours = GBTRanker(**kw).fit(X[train], y[train], qid=qid[train])
    theirs = xgb.XGBRanker(**kw).fit(X[train], y[train], qid=qid[train])
    offsets = np.r_[0, np.cumsum(np.bincount(qid[test] - 200))].astype(np.int64)

    def ndcg10(scores):
        return _native.rank_metric(
            "ndcg@10", scores.astype(np.float32), y[test].astype(np.float32), offsets
        )

    assert ndcg10(ours.predict(X[test])) >= ndcg10(theirs.predict(X[test])) - 0.002


def _mean_pairwise_ranker():
    """Data and a ranker fitted with non-default ranking parameters, for the file tests."""
    X, y, qid = _queries(seed=3)
    m = GBTRanker(
        n_estimators=6,
        objective="rank:pairwise",
        lambdarank_pair_method="mean",
        lambdarank_num_pair_per_sample=2,
    ).fit(X, y, qid=qid)
    return X, y, qid, m


def test_model_files_and_pickles_keep_the_ranker():
    X, y, qid, m = _mean_pairwise_ranker()
    p = m.predict(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(m)).predict(X), p)
    np.testing.assert_array_equal(clone(m).fit(X, y, qid=qid).predict(X), p)


def test_xgboost_json_both_ways(tmp_path):
    X, y, qid, m = _mean_pairwise_ranker()
    m.save_model(tmp_path / "x.json", format="xgboost")
    booster = xgb.Booster()
    booster.load_model(tmp_path / "x.json")
    np.testing.assert_array_equal(booster.predict(xgb.DMatrix(X)), m.predict(X))
    back = load_model(tmp_path / "x.json")
    assert isinstance(back, GBTRanker)
    assert back.get_params()["lambdarank_pair_method"] == "mean"
    assert back.get_params()["lambdarank_num_pair_per_sample"] == 2
    m.save_model(tmp_path / "s.json")
    again = load_model(tmp_path / "s.json")
    assert isinstance(again, GBTRanker)
    np.testing.assert_array_equal(again.predict(X), m.predict(X))

    theirs = xgb.XGBRanker(n_estimators=6, objective="rank:map").fit(X, (y > 1) * 1.0, qid=qid)
    theirs.save_model(tmp_path / "theirs.json")
    imported = load_model(tmp_path / "theirs.json")
    assert isinstance(imported, GBTRanker)
    assert imported.objective == "rank:map"
    np.testing.assert_allclose(imported.predict(X), theirs.predict(X), rtol=0, atol=1e-6)


def test_continued_fit_equals_one_fit():
    X, y, qid = _queries(seed=6)
    kw = {"objective": "rank:ndcg", "lambdarank_pair_method": "mean"}
    full = GBTRanker(n_estimators=8, **kw).fit(X, y, qid=qid)
    half = GBTRanker(n_estimators=4, **kw).fit(X, y, qid=qid)
    more = GBTRanker(n_estimators=4, **kw).fit(X, y, qid=qid, xgb_model=half)
    np.testing.assert_allclose(more.predict(X), full.predict(X), rtol=0, atol=1e-6)


def test_early_stopping_maximises_ndcg():
    X, y, qid = _queries(n_q=60, seed=8)
    train, valid = qid < 40, qid >= 40
    m = GBTRanker(n_estimators=200, learning_rate=0.5, early_stopping_rounds=5)
    m.fit(
        X[train],
        y[train],
        qid=qid[train],
        eval_set=[(X[valid], y[valid])],
        eval_qid=[qid[valid]],
    )
    log = m.evals_result_["validation_0"]["ndcg@32"]
    assert m.best_iteration_ == int(np.argmax(log))
    assert len(log) < 200
    assert EarlyStopping(5).maximize is None


def test_deterministic_across_thread_counts():
    X, y, qid = _queries(n_q=80, seed=9)
    kw = {"n_estimators": 6, "lambdarank_pair_method": "mean", "lambdarank_unbiased": True}
    a = GBTRanker(n_jobs=1, **kw).fit(X, y, qid=qid).predict(X)
    b = GBTRanker(n_jobs=2, **kw).fit(X, y, qid=qid).predict(X)
    np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------- bad input
def test_unsorted_qid_is_a_value_error_as_in_xgboost():
    X, y, qid = _queries(n_q=5)
    shuffled = qid.copy()
    shuffled[[0, -1]] = shuffled[[-1, 0]]
    with pytest.raises(ValueError, match="sorted in non-decreasing order"):
        GBTRanker(n_estimators=2).fit(X, y, qid=shuffled)
    with pytest.raises(Exception, match="sorted"):
        xgb.XGBRanker(n_estimators=2).fit(X, y, qid=shuffled)


@pytest.mark.parametrize(
    ("objective", "labels", "extra", "match"),
    [
        ("rank:ndcg", -1.0, {}, "non-negative"),
        ("rank:pairwise", -0.5, {}, "non-negative"),
        ("rank:ndcg", 32.0, {}, "at most 31"),
        ("rank:ndcg", 1.5, {}, "integers"),
        ("rank:map", 2.0, {}, "0 or 1"),
        ("rank:ndcg", np.nan, {}, "NaN"),
    ],
)
def test_bad_relevance_labels(objective, labels, extra, match):
    X, y, qid = _queries(n_q=5, binary=objective == "rank:map")
    y = y.copy()
    y[3] = labels
    with pytest.raises(ValueError, match=match):
        GBTRanker(n_estimators=2, objective=objective, **extra).fit(X, y, qid=qid)


def test_large_relevance_without_the_exponential_gain_is_accepted():
    X, y, qid = _queries(n_q=5)
    y = y * 20.0
    GBTRanker(n_estimators=2, ndcg_exp_gain=False).fit(X, y, qid=qid)


@pytest.mark.parametrize(
    ("fit", "match"),
    [
        ({"qid": np.zeros(3)}, "qid has 3 entries"),
        ({"qid": np.linspace(0, 1, 10)}, "integers"),
        ({"group": [3, 3]}, "add up to 6"),
        ({"group": [-1, 11]}, "non-negative"),
        ({"qid": np.zeros(10), "group": [10]}, "not both"),
        ({"qid": np.zeros(10), "sample_weight": np.ones(10)}, "one weight a query"),
        ({"qid": np.zeros(10), "sample_weight": [-1.0]}, "non-negative"),
    ],
)
def test_bad_queries_and_weights(fit, match):
    X, y, _ = _queries(n_q=1, sizes=(10, 11))
    with pytest.raises(ValueError, match=match):
        GBTRanker(n_estimators=2).fit(X, y, **fit)


def test_bad_eval_queries_and_parameters():
    X, y, qid = _queries(n_q=5)
    with pytest.raises(ValueError, match="one entry per eval_set"):
        GBTRanker(n_estimators=2).fit(X, y, qid=qid, eval_set=[(X, y)], eval_qid=[qid, qid])
    with pytest.raises(ValueError, match="need eval_set"):
        GBTRanker(n_estimators=2).fit(X, y, qid=qid, eval_qid=[qid])
    with pytest.raises(ValueError, match="lambdarank_pair_method"):
        GBTRanker(lambdarank_pair_method="all").fit(X, y, qid=qid)
    with pytest.raises(ValueError, match="lambdarank_num_pair_per_sample"):
        GBTRanker(lambdarank_num_pair_per_sample=0).fit(X, y, qid=qid)
    with pytest.raises(ValueError, match="lambdarank_bias_norm"):
        GBTRanker(lambdarank_bias_norm=-1.0).fit(X, y, qid=qid)
    with pytest.raises(ValueError, match="ranking objective"):
        GBTRanker(objective="reg:squarederror").fit(X, y, qid=qid)
    with pytest.raises(ValueError, match="use GBTRanker"):
        GBTRegressor(objective="rank:ndcg").fit(X, y)
    with pytest.raises(ValueError, match="binary relevance"):
        GBTRanker(n_estimators=2, eval_metric="map").fit(
            X, y, qid=qid, eval_set=[(X, y)], eval_qid=[qid]
        )
    with pytest.raises(ValueError, match="unknown eval_metric"):
        GBTRanker(n_estimators=2, eval_metric="ndcg@x").fit(X, y, qid=qid)


def test_single_document_queries_get_no_gradient_and_score_one():
    X, y, _ = _queries(n_q=1, sizes=(12, 13))
    qid = np.arange(len(y))  # every document alone
    m = GBTRanker(n_estimators=3).fit(X, y, qid=qid)
    # No pairs anywhere: no split, every score is the intercept.
    assert np.unique(m.predict(X)).size == 1
    assert m.score(X, y, qid=qid) == 1.0


def test_rank_metric_function():
    scores = np.array([3, 2, 1, 0.5, 0.1], dtype=np.float32)
    labels = np.array([2, 1, 0, 1, 0], dtype=np.float32)
    groups = np.array([0, 3, 5], dtype=np.int64)
    assert _native.rank_metric("ndcg", scores, labels, groups) == pytest.approx(1.0)
    assert _native.rank_metric("pre@1", scores, (labels > 0).astype(np.float32), groups) == 1.0
    with pytest.raises(ValueError, match="not a ranking metric"):
        _native.rank_metric("rmse", scores, labels, groups)
    with pytest.raises(ValueError, match="cover"):
        _native.rank_metric("ndcg", scores, labels, np.array([0, 4], dtype=np.int64))


# Rankers weigh queries, not rows (XGBRanker's semantics): scikit-learn's sample-weight
# checks pass one weight a row.
_PER_QUERY = "ranking weighs queries: one weight a query, not a row (as XGBRanker)"
_WEIGHT_CHECKS = (
    "check_sample_weights_pandas_series",
    "check_sample_weights_not_an_array",
    "check_sample_weights_list",
    "check_all_zero_sample_weights_error",
    "check_sample_weights_shape",
    "check_sample_weights_not_overwritten",
    "check_sample_weight_equivalence_on_dense_data",
    "check_sample_weight_equivalence_on_sparse_data",
)


@parametrize_with_checks(
    [GBTRanker(n_estimators=5, tree_method="exact")],
    expected_failed_checks=lambda est: dict.fromkeys(_WEIGHT_CHECKS, _PER_QUERY),
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
