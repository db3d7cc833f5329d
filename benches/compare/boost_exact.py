"""sapwood vs xgboost, both with the exact split finder and 2 threads.

Synthetic binary problem, 100 000 rows x 28 features (Higgs-sized), 50 trees of depth 6.
Each library runs in its own process so that peak memory (max RSS) is its own. Prints fit
time (the best of ``--repeat`` fits after an untimed warm-up fit on 5,000 rows), predict time
(the best of three calls on each fitted model, after one more), test AUC, the memory a fit
adds (peak RSS above what the process held before it, so the data is left out) and the whole
process's peak RSS through its first fit and predictions, with the ratio sapwood / xgboost.

    python benches/compare/boost_exact.py [--rows 100000] [--trees 50] [--depth 6]
        [--learning-rate 0.1] [--repeat 3]

With ``SAPWOOD_PROFILE=1`` a table of sapwood's phases per fit follows.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import resource
import time

import numpy as np
from harness import best_of, peak_during, profile_read, profile_reset, profile_table, run_isolated


def make_data(n_rows: int, n_features: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, n_features)).astype(np.float32)
    # A few discretised columns, like the Higgs "jet b-tag" features.
    X[:, -4:] = np.round(X[:, -4:] * 2) / 2
    logit = (
        X[:, 0] * X[:, 1]
        + np.sin(2 * X[:, 2])
        + 0.5 * X[:, 3] ** 2
        - X[:, 4]
        + 0.3 * X[:, 5:10].sum(axis=1)
        + 0.5 * X[:, -1]
    )
    y = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(np.int32)
    return X, y


def worker(lib: str, args: argparse.Namespace) -> dict:
    from sklearn.metrics import roc_auc_score

    X, y = make_data(args.rows, args.features)
    Xte, yte = make_data(args.rows // 4, args.features, seed=1)
    params = dict(
        n_estimators=args.trees,
        max_depth=args.depth,
        learning_rate=args.learning_rate,
        tree_method="exact",
        n_jobs=2,
    )
    if lib == "sapwood":
        from sapwood import GBTClassifier as Model
    else:
        from xgboost import XGBClassifier as Model

    # Untimed warm-up on a slice: imports, thread pools and code paths.
    Model(**dict(params, n_estimators=min(args.trees, 5))).fit(X[:5000], y[:5000])
    if lib == "sapwood":
        profile_reset()
    fit_times, predict_times, fit_mb = [], [], []
    for _ in range(args.repeat):
        model = Model(**params)
        t0 = time.perf_counter()
        mb, _ = peak_during(lambda m=model: m.fit(X, y))
        fit_times.append(time.perf_counter() - t0)
        fit_mb.append(mb)
        seconds, proba = best_of(lambda m=model: m.predict_proba(Xte)[:, 1], repeat=3)
        predict_times.append(seconds)
        del model
        if len(fit_mb) == 1:
            # The process's peak after one fit: later repeats reuse memory the allocator kept
            # from earlier ones, in whatever arena each thread happens to take.
            first_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "profile": profile_read(len(fit_times)) if lib == "sapwood" else None,
        "fit_s": min(fit_times),
        "predict_s": min(predict_times),
        "fit_mb": max(fit_mb),
        "auc": float(roc_auc_score(yte, proba)),
        "peak_rss_mb": first_peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=28)
    parser.add_argument("--trees", type=int, default=50)
    parser.add_argument("--depth", type=int, default=6)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    # Each library in its own process (peak memory is its own); a child that dies or hangs is
    # reported with its exit code and standard error instead of stalling the run.
    results = {
        lib: run_isolated(functools.partial(worker, lib, args)) for lib in ("sapwood", "xgboost")
    }
    s, x = results["sapwood"], results["xgboost"]
    print(
        f"exact GBDT, {args.rows} x {args.features}, {args.trees} trees depth {args.depth}, "
        f"learning rate {args.learning_rate}, 2 threads; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores "
        f"(best of {args.repeat})"
    )
    print(f"{'':<22}{'sapwood':>12}{'xgboost':>12}{'ratio':>10}")
    for key, label in [
        ("fit_s", "fit (s)"),
        ("predict_s", "predict (s)"),
        ("auc", "test AUC"),
        ("fit_mb", "fit adds (MB)"),
        ("peak_rss_mb", "peak RSS, 1 fit (MB)"),
    ]:
        print(f"{label:<22}{s[key]:>12.4f}{x[key]:>12.4f}{s[key] / x[key]:>10.3f}")
    print(profile_table(f"exact, {args.rows:,} rows", s.get("profile")))


if __name__ == "__main__":
    main()
