"""Categorical features: XGBoost's split search (one-hot and partition), its routing, the
model's memory of each column's categories, XGBoost JSON both ways, and bad input."""

from __future__ import annotations

import itertools
import json
import pickle

import numpy as np
import pandas as pd
import pytest

import sapwood

xgb = pytest.importorskip("xgboost")


def _frame(n: int = 2000, seed: int = 0, missing: float = 0.1) -> tuple[pd.DataFrame, np.ndarray]:
    """Three categorical columns (3, 9 and 40 categories, with missing values) and three
    numeric ones of few distinct values (each its own bin, so the cuts are XGBoost's)."""
    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {}
    y = np.zeros(n)
    for j, card in enumerate((3, 9, 40)):
        codes = rng.integers(0, card, n)
        y += rng.normal(size=card)[codes]
        codes[rng.random(n) < missing] = -1
        cols[f"cat{j}"] = pd.Categorical.from_codes(
            codes, categories=[f"v{j}_{k}" for k in range(card)]
        )
    for j in range(3):
        values = rng.integers(0, 30, n).astype(float)
        y += 0.05 * j * values
        cols[f"num{j}"] = values
    y += rng.normal(scale=0.1, size=n)
    return pd.DataFrame(cols), y


def _pair(cls: str, **kw: object) -> tuple[object, object]:
    params = {"n_estimators": 15, "max_depth": 4, "enable_categorical": True, **kw}
    return getattr(sapwood, f"GBT{cls}")(**params), getattr(xgb, f"XGB{cls}")(**params)


@pytest.mark.parametrize("method", ["hist", "approx"])
def test_wide_columns_equal_xgboost(method: str) -> None:
    """A column of 700 categories and a numeric one of 256 values with missing values (two
    bytes a bin each) beside columns of one byte: the same model as XGBoost's."""
    rng = np.random.default_rng(4)
    n = 3000
    codes = rng.integers(0, 700, n)
    effect = rng.normal(size=700)
    wide = rng.permutation(np.arange(n) % 256).astype(float)
    narrow = rng.integers(0, 30, n).astype(float)
    y = effect[codes] + 0.01 * wide + 0.1 * narrow + rng.normal(scale=0.1, size=n)
    codes[rng.random(n) < 0.05] = -1
    wide[rng.random(n) < 0.05] = np.nan
    X = pd.DataFrame(
        {
            "cat": pd.Categorical.from_codes(codes, categories=[f"c{k}" for k in range(700)]),
            "wide": wide,
            "narrow": narrow,
        }
    )
    ours, theirs = _pair("Regressor", tree_method=method, max_bin=256)
    ours.fit(X, y)
    theirs.fit(X, y)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=0, atol=1e-5)


@pytest.mark.parametrize("method", ["hist", "approx"])
@pytest.mark.parametrize(
    ("onehot", "threshold"),
    [(4, 64), (10, 64), (64, 64), (4, 5)],
    ids=["onehot-small", "onehot-medium", "onehot-all", "partition-capped"],
)
def test_regression_equals_xgboost(method: str, onehot: int, threshold: int) -> None:
    X, y = _frame()
    ours, theirs = _pair(
        "Regressor", tree_method=method, max_cat_to_onehot=onehot, max_cat_threshold=threshold
    )
    ours.fit(X, y)
    theirs.fit(X, y)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=0, atol=1e-5)
    X_new, _ = _frame(500, seed=3)
    np.testing.assert_allclose(ours.predict(X_new), theirs.predict(X_new), rtol=0, atol=1e-5)


@pytest.mark.parametrize("method", ["hist", "approx"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_classification_equals_xgboost(method: str, n_classes: int) -> None:
    X, y = _frame(seed=1)
    labels = np.digitize(y, np.quantile(y, np.linspace(0, 1, n_classes + 1)[1:-1]))
    ours, theirs = _pair("Classifier", tree_method=method, max_cat_to_onehot=5)
    ours.fit(X, labels)
    theirs.fit(X, labels)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=0, atol=1e-5)


def test_lossguide_subsampling_and_regularisation_equal_xgboost() -> None:
    X, y = _frame(seed=2)
    kw = dict(
        tree_method="hist",
        grow_policy="lossguide",
        max_leaves=12,
        max_depth=0,
        reg_alpha=0.5,
        reg_lambda=3.0,
        min_child_weight=4.0,
        max_delta_step=0.8,
        max_cat_to_onehot=1,
    )
    ours, theirs = _pair("Regressor", **kw)
    ours.fit(X, y)
    theirs.fit(X, y)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=0, atol=1e-5)


def test_the_trees_split_by_category() -> None:
    X, y = _frame()
    model = sapwood.GBTRegressor(n_estimators=5, enable_categorical=True).fit(X, y)
    doc = json.loads(model._model.to_json())
    trees = doc["trees"]
    assert doc["categorical_features"] == [0, 1, 2]
    assert any(t.get("categorical", {}).get("nodes") for t in trees)
    # A partition split sends several categories right.
    segments = [t.get("categorical", {}).get("segments", []) for t in trees]
    sizes = [b - a for s in segments for a, b in itertools.pairwise(s)]
    assert max(sizes) > 1


def test_frames_are_recoded_by_category_value() -> None:
    X, y = _frame()
    model = sapwood.GBTRegressor(n_estimators=10, enable_categorical=True).fit(X, y)
    expected = model.predict(X)
    shuffled = X.copy()
    for c in ("cat0", "cat1", "cat2"):
        cats = list(X[c].cat.categories)
        shuffled[c] = shuffled[c].cat.reorder_categories(cats[::-1])
    np.testing.assert_array_equal(model.predict(shuffled), expected)
    # A frame that lists only the categories it uses.
    few = X.iloc[:40].copy()
    for c in ("cat0", "cat1", "cat2"):
        few[c] = few[c].cat.remove_unused_categories()
    np.testing.assert_array_equal(model.predict(few), expected[:40])
    # Plain strings are mapped by value too.
    text = X.copy()
    text["cat2"] = text["cat2"].astype(object)
    np.testing.assert_array_equal(model.predict(text), expected)
    # Unseen categories are an error naming the column.
    bad = X.iloc[:3].copy()
    bad["cat1"] = pd.Categorical(["v1_0", "nope", "v1_2"])
    with pytest.raises(ValueError, match=r"column 'cat1' holds categories the model was not"):
        model.predict(bad)


def test_numpy_codes_with_feature_types_equal_the_frame() -> None:
    X, y = _frame()
    codes = np.column_stack(
        [
            np.where(X[c].cat.codes < 0, np.nan, X[c].cat.codes).astype(float)
            if c.startswith("cat")
            else X[c].to_numpy()
            for c in X.columns
        ]
    )
    framed = sapwood.GBTRegressor(n_estimators=10, enable_categorical=True).fit(X, y)
    plain = sapwood.GBTRegressor(
        n_estimators=10, enable_categorical=True, feature_types=["c", "c", "c", "q", "q", "q"]
    ).fit(codes, y)
    np.testing.assert_array_equal(plain.predict(codes), framed.predict(X))
    # Category codes beyond the training ones go left, as in XGBoost.
    beyond = codes[:5].copy()
    beyond[:, 2] = 10_000
    theirs = xgb.XGBRegressor(
        n_estimators=10, enable_categorical=True, feature_types=["c", "c", "c", "q", "q", "q"]
    ).fit(codes, y)
    np.testing.assert_allclose(plain.predict(beyond), theirs.predict(beyond), atol=1e-5)


def test_polars_and_arrow_frames() -> None:
    pl = pytest.importorskip("polars")
    pa = pytest.importorskip("pyarrow")
    X, y = _frame()
    expected = sapwood.GBTRegressor(n_estimators=5, enable_categorical=True).fit(X, y).predict(X)
    for frame in (pl.from_pandas(X), pa.Table.from_pandas(X)):
        model = sapwood.GBTRegressor(n_estimators=5, enable_categorical=True).fit(frame, y)
        np.testing.assert_array_equal(model.predict(frame), expected)


def test_model_files_and_pickles_keep_the_categories(tmp_path) -> None:
    X, y = _frame()
    model = sapwood.GBTClassifier(n_estimators=8, enable_categorical=True).fit(X, y > 0)
    expected = model.predict_proba(X)
    shuffled = X.copy()
    shuffled["cat1"] = shuffled["cat1"].cat.reorder_categories(list(X["cat1"].cat.categories)[::-1])
    path = tmp_path / "model.json"
    model.save_model(path)
    for restored in (sapwood.load_model(path), pickle.loads(pickle.dumps(model))):
        np.testing.assert_array_equal(restored.predict_proba(shuffled), expected)
    # XGBoost reads the export and predicts the same.
    xgb_path = tmp_path / "xgb.json"
    model.save_model(xgb_path, format="xgboost")
    booster = xgb.Booster(model_file=str(xgb_path))
    theirs = booster.predict(xgb.DMatrix(X, enable_categorical=True))
    np.testing.assert_allclose(theirs, expected[:, 1], rtol=0, atol=1e-6)


def test_xgboost_categorical_models_load(tmp_path) -> None:
    X, y = _frame(seed=4)
    theirs = xgb.XGBRegressor(n_estimators=12, enable_categorical=True, max_cat_to_onehot=5)
    theirs.fit(X, y)
    path = tmp_path / "xgb.json"
    theirs.save_model(path)
    ours = sapwood.load_model(path)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=0, atol=1e-6)
    # XGBoost's stored categories travel too: a reordered frame is recoded.
    shuffled = X.copy()
    shuffled["cat2"] = shuffled["cat2"].cat.reorder_categories(list(X["cat2"].cat.categories)[::-1])
    np.testing.assert_allclose(ours.predict(shuffled), theirs.predict(X), rtol=0, atol=1e-6)
    # Contributions and leaf indices follow the categorical routing.
    booster = theirs.get_booster()
    dm = xgb.DMatrix(X.iloc[:200], enable_categorical=True)
    np.testing.assert_array_equal(ours.apply(X.iloc[:200]), booster.predict(dm, pred_leaf=True))
    np.testing.assert_allclose(
        ours.predict_contributions(X.iloc[:200]),
        booster.predict(dm, pred_contribs=True),
        rtol=0,
        atol=1e-4,
    )


def test_random_forests_take_categories() -> None:
    X, y = _frame()
    ours = sapwood.RFRegressor(n_estimators=10, enable_categorical=True, random_state=0).fit(X, y)
    assert np.corrcoef(ours.predict(X), y)[0, 1] > 0.8


def test_bad_input_is_a_value_error() -> None:
    X, y = _frame(300)
    with pytest.raises(ValueError, match=r"categorical columns \('cat0', 'cat1', 'cat2'\)"):
        sapwood.GBTRegressor(n_estimators=2).fit(X, y)
    with pytest.raises(ValueError, match="tree_method='exact' does not support categorical"):
        sapwood.GBTRegressor(n_estimators=2, tree_method="exact", enable_categorical=True).fit(X, y)
    codes = np.column_stack([np.arange(300) % 4, np.linspace(0, 1, 300)]).astype(float)
    types = ["c", "q"]
    with pytest.raises(ValueError, match="feature_types marks categorical features"):
        sapwood.GBTRegressor(n_estimators=2, feature_types=types).fit(codes, y)
    for value, shown in ((-1.0, "-1.0"), (2.5, "2.5"), (2.0**24, "16777216.0")):
        bad = codes.copy()
        bad[7, 0] = value
        with pytest.raises(ValueError, match=rf"feature 0 is categorical, but holds {shown}"):
            sapwood.GBTRegressor(n_estimators=2, enable_categorical=True, feature_types=types).fit(
                bad, y
            )
    model = sapwood.GBTRegressor(n_estimators=2, enable_categorical=True, feature_types=types)
    model.fit(codes, y)
    bad = codes.copy()
    bad[0, 0] = -3
    with pytest.raises(ValueError, match=r"feature 0 is categorical, but holds -3\.0"):
        model.predict(bad)
    with pytest.raises(ValueError, match="feature_types has 3 entries, but X has 2 features"):
        sapwood.GBTRegressor(
            n_estimators=2, enable_categorical=True, feature_types=["c", "q", "q"]
        ).fit(codes, y)
    with pytest.raises(ValueError, match=r"feature_types\[1\] = 'x' is not one of"):
        sapwood.GBTRegressor(n_estimators=2, feature_types=["c", "x"]).fit(codes, y)
    with pytest.raises(ValueError, match="max_cat_to_onehot"):
        sapwood.GBTRegressor(n_estimators=2, max_cat_to_onehot=0).fit(codes, y)
    with pytest.raises(ValueError, match="max_cat_threshold"):
        sapwood.GBTRegressor(n_estimators=2, max_cat_threshold=0).fit(codes, y)
    with pytest.raises(ValueError, match="constrains feature 0, which is categorical"):
        sapwood.GBTRegressor(
            n_estimators=2, enable_categorical=True, feature_types=types, monotone_constraints=[1]
        ).fit(codes, y)
    # A numeric column given as categories at prediction.
    numeric = sapwood.GBTRegressor(n_estimators=2).fit(X[["num0", "num1"]], y)
    framed = X[["num0", "num1"]].copy()
    framed["num0"] = framed["num0"].astype("category")
    with pytest.raises(ValueError, match="column 'num0' is categorical, but the model was"):
        numeric.predict(framed)
    # Continuing from a model whose categorical features differ.
    with pytest.raises(ValueError, match="categorical features"):
        sapwood.GBTRegressor(n_estimators=2).fit(codes, y, xgb_model=model)


def test_tree_table_and_plot_show_the_categories() -> None:
    X, y = _frame()
    model = sapwood.GBTRegressor(n_estimators=3, max_depth=3, enable_categorical=True).fit(X, y)
    table = model.trees_to_dataframe()
    splits = table[table["Category"].notna()]
    assert len(splits) > 0
    assert splits["Split"].isna().all()
    assert splits["Feature"].isin(["cat0", "cat1", "cat2"]).all()
    # Yes is the right child, the one the listed categories go to.
    doc = json.loads(model._model.to_json())
    row = splits.iloc[0]
    tree = doc["trees"][row["Tree"]]
    assert row["Yes"] == f"{row['Tree']}-{tree['right'][row['Node']]}"
    numeric = sapwood.GBTRegressor(n_estimators=2).fit(X[["num0"]], y)
    assert "Category" not in numeric.trees_to_dataframe().columns
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from sapwood.plotting import plot_tree

    tree_index = int(row["Tree"])
    ax = plot_tree(model, tree_index)
    texts = [t.get_text() for t in ax.texts]
    assert any(" not in {v" in t for t in texts), texts
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.mark.parametrize(
    "params",
    [
        {"tree_method": "hist", "monotone_constraints": (0, 0, 0, 1, 1, 0)},
        {"tree_method": "hist", "interaction_constraints": [[0, 3], [1, 2, 4], [5]]},
        {"tree_method": "approx", "reg_alpha": 1.0, "gamma": 0.5, "max_cat_to_onehot": 10},
        # Each category keeps its own bin whatever max_bin says.
        {"tree_method": "hist", "max_bin": 8},
        {"tree_method": "approx", "max_bin": 8},
    ],
    ids=["monotone", "interaction", "approx-l1-gamma", "hist-max-bin", "approx-max-bin"],
)
def test_categories_with_other_features_of_xgboost(params) -> None:
    X, y = _frame(seed=9)
    # Numeric columns of at most 8 values, so that every max_bin above cuts them alike.
    for c in ("num0", "num1", "num2"):
        X[c] = X[c] % 8
    constraints = params.get("interaction_constraints")
    ours = sapwood.GBTRegressor(
        n_estimators=12, max_depth=5, enable_categorical=True, **params
    ).fit(X, y)
    theirs_params = dict(params)
    if constraints is not None:
        theirs_params["interaction_constraints"] = str(constraints)
    theirs = xgb.XGBRegressor(
        n_estimators=12, max_depth=5, enable_categorical=True, **theirs_params
    ).fit(X, y)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=0, atol=1e-5)
