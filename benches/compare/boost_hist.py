"""Histogram gradient boosting: sapwood (hist) against xgboost (hist) and lightgbm.

A synthetic Higgs-like binary problem (informative, redundant and noise features, float32),
``max_depth`` 8 (lightgbm: ``num_leaves`` 255, ``max_depth`` 8), learning rate 0.1, 256 bins,
2 threads. Each library fits in its own process, so peak RSS is its own. Reports fit and predict
seconds, test AUC, the memory the fit adds (peak RSS above what the process held before it,
so the generated data is left out) and the whole process's peak RSS, and ratios against the
faster peer (fit) and xgboost (predict, memory).

Every fit is timed as the best of ``--repeat`` fits (default 3) of a fresh model, after an
untimed warm-up fit on 5,000 rows; predictions as the best of three after a warm-up call.

Usage: ``python benches/compare/boost_hist.py [--quick] [--threads N] [--repeat N] [--rows N]``.
With ``SAPWOOD_PROFILE=1`` in the environment, a table of sapwood's phases per fit follows
(sketch and binning, histograms, partitions, split evaluation).
The full run is 1,000,000 rows x 28 features and 200 trees; ``--quick`` runs 100,000 rows and
50 trees, and also a 10,000-row case for the small-data overhead; ``--rows N`` runs one case of
N rows and 50 trees.
"""

from __future__ import annotations

import functools
import resource
import sys
import time

import numpy as np
from harness import (
    best_of,
    peak_during,
    profile_read,
    profile_reset,
    profile_table,
    ratio,
    run_isolated,
    table,
)

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


def _model(library: str, n_trees: int, threads: int):
    if library == "sapwood":
        from sapwood import GBTClassifier

        return GBTClassifier(
            n_estimators=n_trees,
            max_depth=8,
            learning_rate=0.1,
            max_bin=256,
            tree_method="hist",
            n_jobs=threads,
        )
    if library == "xgboost":
        from xgboost import XGBClassifier

        return XGBClassifier(
            n_estimators=n_trees,
            max_depth=8,
            learning_rate=0.1,
            max_bin=256,
            tree_method="hist",
            n_jobs=threads,
        )
    from lightgbm import LGBMClassifier

    return LGBMClassifier(
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


def job(library: str, n_rows: int, n_trees: int, threads: int, repeat: int) -> dict:
    X, y, Xt, yt = _data(n_rows)
    # Untimed warm-up on a slice: imports, thread pools and code paths, for a few seconds.
    _model(library, min(n_trees, 10), threads).fit(X[:5000], y[:5000])
    if library == "sapwood":
        profile_reset()
    fit_times, fit_mb, first_peak = [], float("nan"), float("nan")
    for i in range(max(1, repeat)):
        model = _model(library, n_trees, threads)
        start = time.perf_counter()
        mb, _ = peak_during(lambda model=model: model.fit(X, y))
        seconds = time.perf_counter() - start
        fit_times.append(seconds)
        if i == 0:
            # Memory of the first full fit: later fits reuse what the allocator kept.
            fit_mb = mb
            first_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    profile = profile_read(len(fit_times)) if library == "sapwood" else None
    predict_s, proba = best_of(lambda: model.predict_proba(Xt), repeat=3)
    return {
        "profile": profile,
        "fit_s": min(fit_times),
        "predict_s": predict_s,
        "auc": _auc(yt, proba[:, 1]),
        "fit_mb": fit_mb,
        "peak_rss_mb": first_peak,
    }


def run_case(n_rows: int, n_trees: int, threads: int, repeat: int) -> None:
    results = {
        lib: run_isolated(functools.partial(job, lib, n_rows, n_trees, threads, repeat))
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
            f"hist, {n_rows:,} x {N_FEATURES}, {n_trees} trees, depth 8, {threads} threads, "
            f"fit: best of {repeat} after a warm-up",
            rows,
            header,
        )
    )
    print(profile_table(f"hist, {n_rows:,} rows", results["sapwood"].get("profile")))


def main(argv: list[str]) -> None:
    threads = int(argv[argv.index("--threads") + 1]) if "--threads" in argv else 2
    repeat = int(argv[argv.index("--repeat") + 1]) if "--repeat" in argv else 3
    rows = int(argv[argv.index("--rows") + 1]) if "--rows" in argv else None
    if rows is not None:
        run_case(rows, 50, threads, repeat)
    elif "--quick" in argv:
        run_case(100_000, 50, threads, repeat)
        run_case(10_000, 50, threads, repeat)
    else:
        run_case(1_000_000, 200, threads, repeat)
        run_case(1_000_000, 200, 1, repeat)
        run_case(10_000, 200, threads, repeat)


if __name__ == "__main__":
    main(sys.argv[1:])
