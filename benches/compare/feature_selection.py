"""sapwood's BorutaSelector against BorutaPy on data whose relevant features are known.

Cases (the relevant columns come first because ``shuffle=False``):
- Madelon-like: ``make_classification(2000, 500, n_informative=5, n_redundant=15)``;
- small: ``make_classification(1000, 50, n_informative=5, n_redundant=5)``.

BorutaPy runs a scikit-learn RandomForest (``n_jobs=-1``, ``max_depth=5``,
``class_weight="balanced"``, ``n_estimators="auto"``). sapwood runs twice: with that same
scikit-learn forest, which is the like-for-like comparison and the headline total, and with its
own native forest (the default, the whole loop in Rust), reported on its own rows and its own
total because its forest does different work.

How long Boruta runs depends on the seed: a borderline feature can stay tentative until
``max_iter`` for one seed and be decided early for another, in either library. Each case
therefore runs several seeds (``random_state`` 0, 1, ...) and the summary compares the total
time over them. Each fit is timed as the best of ``--repeat`` runs (a fixed seed gives the same
run every time) after an untimed warm-up run on 200 rows.

Usage: ``python benches/compare/feature_selection.py [--quick] [--seeds N] [--repeat N]``;
``--quick`` runs the small case only; ``--seeds`` defaults to 3 and ``--repeat`` to 2.
"""

from __future__ import annotations

import functools
import sys
import warnings

import numpy as np
from harness import best_of, ratio, run_isolated, table

SKLEARN_FOREST, NATIVE_FOREST = "sklearn-forest", "native"

CASES = {
    "madelon-like 2000x500": dict(n_samples=2000, n_features=500, n_informative=5, n_redundant=15),
    "small 1000x50": dict(n_samples=1000, n_features=50, n_informative=5, n_redundant=5),
}


def _data(case: str):
    from sklearn.datasets import make_classification

    spec = CASES[case]
    X, y = make_classification(**spec, shuffle=False, random_state=0)
    relevant = spec["n_informative"] + spec["n_redundant"]
    return X, y, relevant


def _forest():
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_jobs=-1, max_depth=5, class_weight="balanced")


def _summary(support: np.ndarray, tentative: np.ndarray, relevant: int, n_iter: int) -> dict:
    confirmed = np.flatnonzero(support)
    return {
        "iterations": n_iter,
        "confirmed": int(support.sum()),
        "tentative": int(tentative.sum()),
        "rejected": int(support.size - support.sum() - tentative.sum()),
        "recall": float(np.isin(np.arange(relevant), confirmed).mean()),
        "false_pos": int((confirmed >= relevant).sum()),
    }


def _warm_slice(X, y):
    # A short run on a slice of the rows: imports, thread pools and code paths warm up for a
    # fraction of a full run's cost.
    return X[:200], y[:200]


def job_boruta_py(case: str, seed: int, repeat: int) -> dict:
    from boruta import BorutaPy

    X, y, relevant = _data(case)
    Xw, yw = _warm_slice(X, y)
    selector = BorutaPy(_forest(), n_estimators="auto", random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seconds, _ = best_of(
            lambda: selector.fit(X, y),
            repeat,
            warmup=lambda: BorutaPy(
                _forest(), n_estimators="auto", max_iter=5, random_state=seed
            ).fit(Xw, yw),
        )
    n_iter = selector.importance_history_.shape[0] - 1
    tentative = selector.support_weak_ & ~selector.support_
    out = _summary(selector.support_, tentative, relevant, n_iter)
    out["fit_s"] = seconds
    return out


def job_sapwood(case: str, estimator: str, seed: int, repeat: int) -> dict:
    from sapwood import BorutaSelector

    def make(**params) -> BorutaSelector:
        est = _forest() if estimator == SKLEARN_FOREST else None
        return BorutaSelector(est, random_state=seed, n_jobs=-1, **params)

    X, y, relevant = _data(case)
    Xw, yw = _warm_slice(X, y)
    selector = make()
    seconds, _ = best_of(
        lambda: selector.fit(X, y), repeat, warmup=lambda: make(max_iter=5).fit(Xw, yw)
    )
    out = _summary(selector.support_, selector.decision_ == "tentative", relevant, selector.n_iter_)
    out["fit_s"] = seconds
    return out


def main(argv: list[str]) -> None:
    cases = ["small 1000x50"] if "--quick" in argv else list(CASES)
    n_seeds = int(argv[argv.index("--seeds") + 1]) if "--seeds" in argv else 3
    repeat = int(argv[argv.index("--repeat") + 1]) if "--repeat" in argv else 2
    header = [
        "library",
        "seed",
        "fit s",
        "time / BorutaPy",
        "iters",
        "s / iter",
        "conf",
        "tent",
        "rej",
        "recall",
        "FP",
        "peak MB",
    ]
    runs = [
        ("BorutaPy (sklearn forest)", job_boruta_py, ()),
        ("sapwood (sklearn forest)", job_sapwood, (SKLEARN_FOREST,)),
        ("sapwood (native forest)", job_sapwood, (NATIVE_FOREST,)),
    ]
    for case in cases:
        rows: list[list] = []
        totals = dict.fromkeys((label for label, _, _ in runs), 0.0)
        for seed in range(n_seeds):
            peer_s = None
            for label, job, extra in runs:
                result = run_isolated(functools.partial(job, case, *extra, seed, repeat))
                totals[label] += result["fit_s"]
                peer_s = result["fit_s"] if peer_s is None else peer_s
                rows.append(
                    [label, seed, result["fit_s"], ratio(result["fit_s"], peer_s), *_cols(result)]
                )
        print(table(f"Boruta, {case}, best of {repeat} after a warm-up", rows, header))
        peer = totals["BorutaPy (sklearn forest)"]
        same = totals["sapwood (sklearn forest)"]
        native = totals["sapwood (native forest)"]
        print(
            f"Total over {n_seeds} seeds, same forest (scikit-learn's) on both sides: "
            f"BorutaPy {peer:.1f} s, sapwood {same:.1f} s, ratio {ratio(same, peer):.3f}"
        )
        print(
            f"sapwood's own forest (a different forest, so a different workload): "
            f"{native:.1f} s, ratio to BorutaPy {ratio(native, peer):.3f}"
        )
        print()


def _cols(r: dict) -> list:
    # Seconds per iteration compare the work of one round where the seeds make the two
    # libraries stop after different numbers of rounds.
    return [
        r["iterations"],
        r["fit_s"] / max(1, r["iterations"]),
        r["confirmed"],
        r["tentative"],
        r["rejected"],
        r["recall"],
        r["false_pos"],
        r["peak_rss_mb"],
    ]


if __name__ == "__main__":
    main(sys.argv[1:])
