"""The ``sapwood`` command line.

``info`` and ``demo`` describe the installation; ``train``, ``predict`` and ``select`` work on
data files (CSV, TSV or Parquet, read with pyarrow) and live in :mod:`sapwood._cli_data`.
Mistakes in a data command's input are one line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
from collections.abc import Sequence
from typing import NoReturn

from sapwood import __version__, _cli_data, _native
from sapwood._cli_data import MAX_CLASSES
from sapwood._demo import SECTIONS


def _module_version(name: str) -> str | None:
    try:
        module = importlib.import_module(name)
    except Exception:
        return None
    return str(getattr(module, "__version__", "unknown"))


def _gpu_status() -> dict[str, object]:
    """Whether CuPy is importable and how many CUDA devices it sees (never raises)."""
    status: dict[str, object] = {"cupy": _module_version("cupy"), "gpu_devices": 0, "gpu": None}
    if status["cupy"] is None:
        return status
    try:
        import cupy

        count = int(cupy.cuda.runtime.getDeviceCount())
        status["gpu_devices"] = count
        if count:
            props = cupy.cuda.runtime.getDeviceProperties(0)
            name = props["name"]
            status["gpu"] = name.decode() if isinstance(name, bytes) else str(name)
    except Exception as exc:  # no driver, no device: report, never fail
        status["gpu_error"] = f"{type(exc).__name__}: {exc}"
    return status


def collect_info() -> dict[str, object]:
    """Everything ``sapwood info`` reports, as a dictionary."""
    build = _native.build_info()
    info: dict[str, object] = {
        "sapwood": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": _module_version("numpy"),
        "scikit-learn": _module_version("sklearn"),
        "scipy": _module_version("scipy"),
        "rustc": build["rustc"],
        "target": build["target"],
        "build_profile": build["profile"],
        # What the build assumes every machine has, what this processor has, and the vector
        # path each engine takes here: the engines choose from the run-time features.
        "cpu_features_compiled": build["cpu_features_compiled"],
        "cpu_features_runtime": build["cpu_features_runtime"],
        "simd_paths": build["simd_paths"],
        "cores": build["cores"],
        "threads_default": _native.effective_n_jobs(None),
    }
    info.update(_gpu_status())
    return info


def _print_info(as_json: bool) -> int:
    info = collect_info()
    if as_json:
        print(json.dumps(info, indent=2))
        return 0
    width = max(len(k) for k in info)
    for key, value in info.items():
        if isinstance(value, list):
            value = " ".join(map(str, value)) or "(baseline only)"
        elif isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items())
        elif value is None:
            value = "not installed" if key in ("cupy", "scikit-learn", "scipy") else "none"
        print(f"{key:<{width}}  {value}")
    return 0


def _run_demo(names: Sequence[str] | None) -> int:
    chosen = [s for s in SECTIONS if not names or s.name in names]
    unknown = sorted(set(names or ()) - {s.name for s in SECTIONS})
    if unknown:
        known = ", ".join(s.name for s in SECTIONS)
        print(f"unknown demo section(s): {', '.join(unknown)}; choose from: {known}")
        return 2
    print(f"sapwood {__version__} demo ({_native.effective_n_jobs(None)} threads)\n")
    for section in chosen:
        print(f"== {section.title} ==")
        section.run()
        print()
    return 0


_EPILOG = """\
examples:
  sapwood train data.csv --target label --output model.json --set n_estimators=200
  sapwood predict model.json new.parquet --output predictions.csv
  sapwood select data.csv --target label --output decisions.csv --set random_state=0
"""

_TRAIN_DESCRIPTION = f"""\
Fit a GBTClassifier, GBTRegressor or GBTRanker on DATA and save the model. Every column but
the target (and any --drop column) is a feature: numeric columns as numbers (booleans count as 0/1,
empty cells are missing values), text columns as categorical features, split by category
(the model keeps their categories; --set enable_categorical=False refuses them instead).

Without --task, the target decides: classification when it is boolean, text, or whole
numbers with at most {MAX_CLASSES} distinct values; regression otherwise. The choice is
printed. --task ranking fits a GBTRanker: the target holds relevance grades and --qid names
the column of query ids (default 'qid'), whose rows must be contiguous and in increasing id
order; that column is not a feature."""

_PREDICT_DESCRIPTION = """\
Apply a model saved by 'sapwood train' (or by save_model, or an XGBoost JSON model) to DATA.
The model's features are picked from DATA by name, so other columns (the target, say) are
ignored. Classifiers write one probability column per class, named by the class; regressors
and rankers (their scores) write one column, 'prediction'. FILE's extension (.csv, .tsv,
.parquet) sets its format.
XGBoost-format files keep no class labels: their classes read as 0, 1, ..."""

_EXPLAIN_DESCRIPTION = """\
Explain a saved model's predictions on DATA: one column per feature holding its contribution
(SHAP values, exact TreeSHAP; --approximate for Saabas's attributions), and 'bias' (the
trees' expected value and the base margin); each row adds up to the raw margin (log-odds for
classifiers). Multi-class models write one set of columns per class, named 'CLASS:FEATURE'.
Features are picked from DATA by name, as for 'predict'."""

_SELECT_DESCRIPTION = """\
Run Boruta feature selection (BorutaSelector with sapwood's random forest) and write one row
per feature column: its name, its decision (confirmed, tentative or rejected) and its rank
(1 confirmed, 2 tentative above the shadows' median, then by importance)."""


class _Parser(argparse.ArgumentParser):
    """Usage mistakes are one line, like every other error of the data commands."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_data_options(parser: argparse.ArgumentParser, *, estimator: str) -> None:
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"set a {estimator} parameter (repeatable); values are read as None, true/false, "
        "int, float, a JSON list, or else text",
    )
    parser.add_argument(
        "--drop",
        action="append",
        default=[],
        metavar="COLUMN",
        help="leave this column out of the features (repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sapwood",
        description="sapwood: boosted trees, kd-tree neighbours, Boruta and GPU kernels.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sapwood {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    info = sub.add_parser("info", help="versions, threads, CPU features and GPU availability")
    info.add_argument("--json", action="store_true", help="print the report as JSON")
    demo = sub.add_parser("demo", help="run every capability on built-in or generated data")
    demo.add_argument(
        "sections",
        nargs="*",
        metavar="SECTION",
        help=f"run only these sections ({', '.join(s.name for s in SECTIONS)})",
    )

    raw = argparse.RawDescriptionHelpFormatter
    train = sub.add_parser(
        "train",
        help="fit a boosting model on a CSV/Parquet file and save it",
        description=_TRAIN_DESCRIPTION,
        formatter_class=raw,
    )
    train.add_argument("data", metavar="DATA", help="training data (.csv, .tsv or .parquet)")
    train.add_argument("--target", required=True, metavar="COLUMN", help="the column to predict")
    train.add_argument("--output", required=True, metavar="MODEL", help="model file to write")
    train.add_argument(
        "--task",
        choices=("classification", "regression", "ranking"),
        help="what to fit (default: chosen from the target, see above)",
    )
    train.add_argument(
        "--qid",
        metavar="COLUMN",
        help="--task ranking: the column of query ids (default: 'qid')",
    )
    train.add_argument(
        "--valid",
        metavar="DATA",
        help="validation data, evaluated every round; with --set early_stopping_rounds=N it "
        "stops training once the metric has not improved for N rounds",
    )
    train.add_argument(
        "--format",
        dest="model_format",
        choices=("json", "xgboost"),
        default="json",
        help="model file format: sapwood JSON (default) or XGBoost JSON",
    )
    train.add_argument(
        "--verbose",
        type=int,
        default=0,
        metavar="N",
        help="print the validation metrics every N rounds (needs --valid)",
    )
    _add_data_options(train, estimator="GBTClassifier/GBTRegressor/GBTRanker")

    predict = sub.add_parser(
        "predict",
        help="apply a saved model to a CSV/Parquet file",
        description=_PREDICT_DESCRIPTION,
        formatter_class=raw,
    )
    predict.add_argument("model", metavar="MODEL", help="model file")
    predict.add_argument("data", metavar="DATA", help="data to predict (.csv, .tsv or .parquet)")
    predict.add_argument("--output", required=True, metavar="FILE", help="predictions to write")
    predict.add_argument(
        "--labels",
        action="store_true",
        help="for classifiers: write the predicted class ('prediction') instead of probabilities",
    )
    predict.add_argument(
        "--drop",
        action="append",
        default=[],
        metavar="COLUMN",
        help="for models without feature names: leave this column out (repeatable)",
    )

    explain = sub.add_parser(
        "explain",
        help="feature contributions (SHAP values) of a saved model on a CSV/Parquet file",
        description=_EXPLAIN_DESCRIPTION,
        formatter_class=raw,
    )
    explain.add_argument("model", metavar="MODEL", help="model file")
    explain.add_argument("data", metavar="DATA", help="data to explain (.csv, .tsv or .parquet)")
    explain.add_argument("--output", required=True, metavar="FILE", help="contributions to write")
    explain.add_argument(
        "--approximate",
        action="store_true",
        help="Saabas's path attributions instead of SHAP values",
    )
    explain.add_argument(
        "--drop",
        action="append",
        default=[],
        metavar="COLUMN",
        help="for models without feature names: leave this column out (repeatable)",
    )

    select = sub.add_parser(
        "select",
        help="Boruta feature selection on a CSV/Parquet file",
        description=_SELECT_DESCRIPTION,
        formatter_class=raw,
    )
    select.add_argument("data", metavar="DATA", help="data (.csv, .tsv or .parquet)")
    select.add_argument("--target", required=True, metavar="COLUMN", help="the target column")
    select.add_argument("--output", required=True, metavar="FILE", help="decisions to write")
    _add_data_options(select, estimator="BorutaSelector")
    return parser


def _run_data_command(args: argparse.Namespace) -> int:
    try:
        if args.command == "train":
            return _cli_data.train(
                args.data,
                args.target,
                args.output,
                task=args.task,
                qid=args.qid,
                settings=args.settings,
                valid=args.valid,
                drop=args.drop,
                model_format=args.model_format,
                verbose=args.verbose,
            )
        if args.command == "predict":
            return _cli_data.predict(
                args.model, args.data, args.output, drop=args.drop, labels=args.labels
            )
        if args.command == "explain":
            return _cli_data.explain(
                args.model, args.data, args.output, drop=args.drop, approximate=args.approximate
            )
        return _cli_data.select(
            args.data, args.target, args.output, settings=args.settings, drop=args.drop
        )
    except KeyboardInterrupt:
        print(f"sapwood {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        # A fit can still refuse the data (one class only, labels in --valid unseen in
        # training, too little memory); the user gets the reason, not a traceback.
        message = " ".join(str(exc).split())
        if not isinstance(exc, (_cli_data.CommandError, ValueError, TypeError, OSError)):
            message = f"{type(exc).__name__}: {message}"
        print(f"sapwood {args.command}: error: {message}", file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sapwood`` console script."""
    args = build_parser().parse_args(argv)
    if args.command == "info":
        return _print_info(args.json)
    if args.command == "demo":
        return _run_demo(args.sections)
    return _run_data_command(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
