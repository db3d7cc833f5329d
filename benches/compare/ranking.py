"""Learning to rank: fit time and held-out NDCG@10 of sapwood, xgboost and LightGBM.

``--queries`` queries (default 50,000) of ``--docs`` documents each (default 20: 1,000,000
documents) with 30 numeric features; each document's relevance (0 to 4) is a quantile of a
hidden score (a few non-linear terms and noise), so every query has a spread of grades.
Each library fits ``--trees`` LambdaMART trees (``rank:ndcg``; LightGBM's ``lambdarank``) of
depth 6 with learning rate 0.1 on 2 threads, best of ``--repeat`` fits, and is scored by
NDCG@10 (XGBoost's definition) on 5,000 held-out queries. Also reports the largest
difference between sapwood's and xgboost's held-out scores (both follow XGBoost's rules).

    python benches/compare/ranking.py [--queries 50000] [--docs 20] [--trees 100] [--repeat 1]
"""

from __future__ import annotations

import argparse

import numpy as np
from harness import best_of, machine, ratio, table


def make_queries(n_queries: int, docs: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, relevance grades and (sorted) query ids."""
    rng = np.random.default_rng(seed)
    n = n_queries * docs
    X = rng.normal(size=(n, 30)).astype(np.float32)
    # A per-query shift of the hidden score, so that grades compare documents within a query.
    shift = np.repeat(rng.normal(scale=0.5, size=n_queries), docs)
    score = (
        X[:, 0]
        + np.sin(2 * X[:, 1])
        + 0.5 * X[:, 2] * X[:, 3]
        - 0.3 * X[:, 4] ** 2
        + shift
        + rng.normal(scale=0.5, size=n)
    )
    y = np.digitize(score, np.quantile(score, [0.5, 0.75, 0.9, 0.97])).astype(np.float32)
    return X, y, np.repeat(np.arange(n_queries), docs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=50_000)
    parser.add_argument("--docs", type=int, default=20)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    import lightgbm as lgb
    import xgboost as xgb

    import sapwood
    from sapwood import _native

    X, y, qid = make_queries(args.queries, args.docs, 0)
    X_test, y_test, _ = make_queries(5_000, args.docs, 1)
    offsets = np.arange(0, len(y_test) + 1, args.docs, dtype=np.int64)
    common = {"n_estimators": args.trees, "learning_rate": 0.1, "max_depth": 6}
    fitters = {
        "sapwood": lambda: sapwood.GBTRanker(**common, tree_method="hist", n_jobs=2).fit(
            X, y, qid=qid
        ),
        "xgboost": lambda: xgb.XGBRanker(**common, tree_method="hist", n_jobs=2).fit(X, y, qid=qid),
        "lightgbm": lambda: lgb.LGBMRanker(**common, num_leaves=63, n_jobs=2, verbose=-1).fit(
            X, y, group=np.full(args.queries, args.docs)
        ),
    }
    times: dict[str, float] = {}
    models: dict[str, object] = {}
    for name, fit in fitters.items():
        times[name], models[name] = best_of(fit, repeat=args.repeat)
    preds = {name: np.asarray(m.predict(X_test), dtype=np.float32) for name, m in models.items()}
    ndcg = {name: _native.rank_metric("ndcg@10", p, y_test, offsets) for name, p in preds.items()}
    fastest_peer = min(times["xgboost"], times["lightgbm"])
    rows = [
        [
            name,
            times[name],
            ratio(times[name], times["xgboost"]),
            ratio(times[name], fastest_peer),
            ndcg[name],
        ]
        for name in ("sapwood", "xgboost", "lightgbm")
    ]
    print(
        table(
            f"rank:ndcg fit, {len(y):,} documents in {args.queries:,} queries x 30 features, "
            f"{args.trees} trees depth 6, 2 threads; {machine()}",
            rows,
            ["library", "fit s", "/ xgboost", "/ fastest peer", "test NDCG@10"],
        )
    )
    diff = float(np.abs(preds["sapwood"] - preds["xgboost"]).max())
    print(f"max |sapwood - xgboost| on the held-out queries: {diff:.3g}")


if __name__ == "__main__":
    main()
