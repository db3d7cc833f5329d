"""sapwood.plotting: what each figure shows, checked against the model it was drawn from."""

from __future__ import annotations

import doctest
import itertools
import subprocess
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.text import Annotation  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.tree import DecisionTreeRegressor  # noqa: E402

import sapwood.plotting  # noqa: E402
from sapwood import (  # noqa: E402
    GBTClassifier,
    GBTRegressor,
    RFClassifier,
    RFRegressor,
)
from sapwood.plotting import plot_importance, plot_metric, plot_tree  # noqa: E402

pd = pytest.importorskip("pandas")

NAMES = ["age", "income", "height", "weight", "score"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(NAMES)))
    # Missing values in one column, so default directions differ between splits.
    X[rng.random(n) < 0.2, 1] = np.nan
    y = 2.0 * X[:, 0] + np.nan_to_num(np.sin(3 * X[:, 1])) + 0.1 * rng.normal(size=n)
    return pd.DataFrame(X, columns=NAMES), y


@pytest.fixture(scope="module")
def regressor():
    X, y = _data()
    return GBTRegressor(n_estimators=6, max_depth=3, eval_metric=["rmse", "mae"]).fit(
        X[:400], y[:400], eval_set=[(X[:400], y[:400]), (X[400:], y[400:])]
    )


@pytest.fixture(scope="module")
def stopped():
    X, y = _data(seed=1)
    return GBTRegressor(
        n_estimators=200, max_depth=4, learning_rate=0.8, early_stopping_rounds=3
    ).fit(X[:300], y[:300], eval_set=[(X[300:], y[300:])])


@pytest.fixture(scope="module")
def multiclass():
    X, y = _data(seed=2)
    labels = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    return GBTClassifier(n_estimators=3, max_depth=2).fit(X, labels)


# ------------------------------------------------------------------------------- importance
@pytest.mark.parametrize(
    "importance_type", ["weight", "gain", "cover", "total_gain", "total_cover"]
)
def test_importance_bars_are_the_sorted_scores(regressor, importance_type):
    scores = regressor.get_score(importance_type=importance_type)
    ax = plot_importance(regressor, importance_type=importance_type)
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    expected = sorted(scores.items(), key=lambda kv: kv[1])
    assert len(bars) == len(scores)
    # barh puts the first bar at the bottom: ascending bottom-up, the largest on top.
    assert [b.get_width() for b in bars] == pytest.approx([v for _, v in expected])
    assert [b.get_y() + b.get_height() / 2 for b in bars] == list(range(len(bars)))
    assert [t.get_text() for t in ax.get_yticklabels()] == [k for k, _ in expected]
    assert set(scores) <= set(NAMES)
    fmt = "{:.0f}" if importance_type == "weight" else "{:.4g}"
    assert [t.get_text() for t in ax.texts] == [fmt.format(v) for _, v in expected]
    assert ax.get_xlabel() == f"importance ({importance_type})"
    assert ax.get_title() == "Feature importance"


def test_importance_keeps_the_top_features(regressor):
    scores = regressor.get_score(importance_type="gain")
    top = sorted(scores, key=scores.get)[-2:]
    ax = plot_importance(regressor, importance_type="gain", max_num_features=2)
    assert [t.get_text() for t in ax.get_yticklabels()] == top
    assert len([p for p in ax.patches if isinstance(p, Rectangle)]) == 2
    # Asking for more features than the model splits on shows them all.
    ax = plot_importance(regressor, max_num_features=50)
    assert len(ax.get_yticklabels()) == len(scores)


def test_importance_options(regressor):
    _, ax = plt.subplots()
    out = plot_importance(
        regressor,
        ax=ax,
        show_values=False,
        xlim=(0, 100),
        title="splits",
        xlabel="count",
        ylabel=None,
        color="red",
    )
    assert out is ax
    assert len(plt.get_fignums()) == 1
    assert len(ax.texts) == 0
    assert ax.get_xlim() == (0, 100)
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("splits", "count", "")
    assert ax.patches[0].get_facecolor() == matplotlib.colors.to_rgba("red")
    ax = plot_importance(regressor, importance_type="gain", values_format="<{v:.1f}>")
    assert all(t.get_text().startswith("<") for t in ax.texts)


@pytest.mark.parametrize("cls", [GBTRegressor, GBTClassifier, RFRegressor, RFClassifier])
def test_importance_for_every_tree_estimator(cls):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 4))
    y = X[:, 2] > 0 if cls in (GBTClassifier, RFClassifier) else X[:, 2]
    est = cls(n_estimators=4, max_depth=2).fit(X, y)
    ax = plot_importance(est, importance_type="total_gain")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == sorted(est.get_score("total_gain"), key=est.get_score("total_gain").get)
    assert labels[-1] == "f2"


def test_importance_bad_input(regressor):
    with pytest.raises(ValueError, match="unknown importance_type 'size'; expected one of weight"):
        plot_importance(regressor, importance_type="size")
    with pytest.raises(ValueError, match="max_num_features"):
        plot_importance(regressor, max_num_features=0)
    with pytest.raises(TypeError, match="got DecisionTreeRegressor"):
        plot_importance(DecisionTreeRegressor().fit([[0.0], [1.0]], [0.0, 1.0]))
    with pytest.raises(NotFittedError):
        plot_importance(GBTRegressor())


def test_importance_of_a_model_without_splits():
    X = np.arange(20.0).reshape(10, 2)
    est = GBTRegressor(n_estimators=2).fit(X, np.ones(10))
    with pytest.raises(ValueError, match="no splits"):
        plot_importance(est)


# ------------------------------------------------------------------------------- one tree
def _nodes(ax):
    """{node id: text artist} for the boxes of a drawn tree."""
    return {
        t.get_gid().split("-", 1)[1]: t
        for t in ax.texts
        if t.get_gid() and t.get_gid().startswith(("split-", "leaf-"))
    }


def _edges(ax):
    return {
        tuple(t.get_gid().split("-")[1:]): t.get_text()
        for t in ax.texts
        if t.get_gid() and t.get_gid().startswith("edge-")
    }


@pytest.mark.parametrize("tree_index", [0, 3, 5])
def test_tree_draws_every_node_of_the_dump(regressor, tree_index):
    df = regressor.trees_to_dataframe()
    rows = df[df.Tree == tree_index].set_index("ID")
    ax = plot_tree(regressor, tree_index=tree_index)
    nodes = _nodes(ax)
    assert set(nodes) == set(rows.index)
    for node_id, row in rows.iterrows():
        text = nodes[node_id].get_text()
        if row.Feature == "Leaf":
            assert nodes[node_id].get_gid().startswith("leaf-")
            assert text == f"leaf\n{row.Gain:.4g}"
        else:
            assert nodes[node_id].get_gid().startswith("split-")
            assert text == f"{row.Feature} < {row.Split:.4g}"
    # One arrow into every node but the root.
    arrows = [t for t in nodes.values() if isinstance(t, Annotation) and t.arrow_patch]
    assert len(arrows) == len(rows) - 1
    # Edge labels: yes to the left child, no to the right, missing where the dump says.
    splits = rows[rows.Feature != "Leaf"]
    edges = _edges(ax)
    assert len(edges) == 2 * len(splits)
    for node_id, row in splits.iterrows():
        tree, parent = node_id.split("-")
        yes, no, missing = (row[c].split("-")[1] for c in ("Yes", "No", "Missing"))
        assert edges[(tree, parent, yes)] == ("yes, missing" if missing == yes else "yes")
        assert edges[(tree, parent, no)] == ("no, missing" if missing == no else "no")
    assert ax.get_title() == f"tree {tree_index} (round {tree_index})"
    assert not ax.axison


def test_tree_missing_direction_follows_the_data(regressor):
    # The column with missing values sends them both ways somewhere in the model; without a
    # "yes, missing" label the test above would only ever see one direction.
    df = regressor.trees_to_dataframe()
    splits = df[df.Feature != "Leaf"]
    labels = set()
    for t in sorted(set(splits.Tree)):
        labels |= set(_edges(plot_tree(regressor, tree_index=int(t))).values())
        plt.close("all")
    assert {"yes", "no", "yes, missing", "no, missing"} <= labels
    assert (splits.Missing == splits.Yes).any()
    assert (splits.Missing == splits.No).any()


def test_tree_layout_by_depth(regressor):
    df = regressor.trees_to_dataframe()
    rows = df[df.Tree == 0].set_index("ID")
    nodes = _nodes(plot_tree(regressor, tree_index=0))
    pos = {
        k: t.get_position() if not isinstance(t, Annotation) else t.xyann for k, t in nodes.items()
    }
    depth = {"0-0": 0}
    for node_id, row in rows.iterrows():  # parents come before children in the dump
        if row.Feature != "Leaf":
            depth[row.Yes] = depth[row.No] = depth[node_id] + 1
            # Parents centred over their children, the yes child on the left.
            assert pos[node_id][0] == pytest.approx((pos[row.Yes][0] + pos[row.No][0]) / 2)
            assert pos[row.Yes][0] < pos[row.No][0]
    for node_id, (_, y) in pos.items():
        assert y == -depth[node_id]
    leaves = sorted(pos[k][0] for k in rows.index if rows.Feature[k] == "Leaf")
    assert leaves == list(range(len(leaves)))


def test_deep_tree_boxes_do_not_overlap():
    X, y = _data(n=3000, seed=4)
    est = GBTRegressor(n_estimators=1, max_depth=6, min_child_weight=0).fit(X, y)
    df = est.trees_to_dataframe()
    ax = plot_tree(est)
    nodes = _nodes(ax)
    assert len(nodes) == len(df)
    assert df.Feature.eq("Leaf").sum() > 32  # a wide tree, or the test proves little
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    rows: dict[float, list] = {}
    for t in nodes.values():
        y = t.xyann[1] if isinstance(t, Annotation) else t.get_position()[1]
        rows.setdefault(y, []).append(t.get_bbox_patch().get_window_extent(renderer))
    for boxes in rows.values():
        boxes.sort(key=lambda b: b.x0)
        for a, b in itertools.pairwise(boxes):
            assert a.x1 <= b.x0, "boxes on one row overlap"
    # Everything lies inside the axes' view.
    view = ax.get_window_extent(renderer)
    assert all(view.x0 <= b.x0 and b.x1 <= view.x1 for boxes in rows.values() for b in boxes)


def test_tree_numbering_of_a_multiclass_model(multiclass):
    df = multiclass.trees_to_dataframe()
    assert df.Tree.nunique() == 9  # 3 rounds x 3 classes
    ax = plot_tree(multiclass, tree_index=5)
    assert ax.get_title() == "tree 5 (round 1, class 2)"
    assert set(_nodes(ax)) == set(df[df.Tree == 5].ID)
    ax = plot_tree(multiclass, tree_index=-1)
    assert ax.get_title() == "tree 8 (round 2, class 2)"


def test_tree_of_a_random_forest():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 3))
    est = RFClassifier(n_estimators=4, max_depth=2, random_state=0).fit(X, X[:, 0] > 0)
    ax = plot_tree(est, tree_index=3)
    # All trees of a forest grow in its one round.
    assert ax.get_title() == "tree 3 (round 0)"
    df = est.trees_to_dataframe()
    assert set(_nodes(ax)) == set(df[df.Tree == 3].ID)


def test_tree_show_info_and_a_single_leaf(regressor):
    df = regressor.trees_to_dataframe().set_index("ID")
    nodes = _nodes(plot_tree(regressor, tree_index=1, show_info=True, precision=3))
    root = df.loc["1-0"]
    assert nodes["1-0"].get_text() == (
        f"{root.Feature} < {root.Split:.3g}\ngain {root.Gain:.3g}\ncover {root.Cover:.3g}"
    )
    stump = GBTRegressor(n_estimators=1).fit(np.arange(20.0).reshape(10, 2), np.ones(10))
    ax = plot_tree(stump)
    assert [t.get_gid() for t in ax.texts] == ["leaf-0-0"]


def test_tree_reuses_ax_and_rejects_bad_input(regressor):
    _, ax = plt.subplots()
    assert plot_tree(regressor, tree_index=2, ax=ax) is ax
    assert len(plt.get_fignums()) == 1
    with pytest.raises(ValueError, match=r"has 6 trees, so tree_index must be in \[0, 5\]"):
        plot_tree(regressor, tree_index=6)
    with pytest.raises(ValueError, match=r"\[0, 5\]"):
        plot_tree(regressor, tree_index=-7)
    with pytest.raises(TypeError, match="tree_index must be an int"):
        plot_tree(regressor, tree_index=1.0)
    with pytest.raises(TypeError, match="got str"):
        plot_tree("model.json")
    with pytest.raises(NotFittedError):
        plot_tree(GBTClassifier())


# ------------------------------------------------------------------------------- metric history
def test_metric_one_line_per_dataset(regressor):
    ax = plot_metric(regressor)
    lines = ax.get_lines()
    # The default is the last metric, the one early stopping would watch.
    assert [line.get_label() for line in lines] == ["validation_0", "validation_1"]
    for line in lines:
        expected = regressor.evals_result_[line.get_label()]["mae"]
        assert list(line.get_xdata()) == list(range(6))
        assert list(line.get_ydata()) == pytest.approx(expected)
    assert ax.get_ylabel() == "mae"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["validation_0", "validation_1"]


def test_metric_choice_and_datasets(regressor):
    ax = plot_metric(regressor, metric="rmse", dataset_names=["validation_1"], ylabel="RMSE")
    (line,) = ax.get_lines()
    assert line.get_label() == "validation_1"
    assert list(line.get_ydata()) == pytest.approx(regressor.evals_result_["validation_1"]["rmse"])
    assert ax.get_ylabel() == "RMSE"
    # A plain history works too, as LightGBM's plot_metric takes a dict.
    ax = plot_metric({"train": {"logloss": [0.6, 0.5, 0.45]}})
    assert list(ax.get_lines()[0].get_ydata()) == [0.6, 0.5, 0.45]


def test_metric_marks_the_best_iteration(stopped, regressor):
    ax = plot_metric(stopped)
    history, best = ax.get_lines()
    assert len(history.get_xdata()) == stopped.best_iteration_ + 4  # 3 rounds without progress
    assert list(best.get_xdata()) == [stopped.best_iteration_] * 2
    assert best.get_label() == f"best iteration ({stopped.best_iteration_})"
    assert len(plot_metric(stopped, mark_best=False).get_lines()) == 1
    # Without early stopping the last round is the best one: nothing to mark.
    assert len(plot_metric(regressor).get_lines()) == 2


def test_metric_reuses_ax_and_rejects_bad_input(regressor):
    _, ax = plt.subplots()
    assert plot_metric(regressor, ax=ax) is ax
    assert len(plt.get_fignums()) == 1
    with pytest.raises(ValueError, match=r"unknown metric 'auc' .*recorded: rmse, mae"):
        plot_metric(regressor, metric="auc")
    with pytest.raises(ValueError, match=r"unknown dataset.*validation_0, validation_1"):
        plot_metric(regressor, dataset_names=["train"])
    unvalidated = GBTRegressor(n_estimators=2).fit(np.arange(20.0).reshape(10, 2), np.arange(10))
    with pytest.raises(ValueError, match="fit the estimator with eval_set"):
        plot_metric(unvalidated)
    with pytest.raises(TypeError, match="got list"):
        plot_metric([0.5, 0.4])
    with pytest.raises(NotFittedError):
        plot_metric(RFRegressor())


# ------------------------------------------------------------------------------- module
def test_boruta_plots_reuse_ax():
    from sapwood import BorutaSelector

    rng = np.random.default_rng(6)
    X = rng.normal(size=(120, 5))
    selector = BorutaSelector(random_state=0, max_iter=8).fit(X, X[:, 0] + X[:, 1])
    _, (left, right) = plt.subplots(1, 2)
    assert sapwood.plotting.boruta_importance_plot(selector, ax=left) is left
    assert sapwood.plotting.boruta_history_plot(selector, ax=right) is right
    assert len(plt.get_fignums()) == 1
    labels = [t.get_text() for t in left.get_xticklabels()]
    assert sorted(labels) == sorted(
        ["x0", "x1", "x2", "x3", "x4", "shadowMin", "shadowMean", "shadowMax"]
    )
    assert len(right.get_lines()) == 5 + 3


def test_examples_run():
    result = doctest.testmod(sapwood.plotting, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 3
    assert result.failed == 0


def test_import_without_matplotlib():
    # Blocking matplotlib: the module still imports, and a plot names the extra to install.
    code = """
import sys
sys.modules["matplotlib"] = None
sys.modules["matplotlib.pyplot"] = None
import numpy as np
import sapwood.plotting
from sapwood import GBTRegressor
est = GBTRegressor(n_estimators=1).fit(np.arange(20.0).reshape(10, 2), np.arange(10.0))
try:
    sapwood.plotting.plot_importance(est)
except ImportError as exc:
    print(exc)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "pip install 'sapwood[plot]'" in out


# ------------------------------------------------------------------------------- SHAP
def test_shap_importance_is_the_mean_absolute_contribution(regressor):
    X, _ = _data(200, seed=3)
    phi = regressor.predict_contributions(X)
    expected = np.abs(phi[:, :-1].astype(np.float64)).mean(axis=0)
    np.testing.assert_allclose(regressor.shap_importance(X), expected)
    scores = regressor.get_score("shap", X)
    for i, name in enumerate(NAMES):
        if expected[i] > 0:
            assert scores[name] == pytest.approx(expected[i])
        else:
            assert name not in scores
    with pytest.raises(ValueError, match="needs the rows"):
        regressor.get_score("shap")
    with pytest.raises(ValueError, match="only for importance_type='shap'"):
        regressor.get_score("gain", X)
    clf = GBTClassifier(n_estimators=4, max_depth=2).fit(X, np.arange(200) % 3)
    multi = np.abs(clf.predict_contributions(X)[..., :-1].astype(np.float64)).mean(axis=0)
    np.testing.assert_allclose(clf.shap_importance(X), multi.sum(axis=0))


def test_shap_summary_draws_every_value_in_importance_order(regressor):
    X, _ = _data(150, seed=4)
    phi = regressor.predict_contributions(X)[:, :-1]
    ax = sapwood.plotting.plot_shap_summary(regressor, X, max_display=3)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    top3 = [NAMES[i] for i in np.argsort(np.abs(phi).mean(axis=0), kind="stable")[-3:]]
    assert labels == top3
    # Two collections a row (missing values grey, the rest coloured); together every sample.
    collections = ax.collections
    assert len(collections) == 6
    for row, name in enumerate(labels):
        f = NAMES.index(name)
        xs = np.concatenate([c.get_offsets()[:, 0] for c in collections[2 * row : 2 * row + 2]])
        np.testing.assert_allclose(np.sort(xs), np.sort(phi[:, f]), rtol=1e-6)


def test_shap_dependence_plots_values_against_contributions(regressor):
    X, _ = _data(150, seed=5)
    phi = regressor.predict_contributions(X)
    ax = sapwood.plotting.plot_shap_dependence(regressor, X, "age", color_by="income")
    points = ax.collections[0].get_offsets()
    np.testing.assert_allclose(points[:, 0], X["age"].to_numpy())
    np.testing.assert_allclose(points[:, 1], phi[:, 0], rtol=1e-6)
    assert ax.get_xlabel() == "age"
    by_index = sapwood.plotting.plot_shap_dependence(regressor, X, 0)
    np.testing.assert_allclose(by_index.collections[0].get_offsets(), points)
    with pytest.raises(ValueError, match="not a feature"):
        sapwood.plotting.plot_shap_dependence(regressor, X, "nope")
    with pytest.raises(ValueError, match="out of range"):
        sapwood.plotting.plot_shap_dependence(regressor, X, 9)
    with pytest.raises(TypeError, match="index or name"):
        sapwood.plotting.plot_shap_dependence(regressor, X, 1.5)


def test_shap_plots_of_a_multiclass_model_need_a_class():
    X, _ = _data(120, seed=6)
    clf = GBTClassifier(n_estimators=3, max_depth=2).fit(X, np.arange(120) % 3)
    with pytest.raises(ValueError, match="class_index"):
        sapwood.plotting.plot_shap_summary(clf, X)
    ax = sapwood.plotting.plot_shap_summary(clf, X, class_index=2)
    assert len(ax.get_yticklabels()) == len(NAMES)
    with pytest.raises(ValueError, match="class_index must be in"):
        sapwood.plotting.plot_shap_dependence(clf, X, 0, class_index=5)
    with pytest.raises(ValueError, match="max_display"):
        sapwood.plotting.plot_shap_summary(clf, X, max_display=0, class_index=0)
