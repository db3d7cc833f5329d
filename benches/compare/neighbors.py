"""k-NN side by side: sapwood.KDTree against scipy's cKDTree, pykdtree and scikit-learn.

Cases (from the kd-tree issue; ``--scale`` shrinks the point and query counts):

* ``3d-f64``: 1,000,000 x 3 uniform float64, 200,000 queries
* ``3d-f32``: the same in float32 (pykdtree and sapwood stay in float32)
* ``16d-clusters``: 100,000 x 16 gaussian mixture (32 clusters), 10,000 queries from it
* ``16d-uniform``: 100,000 x 16 uniform, 10,000 queries (scikit-learn's brute force joins)

Every implementation builds once and answers k=1 and k=10 with every core (cKDTree
``workers=-1``, pykdtree's OpenMP, scikit-learn's ``n_jobs=-1``), except scikit-learn's
``KDTree``, which has no threads. Builds are not alike: ``sapwood.KDTree`` builds on every
core, every peer on one, so the table has a "build threads" column and one sapwood row whose
tree is built on one thread. Times are the best of ``--repeat`` runs after an untimed warm-up
(the same call on the first 5,000 points or 1,000 queries); a run over 10 s is not repeated.
The ratio columns are (build + query) over the best peer's (build + query), so below 1.0 is
faster. Answers are checked against cKDTree: k-th distances within 1e-9 (float64) or 1e-5
(float32) relative. ``mem`` is the tree's memory over the data's.

Usage: ``python benches/compare/neighbors.py [--scale 0.2] [--repeat 3] [--cases 3d-f64,...]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from collections.abc import Callable
from typing import Any

import numpy as np
from harness import best_of
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


class _OneThreadBuild(sapwood.KDTree):
    """sapwood.KDTree built on one thread, like every peer's build (queries still use every
    core). ``KDTree`` keeps scipy's signature, which has no build threads, so this calls the
    native constructor with ``n_jobs=1`` directly."""

    def _build(self) -> Any:
        leafsize, compact, balanced = self._params
        return sapwood._native.KdTree(self._data, leafsize, balanced, compact, None, 1)


# Build threads per implementation: sapwood.KDTree builds on every core (its rows say so, and
# one row builds on one thread for a like-for-like build time); the peers' builds are serial.
ALL = f"{os.cpu_count()}"


def peers(case: str) -> dict[str, tuple[Callable, Callable, str]]:
    out: dict[str, tuple[Callable, Callable, str]] = {
        "sapwood KDTree (median)": (
            lambda X: sapwood.KDTree(X),
            lambda t, Q, k: t.query(Q, k=k, workers=-1),
            ALL,
        ),
        "sapwood KDTree (median, 1-thread build)": (
            lambda X: _OneThreadBuild(X),
            lambda t, Q, k: t.query(Q, k=k, workers=-1),
            "1",
        ),
        "sapwood KDTree (sliding midpoint)": (
            lambda X: sapwood.KDTree(X, balanced_tree=False),
            lambda t, Q, k: t.query(Q, k=k, workers=-1),
            ALL,
        ),
        "scipy cKDTree workers=-1": (
            lambda X: cKDTree(X),
            lambda t, Q, k: t.query(Q, k=k, workers=-1),
            "1",
        ),
        "sklearn KDTree (1 thread)": (
            lambda X: SkKDTree(X),
            lambda t, Q, k: t.query(Q, k=k),
            "1",
        ),
    }
    if PyKDTree is not None:
        out["pykdtree (OpenMP)"] = (
            lambda X: PyKDTree(X),
            lambda t, Q, k: t.query(Q, k=k),
            "1",
        )
    if case.startswith("16d"):
        out["sklearn brute n_jobs=-1"] = (
            lambda X: SkNN(algorithm="brute", n_jobs=-1).fit(X),
            lambda t, Q, k: t.kneighbors(Q, n_neighbors=k),
            "- (no build)",
        )
    return out


def timed(fn: Callable[[], Any], repeat: int, warmup: Callable[[], Any]) -> tuple[float, Any]:
    # A slow peer: one timed run is enough.
    return best_of(fn, repeat, warmup=warmup, enough_after=10.0)


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
    for name, (build, query, build_threads) in peers(case).items():
        t_build, tree = timed(
            lambda build=build: build(X), repeat, warmup=lambda build=build: build(X[:5000])
        )
        row: dict[str, Any] = {
            "case": case,
            "impl": name,
            "build_threads": build_threads,
            "build": t_build,
        }
        for k in (1, 10):
            t_query, (d, _) = timed(
                lambda query=query, tree=tree, k=k: query(tree, Q, k),
                repeat,
                warmup=lambda query=query, tree=tree, k=k: query(tree, Q[:1000], k),
            )
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
        "| case | implementation | build threads | build s | k=1 s | k=10 s "
        "| (build+k=1)/best peer | (build+k=10)/best peer | exact | mem/data |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        mem = f"{r['mem']:.2f}" if "mem" in r else ""
        exact = "yes" if r["exact1"] and r["exact10"] else "NO"
        print(
            f"| {r['case']} | {r['impl']} | {r['build_threads']} | {r['build']:.3f} "
            f"| {r['k1']:.3f} | {r['k10']:.3f} "
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
        f"best of {args.repeat} after a warm-up"
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
