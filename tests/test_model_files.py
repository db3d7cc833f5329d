"""Model files and pickles as untrusted input, and atomic saves.

Every count and index in a model file is checked before use, and every violation is a
``ValueError`` naming the field. The fuzz test at the end mutates valid files (both formats and
pickle bytes) and loads each mutant in a child process, so that a crash fails the test, names
the mutant, and the remaining mutants still run.
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
import pickle
import random
import re
import signal
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sapwood
from sapwood import GBTClassifier, GBTRegressor, RFClassifier, _model_json

N_FEATURES = 5


def _data(seed: int = 0, n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N_FEATURES))
    X[rng.random(X.shape) < 0.05] = np.nan
    y = np.nan_to_num(X[:, 0]) - 0.5 * np.nan_to_num(X[:, 2])
    return X, y


def _models() -> dict[str, Any]:
    """Small fitted models of each shape the formats describe."""
    X, y = _data()
    reg = GBTRegressor(n_estimators=3, max_depth=3, gamma=0.5).fit(X, y)
    multi = GBTClassifier(n_estimators=2, max_depth=2).fit(X, np.digitize(y, [-0.5, 0.5]))
    forest = RFClassifier(n_estimators=3, max_depth=2, random_state=0).fit(X, y > 0)
    return {"reg": reg, "multi": multi, "forest": forest}


@pytest.fixture(scope="module")
def models() -> dict[str, Any]:
    return _models()


def _doc(est: Any, fmt: str, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / f"base-{fmt}.json"
    est.save_model(path, format=fmt)
    return json.loads(path.read_text())


def _load(doc: Any, tmp_path: Path) -> Any:
    path = tmp_path / "mutant.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return sapwood.load_model(path)


def _keys(path: str) -> list[Any]:
    """The keys of a dotted path with ``[i]`` indices (``a.b[2].c``)."""
    keys: list[Any] = []
    for part in path.split("."):
        name, *indices = part.split("[")
        keys.append(name)
        keys.extend(int(i.rstrip("]")) for i in indices)
    return keys


def _get(doc: Any, path: str) -> Any:
    for key in _keys(path):
        doc = doc[key]
    return doc


def _set(doc: Any, path: str, value: Any) -> None:
    *head, last = _keys(path)
    for key in head:
        doc = doc[key]
    doc[last] = value


# ----------------------------------------------------------------------------- the issue
@pytest.mark.parametrize("value", ["1e15", 1e15, 10**15, "1000000000000000"])
def test_xgboost_num_feature_of_1e15_is_rejected_with_the_limit(models, tmp_path, value):
    doc = _doc(models["reg"], "xgboost", tmp_path)
    doc["learner"]["learner_model_param"]["num_feature"] = value
    with pytest.raises(ValueError, match=r"learner_model_param\.num_feature = 1000000000000000"):
        _load(doc, tmp_path)


def test_sapwood_num_feature_over_the_limit_is_rejected(models, tmp_path):
    doc = _doc(models["reg"], "json", tmp_path)
    doc["num_feature"] = 10**15
    with pytest.raises(ValueError, match=r"num_feature = 10{15} exceeds the limit of 2147483647"):
        _load(doc, tmp_path)


def test_a_plausible_huge_num_feature_loads_and_stays_cheap(models, tmp_path):
    # 300 million features (sparse data) is a real model: it loads, its importances cover
    # every feature without touching the memory of the unused ones, and it saves.
    n = 300_000_000
    for fmt, key in (("json", "num_feature"), ("xgboost", None)):
        doc = _doc(models["reg"], fmt, tmp_path)
        if key:
            doc[key] = n
        else:
            doc["learner"]["learner_model_param"]["num_feature"] = str(n)
        est = _load(doc, tmp_path)
        assert est.n_features_in_ == n
        imp = est.feature_importances_
        assert imp.shape == (n,)
        assert imp.dtype == np.float32
        used = np.flatnonzero(models["reg"].feature_importances_)
        np.testing.assert_array_equal(imp[used], models["reg"].feature_importances_[used])
        assert set(est.get_score()) == {f"f{i}" for i in used}
        est.save_model(tmp_path / "again.json", format=fmt)
        assert sapwood.load_model(tmp_path / "again.json").n_features_in_ == n


# ----------------------------------------------------------------------------- XGBoost JSON
_TREE = "learner.gradient_booster.model.trees[0]"
_PARAM = "learner.learner_model_param"

XGBOOST_VIOLATIONS = [
    (f"{_PARAM}.num_feature", "-1", r"num_feature = -1 is outside"),
    (f"{_PARAM}.num_feature", 2**31, r"num_feature = 2147483648 is outside"),
    (f"{_PARAM}.num_feature", "abc", r"num_feature must be an integer"),
    (f"{_PARAM}.num_feature", None, r"num_feature must be an integer"),
    (f"{_PARAM}.num_feature", 1e309, r"num_feature must be an integer"),
    (f"{_PARAM}.num_feature", "9" * 5000, r"num_feature must be an integer"),
    (f"{_PARAM}.num_feature", "2", r"split_indices\[\d+\] = \d is not below num_feature = 2"),
    (f"{_PARAM}.num_class", str(2**24 + 1), r"num_class = 16777217 is outside"),
    (f"{_PARAM}.num_class", "1", r"num_class = 1: a multi-class model needs >= 2"),
    (f"{_PARAM}.num_class", "4", r"base_score has 3 values, expected 1 or num_class = 4"),
    (f"{_PARAM}.base_score", "[abc]", r"base_score\[0\] must be a number"),
    (f"{_PARAM}.base_score", "[1,2]", r"base_score has 2 values, expected 1 or num_class"),
    (f"{_PARAM}.base_score", "1e309", r"base_score\[0\] = '1e309' is not a finite"),
    (f"{_PARAM}.base_score", {}, r"base_score must be a number"),
    (f"{_PARAM}.num_target", "2", r"num_target > 1"),
    ("learner.gradient_booster.name", "dart", r"only gbtree boosters"),
    ("learner.gradient_booster.model", [], r"gradient_booster\.model must be an object"),
    ("learner.gradient_booster.model.gbtree_model_param.num_trees", "9", r"num_trees = 9"),
    (
        "learner.gradient_booster.model.gbtree_model_param.num_parallel_tree",
        "0",
        r"num_parallel_tree = 0 is outside",
    ),
    ("learner.gradient_booster.model.tree_info[0]", 9, r"model\.tree_info\[0\] = 9"),
    ("learner.gradient_booster.model.tree_info[0]", -1, r"tree_info\[0\] = -1 is outside"),
    ("learner.gradient_booster.model.tree_info", [0], r"tree_info has 1 entries"),
    ("learner.gradient_booster.model.iteration_indptr", [0, 5], r"iteration_indptr"),
    ("learner.gradient_booster.model.trees", {}, r"model\.trees must be a list"),
    (f"{_TREE}", None, r"trees\[0\] must be an object, got null"),
    (f"{_TREE}.id", 3, r"trees\[0\]\.id = 3, expected 0"),
    (f"{_TREE}.tree_param.num_nodes", "2", r"num_nodes = 2, but left_children has"),
    (f"{_TREE}.tree_param.num_nodes", str(10**400), r"num_nodes must be an integer"),
    (f"{_TREE}.tree_param.num_deleted", "1", r"num_deleted = 1, but split_indices marks 0"),
    (f"{_TREE}.tree_param.size_leaf_vector", "3", r"vector-leaf trees are not supported"),
    (f"{_TREE}.left_children[0]", 99, r"trees\[0\]\.left_children\[0\] = 99 is not -1 or"),
    (f"{_TREE}.left_children[0]", 2**31, r"left_children\[0\] = 2147483648 is outside"),
    (f"{_TREE}.left_children[0]", 1.5, r"left_children\[0\] must be an integer"),
    (f"{_TREE}.right_children[0]", -1, r"both children or none"),
    (f"{_TREE}.right_children", [], r"trees\[0\]\.right_children has 0 entries"),
    (f"{_TREE}.parents[1]", 1, r"trees\[0\]\.parents\[1\] = 1, but node 1 is a child of"),
    (f"{_TREE}.parents[1]", -5, r"parents\[1\] = -5 is outside"),
    (f"{_TREE}.left_children[0]", 0, r"node 0 is reached twice from the root"),
    (f"{_TREE}.split_indices[0]", 7, r"split_indices\[0\] = 7 is not below num_feature = 5"),
    (f"{_TREE}.split_indices[0]", 2**31 - 1, r"num_deleted = 0, but split_indices marks 1"),
    (f"{_TREE}.split_indices[0]", -3, r"split_indices\[0\] = -3 is outside"),
    (f"{_TREE}.split_conditions[0]", 1e309, r"split_conditions\[0\] = inf is not a finite"),
    (f"{_TREE}.split_conditions[0]", 1e39, r"split_conditions\[0\] = 1e\+39 is not a finite"),
    (f"{_TREE}.split_conditions[0]", "x", r"split_conditions\[0\] must be a number"),
    (f"{_TREE}.sum_hessian[0]", None, r"sum_hessian\[0\] must be a number"),
    (f"{_TREE}.default_left[0]", 2, r"default_left\[0\] must be 0, 1, true or false"),
    (f"{_TREE}.split_type", [1, 0, 0], r"categories_nodes does not list the nodes"),
    (f"{_TREE}.split_type", [2, 0, 0], r"split_type\[0\] = 2 is outside"),
    (f"{_TREE}.split_type", [0] * 99, r"split_type has 99 entries for"),
    (f"{_TREE}.categories_nodes", [0], r"categories_nodes does not list the nodes"),
    (f"{_TREE}.categories", [-1], r"categories\[0\] = -1 is outside"),
    (f"{_TREE}.loss_changes", None, r"loss_changes must be a list, got null"),
    ("learner.feature_names", ["a"], r"feature_names has 1 names, but num_feature = 5"),
    ("learner.feature_names", [1, 2, 3, 4, 5], r"feature_names\[0\] must be a string"),
    ("learner.attributes", [], r"learner\.attributes must be an object"),
    ("learner.attributes", {"best_iteration": "99"}, r"best_iteration = 99 is outside"),
    ("learner.attributes", {"best_iteration": "1e309"}, r"best_iteration must be an integer"),
    ("learner.objective.name", "rank:cox", r"objective 'rank:cox' is not supported"),
    ("learner.objective.name", None, r"objective None is not supported"),
    ("learner", "x", r"learner must be an object"),
]


@pytest.mark.parametrize(("path", "value", "message"), XGBOOST_VIOLATIONS)
def test_xgboost_violations_are_value_errors_naming_the_field(
    models, tmp_path, path, value, message
):
    est = models["multi"] if "num_class" in path or "[1,2]" in str(value) else models["reg"]
    doc = _doc(est, "xgboost", tmp_path)
    if path.endswith("split_type"):
        value = value + [0] * (len(_get(doc, f"{_TREE}.left_children")) - len(value))
    _set(doc, path, value)
    with pytest.raises(ValueError, match=message):
        _load(doc, tmp_path)


def test_xgboost_base_score_in_every_written_form_loads(models, tmp_path):
    doc = _doc(models["reg"], "xgboost", tmp_path)
    want = models["reg"].predict(_data(1)[0])
    for form in ("[5E-1]", "5E-1", 0.5, [0.5]):
        doc["learner"]["learner_model_param"]["base_score"] = form
        got = _load(doc, tmp_path).predict(_data(1)[0])
        assert got.shape == want.shape
        assert np.all(np.isfinite(got))


# ----------------------------------------------------------------------------- sapwood JSON
SAPWOOD_VIOLATIONS = [
    ("num_feature", -1, r"num_feature: invalid value: integer `-1`"),
    ("num_feature", 1e15, r"num_feature: invalid type: floating point"),
    ("num_feature", "5", r"num_feature: invalid type: string"),
    ("num_class", 10**12, r"num_class = 1000000000000 exceeds the limit of 16777216"),
    ("num_class", 0, r"num_class = 0 does not match the objective multi:softprob"),
    ("num_parallel_tree", 0, r"num_parallel_tree = 0 is outside"),
    ("num_parallel_tree", 2**31, r"num_parallel_tree = 2147483648 is outside"),
    ("base_score", [], r"base_score has 0 values, but the model has 3 output groups"),
    ("base_score[0]", math.inf, r"base_score\[0\] is not a finite number"),
    ("base_score[0]", None, r"base_score\[0\]: invalid type: null"),
    ("tree_info[0]", 2**31, r"tree_info\[0\] = 2147483648 is not below"),
    ("tree_info", [], r"tree_info has 0 entries, but there are 6 trees"),
    ("trees", [], r"tree_info has 6 entries, but there are 0 trees"),
    ("trees[0]", [], r"trees\[0\]: expected an object, got a list"),
    ("trees[0].left", [], r"trees\[0\]\.left is empty"),
    ("trees[0].left[0]", None, r"trees\[0\]\.left\[0\]: invalid type: null"),
    ("trees[0].left[0]", 2**31, r"trees\[0\]\.left\[0\]: invalid value"),
    ("trees[0].left[0]", 100, r"trees\[0\]\.left\[0\] = 100 is not -1 or a node"),
    ("trees[0].parent[0]", 1, r"trees\[0\]\.parent\[0\] = 1 but node 0 is the root"),
    ("trees[0].split_index[0]", 10**12, r"trees\[0\]\.split_index\[0\]: invalid value"),
    ("trees[0].split_index[0]", 5, r"trees\[0\]\.split_index\[0\] = 5 is not below"),
    ("trees[0].split_cond[0]", 1e39, r"trees\[0\]\.split_cond\[0\] = inf is not a finite"),
    ("trees[0].split_cond[0]", math.nan, r"trees\[0\]\.split_cond\[0\] is not a finite"),
    ("trees[0].sum_hess", None, r"trees\[0\]\.sum_hess: invalid type: null"),
    ("version", 2, r"model format version 2 is not supported"),
    ("objective", "reg:nope", r"objective: unknown variant `reg:nope`"),
    ("estimator.class", "Pipeline", r"estimator\.class = 'Pipeline' is not one of"),
    ("estimator.classes.values", [0, 1], r"classes must hold 3 labels"),
    ("estimator.classes.values", [[0], [1], [2]], r"classes\.values\[0\] must be a label"),
    ("estimator.classes.dtype", "V8", r"classes\.dtype = 'V8' is not a label dtype"),
    ("estimator.classes.dtype", "nonsense", r"classes\.dtype = 'nonsense' is not a NumPy"),
    ("estimator.classes.dtype", "uint8", r"classes\.values do not fit dtype uint8"),
    ("estimator.feature_names", ["a"], r"feature_names_in_ must hold one name per feature"),
    ("estimator.feature_names", 3, r"estimator\.feature_names must be a list"),
    ("estimator.best_iteration", 2, r"best_iteration = 2 is outside the model's 2 iterations"),
    ("estimator.best_iteration", "x", r"best_iteration must be an integer"),
    ("estimator.best_score", [], r"best_score must be a number"),
    ("estimator.params", [], r"estimator\.params must be an object"),
    ("estimator.params.n_jobs", "x", r"estimator\.params: n_jobs must be None or an int"),
    ("estimator.params.max_depth", -4, r"estimator\.params: max_depth must be in"),
    ("estimator.params.missing", "x", r"the parameter missing must be a number, got a string"),
    ("estimator", 7, r"estimator must be an object"),
]


@pytest.mark.parametrize(("path", "value", "message"), SAPWOOD_VIOLATIONS)
def test_sapwood_violations_are_value_errors_naming_the_field(
    models, tmp_path, path, value, message
):
    doc = _doc(models["multi"], "json", tmp_path)
    if path == "estimator.classes.dtype" and value == "uint8":
        doc["estimator"]["classes"]["values"] = [-1, 0, 1]
    _set(doc, path, value)
    with pytest.raises(ValueError, match=message):
        _load(doc, tmp_path)


def test_non_json_and_non_model_files_are_value_errors(tmp_path):
    for content in (b"\xff\xfe", b"[1, 2]", b"{}", b"[" * 100_000, b'{"format": "x"}'):
        path = tmp_path / "m.json"
        path.write_bytes(content)
        with pytest.raises(ValueError, match="cannot read model"):
            sapwood.load_model(path)


# ----------------------------------------------------------------------------- pickle
def test_unpickling_validates_the_model_and_its_surroundings(models):
    est = models["multi"]
    state = est.__getstate__()

    def unpickle(drop: str = "", **changes: Any) -> Any:
        fake = type(est).__new__(type(est))
        fake.__dict__.update({k: v for k, v in {**state, **changes}.items() if k != drop})
        return pickle.loads(pickle.dumps(fake))

    assert unpickle().n_classes_ == 3
    doc = json.loads(state["_model_json"])
    doc["num_feature"] = 10**15
    with pytest.raises(ValueError, match=r"num_feature = 10{15} exceeds the limit"):
        unpickle(_model_json=json.dumps(doc))
    with pytest.raises(ValueError, match="the model is not a string"):
        unpickle(_model_json=b"{}")
    with pytest.raises(ValueError, match="n_features_in_ = 4, but the model has num_feature = 5"):
        unpickle(n_features_in_=4)
    with pytest.raises(ValueError, match="classes must hold 3 labels"):
        unpickle(classes_=np.arange(2))
    with pytest.raises(ValueError, match="best_iteration = 7 is outside"):
        unpickle(best_iteration_=7)
    with pytest.raises(ValueError, match="n_jobs == 0"):
        unpickle(n_jobs=0)
    with pytest.raises(ValueError, match="the parameter missing must be a number"):
        unpickle(missing=[1.0])
    with pytest.raises(ValueError, match=r"fitted attributes \(.*n_features_in_.*\) but no model"):
        unpickle(_model_json=None)
    with pytest.raises(ValueError, match="missing attribute"):
        unpickle(drop="max_bin")


# ----------------------------------------------------------------------------- atomic saves
def _listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.mark.parametrize("fmt", ["json", "xgboost"])
def test_a_save_that_fails_midway_keeps_the_old_file_and_leaves_no_temp_file(
    models, tmp_path, monkeypatch, fmt
):
    path = tmp_path / "model.json"
    models["reg"].save_model(path, format=fmt)
    before = path.read_bytes()
    real_fdopen = os.fdopen

    class HalfWriter(io.TextIOWrapper):
        def write(self, text: str) -> int:
            super().write(text[: len(text) // 2])
            self.flush()
            raise OSError(28, "No space left on device")

    def fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
        raw = real_fdopen(fd, "wb")
        return HalfWriter(raw, encoding="utf-8")

    monkeypatch.setattr(_model_json.os, "fdopen", fdopen)
    with pytest.raises(OSError, match="No space left"):
        models["multi"].save_model(path, format=fmt)
    assert path.read_bytes() == before
    assert _listing(tmp_path) == ["model.json"]
    monkeypatch.undo()
    assert sapwood.load_model(path).n_features_in_ == N_FEATURES


def test_an_interrupted_fsync_keeps_the_old_file(models, tmp_path, monkeypatch):
    path = tmp_path / "model.json"
    models["reg"].save_model(path)
    before = path.read_bytes()

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_model_json.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        models["multi"].save_model(path)
    assert path.read_bytes() == before
    assert _listing(tmp_path) == ["model.json"]


def test_a_save_replaces_the_file_with_ordinary_permissions(models, tmp_path, monkeypatch):
    path = tmp_path / "model.json"
    path.write_text("an older, different file")
    calls: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(_model_json.os, "fsync", lambda fd: calls.append(fd) or real_fsync(fd))
    models["multi"].save_model(path)
    assert calls, "the data was not flushed to disk before the rename"
    assert _listing(tmp_path) == ["model.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    back = sapwood.load_model(path)
    np.testing.assert_array_equal(back.classes_, models["multi"].classes_)
    # A relative path in the working directory has an empty dirname.
    monkeypatch.chdir(tmp_path)
    models["reg"].save_model("relative.json")
    assert _listing(tmp_path) == ["model.json", "relative.json"]


# ----------------------------------------------------------------------------- fuzzing
# Each mutant is a file in a directory, with a manifest saying what it is. A child process loads
# them in order and prints one line per mutant; when the child dies, the first mutant it did not
# report is the one that killed it, and a new child goes on from the next.
REPLACEMENTS = [
    "-1",
    "0",
    "2147483648",
    "1000000000000",
    "2147483647",
    "4294967296",
    "1e15",
    "1e309",
    "-1e309",
    "null",
    "[]",
    "0.5",
]
STRUCTURAL_VALUES: list[Any] = [-1, 0, 2**31, 10**12, None, [], math.inf, "x", {}, True, 1e39]
MUTANTS_PER_BASE = 50
PER_MUTANT_SECONDS = 30


def _mutate_text(text: str, rng: random.Random) -> tuple[str | bytes, str]:
    how = rng.choice(["truncate", "flip", "number", "number", "insert"])
    if how == "truncate":
        at = rng.randrange(len(text))
        return text[:at], f"truncated at {at}"
    if how == "flip":
        data = bytearray(text.encode())
        spots = [rng.randrange(len(data)) for _ in range(rng.randint(1, 3))]
        for at in spots:
            data[at] = rng.randrange(256)
        return bytes(data), f"bytes changed at {spots}"
    if how == "number":
        numbers = list(re.finditer(r"-?\d+(\.\d+)?([eE][+-]?\d+)?", text))
        m = rng.choice(numbers)
        new = rng.choice(REPLACEMENTS)
        return text[: m.start()] + new + text[m.end() :], f"{m[0]!r} at {m.start()} -> {new}"
    spots = [m.end() for m in re.finditer(r"[\[,:]", text)]
    at = rng.choice(spots)
    token = rng.choice(["null,", "[],", "1e309,", "null", "[]"])
    return text[:at] + token + text[at:], f"inserted {token!r} at {at}"


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path] if path else []
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_paths(v, (*path, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_paths(v, (*path, i)))
    return out


def _mutate_doc(doc: Any, rng: random.Random) -> tuple[str, str]:
    doc = copy.deepcopy(doc)
    paths = _paths(doc)
    # Half the time a field that is not inside a long node array: the counts and parameters.
    fields = [p for p in paths if not (p and isinstance(p[-1], int))]
    path = rng.choice(fields if rng.random() < 0.5 else paths)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    how = rng.choice(["set", "set", "set", "delete", "shorten"])
    old = parent[path[-1]]
    if how == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
        what = "deleted"
    elif how == "shorten" and isinstance(old, list) and old:
        parent[path[-1]] = old[: len(old) // 2]
        what = "halved"
    else:
        value = rng.choice(STRUCTURAL_VALUES)
        parent[path[-1]] = value
        what = f"set to {value!r}"
    return json.dumps(doc), f"{'.'.join(map(str, path))} {what}"


class _AllowedUnpickler(pickle.Unpickler):
    """Resolves only the globals the unmutated pickles use: a changed byte must not be able
    to name, and call, anything else."""

    def __init__(self, data: bytes, allowed: set[tuple[str, str]]) -> None:
        super().__init__(io.BytesIO(data))
        self.allowed = allowed

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.allowed:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed here")
        return super().find_class(module, name)


class _Recorder(pickle.Unpickler):
    """Notes the globals a pickle resolves."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self.seen: set[tuple[str, str]] = set()

    def find_class(self, module: str, name: str) -> Any:
        self.seen.add((module, name))
        return super().find_class(module, name)


def _build_mutants(directory: Path) -> list[dict[str, Any]]:
    rng = random.Random(20261207)
    manifest: list[dict[str, Any]] = []

    def add(data: str | bytes, kind: str, description: str) -> None:
        name = f"{len(manifest):04d}.{'pkl' if kind.startswith('pickle') else 'json'}"
        (directory / name).write_bytes(data.encode() if isinstance(data, str) else data)
        manifest.append({"file": name, "kind": kind, "what": description})

    models = _models()
    globals_seen: set[tuple[str, str]] = set()
    for key, est in models.items():
        for fmt in ("json", "xgboost"):
            path = directory / f"base-{key}-{fmt}.json"
            est.save_model(path, format=fmt)
            text = path.read_text()
            path.unlink()
            doc = json.loads(text)
            for i in range(MUTANTS_PER_BASE):
                if i % 2:
                    data, what = _mutate_text(text, rng)
                else:
                    data, what = _mutate_doc(doc, rng)
                add(data, "file", f"{key} {fmt}: {what}")
        raw = pickle.dumps(est, protocol=4)
        recorder = _Recorder(raw)
        recorder.load()
        globals_seen |= recorder.seen
        state = est.__getstate__()
        model_doc = json.loads(state["_model_json"])
        for i in range(MUTANTS_PER_BASE // 2):
            # Raw bytes: the pickle machinery may reject them any way it likes.
            data = bytearray(raw)
            if i % 3 == 0:
                data = data[: rng.randrange(len(data))]
                what = f"truncated to {len(data)} bytes"
            elif i % 3 == 1:
                # A digit for a digit: mostly numbers inside the model, which may still load.
                digits = [at for at, b in enumerate(data) if 48 <= b <= 57]
                at = rng.choice(digits)
                data[at] = rng.choice(b"0123456789")
                what = f"digit changed at {at}"
            else:
                spots = [rng.randrange(len(data)) for _ in range(rng.randint(1, 3))]
                for at in spots:
                    data[at] = rng.randrange(256)
                what = f"bytes changed at {spots}"
            add(bytes(data), "pickle-bytes", f"{key} pickle: {what}")
            # A well-formed pickle around a mutated state: that is sapwood's to reject.
            fake = type(est).__new__(type(est))
            changed = dict(state)
            if i % 3 == 2:
                # Not n_jobs: a huge thread count is slow to start, not a fault.
                attr = rng.choice(["n_features_in_", "best_iteration_", "classes_", "missing"])
                value = rng.choice([-1, 0, 2**31, 10**12, None, "x", np.arange(7)])
                if attr in changed or attr != "classes_":
                    changed[attr] = value
                what = f"state {attr} set to {value!r}"
            else:
                text_json, what = (
                    _mutate_doc(model_doc, rng)
                    if i % 2
                    else _mutate_text(state["_model_json"], rng)
                )
                if isinstance(text_json, bytes):
                    text_json = text_json.decode("utf-8", "replace")
                changed["_model_json"] = text_json
            fake.__dict__.update(changed)
            add(pickle.dumps(fake, protocol=4), "pickle-state", f"{key} pickle: {what}")
    (directory / "manifest.json").write_text(
        json.dumps({"mutants": manifest, "globals": sorted(globals_seen)})
    )
    return manifest


def _exercise(est: Any, scratch: Path) -> None:
    """What a loaded model must be able to do: predict, apply, importances, save, pickle."""
    n = est.n_features_in_
    if 1 <= n <= 1000:
        rng = np.random.default_rng(0)
        X = rng.normal(size=(9, n))
        X[0] = np.nan
        est.predict(X)
        est.apply(X)
        if hasattr(est, "predict_proba"):
            est.predict_proba(X)
    imp = est.feature_importances_
    assert imp.shape == (n,)
    est.get_score("cover")
    for fmt in ("json", "xgboost"):
        est.save_model(scratch / "saved.json", format=fmt)
        back = sapwood.load_model(scratch / "saved.json")
        assert back.n_features_in_ == n
    pickle.loads(pickle.dumps(est))


def _from_sapwood(exc: BaseException) -> bool:
    """Whether the exception was raised inside sapwood's own code."""
    package = os.path.dirname(sapwood.__file__)
    return any(
        frame.filename.startswith(package) for frame in traceback.extract_tb(exc.__traceback__)
    )


def _worker(directory: Path, start: int) -> None:
    spec = json.loads((directory / "manifest.json").read_text())
    allowed = {(module, name) for module, name in spec["globals"]}
    scratch = directory / "scratch"
    scratch.mkdir(exist_ok=True)
    for i, mutant in enumerate(spec["mutants"]):
        if i < start:
            continue
        # A hang is as bad as a crash: the default action of SIGALRM ends the process.
        if hasattr(signal, "alarm"):
            signal.alarm(PER_MUTANT_SECONDS)
        path = directory / mutant["file"]
        if mutant["kind"] == "abort":  # the harness's own test: a crash, on purpose
            os.abort()
        try:
            if mutant["kind"] == "file":
                est = sapwood.load_model(path)
            else:
                est = _AllowedUnpickler(path.read_bytes(), allowed).load()
                if not isinstance(est, sapwood.boost._GBTBase):
                    raise pickle.UnpicklingError(f"unpickled a {type(est).__name__}")
        except ValueError:
            status = "rejected"
        except Exception as exc:
            # Raw pickle bytes may fail in the pickle machinery itself; whatever reaches
            # sapwood's code must come out as a ValueError.
            if mutant["kind"] == "pickle-bytes" and not _from_sapwood(exc):
                status = "rejected"
            else:
                status = f"raised {type(exc).__name__}: {exc}"[:300]
        else:
            try:
                _exercise(est, scratch)
                status = "loaded"
            except Exception as exc:
                status = f"loaded, then {type(exc).__name__}: {exc}"[:300]
        if hasattr(signal, "alarm"):
            signal.alarm(0)
        print(f"{i}\t{status}", flush=True)


def _run_mutants(
    directory: Path, manifest: list[dict[str, Any]]
) -> tuple[dict[int, str], list[str]]:
    """Runs the worker over every mutant, a new child after each crash; returns each mutant's
    status and the failures (crashes, hangs, and exceptions other than ValueError)."""
    statuses: dict[int, str] = {}
    failures: list[str] = []
    start = 0
    while start < len(manifest):
        proc = subprocess.run(
            [sys.executable, __file__, str(directory), str(start)],
            capture_output=True,
            text=True,
            timeout=PER_MUTANT_SECONDS * 4 + 300,
        )
        for line in proc.stdout.splitlines():
            i, _, status = line.partition("\t")
            statuses[int(i)] = status
        done = [i for i in statuses if i >= start]
        nxt = max(done) + 1 if done else start
        if nxt >= len(manifest):
            break
        mutant = manifest[nxt]
        failures.append(
            f"mutant {nxt} ({mutant['file']}, {mutant['what']}) ended the interpreter "
            f"(exit status {proc.returncode}): {proc.stderr[-500:]}"
        )
        start = nxt + 1
    for i, status in sorted(statuses.items()):
        if status not in ("loaded", "rejected"):
            mutant = manifest[i]
            failures.append(f"mutant {i} ({mutant['file']}, {mutant['what']}): {status}")
    return statuses, failures


def test_mutated_model_files_load_or_raise_value_error_and_never_crash(tmp_path):
    manifest = _build_mutants(tmp_path)
    statuses, failures = _run_mutants(tmp_path, manifest)
    assert not failures, "\n".join(failures)
    # The mutants exercise both outcomes, in every kind of input.
    for kind in ("file", "pickle-bytes", "pickle-state"):
        outcomes = {statuses[i] for i, m in enumerate(manifest) if m["kind"] == kind}
        assert outcomes == {"loaded", "rejected"}, (kind, outcomes)


def test_the_fuzz_harness_reports_a_crash_and_runs_the_rest(models, tmp_path):
    models["reg"].save_model(tmp_path / "good.json")
    (tmp_path / "bad.json").write_text("{}")
    manifest = [
        {"file": "good.json", "kind": "file", "what": "unchanged"},
        {"file": "good.json", "kind": "abort", "what": "a crash"},
        {"file": "bad.json", "kind": "file", "what": "empty"},
    ]
    (tmp_path / "manifest.json").write_text(json.dumps({"mutants": manifest, "globals": []}))
    statuses, failures = _run_mutants(tmp_path, manifest)
    assert statuses == {0: "loaded", 2: "rejected"}
    assert len(failures) == 1
    assert failures[0].startswith("mutant 1 (good.json, a crash) ended the interpreter")


if __name__ == "__main__":
    _worker(Path(sys.argv[1]), int(sys.argv[2]))
