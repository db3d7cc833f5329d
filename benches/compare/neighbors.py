"""k-NN side by side: sapwood.KDTree against scipy's cKDTree, pykdtree and scikit-learn.

Cases (from the kd-tree issue; ``--scale`` shrinks the point and query counts):

* ``3d-f64``: 1,000,000 x 3 uniform float64, 200,000 queries
* ``3d-f32``: the same in float32 (pykdtree and sapwood stay in float32)
* ``16d-clusters``: 100,000 x 16 gaussian mixture (32 clusters), 10,000 queries from it
* ``16d-uniform``: 100,000 x 16 uniform, 10,000 queries (scikit-learn's brute force joins)

Every implementation builds once and answers k=1 and k=10 with every core (cKDTree
``workers=-1``, pykdtree's OpenMP, scikit-learn's ``n_jobs=-1``), except scikit-learn's
``KDTree``, which has no threads. Times are the median wall time of ``--repeat`` runs; the
ratio column is (build + query) over the best peer's (build + query), so below 1.0 is faster.
Answers are checked against cKDTree: k-th distances within 1e-9 (float64) or 1e-5 (float32)
relative. ``mem`` is the tree's memory over the data's.

Usage: ``python benches/compare/neighbors.py [--scale 0.2] [--repeat 3] [--cases 3d-f64,...]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.spatial import cKDTree
from sklearn.neighbors import KDTree as SkKDTree
from sklearn.neighbors import NearestNeighbors as SkNN

import sapwood

try:
    from pykdtree.kdtree import KDTree as PyKDTree
except ImportError:  # pragma: no cover - optional peer
    PyKDTree = None


def make_case(name: str, scale: float, rng: np.random.Generator) -> tuple[Any, Any]:
    if name.startswith("3d"):
        n, nq = int(1_000_000 * scale), int(200_000 * scale)
        X, Q = rng.random((n, 3)), rng.random((nq, 3))
        if name.endswith("f32"):
            return X.astype(np.float32), Q.astype(np.float32)
        return X, Q
    n, nq, m = int(100_000 * scale), max(1000, int(10_000 * scale)), 16
    if name == "16d-uniform":
        return rng.random((n, m)), rng.random((nq, m))
    centres = rng.random((32, m))
    sigma = np.exp(rng.uniform(np.log(0.0075), np.log(0.03), 32))
    weights = rng.dirichlet(np.full(32, 2.0))

    def draw(count: int) -> np.ndarray:
        c = rng.choice(32, size=count, p=weights)
        return centres[c] + rng.normal(size=(count, m)) * sigma[c, None]

    return draw(n), draw(nq)


def peers(case: str) -> dict[str, tuple[Callable, Callable]]:
    out: dict[str, tuple[Callable, Callable]] = {
        "sapwood KDTree (median)": (
            lambda X: sapwood.KDTree(X),
            lambda t, Q, k: t.query(Q, k=k, workers=-1),
        ),
        "sapwood KDTree (sliding midpoint)": (
            lambda X: sapwood.KDTree(X, balanced_tree=False),
            lambda t, Q, k: t.query(Q, k=k, workers=-1),
        ),
        "scipy cKDTree workers=-1": (
            lambda X: cKDTree(X),
            lambda t, Q, k: t.query(Q, k=k, workers=-1),
        ),
        "sklearn KDTree (1 thread)": (
            lambda X: SkKDTree(X),
            lambda t, Q, k: t.query(Q, k=k),
        ),
    }
    if PyKDTree is not None:
        out["pykdtree (OpenMP)"] = (
            lambda X: PyKDTree(X),
            lambda t, Q, k: t.query(Q, k=k),
        )
    if case.startswith("16d"):
        out["sklearn brute n_jobs=-1"] = (
            lambda X: SkNN(algorithm="brute", n_jobs=-1).fit(X),
            lambda t, Q, k: t.kneighbors(Q, n_neighbors=k),
        )
    return out


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
        if times[-1] > 10:  # a slow peer: one run is enough
            break
    return statistics.median(times), out


def kth(d: Any) -> np.ndarray:
    d = np.asarray(d, dtype=np.float64)
    return d if d.ndim == 1 else d[:, -1]


def run_case(case: str, scale: float, repeat: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(12345)
    X, Q = make_case(case, scale, rng)
    tol = 1e-5 if X.dtype == np.float32 else 1e-9
    reference = cKDTree(X)
    want = {k: kth(reference.query(Q, k=k, workers=-1)[0]) for k in (1, 10)}
    rows = []
    for name, (build, query) in peers(case).items():
        t_build, tree = timed(lambda build=build: build(X), repeat)
        row: dict[str, Any] = {"case": case, "impl": name, "build": t_build}
        for k in (1, 10):
            t_query, (d, _) = timed(lambda query=query, tree=tree, k=k: query(tree, Q, k), repeat)
            row[f"k{k}"] = t_query
            row[f"exact{k}"] = bool(np.allclose(kth(d), want[k], rtol=tol, atol=tol))
        if isinstance(tree, sapwood.KDTree):
            row["mem"] = tree.nbytes / X.nbytes
        rows.append(row)
    for k in (1, 10):
        best_peer = min(
            r["build"] + r[f"k{k}"] for r in rows if not r["impl"].startswith("sapwood")
        )
        for r in rows:
            r[f"ratio{k}"] = (r["build"] + r[f"k{k}"]) / best_peer
    return rows


def print_table(rows: list[dict[str, Any]], header: str) -> None:
    print(header)
    print(
        "| case | implementation | build s | k=1 s | k=10 s | (build+k=1)/best peer "
        "| (build+k=10)/best peer | exact | mem/data |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        mem = f"{r['mem']:.2f}" if "mem" in r else ""
        exact = "yes" if r["exact1"] and r["exact10"] else "NO"
        print(
            f"| {r['case']} | {r['impl']} | {r['build']:.3f} | {r['k1']:.3f} | {r['k10']:.3f} "
            f"| {r['ratio1']:.2f} | {r['ratio10']:.2f} | {exact} | {mem} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cases", default="3d-f64,3d-f32,16d-clusters,16d-uniform")
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    header = (
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load {load:.1f}; sapwood {sapwood.__version__}; scale {args.scale}; "
        f"median of {args.repeat}"
    )
    rows = []
    for case in args.cases.split(","):
        rows.extend(run_case(case, args.scale, args.repeat))
    print_table(rows, header)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
