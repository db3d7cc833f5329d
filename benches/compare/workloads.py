"""sapwood's main workloads, timed alone: for comparing two builds of sapwood.

The peers are left out (``run.py`` compares against them); what this measures is whether a
change of sapwood's code made it faster or slower. Run it with each build's interpreter, on
the same quiet machine, and compare the lines:

    python benches/compare/workloads.py [--repeat 3] [--threads 2] [--only hist,exact]

Each workload is timed as the best of ``--repeat`` calls after an untimed warm-up on a slice
of its data, in this process; data come from fixed seeds, so both builds see the same.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable

import numpy as np


def _classification(n_rows: int, n_features: int = 28, seed: int = 0):
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=n_rows,
        n_features=n_features,
        n_informative=12,
        n_redundant=8,
        flip_y=0.1,
        class_sep=0.6,
        random_state=seed,
    )
    return X.astype(np.float32), y


def _best(fn: Callable[[], object], warmup: Callable[[], object], repeat: int) -> float:
    warmup()
    best = float("inf")
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def workloads(threads: int) -> dict[str, tuple[Callable[[], object], Callable[[], object]]]:
    """name -> (timed call, warm-up call)."""
    import sapwood

    out: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {}

    X1m, y1m = _classification(1_000_000)

    def hist(n: int = 1_000_000, trees: int = 50):
        return sapwood.GBTClassifier(
            n_estimators=trees, max_depth=8, max_bin=256, n_jobs=threads
        ).fit(X1m[:n], y1m[:n])

    out["hist fit 1M x 28, 50 trees depth 8"] = (hist, lambda: hist(5000, 5))

    # The same with missing values: in one column (that column's bins take two bytes), and
    # in every column.
    rng = np.random.default_rng(0)
    X1m_one = X1m.copy()
    X1m_one[rng.random(len(X1m)) < 0.05, 3] = np.nan
    X1m_all = X1m.copy()
    X1m_all[rng.random(X1m.shape) < 0.05] = np.nan

    def hist_missing(X: np.ndarray, n: int = 1_000_000, trees: int = 50):
        return sapwood.GBTClassifier(
            n_estimators=trees, max_depth=8, max_bin=256, n_jobs=threads
        ).fit(X[:n], y1m[:n])

    for label, X in (("one column", X1m_one), ("every column", X1m_all)):
        out[f"hist fit 1M x 28, 5% missing in {label}"] = (
            functools.partial(hist_missing, X),
            functools.partial(hist_missing, X, 5000, 5),
        )

    X200k, y200k = X1m[:200_000], y1m[:200_000]

    def approx(n: int = 200_000, trees: int = 20):
        return sapwood.GBTClassifier(
            n_estimators=trees, max_depth=6, tree_method="approx", n_jobs=threads
        ).fit(X200k[:n], y200k[:n])

    out["approx fit 200k x 28, 20 trees depth 6"] = (approx, lambda: approx(5000, 3))

    def exact(n: int = 100_000, trees: int = 50):
        return sapwood.GBTClassifier(
            n_estimators=trees,
            max_depth=6,
            learning_rate=0.3,
            tree_method="exact",
            n_jobs=threads,
        ).fit(X1m[:n], y1m[:n])

    out["exact fit 100k x 28, 50 trees depth 6"] = (exact, lambda: exact(5000, 3))

    def forest(n: int = 200_000):
        return sapwood.RFClassifier(n_estimators=100, max_depth=10, n_jobs=threads).fit(
            X200k[:n], y200k[:n]
        )

    out["forest fit 200k x 28, 100 trees depth 10"] = (forest, lambda: forest(5000))

    model = sapwood.GBTClassifier(n_estimators=200, max_depth=8, n_jobs=threads).fit(X200k, y200k)
    out["predict 1M rows, 200 trees depth 8"] = (
        lambda: model.predict_proba(X1m),
        lambda: model.predict_proba(X1m[:5000]),
    )

    pts = np.random.default_rng(0).random((1_000_000, 3), dtype=np.float32)

    def knn(n: int = 1_000_000):
        return sapwood.KDTree(pts[:n]).query(pts[:n], k=8, workers=threads)

    out["kd-tree build + 8-NN, 1M x 3 float32"] = (knn, lambda: knn(5000))

    Xb, yb = _classification(2000, n_features=100, seed=1)

    def boruta(n: int = 2000):
        return sapwood.BorutaSelector(max_iter=50, random_state=0, n_jobs=threads).fit(
            Xb[:n], yb[:n]
        )

    out["Boruta 2k x 100, 50 iterations"] = (boruta, lambda: boruta(300))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", default="", help="comma-separated words a name must contain")
    args = parser.parse_args()
    import sapwood

    wanted = [w for w in args.only.split(",") if w]
    print(f"sapwood {sapwood.__version__} from {sapwood.__file__}")
    for name, (fn, warmup) in workloads(args.threads).items():
        if wanted and not any(w in name for w in wanted):
            continue
        seconds = _best(fn, warmup, args.repeat)
        print(f"{name:<45} {seconds:8.3f} s", flush=True)


if __name__ == "__main__":
    main()
