"""Histogram gradient boosting: sapwood (hist) against xgboost (hist) and lightgbm.

A synthetic Higgs-like binary problem (informative, redundant and noise features, float32),
``max_depth`` 8 (lightgbm: ``num_leaves`` 255, ``max_depth`` 8), learning rate 0.1, 256 bins,
2 threads. Each library fits in its own process, so peak RSS is its own. Reports fit and predict
seconds, test AUC, the memory the fit adds (peak RSS above what the process held before it,
so the generated data is left out) and the whole process's peak RSS, and ratios against the
faster peer (fit) and xgboost (predict, memory).

Usage: ``python benches/compare/boost_hist.py [--quick] [--threads N]``. The full run is
1,000,000 rows x 28 features and 200 trees; ``--quick`` runs 100,000 rows and 50 trees, and
also a 10,000-row case for the small-data overhead.
"""

from __future__ import annotations

import functools
import sys

import numpy as np
from harness import peak_during, ratio, run_isolated, table, timed

N_FEATURES = 28


def _data(n_rows: int):
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=n_rows + 100_000 if n_rows >= 100_000 else n_rows * 2,
        n_features=N_FEATURES,
        n_informative=12,
        n_redundant=8,
        flip_y=0.1,
        class_sep=0.6,
        random_state=0,
    )
    X = X.astype(np.float32)
    return X[:n_rows], y[:n_rows], X[n_rows:], y[n_rows:]


def _auc(y, p) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


def job(library: str, n_rows: int, n_trees: int, threads: int) -> dict:
    X, y, Xt, yt = _data(n_rows)
    if library == "sapwood":
        from sapwood import GBTClassifier

        model = GBTClassifier(
            n_estimators=n_trees,
            max_depth=8,
            learning_rate=0.1,
            max_bin=256,
            tree_method="hist",
            n_jobs=threads,
        )
    elif library == "xgboost":
        from xgboost import XGBClassifier

        model = XGBClassifier(
            n_estimators=n_trees,
            max_depth=8,
            learning_rate=0.1,
            max_bin=256,
            tree_method="hist",
            n_jobs=threads,
        )
    else:
        from lightgbm import LGBMClassifier

        model = LGBMClassifier(
            n_estimators=n_trees,
            max_depth=8,
            num_leaves=255,
            learning_rate=0.1,
            max_bin=255,
            n_jobs=threads,
            verbose=-1,
            min_child_samples=1,
            min_child_weight=1.0,
        )
    fit_mb, (fit_s, _) = peak_during(lambda: timed(lambda: model.fit(X, y)))
    predict_s, proba = timed(lambda: model.predict_proba(Xt), repeat=3)
    return {
        "fit_s": fit_s,
        "predict_s": predict_s,
        "auc": _auc(yt, proba[:, 1]),
        "fit_mb": fit_mb,
    }


def run_case(n_rows: int, n_trees: int, threads: int) -> None:
    results = {
        lib: run_isolated(functools.partial(job, lib, n_rows, n_trees, threads))
        for lib in ("sapwood", "xgboost", "lightgbm")
    }
    best_fit = min(results["xgboost"]["fit_s"], results["lightgbm"]["fit_s"])
    rows = []
    for lib, r in results.items():
        rows.append(
            [
                lib,
                r["fit_s"],
                ratio(r["fit_s"], best_fit),
                r["predict_s"],
                ratio(r["predict_s"], results["xgboost"]["predict_s"]),
                r["auc"],
                r["fit_mb"],
                ratio(r["fit_mb"], results["xgboost"]["fit_mb"]),
                r["peak_rss_mb"],
            ]
        )
    header = [
        "library",
        "fit s",
        "fit / best peer",
        "predict s",
        "predict / xgb",
        "AUC",
        "fit MB",
        "fit MB / xgb",
        "process peak MB",
    ]
    print(
        table(
            f"hist, {n_rows:,} x {N_FEATURES}, {n_trees} trees, depth 8, {threads} threads",
            rows,
            header,
        )
    )


def main(argv: list[str]) -> None:
    threads = int(argv[argv.index("--threads") + 1]) if "--threads" in argv else 2
    if "--quick" in argv:
        run_case(100_000, 50, threads)
        run_case(10_000, 50, threads)
    else:
        run_case(1_000_000, 200, threads)
        run_case(1_000_000, 200, 1)
        run_case(10_000, 200, threads)


if __name__ == "__main__":
    main(sys.argv[1:])
