"""Model documents in JSON: sapwood's own format and XGBoost's, both ways.

Model files and pickles are untrusted input. Every field read here is checked for its type
and range (counts and indices against each other happen in the native validator), and each
failure is a ``ValueError`` naming the field: a corrupt file must never surface as an
``OverflowError``, ``KeyError`` or ``TypeError`` from deep inside the loader, nor allocate memory
in proportion to a number it declares before that number is known to be plausible.

The estimators (:mod:`sapwood.boost`) call :func:`_to_xgboost` and :func:`_write_atomically` to
save, and :func:`_from_xgboost` and :func:`_native_model` to load; this module knows nothing of
the estimators.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import re
import tempfile
from typing import Any

import numpy as np

from sapwood import _native

# The objectives a model file may hold, by the estimator that trains them.
_REGRESSION_OBJECTIVES = (
    "reg:squarederror",
    "reg:logistic",
    "count:poisson",
    "reg:absoluteerror",
    "reg:squaredlogerror",
    "reg:gamma",
    "reg:pseudohubererror",
    "reg:tweedie",
    "reg:quantileerror",
    "survival:cox",
    "survival:aft",
)
_CLASSIFICATION_OBJECTIVES = (
    "binary:logistic",
    "multi:softprob",
    "multi:softmax",
    "binary:logitraw",
    "binary:hinge",
)
_RANKING_OBJECTIVES = ("rank:ndcg", "rank:pairwise", "rank:map")
# XGBoost's ranking parameters, their defaults, and how XGBoost's JSON writes them.
_LAMBDARANK_DEFAULTS: dict[str, Any] = {
    "lambdarank_pair_method": "topk",
    "lambdarank_num_pair_per_sample": None,
    "lambdarank_unbiased": False,
    "lambdarank_bias_norm": 1.0,
    "lambdarank_normalization": True,
    "lambdarank_score_normalization": True,
    "ndcg_exp_gain": True,
}
# XGBoost's "not set" for lambdarank_num_pair_per_sample.
_NUM_PAIR_UNSET = 2**32 - 1
# XGBoost's marker of a deleted node (and of the root's parent).
_XGB_DELETED = 2147483647
_SAPWOOD_FORMAT = "sapwood-boost"

_MISSING = object()
_F32_MAX = float(np.finfo(np.float32).max)
_I32_MAX = 2**31 - 1
_U32_MAX = 2**32 - 1
# Category values are below 2^24 (XGBoost's limit).
_MAX_CATEGORY = 1 << 24
_INT_TEXT = re.compile(r"[+-]?[0-9]{1,30}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def _field(obj: Any, path: str, key: str, default: Any = _MISSING) -> Any:
    """``obj[key]`` where ``obj`` (found at ``path``) must be a JSON object."""
    if not isinstance(obj, dict):
        raise ValueError(f"{path or 'the document'} must be an object, got {_kind(obj)}")
    if key in obj:
        return obj[key]
    if default is _MISSING:
        raise ValueError(f"{_join(path, key)} is missing")
    return default


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _as_list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{path} must be a list, got {_kind(value)}")
    return value


def _as_str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{path} must be a string, got {_kind(value)}")
    return value


def _as_int(value: Any, path: str, low: int, high: int) -> int:
    """An integer field, written as a JSON number or (as XGBoost writes parameters) a string."""
    v: int | None = None
    if isinstance(value, bool):
        v = None
    elif isinstance(value, int):
        v = value
    elif isinstance(value, float) and value.is_integer():
        v = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if _INT_TEXT.fullmatch(text):
            v = int(text)
        else:
            try:
                number = float(text)
            except ValueError:
                number = math.nan
            if number.is_integer():
                v = int(number)
    if v is None:
        raise ValueError(f"{path} must be an integer, got {value!r:.40}")
    if not low <= v <= high:
        raise ValueError(f"{path} = {v} is outside the valid range [{low}, {high}]")
    return v


def _as_float(value: Any, path: str, *, allow_nan: bool = False) -> float:
    """A finite number (float32 range), written as a JSON number or a string."""
    v = math.nan
    ok = False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            v, ok = float(value), True
        except OverflowError:
            ok = False
    elif isinstance(value, str):
        try:
            v, ok = float(value.strip()), True
        except ValueError:
            ok = False
    if not ok:
        raise ValueError(f"{path} must be a number, got {value!r:.40}")
    if math.isnan(v) and allow_nan:
        return v
    if not (math.isfinite(v) and abs(v) <= _F32_MAX):
        raise ValueError(f"{path} = {value!r:.40} is not a finite float32 number")
    return v


def _int_list(value: Any, path: str, low: int, high: int) -> list[int]:
    items = _as_list(value, path)
    # The common case, plain in-range integers, in one pass at C speed.
    if all(type(v) is int for v in items) and (
        not items or (low <= min(items) and max(items) <= high)
    ):
        return items
    return [_as_int(v, f"{path}[{i}]", low, high) for i, v in enumerate(items)]


def _float_list(value: Any, path: str) -> list[float]:
    items = _as_list(value, path)
    if all(type(v) is float for v in items):
        arr = np.asarray(items, dtype=np.float64)
        if arr.size == 0 or (np.isfinite(arr).all() and np.abs(arr).max() <= _F32_MAX):
            return items
    return [_as_float(v, f"{path}[{i}]") for i, v in enumerate(items)]


def _bool_list(value: Any, path: str) -> list[bool]:
    items = _as_list(value, path)
    out = []
    for i, v in enumerate(items):
        if type(v) is bool or (type(v) is int and v in (0, 1)):
            out.append(bool(v))
        else:
            raise ValueError(f"{path}[{i}] must be 0, 1, true or false, got {v!r:.40}")
    return out


def _write_atomically(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory, flushed to
    disk and renamed over the target, so that an interrupted save leaves either the old file
    or the new one, never a truncated model; the temporary file is removed on failure."""
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(target)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates the file readable by its owner only; give it the permissions an
        # ordinary open() would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if hasattr(os, "O_DIRECTORY"):
        # The rename itself is durable only once the directory is flushed too.
        with contextlib.suppress(OSError):
            dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


def _jsonable(v: Any) -> tuple[bool, Any]:
    """(whether ``v`` is plain data JSON can hold, its JSON form): scalars, and lists, tuples
    and string-keyed dicts of them, nested."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return True, None if isinstance(v, float) and math.isnan(v) else v
    if isinstance(v, (np.integer, np.floating)):
        return True, v.item()
    if isinstance(v, np.ndarray) and v.ndim <= 2 and v.dtype.kind in "biuf":
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        items = [_jsonable(x) for x in v]
        return all(ok for ok, _ in items), [x for _, x in items]
    if isinstance(v, dict) and all(isinstance(k, str) for k in v):
        pairs = {k: _jsonable(x) for k, x in v.items()}
        return all(ok for ok, _ in pairs.values()), {k: x for k, (_, x) in pairs.items()}
    return False, None


def _jsonable_params(params: dict[str, Any]) -> dict[str, Any]:
    """The parameters JSON can hold (callbacks, callables and other objects are left out)."""
    out = {}
    for k, v in params.items():
        ok, value = _jsonable(v)
        if ok:
            out[k] = value
    return out


def _classes_to_json(classes: Any) -> Any:
    if classes is None:
        return None
    return {"dtype": str(classes.dtype), "values": classes.tolist()}


def _classes_from_json(doc: Any, path: str = "estimator.classes") -> Any:
    if doc is None:
        return None
    dtype = _as_str(_field(doc, path, "dtype"), f"{path}.dtype")
    values = _as_list(_field(doc, path, "values"), f"{path}.values")
    for i, v in enumerate(values):
        if v is None or isinstance(v, (list, dict)):
            raise ValueError(f"{path}.values[{i}] must be a label, got {_kind(v)}")
    if dtype.startswith("<U") or dtype.startswith("|S") or dtype == "object":
        return np.asarray(values, dtype=object if dtype == "object" else None)
    try:
        kind = np.dtype(dtype).kind
    except TypeError as exc:
        raise ValueError(f"{path}.dtype = {dtype!r:.40} is not a NumPy dtype") from exc
    if kind not in "biuf":
        raise ValueError(f"{path}.dtype = {dtype!r:.40} is not a label dtype")
    try:
        return np.asarray(values, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"{path}.values do not fit dtype {dtype}: {exc}") from exc


def tree_categories(tree: dict[str, Any]) -> dict[int, list[int]]:
    """The categorical splits of a tree of sapwood's model JSON: each split node's
    right-going categories."""
    cat = tree.get("categorical") or {}
    seg = cat.get("segments", [])
    return {
        nid: cat["categories"][seg[k] : seg[k + 1]] for k, nid in enumerate(cat.get("nodes", []))
    }


def _f32(v: float) -> float:
    return float(np.float32(v))


# The objectives with a parameter: XGBoost's parameter block, and the parameter's name.
_OBJECTIVE_PARAM_BLOCKS = {
    "reg:pseudohubererror": ("pseudo_huber_param", "huber_slope"),
    "reg:tweedie": ("tweedie_regression_param", "tweedie_variance_power"),
    "reg:quantileerror": ("quantile_loss_param", "quantile_alpha"),
}
_OBJECTIVE_DEFAULTS: dict[str, Any] = {
    "huber_slope": 1.0,
    "tweedie_variance_power": 1.5,
    "quantile_alpha": [0.5],
}


def _lambdarank_params(block: Any) -> dict[str, Any]:
    """The ``lambdarank_param`` block of an XGBoost ranking objective, as sapwood's
    ``objective_params``."""
    path = "learner.objective.lambdarank_param"
    params = _field(block, "learner.objective", "lambdarank_param", {})
    out: dict[str, Any] = {}
    method = _field(params, path, "lambdarank_pair_method", None)
    if method is not None:
        if method not in ("topk", "mean"):
            raise ValueError(f"{path}.lambdarank_pair_method = {method!r:.40} is not known")
        out["lambdarank_pair_method"] = method
    num = _field(params, path, "lambdarank_num_pair_per_sample", None)
    if num is not None:
        k = _as_int(num, f"{path}.lambdarank_num_pair_per_sample", 1, _NUM_PAIR_UNSET)
        out["lambdarank_num_pair_per_sample"] = None if k == _NUM_PAIR_UNSET else k
    for key in (
        "lambdarank_unbiased",
        "lambdarank_normalization",
        "lambdarank_score_normalization",
        "ndcg_exp_gain",
    ):
        raw = _field(params, path, key, None)
        if raw is not None:
            text = str(raw).strip().lower()
            if text not in ("0", "1", "true", "false"):
                raise ValueError(f"{path}.{key} = {raw!r:.40} is not a boolean")
            out[key] = text in ("1", "true")
    norm = _field(params, path, "lambdarank_bias_norm", None)
    if norm is not None:
        out["lambdarank_bias_norm"] = _as_float(norm, f"{path}.lambdarank_bias_norm")
    return out


def _lambdarank_block(params: dict[str, Any]) -> dict[str, str]:
    """sapwood's ranking ``objective_params`` as XGBoost's ``lambdarank_param`` block."""
    p = {**_LAMBDARANK_DEFAULTS, **{k: v for k, v in params.items() if k in _LAMBDARANK_DEFAULTS}}
    num = p["lambdarank_num_pair_per_sample"]
    return {
        "lambdarank_bias_norm": f"{float(p['lambdarank_bias_norm']):.9g}",
        "lambdarank_normalization": str(int(bool(p["lambdarank_normalization"]))),
        "lambdarank_num_pair_per_sample": str(_NUM_PAIR_UNSET if num is None else int(num)),
        "lambdarank_pair_method": str(p["lambdarank_pair_method"]),
        "lambdarank_score_normalization": str(int(bool(p["lambdarank_score_normalization"]))),
        "lambdarank_unbiased": str(int(bool(p["lambdarank_unbiased"]))),
        "ndcg_exp_gain": str(int(bool(p["ndcg_exp_gain"]))),
    }


def _objective_params(objective: str, block: Any) -> dict[str, Any]:
    """The parameter of an XGBoost objective block, as sapwood's ``objective_params``."""
    if objective in _RANKING_OBJECTIVES:
        return _lambdarank_params(block)
    if objective == "survival:aft":
        path = "learner.objective.aft_loss_param"
        params = _field(block, "learner.objective", "aft_loss_param", {})
        out: dict[str, Any] = {}
        dist = _field(params, path, "aft_loss_distribution", None)
        if dist is not None:
            if dist not in ("normal", "logistic", "extreme"):
                raise ValueError(f"{path}.aft_loss_distribution = {dist!r:.40} is not known")
            out["aft_loss_distribution"] = dist
        scale = _field(params, path, "aft_loss_distribution_scale", None)
        if scale is not None:
            out["aft_loss_distribution_scale"] = _as_float(
                scale, f"{path}.aft_loss_distribution_scale"
            )
        return out
    if objective not in _OBJECTIVE_PARAM_BLOCKS:
        return {}
    name, key = _OBJECTIVE_PARAM_BLOCKS[objective]
    path = f"learner.objective.{name}"
    params = _field(block, "learner.objective", name, {})
    raw = _field(params, path, key, None)
    if raw is None:
        return {}
    if key == "quantile_alpha":
        text = str(raw).strip()
        values = [v for v in text.strip("[]").split(",") if v.strip()]
        if not values:
            raise ValueError(f"{path}.quantile_alpha = {text!r:.60} lists no quantile")
        return {key: [_as_float(v, f"{path}.{key}[{i}]") for i, v in enumerate(values)]}
    return {key: _as_float(raw, f"{path}.{key}")}


def _xgboost_objective(doc: dict[str, Any], k: int) -> dict[str, Any]:
    """The ``learner.objective`` block of XGBoost's JSON for sapwood's model document ``doc``
    with ``k`` outputs: the objective's name and its parameters."""
    objective = doc["objective"]
    if objective == "custom":
        objective = "reg:squarederror"
    if objective in (
        "reg:squarederror",
        "reg:logistic",
        "binary:logistic",
        "binary:logitraw",
        "reg:gamma",
    ):
        obj_block: dict[str, Any] = {
            "name": objective,
            "reg_loss_param": {"scale_pos_weight": repr(_f32(doc.get("scale_pos_weight", 1.0)))},
        }
    elif objective == "count:poisson":
        obj_block = {
            "name": objective,
            "poisson_regression_param": {
                "max_delta_step": repr(_f32(doc["objective_max_delta_step"]))
            },
        }
    elif objective.startswith("multi:"):
        obj_block = {"name": objective, "softmax_multiclass_param": {"num_class": str(k)}}
    elif objective == "survival:aft":
        params = doc.get("objective_params", {})
        obj_block = {
            "name": objective,
            "aft_loss_param": {
                "aft_loss_distribution": params.get("aft_loss_distribution", "normal"),
                "aft_loss_distribution_scale": repr(
                    _f32(params.get("aft_loss_distribution_scale", 1.0))
                ),
            },
        }
    elif objective in _RANKING_OBJECTIVES:
        obj_block = {
            "name": objective,
            "lambdarank_param": _lambdarank_block(doc.get("objective_params", {})),
        }
    elif objective in _OBJECTIVE_PARAM_BLOCKS:
        block, key = _OBJECTIVE_PARAM_BLOCKS[objective]
        raw = doc.get("objective_params", {}).get(key, _OBJECTIVE_DEFAULTS[key])
        if key == "quantile_alpha":
            alphas = raw if isinstance(raw, list) else [raw]
            value = "[" + ",".join(repr(_f32(a)) for a in alphas) + "]"
        else:
            value = repr(_f32(raw))
        obj_block = {"name": objective, block: {key: value}}
    else:
        obj_block = {"name": objective}
    return obj_block


def _xgboost_model_param(doc: dict[str, Any], k: int) -> dict[str, str]:
    """The ``learner.learner_model_param`` block of XGBoost's JSON for sapwood's model
    document ``doc`` with ``k`` outputs."""
    base = ",".join(repr(_f32(b)) for b in doc["base_score"])
    return {
        "base_score": f"[{base}]",
        "boost_from_average": "1",
        "num_class": str(doc["num_class"]),
        "num_feature": str(doc["num_feature"]),
        "num_target": str(k) if doc["objective"] == "reg:quantileerror" else "1",
    }


def _to_xgboost(model: Any, feature_names: list[str]) -> dict[str, Any]:
    """sapwood model -> XGBoost JSON document (as XGBoost 3.x writes it)."""
    doc = json.loads(model.to_json())
    k = int(model.n_groups)
    obj_block = _xgboost_objective(doc, k)
    trees = []
    for t, tree in enumerate(doc["trees"]):
        n = len(tree["left"])
        parents = [_XGB_DELETED if p < 0 else int(p) for p in tree["parent"]]
        cat = tree.get("categorical") or {}
        cat_nodes = [int(v) for v in cat.get("nodes", [])]
        segments = [int(v) for v in cat.get("segments", [])]
        split_type = [0] * n
        for nid in cat_nodes:
            split_type[nid] = 1
        trees.append(
            {
                "id": t,
                "tree_param": {
                    "num_nodes": str(n),
                    "num_feature": str(doc["num_feature"]),
                    "size_leaf_vector": "1",
                    "num_deleted": str(sum(1 for s in tree["split_index"] if s == _XGB_DELETED)),
                },
                "left_children": [int(v) for v in tree["left"]],
                "right_children": [int(v) for v in tree["right"]],
                "parents": parents,
                "split_indices": [int(v) for v in tree["split_index"]],
                "split_conditions": [float(v) for v in tree["split_cond"]],
                "default_left": [1 if v else 0 for v in tree["default_left"]],
                "split_type": split_type,
                "base_weights": [float(v) for v in tree["base_weight"]],
                "loss_changes": [float(v) for v in tree["loss_chg"]],
                "sum_hessian": [float(v) for v in tree["sum_hess"]],
                "categories": [int(v) for v in cat.get("categories", [])],
                "categories_nodes": cat_nodes,
                "categories_segments": segments[:-1],
                "categories_sizes": [b - a for a, b in itertools.pairwise(segments)],
            }
        )
    n_trees = len(trees)
    npt = int(doc.get("num_parallel_tree", 1))
    return {
        "version": [3, 2, 0],
        "learner": {
            "attributes": {str(a): str(b) for a, b in doc.get("attributes", {}).items()},
            "feature_names": list(feature_names),
            "feature_types": _feature_types(
                doc["num_feature"], feature_names, doc.get("categorical_features", [])
            ),
            "learner_model_param": _xgboost_model_param(doc, k),
            "objective": obj_block,
            "gradient_booster": {
                "name": "gbtree",
                "model": {
                    "gbtree_model_param": {
                        "num_trees": str(n_trees),
                        "num_parallel_tree": str(npt),
                    },
                    "tree_info": [int(v) for v in doc["tree_info"]],
                    "iteration_indptr": list(range(0, n_trees + 1, k * npt)),
                    "trees": trees,
                },
            },
        },
    }


def _feature_types(n_features: int, names: list[str], categorical: list[int]) -> list[str]:
    """XGBoost's ``feature_types``: ``"c"`` for the categorical features, ``"float"`` for the
    others; one per feature when any is categorical, else one per name."""
    if not categorical:
        return ["float"] * len(names)
    types = ["float"] * n_features
    for f in categorical:
        types[f] = "c"
    return types


def _parse_base_score(
    text: Any, path: str = "learner.learner_model_param.base_score"
) -> list[float]:
    """XGBoost's intercept: ``"5E-1"``, ``"[5E-1,2E-1]"`` (XGBoost 3) or plain numbers."""
    if isinstance(text, list):
        return [_as_float(v, f"{path}[{i}]") for i, v in enumerate(text)]
    if not isinstance(text, str):
        return [_as_float(text, path)]
    s = text.strip()
    if s.startswith("[") and s.endswith("]"):
        s = s[1:-1]
    return [_as_float(v, f"{path}[{i}]") for i, v in enumerate(s.split(",")) if v.strip()]


def _xgboost_tree(tree: Any, path: str, t: int) -> dict[str, Any]:
    """One XGBoost tree -> sapwood's node arrays (indices checked by the native validator)."""
    # XGBoost places each tree at the position its id names.
    tree_id = _as_int(_field(tree, path, "id", t), f"{path}.id", 0, _I32_MAX)
    if tree_id != t:
        raise ValueError(f"{path}.id = {tree_id}, expected {t}")
    tparam = _field(tree, path, "tree_param")
    tp_path = f"{path}.tree_param"
    leaf_size = _field(tparam, tp_path, "size_leaf_vector", "1")
    if _as_int(leaf_size, f"{tp_path}.size_leaf_vector", 0, _I32_MAX) > 1:
        raise ValueError(f"{tp_path}.size_leaf_vector > 1: vector-leaf trees are not supported")
    left = _int_list(_field(tree, path, "left_children"), f"{path}.left_children", -1, _I32_MAX)
    n = len(left)
    n_nodes = _as_int(_field(tparam, tp_path, "num_nodes"), f"{tp_path}.num_nodes", 1, _I32_MAX)
    if n_nodes != n:
        raise ValueError(f"{tp_path}.num_nodes = {n_nodes}, but left_children has {n} entries")
    split_type = _int_list(_field(tree, path, "split_type", []), f"{path}.split_type", 0, 1)
    if split_type and len(split_type) != n:
        raise ValueError(f"{path}.split_type has {len(split_type)} entries for {n} nodes")
    cat_nodes = _int_list(
        _field(tree, path, "categories_nodes", []), f"{path}.categories_nodes", 0, n - 1
    )
    cat_starts = _int_list(
        _field(tree, path, "categories_segments", []), f"{path}.categories_segments", 0, _I32_MAX
    )
    cat_sizes = _int_list(
        _field(tree, path, "categories_sizes", []), f"{path}.categories_sizes", 0, _I32_MAX
    )
    categories = _int_list(
        _field(tree, path, "categories", []), f"{path}.categories", 0, _MAX_CATEGORY - 1
    )
    if sorted(cat_nodes) != sorted(i for i, v in enumerate(split_type) if v == 1):
        raise ValueError(
            f"{path}.categories_nodes does not list the nodes split_type marks categorical"
        )
    if len(cat_starts) != len(cat_nodes) or len(cat_sizes) != len(cat_nodes):
        raise ValueError(
            f"{path}: categories_nodes, categories_segments and categories_sizes differ in length"
        )
    # sapwood's layout: nodes ascending, each node's categories ascending, back to back.
    cat_segments = [0] if cat_nodes else []
    cat_values: list[int] = []
    for k in sorted(range(len(cat_nodes)), key=lambda k: cat_nodes[k]):
        a, size = cat_starts[k], cat_sizes[k]
        if a + size > len(categories):
            raise ValueError(f"{path}.categories_segments[{k}] runs past the categories")
        cat_values.extend(sorted(set(categories[a : a + size])))
        cat_segments.append(len(cat_values))
    categorical_nodes = set(cat_nodes)
    split_index = _int_list(
        _field(tree, path, "split_indices"), f"{path}.split_indices", 0, _U32_MAX
    )
    n_deleted = _as_int(_field(tparam, tp_path, "num_deleted", "0"), f"{tp_path}.num_deleted", 0, n)
    marked = sum(1 for s in split_index if s == _XGB_DELETED)
    if n_deleted != marked:
        raise ValueError(
            f"{tp_path}.num_deleted = {n_deleted}, but split_indices marks {marked} deleted nodes"
        )
    parents = _int_list(_field(tree, path, "parents"), f"{path}.parents", -1, _I32_MAX)
    return {
        "left": left,
        "right": _int_list(
            _field(tree, path, "right_children"), f"{path}.right_children", -1, _I32_MAX
        ),
        # XGBoost marks the root's parent with its deleted-node marker.
        "parent": [-1 if p == _XGB_DELETED else p for p in parents],
        "split_index": split_index,
        "split_cond": [
            0.0 if i in categorical_nodes else v
            for i, v in enumerate(
                _float_list(_field(tree, path, "split_conditions"), f"{path}.split_conditions")
            )
        ],
        "default_left": _bool_list(_field(tree, path, "default_left"), f"{path}.default_left"),
        "base_weight": _float_list(_field(tree, path, "base_weights"), f"{path}.base_weights"),
        "loss_chg": _float_list(_field(tree, path, "loss_changes"), f"{path}.loss_changes"),
        "sum_hess": _float_list(_field(tree, path, "sum_hessian"), f"{path}.sum_hessian"),
        "categorical": {
            "nodes": sorted(cat_nodes),
            "segments": cat_segments,
            "categories": cat_values,
        },
    }


def _xgboost_categories(block: Any, categorical: list[int]) -> dict[str, list[Any]]:
    """The categories XGBoost (3.1 and later) keeps per categorical feature (``cats``): text
    as byte offsets and bytes, numbers as a typed list. Features it has none for are left
    out (their codes are used as given)."""
    if block is None:
        return {}
    path = "learner.gradient_booster.model.cats"
    enc = _as_list(_field(block, path, "enc", []), f"{path}.enc")
    out: dict[str, list[Any]] = {}
    for f in categorical:
        if f >= len(enc):
            break
        column = enc[f]
        cpath = f"{path}.enc[{f}]"
        if not isinstance(column, dict):
            raise ValueError(f"{cpath} must be an object, got {_kind(column)}")
        if "offsets" in column:
            offsets = _int_list(column["offsets"], f"{cpath}.offsets", 0, _I32_MAX)
            data = bytes(
                v & 0xFF for v in _int_list(column.get("values", []), f"{cpath}.values", -128, 255)
            )
            if any(b < a for a, b in itertools.pairwise(offsets)) or (
                offsets and offsets[-1] > len(data)
            ):
                raise ValueError(f"{cpath}.offsets do not divide its values")
            try:
                values: list[Any] = [
                    data[a:b].decode("utf-8") for a, b in itertools.pairwise(offsets)
                ]
            except UnicodeDecodeError:
                raise ValueError(f"{cpath} holds a category that is not UTF-8 text") from None
        else:
            values = _as_list(column.get("values", []), f"{cpath}.values")
            for i, v in enumerate(values):
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise ValueError(f"{cpath}.values[{i}] is not a number")
        if len(set(map(repr, values))) != len(values):
            raise ValueError(f"{cpath} repeats a category")
        if values:
            out[str(f)] = values
    return out


# sapwood's node array names, as the native validator reports them, and XGBoost's.
_XGB_TREE_FIELDS = {
    "left": "left_children",
    "right": "right_children",
    "parent": "parents",
    "split_index": "split_indices",
    "split_cond": "split_conditions",
    "base_weight": "base_weights",
    "loss_chg": "loss_changes",
    "sum_hess": "sum_hessian",
}


def _from_xgboost(doc: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
    """XGBoost JSON document -> (sapwood model JSON, estimator info, feature names)."""
    learner = _field(doc, "", "learner")
    booster = _field(learner, "learner", "gradient_booster")
    name = _field(booster, "learner.gradient_booster", "name", None)
    if name != "gbtree":
        raise ValueError(f"only gbtree boosters can be loaded, this file holds {name!r:.40}")
    mpath = "learner.gradient_booster.model"
    model = _field(booster, "learner.gradient_booster", "model")
    objective_block = _field(learner, "learner", "objective")
    objective = _field(objective_block, "learner.objective", "name")
    supported = _REGRESSION_OBJECTIVES + _CLASSIFICATION_OBJECTIVES + _RANKING_OBJECTIVES
    if objective not in supported:
        raise ValueError(
            f"learner.objective.name: XGBoost objective {objective!r:.40} is not supported; "
            f"sapwood reads {', '.join(supported)}"
        )
    ppath = "learner.learner_model_param"
    mparam = _field(learner, "learner", "learner_model_param")
    limits = _native.BoostModel
    num_class = _as_int(
        _field(mparam, ppath, "num_class", "0"), f"{ppath}.num_class", 0, limits.MAX_NUM_CLASS
    )
    multi = objective.startswith("multi:")
    if multi and num_class < 2:
        raise ValueError(f"{ppath}.num_class = {num_class}: a multi-class model needs >= 2")
    if not multi:
        num_class = 0
    num_feature = _as_int(
        _field(mparam, ppath, "num_feature"), f"{ppath}.num_feature", 0, limits.MAX_NUM_FEATURE
    )
    num_target = _as_int(
        _field(mparam, ppath, "num_target", "1"), f"{ppath}.num_target", 0, _I32_MAX
    )
    objective_params = _objective_params(objective, objective_block)
    k = max(num_class, 1)
    if objective == "reg:quantileerror":
        k = len(objective_params.get("quantile_alpha", [0.5]))
        if num_target not in (0, 1, k):
            raise ValueError(f"{ppath}.num_target = {num_target}, but the model has {k} quantiles")
    elif num_target > 1:
        raise ValueError(f"{ppath}.num_target > 1: multi-target models are not supported")
    gparam = _field(model, mpath, "gbtree_model_param")
    gpath = f"{mpath}.gbtree_model_param"
    npt = _as_int(
        _field(gparam, gpath, "num_parallel_tree", "1"),
        f"{gpath}.num_parallel_tree",
        1,
        limits.MAX_NUM_PARALLEL_TREE,
    )
    base = _parse_base_score(_field(mparam, ppath, "base_score", "0.5"))
    if (multi or k > 1) and len(base) == 1:
        base = base * k
    if len(base) != k:
        raise ValueError(
            f"{ppath}.base_score has {len(base)} values, expected "
            + (
                f"1 or num_class = {k}"
                if multi
                else (f"1 or {k} (one per quantile)" if k > 1 else "1")
            )
        )
    raw_trees = _as_list(_field(model, mpath, "trees"), f"{mpath}.trees")
    n_trees = len(raw_trees)
    declared = _as_int(
        _field(gparam, gpath, "num_trees", str(n_trees)), f"{gpath}.num_trees", 0, _I32_MAX
    )
    if declared != n_trees:
        raise ValueError(f"{gpath}.num_trees = {declared}, but {mpath}.trees holds {n_trees}")
    tree_info = _int_list(_field(model, mpath, "tree_info"), f"{mpath}.tree_info", 0, _U32_MAX)
    indptr = _field(model, mpath, "iteration_indptr", None)
    if indptr is not None:
        per = k * npt
        got = _int_list(indptr, f"{mpath}.iteration_indptr", 0, _I32_MAX)
        if n_trees % per or got != list(range(0, n_trees + 1, per)):
            raise ValueError(
                f"{mpath}.iteration_indptr does not split the {n_trees} trees into iterations "
                f"of num_class * num_parallel_tree = {per}"
            )
    trees = [_xgboost_tree(t, f"{mpath}.trees[{i}]", i) for i, t in enumerate(raw_trees)]
    mds = None
    if objective == "count:poisson":
        block = _field(objective_block, "learner.objective", "poisson_regression_param", {})
        mds = _as_float(
            _field(block, "learner.objective.poisson_regression_param", "max_delta_step", "0.7"),
            "learner.objective.poisson_regression_param.max_delta_step",
        )
    block = _field(objective_block, "learner.objective", "reg_loss_param", {})
    spw = _as_float(
        _field(block, "learner.objective.reg_loss_param", "scale_pos_weight", "1"),
        "learner.objective.reg_loss_param.scale_pos_weight",
    )
    attributes = _field(learner, "learner", "attributes", {})
    if not isinstance(attributes, dict):
        raise ValueError(f"learner.attributes must be an object, got {_kind(attributes)}")
    for key, value in attributes.items():
        if value is None or isinstance(value, (list, dict)):
            raise ValueError(f"learner.attributes.{key} must be a string, got {_kind(value)}")
    names = [
        _as_str(v, f"learner.feature_names[{i}]")
        for i, v in enumerate(
            _as_list(_field(learner, "learner", "feature_names", []), "learner.feature_names")
        )
    ]
    if names and len(names) != num_feature:
        raise ValueError(
            f"learner.feature_names has {len(names)} names, but num_feature = {num_feature}"
        )
    types = _as_list(_field(learner, "learner", "feature_types", []), "learner.feature_types")
    if types and len(types) != num_feature:
        raise ValueError(
            f"learner.feature_types has {len(types)} entries, but num_feature = {num_feature}"
        )
    categorical = {i for i, t in enumerate(types) if t == "c"}
    for t, tree in enumerate(trees):
        for nid in tree["categorical"]["nodes"]:
            f = tree["split_index"][nid]
            if types and f not in categorical:
                raise ValueError(
                    f"{mpath}.trees[{t}]: node {nid} splits feature {f} by category, but "
                    "learner.feature_types does not mark it 'c'"
                )
            categorical.add(f)
    out = {
        "format": _SAPWOOD_FORMAT,
        "version": 1,
        "objective_params": {**_OBJECTIVE_DEFAULTS, **objective_params},
        "categorical_features": sorted(categorical),
        "objective": objective,
        "num_class": num_class,
        "num_feature": num_feature,
        "base_score": base,
        "trees": trees,
        "tree_info": tree_info,
        "num_parallel_tree": npt,
        "objective_max_delta_step": mds if mds is not None else 0.0,
        "scale_pos_weight": spw,
        "attributes": {str(a): str(b) for a, b in attributes.items()},
    }
    info: dict[str, Any] = {}
    if objective in _RANKING_OBJECTIVES:
        # The ranker's parameters are its objective's: a continued fit trains the same.
        info["params"] = {"objective": objective, **objective_params}
    cats = _xgboost_categories(_field(model, mpath, "cats", None), sorted(categorical))
    if cats:
        info["categories"] = cats
    if "best_iteration" in attributes:
        info["best_iteration"] = _as_int(
            attributes["best_iteration"], "learner.attributes.best_iteration", -1, _I32_MAX
        )
    if "best_score" in attributes:
        info["best_score"] = _as_float(
            attributes["best_score"], "learner.attributes.best_score", allow_nan=True
        )
    return json.dumps(out, allow_nan=False), info, names


def _native_model(text: str, *, xgboost: bool) -> Any:
    """The native model of a sapwood JSON document; the validator's field names are
    translated back to XGBoost's when the document was converted from an XGBoost file."""
    try:
        return _native.BoostModel.from_json(text)
    except ValueError as exc:
        message = str(exc).removeprefix("cannot read model: ")
        if xgboost:
            message = re.sub(
                r"\btrees\[(\d+)\]\.(\w+)",
                lambda m: (
                    "learner.gradient_booster.model.trees"
                    f"[{m[1]}].{_XGB_TREE_FIELDS.get(m[2], m[2])}"
                ),
                message,
            )
            message = re.sub(
                r"\b(tree_info)\b", "learner.gradient_booster.model.tree_info", message
            )
        raise ValueError(message) from None


def _first_non_finite(value: Any, path: str) -> str:
    """The path of the first NaN or infinity in a parsed JSON document."""
    items: Any = ()
    if isinstance(value, float) and not math.isfinite(value):
        return path
    if isinstance(value, dict):
        items = ((_join(path, str(k)), v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(value))
    for sub_path, sub in items:
        found = _first_non_finite(sub, sub_path)
        if found:
            return found
    return ""
