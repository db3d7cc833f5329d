"""The file-based commands of ``sapwood``: ``train``, ``predict`` and ``select``.

Data files are read with pyarrow (CSV, TSV or Parquet, chosen by extension). Every column
but the target is a feature; features must be numeric (booleans count as 0/1, nulls are
missing values). The estimators receive the feature columns as a pyarrow table, so a model
keeps the column names and ``predict`` can pick its features out of a wider file by name.

Anything wrong with the user's input raises :class:`CommandError`, which the command line
prints as one line on stderr with exit status 2.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

# A target of whole numbers with at most this many distinct values is a class label; with
# more it is a quantity. Twenty covers digit-style and rating-style labels without taking
# counts or years for classes.
MAX_CLASSES = 20

_COMPRESSION_SUFFIXES = (".gz", ".bz2", ".zst", ".lz4")


class CommandError(Exception):
    """A problem with a command's input, reported as one line with exit status 2."""


# ---------------------------------------------------------------------------------- files
def _pyarrow() -> Any:
    try:
        import pyarrow
    except ImportError:
        raise CommandError(
            "reading and writing data files needs pyarrow: pip install pyarrow"
        ) from None
    return pyarrow


def file_format(path: str) -> str:
    """``"csv"``, ``"tsv"`` or ``"parquet"``, from the file name's extension."""
    name = os.path.basename(path).lower()
    for suffix in _COMPRESSION_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".tsv", ".tab")):
        return "tsv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    raise CommandError(
        f"cannot tell the format of {path!r} from its extension; use .csv, .tsv or .parquet"
    )


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def read_table(path: str) -> Any:
    """The whole file as a pyarrow table."""
    fmt = file_format(path)
    if not os.path.exists(path):
        raise CommandError(f"no such file: {path!r}")
    if os.path.isdir(path):
        raise CommandError(f"{path!r} is a directory, not a data file")
    pa = _pyarrow()
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path)
        else:
            import pyarrow.csv as pcsv

            delimiter = "," if fmt == "csv" else "\t"
            table = pcsv.read_csv(path, parse_options=pcsv.ParseOptions(delimiter=delimiter))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise CommandError(f"cannot read {path!r}: {_first_line(exc)}") from None
    if table.num_rows == 0:
        raise CommandError(f"{path!r} has no rows")
    return table


def write_table(table: Any, path: str) -> None:
    """Write ``table`` to ``path`` in the format its extension names."""
    fmt = file_format(path)
    pa = _pyarrow()
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(table, path)
        else:
            import pyarrow.csv as pcsv

            delimiter = "," if fmt == "csv" else "\t"
            options = pcsv.WriteOptions(delimiter=delimiter, quoting_style="needed")
            pcsv.write_csv(table, path, write_options=options)
    except (pa.ArrowException, OSError) as exc:
        raise CommandError(f"cannot write {path!r}: {_first_line(exc)}") from None


# ---------------------------------------------------------------------------------- columns
def _column(table: Any, name: str, path: str) -> Any:
    if name not in table.column_names:
        raise CommandError(
            f"{path!r} has no column {name!r}; its columns are: {', '.join(table.column_names)}"
        )
    return table.column(name)


def _is_text(kind: Any) -> bool:
    import pyarrow as pa

    if pa.types.is_dictionary(kind):
        return True
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _is_numeric(kind: Any) -> bool:
    import pyarrow as pa

    return (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_null(kind)  # a column of nothing but empty cells: all missing
    )


def feature_names(table: Any, target: str | None, drop: Iterable[str], path: str) -> list[str]:
    """Every column of ``table`` but the target and the dropped ones, in file order."""
    drop = list(drop)
    for name in drop:
        _column(table, name, path)
    names = [n for n in table.column_names if n != target and n not in drop]
    if not names:
        raise CommandError(f"{path!r} has no feature columns besides the target")
    return names


def feature_table(table: Any, names: Sequence[str], path: str, *, categorical: bool = False) -> Any:
    """The named columns as float64 (nulls become NaN, the estimators' missing value). With
    ``categorical``, text columns (and dictionary-encoded ones) become pandas ``category``
    columns, missing cells missing, and the result is a pandas frame."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = {}
    text = []
    for name in names:
        column = _column(table, name, path)
        if _is_text(column.type):
            if not categorical:
                raise CommandError(
                    f"column {name!r} in {path!r} holds text, but the model takes it as a "
                    "number; encode it as numbers or leave it out with --drop"
                )
            text.append(name)
            columns[name] = column
            continue
        if not _is_numeric(column.type):
            raise CommandError(
                f"column {name!r} in {path!r} has type {column.type}, which is not a number; "
                "convert it or leave it out with --drop"
            )
        values = pc.cast(column, pa.float64())
        columns[name] = pc.fill_null(values, math.nan) if values.null_count else values
    if not text:
        return pa.table(columns)
    try:
        import pandas as pd
    except ImportError:
        raise CommandError(
            f"the text columns of {path!r} ({', '.join(text)}) are categorical features, "
            "which need pandas: pip install pandas"
        ) from None
    frame = {}
    for name in names:
        column = columns[name]
        if name in text:
            values = column.cast(pa.string()) if pa.types.is_dictionary(column.type) else column
            frame[name] = pd.Categorical(values.to_pylist())
        else:
            frame[name] = column.to_numpy()
    return pd.DataFrame(frame, columns=list(names))


def _check_complete(column: Any, name: str, path: str) -> None:
    if column.null_count:
        raise CommandError(
            f"target column {name!r} in {path!r} has {column.null_count} missing values"
        )


def class_labels(column: Any, name: str, path: str) -> np.ndarray:
    """Target values as class labels: text, booleans or numbers, as they are in the file."""
    import pyarrow as pa

    _check_complete(column, name, path)
    if pa.types.is_dictionary(column.type):
        column = column.cast(pa.string())
    if not (_is_text(column.type) or _is_numeric(column.type)):
        raise CommandError(f"target column {name!r} in {path!r} has unsupported type {column.type}")
    return np.asarray(column.to_numpy(zero_copy_only=False))


def regression_target(column: Any, name: str, path: str) -> np.ndarray:
    """Target values as float64 numbers."""
    import pyarrow as pa

    _check_complete(column, name, path)
    if not _is_numeric(column.type) or pa.types.is_null(column.type):
        raise CommandError(
            f"target column {name!r} in {path!r} has type {column.type}; regression needs numbers"
        )
    return np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False))


def choose_task(column: Any, name: str) -> tuple[str, str]:
    """``("classification" | "regression", why)`` for a target column.

    Classification when the target is boolean, text, or whole numbers (integer-typed, or
    floating-point values that are all whole) with at most :data:`MAX_CLASSES` distinct
    values; regression otherwise.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_boolean(kind):
        return "classification", f"target {name!r} is boolean"
    if _is_text(kind):
        return "classification", f"target {name!r} holds text"
    if not _is_numeric(kind):
        return "regression", f"target {name!r} has type {kind}"
    distinct = len(pc.unique(column.drop_null()))
    if pa.types.is_integer(kind):
        whole = "integer"
    else:
        values = np.asarray(column.drop_null().cast(pa.float64()).to_numpy(zero_copy_only=False))
        if not np.all(np.isfinite(values) & (values == np.round(values))):
            return "regression", f"target {name!r} has fractional values"
        whole = "whole-number"
    if distinct <= MAX_CLASSES:
        return "classification", (
            f"target {name!r} is {whole} with {distinct} distinct values (at most {MAX_CLASSES})"
        )
    return "regression", (
        f"target {name!r} is {whole} with {distinct} distinct values (more than {MAX_CLASSES})"
    )


# ---------------------------------------------------------------------------------- --set
def parse_value(text: str) -> Any:
    """A ``--set`` value: None, a bool, an int, a float, a JSON list, or else the text.

    Quotes around the value (``name='"1"'``) keep it as text.
    """
    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "'\"":
        return stripped[1:-1]
    lowered = stripped.lower()
    if lowered in ("none", "null"):
        return None
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    try:
        return int(stripped)
    except ValueError:
        pass
    try:
        return float(stripped)
    except ValueError:
        pass
    if stripped.startswith("["):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            raise CommandError(f"--set value {text!r} is not a valid JSON list") from None
    return text


def apply_settings(estimator: Any, settings: Sequence[str], *, exclude: Iterable[str] = ()) -> Any:
    """Set ``key=value`` parameters on ``estimator`` and check them before any fitting."""
    excluded = set(exclude)
    valid = sorted(k for k in estimator.get_params(deep=False) if k not in excluded)
    params = {}
    for item in settings:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CommandError(f"--set expects key=value, got {item!r}")
        if key not in valid:
            raise CommandError(
                f"unknown parameter {key!r} for {type(estimator).__name__}; "
                f"valid keys: {', '.join(valid)}"
            )
        params[key] = parse_value(value)
    estimator.set_params(**params)
    try:
        estimator._check_params()
    except (TypeError, ValueError) as exc:
        raise CommandError(f"--set: {_first_line(exc)}") from None
    return estimator


# ---------------------------------------------------------------------------------- commands
def train(
    data: str,
    target: str,
    output: str,
    *,
    task: str | None,
    settings: Sequence[str],
    valid: str | None,
    drop: Sequence[str],
    model_format: str,
    verbose: int,
    qid: str | None = None,
) -> int:
    """``sapwood train``: fit a boosting estimator on a data file and save the model."""
    from sapwood.boost import GBTClassifier, GBTRanker, GBTRegressor

    if qid is not None and task != "ranking":
        raise CommandError("--qid needs --task ranking")
    table = read_table(data)
    qid_column = None
    if task == "ranking":
        qid_column = qid or "qid"
        if qid_column not in table.column_names:
            raise CommandError(
                f"--task ranking needs the query ids: {data!r} has no column {qid_column!r} "
                "(name it with --qid COLUMN)"
            )
        drop = [*drop, qid_column]
    target_column = _column(table, target, data)
    if task is None:
        task, why = choose_task(target_column, target)
        print(f"task: {task} ({why}; --task chooses)")
    else:
        print(f"task: {task}")
    names = feature_names(table, target, drop, data)
    # Text columns are categorical features, unless --set enable_categorical=False says not.
    has_text = any(_is_text(table.column(n).type) for n in names)
    estimator = (
        GBTClassifier()
        if task == "classification"
        else GBTRanker()
        if task == "ranking"
        else GBTRegressor()
    )
    estimator.set_params(enable_categorical=has_text)
    # Callbacks are Python objects; a command line cannot name them.
    apply_settings(estimator, settings, exclude=("callbacks",))
    if estimator.early_stopping_rounds is not None and valid is None:
        raise CommandError("--set early_stopping_rounds needs a validation file: --valid DATA")
    labels = class_labels if task == "classification" else regression_target
    categorical = has_text and bool(estimator.enable_categorical)
    X = feature_table(table, names, data, categorical=categorical)
    y = labels(target_column, target, data)
    eval_set = None
    fit: dict[str, Any] = {}
    if valid is not None:
        valid_table = read_table(valid)
        eval_set = [
            (
                feature_table(valid_table, names, valid, categorical=categorical),
                labels(_column(valid_table, target, valid), target, valid),
            )
        ]
        if qid_column is not None:
            fit["eval_qid"] = [_query_ids(valid_table, qid_column, valid)]
    if qid_column is not None:
        fit["qid"] = _query_ids(table, qid_column, data)
    try:
        estimator.fit(X, y, eval_set=eval_set, verbose=verbose, **fit)
    except ValueError as exc:
        if qid_column is None:
            raise
        # The ranker's input errors (unsorted query ids, grades it cannot take) in one line.
        raise CommandError(_first_line(exc)) from None
    # Older scikit-learn releases do not read column names from pyarrow tables; the model file
    # must still carry them, since predict picks its columns by name.
    if getattr(estimator, "feature_names_in_", None) is None:
        estimator.feature_names_in_ = np.asarray(names, dtype=object)
    estimator.save_model(output, format=model_format)
    summary = (
        f"trained {type(estimator).__name__} on {len(y)} rows and {len(names)} features: "
        f"{estimator.n_iterations_} rounds"
    )
    if eval_set is not None:
        metrics = estimator.evals_result_["validation_0"]
        metric = list(metrics)[-1]
        summary += (
            f", best iteration {estimator.best_iteration_}, "
            f"validation {metric} {estimator.best_score_:.6g}"
        )
    print(summary)
    print(f"model written to {output}")
    return 0


def _query_ids(table: Any, name: str, path: str) -> np.ndarray:
    """The query ids of ``table``'s column ``name``: whole numbers, none missing."""
    column = _column(table, name, path)
    if column.null_count:
        raise CommandError(
            f"query id column {name!r} in {path!r} has {column.null_count} missing values"
        )
    if not _is_numeric(column.type):
        raise CommandError(f"query id column {name!r} in {path!r} must hold whole numbers")
    return np.asarray(column.to_numpy(zero_copy_only=False))


def _load(path: str) -> Any:
    from sapwood.boost import load_model

    if not os.path.exists(path):
        raise CommandError(f"no such file: {path!r}")
    try:
        return load_model(path)
    except (OSError, ValueError) as exc:
        raise CommandError(_first_line(exc)) from None


def _model_inputs(estimator: Any, table: Any, data: str, drop: Sequence[str]) -> Any:
    """The model's features from ``table``: by name where the model has names, else the
    file's columns in order (less ``drop``)."""
    fitted_names = getattr(estimator, "feature_names_in_", None)
    if fitted_names is not None:
        names = [str(n) for n in fitted_names]
        missing = [n for n in names if n not in table.column_names]
        if missing:
            raise CommandError(
                f"{data!r} lacks {len(missing)} of the model's features: {', '.join(missing)}"
            )
        categorical = bool(estimator._categorical_list())
        X = feature_table(table, names, data, categorical=categorical)
    else:
        # A model fitted without column names (an XGBoost file, or fitted on an array) takes
        # the file's columns in order, which must then be exactly its features.
        names = feature_names(table, None, drop, data)
        if len(names) != estimator.n_features_in_:
            raise CommandError(
                f"the model has no feature names and takes {estimator.n_features_in_} "
                f"features, but {data!r} has {len(names)} columns; leave extra ones out "
                "with --drop"
            )
        X = np.column_stack([c.to_numpy() for c in feature_table(table, names, data).columns])
    return X


def predict(model_path: str, data: str, output: str, *, drop: Sequence[str], labels: bool) -> int:
    """``sapwood predict``: apply a saved model to a data file."""
    file_format(output)  # an unusable output name fails before any work
    pa = _pyarrow()
    estimator = _load(model_path)
    X = _model_inputs(estimator, read_table(data), data, drop)
    if hasattr(estimator, "classes_") and not labels:
        proba = estimator.predict_proba(X)
        header = [str(c) for c in estimator.classes_]
        if len(set(header)) != len(header):
            raise CommandError("the model's class labels are not distinct as text")
        result = pa.table({h: proba[:, i] for i, h in enumerate(header)})
    else:
        result = pa.table({"prediction": estimator.predict(X)})
    write_table(result, output)
    kind = "class probabilities" if hasattr(estimator, "classes_") and not labels else "predictions"
    print(f"{kind} for {result.num_rows} rows written to {output}")
    return 0


def explain(
    model_path: str, data: str, output: str, *, drop: Sequence[str], approximate: bool
) -> int:
    """``sapwood explain``: each feature's contribution to each prediction of a data file
    (SHAP values, or Saabas's with ``approximate``), and the bias."""
    file_format(output)
    pa = _pyarrow()
    estimator = _load(model_path)
    X = _model_inputs(estimator, read_table(data), data, drop)
    phi = estimator.predict_contributions(X, approximate=approximate)
    names = [*estimator._feature_names(range(phi.shape[-1] - 1)), "bias"]
    if phi.ndim == 2:
        columns = {name: phi[:, j] for j, name in enumerate(names)}
    else:
        classes = [str(c) for c in getattr(estimator, "classes_", range(phi.shape[1]))]
        columns = {
            f"{c}:{name}": phi[:, g, j]
            for g, c in enumerate(classes)
            for j, name in enumerate(names)
        }
        if len(columns) != phi.shape[1] * phi.shape[2]:
            raise CommandError("the model's class labels and feature names collide as text")
    result = pa.table(columns)
    write_table(result, output)
    kind = "Saabas contributions" if approximate else "SHAP values"
    print(f"{kind} of {result.num_rows} rows written to {output}")
    return 0


def select(
    data: str, target: str, output: str, *, settings: Sequence[str], drop: Sequence[str]
) -> int:
    """``sapwood select``: Boruta decisions for every feature column of a data file."""
    from sapwood.selection import BorutaSelector

    file_format(output)
    pa = _pyarrow()
    # The importance source cannot be named on a command line; the built-in forest is used.
    selector = apply_settings(BorutaSelector(), settings, exclude=("estimator",))
    table = read_table(data)
    target_column = _column(table, target, data)
    names = feature_names(table, target, drop, data)
    X = feature_table(table, names, data)
    y = class_labels(target_column, target, data)
    selector.fit(X, y)
    result = pa.table(
        {
            "column": names,
            "decision": [str(d) for d in selector.decision_],
            "rank": np.asarray(selector.ranking_, dtype=np.int64),
        }
    )
    write_table(result, output)
    counts = {d: int(np.sum(selector.decision_ == d)) for d in ("confirmed", "tentative")}
    rejected = len(names) - counts["confirmed"] - counts["tentative"]
    print(
        f"Boruta after {selector.n_iter_} iterations: {counts['confirmed']} confirmed, "
        f"{counts['tentative']} tentative, {rejected} rejected; written to {output}"
    )
    return 0
