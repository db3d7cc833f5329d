"""The ``sapwood`` command line: ``info`` and ``demo``, as a console script and as ``-m``."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

import pytest

import sapwood
from sapwood.cli import main


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
