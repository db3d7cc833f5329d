"""sapwood's BorutaSelector against BorutaPy on data whose relevant features are known.

Cases (the relevant columns come first because ``shuffle=False``):
- Madelon-like: ``make_classification(2000, 500, n_informative=5, n_redundant=15)``;
- small: ``make_classification(1000, 50, n_informative=5, n_redundant=5)``.

BorutaPy runs a scikit-learn RandomForest (``n_jobs=-1``, ``max_depth=5``,
``class_weight="balanced"``, ``n_estimators="auto"``); sapwood runs its default importance
source and, for a like-for-like row (first seed only), the same scikit-learn forest.

How long Boruta runs depends on the seed: a borderline feature can stay tentative until
``max_iter`` for one seed and be decided early for another, in either library. Each case
therefore runs several seeds (``random_state`` 0, 1, ...) and the summary compares the total
time over them.

Usage: ``python benches/compare/feature_selection.py [--quick] [--seeds N]``; ``--quick``
runs the small case only; ``--seeds`` defaults to 3.
"""

from __future__ import annotations

import functools
import sys
import warnings

import numpy as np
from harness import ratio, run_isolated, table, timed

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


def job_boruta_py(case: str, seed: int) -> dict:
    from boruta import BorutaPy

    X, y, relevant = _data(case)
    selector = BorutaPy(_forest(), n_estimators="auto", random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seconds, _ = timed(lambda: selector.fit(X, y))
    n_iter = selector.importance_history_.shape[0] - 1
    tentative = selector.support_weak_ & ~selector.support_
    out = _summary(selector.support_, tentative, relevant, n_iter)
    out["fit_s"] = seconds
    return out


def job_sapwood(case: str, estimator: str, seed: int) -> dict:
    from sapwood import BorutaSelector

    X, y, relevant = _data(case)
    est = _forest() if estimator == "sklearn-forest" else None
    selector = BorutaSelector(est, random_state=seed, n_jobs=-1)
    seconds, _ = timed(lambda: selector.fit(X, y))
    out = _summary(selector.support_, selector.decision_ == "tentative", relevant, selector.n_iter_)
    out["fit_s"] = seconds
    return out


def main(argv: list[str]) -> None:
    cases = ["small 1000x50"] if "--quick" in argv else list(CASES)
    n_seeds = int(argv[argv.index("--seeds") + 1]) if "--seeds" in argv else 3
    header = [
        "library",
        "seed",
        "fit s",
        "time ratio",
        "iters",
        "conf",
        "tent",
        "rej",
        "recall",
        "FP",
        "peak MB",
    ]
    for case in cases:
        rows, totals = [], {"BorutaPy": 0.0, "sapwood": 0.0}
        for seed in range(n_seeds):
            peer = run_isolated(functools.partial(job_boruta_py, case, seed))
            totals["BorutaPy"] += peer["fit_s"]
            rows.append(["BorutaPy (sklearn forest)", seed, peer["fit_s"], 1.0, *_cols(peer)])
            estimators = ("default", "sklearn-forest") if seed == 0 else ("default",)
            for est in estimators:
                ours = run_isolated(functools.partial(job_sapwood, case, est, seed))
                if est == "default":
                    totals["sapwood"] += ours["fit_s"]
                time_ratio = ratio(ours["fit_s"], peer["fit_s"])
                rows.append([f"sapwood ({est})", seed, ours["fit_s"], time_ratio, *_cols(ours)])
        print(table(f"Boruta, {case}", rows, header))
        print(
            f"Total over {n_seeds} seeds: BorutaPy {totals['BorutaPy']:.1f} s, sapwood (default) "
            f"{totals['sapwood']:.1f} s, ratio {ratio(totals['sapwood'], totals['BorutaPy']):.3f}"
        )
        print()


def _cols(r: dict) -> list:
    return [
        r["iterations"],
        r["confirmed"],
        r["tentative"],
        r["rejected"],
        r["recall"],
        r["false_pos"],
        r["peak_rss_mb"],
    ]


if __name__ == "__main__":
    main(sys.argv[1:])
