"""More boosting workloads side by side: wide sparse input, the approx method, many classes,
and prediction on a million rows.

Each case fits (or predicts with) sapwood and its peers on the same generated data, each
library in its own process, so that the memory a fit adds is its own:

- ``sparse``: 100,000 x 2,000 CSR, 1% of the entries present, float32, binary; ``hist``,
  50 trees of depth 6, 256 bins. sapwood and xgboost read absent entries as missing,
  LightGBM as zero.
- ``approx``: 200,000 x 28 dense, binary; ``approx``, 50 trees of depth 6. The peer is
  xgboost's ``approx`` (LightGBM has no such method); xgboost's ``hist`` is shown beside it.
- ``multiclass``: 200,000 x 28 dense, 10 classes; ``hist``, 50 rounds of depth 6 (500 trees).
- ``predict``: probabilities of 1,000,000 rows x 28 from three models fitted on 200,000 rows:
  binary 200 trees of depth 8, binary 500 trees of depth 6, and 10 classes x 50 rounds of
  depth 6. Times only the prediction.

A fit is timed as the best of ``--repeat`` fits (default 3) of a fresh model after an untimed
warm-up fit on a slice; a prediction as the best of three calls after a warm-up call. Every
table gives sapwood / best peer, a held-out metric, and the memory a fit adds (peak RSS above
what the process held before it, so the data is left out) beside the best peer's.

    python benches/compare/boost_cases.py [--case sparse,approx,multiclass,predict]
        [--threads 2] [--repeat 3] [--quick]

``--quick`` runs a twentieth of the rows with 5 trees a model (a check that every path runs).

With ``SAPWOOD_PROFILE=1`` a table of sapwood's phases per fit follows each fit case.
"""

from __future__ import annotations

import argparse
import functools
import time
from typing import Any

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

CASES = ("sparse", "approx", "multiclass", "predict")
LIBRARIES = {
    "sparse": ("sapwood", "xgboost", "lightgbm"),
    "approx": ("sapwood", "xgboost", "xgboost hist"),
    "multiclass": ("sapwood", "xgboost", "lightgbm"),
    "predict": ("sapwood", "xgboost", "lightgbm"),
}
# Shown for context, not counted as a peer: xgboost's faster method on the approx data.
BESIDE = {"xgboost hist"}


def _dense(n_rows: int, n_classes: int = 2, seed: int = 0):
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=n_rows,
        n_features=28,
        n_informative=12,
        n_redundant=8,
        n_classes=n_classes,
        flip_y=0.05,
        class_sep=0.8,
        random_state=seed,
    )
    return X.astype(np.float32), y


def _sparse(n_rows: int, seed: int = 0):
    """A 1%-dense CSR matrix whose label depends on 100 of its 2,000 columns."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    n_features, nnz_per_row = 2000, 20
    cols = rng.integers(0, n_features, size=(n_rows, nnz_per_row))
    cols.sort(axis=1)
    values = rng.standard_normal((n_rows, nnz_per_row)).astype(np.float32)
    indptr = np.arange(0, n_rows * nnz_per_row + 1, nnz_per_row)
    X = sp.csr_matrix((values.ravel(), cols.ravel(), indptr), shape=(n_rows, n_features))
    X.sum_duplicates()
    w = np.zeros(n_features)
    informative = np.random.default_rng(1).choice(n_features, 100, replace=False)
    w[informative] = np.random.default_rng(2).standard_normal(100) * 2
    logit = X @ w
    y = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(np.int32)
    return X, y


def _rows(case: str, scale: float = 1.0) -> tuple[int, int]:
    """A case's training and test row counts, times `scale`."""
    n_train, n_test = {"sparse": (100_000, 25_000), "predict": (200_000, 1_000_000)}.get(
        case, (200_000, 50_000)
    )
    return int(n_train * scale), int(n_test * scale)


def _data(case: str, scale: float = 1.0):
    """(train X, train y, test X, test y) of a case, its row counts times `scale`."""
    n_train, n_test = _rows(case, scale)
    n = n_train + n_test
    if case == "sparse":
        X, y = _sparse(n)
    elif case == "approx":
        X, y = _dense(n)
    elif case == "multiclass":
        X, y = _dense(n, n_classes=10)
    else:
        X, y = _dense(n, n_classes=10, seed=3)
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def _model(library: str, threads: int, **kw: Any):
    """A classifier of `library` with the shared parameters `kw` (n_estimators, max_depth,
    tree_method)."""
    method = kw.pop("tree_method", "hist")
    if library == "sapwood":
        from sapwood import GBTClassifier

        return GBTClassifier(tree_method=method, max_bin=256, n_jobs=threads, **kw)
    if library.startswith("xgboost"):
        from xgboost import XGBClassifier

        if library == "xgboost hist":
            method = "hist"
        return XGBClassifier(tree_method=method, max_bin=256, n_jobs=threads, **kw)
    from lightgbm import LGBMClassifier

    depth = kw.pop("max_depth")
    return LGBMClassifier(
        max_depth=depth,
        num_leaves=2**depth - 1,
        max_bin=255,
        min_child_samples=1,
        min_child_weight=1.0,
        n_jobs=threads,
        verbose=-1,
        **kw,
    )


def _metric(y, proba) -> float:
    """Held-out AUC (two classes) or log loss (more)."""
    from sklearn.metrics import log_loss, roc_auc_score

    if proba.shape[1] == 2:
        return float(roc_auc_score(y, proba[:, 1]))
    return float(log_loss(y, proba, labels=np.arange(proba.shape[1])))


def _fit_params(case: str, scale: float = 1.0) -> dict[str, Any]:
    method = "approx" if case == "approx" else "hist"
    trees = 50 if scale >= 1 else 5
    return {"n_estimators": trees, "max_depth": 6, "learning_rate": 0.3, "tree_method": method}


def fit_job(case: str, library: str, threads: int, repeat: int, scale: float) -> dict:
    X, y, Xt, yt = _data(case, scale)
    params = _fit_params(case, scale)
    # Untimed warm-up on a slice: imports, thread pools and code paths.
    _model(library, threads, **dict(params, n_estimators=3)).fit(X[:5000], y[:5000])
    if library == "sapwood":
        profile_reset()
    times, first_mb = [], float("nan")
    for i in range(max(1, repeat)):
        model = _model(library, threads, **params)
        start = time.perf_counter()
        mb, _ = peak_during(lambda m=model: m.fit(X, y))
        times.append(time.perf_counter() - start)
        if i == 0:
            # Later fits reuse memory the allocator kept from the first.
            first_mb = mb
    return {
        "profile": profile_read(len(times)) if library == "sapwood" else None,
        "fit_s": min(times),
        "metric": _metric(yt, model.predict_proba(Xt)),
        "fit_mb": first_mb,
    }


PREDICT_MODELS = (
    ("binary, 200 trees depth 8", 2, {"n_estimators": 200, "max_depth": 8}),
    ("binary, 500 trees depth 6", 2, {"n_estimators": 500, "max_depth": 6}),
    ("10 classes, 50 rounds depth 6", 10, {"n_estimators": 50, "max_depth": 6}),
)


def predict_job(library: str, threads: int, repeat: int, scale: float) -> dict:
    X, y, Xt, _ = _data("predict", scale)
    out: dict[str, Any] = {}
    for label, n_classes, params in PREDICT_MODELS:
        labels = y if n_classes > 2 else (y >= 5).astype(np.int32)
        if scale < 1:
            params = dict(params, n_estimators=5)
        model = _model(library, threads, learning_rate=0.1, **params).fit(X, labels)
        out[label], _ = best_of(
            lambda m=model: m.predict_proba(Xt),
            repeat=max(1, repeat),
            warmup=lambda m=model: m.predict_proba(Xt[:1000]),
        )
    return out


def fit_case(case: str, threads: int, repeat: int, scale: float) -> None:
    libs = LIBRARIES[case]
    results = {
        lib: run_isolated(functools.partial(fit_job, case, lib, threads, repeat, scale))
        for lib in libs
    }
    peers = [lib for lib in libs if lib != "sapwood" and lib not in BESIDE]
    best = min(peers, key=lambda lib: results[lib]["fit_s"])
    metric = "AUC" if case != "multiclass" else "log loss"
    rows = [
        [
            lib,
            r["fit_s"],
            ratio(r["fit_s"], results[best]["fit_s"]),
            r["metric"],
            r["fit_mb"],
            ratio(r["fit_mb"], results[best]["fit_mb"]),
        ]
        for lib, r in results.items()
    ]
    n = f"{_rows(case, scale)[0]:,}"
    d = {"sparse": "2,000 CSR (1%)", "approx": "28"}.get(case, "28, 10 classes")
    params = _fit_params(case, scale)
    method, trees = params["tree_method"], params["n_estimators"]
    print(
        table(
            f"{case}: {method} fit, {n} x {d}, {trees} trees depth 6, {threads} threads, "
            f"best of {repeat} after a warm-up; best peer {best}",
            rows,
            ["library", "fit s", "/ best peer", metric, "fit MB", "MB / best peer"],
        )
    )
    print(profile_table(case, results["sapwood"].get("profile")))


def predict_case(threads: int, repeat: int, scale: float) -> None:
    libs = LIBRARIES["predict"]
    results = {
        lib: run_isolated(functools.partial(predict_job, lib, threads, repeat, scale))
        for lib in libs
    }
    rows = []
    for label, _, _ in PREDICT_MODELS:
        times = {lib: results[lib][label] for lib in libs}
        best = min(times[lib] for lib in libs if lib != "sapwood")
        rows.append(
            [label]
            + [times[lib] for lib in libs]
            + [ratio(times["sapwood"], best), ratio(times["sapwood"], times["xgboost"])]
        )
    n_rows = _rows("predict", scale)[1]
    print(
        table(
            f"predict_proba of {n_rows:,} rows x 28, {threads} threads, best of "
            f"{max(1, repeat)} after a warm-up"
            + (" (--quick: 5 trees a model)" if scale < 1 else ""),
            rows,
            ["model", *(f"{lib} s" for lib in libs), "/ best peer", "/ xgboost"],
        )
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default=",".join(CASES))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--quick", action="store_true", help="a twentieth of the rows and 5 trees a model"
    )
    args = parser.parse_args(argv)
    scale = 0.05 if args.quick else 1.0
    cases = [c for c in args.case.split(",") if c]
    unknown = set(cases) - set(CASES)
    if unknown:
        parser.error(f"unknown case(s) {sorted(unknown)}; choose from {list(CASES)}")
    for case in cases:
        if case == "predict":
            predict_case(args.threads, args.repeat, scale)
        else:
            fit_case(case, args.threads, args.repeat, scale)


if __name__ == "__main__":
    main()
