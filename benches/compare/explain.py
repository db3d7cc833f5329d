"""Feature contributions: sapwood's predict_contributions against xgboost's pred_contribs.

A binary problem of 20,000 rows x 28 features, 100 trees of depth 6 fitted by sapwood and
exported as XGBoost JSON, so both libraries explain the same model; contributions of 5,000
rows, exact (TreeSHAP) and approximate (Saabas), and interaction values of ``--inter-rows``
rows (default 300: they cost ``2 (n_features + 1)`` passes a row), 2 threads, best of
``--repeat`` calls after a warm-up call. Also checks that both give the same values.

    python benches/compare/explain.py [--rows 5000] [--inter-rows 300] [--trees 100]
        [--depth 6] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np
from harness import best_of, machine, ratio, table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--inter-rows", type=int, default=300)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--depth", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    import xgboost as xgb
    from sklearn.datasets import make_classification

    import sapwood

    X, y = make_classification(n_samples=20_000, n_features=28, n_informative=12, random_state=0)
    X = X.astype(np.float32)
    model = sapwood.GBTClassifier(n_estimators=args.trees, max_depth=args.depth, n_jobs=2).fit(X, y)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.json")
        model.save_model(path, format="xgboost")
        booster = xgb.Booster(model_file=path)
    booster.set_param({"nthread": 2})
    rows = X[: args.rows]
    matrix = xgb.DMatrix(rows)
    out = []
    for label, approximate in (("exact (TreeSHAP)", False), ("approximate (Saabas)", True)):
        ours_s, ours = best_of(
            lambda a=approximate: model.predict_contributions(rows, approximate=a),
            repeat=args.repeat,
        )
        theirs_s, theirs = best_of(
            lambda a=approximate: booster.predict(matrix, pred_contribs=True, approx_contribs=a),
            repeat=args.repeat,
        )
        diff = float(np.abs(ours - theirs).max())
        out.append([label, ours_s, theirs_s, ratio(ours_s, theirs_s), diff])
    few = X[: args.inter_rows]
    few_matrix = xgb.DMatrix(few)
    ours_s, ours = best_of(
        lambda: model.predict_contributions(few, interactions=True),
        repeat=1,
        warmup=lambda: model.predict_contributions(few[:5], interactions=True),
    )
    theirs_s, theirs = best_of(
        lambda: booster.predict(few_matrix, pred_interactions=True),
        repeat=1,
        warmup=lambda: booster.predict(xgb.DMatrix(few[:5]), pred_interactions=True),
    )
    diff = float(np.abs(ours - theirs).max())
    label = f"interactions ({args.inter_rows:,} rows)"
    out.append([label, ours_s, theirs_s, ratio(ours_s, theirs_s), diff])
    print(
        table(
            f"contributions of {args.rows:,} rows x 28, {args.trees} trees depth {args.depth}, "
            f"2 threads; {machine()}",
            out,
            ["kind", "sapwood s", "xgboost s", "sapwood / xgboost", "max |difference|"],
        )
    )


if __name__ == "__main__":
    main()
