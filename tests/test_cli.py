"""The ``sapwood`` command line, as a console script and as ``-m``: ``info`` and ``demo``, and
the data commands ``train``, ``predict`` and ``select`` compared with the Python API."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sapwood
from sapwood import BorutaSelector, GBTClassifier, GBTRegressor
from sapwood._cli_data import MAX_CLASSES, parse_value
from sapwood.cli import main

try:
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq
except ImportError:  # pragma: no cover - pyarrow is in the test extra
    pa = pcsv = pq = None

# Only the data commands need pyarrow; info and demo are tested without it.
needs_arrow = pytest.mark.skipif(pa is None, reason="the data commands need pyarrow")


def test_info_lists_versions_threads_and_gpu(capsys):
    assert main(["info"]) == 0
    lines = capsys.readouterr().out.splitlines()
    keys = {line.split()[0] for line in lines if line.strip()}
    expected = {"sapwood", "python", "numpy", "rustc", "cores", "threads_default", "cupy"}
    expected |= {"cpu_features_compiled", "cpu_features_runtime", "simd_paths"}
    assert expected <= keys
    assert any(line.split()[1:] == [sapwood.__version__] for line in lines if line.strip())


def test_info_reports_the_simd_paths_chosen_at_run_time(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    compiled, runtime = info["cpu_features_compiled"], info["cpu_features_runtime"]
    paths = info["simd_paths"]
    assert set(paths) == {"boost_tree_walk", "knn_brute_scan"}
    if platform.machine().lower() in ("x86_64", "amd64"):
        # A feature the build assumes must be there at run time; the converse is the point.
        assert set(compiled) <= set(runtime)
        assert "sse2" in runtime
        avx512 = "avx512f" in runtime
        assert paths["boost_tree_walk"] == ("avx512f" if avx512 else "portable")
        if avx512 and "fma" in runtime:
            assert paths["knn_brute_scan"] == "avx512f+fma"
        elif "avx2" in runtime and "fma" in runtime:
            assert paths["knn_brute_scan"] == "avx2+fma"
        else:
            assert paths["knn_brute_scan"] == "portable"
    else:
        assert paths == {"boost_tree_walk": "portable", "knn_brute_scan": "portable"}


def test_info_json_is_machine_readable(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["sapwood"] == sapwood.__version__
    assert info["threads_default"] == info["cores"]
    assert info["gpu_devices"] >= 0


def test_demo_runs_every_section(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert f"sapwood {sapwood.__version__} demo" in out
    from sapwood._demo import SECTIONS

    for section in SECTIONS:
        assert f"== {section.title} ==" in out


def test_demo_rejects_unknown_section(capsys):
    assert main(["demo", "no-such-section"]) == 2
    assert "unknown demo section" in capsys.readouterr().out


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert sapwood.__version__ in capsys.readouterr().out


def test_python_dash_m_runs_info():
    result = subprocess.run(
        [sys.executable, "-m", "sapwood", "info"], capture_output=True, text=True, check=True
    )
    assert sapwood.__version__ in result.stdout


def test_console_script_runs_info():
    script = Path(sys.executable).with_name("sapwood")
    assert script.exists(), f"console script missing beside {sys.executable}"
    result = subprocess.run([str(script), "info"], capture_output=True, text=True, check=True)
    assert "rustc" in result.stdout


# ---------------------------------------------------------------------------------- data commands
# ``train``, ``predict`` and ``select`` run as ``python -m sapwood`` in a subprocess, and their
# results are compared with the same fit made through the Python API.


def sapwood_cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "sapwood", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


def write_csv(path, columns):
    """Columns as CSV, floats written with repr so they read back exactly."""
    names = list(columns)
    rows = zip(*(columns[n] for n in names), strict=True)
    with open(path, "w") as fh:
        fh.write(",".join(names) + "\n")
        for row in rows:
            fh.write(",".join(repr(float(v)) if isinstance(v, float) else str(v) for v in row))
            fh.write("\n")


def features(n, p, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, p))


def column_dict(X, **extra):
    cols = {f"f{j}": [float(v) for v in X[:, j]] for j in range(X.shape[1])}
    cols.update(extra)
    return cols


PARAMS = {"n_estimators": 12, "max_depth": 3, "subsample": 0.8, "random_state": 3}
SETS = [arg for k, v in PARAMS.items() for arg in ("--set", f"{k}={v}")]


@needs_arrow
def test_train_and_predict_a_classifier_match_the_python_api(tmp_path):
    X = features(240, 4, 0)
    labels = np.array(["ash", "birch", "cedar"])[(X[:, 0] > 0.3).astype(int) + (X[:, 1] > 0)]
    write_csv(tmp_path / "train.csv", column_dict(X, species=list(labels)))
    # The target sits between features in the file to predict: it is ignored by name.
    X_new = features(50, 4, 1)
    new = column_dict(X_new)
    new = {"f0": new["f0"], "f1": new["f1"], "species": ["ash"] * 50, "f2": new["f2"]}
    new["f3"] = column_dict(X_new)["f3"]
    write_csv(tmp_path / "new.csv", new)

    trained = sapwood_cli(
        "train", "train.csv", "--target", "species", "--output", "m.json", *SETS, cwd=tmp_path
    )
    assert trained.returncode == 0, trained.stderr
    assert "task: classification" in trained.stdout
    predicted = sapwood_cli("predict", "m.json", "new.csv", "--output", "p.parquet", cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr

    reference = GBTClassifier(**PARAMS).fit(X, labels)
    result = pq.read_table(tmp_path / "p.parquet")
    assert result.column_names == ["ash", "birch", "cedar"]
    got = np.column_stack([c.to_numpy() for c in result.columns])
    np.testing.assert_array_equal(got, reference.predict_proba(X_new))

    labelled = sapwood_cli(
        "predict", "m.json", "new.csv", "--output", "l.csv", "--labels", cwd=tmp_path
    )
    assert labelled.returncode == 0, labelled.stderr
    got_labels = pcsv.read_csv(tmp_path / "l.csv").column("prediction").to_pylist()
    assert got_labels == list(reference.predict(X_new))


@needs_arrow
def test_train_a_regressor_with_early_stopping_on_parquet(tmp_path):
    X = features(300, 5, 2)
    y = X[:, 0] * 2.0 - X[:, 2] + 0.1 * features(300, 1, 3)[:, 0]
    Xv = features(100, 5, 4)
    yv = Xv[:, 0] * 2.0 - Xv[:, 2]
    names = [f"f{j}" for j in range(5)]
    pq.write_table(pa.table({**dict(zip(names, X.T, strict=True)), "y": y}), tmp_path / "t.pq")
    pq.write_table(pa.table({**dict(zip(names, Xv.T, strict=True)), "y": yv}), tmp_path / "v.pq")
    params = {"n_estimators": 200, "learning_rate": 0.5, "early_stopping_rounds": 3}
    sets = [arg for k, v in params.items() for arg in ("--set", f"{k}={v}")]

    trained = sapwood_cli(
        "train", "t.pq", "--target", "y", "--valid", "v.pq", "--output", "r.json", *sets,
        cwd=tmp_path,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert "task: regression" in trained.stdout
    assert "fractional" in trained.stdout
    predicted = sapwood_cli("predict", "r.json", "v.pq", "--output", "p.csv", cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr

    reference = GBTRegressor(**params).fit(X, y, eval_set=[(Xv, yv)])
    model = sapwood.load_model(tmp_path / "r.json")
    assert model.best_iteration_ == reference.best_iteration_ < 199
    assert list(model.feature_names_in_) == names
    got = pcsv.read_csv(tmp_path / "p.csv").column("prediction").to_numpy()
    np.testing.assert_allclose(got, reference.predict(Xv), rtol=1e-6)


@needs_arrow
def test_train_a_ranker_matches_the_python_api(tmp_path):
    from sapwood import GBTRanker

    rng = np.random.default_rng(8)
    n_q, per = 40, 8
    X = features(n_q * per, 4, 6)
    y = np.clip(np.floor(X[:, 0] + 1.5 + rng.normal(0, 0.5, n_q * per)), 0, 3)
    query = np.repeat(np.arange(n_q) * 10, per)
    names = [f"f{j}" for j in range(4)]
    table = {"query": query, **dict(zip(names, X.T, strict=True)), "rel": y}
    pq.write_table(pa.table(table), tmp_path / "r.pq")
    trained = sapwood_cli(
        "train", "r.pq", "--target", "rel", "--task", "ranking", "--qid", "query",
        "--valid", "r.pq", "--output", "rank.json", "--set", "n_estimators=5",
        cwd=tmp_path,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert "GBTRanker" in trained.stdout
    assert "ndcg@32" in trained.stdout
    reference = GBTRanker(n_estimators=5).fit(X, y, qid=query)
    model = sapwood.load_model(tmp_path / "rank.json")
    assert isinstance(model, GBTRanker)
    assert list(model.feature_names_in_) == names
    predicted = sapwood_cli("predict", "rank.json", "r.pq", "--output", "s.csv", cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    got = pcsv.read_csv(tmp_path / "s.csv").column("prediction").to_numpy()
    np.testing.assert_allclose(got, reference.predict(X), rtol=1e-6)
    # Rows out of query order are the ranker's error, in one line.
    shuffled = pa.table({k: v[::-1] if k == "query" else v for k, v in table.items()})
    pq.write_table(shuffled, tmp_path / "bad.pq")
    failed = sapwood_cli(
        "train", "bad.pq", "--target", "rel", "--task", "ranking", "--qid", "query",
        "--output", "x.json", cwd=tmp_path,
    )  # fmt: skip
    assert failed.returncode == 2
    assert "sorted in non-decreasing order" in failed.stderr
    assert "Traceback" not in failed.stderr


@needs_arrow
def test_the_xgboost_format_predicts_the_same(tmp_path):
    X = features(150, 3, 5)
    y = (X[:, 0] > 0).astype(int)
    write_csv(tmp_path / "d.csv", column_dict(X, y=list(y)))
    for fmt in ("json", "xgboost"):
        trained = sapwood_cli(
            "train", "d.csv", "--target", "y", "--output", f"{fmt}.json", "--format", fmt,
            *SETS, cwd=tmp_path,
        )  # fmt: skip
        assert trained.returncode == 0, trained.stderr
        assert f"(target 'y' is integer with 2 distinct values (at most {MAX_CLASSES})" in (
            trained.stdout
        )
        predicted = sapwood_cli(
            "predict", f"{fmt}.json", "d.csv", "--output", f"{fmt}.csv", cwd=tmp_path
        )
        assert predicted.returncode == 0, predicted.stderr
    first, second = (pcsv.read_csv(tmp_path / f"{f}.csv") for f in ("json", "xgboost"))
    assert first.column_names == second.column_names == ["0", "1"]
    assert first.equals(second)


@needs_arrow
def test_select_matches_boruta_in_python(tmp_path):
    X = features(200, 6, 6)
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    write_csv(tmp_path / "d.csv", column_dict(X, id=list(range(200)), target=list(y)))
    result = sapwood_cli(
        "select", "d.csv", "--target", "target", "--drop", "id", "--output", "s.csv",
        "--set", "random_state=0", "--set", "max_iter=25", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Boruta after" in result.stdout
    reference = BorutaSelector(random_state=0, max_iter=25).fit(X, y)
    table = pcsv.read_csv(tmp_path / "s.csv")
    assert table.column_names == ["column", "decision", "rank"]
    assert table.column("column").to_pylist() == [f"f{j}" for j in range(6)]
    assert table.column("decision").to_pylist() == list(reference.decision_)
    assert table.column("rank").to_pylist() == list(reference.ranking_)


@needs_arrow
def test_a_model_without_feature_names_takes_the_file_columns_in_order(tmp_path):
    X = features(120, 3, 7)
    model = GBTRegressor(n_estimators=5).fit(X, X[:, 0])
    model.save_model(tmp_path / "m.json")
    write_csv(tmp_path / "d.csv", column_dict(X, extra=[1.0] * 120))
    refused = sapwood_cli("predict", "m.json", "d.csv", "--output", "p.csv", cwd=tmp_path)
    assert refused.returncode == 2
    assert "--drop" in refused.stderr
    done = sapwood_cli(
        "predict", "m.json", "d.csv", "--output", "p.csv", "--drop", "extra", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    got = pcsv.read_csv(tmp_path / "p.csv").column("prediction").to_numpy()
    np.testing.assert_allclose(got, model.predict(X), rtol=1e-6)


@needs_arrow
@pytest.mark.parametrize(
    ("values", "task"),
    [
        ([True, False] * 30, "classification"),
        (["a", "b", "c"] * 20, "classification"),
        (list(range(3)) * 20, "classification"),
        ([float(v) for v in range(4)] * 15, "classification"),
        (list(range(60)), "regression"),
        ([v / 7 for v in range(60)], "regression"),
    ],
)
def test_the_task_follows_the_documented_rule(values, task):
    from sapwood._cli_data import choose_task

    chosen, why = choose_task(pa.chunked_array([pa.array(values)]), "y")
    assert chosen == task
    assert "'y'" in why


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", 3),
        ("0.25", 0.25),
        ("1e-3", 1e-3),
        ("None", None),
        ("true", True),
        ("False", False),
        ("hist", "hist"),
        ('"7"', "7"),
        ('["auc", "logloss"]', ["auc", "logloss"]),
    ],
)
def test_set_values_are_parsed(text, value):
    got = parse_value(text)
    assert got == value
    assert type(got) is type(value)


def data_file(tmp_path):
    X = features(60, 2, 8)
    write_csv(tmp_path / "d.csv", column_dict(X, y=[0, 1] * 30, name=["x"] * 60))
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    return tmp_path


@needs_arrow
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["train", "nope.csv", "--target", "y", "--output", "m.json"], "no such file"),
        (["train", "d.csv", "--target", "z", "--output", "m.json"], "has no column 'z'"),
        (
            ["train", "d.csv", "--target", "y", "--drop", "name", "--output", "m.json",
             "--set", "depth=3"],
            "unknown parameter 'depth' for GBTClassifier; valid keys: aft_loss_distribution,",
        ),
        (
            ["train", "d.csv", "--target", "y", "--drop", "name", "--output", "m.json",
             "--set", "max_depth=-1"],
            "--set: max_depth must be in [0, 63], got -1",
        ),
        (
            ["train", "d.csv", "--target", "y", "--output", "m.json", "--set", "max_depth"],
            "--set expects key=value",
        ),
        (
            ["train", "d.csv", "--target", "y", "--output", "m.json",
             "--set", "enable_categorical=False"],
            "column 'name' in 'd.csv' holds text, but the model takes it as a number",
        ),
        (
            ["train", "d.csv", "--target", "y", "--output", "m.json", "--task", "ranking"],
            "--task ranking needs the query ids: 'd.csv' has no column 'qid'",
        ),
        (
            ["train", "d.csv", "--target", "y", "--output", "m.json", "--qid", "name"],
            "--qid needs --task ranking",
        ),
        (
            ["train", "d.csv", "--target", "y", "--drop", "name", "--output", "m.json",
             "--set", "early_stopping_rounds=2"],
            "needs a validation file",
        ),
        (["train", "bad.parquet", "--target", "y", "--output", "m.json"], "cannot read"),
        (["train", "d.xlsx", "--target", "y", "--output", "m.json"], "from its extension"),
        (["predict", "m.json", "d.csv", "--output", "p.csv"], "no such file: 'm.json'"),
        (["predict", "d.csv", "d.csv", "--output", "p.csv"], "not a JSON model file"),
        (
            ["select", "d.csv", "--target", "y", "--output", "s.csv", "--set", "estimator=x"],
            "unknown parameter 'estimator' for BorutaSelector",
        ),
        (["train", "d.csv", "--output", "m.json"], "required: --target"),
    ],
)  # fmt: skip
def test_errors_are_one_line_with_status_2(tmp_path, monkeypatch, capsys, args, expected):
    monkeypatch.chdir(data_file(tmp_path))
    try:
        status = main(args)
    except SystemExit as exc:  # argparse's own checks exit rather than return
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert expected in err
    assert err.startswith(f"sapwood {args[0]}: error: ")


@needs_arrow
def test_text_columns_train_as_categories(tmp_path):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(3)
    n = 300
    city = rng.choice(["oslo", "lima", "pune", "kyiv", "baku"], n)
    rooms = rng.integers(1, 6, n).astype(float)
    effect = {"oslo": 3.0, "lima": 1.0, "pune": 0.5, "kyiv": 1.5, "baku": 0.8}
    price = np.array([effect[c] for c in city]) * rooms
    write_csv(
        tmp_path / "train.csv", {"city": list(city), "rooms": list(rooms), "price": list(price)}
    )
    # New rows list the cities in another order and lack some: recoded by name.
    new_city = ["pune", "oslo", "pune", "baku"]
    write_csv(tmp_path / "new.csv", {"city": new_city, "rooms": [2.0, 3.0, 1.0, 4.0]})
    trained = sapwood_cli(
        "train", "train.csv", "--target", "price", "--output", "m.json", *SETS, cwd=tmp_path
    )
    assert trained.returncode == 0, trained.stderr
    predicted = sapwood_cli("predict", "m.json", "new.csv", "--output", "p.csv", cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    got = pcsv.read_csv(tmp_path / "p.csv").column("prediction").to_numpy()
    frame = pd.DataFrame({"city": pd.Categorical(city), "rooms": rooms})
    model = GBTRegressor(enable_categorical=True, **PARAMS).fit(frame, price)
    new = pd.DataFrame({"city": pd.Categorical(new_city), "rooms": [2.0, 3.0, 1.0, 4.0]})
    np.testing.assert_allclose(got, model.predict(new), rtol=1e-6)
    # A city the model never saw is a one-line error.
    write_csv(tmp_path / "odd.csv", {"city": ["rome"], "rooms": [2.0]})
    odd = sapwood_cli("predict", "m.json", "odd.csv", "--output", "o.csv", cwd=tmp_path)
    assert odd.returncode == 2
    assert "categories the model was not trained on: 'rome'" in odd.stderr


@needs_arrow
def test_errors_in_a_subprocess_have_no_traceback(tmp_path):
    data_file(tmp_path)
    result = sapwood_cli("train", "d.csv", "--target", "z", "--output", "m.json", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_help_describes_every_command():
    top = sapwood_cli("--help", cwd=None)
    assert top.returncode == 0
    for command in ("info", "demo", "train", "predict", "explain", "select"):
        assert command in top.stdout
    expected = {
        "train": [
            "--target",
            "--output",
            "--task",
            "--set",
            "--valid",
            "--format",
            "text columns as categorical features",
        ],
        "predict": ["--output", "probability", "by name"],
        "select": ["--target", "--set", "confirmed, tentative or rejected"],
    }
    for command, words in expected.items():
        result = sapwood_cli(command, "--help", cwd=None)
        assert result.returncode == 0
        text = " ".join(result.stdout.split())
        for word in words:
            assert word in text, (command, word)


@needs_arrow
def test_explain_writes_the_contributions_of_the_python_api(tmp_path):
    X = features(200, 3, 9)
    labels = np.array(["a", "b", "c"])[(X[:, 0] > 0.2).astype(int) + (X[:, 1] > 0)]
    write_csv(tmp_path / "train.csv", column_dict(X, kind=list(labels)))
    X_new = features(40, 3, 10)
    write_csv(tmp_path / "new.csv", column_dict(X_new))
    trained = sapwood_cli(
        "train", "train.csv", "--target", "kind", "--output", "m.json", *SETS, cwd=tmp_path
    )
    assert trained.returncode == 0, trained.stderr
    explained = sapwood_cli("explain", "m.json", "new.csv", "--output", "e.parquet", cwd=tmp_path)
    assert explained.returncode == 0, explained.stderr
    assert "SHAP values of 40 rows" in explained.stdout
    reference = GBTClassifier(**PARAMS).fit(X, labels).predict_contributions(X_new)
    result = pq.read_table(tmp_path / "e.parquet")
    names = ["f0", "f1", "f2", "bias"]
    assert result.column_names == [f"{c}:{n}" for c in "abc" for n in names]
    got = np.column_stack([c.to_numpy() for c in result.columns]).reshape(40, 3, 4)
    np.testing.assert_allclose(got, reference, rtol=1e-6, atol=1e-7)

    y = X[:, 0] * 2.0 + X[:, 2]
    write_csv(tmp_path / "reg.csv", column_dict(X, y=[float(v) for v in y]))
    trained = sapwood_cli(
        "train", "reg.csv", "--target", "y", "--output", "r.json", *SETS, cwd=tmp_path
    )
    assert trained.returncode == 0, trained.stderr
    approx = sapwood_cli(
        "explain", "r.json", "new.csv", "--output", "s.csv", "--approximate", cwd=tmp_path
    )
    assert approx.returncode == 0, approx.stderr
    reference = GBTRegressor(**PARAMS).fit(X, y).predict_contributions(X_new, approximate=True)
    table = pcsv.read_csv(tmp_path / "s.csv")
    assert table.column_names == names
    got = np.column_stack([c.to_numpy() for c in table.columns])
    np.testing.assert_allclose(got, reference, rtol=1e-6, atol=1e-7)
    missing = sapwood_cli("explain", "nope.json", "new.csv", "--output", "x.csv", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.startswith("sapwood explain: error: no such file")
