"""Scale-out on Dask: ``sapwood.dask`` against ``xgboost.dask`` on the same cluster, and against
single-machine sapwood on the same cores.

The cluster is a ``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)``; each
library gets a fresh one in its own child process, so a worker's peak resident memory is that
library's. The data (a synthetic binary problem, float32, 28 features) are generated in the
child and persisted on the workers in two row chunks before any timing; a warm-up fit on a
slice runs first. Reported per case: fit seconds (best of ``--repeat``), test AUC on 50,000
held-out rows, the largest worker's peak RSS, and the ratios the goals are stated in
(``sapwood.dask / xgboost.dask`` and ``sapwood.dask / single-machine sapwood``). The
per-level overhead is what the distributed fit adds to the single-machine one, per tree level:
``(dask fit - single fit) / (trees * depth)``.

Usage: ``python benches/compare/dask_scale.py [--quick] [--scale] [--repeat N]``. The default
runs 200,000 rows, 50 trees of depth 6; ``--scale`` adds 500k, 1M and 2M rows (one fit each);
``--quick`` runs 50,000 rows. (The file is not named ``dask.py``: it would hide the ``dask``
package from every module imported beside it.)
"""

from __future__ import annotations

import functools
import resource
import sys
import time

import numpy as np
from harness import best_of, ratio, run_isolated, table

N_FEATURES = 28
N_TEST = 50_000
DEPTH = 6


def _data(n_rows: int, seed: int = 0):
    """A binary problem with informative, interacting and noise features (float32)."""
    rng = np.random.default_rng(seed)
    n = n_rows + N_TEST
    X = rng.standard_normal((n, N_FEATURES), dtype=np.float32)
    w = rng.standard_normal(12).astype(np.float32)
    logit = X[:, :12] @ w + 1.5 * X[:, 0] * X[:, 1] - np.abs(X[:, 2]) + rng.logistic(size=n)
    y = (logit > 0).astype(np.int64)
    return X[:n_rows], y[:n_rows], X[n_rows:], y[n_rows:]


def _auc(y, p) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


def _worker_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _estimator(library: str, client, n_trees: int):
    common = {"n_estimators": n_trees, "max_depth": DEPTH, "learning_rate": 0.1, "max_bin": 256}
    if library == "sapwood.dask":
        from sapwood.dask import DaskGBTClassifier

        return DaskGBTClassifier(client=client, tree_method="hist", **common)
    from xgboost.dask import DaskXGBClassifier

    est = DaskXGBClassifier(tree_method="hist", **common)
    est.client = client
    return est


def cluster_job(library: str, n_rows: int, n_trees: int, repeat: int) -> dict:
    import dask.array as da
    from distributed import Client, LocalCluster

    X, y, Xt, yt = _data(n_rows)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        half = (n_rows + 1) // 2
        dX = da.from_array(X, chunks=(half, N_FEATURES))
        dy = da.from_array(y, chunks=half)
        dX, dy = client.persist([dX, dy])
        client.wait_for_workers(2)
        small = min(n_rows, 10_000)
        warm_X, warm_y = client.persist([dX[:small], dy[:small]])

        def warmup():
            _estimator(library, client, 5).fit(warm_X, warm_y)

        def fit():
            return _estimator(library, client, n_trees).fit(dX, dy)

        seconds, model = best_of(fit, repeat=repeat, warmup=warmup)
        peaks = client.run(_worker_peak_mb)
        if library == "sapwood.dask":
            proba = model.to_local().predict_proba(Xt)[:, 1]
        else:
            proba = model.get_booster().inplace_predict(Xt)
    return {"fit_s": seconds, "auc": _auc(yt, proba), "worker_peak_mb": max(peaks.values())}


def single_job(n_rows: int, n_trees: int, repeat: int) -> dict:
    from sapwood import GBTClassifier

    X, y, Xt, yt = _data(n_rows)

    def model(trees: int):
        return GBTClassifier(
            n_estimators=trees, max_depth=DEPTH, learning_rate=0.1, max_bin=256, n_jobs=2
        )

    seconds, fitted = best_of(
        lambda: model(n_trees).fit(X, y),
        repeat=repeat,
        warmup=lambda: model(5).fit(X[:10_000], y[:10_000]),
    )
    return {"fit_s": seconds, "auc": _auc(yt, fitted.predict_proba(Xt)[:, 1])}


def run_case(n_rows: int, n_trees: int, repeat: int) -> dict[str, dict]:
    results = {
        "sapwood.dask": run_isolated(
            functools.partial(cluster_job, "sapwood.dask", n_rows, n_trees, repeat), daemon=False
        ),
        "xgboost.dask": run_isolated(
            functools.partial(cluster_job, "xgboost.dask", n_rows, n_trees, repeat), daemon=False
        ),
        "sapwood (one machine, 2 threads)": run_isolated(
            functools.partial(single_job, n_rows, n_trees, repeat)
        ),
    }
    ours = results["sapwood.dask"]
    xgb = results["xgboost.dask"]
    single = results["sapwood (one machine, 2 threads)"]
    rows = [
        [
            lib,
            r["fit_s"],
            ratio(r["fit_s"], xgb["fit_s"]),
            r["auc"],
            r.get("worker_peak_mb", float("nan")),
            ratio(r.get("worker_peak_mb", float("nan")), xgb["worker_peak_mb"]),
        ]
        for lib, r in results.items()
    ]
    print(
        table(
            f"Dask, {n_rows:,} x {N_FEATURES}, {n_trees} trees, depth {DEPTH}, "
            f"2 workers x 1 thread (processes); fit: best of {repeat} after a warm-up",
            rows,
            ["library", "fit s", "fit / xgboost.dask", "AUC", "worker peak MB", "peak / xgb"],
        )
    )
    overhead_ms = 1000 * (ours["fit_s"] - single["fit_s"]) / (n_trees * DEPTH)
    print(
        f"sapwood.dask / xgboost.dask: {ratio(ours['fit_s'], xgb['fit_s']):.2f}; "
        f"sapwood.dask / one machine: {ratio(ours['fit_s'], single['fit_s']):.2f}; "
        f"overhead per tree level: {overhead_ms:.1f} ms\n"
    )
    return results


def main(argv: list[str]) -> None:
    repeat = int(argv[argv.index("--repeat") + 1]) if "--repeat" in argv else 3
    if "--quick" in argv:
        run_case(50_000, 50, repeat)
        return
    first = run_case(200_000, 50, repeat)
    if "--scale" not in argv:
        return
    scaling = {200_000: first}
    for n in (500_000, 1_000_000, 2_000_000):
        scaling[n] = run_case(n, 50, 1)
    rows = []
    for n, res in scaling.items():
        ours, xgb = res["sapwood.dask"], res["xgboost.dask"]
        single = res["sapwood (one machine, 2 threads)"]
        rows.append(
            [
                f"{n:,}",
                ours["fit_s"],
                xgb["fit_s"],
                single["fit_s"],
                ratio(ours["fit_s"], xgb["fit_s"]),
                ratio(ours["fit_s"], single["fit_s"]),
                1000 * (ours["fit_s"] - single["fit_s"]) / (50 * DEPTH),
                ours["worker_peak_mb"],
                xgb["worker_peak_mb"],
            ]
        )
    print(
        table(
            "Dask scaling, 50 trees of depth 6 (fits after the first case: one each)",
            rows,
            [
                "rows",
                "sapwood.dask s",
                "xgboost.dask s",
                "one machine s",
                "/ xgboost.dask",
                "/ one machine",
                "overhead ms / level",
                "sapwood worker MB",
                "xgboost worker MB",
            ],
        )
    )


if __name__ == "__main__":
    start = time.perf_counter()
    main(sys.argv[1:])
    print(f"({time.perf_counter() - start:.0f} s)")
