"""Categorical features: fit time of sapwood, xgboost and LightGBM on the same frame.

A regression problem of ``--rows`` rows (default 1,000,000) with 8 pandas ``category``
columns of cardinality 3, 10, 30, 100, 200, 300, 600 and 1,000 (5% missing) and 20 numeric
columns; the target sums a random effect per category of each categorical column, a few
numeric terms and noise. Each library fits ``--trees`` trees of depth 6 with its native
categorical support (``enable_categorical=True``; LightGBM's ``categorical_feature``) on 2
threads, best of ``--repeat`` fits. Also reports each model's RMSE on a held-out frame, and the
largest difference between sapwood's and xgboost's predictions (both follow XGBoost's rules).

    python benches/compare/categorical.py [--rows 1000000] [--trees 100] [--repeat 1]
"""

from __future__ import annotations

import argparse

import numpy as np
from harness import best_of, machine, ratio, table

CARDINALITIES = (3, 10, 30, 100, 200, 300, 600, 1000)


def make_frame(n: int, seed: int) -> tuple[object, np.ndarray]:
    """The benchmark frame and its target; the effects are drawn from a fixed seed, so
    frames of any seed share them."""
    import pandas as pd

    effects = np.random.default_rng(12345)
    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {}
    y = np.zeros(n)
    for j, card in enumerate(CARDINALITIES):
        codes = rng.integers(0, card, n)
        effect = effects.normal(size=card)
        y += effect[codes]
        codes[rng.random(n) < 0.05] = -1
        cols[f"cat{j}"] = pd.Categorical.from_codes(
            codes, categories=[f"c{j}_{k}" for k in range(card)]
        )
    numeric = rng.normal(size=(n, 20)).astype(np.float32)
    y += numeric[:, 0] - 0.5 * numeric[:, 1] ** 2 + 0.3 * numeric[:, 2] * numeric[:, 3]
    for k in range(20):
        cols[f"num{k}"] = numeric[:, k]
    y += rng.normal(scale=0.3, size=n)
    return pd.DataFrame(cols), y.astype(np.float32)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    import lightgbm as lgb
    import xgboost as xgb

    import sapwood

    X, y = make_frame(args.rows, 0)
    X_test, y_test = make_frame(50_000, 1)
    common = {"n_estimators": args.trees, "learning_rate": 0.1, "max_depth": 6}
    fitters = {
        "sapwood": lambda: sapwood.GBTRegressor(
            **common, tree_method="hist", enable_categorical=True, n_jobs=2
        ).fit(X, y),
        "xgboost": lambda: xgb.XGBRegressor(
            **common, tree_method="hist", enable_categorical=True, n_jobs=2
        ).fit(X, y),
        "lightgbm": lambda: lgb.LGBMRegressor(**common, num_leaves=63, n_jobs=2, verbose=-1).fit(
            X, y, categorical_feature=[f"cat{j}" for j in range(len(CARDINALITIES))]
        ),
    }
    times: dict[str, float] = {}
    models: dict[str, object] = {}
    for name, fit in fitters.items():
        times[name], models[name] = best_of(fit, repeat=args.repeat)
    preds = {name: np.asarray(m.predict(X_test)) for name, m in models.items()}
    rmse = {name: float(np.sqrt(np.mean((p - y_test) ** 2))) for name, p in preds.items()}
    fastest_peer = min(times["xgboost"], times["lightgbm"])
    rows = [
        [name, times[name], ratio(times[name], fastest_peer), rmse[name]]
        for name in ("sapwood", "xgboost", "lightgbm")
    ]
    print(
        table(
            f"fit, {args.rows:,} rows x (8 categorical + 20 numeric), {args.trees} trees depth 6, "
            f"2 threads; {machine()}",
            rows,
            ["library", "fit s", "/ fastest peer", "test RMSE"],
        )
    )
    diff = float(np.abs(preds["sapwood"] - preds["xgboost"]).max())
    print(f"max |sapwood - xgboost| on the test frame: {diff:.3g}")


if __name__ == "__main__":
    main()
